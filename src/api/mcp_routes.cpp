// Switchboard as an MCP server (Model Context Protocol, Streamable HTTP transport): POST /mcp
// takes one JSON-RPC 2.0 message — initialize, ping, tools/list, tools/call, notifications — and
// answers it as application/json (notifications: 202, no body). Stateless: no session id is
// issued, every request carries its key. GET /mcp (a server-to-client stream) is 405. Tools: the
// knowledge search, document fetch, and each configured agent ("agent_<name>").

#include <boost/json/parse.hpp>

#include <chrono>

#include "api/json.hpp"
#include "api/routes.hpp"
#include "api/schema.hpp"
#include "core/json_text.hpp"
#include "core/version.hpp"
#include "workflows/agent.hpp"

namespace sb::api {

namespace json = boost::json;
using boost::asio::awaitable;
using core::Error;
using core::ErrorKind;
using http::Request;
using http::Response;

namespace {

const char* const kVersions[] = {"2025-06-18", "2025-03-26", "2024-11-05"};  // newest first
constexpr std::size_t kMaxResultText = 256 * 1024;

enum RpcCode { kParse = -32700, kInvalidRequest = -32600, kNoMethod = -32601, kInvalidParams = -32602 };

std::string rpc_error(const json::value& id, int code, const std::string& message) {
  json::object e;
  e["code"] = code;
  e["message"] = message;
  json::object o;
  o["jsonrpc"] = "2.0";
  o["id"] = id;
  o["error"] = std::move(e);
  return core::to_json(o);
}

std::string rpc_result(const json::value& id, json::object result) {
  json::object o;
  o["jsonrpc"] = "2.0";
  o["id"] = id;
  o["result"] = std::move(result);
  return core::to_json(o);
}

json::object schema_of(std::initializer_list<std::tuple<const char*, const char*, const char*, bool>> props) {
  json::object p;
  json::array required;
  for (const auto& [name, type, what, req] : props) {
    json::object one;
    one["type"] = type;
    one["description"] = what;
    p[name] = std::move(one);
    if (req) required.push_back(json::string(name));
  }
  json::object s;
  s["type"] = "object";
  s["properties"] = std::move(p);
  s["required"] = std::move(required);
  return s;
}

json::object tool(const std::string& name, const std::string& description, json::object input) {
  json::object t;
  t["name"] = name;
  t["description"] = description;
  t["inputSchema"] = std::move(input);
  return t;
}

json::array tools_of(const AgentDeps& d) {
  json::array tools;
  if (d.store) {
    tools.push_back(tool("knowledge_search",
                         "Search a Switchboard knowledge base collection (hybrid BM25 + vectors). Returns passages with "
                         "their document and chunk ids for citation.",
                         schema_of({{"collection", "string", "the collection's name", true},
                                    {"query", "string", "what to look for", true},
                                    {"top_k", "integer", "how many passages, 1 to 20 (default 5)", false},
                                    {"mode", "string", "hybrid (default), keyword or semantic", false}})));
    tools.push_back(tool("get_document", "Read a document of the knowledge base by id (doc_...), with its text.",
                         schema_of({{"id", "string", "the document id", true}})));
  }
  for (const auto& entry : d.registry->list()) {
    const auto& a = entry->agent;
    tools.push_back(tool("agent_" + a.name,
                         "Run the Switchboard agent '" + a.name + "' (model " + a.model + ") on a task; returns its answer.",
                         schema_of({{"input", "string", "the task", true}})));
  }
  return tools;
}

json::object text_result(std::string text, bool error) {
  if (text.size() > kMaxResultText) text.resize(kMaxResultText);
  json::object c;
  c["type"] = "text";
  c["text"] = std::move(text);
  json::array content;
  content.push_back(std::move(c));
  json::object r;
  r["content"] = std::move(content);
  r["isError"] = error;
  return r;
}

std::string hits_text(const knowledge::SearchResult& r) {
  json::array out;
  for (const auto& h : r.hits) {
    json::object o;
    o["document_id"] = h.chunk.document_id;
    o["chunk_id"] = h.chunk.chunk_id;
    o["title"] = h.chunk.title;
    o["heading"] = h.chunk.heading;
    o["score"] = h.score;
    o["text"] = h.chunk.text;
    out.push_back(std::move(o));
  }
  json::object o;
  o["collection"] = r.collection;
  o["results"] = std::move(out);
  return core::to_json(o);
}

std::string document_text(const knowledge::DocumentView& d) {
  json::object o;
  o["id"] = d.row.id;
  o["collection"] = d.row.collection;
  o["title"] = d.row.title;
  o["text"] = d.text.value_or("");
  return core::to_json(o);
}

// tools/call: the result, or a JSON-RPC error (code, message) for an unknown tool or bad params.
struct CallOutcome {
  std::optional<json::object> result;
  int code = 0;
  std::string message;
};

awaitable<CallOutcome> call_tool(const AgentDeps& d, const std::string& name, const json::object& args, Request& req) {
  CallOutcome out;
  auto str = [&args](const char* k) -> std::optional<std::string> {
    const auto* v = args.if_contains(k);
    if (!v || !v->is_string() || v->get_string().empty()) return std::nullopt;
    return std::string(v->get_string());
  };
  if (name == "knowledge_search" && d.store) {
    auto collection = str("collection");
    auto query = str("query");
    if (!collection || !query) {
      out.code = kInvalidParams;
      out.message = "knowledge_search needs 'collection' and 'query' strings";
      co_return out;
    }
    if (req.context && !req.context->allows_collection(*collection)) {
      out.result = text_result("the collection '" + *collection + "' is not allowed for this key", true);
      co_return out;
    }
    knowledge::SearchRequest s;
    s.meter = req.context;
    s.collection = *collection;
    s.query = query->substr(0, 4000);
    if (const auto* k = args.if_contains("top_k"); k && k->is_int64()) s.top_k = static_cast<int>(std::clamp<std::int64_t>(k->get_int64(), 1, 20));
    else s.top_k = 5;
    if (auto m = str("mode")) {
      if (*m == "keyword") s.mode = knowledge::SearchMode::keyword;
      else if (*m == "semantic") s.mode = knowledge::SearchMode::semantic;
      else if (*m != "hybrid") {
        out.code = kInvalidParams;
        out.message = "'mode' must be hybrid, keyword or semantic";
        co_return out;
      }
    }
    auto r = co_await d.store->search(std::move(s));
    out.result = r ? text_result(hits_text(*r), false) : text_result(r.error().message, true);
    co_return out;
  }
  if (name == "get_document" && d.store) {
    auto id = str("id");
    if (!id) {
      out.code = kInvalidParams;
      out.message = "get_document needs an 'id' string";
      co_return out;
    }
    std::string doc_id = *id;
    auto doc = co_await d.store->get_document(std::move(doc_id), true);
    if (!doc || (req.context && !req.context->allows_collection(doc->row.collection))) {
      out.result = text_result("no document '" + *id + "'", true);
    } else {
      out.result = text_result(document_text(*doc), false);
    }
    co_return out;
  }
  if (name.rfind("agent_", 0) == 0) {
    for (const auto& entry : d.registry->list()) {
      const auto& a = entry->agent;
      if ("agent_" + a.name != name) continue;
      auto input = str("input");
      if (!input) {
        out.code = kInvalidParams;
        out.message = name + " needs an 'input' string";
        co_return out;
      }
      workflows::AgentRunner runner(*d.gateway, d.store, &d.registry->tools(), d.client);
      auto r = co_await runner.run(a, *input, req.request_id, req.context, req.cancel);
      if (!r) {
        out.result = text_result(r.error().message, true);
      } else {
        out.result = text_result(r->output.empty() ? "(the agent ended without an answer: " + r->finish_reason + ")" : r->output,
                                 r->finish_reason != "stop");
      }
      co_return out;
    }
  }
  out.code = kInvalidParams;
  out.message = "Unknown tool: " + name;
  co_return out;
}

Response rpc_json(std::string body) { return Response::json(200, std::move(body)); }

awaitable<Response> handle(Request& req, const AgentDeps& d) {
  // JSON only: a browser page cannot post it without a CORS preflight (DNS rebinding).
  if (std::string_view ct = req.header("Content-Type"); ct.substr(0, 16) != "application/json") {
    Error e(ErrorKind::unsupported_media_type, "POST /mcp takes Content-Type: application/json (a JSON-RPC message)",
            "Content-Type");
    co_return Response::error(e);
  }
  // The transport's rules: the client accepts JSON (and SSE), and a later request says its version.
  if (auto v = req.header("MCP-Protocol-Version"); !v.empty()) {
    bool known = false;
    for (const char* k : kVersions) known = known || v == k;
    if (!known) {
      co_return Response::error(Error(ErrorKind::invalid_field,
                                      "unsupported MCP-Protocol-Version '" + std::string(v) + "' (supported: 2025-06-18, 2025-03-26, 2024-11-05)",
                                      "MCP-Protocol-Version"));
    }
  }
  boost::system::error_code ec;
  json::value msg = json::parse(req.body, ec);
  if (ec) co_return rpc_json(rpc_error(nullptr, kParse, "Parse error: the body is not JSON"));
  if (msg.is_array()) co_return rpc_json(rpc_error(nullptr, kInvalidRequest, "Invalid Request: batches are not supported"));
  if (!msg.is_object()) co_return rpc_json(rpc_error(nullptr, kInvalidRequest, "Invalid Request: expected a JSON-RPC 2.0 object"));
  const auto& o = msg.get_object();
  const auto* version = o.if_contains("jsonrpc");
  const auto* method = o.if_contains("method");
  const json::value* id = o.if_contains("id");
  const json::value rid = id ? *id : json::value(nullptr);
  if (id && !id->is_string() && !id->is_int64() && !id->is_uint64()) {
    co_return rpc_json(rpc_error(nullptr, kInvalidRequest, "Invalid Request: 'id' must be a string or an integer"));
  }
  if (!version || !version->is_string() || version->get_string() != "2.0") {
    co_return rpc_json(rpc_error(rid, kInvalidRequest, "Invalid Request: 'jsonrpc' must be \"2.0\""));
  }
  if (!method) {
    // A response to a request of ours (we send none) or garbage without a method: accepted.
    if (!id) co_return rpc_json(rpc_error(nullptr, kInvalidRequest, "Invalid Request: no 'method'"));
    Response r;
    r.status = 202;
    r.content_type.clear();
    co_return r;
  }
  if (!method->is_string()) co_return rpc_json(rpc_error(rid, kInvalidRequest, "Invalid Request: 'method' must be a string"));
  const std::string m(method->get_string());
  if (!id) {  // a notification (notifications/initialized, notifications/cancelled, ...): no answer
    Response r;
    r.status = 202;
    r.content_type.clear();
    co_return r;
  }
  static const json::object kEmpty;
  const auto* params_v = o.if_contains("params");
  if (params_v && !params_v->is_object()) co_return rpc_json(rpc_error(rid, kInvalidParams, "Invalid params: 'params' must be an object"));
  const json::object& params = params_v ? params_v->get_object() : kEmpty;

  if (m == "initialize") {
    std::string chosen = kVersions[0];
    if (const auto* pv = params.if_contains("protocolVersion"); pv && pv->is_string()) {
      for (const char* k : kVersions) {
        if (pv->get_string() == k) chosen = k;
      }
    }
    json::object tools_cap;
    tools_cap["listChanged"] = false;
    json::object caps;
    caps["tools"] = std::move(tools_cap);
    json::object info;
    info["name"] = "switchboard";
    info["version"] = std::string(core::version());
    json::object result;
    result["protocolVersion"] = chosen;
    result["capabilities"] = std::move(caps);
    result["serverInfo"] = std::move(info);
    result["instructions"] =
        "Switchboard's knowledge base and agents: knowledge_search finds passages in a collection, get_document reads a "
        "document, agent_<name> runs a configured agent.";
    co_return rpc_json(rpc_result(rid, std::move(result)));
  }
  if (m == "ping") co_return rpc_json(rpc_result(rid, json::object()));
  if (m == "tools/list") {
    json::object result;
    result["tools"] = tools_of(d);
    co_return rpc_json(rpc_result(rid, std::move(result)));
  }
  if (m == "tools/call") {
    const auto* name = params.if_contains("name");
    if (!name || !name->is_string()) co_return rpc_json(rpc_error(rid, kInvalidParams, "Invalid params: 'name' must be a string"));
    const auto* args = params.if_contains("arguments");
    if (args && !args->is_object()) co_return rpc_json(rpc_error(rid, kInvalidParams, "Invalid params: 'arguments' must be an object"));
    const std::string tool_name(name->get_string());
    const json::object& arguments = args ? args->get_object() : kEmpty;
    auto out = co_await call_tool(d, tool_name, arguments, req);
    if (!out.result) co_return rpc_json(rpc_error(rid, out.code, out.message));
    co_return rpc_json(rpc_result(rid, std::move(*out.result)));
  }
  if (m == "resources/list" || m == "prompts/list") {
    co_return rpc_json(rpc_error(rid, kNoMethod, "Method not found: " + m + " (this server offers tools only)"));
  }
  co_return rpc_json(rpc_error(rid, kNoMethod, "Method not found: " + m));
}

}  // namespace

void register_mcp_routes(http::Router& router, AgentDeps deps) {
  add(router, "POST", "/mcp", Schema{.any_body = true}, [deps](Request& req) -> awaitable<Response> {
    co_return co_await handle(req, deps);
  });
  add(router, "GET", "/mcp", Schema{}, [](Request&) -> awaitable<Response> {
    Error e(ErrorKind::method_not_allowed, "this MCP server has no server-to-client stream: POST /mcp");
    Response r = Response::error(e);
    r.header("Allow", "POST");
    co_return r;
  });
}

}  // namespace sb::api
