// The knowledge API so far: POST/GET /api/v1/collections, POST /api/v1/index (already-extracted
// text), POST /api/v1/search (keyword mode).

#include <boost/json/serialize.hpp>

#include <cstdint>

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

json::object document_json(const knowledge::DocumentView& v) {
  const auto& d = v.row;
  json::object o{{"id", d.id},
                 {"object", "document"},
                 {"collection", d.collection},
                 {"external_id", d.external_id ? json::value(*d.external_id) : json::value(nullptr)},
                 {"title", d.title},
                 {"source", d.source ? json::value(*d.source) : json::value(nullptr)},
                 {"version", d.version},
                 {"chunks", d.chunks},
                 {"content_hash", d.content_hash},
                 {"created_at", d.created_at},
                 {"updated_at", d.updated_at},
                 {"deleted_at", d.deleted_at ? json::value(*d.deleted_at) : json::value(nullptr)}};
  if (v.text) o["text"] = *v.text;
  return o;
}

core::Result<std::int64_t> int_query(const Request& req, std::string_view name, std::int64_t dflt,
                                     std::int64_t lo, std::int64_t hi) {
  auto q = req.query(name);
  if (!q || q->empty()) return dflt;
  try {
    std::size_t used = 0;
    long long v = std::stoll(*q, &used);
    if (used == q->size() && v >= lo && v <= hi) return static_cast<std::int64_t>(v);
  } catch (const std::exception&) {
  }
  return Error(ErrorKind::invalid_field,
               "'" + std::string(name) + "' must be an integer from " + std::to_string(lo) + " to " +
                   std::to_string(hi),
               std::string(name));
}

Response document_response(const core::Result<knowledge::DocumentView>& r) {
  if (!r) return Response::error(r.error());
  return Response::json(200, json::serialize(document_json(*r)));
}

}  // namespace

void register_knowledge_routes(http::Router& router, knowledge::Store& store) {
  for (const std::string base : {"/api/v1/documents", "/api/v1/docs"}) {
    router.add("GET", base, [&store](Request& req) -> awaitable<Response> {
      auto collection = req.query("collection");
      if (!collection || collection->empty()) {
        co_return Response::error(Error(ErrorKind::invalid_field, "'collection' is required", "collection"));
      }
      auto limit = int_query(req, "limit", 20, 1, 100);
      if (!limit) co_return Response::error(limit.error());
      auto cursor = int_query(req, "cursor", 0, 0, INT64_MAX);
      if (!cursor) co_return Response::error(cursor.error());
      auto r = co_await store.list_documents(*collection, static_cast<int>(*limit), *cursor);
      if (!r) co_return Response::error(r.error());
      json::array data;
      for (auto& d : r->documents) data.push_back(document_json(knowledge::DocumentView{d, std::nullopt}));
      json::object out{{"object", "list"}, {"data", std::move(data)}, {"has_more", r->has_more}};
      out["next_cursor"] = r->has_more && !r->documents.empty() ? json::value(std::to_string(r->documents.back().seq))
                                                                : json::value(nullptr);
      co_return Response::json(200, json::serialize(out));
    });
    router.add("GET", base + "/{id}", [&store](Request& req) -> awaitable<Response> {
      auto include = req.query("include");
      if (include && *include != "text") {
        co_return Response::error(Error(ErrorKind::invalid_field, "'include' can only be \"text\"", "include"));
      }
      co_return document_response(co_await store.get_document(std::string(req.param("id")), include.has_value()));
    });
    router.add("GET", base + "/{id}/versions", [&store](Request& req) -> awaitable<Response> {
      auto r = co_await store.versions(std::string(req.param("id")));
      if (!r) co_return Response::error(r.error());
      json::array data;
      for (const auto& v : *r) data.push_back(json::object{{"version", v.version}, {"chunks", v.chunks}});
      co_return Response::json(200, json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}}));
    });
    router.add("DELETE", base + "/{id}", [&store](Request& req) -> awaitable<Response> {
      co_return document_response(co_await store.delete_document(std::string(req.param("id"))));
    });
    router.add("POST", base + "/{id}/restore", [&store](Request& req) -> awaitable<Response> {
      co_return document_response(co_await store.restore_document(std::string(req.param("id"))));
    });
  }

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
