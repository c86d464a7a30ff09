#include "storage/database.hpp"

#include <sqlite3.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <system_error>
#include <thread>

namespace sb::storage {

// The single writer: one connection, one thread, batches of queued writes per transaction.
// Checkpoints happen off the write path: the WAL hook asks a checkpointer thread (with its own
// connection) for a PASSIVE checkpoint, which copies pages while writes go on; only if the WAL
// still grows past kBlockingPages does the writer checkpoint itself.
struct Database::Writer {
  static constexpr std::size_t kMaxBatch = 1024;
  static constexpr int kCheckpointPages = 4000;  // ~16 MB: fewer checkpoints (each fsyncs)
  static constexpr int kBlockingPages = 20000;  // ~80 MB of WAL

  Writer(std::unique_ptr<Connection> c, std::unique_ptr<Connection> ckpt, std::size_t max_queue)
      : conn(std::move(c)), checkpoint_conn(std::move(ckpt)), limit(max_queue) {
    sqlite3_wal_hook(conn->handle(), &Writer::on_wal, this);
    thread = std::thread([this] { loop(); });
    checkpointer = std::thread([this] { checkpoint_loop(); });
  }
  ~Writer() { stop(); }

  static int on_wal(void* self, sqlite3* db, const char*, int pages) {
    auto* w = static_cast<Writer*>(self);
    if (pages >= kBlockingPages) {
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    } else if (pages >= kCheckpointPages) {
      std::lock_guard lock(w->mu);
      w->checkpoint_wanted = true;
      w->checkpoint_cv.notify_one();
    }
    return SQLITE_OK;
  }

  void checkpoint_loop() {
    for (;;) {
      {
        std::unique_lock lock(mu);
        checkpoint_cv.wait(lock, [&] { return stopping || checkpoint_wanted; });
        if (stopping) return;
        checkpoint_wanted = false;
      }
      sqlite3_wal_checkpoint_v2(checkpoint_conn->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                nullptr, nullptr);
    }
  }

  void submit(std::unique_ptr<WriteTask> t) {
    {
      std::unique_lock lock(mu);
      if (!stopping && queue.size() < limit) {
        queue.push_back(std::move(t));
        lock.unlock();
        cv.notify_one();  // after unlocking: the writer wakes to a free mutex
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
      checkpoint_cv.notify_one();
    }
    if (thread.joinable()) thread.join();
    if (checkpointer.joinable()) checkpointer.join();
  }

  Status exec(std::string_view sql) {
    auto st = conn->cached(sql);
    if (!st) return std::move(st).error();
    return st->run();
  }

  void loop() {
    std::vector<std::unique_ptr<WriteTask>> batch;
    bool failed_alone = false;
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
      if (!failed && batch.size() == 1) {
        // Alone in its transaction: a failed write rolls the whole transaction back.
        if (!batch.front()->run(*conn)) failed_alone = true;
      } else if (!failed) {
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
      if (!failed && !failed_alone) {
        if (auto st = exec("COMMIT"); !st) failed = st.error();
      }
      if (failed || failed_alone) (void)exec("ROLLBACK");
      // A write that failed alone reports its own error (finish(nullptr) delivers its result).
      for (auto& t : batch) t->finish(failed ? &*failed : nullptr);
      batch.clear();
      failed_alone = false;
    }
  }

  std::unique_ptr<Connection> conn;
  std::unique_ptr<Connection> checkpoint_conn;
  std::size_t limit;
  std::mutex mu;  // guards queue, stopping, checkpoint_wanted
  std::condition_variable cv;
  std::condition_variable checkpoint_cv;
  std::deque<std::unique_ptr<WriteTask>> queue;
  bool stopping = false;
  bool checkpoint_wanted = false;
  std::thread thread;
  std::thread checkpointer;
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
  options.mmap_mb = config.mmap_mb;
  options.cache_mb = config.cache_mb;
  std::string path = (std::filesystem::path(config.data_dir) / "switchboard.db").string();
  std::unique_ptr<Database> db(new Database(path, options, config));
  auto report = db->run_sync([&](Connection& c) { return migrate(c, list); });
  if (!report) return std::move(report).error();
  db->report_ = *report;
  auto wc = Connection::open(path, options);
  if (!wc) return std::move(wc).error();
  auto cc = Connection::open(path, options);
  if (!cc) return std::move(cc).error();
  db->writer_ = std::make_unique<Writer>(std::move(*wc), std::move(*cc),
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
