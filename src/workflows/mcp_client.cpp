#include "workflows/mcp_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>

#include "http/sse.hpp"

namespace sb::workflows {

namespace json = boost::json;
using boost::asio::awaitable;
using core::Error;
using core::ErrorKind;

namespace {

constexpr const char* kVersion = "2025-06-18";

Error failed(const core::ToolConfig& t, const std::string& what) {
  return Error(ErrorKind::upstream_error, "MCP server '" + t.name + "': " + what, {}, "mcp");
}

core::Result<json::value> pick(const json::value& v, long long id) {
  if (!v.is_object()) return Error(ErrorKind::upstream_error, "an answer that is not a JSON-RPC object");
  const auto& o = v.get_object();
  const auto* rid = o.if_contains("id");
  if (!rid || !rid->is_number() || rid->to_number<long long>() != id) {
    return Error(ErrorKind::upstream_error, "no answer with the request's id");
  }
  if (const auto* e = o.if_contains("error"); e && e->is_object()) {
    std::string message = "error";
    if (const auto* m = e->get_object().if_contains("message"); m && m->is_string()) message = std::string(m->get_string());
    long long code = 0;
    if (const auto* c = e->get_object().if_contains("code"); c && c->is_number()) code = c->to_number<long long>();
    return Error(ErrorKind::upstream_error, "JSON-RPC error " + std::to_string(code) + ": " + message.substr(0, 500));
  }
  const auto* r = o.if_contains("result");
  if (!r) return Error(ErrorKind::upstream_error, "a JSON-RPC answer without a result");
  return *r;
}

}  // namespace

core::Result<json::value> mcp_response(std::string_view content_type, std::string_view body, long long id) {
  boost::system::error_code ec;
  if (content_type.substr(0, 17) == "text/event-stream") {
    http::SseParser parser(4 * 1024 * 1024);
    std::optional<core::Result<json::value>> found;
    auto st = parser.feed(body, [&](http::SseEvent&& e) {
      if (found && *found) return;
      json::value v = json::parse(e.data, ec);
      if (ec) return;
      auto r = pick(v, id);
      if (r || !found) found = std::move(r);
    });
    (void)parser.feed("\n\n", [&](http::SseEvent&& e) {
      if (found && *found) return;
      json::value v = json::parse(e.data, ec);
      if (!ec) found = pick(v, id);
    });
    if (!st) return std::move(st).error();
    if (!found) return Error(ErrorKind::upstream_error, "an event stream without the answer");
    return std::move(*found);
  }
  json::value v = json::parse(body, ec);
  if (ec) return Error(ErrorKind::upstream_error, "an answer that is not JSON");
  return pick(v, id);
}

awaitable<core::Result<json::value>> McpSession::rpc(const char* method, json::object params, bool notification) {
  json::object msg;
  msg["jsonrpc"] = "2.0";
  msg["method"] = method;
  if (!params.empty()) msg["params"] = std::move(params);
  const long long id = next_id_++;
  if (!notification) msg["id"] = id;
  http::ClientRequest req;
  req.method = "POST";
  req.url = tool_.url;
  req.body = json::serialize(msg);
  req.headers.emplace_back("Content-Type", "application/json");
  req.headers.emplace_back("Accept", "application/json, text/event-stream");
  if (!version_.empty()) req.headers.emplace_back("MCP-Protocol-Version", version_);
  if (!session_id_.empty()) req.headers.emplace_back("Mcp-Session-Id", session_id_);
  for (const auto& h : tool_.headers) req.headers.push_back(h);
  req.timeouts.connect = std::chrono::milliseconds(std::min(tool_.timeout_ms, 10000));
  req.timeouts.first_byte = std::chrono::milliseconds(tool_.timeout_ms);
  req.timeouts.idle = std::chrono::milliseconds(tool_.timeout_ms);
  req.timeouts.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(tool_.timeout_ms);
  req.public_only = !tool_.allow_private;
  auto res = co_await client_.fetch(std::move(req));
  if (!res) co_return failed(tool_, res.error().message);
  if (auto sid = res->header("mcp-session-id"); !sid.empty() && sid.size() < 256) session_id_ = std::string(sid);
  if (notification) {
    if (res->status / 100 != 2) co_return failed(tool_, "answered " + std::to_string(res->status) + " to " + std::string(method));
    co_return json::value(nullptr);
  }
  if (res->status / 100 != 2) co_return failed(tool_, "answered " + std::to_string(res->status) + " to " + std::string(method));
  auto r = mcp_response(res->header("content-type"), res->body, id);
  if (!r) co_return failed(tool_, r.error().message);
  co_return std::move(*r);
}

awaitable<core::Status> McpSession::open() {
  if (open_) co_return core::Status{};
  json::object params;
  params["protocolVersion"] = kVersion;
  params["capabilities"] = json::object();
  json::object info;
  info["name"] = "switchboard";
  info["version"] = "0.1.0";
  params["clientInfo"] = std::move(info);
  auto r = co_await rpc("initialize", std::move(params), false);
  if (!r) co_return std::move(r).error();
  if (r->is_object()) {
    if (const auto* v = r->get_object().if_contains("protocolVersion"); v && v->is_string()) version_ = std::string(v->get_string());
  }
  if (version_.empty()) version_ = kVersion;
  json::object none;
  auto n = co_await rpc("notifications/initialized", std::move(none), true);
  if (!n) co_return std::move(n).error();
  open_ = true;
  co_return core::Status{};
}

awaitable<core::Result<json::array>> McpSession::list_tools() {
  auto st = co_await open();
  if (!st) co_return std::move(st).error();
  json::object none;
  auto r = co_await rpc("tools/list", std::move(none), false);
  if (!r) co_return std::move(r).error();
  const auto* tools = r->is_object() ? r->get_object().if_contains("tools") : nullptr;
  if (!tools || !tools->is_array()) co_return failed(tool_, "tools/list answered without a tools array");
  json::array out;
  for (const auto& t : tools->get_array()) {
    if (!t.is_object()) continue;
    const auto* name = t.get_object().if_contains("name");
    if (!name || !name->is_string() || name->get_string().empty() || name->get_string().size() > 64) continue;
    out.push_back(t);
    if (out.size() >= 100) break;
  }
  co_return out;
}

awaitable<core::Result<McpSession::Called>> McpSession::call(std::string name, json::object arguments) {
  auto st = co_await open();
  if (!st) co_return std::move(st).error();
  json::object params;
  params["name"] = name;
  params["arguments"] = std::move(arguments);
  auto r = co_await rpc("tools/call", std::move(params), false);
  if (!r) co_return std::move(r).error();
  Called out;
  if (!r->is_object()) co_return failed(tool_, "tools/call answered without a result object");
  const auto& o = r->get_object();
  if (const auto* e = o.if_contains("isError"); e && e->is_bool()) out.error = e->get_bool();
  if (const auto* content = o.if_contains("content"); content && content->is_array()) {
    for (const auto& c : content->get_array()) {
      if (!c.is_object()) continue;
      const auto* text = c.get_object().if_contains("text");
      if (text && text->is_string()) {
        if (!out.text.empty()) out.text += "\n";
        out.text += text->get_string();
      }
    }
  }
  if (out.text.empty()) {
    if (const auto* sc = o.if_contains("structuredContent")) out.text = json::serialize(*sc);
  }
  co_return out;
}

}  // namespace sb::workflows
