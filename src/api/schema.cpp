#include "api/schema.hpp"

#include <boost/json/value.hpp>

#include <stdexcept>

#include "api/json.hpp"
#include "http/multipart.hpp"

namespace sb::api {

namespace json = boost::json;
using core::Error;
using core::ErrorKind;

namespace {

const Field* find(const Schema& s, std::string_view path) {
  for (const auto& f : s.body) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

std::string_view type_name(Type t) {
  switch (t) {
    case Type::string: return "a string";
    case Type::integer: return "an integer";
    case Type::number: return "a number";
    case Type::boolean: return "a boolean";
    case Type::object:
    case Type::map: return "an object";
    case Type::array: return "an array";
    case Type::any: return "any value";
    case Type::file: return "a file part";
  }
  return "a value";
}

bool has_type(const json::value& v, Type t) {
  switch (t) {
    case Type::string: return v.is_string();
    case Type::integer: return v.is_int64() || v.is_uint64();
    case Type::number: return v.is_number();
    case Type::boolean: return v.is_bool();
    case Type::object:
    case Type::map: return v.is_object();
    case Type::array: return v.is_array();
    case Type::any: return true;
    case Type::file: return false;
  }
  return false;
}

// `path` is the schema's spelling ("documents[].id"), `shown` the caller's ("documents[3].id").
core::Result<void> check_object(const json::object& o, const std::string& path, const std::string& shown,
                                const Schema& s);

core::Result<void> check_value(const json::value& v, const Field& f, const std::string& path,
                               const std::string& shown, const Schema& s) {
  if (f.type == Type::file) return unknown_parameter(shown);  // only in a multipart form
  if (v.is_null()) return {};                                 // null is "not given"
  if (!has_type(v, f.type)) {
    return Error(ErrorKind::invalid_type, "'" + shown + "' must be " + std::string(type_name(f.type)), shown);
  }
  if (f.type == Type::object) return check_object(v.get_object(), path, shown, s);
  if (f.type == Type::array) {
    const std::string item_path = path + "[]";
    const Field* item = find(s, item_path);
    if (!item) return {};
    const auto& a = v.get_array();
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (auto st = check_value(a[i], *item, item_path, shown + "[" + std::to_string(i) + "]", s); !st) return st;
    }
  }
  return {};
}

core::Result<void> check_object(const json::object& o, const std::string& path, const std::string& shown,
                                const Schema& s) {
  for (const auto& kv : o) {
    const std::string_view key = kv.key();
    const std::string child_shown = shown.empty() ? std::string(key) : shown + "." + std::string(key);
    // A key that spells a path ("filters.tags" at the top) is never a declared field.
    if (key.find_first_of(".[]") != std::string_view::npos) return unknown_parameter(child_shown);
    const std::string child = path.empty() ? std::string(key) : path + "." + std::string(key);
    const Field* f = find(s, child);
    if (!f) return unknown_parameter(child_shown);
    if (auto st = check_value(kv.value(), *f, child, child_shown, s); !st) return st;
  }
  return {};
}

core::Result<void> check_form(const http::Request& req, const Schema& s) {
  auto parts = http::parse_multipart(req.body, http::multipart_boundary(req.header("content-type")));
  if (!parts) return std::move(parts).error();
  for (const auto& p : *parts) {
    const Field* f = p.name.find_first_of(".[]") == std::string::npos ? find(s, p.name) : nullptr;
    if (!f) return unknown_parameter(p.name);
    if (f->type == Type::file && p.filename.empty()) {
      return Error(ErrorKind::invalid_type, "'" + p.name + "' must be a file part (with a filename)", p.name);
    }
  }
  return {};
}

}  // namespace

Error unknown_parameter(std::string path) {
  std::string message = "Unrecognized request argument supplied: " + path;
  // Renamed fields (CHANGELOG.md) say what they are called now.
  const std::string_view leaf = std::string_view(path).substr(path.find_last_of('.') + 1);
  if (leaf == "content") message += " (a document's body is 'text')";
  if (leaf == "id") message += " (your own id for a document is 'external_id')";
  if (leaf == "ttl_s") message += " (durations are milliseconds: 'ttl_ms')";
  if (leaf == "cursor") message += " (lists page with 'after' and 'before', given an item's id)";
  return Error(ErrorKind::unknown_parameter, std::move(message), std::move(path));
}

core::Result<void> check_query(std::string_view q, const Schema& s) {
  while (!q.empty()) {
    const auto amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (pair.empty()) continue;
    const std::string key = http::percent_decode(pair.substr(0, pair.find('=')));
    bool known = false;
    for (auto name : s.query) known = known || name == key;
    if (!known) return unknown_parameter(key);
  }
  return {};
}

core::Result<void> check_body(const json::value& body, const Schema& s) {
  if (s.any_body || !body.is_object()) return {};  // "must be an object" is the handler's to say
  return check_object(body.get_object(), "", "", s);
}

void add(http::Router& router, std::string method, std::string pattern, Schema schema, http::Handler handler) {
  auto checked = [schema = std::move(schema), handler = std::move(handler)](http::Request& req)
      -> boost::asio::awaitable<http::Response> {
    if (auto st = check_query(req.query_string, schema); !st) co_return http::Response::error(st.error());
    if (!schema.any_body && !req.body.empty()) {
      if (http::is_multipart_form(req.header("content-type"))) {
        if (auto st = check_form(req, schema); !st) co_return http::Response::error(st.error());
      } else {
        auto body = parse_json(req.body);
        if (!body) co_return http::Response::error(body.error());
        if (auto st = check_body(*body, schema); !st) co_return http::Response::error(st.error());
      }
    }
    co_return co_await handler(req);
  };
  router.add(std::move(method), std::move(pattern), std::move(checked), true);
}

void require_schemas(const http::Router& router) {
  for (const auto& r : router.routes()) {
    if (r.pattern.starts_with("/api/v1/") && !r.checked) {
      throw std::logic_error("route " + r.method + " " + r.pattern +
                             " has no request schema: register it with api::add");
    }
  }
}

}  // namespace sb::api
