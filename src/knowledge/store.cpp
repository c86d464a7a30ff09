#include "knowledge/store.hpp"

#include <algorithm>
#include <cctype>

#include "core/ids.hpp"

namespace sb::knowledge {

using core::Error;
using core::ErrorKind;
using storage::Connection;
using storage::KnowledgeRepository;

namespace {

bool valid_collection_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-' || c == '.';
  });
}

Error no_collection(std::string_view name) {
  return Error(ErrorKind::not_found, "no collection named '" + std::string(name) + "'", "collection");
}

}  // namespace

Task<storage::CollectionRow> Store::create_collection(std::string name) {
  if (!valid_collection_name(name)) {
    co_return Error(ErrorKind::invalid_field,
                    "'name' must be 1-64 characters from A-Z a-z 0-9 _ - .", "name");
  }
  auto fn = [name = std::move(name), id = "col_" + core::new_request_id().substr(0, 24),
             now = clock_.now_ms()](Connection& c) {
    return KnowledgeRepository::create_collection(c, id, name, now);
  };
  co_return co_await db_.write(std::move(fn));
}

Task<std::vector<CollectionInfo>> Store::list_collections() {
  auto fn = [](Connection& c) -> core::Result<std::vector<CollectionInfo>> {
    auto rows = KnowledgeRepository::list_collections(c);
    if (!rows) return std::move(rows).error();
    std::vector<CollectionInfo> out;
    for (auto& r : *rows) {
      auto n = KnowledgeRepository::collection_counts(c, r.id);
      if (!n) return std::move(n).error();
      out.push_back(CollectionInfo{std::move(r), n->first, n->second});
    }
    return out;
  };
  co_return co_await db_.run(std::move(fn));
}

Task<Indexed> Store::index(IndexRequest request) {
  if (request.content.find_first_not_of(" \t\r\n") == std::string::npos) {
    co_return Error(ErrorKind::invalid_field, "'content' must not be empty", "content");
  }
  // Chunking and hashing happen here, on the I/O thread: linear in the text, bounded by the
  // request body limit.
  storage::DocumentInsert doc;
  doc.id = "doc_" + core::new_request_id().substr(0, 24);
  doc.external_id = std::move(request.external_id);
  doc.title = std::move(request.title);
  doc.source = std::move(request.source);
  doc.content_hash = normalized_hash(doc.title + "\n" + request.content);
  doc.now = clock_.now_ms();
  int ord = 0;
  for (auto& ch : chunk_text(request.content, chunking_)) {
    storage::ChunkInsert ci;
    ci.ord = ord++;
    ci.hash = normalized_hash(ch.text);
    ci.heading = std::move(ch.heading);
    ci.text = std::move(ch.text);
    doc.chunks.push_back(std::move(ci));
  }
  auto fn = [doc = std::move(doc), name = std::move(request.collection)](Connection& c) mutable
      -> core::Result<Indexed> {
    auto col = KnowledgeRepository::find_collection(c, name);
    if (!col) return std::move(col).error();
    if (!*col) return no_collection(name);
    doc.collection_id = (*col)->id;
    Indexed out{doc.id, 1, doc.chunks.size(), doc.content_hash};
    if (doc.external_id) {
      auto existing = KnowledgeRepository::find_by_external_id(c, doc.collection_id, *doc.external_id);
      if (!existing) return std::move(existing).error();
      if (*existing) {
        out.id = (*existing)->id;
        out.created = false;
        if ((*existing)->content_hash == doc.content_hash) {
          out.version = (*existing)->version;
          out.unchanged = true;
          return out;
        }
        auto v = KnowledgeRepository::add_version(c, **existing, doc);
        if (!v) return std::move(v).error();
        out.version = *v;
        return out;
      }
    }
    if (auto st = KnowledgeRepository::add_document(c, doc); !st) return std::move(st).error();
    return out;
  };
  co_return co_await db_.write(std::move(fn));
}

Task<SearchResult> Store::search(SearchRequest request) {
  auto fn = [request = std::move(request)](Connection& c) -> core::Result<SearchResult> {
    auto col = KnowledgeRepository::find_collection(c, request.collection);
    if (!col) return std::move(col).error();
    if (!*col) return no_collection(request.collection);
    SearchResult out{request.collection, {}};
    const std::string match = keyword_query(request.query);
    if (match.empty()) return out;  // nothing searchable in the query
    auto hits = KnowledgeRepository::keyword_search(c, (*col)->id, match, request.top_k);
    if (!hits) return std::move(hits).error();
    out.hits = std::move(*hits);
    return out;
  };
  co_return co_await db_.run(std::move(fn));
}

namespace {

Error no_document(std::string_view id) {
  return Error(ErrorKind::not_found, "no document with id '" + std::string(id) + "'");
}

core::Result<DocumentView> view(Connection& c, std::string_view id, bool include_text) {
  auto doc = KnowledgeRepository::get_document(c, id);
  if (!doc) return std::move(doc).error();
  if (!*doc) return no_document(id);
  DocumentView v{std::move(**doc), std::nullopt};
  if (include_text) {
    auto text = KnowledgeRepository::document_text(c, v.row.id, v.row.version);
    if (!text) return std::move(text).error();
    v.text = std::move(*text);
  }
  return v;
}

}  // namespace

Task<DocumentView> Store::get_document(std::string id, bool include_text) {
  auto fn = [id = std::move(id), include_text](Connection& c) { return view(c, id, include_text); };
  co_return co_await db_.run(std::move(fn));
}

Task<std::vector<storage::VersionRow>> Store::versions(std::string id) {
  auto fn = [id = std::move(id)](Connection& c) -> core::Result<std::vector<storage::VersionRow>> {
    auto doc = KnowledgeRepository::get_document(c, id);
    if (!doc) return std::move(doc).error();
    if (!*doc) return no_document(id);
    return KnowledgeRepository::versions(c, id);
  };
  co_return co_await db_.run(std::move(fn));
}

Task<DocumentPage> Store::list_documents(std::string collection, int limit, std::int64_t before_seq) {
  auto fn = [collection = std::move(collection), limit, before_seq](Connection& c) -> core::Result<DocumentPage> {
    auto col = KnowledgeRepository::find_collection(c, collection);
    if (!col) return std::move(col).error();
    if (!*col) return no_collection(collection);
    auto rows = KnowledgeRepository::list_documents(c, (*col)->id, limit + 1, before_seq);
    if (!rows) return std::move(rows).error();
    DocumentPage page;
    page.has_more = static_cast<int>(rows->size()) > limit;
    if (page.has_more) rows->pop_back();
    page.documents = std::move(*rows);
    return page;
  };
  co_return co_await db_.run(std::move(fn));
}

Task<DocumentView> Store::delete_document(std::string id) {
  co_return co_await set_deleted(std::move(id), true);
}

Task<DocumentView> Store::restore_document(std::string id) {
  co_return co_await set_deleted(std::move(id), false);
}

Task<DocumentView> Store::set_deleted(std::string id, bool deleted) {
  auto fn = [id = std::move(id), deleted, now = clock_.now_ms()](Connection& c) -> core::Result<DocumentView> {
    auto done = deleted ? KnowledgeRepository::soft_delete(c, id, now) : KnowledgeRepository::restore(c, id, now);
    if (!done) return std::move(done).error();
    auto v = view(c, id, false);
    if (v && !*done) {
      return Error(ErrorKind::conflict, "document " + id + (deleted ? " is already deleted" : " is not deleted"));
    }
    return v;
  };
  co_return co_await db_.write(std::move(fn));
}

}  // namespace sb::knowledge
