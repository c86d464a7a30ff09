#pragma once
// The knowledge base as the API uses it: collections (with an optional embedding model),
// indexing already-extracted text (chunked, hashed, embedded here), and keyword, semantic and
// hybrid search. Writes go through the database's single writer; reads and vector work run on
// the blocking pool; embeddings come from the gateway.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/request_context.hpp"
#include "knowledge/bm25.hpp"
#include "knowledge/embedder.hpp"
#include "knowledge/extract.hpp"
#include "knowledge/fetch.hpp"
#include "knowledge/fusion.hpp"
#include "knowledge/text.hpp"
#include "knowledge/vectors.hpp"
#include "storage/database.hpp"
#include "storage/knowledge_repository.hpp"

namespace sb::knowledge {

template <class T>
using Task = boost::asio::awaitable<core::Result<T>>;

struct NewCollection {
  std::string name;
  std::optional<std::string> embedding_model;
  std::optional<std::int64_t> dimensions;  // asked of the model; must match what it returns
};

struct IndexRequest {
  std::shared_ptr<core::RequestContext> meter;  // the caller's: the embeddings' tokens count there
  std::string collection;                  // name
  std::optional<std::string> external_id;  // the caller's id
  std::string title;
  std::string content;                     // text (Markdown structure is used for chunking)
  std::vector<std::string> pages;          // instead of content: text per page (PDF)
  std::optional<std::string> source;
  std::optional<std::string> author;
  std::vector<std::string> tags;
  std::string metadata = "{}";             // JSON object
  std::optional<std::string> content_type;
  std::optional<std::string> document_id;  // PUT: a new version of this document
};

// Puts an extracted file's text into the request; the title defaults to the file's own or
// `name`, the source to `name`. Errors: unprocessable when no text came out.
core::Status use_extracted(IndexRequest& in, Extracted extracted, const std::string& name);

struct Indexed {
  std::string id;
  int version = 1;
  std::size_t chunks = 0;
  std::optional<std::int64_t> pages;
  std::string content_hash;
  bool created = true;     // a new document (else a new version, or unchanged)
  bool unchanged = false;  // same caller id, same content: nothing was written
  std::size_t embedded = 0;  // chunks sent to the embedding model (the others were cached)
};

enum class SearchMode { hybrid, semantic, keyword };

struct SearchRequest {
  std::shared_ptr<core::RequestContext> meter;  // the caller's: the query embedding's tokens count there
  std::string collection;
  std::string query;
  int top_k = 10;
  SearchMode mode = SearchMode::hybrid;
  storage::SearchFilters filters;
  double semantic_weight = 0.6;
  Fusion fusion = Fusion::weighted;
  bool exact = false;  // score every vector instead of asking the HNSW graph (for measuring recall)
  std::optional<int> hnsw_ef;  // candidates the graph search keeps (default knowledge.hnsw_ef_search)
  std::optional<double> score_threshold;  // hits scoring below it are left out
};

struct Hit {
  storage::ChunkHit chunk;
  double score = 0;
  std::optional<double> keyword, semantic;
};

struct SearchResult {
  std::string collection;
  SearchMode mode = SearchMode::keyword;  // what was searched
  std::optional<std::string> note;        // why it differs from what was asked
  std::vector<Hit> hits;
  // Where the time went, in order (name, milliseconds): embed (the query's vector), wait (for a
  // database thread), keyword and vector (each list), keyword_fetch and vector_fetch (reading
  // their chunks' rows); for the Server-Timing header.
  std::vector<std::pair<std::string, double>> timings;
};

struct CollectionInfo {
  storage::CollectionRow row;
  std::int64_t documents = 0, chunks = 0;
};

struct DocumentView {
  storage::DocumentRow row;
  std::optional<std::string> text;  // with include_text
};

using DocumentPage = storage::Page<storage::DocumentRow>;

struct StoreOptions {
  ChunkOptions chunking;
  int exact_search_below = 20000;
  std::int64_t max_document_bytes = 10 * 1024 * 1024;
  std::int64_t async_ingest_bytes = 1024 * 1024;  // uploads over this are processed in the background
  UrlOptions url;  // its max_bytes is max_document_bytes
  ExtractLimits extract_limits;
  // Where documents are parsed: by default in this process, on the database's blocking pool
  // (tests and tools); the server sets `extractor` (sandboxed worker processes) and its own pool.
  std::function<core::Result<Extracted>(std::string_view bytes, std::string_view content_type,
                                        std::string_view filename)>
      extractor;
  core::BlockingPool* extract_pool = nullptr;
};

class Store {
 public:
  // embedder may be null (collections cannot have an embedding model then).
  // client (for documents by URL) may be null: URLs are refused then.
  Store(storage::Database& db, const core::Clock& clock, VectorIndexes& vectors, Embedder* embedder,
        StoreOptions options = {}, http::Client* client = nullptr)
      : db_(db), clock_(clock), vectors_(vectors), embedder_(embedder), options_(options), client_(client),
        side_(std::make_unique<boost::asio::thread_pool>(1)) {
    options_.url.max_bytes = options_.max_document_bytes;
  }

  // Errors: invalid_field (bad name), conflict (name taken, or the model's vectors are not of the
  // asked dimensions), model_not_found, and the model's own errors (its first call measures the
  // vector size).
  Task<storage::CollectionRow> create_collection(NewCollection request);
  Task<std::vector<CollectionInfo>> list_collections();
  Task<CollectionInfo> get_collection(std::string name);
  // Soft delete. Errors: not_found.
  Task<storage::CollectionRow> delete_collection(std::string name);
  // Changes the collection's embedding model: the new model is probed (vector size), then
  // every live chunk is embedded with it in the background (cached vectors are reused) and a new
  // vector index built; searches keep using the old model until the switch. The same model and
  // size again changes nothing. Errors: as create_collection's, not_found, conflict (a change is
  // already running).
  Task<storage::CollectionRow> change_model(std::string name, std::string model, std::optional<std::int64_t> dimensions);
  // A new document; or, when the collection already has one with this caller id (or
  // document_id is set), its next version — unless the content (title + text) is unchanged,
  // when nothing is written. Only chunks whose hash has no cached embedding are embedded.
  // Errors: not_found (no such collection or document), invalid_field (empty content),
  // conflict (vector size changed), the embedding model's errors.
  // `progress`, when given, hears the share of chunks embedded so far.
  Task<Indexed> index(IndexRequest request, std::function<boost::asio::awaitable<void>(double)> progress = {});
  // An upload processed in the background (large files): the document (a new placeholder, or
  // the one request.document_id names) is answered at once with state "pending"; extraction,
  // embedding and indexing follow on this thread's context, the state going processing (with
  // progress) -> ready, or failed with the reason. The bytes are kept until then.
  // Errors (at once): not_found, conflict (caller id taken, document deleted).
  Task<DocumentView> submit(IndexRequest request, std::string bytes, std::string content_type, std::string filename);
  // Opens every collection's keyword and vector indexes (built from storage or loaded), so the
  // first searches after a start do not pay for it. Run in the background at start.
  boost::asio::awaitable<void> warm();
  // At start, before serving: marks uploads a stopped process left unfinished without their
  // bytes (written before uploads were kept) as failed; returns how many.
  core::Result<std::int64_t> recover();
  // In the background at start: warm(), then the kept uploads a stopped process did not finish
  // are processed and its unfinished model changes carried on (vectors already made are reused).
  boost::asio::awaitable<void> start();
  Task<SearchResult> search(SearchRequest request);

  // Documents (soft-deleted ones too, with deleted_at). Errors: not_found.
  Task<DocumentView> get_document(std::string id, bool include_text);
  // A live document by its collection (id or name) and external_id.
  Task<DocumentView> get_document_by_external_id(std::string collection, std::string external_id, bool include_text);
  Task<std::vector<storage::VersionRow>> versions(std::string id);
  Task<DocumentPage> list_documents(std::string collection, storage::PageRequest page,
                                    std::optional<std::string> tag);
  // Errors: not_found; conflict when already deleted (delete) or not deleted / id taken (restore).
  Task<DocumentView> delete_document(std::string id);
  Task<DocumentView> restore_document(std::string id);

  // Text from an uploaded file, extracted on the blocking pool (bytes must outlive the call).
  // Errors: payload_too_large over max_document_bytes, and extract()'s.
  Task<Extracted> extract(std::string_view bytes, std::string content_type, std::string filename);
  // A document's text from a URL: fetch_url's rules, then extract(). Errors: theirs.
  Task<Extracted> fetch(std::string url);

  std::int64_t async_ingest_bytes() const { return options_.async_ingest_bytes; }

  // A number that changes with every write to the collection's content (a document added, a
  // new version, deleted, restored; the collection deleted; its embedding model switched),
  // after the write's indexes are updated and before the write is answered: what a cached
  // answer over the collection is keyed by. 0 until the first write since the start.
  std::uint64_t content_version(std::string_view collection) const;

  // Saves the vector indexes (shutdown).
  void flush() { vectors_.save_all(); }

 private:
  Task<DocumentView> set_deleted(std::string id, bool deleted);
  // Measures a model's vector size with one call. Errors: the model's; conflict when `dimensions`
  // was asked and not given.
  Task<std::int64_t> probe(const std::string& model, std::optional<std::int64_t> dimensions);
  boost::asio::awaitable<void> reembed(storage::CollectionRow col);
  // Processes a kept upload, then forgets it.
  boost::asio::awaitable<void> process(IndexRequest request, std::string bytes, std::string content_type,
                                       std::string filename);
  // False when extraction was interrupted by shutdown (the upload stays kept).
  boost::asio::awaitable<bool> process_upload(IndexRequest request, std::string bytes, std::string content_type,
                                              std::string filename);
  // Attempts at a kept upload after which it is failed instead of processed again at start.
  static constexpr int kMaxUploadAttempts = 3;
  boost::asio::awaitable<void> set_state(std::string id, std::string state, std::optional<std::string> error,
                                         std::optional<double> progress);
  Task<storage::CollectionRow> collection(const std::string& name);
  // The collection's keyword index, built from storage on first use (on a pool thread).
  core::Result<std::shared_ptr<Bm25Index>> open_keyword(storage::Connection& c, const std::string& collection_id);
  // The collection's vector index, opened (or rebuilt) on the calling pool thread.
  core::Result<std::shared_ptr<VectorIndex>> open_index(storage::Connection& c, const storage::CollectionRow& col);
  // Adds and removes vectors (on the blocking pool), opening the index first if needed.
  boost::asio::awaitable<void> update_index(storage::CollectionRow col,
                                            std::vector<std::pair<std::int64_t, std::vector<float>>> add,
                                            std::vector<std::int64_t> remove);
  // The same for the keyword index.
  boost::asio::awaitable<void> update_keyword(std::string collection_id, std::vector<Bm25Doc> add,
                                              std::vector<std::int64_t> remove);

  void bump(const std::string& collection);

  storage::Database& db_;
  const core::Clock& clock_;
  mutable std::mutex versions_mu_;  // guards versions_, version_clock_
  std::map<std::string, std::uint64_t, std::less<>> versions_;  // by collection name
  std::uint64_t version_clock_ = 0;
  VectorIndexes& vectors_;
  Bm25Indexes keyword_;
  Embedder* embedder_;
  StoreOptions options_;
  http::Client* client_;
  // A hybrid search's vector half runs here while its keyword half runs on the pool thread (or
  // on the pool thread after it, when this one has not started it by then).
  std::unique_ptr<boost::asio::thread_pool> side_;
};

}  // namespace sb::knowledge
