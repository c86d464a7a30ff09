#include "storage/database.hpp"

#include <filesystem>
#include <system_error>

namespace sb::storage {

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
