// The knowledge API: collections, documents (JSON text; versions, soft delete, restore), the
// already-extracted-text fast path /api/v1/index, and search (keyword, semantic, hybrid).

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdint>
#include <cstdio>

#include "api/json.hpp"
#include "api/lists.hpp"
#include "api/routes.hpp"
#include "api/schema.hpp"
#include "core/text.hpp"
#include "http/message.hpp"
#include "http/multipart.hpp"
#include "knowledge/filters.hpp"
#include "core/json_text.hpp"

namespace sb::api {

namespace json = boost::json;
using boost::asio::awaitable;
using core::Error;
using core::ErrorKind;
using http::Request;
using http::Response;

namespace {

// Stored Unix ms -> the API's Unix seconds.
std::int64_t secs(std::int64_t ms) { return ms / 1000; }

json::object collection_json(const storage::CollectionRow& c) {
  return {{"id", c.id},
          {"object", "collection"},
          {"name", c.name},
          {"embedding_model", c.embedding_model ? json::value(*c.embedding_model) : json::value(nullptr)},
          {"dimensions", c.dimension ? json::value(*c.dimension) : json::value(nullptr)},
          {"created_at", secs(c.created_at)},
          {"reembedding", c.next_model || c.reembed_state
                              ? json::value(json::object{
                                    {"embedding_model", c.next_model ? json::value(*c.next_model) : json::value(nullptr)},
                                    {"dimensions", c.next_dimension ? json::value(*c.next_dimension) : json::value(nullptr)},
                                    {"state", c.reembed_state ? json::value(*c.reembed_state) : json::value(nullptr)},
                                    {"progress", c.reembed_progress ? json::value(*c.reembed_progress) : json::value(nullptr)},
                                    {"error", c.reembed_error ? json::value(*c.reembed_error) : json::value(nullptr)}})
                              : json::value(nullptr)}};
}

json::value parsed(const std::string& text, json::value fallback) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? fallback : v;
}

json::value opt(const std::optional<std::string>& v) { return v ? json::value(*v) : json::value(nullptr); }
json::value opt(const std::optional<std::int64_t>& v) { return v ? json::value(*v) : json::value(nullptr); }

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
                 {"source", opt(d.source)},
                 {"author", opt(d.author)},
                 {"tags", parsed(d.tags, json::array())},
                 {"metadata", parsed(d.metadata, json::object())},
                 {"content_type", opt(d.content_type)},
                 {"pages", opt(d.pages)},
                 {"version", d.version},
                 {"chunks", d.chunks},
                 {"content_hash", d.content_hash},
                 {"created_at", secs(d.created_at)},
                 {"updated_at", secs(d.updated_at)},
                 {"deleted_at", d.deleted_at ? json::value(secs(*d.deleted_at)) : json::value(nullptr)},
                 {"state", d.state},
                 {"error", opt(d.state_error)},
                 {"progress", d.progress ? json::value(*d.progress) : json::value(nullptr)}};
  if (v.text) o["text"] = *v.text;
  return o;
}


Response document_response(const core::Result<knowledge::DocumentView>& r) {
  if (!r) return Response::error(r.error());
  return Response::json(200, core::to_json(document_json(*r)));
}


const char* mode_name(knowledge::SearchMode m) {
  switch (m) {
    case knowledge::SearchMode::hybrid: return "hybrid";
    case knowledge::SearchMode::semantic: return "semantic";
    case knowledge::SearchMode::keyword: return "keyword";
  }
  return "keyword";
}

json::object error_json(const Error& e) {
  const auto& info = core::error_info(e.kind);
  return json::object{{"message", e.message},
                      {"type", info.type},
                      {"code", info.code},
                      {"param", e.param.empty() ? json::value(nullptr) : json::value(e.param)},
                      {"status", e.http_status ? e.http_status : info.status}};
}

// The document fields shared by /api/v1/index, /api/v1/index/batch and /api/v1/documents:
// collection, id, title, <text_field>, source, author, tags, metadata. `where` prefixes field
// names in errors ("documents[3].").
core::Result<knowledge::IndexRequest> index_request(const json::object& o, std::string_view text_field,
                                                   std::string_view where) {
  auto field = [&where](std::string_view f) { return std::string(where) + std::string(f); };
  auto fail = [&](std::string_view f, const std::string& what) {
    return Error(ErrorKind::invalid_field, "'" + field(f) + "' " + what, field(f));
  };
  auto str = [&](std::string_view f) -> core::Result<std::optional<std::string>> {
    const json::value* v = o.if_contains(f);
    if (!v || v->is_null()) return std::optional<std::string>();
    if (!v->is_string()) return fail(f, "must be a string");
    return std::optional<std::string>(std::string(v->as_string()));
  };
  knowledge::IndexRequest in;
  auto collection = str("collection");
  if (!collection) return std::move(collection).error();
  if (!*collection || (*collection)->empty()) return fail("collection", "is required");
  if (core::has_control_chars(**collection)) return fail("collection", "holds a control character");
  in.collection = std::move(**collection);
  auto text = str(text_field);
  if (!text) return std::move(text).error();
  if (!*text) return fail(text_field, "is required");
  in.content = std::move(**text);
  for (auto [name, target] : {std::pair{"title", (std::optional<std::string>*)nullptr},
                              std::pair{"external_id", &in.external_id}, std::pair{"source", &in.source},
                              std::pair{"author", &in.author}}) {
    auto v = str(name);
    if (!v) return std::move(v).error();
    if (*v && std::string_view(name) == "external_id" && core::has_control_chars(**v)) {
      return fail("external_id", "holds a control character");
    }
    if (target) {
      if (*v && (*v)->empty()) *v = std::nullopt;
      *target = std::move(*v);
    } else {
      in.title = v->value_or("");
    }
  }
  auto tags = knowledge::string_array(o, "tags", where);
  if (!tags) return std::move(tags).error();
  in.tags = std::move(*tags);
  if (const json::value* m = o.if_contains("metadata"); m && !m->is_null()) {
    if (!m->is_object()) return fail("metadata", "must be an object");
    in.metadata = core::to_json(*m);
  }
  return in;
}

json::object indexed_json(const knowledge::Indexed& r) {
  return json::object{{"id", r.id},
                      {"object", "document"},
                      {"version", r.version},
                      {"chunks", r.chunks},
                      {"pages", opt(r.pages)},
                      {"content_hash", r.content_hash},
                      {"unchanged", r.unchanged},
                      {"embedded_chunks", r.embedded}};
}

Response indexed_response(const core::Result<knowledge::Indexed>& r) {
  if (!r) return Response::error(r.error());
  return Response::json(r->created ? 201 : 200, core::to_json(indexed_json(*r)));
}

core::Result<knowledge::SearchRequest> search_request(const json::object& body) {
  knowledge::SearchRequest in;
  auto collection = required(body, "collection");
  if (!collection) return std::move(collection).error();
  in.collection = std::move(*collection);
  auto query = get_string(body, "query");
  if (!query) return std::move(query).error();
  if (!*query) return Error(ErrorKind::invalid_field, "'query' is required", "query");
  in.query = std::move(**query);
  auto top_k = get_int(body, "top_k", 1, 1000);
  if (!top_k) return std::move(top_k).error();
  in.top_k = static_cast<int>(top_k->value_or(10));
  auto mode = get_string(body, "mode");
  if (!mode) return std::move(mode).error();
  const std::string asked = mode->value_or("hybrid");
  if (asked == "hybrid") {
    in.mode = knowledge::SearchMode::hybrid;
  } else if (asked == "semantic") {
    in.mode = knowledge::SearchMode::semantic;
  } else if (asked == "keyword") {
    in.mode = knowledge::SearchMode::keyword;
  } else {
    return Error(ErrorKind::invalid_field, "'mode' must be \"hybrid\", \"semantic\" or \"keyword\"", "mode");
  }
  auto fusion = get_string(body, "fusion");
  if (!fusion) return std::move(fusion).error();
  const std::string how = fusion->value_or("weighted");
  if (how != "weighted" && how != "rrf") {
    return Error(ErrorKind::invalid_field, "'fusion' must be \"weighted\" or \"rrf\"", "fusion");
  }
  in.fusion = how == "rrf" ? knowledge::Fusion::rrf : knowledge::Fusion::weighted;
  if (const json::value* w = body.if_contains("semantic_weight"); w && !w->is_null()) {
    if (!w->is_number() || w->to_number<double>() < 0 || w->to_number<double>() > 1) {
      return Error(ErrorKind::invalid_field, "'semantic_weight' must be a number from 0 to 1", "semantic_weight");
    }
    in.semantic_weight = w->to_number<double>();
  }
  if (const json::value* t = body.if_contains("score_threshold"); t && !t->is_null()) {
    if (!t->is_number() || t->to_number<double>() < 0) {
      return Error(ErrorKind::invalid_field, "'score_threshold' must be a number of 0 or more", "score_threshold");
    }
    in.score_threshold = t->to_number<double>();
  }
  auto exact = get_bool(body, "exact");
  if (!exact) return std::move(exact).error();
  in.exact = exact->value_or(false);
  auto ef = get_int(body, "hnsw_ef", 1, 10000);
  if (!ef) return std::move(ef).error();
  if (*ef) in.hnsw_ef = static_cast<int>(**ef);
  auto filters = knowledge::parse_filters(body.if_contains("filters"));
  if (!filters) return std::move(filters).error();
  in.filters = std::move(*filters);
  return in;
}


// A new version keeps the document's tags, metadata and author unless the request gives them.
void keep_unless_given(json::object& fields, const storage::DocumentRow& d) {
  if (!fields.contains("tags")) fields["tags"] = parsed(d.tags, json::array());
  if (!fields.contains("metadata")) fields["metadata"] = parsed(d.metadata, json::object());
  if (!fields.contains("author") && d.author) fields["author"] = *d.author;
}

// A multipart upload: `file` (required) plus the JSON route's fields as form fields (`tags` as
// a JSON array or comma-separated, `metadata` as a JSON object). The file's text is extracted
// on the blocking pool and indexed within the request, or, for a file over
// knowledge.async_ingest_bytes (or with ?async=true), in the background (202).
awaitable<core::Result<Response>> upload(knowledge::Store& store, const Request& req, std::string_view boundary,
                                         std::optional<std::string> collection,
                                         std::optional<std::string> document_id = std::nullopt,
                                         std::optional<std::string> external_id = std::nullopt,
                                         const storage::DocumentRow* previous = nullptr) {
  auto parts = http::parse_multipart(req.body, boundary);
  if (!parts) co_return std::move(parts).error();
  json::object fields;
  const http::FormPart* file = nullptr;
  for (const auto& p : *parts) {
    if (p.name == "file") {
      if (file) co_return Error(ErrorKind::invalid_field, "send one 'file' per request", "file");
      file = &p;
    } else if (p.name == "tags") {
      boost::system::error_code ec;
      json::value v = json::parse(p.body, ec);
      if (ec || !v.is_array()) {
        json::array tags;
        std::string_view rest = p.body;
        while (!rest.empty()) {
          auto comma = rest.find(',');
          std::string_view t = rest.substr(0, comma);
          while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
          while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
          if (!t.empty()) tags.emplace_back(t);
          rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        }
        v = std::move(tags);
      }
      fields["tags"] = std::move(v);
    } else if (p.name == "metadata") {
      boost::system::error_code ec;
      json::value v = json::parse(p.body, ec);
      if (ec || !v.is_object()) co_return Error(ErrorKind::invalid_field, "'metadata' must be a JSON object", "metadata");
      fields["metadata"] = std::move(v);
    } else {
      if (!core::is_valid_utf8(p.body)) {
        co_return Error(ErrorKind::invalid_field, "'" + p.name + "' is not valid UTF-8", p.name);
      }
      fields[p.name] = json::string(p.body);
    }
    if (p.name == "tags" && !core::is_valid_utf8(p.body)) {
      co_return Error(ErrorKind::invalid_field, "'tags' is not valid UTF-8", "tags");
    }
  }
  if (!file) co_return Error(ErrorKind::invalid_field, "'file' is required (a multipart file part)", "file");
  // The file name becomes the title and source: stored as valid UTF-8 without control characters.
  std::string name = file->filename;
  core::repair_utf8(name);
  std::erase_if(name, [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; });
  if (previous) keep_unless_given(fields, *previous);
  if (collection) fields["collection"] = *collection;
  fields["text"] = "";  // filled from the file below
  auto in = index_request(fields, "text", {});
  if (!in) co_return std::move(in).error();
  in->document_id = std::move(document_id);
  if (in->document_id) in->external_id = std::move(external_id);
  // Large files (or ?async=true) are processed in the background: 202 and a pending document.
  auto async = req.query("async");
  if (async && *async != "true" && *async != "false") {
    co_return Error(ErrorKind::invalid_field, "'async' must be true or false", "async");
  }
  const bool background = async ? *async == "true" : static_cast<std::int64_t>(file->body.size()) > store.async_ingest_bytes();
  if (background) {
    std::string bytes(file->body), content_type = file->content_type, filename = name;
    auto doc = co_await store.submit(std::move(*in), std::move(bytes), std::move(content_type), std::move(filename));
    if (!doc) co_return std::move(doc).error();
    Response res = Response::json(202, core::to_json(document_json(*doc)));
    res.header("Location", "/api/v1/documents/" + doc->row.id);
    co_return res;
  }
  std::string content_type = file->content_type, filename = name;
  auto extracted = co_await store.extract(file->body, std::move(content_type), std::move(filename));
  if (!extracted) co_return std::move(extracted).error();
  if (auto st = knowledge::use_extracted(*in, std::move(*extracted), name); !st) co_return std::move(st).error();
  in->meter = req.context;
  co_return indexed_response(co_await store.index(std::move(*in)));
}


// The request schemas (see api/schema.hpp).
using T = Type;
const Schema kListDocuments{list_query({"collection", "tag"}), {}};
const Schema kList{list_query(), {}};
const Schema kNewDocument{{"async"},
                          {{"collection", T::string}, {"title", T::string}, {"text", T::string},
                           {"external_id", T::string}, {"source", T::string}, {"author", T::string},
                           {"tags", T::array}, {"tags[]", T::string}, {"metadata", T::map},
                           {"url", T::string}, {"file", T::file}}};
const Schema kNewVersion{{"async"},
                         {{"title", T::string}, {"text", T::string}, {"source", T::string},
                          {"author", T::string}, {"tags", T::array}, {"tags[]", T::string},
                          {"metadata", T::map}, {"file", T::file}}};
const Schema kGetDocument{{"include"}, {}};
const Schema kNone{};
const Schema kNewCollection{{}, {{"name", T::string}, {"embedding_model", T::string}, {"dimensions", T::integer}}};
const Schema kChangeModel{{}, {{"embedding_model", T::string}, {"dimensions", T::integer}}};
const Schema kIndex{{},
                    {{"collection", T::string}, {"external_id", T::string}, {"title", T::string},
                     {"text", T::string}, {"source", T::string}, {"author", T::string},
                     {"tags", T::array}, {"tags[]", T::string}, {"metadata", T::map}}};
const Schema kIndexBatch{{},
                         {{"collection", T::string}, {"documents", T::array}, {"documents[]", T::object},
                          {"documents[].external_id", T::string}, {"documents[].title", T::string},
                          {"documents[].text", T::string}, {"documents[].source", T::string},
                          {"documents[].author", T::string}, {"documents[].tags", T::array},
                          {"documents[].tags[]", T::string}, {"documents[].metadata", T::map}}};
const Schema kSearch{{},
                     {{"collection", T::string}, {"query", T::string}, {"top_k", T::integer},
                      {"mode", T::string}, {"fusion", T::string}, {"semantic_weight", T::number},
                      {"exact", T::boolean}, {"hnsw_ef", T::integer}, {"score_threshold", T::number}, {"filters", T::object},
                      {"filters.tags", T::array}, {"filters.tags[]", T::string},
                      {"filters.document_ids", T::array}, {"filters.document_ids[]", T::string},
                      {"filters.metadata", T::map}}};

}  // namespace

// A key limited to some collections reaches a document by id only when the document is in one
// of them; any other is "not found" (its existence is not told). nullopt: go on.
awaitable<std::optional<Response>> outside_key(knowledge::Store& store, const Request& req) {
  if (!req.context || req.context->collections.empty()) co_return std::nullopt;
  std::string id(req.param("id"));
  auto doc = co_await store.get_document(id, false);
  if (doc && req.context->allows_collection(doc->row.collection)) co_return std::nullopt;
  if (!doc && doc.error().kind != ErrorKind::not_found) co_return Response::error(doc.error());
  co_return Response::error(Error(ErrorKind::not_found, "no document with id '" + id + "'"));
}

void register_knowledge_routes(http::Router& router, knowledge::Store& store) {
  for (const std::string base : {"/api/v1/documents", "/api/v1/docs"}) {
    add(router, "GET", base, kListDocuments, [&store](Request& req) -> awaitable<Response> {
      auto collection = req.query("collection");
      if (!collection || collection->empty()) {
        co_return Response::error(Error(ErrorKind::invalid_field, "'collection' is required", "collection"));
      }
      auto page = page_request(req);
      if (!page) co_return Response::error(page.error());
      auto tag = req.query("tag");
      if (tag && tag->empty()) tag.reset();
      std::string name = std::move(*collection);  // named: no temporaries in a co_await (GCC 12)
      auto r = co_await store.list_documents(std::move(name), std::move(*page), std::move(tag));
      if (!r) co_return Response::error(r.error());
      json::array data;
      for (auto& d : r->rows) data.push_back(document_json(knowledge::DocumentView{d, std::nullopt}));
      co_return Response::json(200, core::to_json(list_object(std::move(data), r->has_more)));
    });
    // JSON {collection, title?, text, id?, source?, author?, tags?, metadata?}, or a multipart
    // upload with the same fields and a `file`.
    add(router, "POST", base, kNewDocument, [&store](Request& req) -> awaitable<Response> {
      const std::string boundary = http::multipart_boundary(req.header("content-type"));
      if (http::is_multipart_form(req.header("content-type"))) {
        auto res = co_await upload(store, req, boundary, std::nullopt);
        co_return res ? std::move(*res) : Response::error(res.error());
      }
      auto body = parse_json_object(req.body);
      if (!body) co_return Response::error(body.error());
      auto url = get_string(*body, "url");
      if (!url) co_return Response::error(url.error());
      if (*url && body->contains("text")) {
        co_return Response::error(Error(ErrorKind::invalid_field, "send either 'text' or 'url', not both", "url"));
      }
      if (*url) (*body)["text"] = "";  // filled from the URL below
      auto in = index_request(*body, "text", {});
      if (!in) co_return Response::error(in.error());
      if (*url) {
        std::string address = **url;
        auto fetched = co_await store.fetch(std::move(address));
        if (!fetched) co_return Response::error(fetched.error());
        if (auto st = knowledge::use_extracted(*in, std::move(*fetched), **url); !st) co_return Response::error(st.error());
      }
      in->meter = req.context;
  co_return indexed_response(co_await store.index(std::move(*in)));
    });
    // A new version of a document: the same fields; collection and id are the document's.
    add(router, "PUT", base + "/{id}", kNewVersion, [&store](Request& req) -> awaitable<Response> {
      if (auto refused = co_await outside_key(store, req)) co_return std::move(*refused);
      const std::string id(req.param("id"));
      std::string lookup = id;  // named: no temporaries in a co_await (GCC 12)
      auto doc = co_await store.get_document(std::move(lookup), false);
      if (!doc) co_return Response::error(doc.error());
      const std::string boundary = http::multipart_boundary(req.header("content-type"));
      if (http::is_multipart_form(req.header("content-type"))) {
        std::optional<std::string> collection = doc->row.collection, document_id = id, external_id = doc->row.external_id;
        auto res = co_await upload(store, req, boundary, std::move(collection), std::move(document_id),
                                   std::move(external_id), &doc->row);
        co_return res ? std::move(*res) : Response::error(res.error());
      }
      auto body = parse_json_object(req.body);
      if (!body) co_return Response::error(body.error());
      keep_unless_given(*body, doc->row);
      (*body)["collection"] = doc->row.collection;
      auto in = index_request(*body, "text", {});
      if (!in) co_return Response::error(in.error());
      in->document_id = id;
      in->external_id = doc->row.external_id;
      in->meter = req.context;
  co_return indexed_response(co_await store.index(std::move(*in)));
    });
    add(router, "GET", base + "/{id}", kGetDocument, [&store](Request& req) -> awaitable<Response> {
      if (auto refused = co_await outside_key(store, req)) co_return std::move(*refused);
      auto include = req.query("include");
      if (include && *include != "text") {
        co_return Response::error(Error(ErrorKind::invalid_field, "'include' can only be \"text\"", "include"));
      }
      std::string param(req.param("id"));
      co_return document_response(co_await store.get_document(std::move(param), include.has_value()));
    });
    add(router, "GET", base + "/{id}/versions", kList, [&store](Request& req) -> awaitable<Response> {
      if (auto refused = co_await outside_key(store, req)) co_return std::move(*refused);
      auto page = page_request(req);
      if (!page) co_return Response::error(page.error());
      std::string param(req.param("id"));
      auto r = co_await store.versions(std::move(param));
      if (!r) co_return Response::error(r.error());
      json::array data;  // newest first; a version's number is its id in the list
      for (auto it = r->rbegin(); it != r->rend(); ++it) {
        data.push_back(json::object{{"object", "document.version"}, {"version", it->version}, {"chunks", it->chunks}});
      }
      auto out = page_in_memory(std::move(data), *page, "version");
      co_return out ? Response::json(200, core::to_json(*out)) : Response::error(out.error());
    });
    // GET /api/v1/documents/{collection}/{external_id}: a document by your own id (slashes in
    // it as they are or as %2F).
    add(router, "GET", base + "/{collection}/{external_id...}", kGetDocument, [&store](Request& req) -> awaitable<Response> {
      auto include = req.query("include");
      if (include && *include != "text") {
        co_return Response::error(Error(ErrorKind::invalid_field, "'include' can only be \"text\"", "include"));
      }
      std::string collection = http::percent_decode(req.param("collection"));
      std::string external = http::percent_decode(req.param("external_id"));
      co_return document_response(
          co_await store.get_document_by_external_id(std::move(collection), std::move(external), include.has_value()));
    });
    add(router, "DELETE", base + "/{id}", kNone, [&store](Request& req) -> awaitable<Response> {
      if (auto refused = co_await outside_key(store, req)) co_return std::move(*refused);
      std::string param(req.param("id"));
      co_return document_response(co_await store.delete_document(std::move(param)));
    });
    add(router, "POST", base + "/{id}/restore", kNone, [&store](Request& req) -> awaitable<Response> {
      if (auto refused = co_await outside_key(store, req)) co_return std::move(*refused);
      std::string param(req.param("id"));
      co_return document_response(co_await store.restore_document(std::move(param)));
    });
  }

  add(router, "POST", "/api/v1/collections", kNewCollection, [&store](Request& req) -> awaitable<Response> {
    auto body = parse_json_object(req.body);
    if (!body) co_return Response::error(body.error());
    knowledge::NewCollection in;
    auto name = required(*body, "name");
    if (!name) co_return Response::error(name.error());
    in.name = std::move(*name);
    auto model = get_string(*body, "embedding_model");
    if (!model) co_return Response::error(model.error());
    if (*model && !(*model)->empty()) in.embedding_model = std::move(**model);
    auto dims = get_int(*body, "dimensions", 1, 65536);
    if (!dims) co_return Response::error(dims.error());
    in.dimensions = *dims;
    if (in.dimensions && !in.embedding_model) {
      co_return Response::error(
          Error(ErrorKind::invalid_field, "'dimensions' needs an 'embedding_model'", "dimensions"));
    }
    auto r = co_await store.create_collection(std::move(in));
    if (!r) co_return Response::error(r.error());
    co_return Response::json(201, core::to_json(collection_json(*r)));
  });

  auto collection_info_json = [](const knowledge::CollectionInfo& c) {
    json::object o = collection_json(c.row);
    o["documents"] = c.documents;
    o["chunks"] = c.chunks;
    return o;
  };
  add(router, "GET", "/api/v1/collections", kList, [&store, collection_info_json](Request& req) -> awaitable<Response> {
    auto page = page_request(req);
    if (!page) co_return Response::error(page.error());
    auto r = co_await store.list_collections();
    if (!r) co_return Response::error(r.error());
    std::vector<const knowledge::CollectionInfo*> newest;
    for (const auto& c : *r) {
      // A key limited to some collections lists only those.
      if (!req.context || req.context->allows_collection(c.row.name)) newest.push_back(&c);
    }
    std::stable_sort(newest.begin(), newest.end(), [](auto* a, auto* b) { return a->row.created_at > b->row.created_at; });
    json::array data;
    for (const auto* c : newest) data.push_back(collection_info_json(*c));
    auto out = page_in_memory(std::move(data), *page);
    co_return out ? Response::json(200, core::to_json(*out)) : Response::error(out.error());
  });
  add(router, "GET", "/api/v1/collections/{name}", kNone, [&store, collection_info_json](Request& req) -> awaitable<Response> {
    std::string param(req.param("name"));
    auto r = co_await store.get_collection(std::move(param));
    if (!r) co_return Response::error(r.error());
    co_return Response::json(200, core::to_json(collection_info_json(*r)));
  });
  // PATCH {embedding_model, dimensions?}: a model change, re-embedding in the background (202).
  add(router, "PATCH", "/api/v1/collections/{name}", kChangeModel, [&store](Request& req) -> awaitable<Response> {
    auto body = parse_json_object(req.body);
    if (!body) co_return Response::error(body.error());
    auto model = required(*body, "embedding_model");
    if (!model) co_return Response::error(model.error());
    auto dims = get_int(*body, "dimensions", 1, 65536);
    if (!dims) co_return Response::error(dims.error());
    std::string name(req.param("name"));
    std::string lookup = name;  // named: no temporaries in a co_await (GCC 12)
    auto before = co_await store.get_collection(std::move(lookup));
    if (!before) co_return Response::error(before.error());
    std::optional<std::int64_t> asked = *dims;
    auto r = co_await store.change_model(std::move(name), std::move(*model), asked);
    if (!r) co_return Response::error(r.error());
    const bool started = r->reembed_state == std::optional<std::string>("running") &&
                         before->row.reembed_state != std::optional<std::string>("running");
    co_return Response::json(started ? 202 : 200, core::to_json(collection_json(*r)));
  });

  add(router, "DELETE", "/api/v1/collections/{name}", kNone, [&store](Request& req) -> awaitable<Response> {
    std::string param(req.param("name"));
    auto r = co_await store.delete_collection(std::move(param));
    if (!r) co_return Response::error(r.error());
    json::object o = collection_json(*r);
    o["deleted"] = true;
    co_return Response::json(200, core::to_json(o));
  });

  // POST /api/v1/index {collection, id?, title?, text, source?, author?, tags?, metadata?}
  add(router, "POST", "/api/v1/index", kIndex, [&store](Request& req) -> awaitable<Response> {
    auto body = parse_json_object(req.body);
    if (!body) co_return Response::error(body.error());
    auto in = index_request(*body, "text", {});
    if (!in) co_return Response::error(in.error());
    in->meter = req.context;
  co_return indexed_response(co_await store.index(std::move(*in)));
  });

  // POST /api/v1/index/batch {collection, documents: [{id?, title?, text, ...}, ...]}: each
  // document is indexed on its own; the answer lists each outcome (201/200 or its error).
  add(router, "POST", "/api/v1/index/batch", kIndexBatch, [&store](Request& req) -> awaitable<Response> {
    auto body = parse_json_object(req.body);
    if (!body) co_return Response::error(body.error());
    auto collection = required(*body, "collection");
    if (!collection) co_return Response::error(collection.error());
    const json::value* docs = body->if_contains("documents");
    if (!docs || !docs->is_array() || docs->as_array().empty() || docs->as_array().size() > 1000) {
      co_return Response::error(Error(ErrorKind::invalid_field,
                                      "'documents' must be an array of 1 to 1000 documents", "documents"));
    }
    // Every document is checked before any is written.
    std::vector<knowledge::IndexRequest> requests;
    for (std::size_t i = 0; i < docs->as_array().size(); ++i) {
      const auto& d = docs->as_array()[i];
      const std::string where = "documents[" + std::to_string(i) + "].";
      if (!d.is_object()) {
        co_return Response::error(Error(ErrorKind::invalid_field, "'" + where.substr(0, where.size() - 1) +
                                                                      "' must be an object",
                                        where.substr(0, where.size() - 1)));
      }
      json::object o = d.as_object();
      o["collection"] = *collection;
      auto in = index_request(o, "text", where);
      if (!in) co_return Response::error(in.error());
      requests.push_back(std::move(*in));
    }
    json::array results;
    std::size_t failed = 0;
    for (auto& in : requests) {
      in.meter = req.context;
      auto r = co_await store.index(std::move(in));
      if (r) {
        results.push_back(indexed_json(*r));
      } else {
        ++failed;
        results.push_back(json::object{{"error", error_json(r.error())}});
      }
    }
    co_return Response::json(200, core::to_json(json::object{{"object", "list"},
                                                               {"data", std::move(results)},
                                                               {"failed", failed}}));
  });

  add(router, "GET", "/api/v1/stats", kNone, [&store](Request&) -> awaitable<Response> {
    auto r = co_await store.list_collections();
    if (!r) co_return Response::error(r.error());
    std::int64_t docs = 0, chunks = 0;
    json::array per;
    for (const auto& c : *r) {
      docs += c.documents;
      chunks += c.chunks;
      per.push_back(json::object{{"name", c.row.name}, {"documents", c.documents}, {"chunks", c.chunks},
                                 {"embedding_model", c.row.embedding_model ? json::value(*c.row.embedding_model)
                                                                           : json::value(nullptr)}});
    }
    co_return Response::json(200, core::to_json(json::object{{"object", "stats"},
                                                               {"collections", r->size()},
                                                               {"documents", docs},
                                                               {"chunks", chunks},
                                                               {"by_collection", std::move(per)}}));
  });

  add(router, "POST", "/api/v1/search", kSearch, [&store](Request& req) -> awaitable<Response> {
    auto body = parse_json_object(req.body);
    if (!body) co_return Response::error(body.error());
    auto in = search_request(*body);
    if (!in) co_return Response::error(in.error());
    in->meter = req.context;
    auto r = co_await store.search(std::move(*in));
    if (!r) co_return Response::error(r.error());
    json::array data;
    for (const auto& h : r->hits) {
      const auto& c = h.chunk;
      data.push_back(json::object{{"document_id", c.document_id},
                                  {"external_id", opt(c.external_id)},
                                  {"title", c.title},
                                  {"source", opt(c.source)},
                                  {"tags", parsed(c.tags, json::array())},
                                  {"heading", c.heading},
                                  {"page", opt(c.page)},
                                  {"text", c.text},
                                  {"score", h.score},
                                  {"scores", json::object{{"keyword", h.keyword ? json::value(*h.keyword) : json::value(nullptr)},
                                                          {"semantic", h.semantic ? json::value(*h.semantic) : json::value(nullptr)}}}});
    }
    json::object out{{"object", "list"}, {"collection", r->collection}, {"mode", mode_name(r->mode)},
                     {"data", std::move(data)}};
    if (r->note) out["note"] = *r->note;
    Response res = Response::json(200, core::to_json(out));
    std::string timing;
    for (const auto& [name, ms] : r->timings) {
      char dur[32];
      std::snprintf(dur, sizeof dur, "%.3f", ms);
      timing += (timing.empty() ? "" : ", ") + name + ";dur=" + dur;
    }
    if (!timing.empty()) res.header("Server-Timing", timing);
    co_return res;
  });
}

}  // namespace sb::api
