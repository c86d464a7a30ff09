#pragma once
// Registers every HTTP route of the API on a router.

#include <boost/asio/awaitable.hpp>

#include <functional>

#include "api/control_gate.hpp"
#include "chat/service.hpp"
#include "core/blocking_pool.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/event_bus.hpp"
#include "core/metrics.hpp"
#include "gateway/gateway.hpp"
#include "http/router.hpp"
#include "jobs/service.hpp"
#include "knowledge/fetch.hpp"
#include "knowledge/store.hpp"
#include "storage/system_repository.hpp"
#include "workflows/agent_registry.hpp"
#include "workflows/intent_router.hpp"

namespace sb::api {

// The control plane's parts (all set, or the control routes are not registered).
struct ControlDeps {
  control::KeyStore* keys = nullptr;
  control::Budgets* budgets = nullptr;
  control::Ledger* ledger = nullptr;
  ControlGate* gate = nullptr;
  storage::Database* db = nullptr;
  const core::Clock* clock = nullptr;
  // Reloads the config file (POST /api/v1/config/reload, as SIGHUP does): a summary, or why not.
  std::function<core::Result<std::string>()> reload;
};

// The log analyzer's parts (all set, or its route is not registered).
struct LogDeps {
  gateway::Gateway* gateway = nullptr;
  knowledge::Store* store = nullptr;  // runbook passages (optional)
  http::Client* client = nullptr;     // log_url
  core::BlockingPool* pool = nullptr;  // the evidence extraction
  knowledge::UrlOptions url_options;
};

// Agent runs (all set, or the routes are not registered).
struct AgentDeps {
  gateway::Gateway* gateway = nullptr;
  knowledge::Store* store = nullptr;  // the knowledge tools (optional)
  storage::Database* db = nullptr;    // runs are stored
  const core::Clock* clock = nullptr;
  workflows::AgentRegistry* registry = nullptr;  // [[agents]] and /api/v1/agents; its [[tools]]
  jobs::Service* jobs = nullptr;          // "async": true runs (null: refused)
  http::Client* client = nullptr;         // what calls the tools
};

// POST /api/v1/generate and GET /api/v1/model/info.
struct GenerateDeps {
  gateway::Gateway* gateway = nullptr;
  std::function<std::string()> default_model;  // workflows.generate_model (read now); "" = the first model
};

// Pipeline jobs (type "pipeline"): accepted when intents is set.
struct PipelineDeps {
  workflows::IntentRouter* intents = nullptr;
  std::function<std::string()> default_route;  // workflows::default_pipeline_route, read now
};

struct Deps {
  // Reads the store's status; a failure makes /ready answer 503 with the reason.
  std::function<boost::asio::awaitable<core::Result<storage::StorageStatus>>()> storage_status;
  core::metrics::Registry* metrics = nullptr;
  gateway::Gateway* gateway = nullptr;
  jobs::Service* jobs = nullptr;  // null when jobs.enabled = false
  knowledge::Store* knowledge = nullptr;
  chat::Service* chat = nullptr;  // RAG chat (assistants, conversations)
  workflows::IntentRouter* intents = nullptr;  // intent routes
  PipelineDeps pipeline;  // pipeline jobs (with jobs)
  core::EventBus* events = nullptr;  // live events (/api/v1/events, /api/v1/ws)
  LogDeps log;  // POST /api/v1/workflows/analyze-log
  GenerateDeps generate;
  AgentDeps agents;
  core::MailboxLimits event_limits;
  ControlDeps control;
  bool allow_private_webhooks = false;
  std::size_t max_response_bytes = 64 * 1024 * 1024;  // server.max_response_bytes
};

// GET /health, /live, /ready, /version, /metrics.
void register_system_routes(http::Router& router, Deps deps);
// POST /api/v1/echo (diagnostics).
void register_echo_routes(http::Router& router);
// GET /v1/models, POST /v1/chat/completions, POST /v1/embeddings, the providers' status. With
// a job service, X-Switchboard-Processing-Mode: queue_if_unavailable turns a request whose
// targets are all open-circuited into a job (202).
// With a chat service, `model: "assistant/<name>"` is answered by that assistant, and
// /v1/models lists the assistants. With an intent router, a chat completion naming an intent
// route is classified and served by the intent's target.
void register_chat_routes(http::Router& router, gateway::Gateway& gateway, jobs::Service* jobs,
                          std::size_t max_response_bytes, chat::Service* chat = nullptr,
                          workflows::IntentRouter* intents = nullptr);
// POST /api/v1/intent and its alias /api/v1/intent-router-resilient (a route's, or intents sent
// with the request).
void register_intent_routes(http::Router& router, workflows::IntentRouter& intents, gateway::Gateway& gateway);
// /api/v1/assistants, /api/v1/chat, /api/v1/conversations.
void register_assistant_routes(http::Router& router, chat::Service& chat);
// A /v1/chat/completions body naming "assistant/<name>", answered by it in OpenAI's shape
// (whole or streamed; citations on the message, or on the final chunk).
boost::asio::awaitable<http::Response> assistant_completion(http::Request& req, chat::Service& chat,
                                                            boost::json::object body, std::string_view name);
// POST /api/v1/fanout: one chat request to several models at once, each leg on its own.
void register_fanout_routes(http::Router& router, gateway::Gateway& gateway);
// POST /api/v1/comparison: which of two texts is better, by one or several models; with jobs,
// processing_mode queue_if_unavailable (202 when every provider is down) and
// POST /api/v1/comparison/batch.
void register_comparison_routes(http::Router& router, gateway::Gateway& gateway, jobs::Service* jobs = nullptr);
// A job of type "comparison" (its request is a comparison body), run.
boost::asio::awaitable<core::Result<jobs::Service::Handled>> run_comparison_job(
    gateway::Gateway& gateway, const jobs::Job& job, std::shared_ptr<core::CancelSignal> cancel,
    std::shared_ptr<core::RequestContext> meter);
// POST /v1/messages: the Anthropic Messages API over every provider.
void register_messages_routes(http::Router& router, gateway::Gateway& gateway);
// The job API (/api/v1/jobs...); with pipeline deps, pipeline jobs and their seed entry point
// POST /api/v1/jobs/process-ai-job.
void register_job_routes(http::Router& router, jobs::Service& jobs, gateway::Gateway& gateway,
                         bool allow_private_webhooks, std::size_t max_response_bytes, PipelineDeps pipeline = {});
// The knowledge API: /api/v1/collections (CRUD, model change), /api/v1/documents and its alias
// /api/v1/docs (JSON, uploads, URLs, versions, soft delete), /api/v1/index[/batch],
// /api/v1/stats, /api/v1/search.
void register_knowledge_routes(http::Router& router, knowledge::Store& store);
// /api/v1/keys, /api/v1/usage, /api/v1/audit, /api/v1/rate-limit/status, /api/v1/config/reload.
void register_control_routes(http::Router& router, const ControlDeps& deps);
// GET /api/v1/events (SSE) and GET /api/v1/ws (WebSocket): live job and conversation events.
void register_event_routes(http::Router& router, core::EventBus& bus, jobs::Service* jobs, core::MailboxLimits limits);
// POST /api/v1/workflows/analyze-log.
void register_log_routes(http::Router& router, LogDeps deps);
// POST /api/v1/generate, GET /api/v1/model/info.
void register_generate_routes(http::Router& router, GenerateDeps deps);
// POST /api/v1/workflows/execute, GET /api/v1/workflows/runs[/{id}], GET /api/v1/workflows/types,
// /api/v1/agents (CRUD).
void register_agent_routes(http::Router& router, AgentDeps deps);
// POST /mcp: Switchboard as an MCP server (knowledge_search, get_document, agent_<name>).
void register_mcp_routes(http::Router& router, AgentDeps deps);
// A job of type "agent" ({agent, input}), run and stored as a run.
boost::asio::awaitable<core::Result<jobs::Service::Handled>> run_agent_job(const AgentDeps& deps, const jobs::Job& job,
                                                                           std::shared_ptr<core::CancelSignal> cancel,
                                                                           std::shared_ptr<core::RequestContext> meter);
// The bus event of a job's status (job.<status>, its status object) and of a stored message.
core::BusEvent job_event(const jobs::Job& job);
core::BusEvent message_event(const std::string& conversation_id, const std::string& owner, boost::json::object message);
// Submits a job and answers 202 with its status (or the admission error).
boost::asio::awaitable<http::Response> enqueue_job(jobs::Service& jobs, jobs::Submit submit);

inline void register_routes(http::Router& router, Deps deps) {
  if (deps.gateway) {
    register_chat_routes(router, *deps.gateway, deps.jobs, deps.max_response_bytes, deps.chat, deps.intents);
  }
  if (deps.intents && deps.gateway) register_intent_routes(router, *deps.intents, *deps.gateway);
  if (deps.chat) register_assistant_routes(router, *deps.chat);
  if (deps.gateway) register_messages_routes(router, *deps.gateway);
  if (deps.gateway) register_fanout_routes(router, *deps.gateway);
  if (deps.gateway) register_comparison_routes(router, *deps.gateway, deps.jobs);
  if (deps.gateway && deps.jobs) {
    register_job_routes(router, *deps.jobs, *deps.gateway, deps.allow_private_webhooks, deps.max_response_bytes,
                        deps.pipeline);
  }
  if (deps.knowledge) register_knowledge_routes(router, *deps.knowledge);
  if (deps.control.keys) register_control_routes(router, deps.control);
  if (deps.events) register_event_routes(router, *deps.events, deps.jobs, deps.event_limits);
  if (deps.log.gateway && deps.log.client && deps.log.pool) register_log_routes(router, deps.log);
  if (deps.generate.gateway) register_generate_routes(router, deps.generate);
  if (deps.agents.gateway && deps.agents.db && deps.agents.clock && deps.agents.registry) {
    register_agent_routes(router, deps.agents);
    register_mcp_routes(router, deps.agents);
  }
  register_system_routes(router, std::move(deps));
  register_echo_routes(router);
}

}  // namespace sb::api
