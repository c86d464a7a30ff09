// The knowledge API so far: POST/GET /api/v1/collections, POST /api/v1/index (already-extracted
// text), POST /api/v1/search (keyword mode).

#include <boost/json/serialize.hpp>

#include "api/json.hpp"
#include "api/routes.hpp"
#include "http/message.hpp"

namespace sb::api {

namespace json = boost::json;
using boost::asio::awaitable;
using core::Error;
using core::ErrorKind;
using http::Request;
using http::Response;

namespace {

json::object collection_json(const storage::CollectionRow& c) {
  return {{"id", c.id},
          {"object", "collection"},
          {"name", c.name},
          {"embedding_model", c.embedding_model ? json::value(*c.embedding_model) : json::value(nullptr)},
          {"dimension", c.dimension ? json::value(*c.dimension) : json::value(nullptr)},
          {"created_at", c.created_at}};
}

// A required non-empty string field.
core::Result<std::string> required(const json::object& o, std::string_view field) {
  auto v = get_string(o, field);
  if (!v) return std::move(v).error();
  if (!*v || (*v)->empty()) {
    return Error(ErrorKind::invalid_field, "'" + std::string(field) + "' is required", std::string(field));
  }
  return std::move(**v);
}

}  // namespace

void register_knowledge_routes(http::Router& router, knowledge::Store& store) {
  router.add("POST", "/api/v1/collections", [&store](Request& req) -> awaitable<Response> {
    auto body = parse_json_object(req.body);
    if (!body) co_return Response::error(body.error());
    auto name = required(*body, "name");
    if (!name) co_return Response::error(name.error());
    if (body->contains("embedding_model") && !body->at("embedding_model").is_null()) {
      co_return Response::error(Error(ErrorKind::invalid_field,
                                      "'embedding_model' is not supported yet: collections are keyword-only for now",
                                      "embedding_model"));
    }
    auto r = co_await store.create_collection(std::move(*name));
    if (!r) co_return Response::error(r.error());
    co_return Response::json(201, json::serialize(collection_json(*r)));
  });

  router.add("GET", "/api/v1/collections", [&store](Request&) -> awaitable<Response> {
    auto r = co_await store.list_collections();
    if (!r) co_return Response::error(r.error());
    json::array data;
    for (const auto& c : *r) {
      json::object o = collection_json(c.row);
      o["documents"] = c.documents;
      o["chunks"] = c.chunks;
      data.push_back(std::move(o));
    }
    co_return Response::json(200, json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}}));
  });

  router.add("POST", "/api/v1/index", [&store](Request& req) -> awaitable<Response> {
    auto body = parse_json_object(req.body);
    if (!body) co_return Response::error(body.error());
    knowledge::IndexRequest in;
    auto collection = required(*body, "collection");
    if (!collection) co_return Response::error(collection.error());
    in.collection = std::move(*collection);
    auto content = get_string(*body, "content");
    if (!content) co_return Response::error(content.error());
    if (!*content) co_return Response::error(Error(ErrorKind::invalid_field, "'content' is required", "content"));
    in.content = std::move(**content);
    auto title = get_string(*body, "title");
    if (!title) co_return Response::error(title.error());
    in.title = title->value_or("");
    auto id = get_string(*body, "id");
    if (!id) co_return Response::error(id.error());
    in.external_id = *id;
    auto source = get_string(*body, "source");
    if (!source) co_return Response::error(source.error());
    in.source = *source;
    auto r = co_await store.index(std::move(in));
    if (!r) co_return Response::error(r.error());
    co_return Response::json(r->created ? 201 : 200,
                             json::serialize(json::object{{"id", r->id},
                                                          {"object", "document"},
                                                          {"version", r->version},
                                                          {"chunks", r->chunks},
                                                          {"content_hash", r->content_hash},
                                                          {"unchanged", r->unchanged}}));
  });

  router.add("POST", "/api/v1/search", [&store](Request& req) -> awaitable<Response> {
    auto body = parse_json_object(req.body);
    if (!body) co_return Response::error(body.error());
    knowledge::SearchRequest in;
    auto collection = required(*body, "collection");
    if (!collection) co_return Response::error(collection.error());
    in.collection = std::move(*collection);
    auto query = get_string(*body, "query");
    if (!query) co_return Response::error(query.error());
    if (!*query) co_return Response::error(Error(ErrorKind::invalid_field, "'query' is required", "query"));
    in.query = std::move(**query);
    auto top_k = get_int(*body, "top_k", 1, 1000);
    if (!top_k) co_return Response::error(top_k.error());
    in.top_k = static_cast<int>(top_k->value_or(10));
    auto mode = get_string(*body, "mode");
    if (!mode) co_return Response::error(mode.error());
    const std::string asked = mode->value_or("hybrid");
    if (asked != "hybrid" && asked != "semantic" && asked != "keyword") {
      co_return Response::error(Error(ErrorKind::invalid_field,
                                      "'mode' must be \"hybrid\", \"semantic\" or \"keyword\"", "mode"));
    }
    auto r = co_await store.search(std::move(in));
    if (!r) co_return Response::error(r.error());
    json::array data;
    for (const auto& h : r->hits) {
      data.push_back(json::object{{"document_id", h.document_id},
                                  {"id", h.external_id ? json::value(*h.external_id) : json::value(nullptr)},
                                  {"title", h.title},
                                  {"heading", h.heading},
                                  {"page", h.page ? json::value(*h.page) : json::value(nullptr)},
                                  {"text", h.text},
                                  {"score", h.score},
                                  {"scores", json::object{{"keyword", h.score}}}});
    }
    json::object out{{"object", "list"}, {"collection", r->collection}, {"mode", "keyword"}, {"data", std::move(data)}};
    if (asked != "keyword") {
      out["note"] = "this collection has no embedding model: searched keyword-only";
    }
    co_return Response::json(200, json::serialize(out));
  });
}

}  // namespace sb::api
