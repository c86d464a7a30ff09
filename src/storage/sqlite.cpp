#include "storage/sqlite.hpp"

#include <sqlite3.h>

#include "storage/snowball_tokenizer.hpp"

namespace sb::storage {

Error sqlite_error(sqlite3* db, std::string_view what) {
  int code = db ? sqlite3_extended_errcode(db) : SQLITE_ERROR;
  auto kind = (code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED
                  ? core::ErrorKind::busy
                  : core::ErrorKind::unavailable;
  std::string msg(what);
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : "out of memory";
  return Error(kind, std::move(msg), {}, "storage");
}

Statement::~Statement() {
  if (!stmt_) return;
  if (owned_) {
    sqlite3_finalize(stmt_);
  } else {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Statement& Statement::bind(int index, std::int64_t v) {
  sqlite3_bind_int64(stmt_, index, v);
  return *this;
}

Statement& Statement::bind(int index, std::string_view v) {
  sqlite3_bind_text(stmt_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind_unowned(int index, std::string_view v) {
  sqlite3_bind_text(stmt_, index, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  return *this;
}

Statement& Statement::bind_blob(int index, const void* data, std::size_t bytes) {
  sqlite3_bind_blob64(stmt_, index, data, bytes, SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind_double(int index, double v) {
  sqlite3_bind_double(stmt_, index, v);
  return *this;
}

Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(db_, "step");
}

Status Statement::run() {
  for (;;) {
    auto r = step();
    if (!r) return std::move(r).error();
    if (!*r) return {};
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::column_int64(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Statement::column_text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n))
           : std::string();
}

std::string_view Statement::column_blob(int col) const {
  const auto* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string_view(static_cast<const char*>(p), static_cast<std::size_t>(n))
           : std::string_view();
}

std::optional<std::int64_t> Statement::column_opt_int64(int col) const {
  if (column_is_null(col)) return std::nullopt;
  return column_int64(col);
}

std::optional<std::string> Statement::column_opt_text(int col) const {
  if (column_is_null(col)) return std::nullopt;
  return column_text(col);
}

double Statement::column_double(int col) const { return sqlite3_column_double(stmt_, col); }

std::int64_t Statement::changes() const { return sqlite3_changes64(db_); }

bool Statement::column_is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path,
                                                     const Options& options) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    Error e = sqlite_error(db, "open " + path);
    sqlite3_close(db);
    return e;
  }
  std::unique_ptr<Connection> conn(new Connection(db));
  if (!register_snowball_tokenizer(db)) {
    return Error(core::ErrorKind::unavailable, "open " + path + ": cannot register the FTS5 tokenizer",
                 {}, "storage");
  }
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  sqlite3_extended_result_codes(db, 1);
  auto mode = conn->query_text("PRAGMA journal_mode=WAL");
  if (!mode) return std::move(mode).error();
  if (!*mode || **mode != "wal") {
    return Error(core::ErrorKind::unavailable,
                 "open " + path + ": could not enable WAL journal mode", {}, "storage");
  }
  std::string pragmas = options.synchronous_full ? "PRAGMA synchronous=FULL;"
                                                 : "PRAGMA synchronous=NORMAL;";
  pragmas += "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;";
  pragmas += "PRAGMA mmap_size=" + std::to_string(static_cast<std::int64_t>(options.mmap_mb) << 20) + ";";
  pragmas += "PRAGMA cache_size=-" + std::to_string(static_cast<std::int64_t>(options.cache_mb) * 1024) + ";";
  if (auto st = conn->exec(pragmas); !st) return std::move(st).error();
  return conn;
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Result<Statement> Connection::cached(std::string_view sql) {
  auto it = cache_.find(std::string(sql));
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(db_, "prepare");
    it = cache_.emplace(std::string(sql), stmt).first;
  }
  return Statement(db_, it->second, false);
}

Status Connection::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    auto kind = (rc & 0xff) == SQLITE_BUSY ? core::ErrorKind::busy : core::ErrorKind::unavailable;
    return Error(kind, "exec: " + msg, {}, "storage");
  }
  return {};
}

Result<Statement> Connection::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return sqlite_error(db_, "prepare");
  return Statement(db_, stmt);
}

Result<std::optional<std::string>> Connection::query_text(std::string_view sql) {
  auto stmt = prepare(sql);
  if (!stmt) return std::move(stmt).error();
  auto row = stmt->step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(stmt->column_text(0));
}

}  // namespace sb::storage
