#include "storage/migrations.hpp"

namespace sb::storage {

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "meta and boots",
       R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT INTO meta(key, value) VALUES
  ('instance_id', lower(hex(randomblob(16)))),
  ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
CREATE TABLE boots (
  id         INTEGER PRIMARY KEY,
  started_at TEXT NOT NULL,
  version    TEXT NOT NULL
);
)sql"},
      {2, "jobs",
       R"sql(
CREATE TABLE jobs (
  seq                 INTEGER PRIMARY KEY,
  id                  TEXT NOT NULL UNIQUE,
  type                TEXT NOT NULL,
  status              TEXT NOT NULL,
  priority            INTEGER NOT NULL DEFAULT 0,
  request             TEXT NOT NULL,
  request_bytes       INTEGER NOT NULL,
  idempotency_key     TEXT UNIQUE,
  webhook_url         TEXT,
  attempts            INTEGER NOT NULL DEFAULT 0,
  max_attempts        INTEGER NOT NULL,
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL,
  run_at              INTEGER NOT NULL,
  started_at          INTEGER,
  finished_at         INTEGER,
  expires_at          INTEGER NOT NULL,
  lease_owner         TEXT,
  lease_until         INTEGER,
  result              TEXT,
  result_status       INTEGER,
  error               TEXT,
  provider            TEXT,
  model               TEXT,
  webhook_state       TEXT,
  webhook_attempts    INTEGER NOT NULL DEFAULT 0,
  webhook_next_at     INTEGER,
  webhook_last_status INTEGER,
  webhook_last_error  TEXT
);
CREATE INDEX jobs_queue ON jobs(status, priority DESC, seq);
CREATE INDEX jobs_expiry ON jobs(status, expires_at);
CREATE INDEX jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_webhooks ON jobs(webhook_next_at) WHERE webhook_state = 'pending';
)sql"},
      {3, "knowledge: collections, documents, chunks, keyword index",
       R"sql(
CREATE TABLE collections (
  id              TEXT PRIMARY KEY,
  name            TEXT NOT NULL UNIQUE,
  embedding_model TEXT,
  dimension       INTEGER,
  created_at      INTEGER NOT NULL,
  deleted_at      INTEGER
);
CREATE TABLE documents (
  id            TEXT PRIMARY KEY,
  collection_id TEXT NOT NULL REFERENCES collections(id),
  external_id   TEXT,
  title         TEXT NOT NULL DEFAULT '',
  source        TEXT,
  version       INTEGER NOT NULL DEFAULT 1,
  content_hash  TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  deleted_at    INTEGER
);
CREATE INDEX documents_collection ON documents(collection_id, deleted_at);
CREATE INDEX documents_external ON documents(collection_id, external_id);
CREATE TABLE chunks (
  id          INTEGER PRIMARY KEY,
  document_id TEXT NOT NULL REFERENCES documents(id),
  version     INTEGER NOT NULL,
  ord         INTEGER NOT NULL,
  heading     TEXT NOT NULL DEFAULT '',
  page        INTEGER,
  text        TEXT NOT NULL,
  hash        TEXT NOT NULL
);
CREATE INDEX chunks_document ON chunks(document_id, version);
CREATE VIRTUAL TABLE chunks_fts USING fts5(title, heading, text, tokenize = 'snowball');
)sql"},
      {4, "knowledge: embeddings cache, document tags, metadata and ingestion state",
       R"sql(
ALTER TABLE collections ADD COLUMN embed_dimensions INTEGER;
ALTER TABLE collections ADD COLUMN next_model TEXT;
ALTER TABLE collections ADD COLUMN next_embed_dimensions INTEGER;
ALTER TABLE collections ADD COLUMN next_dimension INTEGER;
ALTER TABLE collections ADD COLUMN reembed_state TEXT;
ALTER TABLE collections ADD COLUMN reembed_error TEXT;
ALTER TABLE collections ADD COLUMN reembed_progress REAL;
ALTER TABLE documents ADD COLUMN author TEXT;
ALTER TABLE documents ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE documents ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE documents ADD COLUMN pages INTEGER;
ALTER TABLE documents ADD COLUMN content_type TEXT;
ALTER TABLE documents ADD COLUMN state TEXT NOT NULL DEFAULT 'ready';
ALTER TABLE documents ADD COLUMN state_error TEXT;
ALTER TABLE documents ADD COLUMN progress REAL;
CREATE TABLE embeddings (
  model  TEXT NOT NULL,
  hash   TEXT NOT NULL,
  vector BLOB NOT NULL,
  PRIMARY KEY (model, hash)
) WITHOUT ROWID;
)sql"},
      {5, "knowledge: uploads kept until processed",
       R"sql(
CREATE TABLE uploads (
  document_id  TEXT PRIMARY KEY REFERENCES documents(id),
  request      TEXT NOT NULL,
  content_type TEXT NOT NULL,
  filename     TEXT NOT NULL,
  bytes        BLOB NOT NULL,
  created_at   INTEGER NOT NULL
);
)sql"},
      {6, "knowledge: attempts at processing an upload",
       R"sql(
ALTER TABLE uploads ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
)sql"},
      {7, "control: API keys, usage, audit; the key a job was submitted with",
       R"sql(
CREATE TABLE api_keys (
  seq            INTEGER PRIMARY KEY,
  id             TEXT NOT NULL UNIQUE,
  name           TEXT NOT NULL UNIQUE,
  prefix         TEXT NOT NULL,
  hash           BLOB NOT NULL UNIQUE,
  previous_hash  BLOB,
  previous_until INTEGER,
  scopes         TEXT NOT NULL,
  models         TEXT NOT NULL DEFAULT '[]',
  collections    TEXT NOT NULL DEFAULT '[]',
  rpm            INTEGER,
  tpm            INTEGER,
  max_parallel   INTEGER,
  budget_usd     REAL,
  budget_period  TEXT,
  expires_at     INTEGER,
  metadata       TEXT NOT NULL DEFAULT '{}',
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  last_used_at   INTEGER,
  revoked_at     INTEGER
);
CREATE TABLE usage (
  seq               INTEGER PRIMARY KEY,  -- the row's id is "use_<seq>"
  at                INTEGER NOT NULL,
  key_id            TEXT NOT NULL,
  route             TEXT NOT NULL,
  model             TEXT NOT NULL,
  provider          TEXT NOT NULL,
  target            TEXT NOT NULL,
  prompt_tokens     INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cached_tokens     INTEGER NOT NULL,
  cost_usd          REAL NOT NULL,
  latency_ms        INTEGER NOT NULL,
  status            INTEGER NOT NULL,
  request_id        TEXT NOT NULL
);
CREATE INDEX usage_at ON usage(at);  -- appended at its end: cheap, unlike an index by key
CREATE TABLE audit (
  seq        INTEGER PRIMARY KEY,
  id         TEXT NOT NULL UNIQUE,
  at         INTEGER NOT NULL,
  actor      TEXT NOT NULL,
  client_ip  TEXT NOT NULL,
  action     TEXT NOT NULL,
  target     TEXT NOT NULL,
  outcome    TEXT NOT NULL,
  status     INTEGER NOT NULL,
  request_id TEXT NOT NULL
);
CREATE INDEX audit_at ON audit(at);
CREATE TRIGGER audit_append_only BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
ALTER TABLE jobs ADD COLUMN key_id TEXT;
)sql"},
      {8, "chat: conversations and their turns",
       R"sql(
CREATE TABLE conversations (
  seq         INTEGER PRIMARY KEY,
  id          TEXT NOT NULL UNIQUE,
  session_id  TEXT NOT NULL,           -- the client's (or the id); one live conversation per key
  assistant   TEXT NOT NULL,           -- "" for collections + model given in the request
  user        TEXT,
  key_id      TEXT NOT NULL,           -- "" without a key
  title       TEXT NOT NULL,
  turns       INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  deleted_at  INTEGER
);
CREATE UNIQUE INDEX conversations_session ON conversations(key_id, session_id) WHERE deleted_at IS NULL;
CREATE INDEX conversations_updated ON conversations(updated_at);
CREATE TABLE chat_turns (
  seq             INTEGER PRIMARY KEY,
  id              TEXT NOT NULL UNIQUE,
  conversation_id TEXT NOT NULL,
  question        TEXT NOT NULL,
  query           TEXT NOT NULL,       -- what retrieval searched (the rewritten question)
  chunk_ids       TEXT NOT NULL,       -- JSON array of the retrieved chunks, in source order
  answer          TEXT NOT NULL,
  citations       TEXT NOT NULL,       -- JSON array
  model           TEXT NOT NULL,
  prompt_tokens   INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  latency_ms      INTEGER NOT NULL,
  finish_reason   TEXT NOT NULL,
  created_at      INTEGER NOT NULL
);
CREATE INDEX chat_turns_conversation ON chat_turns(conversation_id, seq);
)sql"},
      {9, "chat: assistants made through the API",
       R"sql(
CREATE TABLE assistants (
  seq        INTEGER PRIMARY KEY,
  id         TEXT NOT NULL UNIQUE,
  name       TEXT NOT NULL UNIQUE,
  spec       TEXT NOT NULL,  -- JSON, as the API takes it
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
)sql"},
      {10, "workflows: agent runs",
       R"sql(
CREATE TABLE agent_runs (
  seq           INTEGER PRIMARY KEY,
  id            TEXT NOT NULL UNIQUE,
  agent         TEXT NOT NULL,
  key_id        TEXT NOT NULL DEFAULT '',
  finish_reason TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  run           TEXT NOT NULL  -- JSON: the whole run as GET /api/v1/workflows/runs/{id} answers it
);
CREATE INDEX agent_runs_key ON agent_runs(key_id, seq);
)sql"},
      {11, "workflows: agents made through the API",
       R"sql(
CREATE TABLE agents (
  seq        INTEGER PRIMARY KEY,
  id         TEXT NOT NULL UNIQUE,
  name       TEXT NOT NULL UNIQUE,
  spec       TEXT NOT NULL,  -- JSON, as the API takes it
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
)sql"},
  };
  return kMigrations;
}

Result<int> schema_version(Connection& conn) {
  auto st = conn.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)");
  if (!st) return std::move(st).error();
  auto v = conn.query_text("SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (!v) return std::move(v).error();
  return *v ? std::stoi(**v) : 0;
}

Result<MigrationReport> migrate(Connection& conn, const std::vector<Migration>& list) {
  auto current = schema_version(conn);
  if (!current) return std::move(current).error();
  MigrationReport report;
  report.from_version = report.to_version = *current;
  int newest = list.empty() ? 0 : list.back().version;
  if (*current > newest) {
    return Error(core::ErrorKind::unavailable,
                 "database schema version " + std::to_string(*current) +
                     " is newer than this build knows (" + std::to_string(newest) +
                     "); use a newer switchboard",
                 {}, "storage");
  }
  for (const Migration& m : list) {
    if (m.version <= report.to_version) continue;
    std::string label = "migration " + std::to_string(m.version) + " (" + m.name + ")";
    if (auto st = conn.exec("BEGIN IMMEDIATE"); !st) {
      return Error(st.error().kind, label + ": " + st.error().message, {}, "storage");
    }
    auto st = conn.exec(m.sql);
    if (st) {
      auto ins = conn.prepare(
          "INSERT INTO schema_migrations(version, name, applied_at)"
          " VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))");
      if (!ins) {
        st = std::move(ins).error();
      } else {
        ins->bind(1, static_cast<std::int64_t>(m.version)).bind(2, m.name);
        st = ins->run();
      }
    }
    if (st) st = conn.exec("COMMIT");
    if (!st) {
      (void)conn.exec("ROLLBACK");
      return Error(st.error().kind, label + " failed: " + st.error().message, {}, "storage");
    }
    report.to_version = m.version;
    ++report.applied;
  }
  return report;
}

}  // namespace sb::storage
