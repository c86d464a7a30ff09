#pragma once
// The knowledge store: collections, documents (versioned, soft-deleted) and their chunks, with
// an FTS5 keyword index over each chunk's title, heading and text (Snowball stems). Every SQL
// statement of the knowledge base lives here.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/page.hpp"
#include "storage/sqlite.hpp"

namespace sb::storage {

struct CollectionRow {
  std::string id;
  std::string name;
  std::optional<std::string> embedding_model;
  std::optional<std::int64_t> dimension;  // learnt from the model's first answer
  std::int64_t created_at = 0;
  std::optional<std::int64_t> embed_dimensions;  // asked of the model ("dimensions"), if set
  // A model change in progress (or failed): the vectors of next_model are being computed; the
  // collection keeps searching with embedding_model until they are all there.
  std::optional<std::string> next_model;
  std::optional<std::int64_t> next_embed_dimensions, next_dimension;
  std::optional<std::string> reembed_state;  // running | failed
  std::optional<std::string> reembed_error;
  std::optional<double> reembed_progress;

  std::string next_key() const {
    if (!next_model) return {};
    return next_embed_dimensions ? *next_model + "@" + std::to_string(*next_embed_dimensions) : *next_model;
  }

  // The key of this collection's vectors in the embeddings cache: the model and the size asked.
  std::string embedding_key() const {
    if (!embedding_model) return {};
    return embed_dimensions ? *embedding_model + "@" + std::to_string(*embed_dimensions) : *embedding_model;
  }
};

// Which live chunks a search may return. Empty lists and maps do not filter.
struct SearchFilters {
  std::vector<std::string> tags;          // the document has any of these tags
  std::vector<std::string> document_ids;  // document ids or caller ids
  struct Equals {
    std::string key;
    enum class Kind { text, number, boolean } kind = Kind::text;
    std::string text;
    double number = 0;
    bool boolean = false;
  };
  std::vector<Equals> metadata;  // every top-level metadata key equals its value
  bool empty() const { return tags.empty() && document_ids.empty() && metadata.empty(); }
};

struct ChunkInsert {
  int ord = 0;
  std::string heading;
  std::optional<std::int64_t> page;
  std::string text;
  std::string hash;
};

struct UploadRow {
  std::string document_id;
  std::string request;  // JSON
  std::string content_type;
  std::string filename;
  std::string bytes;  // read back (save_upload takes them apart)
};

struct DocumentInsert {
  std::string id;
  std::string collection_id;
  std::optional<std::string> external_id;
  std::string title;
  std::optional<std::string> source;
  std::optional<std::string> author;
  std::string tags = "[]";      // JSON array of strings
  std::string metadata = "{}";  // JSON object
  std::optional<std::int64_t> pages;
  std::optional<std::string> content_type;
  std::string content_hash;
  std::int64_t now = 0;
  std::vector<ChunkInsert> chunks;
};

struct ChunkHit {
  std::int64_t chunk_id = 0;
  std::string document_id;
  std::optional<std::string> external_id;
  std::string title;
  std::optional<std::string> source;
  std::string tags = "[]";  // JSON array
  std::string heading;
  std::optional<std::int64_t> page;
  std::string text;
  double score = 0;  // BM25, higher is better
};

struct DocumentRow {
  std::int64_t seq = 0;  // rowid: list cursors
  std::string id;
  std::string collection;  // name
  std::optional<std::string> external_id;
  std::string title;
  std::optional<std::string> source;
  std::optional<std::string> author;
  std::string tags = "[]";      // JSON array
  std::string metadata = "{}";  // JSON object
  std::optional<std::int64_t> pages;
  std::optional<std::string> content_type;
  int version = 1;
  std::string content_hash;
  std::int64_t created_at = 0, updated_at = 0;
  std::optional<std::int64_t> deleted_at;
  std::int64_t chunks = 0;  // of the current version
  std::string state = "ready";  // pending | processing | ready | failed (of the latest upload)
  std::optional<std::string> state_error;
  std::optional<double> progress;  // 0..1 while processing
};

struct VersionRow {
  int version = 0;
  std::int64_t chunks = 0;
};

class KnowledgeRepository {
 public:
  // A new collection; a live collection with the same name is a conflict.
  // `embedding` (model, dimensions asked) when the collection has an embedding model.
  static Result<CollectionRow> create_collection(Connection& c, std::string_view id,
                                                 std::string_view name, std::int64_t now,
                                                 const CollectionRow* embedding = nullptr);
  // Soft delete: the collection, its documents and chunks leave every listing and search; its
  // name can be taken again. False when there is no live collection of that name.
  static Result<bool> delete_collection(Connection& c, std::string_view name, std::int64_t now);
  // Records the vector size the model answered with (first embedding).
  static Status set_dimension(Connection& c, std::string_view id, std::int64_t dimension);
  // Model changes: start (conflict when one is running), progress or failure, and the switch
  // (embedding_model, dimension and embed_dimensions become the next ones).
  static Status start_reembed(Connection& c, std::string_view id, std::string_view model,
                              std::optional<std::int64_t> embed_dimensions, std::int64_t dimension);
  static Status set_reembed(Connection& c, std::string_view id, std::string_view state,
                            const std::optional<std::string>& error, std::optional<double> progress);
  static Status finish_reembed(Connection& c, std::string_view id);
  struct MissingVector {
    std::int64_t chunk_id = 0;
    std::string hash, text;
  };
  // Live chunks of a collection whose hash has no vector under `model` yet, at most `limit`.
  static Result<std::vector<MissingVector>> missing_vectors(Connection& c, std::string_view collection_id,
                                                            std::string_view model, int limit);
  static Result<std::optional<CollectionRow>> find_collection(Connection& c, std::string_view name);
  static Result<std::vector<CollectionRow>> list_collections(Connection& c);
  // Live documents and chunks of a collection.
  static Result<std::pair<std::int64_t, std::int64_t>> collection_counts(Connection& c,
                                                                         std::string_view id);
  // Inserts a document (version 1) with its chunks and their keyword index entries; returns the
  // chunk ids in order.
  static Result<std::vector<std::int64_t>> add_document(Connection& c, const DocumentInsert& doc);

  struct DocumentRef {
    std::string id;
    int version = 1;
    std::string content_hash;
  };
  // The live document with this caller id in the collection, if any.
  static Result<std::optional<DocumentRef>> find_by_external_id(Connection& c,
                                                                std::string_view collection_id,
                                                                std::string_view external_id);
  // Makes doc the next version of document `existing`: its chunks are added under the new
  // version (earlier versions' chunks stay, out of the keyword index), title and hash replaced.
  // The new chunk ids are appended to `chunk_ids`.
  static Result<int> add_version(Connection& c, const DocumentRef& existing, const DocumentInsert& doc,
                                 std::vector<std::int64_t>* chunk_ids = nullptr);
  // The chunk ids of one version of a document.
  static Result<std::vector<std::int64_t>> chunk_ids(Connection& c, std::string_view document_id,
                                                     int version);
  static Result<std::optional<DocumentRow>> get_document(Connection& c, std::string_view id);
  // The current version's chunk texts in order, joined by blank lines.
  static Result<std::string> document_text(Connection& c, std::string_view id, int version);
  static Result<std::vector<VersionRow>> versions(Connection& c, std::string_view id);
  // One page of a collection's live documents (with the tag, when given). A cursor that is not
  // the id of one of the collection's documents is invalid_field.
  static Result<Page<DocumentRow>> list_documents(Connection& c, std::string_view collection_id,
                                                  const PageRequest& page,
                                                  const std::optional<std::string>& tag = std::nullopt);
  // A placeholder for a document whose upload is processed in the background: version 0, no
  // chunks, state pending. Errors: conflict when a live document has the caller id.
  static Status add_pending(Connection& c, const DocumentInsert& doc);
  // Sets the ingestion state of a document (progress only while processing).
  static Status set_state(Connection& c, std::string_view id, std::string_view state,
                          const std::optional<std::string>& error, std::optional<double> progress);
  // Documents left pending or processing by a process that stopped whose upload was not kept:
  // failed, with a reason.
  static Result<std::int64_t> fail_unfinished(Connection& c, std::string_view reason);
  // An accepted upload, kept (bytes and the request's fields as JSON) until it is processed.
  static Status save_upload(Connection& c, const UploadRow& upload, std::string_view bytes, std::int64_t now);
  static Status delete_upload(Connection& c, std::string_view document_id);
  // Counts one more attempt at processing a kept upload, before the work starts, so an upload
  // whose processing took the server down is not retried at every start; returns the count
  // (0 when the upload is not kept).
  static Result<int> begin_upload_attempt(Connection& c, std::string_view document_id);
  // Every kept upload, oldest first.
  static Result<std::vector<UploadRow>> uploads(Connection& c);
  // Collections whose model change was running.
  static Result<std::vector<CollectionRow>> running_reembeds(Connection& c);

  // Soft delete: out of search (its chunks leave the keyword index) until restored. Returns
  // false when the document was not live.
  static Result<bool> soft_delete(Connection& c, std::string_view id, std::int64_t now);
  // Undoes soft_delete. Errors: conflict when a live document took its caller id meanwhile.
  // Returns false when the document was not deleted.
  static Result<bool> restore(Connection& c, std::string_view id, std::int64_t now);

  // BM25 over live documents of the collection, best first. `match` is an FTS5 query
  // (knowledge::keyword_query builds one from user text).
  static Result<std::vector<ChunkHit>> keyword_search(Connection& c, std::string_view collection_id,
                                                      std::string_view match, int limit,
                                                      const SearchFilters& filters = {});

  // Embeddings cache, by model key and chunk hash. Vectors are float32, L2-normalised.
  static Result<std::vector<std::pair<std::string, std::vector<float>>>> cached_embeddings(
      Connection& c, std::string_view model, const std::vector<std::string>& hashes);
  static Status put_embeddings(Connection& c, std::string_view model,
                               const std::vector<std::pair<std::string, std::vector<float>>>& vectors);
  // (chunk id, vector) of the live chunks of a collection that have an embedding under `model`;
  // with ids set, only those chunks.
  static Result<std::vector<std::pair<std::int64_t, std::vector<float>>>> live_vectors(
      Connection& c, std::string_view collection_id, std::string_view model,
      const std::vector<std::int64_t>* ids = nullptr);
  struct ChunkText {
    std::int64_t id = 0;
    std::string title, heading, text;
  };
  // The live chunks of a collection with what the keyword index reads (all, or just `ids`).
  static Result<std::vector<ChunkText>> live_chunk_texts(Connection& c, std::string_view collection_id,
                                                         const std::vector<std::int64_t>* ids = nullptr);
  // The ids of a collection's live chunks.
  static Result<std::vector<std::int64_t>> live_chunk_ids(Connection& c, std::string_view collection_id,
                                                          const SearchFilters& filters = {});
  // The chunks among `ids` that are live in the collection and pass the filters (any order).
  static Result<std::vector<ChunkHit>> hydrate(Connection& c, std::string_view collection_id,
                                               const std::vector<std::int64_t>& ids,
                                               const SearchFilters& filters = {});
};

}  // namespace sb::storage
