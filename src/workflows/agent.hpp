#pragma once
// The agent runtime: a model called with tools (OpenAI's tool format; Anthropic and Gemini through
// the gateway's translation), the tool calls it asks for run (several at once in parallel), their
// results fed back, until a final answer or one of the limits — each run ends saying why:
// stop | max_iterations | timeout | budget. A tool's error goes back to the model as its result.
// Built-in tools: knowledge_search (within the agent's collections) and get_document.

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/cancel.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/request_context.hpp"
#include "gateway/gateway.hpp"
#include "http/client.hpp"
#include "knowledge/store.hpp"

namespace sb::workflows {

constexpr std::size_t kMaxToolResult = 16 * 1024;  // bytes of one tool result given to the model
constexpr std::size_t kMaxParallelTools = 8;

struct AgentRun {
  std::string output;
  std::string finish_reason;  // stop | max_iterations | timeout | budget
  boost::json::array steps;   // {type: model | tool_call | tool_result, ...} in order
  long long prompt_tokens = 0, completion_tokens = 0;
  int iterations = 0;
  double latency_ms = 0, model_ms = 0, tool_ms = 0;
  std::optional<double> cost_usd;  // at [[prices]], when the caller's meter knows it
};

// A run's progress as it happens (SSE): `event` is step | tool_call | tool_result | answer, `data`
// the step as JSON. false = the client is gone: the run stops (finish_reason "cancelled").
using RunEvents = std::function<boost::asio::awaitable<bool>(std::string_view event, std::string data)>;

// The built-in tools' names.
const std::vector<std::string>& builtin_tools();

class AgentRunner {
 public:
  // store may be null (then the knowledge tools answer with an error); tools and client: the
  // [[tools]] (HTTP endpoints, MCP servers) agents may name, and the client that calls them.
  AgentRunner(gateway::Gateway& gateway, knowledge::Store* store, const std::vector<core::ToolConfig>* tools = nullptr,
              http::Client* client = nullptr);
  ~AgentRunner();

  // Errors: the model's when it fails outright (not a timeout: that ends the run).
  boost::asio::awaitable<core::Result<AgentRun>> run(const core::AgentConfig& agent, std::string input,
                                                     std::string request_id,
                                                     std::shared_ptr<core::RequestContext> meter,
                                                     std::shared_ptr<core::CancelSignal> cancel,
                                                     const RunEvents* events = nullptr);

 private:
  struct Call;
  struct Sessions;
  // The tools the model is offered (OpenAI format), discovering MCP servers' tools; a server that
  // cannot be reached is left out and said so in `problems`.
  boost::asio::awaitable<boost::json::array> offer(const core::AgentConfig& agent, std::vector<std::string>& problems);
  boost::asio::awaitable<void> run_tool(const core::AgentConfig& agent, Call& call,
                                        std::shared_ptr<core::RequestContext> meter);
  boost::asio::awaitable<void> run_external(Call& call);
  boost::asio::awaitable<void> run_http_get(Call& call);
  const core::ToolConfig* config_of(std::string_view name) const;
  gateway::Gateway& gateway_;
  knowledge::Store* store_;
  const std::vector<core::ToolConfig>* tools_;
  http::Client* client_;
  std::unique_ptr<Sessions> sessions_;
  std::set<std::string> offered_;  // the names the model was given
};

// An agent from a request body's "agent" object (inline), checked like [[agents]]; `tools`: the
// [[tools]] it may name besides the built-in ones.
core::Result<core::AgentConfig> agent_from_json(const boost::json::object& o,
                                                const std::vector<core::ToolConfig>* tools = nullptr);
boost::json::object agent_json(const core::AgentConfig& a);

}  // namespace sb::workflows
