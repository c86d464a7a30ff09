#include "workflows/agent.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cctype>
#include <chrono>
#include <map>

#include "core/json_text.hpp"
#include "knowledge/fetch.hpp"
#include "workflows/mcp_client.hpp"
#include "workflows/parallel.hpp"

namespace sb::workflows {

namespace json = boost::json;
using boost::asio::awaitable;
using core::Error;
using core::ErrorKind;
using Clock = std::chrono::steady_clock;

namespace {

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string cut(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  s += "…(cut)";
  return s;
}

std::string percent_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

json::object tool_spec(std::string_view name) {
  json::object params;
  params["type"] = "object";
  json::object props;
  json::array required;
  std::string description;
  auto prop = [&props](const char* key, const char* type, const char* what) {
    json::object p;
    p["type"] = type;
    p["description"] = what;
    props[key] = std::move(p);
  };
  if (name == "http_get") {
    description = "Fetch a public web page or file by URL (GET; private addresses refused; at most 1 MiB, the first 16 KiB returned).";
    prop("url", "string", "an http:// or https:// URL");
    required.push_back("url");
  } else if (name == "knowledge_search") {
    description = "Search the knowledge base (runbooks, documentation). Returns the best passages with their ids.";
    prop("query", "string", "what to look for");
    prop("collection", "string", "the collection to search (optional: the agent's first)");
    prop("top_k", "integer", "how many passages, 1 to 10 (default 5)");
    required.push_back("query");
  } else {
    description = "Read a document of the knowledge base by its id (as knowledge_search returns it).";
    prop("id", "string", "the document id (doc_...)");
    required.push_back("id");
  }
  params["properties"] = std::move(props);
  params["required"] = std::move(required);
  json::object fn;
  fn["name"] = name;
  fn["description"] = description;
  fn["parameters"] = std::move(params);
  json::object t;
  t["type"] = "function";
  t["function"] = std::move(fn);
  return t;
}

json::object message(const char* role, std::string content) {
  json::object m;
  m["role"] = role;
  m["content"] = std::move(content);
  return m;
}

json::object tool_message(const std::string& id, std::string content) {
  json::object m;
  m["role"] = "tool";
  m["tool_call_id"] = id;
  m["content"] = std::move(content);
  return m;
}

json::object step(const char* type, int iteration) {
  json::object s;
  s["type"] = type;
  s["iteration"] = iteration;
  return s;
}

std::string error_text(const std::string& what) {
  json::object o;
  o["error"] = what;
  return core::to_json(o);
}

// The first choice's message of a chat.completion, and its usage.
struct Turn {
  json::object message;
  std::string content;
  json::array tool_calls;
  long long prompt = 0, completion = 0;
};

core::Result<Turn> read_turn(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return Error(ErrorKind::upstream_error, "the model's answer is not JSON");
  Turn t;
  const auto& o = v.get_object();
  const auto* ch = o.if_contains("choices");
  if (!ch || !ch->is_array() || ch->get_array().empty() || !ch->get_array()[0].is_object()) {
    return Error(ErrorKind::upstream_error, "the model's answer has no choices");
  }
  const auto* m = ch->get_array()[0].get_object().if_contains("message");
  if (!m || !m->is_object()) return Error(ErrorKind::upstream_error, "the model's answer has no message");
  t.message = m->get_object();
  if (const auto* c = t.message.if_contains("content"); c && c->is_string()) t.content = std::string(c->get_string());
  if (const auto* tc = t.message.if_contains("tool_calls"); tc && tc->is_array()) t.tool_calls = tc->get_array();
  if (const auto* u = o.if_contains("usage"); u && u->is_object()) {
    if (const auto* p = u->get_object().if_contains("prompt_tokens"); p && p->is_int64()) t.prompt = p->get_int64();
    if (const auto* p = u->get_object().if_contains("completion_tokens"); p && p->is_int64()) t.completion = p->get_int64();
  }
  // The message as it goes back into the conversation: role, content, tool_calls only.
  json::object keep;
  keep["role"] = "assistant";
  keep["content"] = t.content.empty() && !t.tool_calls.empty() ? json::value(nullptr) : json::value(t.content);
  if (!t.tool_calls.empty()) keep["tool_calls"] = t.tool_calls;
  t.message = std::move(keep);
  return t;
}

json::object model_step(int iteration, const Turn& t, double took) {
  json::object s = step("model", iteration);
  s["content"] = t.content;
  s["tool_calls"] = static_cast<std::int64_t>(t.tool_calls.size());
  json::object u;
  u["prompt_tokens"] = t.prompt;
  u["completion_tokens"] = t.completion;
  s["usage"] = std::move(u);
  s["latency_ms"] = took;
  return s;
}

std::string hits_json(const knowledge::SearchResult& r) {
  json::array out;
  for (const auto& h : r.hits) {
    json::object o;
    o["chunk_id"] = h.chunk.chunk_id;
    o["document_id"] = h.chunk.document_id;
    o["title"] = h.chunk.title;
    o["score"] = h.score;
    o["text"] = cut(h.chunk.text, 1200);
    out.push_back(std::move(o));
  }
  json::object o;
  o["collection"] = r.collection;
  o["results"] = std::move(out);
  return core::to_json(o);
}

std::string answer_json(const std::string& output) {
  json::object o;
  o["output"] = output;
  return core::to_json(o);
}

}  // namespace

const std::vector<std::string>& builtin_tools() {
  static const std::vector<std::string> t = {"knowledge_search", "get_document", "http_get"};
  return t;
}

struct AgentRunner::Call {
  std::string id, name, arguments;
  std::string result;
  bool failed = false;
  double took = 0;
};

struct AgentRunner::Sessions {
  std::map<std::string, std::unique_ptr<McpSession>> by_server;  // [[tools]] name of type mcp
};

AgentRunner::AgentRunner(gateway::Gateway& gateway, knowledge::Store* store, const std::vector<core::ToolConfig>* tools,
                         http::Client* client)
    : gateway_(gateway), store_(store), tools_(tools), client_(client), sessions_(std::make_unique<Sessions>()) {}

AgentRunner::~AgentRunner() = default;

const core::ToolConfig* AgentRunner::config_of(std::string_view name) const {
  if (!tools_) return nullptr;
  for (const auto& t : *tools_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

awaitable<json::array> AgentRunner::offer(const core::AgentConfig& agent, std::vector<std::string>& problems) {
  json::array out;
  offered_.clear();
  for (const auto& name : agent.tools) {
    if (name == "knowledge_search" || name == "get_document" || name == "http_get") {
      out.push_back(tool_spec(name));
      offered_.insert(name);
      continue;
    }
    const auto sep = name.find("__");
    const std::string server = sep == std::string::npos ? name : name.substr(0, sep);
    const core::ToolConfig* t = config_of(server);
    if (!t) {
      problems.push_back("no tool named '" + name + "'");
      continue;
    }
    if (t->type == "http") {
      boost::system::error_code ec;
      json::value params = json::parse(t->parameters, ec);
      json::object fn;
      fn["name"] = t->name;
      fn["description"] = t->description;
      fn["parameters"] = ec ? json::value(json::object()) : params;
      json::object spec;
      spec["type"] = "function";
      spec["function"] = std::move(fn);
      out.push_back(std::move(spec));
      offered_.insert(t->name);
      continue;
    }
    if (!client_) {
      problems.push_back("MCP server '" + server + "': no client");
      continue;
    }
    auto& session = sessions_->by_server[server];
    if (!session) session = std::make_unique<McpSession>(*client_, *t);
    auto listed = co_await session->list_tools();
    if (!listed) {
      problems.push_back(listed.error().message);
      continue;
    }
    for (const auto& x : *listed) {
      const auto& o = x.get_object();
      const std::string tool_name(o.at("name").get_string());
      const std::string full = server + "__" + tool_name;
      if (sep != std::string::npos && full != name) continue;
      if (offered_.count(full)) continue;
      json::object fn;
      fn["name"] = full;
      if (const auto* d = o.if_contains("description"); d && d->is_string()) fn["description"] = *d;
      const auto* schema = o.if_contains("inputSchema");
      fn["parameters"] = schema && schema->is_object() ? *schema : json::value(json::object());
      json::object spec;
      spec["type"] = "function";
      spec["function"] = std::move(fn);
      out.push_back(std::move(spec));
      offered_.insert(full);
    }
  }
  co_return out;
}

awaitable<void> AgentRunner::run_http_get(Call& call) {
  boost::system::error_code ec;
  json::value args = json::parse(call.arguments.empty() ? std::string("{}") : call.arguments, ec);
  const json::value* url = !ec && args.is_object() ? args.get_object().if_contains("url") : nullptr;
  if (!url || !url->is_string() || url->get_string().empty()) {
    call.failed = true;
    call.result = error_text("'url' is required: an http:// or https:// URL");
    co_return;
  }
  if (!client_) {
    call.failed = true;
    call.result = error_text("no outbound client");
    co_return;
  }
  knowledge::UrlOptions options;  // URL ingestion's guard: public addresses only, bounded
  options.max_bytes = 1024 * 1024;
  options.timeout = std::chrono::milliseconds(15000);
  std::string target(url->get_string());
  auto r = co_await knowledge::fetch_url(*client_, std::move(target), options);
  if (!r) {
    call.failed = true;
    call.result = error_text(r.error().message);
    co_return;
  }
  json::object o;
  o["url"] = *url;
  o["content_type"] = r->content_type;
  o["body"] = cut(std::move(r->body), kMaxToolResult - 512);
  call.result = core::to_json(o);
}

awaitable<void> AgentRunner::run_external(Call& call) {
  boost::system::error_code ec;
  json::value args = json::parse(call.arguments.empty() ? std::string("{}") : call.arguments, ec);
  if (ec || !args.is_object()) {
    call.failed = true;
    call.result = error_text("the arguments are not a JSON object");
    co_return;
  }
  const auto sep = call.name.find("__");
  const std::string server = sep == std::string::npos ? call.name : call.name.substr(0, sep);
  const core::ToolConfig* t = config_of(server);
  if (!t || !client_) {
    call.failed = true;
    call.result = error_text("no tool named '" + call.name + "'");
    co_return;
  }
  if (t->type == "mcp") {
    auto& session = sessions_->by_server[server];
    if (!session) session = std::make_unique<McpSession>(*client_, *t);
    std::string tool_name = call.name.substr(sep + 2);
    auto r = co_await session->call(std::move(tool_name), args.get_object());
    if (!r) {
      call.failed = true;
      call.result = error_text(r.error().message);
    } else {
      call.failed = r->error;
      call.result = r->text;
    }
    co_return;
  }
  // An HTTP tool: the arguments as the JSON body (POST) or the query (GET).
  http::ClientRequest req;
  req.method = t->method;
  req.url = t->url;
  if (t->method == "GET") {
    std::string q;
    for (const auto& [k, v] : args.get_object()) {
      std::string value = v.is_string() ? std::string(v.get_string()) : json::serialize(v);
      q += (q.empty() ? "" : "&") + percent_encode(k) + "=" + percent_encode(value);
    }
    if (!q.empty()) req.url += (req.url.find('?') == std::string::npos ? "?" : "&") + q;
  } else {
    req.body = json::serialize(args);
    req.headers.emplace_back("Content-Type", "application/json");
  }
  for (const auto& h : t->headers) req.headers.push_back(h);
  req.timeouts.connect = std::chrono::milliseconds(std::min(t->timeout_ms, 10000));
  req.timeouts.first_byte = std::chrono::milliseconds(t->timeout_ms);
  req.timeouts.idle = std::chrono::milliseconds(t->timeout_ms);
  req.timeouts.deadline = Clock::now() + std::chrono::milliseconds(t->timeout_ms);
  req.public_only = !t->allow_private;
  auto res = co_await client_->fetch(std::move(req));
  if (!res) {
    call.failed = true;
    call.result = error_text("the tool's endpoint failed: " + res.error().message);
    co_return;
  }
  if (res->status / 100 != 2) {
    call.failed = true;
    call.result = error_text("the tool's endpoint answered " + std::to_string(res->status) + ": " + cut(res->body, 2000));
    co_return;
  }
  call.result = std::move(res->body);
}

awaitable<void> AgentRunner::run_tool(const core::AgentConfig& agent, Call& call, std::shared_ptr<core::RequestContext> meter) {
  const auto t0 = Clock::now();
  boost::system::error_code ec;
  json::value args = json::parse(call.arguments.empty() ? std::string("{}") : call.arguments, ec);
  const bool known = offered_.count(call.name) > 0;
  if (known && call.name == "http_get") {
    co_await run_http_get(call);
    call.result = cut(std::move(call.result), kMaxToolResult);
    call.took = ms(Clock::now() - t0);
    co_return;
  }
  if (known && call.name != "knowledge_search" && call.name != "get_document") {
    co_await run_external(call);
    call.result = cut(std::move(call.result), kMaxToolResult);
    call.took = ms(Clock::now() - t0);
    co_return;
  }
  if (!known) {
    call.failed = true;
    call.result = error_text("no tool named '" + call.name + "' (this agent has: " +
                             (agent.tools.empty() ? std::string("none") : agent.tools.front()) +
                             (agent.tools.size() > 1 ? ", ..." : "") + ")");
  } else if (ec || !args.is_object()) {
    call.failed = true;
    call.result = error_text("the arguments are not a JSON object");
  } else if (!store_) {
    call.failed = true;
    call.result = error_text("the knowledge base is not available");
  } else if (call.name == "knowledge_search") {
    const auto& a = args.get_object();
    const auto* q = a.if_contains("query");
    const auto* col = a.if_contains("collection");
    const auto* k = a.if_contains("top_k");
    std::string collection = col && col->is_string() ? std::string(col->get_string())
                                                     : (agent.collections.empty() ? "" : agent.collections.front());
    bool allowed = agent.collections.empty();
    for (const auto& c : agent.collections) allowed = allowed || c == collection;
    if (!q || !q->is_string() || q->get_string().empty()) {
      call.failed = true;
      call.result = error_text("'query' is required: a non-empty string");
    } else if (collection.empty()) {
      call.failed = true;
      call.result = error_text("'collection' is required: this agent has no collection of its own");
    } else if (!allowed || (meter && !meter->allows_collection(collection))) {
      call.failed = true;
      call.result = error_text("the collection '" + collection + "' is not one this agent may search");
    } else {
      knowledge::SearchRequest s;
      s.meter = meter;
      s.collection = collection;
      s.query = std::string(q->get_string()).substr(0, 2000);
      s.top_k = k && k->is_int64() ? static_cast<int>(std::clamp<std::int64_t>(k->get_int64(), 1, 10)) : 5;
      auto r = co_await store_->search(std::move(s));
      if (!r) {
        call.failed = true;
        call.result = error_text(r.error().message);
      } else {
        call.result = hits_json(*r);
      }
    }
  } else {  // get_document
    const auto* id = args.get_object().if_contains("id");
    if (!id || !id->is_string() || id->get_string().empty()) {
      call.failed = true;
      call.result = error_text("'id' is required: a document id");
    } else {
      std::string doc_id(id->get_string());
      auto d = co_await store_->get_document(std::move(doc_id), true);
      bool allowed = d && agent.collections.empty();
      if (d) {
        for (const auto& c : agent.collections) allowed = allowed || c == d->row.collection;
        if (meter && !meter->allows_collection(d->row.collection)) allowed = false;
      }
      if (!d || !allowed) {
        call.failed = true;
        call.result = error_text("no document with that id in this agent's collections");
      } else {
        json::object o;
        o["id"] = d->row.id;
        o["title"] = d->row.title;
        o["collection"] = d->row.collection;
        o["text"] = cut(d->text.value_or(""), kMaxToolResult - 512);
        call.result = core::to_json(o);
      }
    }
  }
  call.result = cut(std::move(call.result), kMaxToolResult);
  call.took = ms(Clock::now() - t0);
}

awaitable<core::Result<AgentRun>> AgentRunner::run(const core::AgentConfig& agent, std::string input,
                                                   std::string request_id, std::shared_ptr<core::RequestContext> meter,
                                                   std::shared_ptr<core::CancelSignal> cancel, const RunEvents* events) {
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::seconds(agent.timeout_s);
  AgentRun out;
  json::array messages;
  if (!agent.system_prompt.empty()) messages.push_back(message("system", agent.system_prompt));
  messages.push_back(message("user", std::move(input)));
  std::vector<std::string> problems;
  json::array tools = co_await offer(agent, problems);
  for (const auto& p : problems) {
    json::object s = step("tools", 0);
    s["error"] = p;
    out.steps.push_back(std::move(s));
  }
  bool gone = false;  // the streaming client left
  for (int it = 1;; ++it) {
    if (it > agent.max_iterations) {
      out.finish_reason = "max_iterations";
      break;
    }
    if (Clock::now() >= deadline) {
      out.finish_reason = "timeout";
      break;
    }
    if (agent.max_tokens_total > 0 && out.prompt_tokens + out.completion_tokens >= agent.max_tokens_total) {
      out.finish_reason = "budget";
      break;
    }
    out.iterations = it;
    json::object body;
    body["model"] = agent.model;
    body["messages"] = messages;
    if (!tools.empty()) body["tools"] = tools;
    if (agent.temperature) body["temperature"] = *agent.temperature;
    auto targets = gateway_.resolve(agent.model);
    if (!targets) co_return std::move(targets).error();
    gateway::ChatCall call;
    call.body = std::move(body);
    call.request_id = request_id;
    call.deadline = deadline;
    call.meter = meter;
    call.cancel = cancel;
    gateway::Outcome outcome;
    const auto m0 = Clock::now();
    auto r = co_await gateway_.chat(std::move(call), std::move(*targets), outcome);
    const double took = ms(Clock::now() - m0);
    out.model_ms += took;
    if (!r) {
      if (r.error().kind == ErrorKind::upstream_timeout || Clock::now() >= deadline) {
        out.finish_reason = "timeout";
        break;
      }
      co_return std::move(r).error();
    }
    auto turn = read_turn(r->body);
    if (!turn) co_return std::move(turn).error();
    out.prompt_tokens += turn->prompt;
    out.completion_tokens += turn->completion;
    out.steps.push_back(model_step(it, *turn, took));
    messages.push_back(turn->message);
    if (events) {
      std::string data = core::to_json(out.steps.back().as_object());
      if (!co_await (*events)("step", std::move(data))) {
        out.finish_reason = "cancelled";
        break;
      }
    }
    if (turn->tool_calls.empty()) {
      out.output = turn->content;
      out.finish_reason = "stop";
      if (events) {
        std::string data = answer_json(out.output);
        const bool sent = co_await (*events)("answer", std::move(data));
        (void)sent;
      }
      break;
    }
    // The calls it asked for, at most kMaxParallelTools at once.
    std::vector<std::unique_ptr<Call>> calls;
    for (const auto& tc : turn->tool_calls) {
      auto c = std::make_unique<Call>();
      if (tc.is_object()) {
        const auto& o = tc.get_object();
        if (const auto* id = o.if_contains("id"); id && id->is_string()) c->id = std::string(id->get_string());
        if (const auto* fn = o.if_contains("function"); fn && fn->is_object()) {
          if (const auto* n = fn->get_object().if_contains("name"); n && n->is_string()) c->name = std::string(n->get_string());
          if (const auto* a = fn->get_object().if_contains("arguments"); a && a->is_string()) {
            c->arguments = std::string(a->get_string());
          }
        }
      }
      calls.push_back(std::move(c));
    }
    for (std::size_t from = 0; from < calls.size(); from += kMaxParallelTools) {
      std::vector<Task> tasks;
      for (std::size_t i = from; i < calls.size() && i < from + kMaxParallelTools; ++i) {
        Call* c = calls[i].get();
        tasks.push_back([this, &agent, c, meter]() -> awaitable<void> { co_await run_tool(agent, *c, meter); });
      }
      co_await run_all(std::move(tasks));
    }
    for (const auto& c : calls) {
      json::object call_step = step("tool_call", it);
      call_step["id"] = c->id;
      call_step["name"] = c->name;
      call_step["arguments"] = cut(c->arguments, 4096);
      out.steps.push_back(std::move(call_step));
      json::object result_step = step("tool_result", it);
      result_step["id"] = c->id;
      result_step["name"] = c->name;
      result_step["ok"] = !c->failed;
      result_step["result"] = cut(c->result, 4096);
      result_step["latency_ms"] = c->took;
      out.steps.push_back(std::move(result_step));
      out.tool_ms += c->took;
      messages.push_back(tool_message(c->id, c->result));
      if (events) {
        std::string call_data = core::to_json(out.steps[out.steps.size() - 2].as_object());
        bool ok = co_await (*events)("tool_call", std::move(call_data));
        std::string result_data = core::to_json(out.steps.back().as_object());
        if (ok) ok = co_await (*events)("tool_result", std::move(result_data));
        if (!ok) gone = true;
      }
    }
    if (gone) {
      out.finish_reason = "cancelled";
      break;
    }
  }
  out.latency_ms = ms(Clock::now() - t0);
  if (meter) out.cost_usd = meter->cost();
  co_return out;
}

}  // namespace sb::workflows
