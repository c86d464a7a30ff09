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
  std::vector<CollectionRow> out;
  for (;;) {
    auto row = st->step();
    if (!row) return std::move(row).error();
    if (!*row) return out;
    out.push_back(CollectionRow{st->column_text(0), st->column_text(1), st->column_opt_text(2),
                                st->column_opt_int64(3), st->column_int64(4)});
  }
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
  auto ch = c.cached(
      "INSERT INTO chunks (document_id, version, ord, heading, page, text, hash) "
      "VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6) RETURNING id");
  if (!ch) return std::move(ch).error();
  auto fts = c.cached("INSERT INTO chunks_fts (rowid, title, heading, text) VALUES (?1, ?2, ?3, ?4)");
  if (!fts) return std::move(fts).error();
  for (const auto& chunk : doc.chunks) {
    ch->bind(1, std::string_view(doc.id))
        .bind(2, static_cast<std::int64_t>(chunk.ord))
        .bind(3, std::string_view(chunk.heading))
        .bind_opt(4, chunk.page)
        .bind(5, std::string_view(chunk.text))
        .bind(6, std::string_view(chunk.hash));
    auto row = ch->step();
    if (!row) return std::move(row).error();
    const std::int64_t chunk_id = ch->column_int64(0);
    ch->reset();
    fts->bind(1, chunk_id)
        .bind(2, std::string_view(doc.title))
        .bind(3, std::string_view(chunk.heading))
        .bind(4, std::string_view(chunk.text));
    if (auto r = fts->run(); !r) return r;
    fts->reset();
  }
  return {};
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
