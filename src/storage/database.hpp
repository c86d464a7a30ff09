#pragma once
// The embedded database: one SQLite file (WAL) in the data dir, a small pool of connections,
// and the blocking pool that every call runs on, so no I/O thread waits on SQLite.
//
//   auto r = co_await db.run([](Connection& c) -> Result<int> { ... });

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "core/blocking_pool.hpp"
#include "core/config.hpp"
#include "storage/migrations.hpp"
#include "storage/sqlite.hpp"

namespace sb::storage {

class Database {
 public:
  // Creates the data dir if needed, opens <data_dir>/switchboard.db and applies migrations.
  static Result<std::unique_ptr<Database>> open(const core::StorageConfig& config,
                                                const std::vector<Migration>& list = migrations());
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  const std::string& path() const { return path_; }
  const MigrationReport& migration_report() const { return report_; }
  core::BlockingPool& pool() { return pool_; }

  // Runs f(Connection&) on the blocking pool. f returns a Result<T>.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F, Connection&>> run(F f) {
    co_return co_await pool_.run([this, f = std::move(f)]() mutable {
      auto conn = acquire();
      if (!conn) return std::invoke_result_t<F, Connection&>(std::move(conn).error());
      auto r = f(**conn);
      release(std::move(*conn));
      return r;
    });
  }

  // Runs f on the calling thread (startup, CLI commands, tests).
  template <class F>
  std::invoke_result_t<F, Connection&> run_sync(F f) {
    auto conn = acquire();
    if (!conn) return std::move(conn).error();
    auto r = f(**conn);
    release(std::move(*conn));
    return r;
  }

  // Waits for queued work, checkpoints the WAL and closes every connection. Idempotent.
  void close();

 private:
  Database(std::string path, Connection::Options options, const core::StorageConfig& config);
  Result<std::unique_ptr<Connection>> acquire();
  void release(std::unique_ptr<Connection> conn);

  std::string path_;
  Connection::Options options_;
  MigrationReport report_;
  core::BlockingPool pool_;
  std::mutex mu_;  // guards idle_ and closed_
  std::vector<std::unique_ptr<Connection>> idle_;
  bool closed_ = false;
};

}  // namespace sb::storage
