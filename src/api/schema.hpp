#pragma once
// The request schema every /api/v1/* route declares: the query parameters it takes and the
// JSON (or form) fields of its body, with their types. A route added with api::add() refuses,
// before its handler runs, an unknown query parameter or field (400 unknown_parameter, `param`
// naming it with its path, e.g. "filters.tag" or "documents[3].vector") and a field of the
// wrong type (400 invalid_type). Required fields and value ranges stay the handler's job.

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/fwd.hpp>

#include "core/error.hpp"
#include "http/message.hpp"
#include "http/router.hpp"

namespace sb::api {

enum class Type {
  string,
  integer,  // a JSON integer (1.0 is not one)
  number,
  boolean,
  object,   // its keys are declared as "name.key"
  array,    // its items are declared as "name[]" (and "name[].key" for objects)
  map,      // an object whose keys are the caller's (metadata): nothing below is checked
  any,      // any value: nothing below is checked (e.g. a /v1 body carried by a job)
  file,     // a multipart file part (unknown in a JSON body)
};

struct Field {
  std::string_view path;  // "collection", "filters.tags", "filters.tags[]", "documents[].id"
  Type type;
};

struct Schema {
  std::vector<std::string_view> query;  // allowed query parameters
  std::vector<Field> body;              // allowed body fields (JSON, or multipart form fields)
  bool any_body = false;                // the body is the caller's (the echo route)
};

// 400 unknown_parameter for a query parameter the schema does not name.
core::Result<void> check_query(std::string_view query_string, const Schema& schema);
// 400 unknown_parameter / invalid_type for the first field of `body` the schema refuses.
core::Result<void> check_body(const boost::json::value& body, const Schema& schema);
// The message OpenAI uses for an unknown field.
core::Error unknown_parameter(std::string path);

// Registers `handler` behind the schema's checks (query, then a JSON or multipart body).
void add(http::Router& router, std::string method, std::string pattern, Schema schema, http::Handler handler);

// REQUIRES: called after every route is registered. Throws std::logic_error naming any
// /api/v1/* route registered without a schema (a new endpoint must declare one).
void require_schemas(const http::Router& router);

}  // namespace sb::api
