#include "storage/database.hpp"

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <system_error>
#include <thread>

namespace sb::storage {

// The single writer: one connection, one thread, batches of queued writes per transaction.
struct Database::Writer {
  static constexpr std::size_t kMaxBatch = 1024;

  Writer(std::unique_ptr<Connection> c, std::size_t max_queue)
      : conn(std::move(c)), limit(max_queue), thread([this] { loop(); }) {}
  ~Writer() { stop(); }

  void submit(std::unique_ptr<WriteTask> t) {
    {
      std::lock_guard lock(mu);
      if (!stopping && queue.size() < limit) {
        queue.push_back(std::move(t));
        cv.notify_one();
        return;
      }
    }
    Error e(stopping ? core::ErrorKind::unavailable : core::ErrorKind::busy,
            stopping ? "database is closed" : "server busy: write queue is full", {}, "storage");
    t->finish(&e);
  }

  void stop() {
    {
      std::lock_guard lock(mu);
      if (stopping && !thread.joinable()) return;
      stopping = true;
      cv.notify_one();
    }
    if (thread.joinable()) thread.join();
  }

  Status exec(std::string_view sql) {
    auto st = conn->cached(sql);
    if (!st) return std::move(st).error();
    return st->run();
  }

  void loop() {
    std::vector<std::unique_ptr<WriteTask>> batch;
    for (;;) {
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping, and everything queued was written
        while (!queue.empty() && batch.size() < kMaxBatch) {
          batch.push_back(std::move(queue.front()));
          queue.pop_front();
        }
      }
      std::optional<Error> failed;
      if (auto st = exec("BEGIN IMMEDIATE"); !st) failed = st.error();
      if (!failed) {
        for (auto& t : batch) {
          if (auto st = exec("SAVEPOINT w"); !st) {
            failed = st.error();
            break;
          }
          if (!t->run(*conn)) {
            if (auto st = exec("ROLLBACK TO w"); !st) {
              failed = st.error();
              break;
            }
          }
          if (auto st = exec("RELEASE w"); !st) {
            failed = st.error();
            break;
          }
        }
      }
      if (!failed) {
        if (auto st = exec("COMMIT"); !st) failed = st.error();
      }
      if (failed) (void)conn->exec("ROLLBACK");
      for (auto& t : batch) t->finish(failed ? &*failed : nullptr);
      batch.clear();
    }
  }

  std::unique_ptr<Connection> conn;
  std::size_t limit;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::unique_ptr<WriteTask>> queue;
  bool stopping = false;
  std::thread thread;
};

void Database::submit(std::unique_ptr<WriteTask> task) {
  if (!writer_) {
    Error e(core::ErrorKind::unavailable, "database is closed", {}, "storage");
    task->finish(&e);
    return;
  }
  writer_->submit(std::move(task));
}

Database::Database(std::string path, Connection::Options options,
                   const core::StorageConfig& config)
    : path_(std::move(path)),
      options_(options),
      pool_(static_cast<std::size_t>(config.blocking_threads),
            static_cast<std::size_t>(config.blocking_queue)) {}

Database::~Database() { close(); }

Result<std::unique_ptr<Database>> Database::open(const core::StorageConfig& config,
                                                 const std::vector<Migration>& list) {
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    return Error(core::ErrorKind::unavailable,
                 "cannot create data dir " + config.data_dir + ": " + ec.message(), {}, "storage");
  }
  Connection::Options options;
  options.synchronous_full = config.synchronous == "full";
  options.busy_timeout_ms = config.busy_timeout_ms;
  std::string path = (std::filesystem::path(config.data_dir) / "switchboard.db").string();
  std::unique_ptr<Database> db(new Database(path, options, config));
  auto report = db->run_sync([&](Connection& c) { return migrate(c, list); });
  if (!report) return std::move(report).error();
  db->report_ = *report;
  auto wc = Connection::open(path, options);
  if (!wc) return std::move(wc).error();
  db->writer_ = std::make_unique<Writer>(std::move(*wc),
                                         static_cast<std::size_t>(config.blocking_queue) * 16);
  return db;
}

Result<std::unique_ptr<Connection>> Database::acquire() {
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      return Error(core::ErrorKind::unavailable, "database is closed", {}, "storage");
    }
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return Connection::open(path_, options_);
}

void Database::release(std::unique_ptr<Connection> conn) {
  std::lock_guard lock(mu_);
  if (!closed_) idle_.push_back(std::move(conn));
}

void Database::close() {
  pool_.stop();
  if (writer_) writer_->stop();  // writes already queued are committed first
  std::vector<std::unique_ptr<Connection>> conns;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    conns.swap(idle_);
  }
  if (!conns.empty()) (void)conns.front()->exec("PRAGMA wal_checkpoint(TRUNCATE)");
  conns.clear();
}

}  // namespace sb::storage
