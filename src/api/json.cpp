#include "api/json.hpp"

#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>

namespace sb::api {

namespace json = boost::json;
using core::Error;
using core::ErrorKind;

core::Result<json::value> parse_json(std::string_view body) {
  if (body.empty()) return Error(ErrorKind::invalid_json, "request body is empty; expected JSON");
  json::parser p;
  boost::system::error_code ec;
  std::size_t n = p.write(body.data(), body.size(), ec);
  if (ec) {
    return Error(ErrorKind::invalid_json,
                 "invalid JSON at byte " + std::to_string(n) + ": " + ec.message());
  }
  return p.release();
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
    return Error(ErrorKind::invalid_field, "'" + std::string(field) + "' must be an integer",
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
    return Error(ErrorKind::invalid_field, "'" + std::string(field) + "' must be a boolean",
                 std::string(field));
  }
  return std::optional<bool>(it->value().get_bool());
}

core::Result<std::optional<std::string>> get_string(const json::object& o,
                                                    std::string_view field) {
  auto it = o.find(field);
  if (it == o.end() || it->value().is_null()) return std::optional<std::string>();
  if (!it->value().is_string()) {
    return Error(ErrorKind::invalid_field, "'" + std::string(field) + "' must be a string",
                 std::string(field));
  }
  const auto& s = it->value().get_string();
  return std::optional<std::string>(std::string(s.data(), s.size()));
}

std::string to_string(const json::value& v) { return json::serialize(v); }

}  // namespace sb::api
