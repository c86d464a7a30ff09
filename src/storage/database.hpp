#pragma once
// The embedded database: one SQLite file (WAL) in the data dir, a small pool of connections,
// and the blocking pool that every call runs on, so no I/O thread waits on SQLite.
//
//   auto r = co_await db.run([](Connection& c) -> Result<int> { ... });

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <mutex>
#include <optional>
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
    // Named, not a temporary in the co_await: GCC 12 copies capturing lambda temporaries there
    // bitwise.
    auto task = [this, f = std::move(f)]() mutable {
      auto conn = acquire();
      if (!conn) return std::invoke_result_t<F, Connection&>(std::move(conn).error());
      auto r = f(**conn);
      release(std::move(*conn));
      return r;
    };
    co_return co_await pool_.run(std::move(task));
  }

  // Runs f(Connection&) on the single writer thread, inside a transaction shared with the other
  // writes queued at the same moment (group commit), in its own savepoint: an f that returns
  // an error has its changes rolled back, the others' stay. The result is delivered only after
  // the transaction committed, so a caller that sees success knows the write is durable (to
  // the level storage.synchronous sets). f returns a Result<T>.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F, Connection&>> write(F f) {
    using R = std::invoke_result_t<F, Connection&>;
    co_return co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(R)>(
        [this](auto handler, F fn) {
          using H = decltype(handler);
          struct Task final : WriteTask {
            Task(F f, H h)
                : fn(std::move(f)),
                  handler(std::move(h)),
                  work(boost::asio::make_work_guard(boost::asio::get_associated_executor(handler))) {}
            bool run(Connection& c) override {
              try {
                result.emplace(fn(c));
              } catch (const std::exception& e) {
                result.emplace(Error(core::ErrorKind::internal, e.what(), {}, "storage"));
              }
              return result->ok();
            }
            void finish(const Error* commit_error) override {
              R r = commit_error ? R(*commit_error) : std::move(*result);
              auto ex = work.get_executor();
              boost::asio::dispatch(ex, [h = std::move(handler), r = std::move(r)]() mutable {
                std::move(h)(std::move(r));
              });
            }
            F fn;
            H handler;
            boost::asio::executor_work_guard<boost::asio::associated_executor_t<H>> work;
            std::optional<R> result;
          };
          submit(std::make_unique<Task>(std::move(fn), std::move(handler)));
        },
        boost::asio::use_awaitable, std::move(f));
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
  struct WriteTask {
    virtual ~WriteTask() = default;
    virtual bool run(Connection& c) = 0;               // inside the batch's transaction
    virtual void finish(const Error* commit_error) = 0;  // after COMMIT (or its failure)
  };
  struct Writer;
  void submit(std::unique_ptr<WriteTask> task);

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
  std::unique_ptr<Writer> writer_;
};

}  // namespace sb::storage
