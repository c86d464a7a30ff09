#pragma once
// Facts about the store itself: schema version, instance id, boots. Used by /ready and startup.

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string>

#include "storage/database.hpp"

namespace sb::storage {

struct StorageStatus {
  int schema_version = 0;
  std::string instance_id;
  std::int64_t boots = 0;
  std::string journal_mode;
};

class SystemRepository {
 public:
  explicit SystemRepository(Database& db) : db_(db) {}

  // Records one start of the server (version string) and returns the boot number.
  Result<std::int64_t> record_boot(std::string_view version);
  // Reads the status; a failure means the store is not usable.
  boost::asio::awaitable<Result<StorageStatus>> status();

  static Result<StorageStatus> read_status(Connection& c);

 private:
  Database& db_;
};

}  // namespace sb::storage
