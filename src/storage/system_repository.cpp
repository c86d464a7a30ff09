#include "storage/system_repository.hpp"

namespace sb::storage {

Result<std::int64_t> SystemRepository::record_boot(std::string_view version) {
  return db_.run_sync([version](Connection& c) -> Result<std::int64_t> {
    auto stmt = c.prepare(
        "INSERT INTO boots(started_at, version) VALUES (strftime('%Y-%m-%dT%H:%M:%fZ','now'), ?)"
        " RETURNING id");
    if (!stmt) return std::move(stmt).error();
    stmt->bind(1, version);
    auto row = stmt->step();
    if (!row) return std::move(row).error();
    return stmt->column_int64(0);
  });
}

Result<StorageStatus> SystemRepository::read_status(Connection& c) {
  StorageStatus s;
  auto v = schema_version(c);
  if (!v) return std::move(v).error();
  s.schema_version = *v;
  auto id = c.query_text("SELECT value FROM meta WHERE key = 'instance_id'");
  if (!id) return std::move(id).error();
  s.instance_id = id->value_or("");
  auto boots = c.query_text("SELECT count(*) FROM boots");
  if (!boots) return std::move(boots).error();
  s.boots = *boots ? std::stoll(**boots) : 0;
  auto mode = c.query_text("PRAGMA journal_mode");
  if (!mode) return std::move(mode).error();
  s.journal_mode = mode->value_or("");
  return s;
}

boost::asio::awaitable<Result<StorageStatus>> SystemRepository::status() {
  co_return co_await db_.run([](Connection& c) { return read_status(c); });
}

}  // namespace sb::storage
