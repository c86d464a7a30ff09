#pragma once
// Versioned, forward-only schema migrations. Each is applied in its own transaction together
// with its row in schema_migrations, so a crash leaves the database at the previous version.

#include <string>
#include <vector>

#include "storage/sqlite.hpp"

namespace sb::storage {

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// The migrations of this build, in version order.
const std::vector<Migration>& migrations();

struct MigrationReport {
  int from_version = 0;
  int to_version = 0;
  int applied = 0;
};

// Applies every migration newer than the database's version. Refuses a database whose version
// is newer than the newest migration (it was written by a later build).
Result<MigrationReport> migrate(Connection& conn, const std::vector<Migration>& list);

// The version recorded in schema_migrations (0 for a new database).
Result<int> schema_version(Connection& conn);

}  // namespace sb::storage
