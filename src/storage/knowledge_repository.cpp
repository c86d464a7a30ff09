#include "storage/knowledge_repository.hpp"

namespace sb::storage {

Result<CollectionRow> KnowledgeRepository::create_collection(Connection& c, std::string_view id,
                                                             std::string_view name,
                                                             std::int64_t now) {
  auto existing = find_collection(c, name);
  if (!existing) return std::move(existing).error();
  if (*existing) {
    return Error(core::ErrorKind::conflict,
                 "a collection named '" + std::string(name) + "' already exists", "name",
                 "storage");
  }
  auto st = c.cached("INSERT INTO collections (id, name, created_at) VALUES (?1, ?2, ?3)");
  if (!st) return std::move(st).error();
  st->bind(1, id).bind(2, name).bind(3, now);
  if (auto r = st->run(); !r) return std::move(r).error();
  return CollectionRow{std::string(id), std::string(name), std::nullopt, std::nullopt, now};
}

Result<std::optional<CollectionRow>> KnowledgeRepository::find_collection(Connection& c,
                                                                          std::string_view name) {
  auto st = c.cached(
      "SELECT id, name, embedding_model, dimension, created_at FROM collections "
      "WHERE name = ?1 AND deleted_at IS NULL");
  if (!st) return std::move(st).error();
  st->bind(1, name);
  auto row = st->step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<CollectionRow>();
  return std::optional<CollectionRow>(CollectionRow{st->column_text(0), st->column_text(1),
                                                    st->column_opt_text(2),
                                                    st->column_opt_int64(3), st->column_int64(4)});
}

Result<std::vector<CollectionRow>> KnowledgeRepository::list_collections(Connection& c) {
  auto st = c.cached(
      "SELECT id, name, embedding_model, dimension, created_at FROM collections "
      "WHERE deleted_at IS NULL ORDER BY name");
  if (!st) return std::move(st).error();
  return st->all([](const Statement& r) {
    return CollectionRow{r.column_text(0), r.column_text(1), r.column_opt_text(2),
                         r.column_opt_int64(3), r.column_int64(4)};
  });
}

Result<std::pair<std::int64_t, std::int64_t>> KnowledgeRepository::collection_counts(
    Connection& c, std::string_view id) {
  auto st = c.cached(
      "SELECT count(DISTINCT d.id), count(ch.id) FROM documents d LEFT JOIN chunks ch "
      "ON ch.document_id = d.id AND ch.version = d.version "
      "WHERE d.collection_id = ?1 AND d.deleted_at IS NULL");
  if (!st) return std::move(st).error();
  st->bind(1, id);
  auto row = st->step();
  if (!row) return std::move(row).error();
  return std::pair<std::int64_t, std::int64_t>{st->column_int64(0), st->column_int64(1)};
}

namespace {

// The chunks of one version of a document, and their keyword index entries.
Status insert_chunks(Connection& c, std::string_view document_id, int version,
                     std::string_view title, const std::vector<ChunkInsert>& chunks) {
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
                                             const DocumentInsert& doc) {
  const int version = existing.version + 1;
  auto unindex = c.cached(
      "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE document_id = ?1 AND "
      "version = ?2)");
  if (!unindex) return std::move(unindex).error();
  unindex->bind(1, std::string_view(existing.id)).bind(2, static_cast<std::int64_t>(existing.version));
  if (auto r = unindex->run(); !r) return std::move(r).error();
  auto upd = c.cached(
      "UPDATE documents SET version = ?1, title = ?2, source = ?3, content_hash = ?4, "
      "updated_at = ?5 WHERE id = ?6");
  if (!upd) return std::move(upd).error();
  upd->bind(1, static_cast<std::int64_t>(version))
      .bind(2, std::string_view(doc.title))
      .bind_opt(3, doc.source)
      .bind(4, std::string_view(doc.content_hash))
      .bind(5, doc.now)
      .bind(6, std::string_view(existing.id));
  if (auto r = upd->run(); !r) return std::move(r).error();
  if (auto st = insert_chunks(c, existing.id, version, doc.title, doc.chunks); !st) return std::move(st).error();
  return version;
}

Status KnowledgeRepository::add_document(Connection& c, const DocumentInsert& doc) {
  auto d = c.cached(
      "INSERT INTO documents (id, collection_id, external_id, title, source, version, "
      "content_hash, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?7)");
  if (!d) return std::move(d).error();
  d->bind(1, std::string_view(doc.id))
      .bind(2, std::string_view(doc.collection_id))
      .bind_opt(3, doc.external_id)
      .bind(4, std::string_view(doc.title))
      .bind_opt(5, doc.source)
      .bind(6, std::string_view(doc.content_hash))
      .bind(7, doc.now);
  if (auto r = d->run(); !r) return r;
  return insert_chunks(c, doc.id, 1, doc.title, doc.chunks);
}

namespace {

constexpr const char* kDocumentSelect =
    "SELECT d.rowid, d.id, col.name, d.external_id, d.title, d.source, d.version, d.content_hash, "
    "d.created_at, d.updated_at, d.deleted_at, (SELECT count(*) FROM chunks ch WHERE "
    "ch.document_id = d.id AND ch.version = d.version) FROM documents d JOIN collections col ON "
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

Result<std::vector<DocumentRow>> KnowledgeRepository::list_documents(Connection& c,
                                                                     std::string_view collection_id,
                                                                     int limit, std::int64_t before_seq) {
  auto st = c.cached(std::string(kDocumentSelect) +
                     "WHERE d.collection_id = ?1 AND d.deleted_at IS NULL AND (?2 <= 0 OR "
                     "d.rowid < ?2) ORDER BY d.rowid DESC LIMIT ?3");
  if (!st) return std::move(st).error();
  st->bind(1, collection_id).bind(2, before_seq).bind(3, static_cast<std::int64_t>(limit));
  return st->all(read_document);
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

Result<std::vector<ChunkHit>> KnowledgeRepository::keyword_search(Connection& c,
                                                                  std::string_view collection_id,
                                                                  std::string_view match,
                                                                  int limit) {
  // FTS5 ranks its own matches fastest (ORDER BY rank LIMIT inside the virtual table); the best
  // `window` are then joined and filtered to the collection's live documents. When the filter
  // leaves fewer than `limit` and the window was full, the window doubles: the answer is exact.
  // rank is bm25(): lower is better; a hit's score is its negation.
  auto st = c.cached(
      "SELECT ch.id, ch.document_id, d.external_id, d.title, ch.heading, ch.page, ch.text, "
      "-f.rank, f.n FROM (SELECT rowid, rank, count(*) OVER () AS n FROM "
      "(SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ?1 ORDER BY rank LIMIT ?3)) f "
      "JOIN chunks ch ON ch.id = f.rowid JOIN documents d ON d.id = ch.document_id "
      "WHERE d.collection_id = ?2 AND d.deleted_at IS NULL AND ch.version = d.version "
      "ORDER BY f.rank LIMIT ?4");
  if (!st) return std::move(st).error();
  for (std::int64_t window = std::max(limit, 1) * 2 + 32;; window *= 2) {
    st->bind(1, match).bind(2, collection_id).bind(3, window).bind(4, static_cast<std::int64_t>(limit));
    std::vector<ChunkHit> out;
    std::int64_t fetched = 0;
    for (;;) {
      auto row = st->step();
      if (!row) return std::move(row).error();
      if (!*row) break;
      ChunkHit h;
      h.chunk_id = st->column_int64(0);
      h.document_id = st->column_text(1);
      h.external_id = st->column_opt_text(2);
      h.title = st->column_text(3);
      h.heading = st->column_text(4);
      h.page = st->column_opt_int64(5);
      h.text = st->column_text(6);
      h.score = st->column_double(7);
      fetched = st->column_int64(8);
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

}  // namespace sb::storage
