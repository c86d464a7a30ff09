#pragma once
// Thin RAII wrapper over sqlite3 used only inside src/storage/. Errors are values.
// A Connection is used by one thread at a time (opened with SQLITE_OPEN_NOMUTEX).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>
#include <unordered_map>

#include "core/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace sb::storage {

using core::Error;
using core::Result;
using core::Status;

class Statement {
 public:
  // owned = false: a statement cached by its Connection; destroying this handle resets it.
  Statement(sqlite3* db, sqlite3_stmt* stmt, bool owned = true)
      : db_(db), stmt_(stmt), owned_(owned) {}
  Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_), owned_(o.owned_) {
    o.stmt_ = nullptr;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based, as in SQLite.
  Statement& bind(int index, std::int64_t v);
  Statement& bind(int index, std::string_view v);
  Statement& bind(int index, const char* v) { return bind(index, std::string_view(v)); }
  // Without a copy: `v` must stay valid until the statement is reset or destroyed (a batch
  // insert of rows the caller holds).
  Statement& bind_unowned(int index, std::string_view v);
  Statement& bind_null(int index);
  Statement& bind_double(int index, double v);
  // Raw bytes (BLOB), e.g. a float vector.
  Statement& bind_blob(int index, const void* data, std::size_t bytes);

  // true = a row is available; false = done.
  Result<bool> step();
  // Runs to completion, ignoring rows.
  Status run();
  // Runs to completion, reading each row with read(const Statement&).
  template <class F>
  Result<std::vector<std::invoke_result_t<F, const Statement&>>> all(F read) {
    std::vector<std::invoke_result_t<F, const Statement&>> out;
    for (;;) {
      auto more = step();
      if (!more) return std::move(more).error();
      if (!*more) return out;
      out.push_back(read(static_cast<const Statement&>(*this)));
    }
  }
  void reset();

  // Binds v, or NULL when v is empty (optional values).
  Statement& bind_opt(int index, const std::optional<std::int64_t>& v) {
    return v ? bind(index, *v) : bind_null(index);
  }
  Statement& bind_opt(int index, const std::optional<std::string>& v) {
    return v ? bind(index, std::string_view(*v)) : bind_null(index);
  }

  std::int64_t column_int64(int col) const;
  std::optional<std::int64_t> column_opt_int64(int col) const;
  double column_double(int col) const;
  std::optional<std::string> column_opt_text(int col) const;
  // Rows changed by the last statement run on this connection.
  std::int64_t changes() const;
  std::string column_text(int col) const;
  // A BLOB column's bytes (valid until the next step or reset).
  std::string_view column_blob(int col) const;
  bool column_is_null(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  bool owned_ = true;
};

class Connection {
 public:
  struct Options {
    bool synchronous_full = false;
    int busy_timeout_ms = 5000;
    int mmap_mb = 0;
    int cache_mb = 2;
  };
  // Opens (creating if needed) and sets WAL mode and the pragmas from options.
  static Result<std::unique_ptr<Connection>> open(const std::string& path, const Options& options);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  Status exec(std::string_view sql);
  Result<Statement> prepare(std::string_view sql);
  // Prepared once per connection and kept; for statements run often. The handle resets the
  // statement when it goes away.
  Result<Statement> cached(std::string_view sql);
  // Convenience: first column of the first row as text, if any.
  Result<std::optional<std::string>> query_text(std::string_view sql);

  sqlite3* handle() { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

// An Error of kind `unavailable` carrying sqlite's message (never any bound values).
Error sqlite_error(sqlite3* db, std::string_view what);

}  // namespace sb::storage
