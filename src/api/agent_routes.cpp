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
};

core::Result<Execute> parse(const json::object& body, const AgentDeps& d) {
  Execute e;
  for (const char* unsupported : {"stream", "async"}) {
    if (const auto* v = body.if_contains(unsupported); v && !(v->is_bool() && !v->get_bool())) {
      return Error(ErrorKind::invalid_field,
                   std::string("'") + unsupported + "' runs are not available yet: runs are answered whole", unsupported);
    }
  }
  const auto* agent = body.if_contains("agent");
  if (!agent) return Error(ErrorKind::invalid_field, "'agent' is required: an agent's name or an inline agent", "agent");
  if (agent->is_string()) {
    bool found = false;
    for (const auto& a : d.agents) {
      if (a.name == agent->get_string()) {
        e.agent = a;
        found = true;
      }
    }
    if (!found) {
      return Error(ErrorKind::not_found, "no agent named '" + std::string(agent->get_string()) + "' ([[agents]])", "agent");
    }
  } else if (agent->is_object()) {
    auto a = workflows::agent_from_json(agent->get_object());
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

awaitable<Response> execute(Request& req, const AgentDeps& d) {
  auto body = parse_json_object(req.body);
  if (!body) co_return Response::error(body.error());
  auto e = parse(*body, d);
  if (!e) co_return Response::error(e.error());
  workflows::AgentRunner runner(*d.gateway, d.store);
  auto r = co_await runner.run(e->agent, e->input, req.request_id, req.context, req.cancel);
  if (!r) co_return Response::error(r.error());
  const std::string id = "run_" + core::new_request_id().substr(0, 24);
  const std::int64_t now = d.clock->now_ms() / 1000;
  json::object run = run_json(id, e->agent, e->input, *r, now);
  storage::AgentRunRow row{id, e->agent.name, req.context ? req.context->key_id : "", r->finish_reason, now,
                           core::to_json(run)};
  auto store = [row = std::move(row)](storage::Connection& c) { return storage::AgentRepository::insert(c, row); };
  if (auto st = co_await d.db->write(std::move(store)); !st) co_return Response::error(st.error());
  co_return Response::json(200, core::to_json(run));
}

}  // namespace

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
    for (const auto& a : deps.agents) {
      json::object o = workflows::agent_json(a);
      o["type"] = "agent";
      o["builtin"] = false;
      o["endpoint"] = "/api/v1/workflows/execute";
      data.push_back(std::move(o));
    }
    co_return Response::json(200, core::to_json(list_object(std::move(data), false, "type")));
  });
}

}  // namespace sb::api
