#include "storage/knowledge_repository.hpp"
#include "core/json_text.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <cstring>

namespace sb::storage {

namespace {

// Runs `sql` (id ?1, state ?2, error ?3, progress ?4): the state of a background task.
Status set_progress(Connection& c, const char* sql, std::string_view id, std::string_view state,
                    const std::optional<std::string>& error, std::optional<double> progress) {
  auto st = c.cached(sql);
  if (!st) return std::move(st).error();
  st->bind(1, id).bind(2, state).bind_opt(3, error);
  if (progress) {
    st->bind_double(4, *progress);
  } else {
    st->bind_null(4);
  }
  return st->run();
}

constexpr const char* kCollectionColumns =
    "id, name, embedding_model, dimension, created_at, embed_dimensions, next_model, next_embed_dimensions, "
    "next_dimension, reembed_state, reembed_error, reembed_progress";

CollectionRow read_collection(const Statement& r) {
  CollectionRow c{r.column_text(0),      r.column_text(1),  r.column_opt_text(2),
                  r.column_opt_int64(3), r.column_int64(4), r.column_opt_int64(5)};
  c.next_model = r.column_opt_text(6);
  c.next_embed_dimensions = r.column_opt_int64(7);
  c.next_dimension = r.column_opt_int64(8);
  c.reembed_state = r.column_opt_text(9);
  c.reembed_error = r.column_opt_text(10);
  if (!r.column_is_null(11)) c.reembed_progress = r.column_double(11);
  return c;
}

}  // namespace

Result<CollectionRow> KnowledgeRepository::create_collection(Connection& c, std::string_view id,
                                                             std::string_view name,
                                                             std::int64_t now,
                                                             const CollectionRow* embedding) {
  auto existing = find_collection(c, name);
  if (!existing) return std::move(existing).error();
  if (*existing) {
    return Error(core::ErrorKind::conflict,
                 "a collection named '" + std::string(name) + "' already exists", "name",
                 "storage");
  }
  auto st = c.cached(
      "INSERT INTO collections (id, name, created_at, embedding_model, dimension, embed_dimensions) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!st) return std::move(st).error();
  CollectionRow row{std::string(id), std::string(name), std::nullopt, std::nullopt, now, std::nullopt};
  if (embedding) {
    row.embedding_model = embedding->embedding_model;
    row.dimension = embedding->dimension;
    row.embed_dimensions = embedding->embed_dimensions;
  }
  st->bind(1, id).bind(2, name).bind(3, now).bind_opt(4, row.embedding_model).bind_opt(5, row.dimension)
      .bind_opt(6, row.embed_dimensions);
  if (auto r = st->run(); !r) return std::move(r).error();
  return row;
}

Result<bool> KnowledgeRepository::delete_collection(Connection& c, std::string_view name, std::int64_t now) {
  auto col = find_collection(c, name);
  if (!col) return std::move(col).error();
  if (!*col) return false;
  // Its chunks leave the keyword index; rows stay (soft delete).
  auto unindex = c.cached(
      "DELETE FROM chunks_fts WHERE rowid IN (SELECT ch.id FROM chunks ch JOIN documents d ON "
      "d.id = ch.document_id WHERE d.collection_id = ?1)");
  if (!unindex) return std::move(unindex).error();
  unindex->bind(1, std::string_view((*col)->id));
  if (auto r = unindex->run(); !r) return std::move(r).error();
  auto docs = c.cached("UPDATE documents SET deleted_at = ?2 WHERE collection_id = ?1 AND deleted_at IS NULL");
  if (!docs) return std::move(docs).error();
  docs->bind(1, std::string_view((*col)->id)).bind(2, now);
  if (auto r = docs->run(); !r) return std::move(r).error();
  // The name is UNIQUE: a deleted collection gives it up ("name~id") so it can be taken again.
  auto st = c.cached("UPDATE collections SET deleted_at = ?2, name = name || '~' || id WHERE id = ?1");
  if (!st) return std::move(st).error();
  st->bind(1, std::string_view((*col)->id)).bind(2, now);
  if (auto r = st->run(); !r) return std::move(r).error();
  return true;
}

Status KnowledgeRepository::start_reembed(Connection& c, std::string_view id, std::string_view model,
                                          std::optional<std::int64_t> embed_dimensions, std::int64_t dimension) {
  auto st = c.cached(
      "UPDATE collections SET next_model = ?2, next_embed_dimensions = ?3, next_dimension = ?4, "
      "reembed_state = 'running', reembed_error = NULL, reembed_progress = 0 WHERE id = ?1 AND "
      "(reembed_state IS NULL OR reembed_state <> 'running')");
  if (!st) return std::move(st).error();
  st->bind(1, id).bind(2, model).bind_opt(3, embed_dimensions).bind(4, dimension);
  if (auto r = st->run(); !r) return r;
  if (st->changes() == 0) {
    return Error(core::ErrorKind::conflict, "the collection's model is already being changed", "embedding_model",
                 "storage");
  }
  return {};
}

Status KnowledgeRepository::set_reembed(Connection& c, std::string_view id, std::string_view state,
                                        const std::optional<std::string>& error, std::optional<double> progress) {
  return set_progress(c, "UPDATE collections SET reembed_state = ?2, reembed_error = ?3, reembed_progress = ?4 WHERE id = ?1",
                      id, state, error, progress);
}

Status KnowledgeRepository::finish_reembed(Connection& c, std::string_view id) {
  auto st = c.cached(
      "UPDATE collections SET embedding_model = next_model, embed_dimensions = next_embed_dimensions, "
      "dimension = next_dimension, next_model = NULL, next_embed_dimensions = NULL, next_dimension = NULL, "
      "reembed_state = NULL, reembed_error = NULL, reembed_progress = NULL WHERE id = ?1 AND next_model IS NOT NULL");
  if (!st) return std::move(st).error();
  st->bind(1, id);
  return st->run();
}

Status KnowledgeRepository::set_dimension(Connection& c, std::string_view id, std::int64_t dimension) {
  auto st = c.cached("UPDATE collections SET dimension = ?2 WHERE id = ?1");
  if (!st) return std::move(st).error();
  st->bind(1, id).bind(2, dimension);
  return st->run();
}

Result<std::optional<CollectionRow>> KnowledgeRepository::find_collection(Connection& c,
                                                                          std::string_view name) {
  // By name, or by id (a name that equals another collection's id is the name's).
  auto st = c.cached(std::string("SELECT ") + kCollectionColumns +
                     " FROM collections WHERE (name = ?1 OR id = ?1) AND deleted_at IS NULL "
                     "ORDER BY name = ?1 DESC LIMIT 1");
  if (!st) return std::move(st).error();
  st->bind(1, name);
  auto row = st->step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<CollectionRow>();
  return std::optional<CollectionRow>(read_collection(*st));
}

Result<std::vector<CollectionRow>> KnowledgeRepository::list_collections(Connection& c) {
  auto st = c.cached(std::string("SELECT ") + kCollectionColumns +
                     " FROM collections WHERE deleted_at IS NULL ORDER BY name");
  if (!st) return std::move(st).error();
  return st->all(read_collection);
}

Result<std::pair<std::int64_t, std::int64_t>> KnowledgeRepository::collection_counts(
    Connection& c, std::string_view id) {
  auto st = c.cached(
      "SELECT count(DISTINCT d.id), count(ch.id) FROM documents d LEFT JOIN chunks ch "
      "ON ch.document_id = d.id AND ch.version = d.version "
      "WHERE d.collection_id = ?1 AND d.deleted_at IS NULL AND d.version > 0");  // (0: never indexed)
  if (!st) return std::move(st).error();
  st->bind(1, id);
  auto row = st->step();
  if (!row) return std::move(row).error();
  return std::pair<std::int64_t, std::int64_t>{st->column_int64(0), st->column_int64(1)};
}

namespace {

// The chunks of one version of a document, and their keyword index entries.
Status insert_chunks(Connection& c, std::string_view document_id, int version,
                     std::string_view title, const std::vector<ChunkInsert>& chunks,
                     std::vector<std::int64_t>* ids) {
  auto ch = c.cached(
      "INSERT INTO chunks (document_id, version, ord, heading, page, text, hash) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id");
  if (!ch) return std::move(ch).error();
  auto fts = c.cached("INSERT INTO chunks_fts (rowid, title, heading, text) VALUES (?1, ?2, ?3, ?4)");
  if (!fts) return std::move(fts).error();
  for (const auto& chunk : chunks) {
    ch->bind(1, document_id)
        .bind(2, static_cast<std::int64_t>(version))
        .bind(3, static_cast<std::int64_t>(chunk.ord))
        .bind(4, std::string_view(chunk.heading))
        .bind_opt(5, chunk.page)
        .bind(6, std::string_view(chunk.text))
        .bind(7, std::string_view(chunk.hash));
    auto row = ch->step();
    if (!row) return std::move(row).error();
    const std::int64_t chunk_id = ch->column_int64(0);
    ch->reset();
    if (ids) ids->push_back(chunk_id);
    fts->bind(1, chunk_id).bind(2, title).bind(3, std::string_view(chunk.heading))
        .bind(4, std::string_view(chunk.text));
    if (auto r = fts->run(); !r) return r;
    fts->reset();
  }
  return {};
}

}  // namespace

Result<std::optional<KnowledgeRepository::DocumentRef>> KnowledgeRepository::find_by_external_id(
    Connection& c, std::string_view collection_id, std::string_view external_id) {
  auto st = c.cached(
      "SELECT id, version, content_hash FROM documents WHERE collection_id = ?1 AND "
      "external_id = ?2 AND deleted_at IS NULL");
  if (!st) return std::move(st).error();
  st->bind(1, collection_id).bind(2, external_id);
  auto row = st->step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<DocumentRef>();
  return std::optional<DocumentRef>(
      DocumentRef{st->column_text(0), static_cast<int>(st->column_int64(1)), st->column_text(2)});
}

Result<int> KnowledgeRepository::add_version(Connection& c, const DocumentRef& existing,
                                             const DocumentInsert& doc,
                                             std::vector<std::int64_t>* chunk_ids) {
  const int version = existing.version + 1;
  auto unindex = c.cached(
      "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE document_id = ?1 AND "
      "version = ?2)");
  if (!unindex) return std::move(unindex).error();
  unindex->bind(1, std::string_view(existing.id)).bind(2, static_cast<std::int64_t>(existing.version));
  if (auto r = unindex->run(); !r) return std::move(r).error();
  auto upd = c.cached(
      "UPDATE documents SET version = ?1, title = ?2, source = ?3, content_hash = ?4, "
      "updated_at = ?5, author = ?7, tags = ?8, metadata = ?9, pages = ?10, content_type = ?11, "
      "state = 'ready', state_error = NULL, progress = NULL WHERE id = ?6");
  if (!upd) return std::move(upd).error();
  upd->bind(1, static_cast<std::int64_t>(version))
      .bind(2, std::string_view(doc.title))
      .bind_opt(3, doc.source)
      .bind(4, std::string_view(doc.content_hash))
      .bind(5, doc.now)
      .bind(6, std::string_view(existing.id))
      .bind_opt(7, doc.author)
      .bind(8, std::string_view(doc.tags))
      .bind(9, std::string_view(doc.metadata))
      .bind_opt(10, doc.pages)
      .bind_opt(11, doc.content_type);
  if (auto r = upd->run(); !r) return std::move(r).error();
  if (auto st = insert_chunks(c, existing.id, version, doc.title, doc.chunks, chunk_ids); !st) {
    return std::move(st).error();
  }
  return version;
}

Result<std::vector<std::int64_t>> KnowledgeRepository::chunk_ids(Connection& c, std::string_view document_id,
                                                                 int version) {
  auto st = c.cached("SELECT id FROM chunks WHERE document_id = ?1 AND version = ?2 ORDER BY ord");
  if (!st) return std::move(st).error();
  st->bind(1, document_id).bind(2, static_cast<std::int64_t>(version));
  return st->all([](const Statement& r) { return r.column_int64(0); });
}

namespace {

// The document row alone, at version 0 (no chunks yet) in `state`; add_version fills it.
Status insert_document_row(Connection& c, const DocumentInsert& doc, std::string_view state) {
  auto d = c.cached(
      "INSERT INTO documents (id, collection_id, external_id, title, source, version, content_hash, created_at, "
      "updated_at, author, tags, metadata, content_type, state) "
      "VALUES (?1, ?2, ?3, ?4, ?5, 0, '', ?6, ?6, ?7, ?8, ?9, ?10, ?11)");
  if (!d) return std::move(d).error();
  d->bind(1, std::string_view(doc.id))
      .bind(2, std::string_view(doc.collection_id))
      .bind_opt(3, doc.external_id)
      .bind(4, std::string_view(doc.title))
      .bind_opt(5, doc.source)
      .bind(6, doc.now)
      .bind_opt(7, doc.author)
      .bind(8, std::string_view(doc.tags))
      .bind(9, std::string_view(doc.metadata))
      .bind_opt(10, doc.content_type)
      .bind(11, state);
  return d->run();
}

}  // namespace

Result<std::vector<std::int64_t>> KnowledgeRepository::add_document(Connection& c, const DocumentInsert& doc) {
  if (auto st = insert_document_row(c, doc, "ready"); !st) return std::move(st).error();
  std::vector<std::int64_t> ids;
  auto v = add_version(c, DocumentRef{doc.id, 0, ""}, doc, &ids);
  if (!v) return std::move(v).error();
  return ids;
}

namespace {

constexpr const char* kDocumentSelect =
    "SELECT d.rowid, d.id, col.name, d.external_id, d.title, d.source, d.version, d.content_hash, "
    "d.created_at, d.updated_at, d.deleted_at, (SELECT count(*) FROM chunks ch WHERE "
    "ch.document_id = d.id AND ch.version = d.version), d.author, d.tags, d.metadata, d.pages, "
    "d.content_type, d.state, d.state_error, d.progress FROM documents d JOIN collections col ON "
    "col.id = d.collection_id ";

DocumentRow read_document(const Statement& st) {
  DocumentRow r;
  r.seq = st.column_int64(0);
  r.id = st.column_text(1);
  r.collection = st.column_text(2);
  r.external_id = st.column_opt_text(3);
  r.title = st.column_text(4);
  r.source = st.column_opt_text(5);
  r.version = static_cast<int>(st.column_int64(6));
  r.content_hash = st.column_text(7);
  r.created_at = st.column_int64(8);
  r.updated_at = st.column_int64(9);
  r.deleted_at = st.column_opt_int64(10);
  r.chunks = st.column_int64(11);
  r.author = st.column_opt_text(12);
  r.tags = st.column_text(13);
  r.metadata = st.column_text(14);
  r.pages = st.column_opt_int64(15);
  r.content_type = st.column_opt_text(16);
  r.state = st.column_text(17);
  r.state_error = st.column_opt_text(18);
  if (!st.column_is_null(19)) r.progress = st.column_double(19);
  return r;
}

// Adds (index = true) or removes the keyword index entries of one version's chunks.
Status set_indexed(Connection& c, std::string_view id, int version, bool index) {
  auto st = c.cached(index ? "INSERT INTO chunks_fts (rowid, title, heading, text) SELECT ch.id, "
                             "d.title, ch.heading, ch.text FROM chunks ch JOIN documents d ON "
                             "d.id = ch.document_id WHERE ch.document_id = ?1 AND ch.version = ?2"
                           : "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE "
                             "document_id = ?1 AND version = ?2)");
  if (!st) return std::move(st).error();
  st->bind(1, id).bind(2, static_cast<std::int64_t>(version));
  return st->run();
}

}  // namespace

Result<std::optional<DocumentRow>> KnowledgeRepository::get_document(Connection& c, std::string_view id) {
  auto st = c.cached(std::string(kDocumentSelect) + "WHERE d.id = ?1");
  if (!st) return std::move(st).error();
  st->bind(1, id);
  auto row = st->step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<DocumentRow>();
  return std::optional<DocumentRow>(read_document(*st));
}

Result<std::string> KnowledgeRepository::document_text(Connection& c, std::string_view id, int version) {
  auto st = c.cached("SELECT text FROM chunks WHERE document_id = ?1 AND version = ?2 ORDER BY ord");
  if (!st) return std::move(st).error();
  st->bind(1, id).bind(2, static_cast<std::int64_t>(version));
  std::string out;
  for (;;) {
    auto row = st->step();
    if (!row) return std::move(row).error();
    if (!*row) return out;
    if (!out.empty()) out += "\n\n";
    out += st->column_text(0);
  }
}

Result<std::vector<VersionRow>> KnowledgeRepository::versions(Connection& c, std::string_view id) {
  auto st = c.cached(
      "SELECT version, count(*) FROM chunks WHERE document_id = ?1 GROUP BY version ORDER BY version");
  if (!st) return std::move(st).error();
  st->bind(1, id);
  return st->all([](const Statement& r) {
    return VersionRow{static_cast<int>(r.column_int64(0)), r.column_int64(1)};
  });
}

Result<Page<DocumentRow>> KnowledgeRepository::list_documents(Connection& c, std::string_view collection_id,
                                                              const PageRequest& page,
                                                              const std::optional<std::string>& tag) {
  std::int64_t pivot = 0;
  if (const std::string& id = page.after.empty() ? page.before : page.after; !id.empty()) {
    auto q = c.cached("SELECT rowid FROM documents WHERE id = ?1 AND collection_id = ?2");
    if (!q) return std::move(q).error();
    q->bind(1, std::string_view(id)).bind(2, collection_id);
    auto row = q->step();
    if (!row) return std::move(row).error();
    if (!*row) {
      const char* name = page.after.empty() ? "before" : "after";
      return Error(core::ErrorKind::invalid_field,
                   std::string("'") + name + "' is not the id of a document of this collection", name);
    }
    pivot = q->column_int64(0);
  }
  const bool desc = page.scan_descending();
  auto st = c.cached(std::string(kDocumentSelect) +
                     "WHERE d.collection_id = ?1 AND d.deleted_at IS NULL AND " +
                     (desc ? "(?2 <= 0 OR d.rowid < ?2)" : "d.rowid > ?2") +
                     " AND (?4 IS NULL OR EXISTS (SELECT 1 FROM json_each(d.tags) t WHERE t.value = ?4)) "
                     "ORDER BY d.rowid " + (desc ? "DESC" : "ASC") + " LIMIT ?3");
  if (!st) return std::move(st).error();
  st->bind(1, collection_id).bind(2, pivot).bind(3, static_cast<std::int64_t>(page.limit) + 1).bind_opt(4, tag);
  auto rows = st->all(read_document);
  if (!rows) return std::move(rows).error();
  return make_page(std::move(*rows), page);
}

Status KnowledgeRepository::add_pending(Connection& c, const DocumentInsert& doc) {
  if (doc.external_id) {
    auto taken = find_by_external_id(c, doc.collection_id, *doc.external_id);
    if (!taken) return std::move(taken).error();
    if (*taken) {
      return Error(core::ErrorKind::conflict, "a document with the id '" + *doc.external_id + "' exists: PUT a new version",
                   "id", "storage");
    }
  }
  return insert_document_row(c, doc, "pending");
}

Status KnowledgeRepository::set_state(Connection& c, std::string_view id, std::string_view state,
                                      const std::optional<std::string>& error, std::optional<double> progress) {
  return set_progress(c, "UPDATE documents SET state = ?2, state_error = ?3, progress = ?4 WHERE id = ?1", id, state,
                      error, progress);
}

Result<std::int64_t> KnowledgeRepository::fail_unfinished(Connection& c, std::string_view reason) {
  auto st = c.cached(
      "UPDATE documents SET state = 'failed', state_error = ?1, progress = NULL WHERE state IN ('pending', "
      "'processing') AND id NOT IN (SELECT document_id FROM uploads)");
  if (!st) return std::move(st).error();
  st->bind(1, reason);
  if (auto r = st->run(); !r) return std::move(r).error();
  return st->changes();
}

Status KnowledgeRepository::save_upload(Connection& c, const UploadRow& upload, std::string_view bytes,
                                        std::int64_t now) {
  auto st = c.cached(
      "INSERT OR REPLACE INTO uploads (document_id, request, content_type, filename, bytes, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!st) return std::move(st).error();
  st->bind(1, upload.document_id).bind(2, upload.request).bind(3, upload.content_type).bind(4, upload.filename);
  st->bind_blob(5, bytes.data(), bytes.size()).bind(6, now);
  return st->run();
}

Status KnowledgeRepository::delete_upload(Connection& c, std::string_view document_id) {
  auto st = c.cached("DELETE FROM uploads WHERE document_id = ?1");
  if (!st) return std::move(st).error();
  st->bind(1, document_id);
  return st->run();
}

Result<int> KnowledgeRepository::begin_upload_attempt(Connection& c, std::string_view document_id) {
  auto st = c.cached("UPDATE uploads SET attempts = attempts + 1 WHERE document_id = ?1 RETURNING attempts");
  if (!st) return std::move(st).error();
  st->bind(1, document_id);
  auto rows = st->all([](const Statement& r) { return static_cast<int>(r.column_int64(0)); });
  if (!rows) return std::move(rows).error();
  return rows->empty() ? 0 : rows->front();
}

Result<std::vector<UploadRow>> KnowledgeRepository::uploads(Connection& c) {
  auto st = c.cached("SELECT document_id, request, content_type, filename, bytes FROM uploads ORDER BY created_at, rowid");
  if (!st) return std::move(st).error();
  return st->all([](const Statement& r) {
    return UploadRow{r.column_text(0), r.column_text(1), r.column_text(2), r.column_text(3),
                     std::string(r.column_blob(4))};
  });
}

Result<std::vector<CollectionRow>> KnowledgeRepository::running_reembeds(Connection& c) {
  auto st = c.cached(std::string("SELECT ") + kCollectionColumns +
                     " FROM collections WHERE reembed_state = 'running' AND deleted_at IS NULL");
  if (!st) return std::move(st).error();
  return st->all(read_collection);
}

Result<bool> KnowledgeRepository::soft_delete(Connection& c, std::string_view id, std::int64_t now) {
  auto doc = get_document(c, id);
  if (!doc) return std::move(doc).error();
  if (!*doc || (*doc)->deleted_at) return false;
  if (auto st = set_indexed(c, id, (*doc)->version, false); !st) return std::move(st).error();
  auto st = c.cached("UPDATE documents SET deleted_at = ?1, updated_at = ?1 WHERE id = ?2");
  if (!st) return std::move(st).error();
  st->bind(1, now).bind(2, id);
  if (auto r = st->run(); !r) return std::move(r).error();
  return true;
}

Result<bool> KnowledgeRepository::restore(Connection& c, std::string_view id, std::int64_t now) {
  auto doc = get_document(c, id);
  if (!doc) return std::move(doc).error();
  if (!*doc || !(*doc)->deleted_at) return false;
  if ((*doc)->external_id) {
    auto col = c.cached("SELECT collection_id FROM documents WHERE id = ?1");
    if (!col) return std::move(col).error();
    col->bind(1, id);
    auto row = col->step();
    if (!row) return std::move(row).error();
    auto taken = find_by_external_id(c, col->column_text(0), *(*doc)->external_id);
    if (!taken) return std::move(taken).error();
    if (*taken) {
      return Error(core::ErrorKind::conflict,
                   "another live document has the id '" + *(*doc)->external_id + "' now", "id",
                   "storage");
    }
  }
  auto st = c.cached("UPDATE documents SET deleted_at = NULL, updated_at = ?1 WHERE id = ?2");
  if (!st) return std::move(st).error();
  st->bind(1, now).bind(2, id);
  if (auto r = st->run(); !r) return std::move(r).error();
  if (auto r = set_indexed(c, id, (*doc)->version, true); !r) return std::move(r).error();
  return true;
}

namespace {

std::string json_list(const std::vector<std::string>& items) {
  boost::json::array a;
  for (const auto& i : items) a.emplace_back(i);
  return core::to_json(a);
}

// " AND ..." conditions on the document `d` for the filters, numbering parameters from `first`;
// bind_filters binds them in the same order.
std::string filter_sql(const SearchFilters& f, int first) {
  std::string sql;
  int n = first;
  auto p = [&n] { return "?" + std::to_string(n++); };
  if (!f.tags.empty()) {
    sql += " AND EXISTS (SELECT 1 FROM json_each(d.tags) t WHERE t.value IN (SELECT value FROM json_each(" +
           p() + ")))";
  }
  if (!f.document_ids.empty()) {
    const std::string ids = p();
    sql += " AND (d.id IN (SELECT value FROM json_each(" + ids + ")) OR d.external_id IN (SELECT value FROM json_each(" +
           ids + ")))";
  }
  for (const auto& m : f.metadata) {
    sql += " AND EXISTS (SELECT 1 FROM json_each(d.metadata) m WHERE m.key = " + p();
    switch (m.kind) {
      case SearchFilters::Equals::Kind::text: sql += " AND m.type = 'text' AND m.atom = " + p() + ")"; break;
      case SearchFilters::Equals::Kind::number:
        sql += " AND m.type IN ('integer', 'real') AND m.atom = " + p() + ")";
        break;
      case SearchFilters::Equals::Kind::boolean:
        sql += m.boolean ? " AND m.type = 'true')" : " AND m.type = 'false')";
        break;
    }
  }
  return sql;
}

void bind_filters(Statement& st, const SearchFilters& f, int first) {
  int n = first;
  if (!f.tags.empty()) st.bind(n++, std::string_view(json_list(f.tags)));
  if (!f.document_ids.empty()) st.bind(n++, std::string_view(json_list(f.document_ids)));
  for (const auto& m : f.metadata) {
    st.bind(n++, std::string_view(m.key));
    if (m.kind == SearchFilters::Equals::Kind::text) st.bind(n++, std::string_view(m.text));
    if (m.kind == SearchFilters::Equals::Kind::number) st.bind_double(n++, m.number);
  }
}

constexpr const char* kHitColumns =
    "ch.id, ch.document_id, d.external_id, d.title, ch.heading, ch.page, ch.text, d.source, d.tags";

ChunkHit read_hit(const Statement& st) {
  ChunkHit h;
  h.chunk_id = st.column_int64(0);
  h.document_id = st.column_text(1);
  h.external_id = st.column_opt_text(2);
  h.title = st.column_text(3);
  h.heading = st.column_text(4);
  h.page = st.column_opt_int64(5);
  h.text = st.column_text(6);
  h.source = st.column_opt_text(7);
  h.tags = st.column_text(8);
  return h;
}

std::vector<float> read_vector(std::string_view blob) {
  std::vector<float> v(blob.size() / sizeof(float));
  if (!v.empty()) std::memcpy(v.data(), blob.data(), v.size() * sizeof(float));
  return v;
}

std::string ids_json(const std::vector<std::int64_t>& ids) {
  std::string out = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(ids[i]);
  }
  return out + "]";
}

constexpr const char* kLive =
    " JOIN documents d ON d.id = ch.document_id WHERE d.collection_id = ?1 AND d.deleted_at IS NULL "
    "AND ch.version = d.version";

}  // namespace

Result<std::vector<ChunkHit>> KnowledgeRepository::keyword_search(Connection& c,
                                                                  std::string_view collection_id,
                                                                  std::string_view match,
                                                                  int limit,
                                                                  const SearchFilters& filters) {
  // FTS5 ranks its own matches fastest (ORDER BY rank LIMIT inside the virtual table); the best
  // `window` are then joined and filtered to the collection's live documents. When the filter
  // leaves fewer than `limit` and the window was full, the window doubles: the answer is exact.
  // rank is bm25(): lower is better; a hit's score is its negation.
  auto st = c.cached(std::string("SELECT ") + kHitColumns +
                     ", -f.rank, f.n FROM (SELECT rowid, rank, count(*) OVER () AS n FROM "
                     "(SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ?2 ORDER BY rank LIMIT ?3)) f "
                     "JOIN chunks ch ON ch.id = f.rowid" +
                     kLive + filter_sql(filters, 5) + " ORDER BY f.rank LIMIT ?4");
  if (!st) return std::move(st).error();
  for (std::int64_t window = std::max(limit, 1) * 2 + 32;; window *= 2) {
    st->bind(1, collection_id).bind(2, match).bind(3, window).bind(4, static_cast<std::int64_t>(limit));
    bind_filters(*st, filters, 5);
    std::vector<ChunkHit> out;
    std::int64_t fetched = 0;
    for (;;) {
      auto row = st->step();
      if (!row) return std::move(row).error();
      if (!*row) break;
      ChunkHit h = read_hit(*st);
      h.score = st->column_double(9);
      fetched = st->column_int64(10);
      out.push_back(std::move(h));
    }
    st->reset();
    // Enough hits, or the window already held every match (none were cut off).
    if (static_cast<int>(out.size()) >= limit || (!out.empty() && fetched < window)) return out;
    if (out.empty()) {
      // Nothing of this collection in the window: are there more matches at all?
      auto any = c.cached("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?1");
      if (!any) return std::move(any).error();
      any->bind(1, match);
      auto row = any->step();
      if (!row) return std::move(row).error();
      if (any->column_int64(0) <= window) return out;
    }
  }
}

Result<std::vector<std::pair<std::string, std::vector<float>>>> KnowledgeRepository::cached_embeddings(
    Connection& c, std::string_view model, const std::vector<std::string>& hashes) {
  auto st = c.cached(
      "SELECT hash, vector FROM embeddings WHERE model = ?1 AND hash IN (SELECT value FROM json_each(?2))");
  if (!st) return std::move(st).error();
  st->bind(1, model).bind(2, std::string_view(json_list(hashes)));
  return st->all([](const Statement& r) {
    return std::pair<std::string, std::vector<float>>(r.column_text(0), read_vector(r.column_blob(1)));
  });
}

Status KnowledgeRepository::put_embeddings(Connection& c, std::string_view model,
                                           const std::vector<std::pair<std::string, std::vector<float>>>& vectors) {
  auto st = c.cached("INSERT OR IGNORE INTO embeddings (model, hash, vector) VALUES (?1, ?2, ?3)");
  if (!st) return std::move(st).error();
  for (const auto& [hash, v] : vectors) {
    st->bind(1, model).bind(2, std::string_view(hash)).bind_blob(3, v.data(), v.size() * sizeof(float));
    if (auto r = st->run(); !r) return r;
    st->reset();
  }
  return {};
}

Result<std::vector<std::pair<std::int64_t, std::vector<float>>>> KnowledgeRepository::live_vectors(
    Connection& c, std::string_view collection_id, std::string_view model, const std::vector<std::int64_t>* ids) {
  auto st = c.cached(std::string("SELECT ch.id, e.vector FROM chunks ch JOIN embeddings e ON e.model = ?2 AND "
                                 "e.hash = ch.hash") +
                     kLive + " AND (?3 IS NULL OR ch.id IN (SELECT value FROM json_each(?3)))");
  if (!st) return std::move(st).error();
  st->bind(1, collection_id).bind(2, model);
  if (ids) st->bind(3, std::string_view(ids_json(*ids)));
  return st->all([](const Statement& r) {
    return std::pair<std::int64_t, std::vector<float>>(r.column_int64(0), read_vector(r.column_blob(1)));
  });
}

Result<std::vector<KnowledgeRepository::ChunkText>> KnowledgeRepository::live_chunk_texts(
    Connection& c, std::string_view collection_id, const std::vector<std::int64_t>* ids) {
  auto st = c.cached(std::string("SELECT ch.id, d.title, ch.heading, ch.text FROM chunks ch") + kLive +
                     " AND (?2 IS NULL OR ch.id IN (SELECT value FROM json_each(?2)))");
  if (!st) return std::move(st).error();
  st->bind(1, collection_id);
  if (ids) st->bind(2, std::string_view(ids_json(*ids)));
  return st->all([](const Statement& r) {
    return ChunkText{r.column_int64(0), r.column_text(1), r.column_text(2), r.column_text(3)};
  });
}

Result<std::vector<KnowledgeRepository::MissingVector>> KnowledgeRepository::missing_vectors(
    Connection& c, std::string_view collection_id, std::string_view model, int limit) {
  auto st = c.cached(std::string("SELECT ch.id, ch.hash, ch.text FROM chunks ch") + kLive +
                     " AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model = ?2 AND e.hash = ch.hash) "
                     "ORDER BY ch.id LIMIT ?3");
  if (!st) return std::move(st).error();
  st->bind(1, collection_id).bind(2, model).bind(3, static_cast<std::int64_t>(limit));
  return st->all([](const Statement& r) { return MissingVector{r.column_int64(0), r.column_text(1), r.column_text(2)}; });
}

Result<std::vector<std::int64_t>> KnowledgeRepository::live_chunk_ids(Connection& c, std::string_view collection_id,
                                                                      const SearchFilters& filters) {
  auto st = c.cached(std::string("SELECT ch.id FROM chunks ch") + kLive + filter_sql(filters, 2));
  if (!st) return std::move(st).error();
  st->bind(1, collection_id);
  bind_filters(*st, filters, 2);
  return st->all([](const Statement& r) { return r.column_int64(0); });
}

Result<std::vector<ChunkHit>> KnowledgeRepository::hydrate(Connection& c, std::string_view collection_id,
                                                           const std::vector<std::int64_t>& ids,
                                                           const SearchFilters& filters) {
  // Driven by the id list (CROSS JOIN keeps it the outer loop): one primary-key lookup per id.
  auto st = c.cached(std::string("SELECT ") + kHitColumns +
                     " FROM json_each(?2) j CROSS JOIN chunks ch ON ch.id = j.value" + kLive + filter_sql(filters, 3));
  if (!st) return std::move(st).error();
  st->bind(1, collection_id).bind(2, std::string_view(ids_json(ids)));
  bind_filters(*st, filters, 3);
  return st->all(read_hit);
}

}  // namespace sb::storage
