#include "api/json.hpp"

#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "core/text.hpp"
#include "core/json_text.hpp"

namespace sb::api {

namespace json = boost::json;
using core::Error;
using core::ErrorKind;

namespace {

// The path of the first number that is not finite (a literal like 1e999 that overflows a
// double), or nullopt. A quick scan first; the path is built only when there is one.
std::optional<std::string> non_finite_path(const json::value& root) {
  thread_local std::vector<const json::value*> stack;  // reused: no allocation per request
  stack.clear();
  stack.push_back(&root);
  bool found = false;
  while (!stack.empty() && !found) {
    const json::value* v = stack.back();
    stack.pop_back();
    if (v->is_double()) {
      found = !std::isfinite(v->get_double());
    } else if (const auto* o = v->if_object()) {
      for (const auto& kv : *o) stack.push_back(&kv.value());
    } else if (const auto* a = v->if_array()) {
      for (const auto& x : *a) stack.push_back(&x);
    }
  }
  if (!found) return std::nullopt;
  struct Frame {
    const json::value* v;
    std::string path;
  };
  std::vector<Frame> frames{{&root, ""}};
  while (!frames.empty()) {
    Frame f = std::move(frames.back());
    frames.pop_back();
    if (f.v->is_double() && !std::isfinite(f.v->get_double())) return f.path;
    if (const auto* o = f.v->if_object()) {
      for (const auto& kv : *o) {
        frames.push_back({&kv.value(), f.path.empty() ? std::string(kv.key()) : f.path + "." + std::string(kv.key())});
      }
    } else if (const auto* a = f.v->if_array()) {
      for (std::size_t i = 0; i < a->size(); ++i) frames.push_back({&(*a)[i], f.path + "[" + std::to_string(i) + "]"});
    }
  }
  return std::string();
}

}  // namespace

core::Result<json::value> parse_json(std::string_view body) {
  if (body.empty()) return Error(ErrorKind::invalid_json, "request body is empty; expected JSON");
  json::parser p;
  boost::system::error_code ec;
  std::size_t n = p.write(body.data(), body.size(), ec);
  if (ec) {
    const std::size_t valid = core::valid_utf8_prefix(body);
    if (valid <= n) {
      return Error(ErrorKind::invalid_json, "the body is not valid UTF-8 at byte " + std::to_string(valid));
    }
    return Error(ErrorKind::invalid_json,
                 "invalid JSON at byte " + std::to_string(n) + ": " + ec.message());
  }
  json::value v = p.release();
  // Never passed on: a non-finite double has no JSON spelling (it would reach an upstream as
  // "Infinity" or "null").
  if (auto path = non_finite_path(v)) {
    return Error(ErrorKind::invalid_field,
                 "'" + *path + "' is a number too large for a double (numbers must be finite)", *path);
  }
  return v;
}

core::Result<json::object> parse_json_object(std::string_view body) {
  auto v = parse_json(body);
  if (!v) return std::move(v).error();
  if (!v->is_object()) {
    return Error(ErrorKind::invalid_json, "request body must be a JSON object");
  }
  return std::move(v->as_object());
}

core::Result<std::optional<std::int64_t>> get_int(const json::object& o, std::string_view field,
                                                  std::int64_t min, std::int64_t max) {
  auto it = o.find(field);
  if (it == o.end() || it->value().is_null()) return std::optional<std::int64_t>();
  const json::value& v = it->value();
  std::int64_t out = 0;
  if (v.is_int64()) {
    out = v.get_int64();
  } else if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    out = static_cast<std::int64_t>(v.get_uint64());
  } else {
    return Error(ErrorKind::invalid_type, "'" + std::string(field) + "' must be an integer",
                 std::string(field));
  }
  if (out < min || out > max) {
    return Error(ErrorKind::invalid_field,
                 "'" + std::string(field) + "' must be between " + std::to_string(min) + " and " +
                     std::to_string(max),
                 std::string(field));
  }
  return std::optional<std::int64_t>(out);
}

core::Result<std::optional<bool>> get_bool(const json::object& o, std::string_view field) {
  auto it = o.find(field);
  if (it == o.end() || it->value().is_null()) return std::optional<bool>();
  if (!it->value().is_bool()) {
    return Error(ErrorKind::invalid_type, "'" + std::string(field) + "' must be a boolean",
                 std::string(field));
  }
  return std::optional<bool>(it->value().get_bool());
}

core::Result<std::optional<std::string>> get_string(const json::object& o,
                                                    std::string_view field) {
  auto it = o.find(field);
  if (it == o.end() || it->value().is_null()) return std::optional<std::string>();
  if (!it->value().is_string()) {
    return Error(ErrorKind::invalid_type, "'" + std::string(field) + "' must be a string",
                 std::string(field));
  }
  const auto& s = it->value().get_string();
  return std::optional<std::string>(std::string(s.data(), s.size()));
}

std::string to_string(const json::value& v) { return core::to_json(v); }

}  // namespace sb::api
