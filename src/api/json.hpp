#pragma once
// JSON at the API edge: parse a request body and read typed fields, with errors that name the
// offending field (400, code invalid_value, param = field).

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace sb::api {

// Parses body; an empty or invalid body is ErrorKind::invalid_json with the position.
core::Result<boost::json::value> parse_json(std::string_view body);
// Parses body and requires a JSON object.
core::Result<boost::json::object> parse_json_object(std::string_view body);

// Optional typed fields: absent (or null) -> nullopt; present with the wrong type or out of
// range -> ErrorKind::invalid_field naming the field.
core::Result<std::optional<std::int64_t>> get_int(const boost::json::object& o,
                                                  std::string_view field, std::int64_t min,
                                                  std::int64_t max);
core::Result<std::optional<bool>> get_bool(const boost::json::object& o, std::string_view field);
core::Result<std::optional<std::string>> get_string(const boost::json::object& o,
                                                    std::string_view field);

std::string to_string(const boost::json::value& v);

}  // namespace sb::api
