#pragma once
// The knowledge base as the API uses it: collections, indexing already-extracted text (chunked
// and hashed here), and keyword search. Writes go through the database's single writer; reads
// run on the blocking pool.

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "knowledge/text.hpp"
#include "storage/database.hpp"
#include "storage/knowledge_repository.hpp"

namespace sb::knowledge {

template <class T>
using Task = boost::asio::awaitable<core::Result<T>>;

struct IndexRequest {
  std::string collection;                  // name
  std::optional<std::string> external_id;  // the caller's id
  std::string title;
  std::string content;
  std::optional<std::string> source;
};

struct Indexed {
  std::string id;
  int version = 1;
  std::size_t chunks = 0;
  std::string content_hash;
  bool created = true;     // a new document (else a new version, or unchanged)
  bool unchanged = false;  // same caller id, same content: nothing was written
};

struct SearchRequest {
  std::string collection;
  std::string query;
  int top_k = 10;
};

struct SearchResult {
  std::string collection;
  std::vector<storage::ChunkHit> hits;
};

struct CollectionInfo {
  storage::CollectionRow row;
  std::int64_t documents = 0, chunks = 0;
};

struct DocumentView {
  storage::DocumentRow row;
  std::optional<std::string> text;  // with include_text
};

struct DocumentPage {
  std::vector<storage::DocumentRow> documents;
  bool has_more = false;
};

class Store {
 public:
  Store(storage::Database& db, const core::Clock& clock, ChunkOptions chunking = {})
      : db_(db), clock_(clock), chunking_(chunking) {}

  // Errors: invalid_field (bad name), conflict (name taken).
  Task<storage::CollectionRow> create_collection(std::string name);
  Task<std::vector<CollectionInfo>> list_collections();
  // A new document; or, when the collection already has one with this caller id, its next
  // version — unless the content (title + text) is unchanged, when nothing is written.
  // Errors: not_found (no such collection), invalid_field (empty content).
  Task<Indexed> index(IndexRequest request);
  Task<SearchResult> search(SearchRequest request);

  // Documents (soft-deleted ones too, with deleted_at). Errors: not_found.
  Task<DocumentView> get_document(std::string id, bool include_text);
  Task<std::vector<storage::VersionRow>> versions(std::string id);
  Task<DocumentPage> list_documents(std::string collection, int limit, std::int64_t before_seq);
  // Errors: not_found; conflict when already deleted (delete) or not deleted / id taken (restore).
  Task<DocumentView> delete_document(std::string id);
  Task<DocumentView> restore_document(std::string id);

 private:
  Task<DocumentView> set_deleted(std::string id, bool deleted);

  storage::Database& db_;
  const core::Clock& clock_;
  ChunkOptions chunking_;
};

}  // namespace sb::knowledge
