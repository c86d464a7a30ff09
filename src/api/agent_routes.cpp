// Agent runs: POST /api/v1/workflows/execute {agent (a [[agents]] name or an inline agent),
// input}; GET /api/v1/workflows/runs[/{id}]; GET /api/v1/workflows/types.

#include <boost/json/parse.hpp>

#include "api/json.hpp"
#include "api/lists.hpp"
#include "api/routes.hpp"
#include "api/schema.hpp"
#include "core/ids.hpp"
#include "core/json_text.hpp"
#include "storage/agent_repository.hpp"
#include "workflows/agent.hpp"

namespace sb::api {

namespace json = boost::json;
using boost::asio::awaitable;
using core::Error;
using core::ErrorKind;
using http::Request;
using http::Response;

namespace {

constexpr std::size_t kMaxInput = 200000;

struct Execute {
  core::AgentConfig agent;
  std::string input;
  bool stream = false, async = false;
};

core::Result<Execute> parse(const json::object& body, const AgentDeps& d) {
  Execute e;
  for (const char* flag : {"stream", "async"}) {
    if (const auto* v = body.if_contains(flag); v && !v->is_null()) {
      if (!v->is_bool()) return Error(ErrorKind::invalid_field, std::string("'") + flag + "' must be a boolean", flag);
      (flag[0] == 's' ? e.stream : e.async) = v->get_bool();
    }
  }
  if (e.stream && e.async) return Error(ErrorKind::invalid_field, "a run is streamed or a job ('async'), not both", "async");
  if (e.async && !d.jobs) return Error(ErrorKind::invalid_field, "'async' runs need the job queue (jobs.enabled)", "async");
  const auto* agent = body.if_contains("agent");
  if (!agent) return Error(ErrorKind::invalid_field, "'agent' is required: an agent's name or an inline agent", "agent");
  if (agent->is_string()) {
    auto found = d.registry->find(agent->get_string());
    if (found) e.agent = found->agent;
    if (!found) {
      return Error(ErrorKind::not_found, "no agent named '" + std::string(agent->get_string()) + "' ([[agents]])", "agent");
    }
  } else if (agent->is_object()) {
    auto a = workflows::agent_from_json(agent->get_object(), &d.registry->tools());
    if (!a) return std::move(a).error();
    e.agent = std::move(*a);
  } else {
    return Error(ErrorKind::invalid_field, "'agent' must be an agent's name or an agent object", "agent");
  }
  const auto* input = body.if_contains("input");
  if (!input || !input->is_string() || input->get_string().empty()) {
    return Error(ErrorKind::invalid_field, "'input' is required: the task, a non-empty string", "input");
  }
  if (input->get_string().size() > kMaxInput) return Error(ErrorKind::invalid_field, "'input' is longer than 200000 characters", "input");
  e.input = std::string(input->get_string());
  if (auto t = d.gateway->resolve(e.agent.model); !t) {
    auto err = std::move(t).error();
    err.param = "agent.model";
    return err;
  }
  return e;
}

json::object run_json(const std::string& id, const core::AgentConfig& agent, const std::string& input,
                      const workflows::AgentRun& r, std::int64_t created_at) {
  json::object o;
  o["id"] = id;
  o["object"] = "workflow.run";
  o["agent"] = agent.name;
  o["model"] = agent.model;
  o["input"] = input.substr(0, 4096);
  o["output"] = r.output;
  o["finish_reason"] = r.finish_reason;
  o["iterations"] = r.iterations;
  o["steps"] = r.steps;
  json::object usage;
  usage["prompt_tokens"] = r.prompt_tokens;
  usage["completion_tokens"] = r.completion_tokens;
  usage["total_tokens"] = r.prompt_tokens + r.completion_tokens;
  o["usage"] = std::move(usage);
  o["cost_usd"] = r.cost_usd ? json::value(*r.cost_usd) : json::value(nullptr);
  o["latency_ms"] = r.latency_ms;
  o["model_ms"] = r.model_ms;
  o["tool_ms"] = r.tool_ms;
  o["runtime_ms"] = std::max(0.0, r.latency_ms - r.model_ms - r.tool_ms);  // the runtime's own time
  o["created_at"] = created_at;
  return o;
}

std::optional<std::string> owner(const Request& req) {
  if (!req.context || req.context->admin) return std::nullopt;
  return req.context->key_id;
}

// The run stored; its JSON.
awaitable<core::Result<std::string>> store_run(const AgentDeps& d, std::string id, const core::AgentConfig& agent,
                                               const std::string& input, const workflows::AgentRun& r,
                                               std::string key_id) {
  const std::int64_t now = d.clock->now_ms() / 1000;
  std::string text = core::to_json(run_json(id, agent, input, r, now));
  storage::AgentRunRow row{std::move(id), agent.name, std::move(key_id), r.finish_reason, now, text};
  auto store = [row = std::move(row)](storage::Connection& c) { return storage::AgentRepository::insert(c, row); };
  auto st = co_await d.db->write(std::move(store));
  if (!st) co_return std::move(st).error();
  co_return text;
}

std::string new_run_id() { return "run_" + core::new_request_id().substr(0, 24); }

json::object job_request(const Execute& e) {
  json::object o;
  o["agent"] = workflows::agent_json(e.agent);
  o["input"] = e.input;
  return o;
}

awaitable<Response> execute(Request& req, const AgentDeps& d) {
  auto body = parse_json_object(req.body);
  if (!body) co_return Response::error(body.error());
  auto e = parse(*body, d);
  if (!e) co_return Response::error(e.error());
  const std::string key_id = req.context ? req.context->key_id : "";
  if (e->async) {
    jobs::Submit s;
    s.type = "agent";
    s.request = core::to_json(job_request(*e));
    if (!key_id.empty()) s.key_id = key_id;
    co_return co_await enqueue_job(*d.jobs, std::move(s));
  }
  if (e->stream) {
    Response res;
    res.content_type = "text/event-stream";
    res.header("Cache-Control", "no-cache");
    res.stream = [d, e = std::move(*e), key_id, request_id = req.request_id, meter = req.context](
                     http::StreamWriter& w) mutable -> awaitable<void> {
      workflows::RunEvents events = [&w](std::string_view event, std::string data) -> awaitable<bool> {
        const std::string chunk = "event: " + std::string(event) + "\ndata: " + data + "\n\n";
        co_return co_await w.write(chunk);
      };
      workflows::AgentRunner runner(*d.gateway, d.store, &d.registry->tools(), d.client);
      auto r = co_await runner.run(e.agent, e.input, request_id, meter, nullptr, &events);
      if (!r) {
        if (!w.started()) {
          w.replace(Response::error(r.error()));
        } else {
          const std::string error = "event: error\ndata: " + http::error_body(r.error()) + "\n\n";
          co_await w.write(error);
        }
        co_return;
      }
      auto stored = co_await store_run(d, new_run_id(), e.agent, e.input, *r, key_id);
      const std::string done =
          stored ? "event: done\ndata: " + *stored + "\n\n" : "event: error\ndata: " + http::error_body(stored.error()) + "\n\n";
      co_await w.write(done);
    };
    co_return res;
  }
  workflows::AgentRunner runner(*d.gateway, d.store, &d.registry->tools(), d.client);
  auto r = co_await runner.run(e->agent, e->input, req.request_id, req.context, req.cancel);
  if (!r) co_return Response::error(r.error());
  auto stored = co_await store_run(d, new_run_id(), e->agent, e->input, *r, key_id);
  if (!stored) co_return Response::error(stored.error());
  co_return Response::json(200, std::move(*stored));
}

}  // namespace

awaitable<core::Result<jobs::Service::Handled>> run_agent_job(const AgentDeps& d, const jobs::Job& job,
                                                              std::shared_ptr<core::CancelSignal> cancel,
                                                              std::shared_ptr<core::RequestContext> meter) {
  auto body = parse_json_object(job.request);
  if (!body) co_return std::move(body).error();
  const auto* agent = body->if_contains("agent");
  const auto* input = body->if_contains("input");
  if (!agent || !agent->is_object() || !input || !input->is_string()) {
    co_return Error(ErrorKind::invalid_field, "the stored agent run is not valid", "request");
  }
  auto a = workflows::agent_from_json(agent->get_object(), &d.registry->tools());
  if (!a) co_return std::move(a).error();
  const std::string text(input->get_string());
  workflows::AgentRunner runner(*d.gateway, d.store, &d.registry->tools(), d.client);
  auto r = co_await runner.run(*a, text, job.id, meter, std::move(cancel));
  if (!r) co_return std::move(r).error();
  // One run per job, however often it runs: the id is the job's.
  std::string id = "run_" + (job.id.size() > 4 ? job.id.substr(4) : job.id);
  auto stored = co_await store_run(d, std::move(id), *a, text, *r, job.key_id.value_or(""));
  if (!stored) co_return std::move(stored).error();
  jobs::Service::Handled out;
  out.body = std::move(*stored);
  out.model = a->model;
  co_return out;
}

void register_agent_routes(http::Router& router, AgentDeps deps) {
  Schema exec{{},
              {{"agent", Type::any},
               {"input", Type::string},
               {"stream", Type::boolean},
               {"async", Type::boolean}}};
  add(router, "POST", "/api/v1/workflows/execute", exec, [deps](Request& req) -> awaitable<Response> {
    co_return co_await execute(req, deps);
  });
  add(router, "GET", "/api/v1/workflows/runs/{id}", Schema{}, [deps](Request& req) -> awaitable<Response> {
    std::string id(req.param("id"));
    auto read = [id](storage::Connection& c) { return storage::AgentRepository::get(c, id); };
    auto row = co_await deps.db->run(std::move(read));
    if (!row) co_return Response::error(row.error());
    const auto who = owner(req);
    if (!*row || (who && (*row)->key_id != *who)) co_return Response::error(Error(ErrorKind::not_found, "no run '" + id + "'"));
    co_return Response::json(200, (*row)->run);
  });
  add(router, "GET", "/api/v1/workflows/runs", Schema{list_query(), {}}, [deps](Request& req) -> awaitable<Response> {
    auto page = page_request(req);
    if (!page) co_return Response::error(page.error());
    auto read = [who = owner(req), p = std::move(*page)](storage::Connection& c) {
      return storage::AgentRepository::list(c, who, p);
    };
    auto rows = co_await deps.db->run(std::move(read));
    if (!rows) co_return Response::error(rows.error());
    json::array data;
    for (const auto& r : rows->rows) {
      boost::system::error_code ec;
      json::value v = json::parse(r.run, ec);
      if (ec || !v.is_object()) continue;
      v.as_object().erase("steps");  // (the run itself has them)
      data.push_back(std::move(v));
    }
    co_return Response::json(200, core::to_json(list_object(std::move(data), rows->has_more)));
  });
  // Agents through the API (the config's are listed too, and read-only).
  const Schema spec{{},
                    {{"name", Type::string}, {"model", Type::string}, {"system_prompt", Type::string},
                     {"tools", Type::array}, {"tools[]", Type::any}, {"collections", Type::array},
                     {"collections[]", Type::any}, {"max_iterations", Type::integer}, {"timeout_s", Type::integer},
                     {"max_tokens_total", Type::integer}, {"temperature", Type::any}}};
  add(router, "POST", "/api/v1/agents", spec, [deps](Request& req) -> awaitable<Response> {
    auto body = parse_json_object(req.body);
    if (!body) co_return Response::error(body.error());
    auto made = co_await deps.registry->create(std::move(*body));
    if (!made) co_return Response::error(made.error());
    co_return Response::json(201, core::to_json(workflows::agent_entry_json(**made)));
  });
  add(router, "GET", "/api/v1/agents", Schema{list_query(), {}}, [deps](Request& req) -> awaitable<Response> {
    auto page = page_request(req);
    if (!page) co_return Response::error(page.error());
    json::array data;
    for (const auto& a : deps.registry->list()) data.push_back(workflows::agent_entry_json(*a));
    co_return Response::json(200, core::to_json(list_object(std::move(data), false)));
  });
  add(router, "GET", "/api/v1/agents/{id}", Schema{}, [deps](Request& req) -> awaitable<Response> {
    auto a = deps.registry->find(req.param("id"));
    if (!a) co_return Response::error(Error(ErrorKind::not_found, "no agent '" + std::string(req.param("id")) + "'"));
    co_return Response::json(200, core::to_json(workflows::agent_entry_json(*a)));
  });
  add(router, "PATCH", "/api/v1/agents/{id}", spec, [deps](Request& req) -> awaitable<Response> {
    auto body = parse_json_object(req.body);
    if (!body) co_return Response::error(body.error());
    auto made = co_await deps.registry->update(std::string(req.param("id")), std::move(*body));
    if (!made) co_return Response::error(made.error());
    co_return Response::json(200, core::to_json(workflows::agent_entry_json(**made)));
  });
  add(router, "DELETE", "/api/v1/agents/{id}", Schema{}, [deps](Request& req) -> awaitable<Response> {
    auto gone = co_await deps.registry->remove(std::string(req.param("id")));
    if (!gone) co_return Response::error(gone.error());
    json::object o = workflows::agent_entry_json(**gone);
    o["deleted"] = true;
    co_return Response::json(200, core::to_json(o));
  });

  add(router, "GET", "/api/v1/workflows/types", Schema{}, [deps](Request&) -> awaitable<Response> {
    json::array data;
    auto builtin = [&data](const char* type, const char* path, const char* what) {
      json::object o;
      o["type"] = type;
      o["builtin"] = true;
      o["endpoint"] = path;
      o["description"] = what;
      data.push_back(std::move(o));
    };
    builtin("analyze-log", "/api/v1/workflows/analyze-log", "A CI/CD log explained: evidence, category, failing step, fix.");
    builtin("generate", "/api/v1/generate", "Text generation on /v1/completions of the default or named model.");
    for (const auto& entry : deps.registry->list()) {
      json::object o = workflows::agent_json(entry->agent);
      o["type"] = "agent";
      o["builtin"] = false;
      o["endpoint"] = "/api/v1/workflows/execute";
      data.push_back(std::move(o));
    }
    co_return Response::json(200, core::to_json(list_object(std::move(data), false, "type")));
  });
}

}  // namespace sb::api
