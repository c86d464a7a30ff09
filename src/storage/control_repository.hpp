#pragma once
// The control plane's tables: API keys, usage rows and the audit log. Functions take the
// Connection they run on (Database::write for changes, Database::run for reads). Times of keys
// and audit entries are Unix seconds; usage rows are stamped in Unix milliseconds.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/page.hpp"
#include "storage/sqlite.hpp"

namespace sb::storage {

struct ApiKeyRow {
  std::string id, name, prefix;
  std::string hash;                         // 32 bytes: SHA-256(pepper || secret)
  std::optional<std::string> previous_hash;  // the secret before a rotation
  std::optional<std::int64_t> previous_until;  // ... accepted until (Unix ms)
  std::string scopes = "[]", models = "[]", collections = "[]";  // JSON arrays of strings
  std::optional<std::int64_t> rpm, tpm, max_parallel;
  std::optional<double> budget_usd;
  std::optional<std::string> budget_period;
  std::optional<std::int64_t> expires_at;
  std::string metadata = "{}";
  std::int64_t created_at = 0, updated_at = 0;
  std::optional<std::int64_t> last_used_at, revoked_at;
};

struct UsageRow {
  std::string id;  // "use_<seq>", when read
  std::int64_t at_ms = 0;
  std::string key_id;  // "" for traffic without a key
  std::string route, model, provider, target;
  std::int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
  double cost_usd = 0;
  std::int64_t latency_ms = 0;
  int status = 0;
  std::string request_id;
};

struct UsageQuery {
  std::int64_t from_ms = 0, to_ms = 0;  // to 0 = no end
  std::string key_id;                   // "" = every key
};

struct UsageGroup {
  std::string group;
  std::int64_t requests = 0, prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
  double cost_usd = 0;
};

struct AuditRow {
  std::string id;
  std::int64_t at = 0;
  std::string actor, client_ip, action, target, outcome;
  int status = 0;
  std::string request_id;
};

struct AuditQuery {
  std::string actor, action, target;
  std::int64_t from = 0, to = 0;
};

class ControlRepository {
 public:
  static Result<std::vector<ApiKeyRow>> keys(Connection& c);
  static Status insert_key(Connection& c, const ApiKeyRow& row);
  // Every column but seq and id, by id.
  static Status update_key(Connection& c, const ApiKeyRow& row);
  static Status touch_keys(Connection& c, const std::vector<std::pair<std::string, std::int64_t>>& last_used);

  static Status insert_usage(Connection& c, const std::vector<UsageRow>& rows);
  static Result<Page<UsageRow>> usage(Connection& c, const UsageQuery& q, const PageRequest& page);
  // group_by: key | model | provider | day (UTC, "YYYY-MM-DD").
  static Result<std::vector<UsageGroup>> usage_groups(Connection& c, const UsageQuery& q, std::string_view group_by);
  // Cost of each key since `since_ms`.
  static Result<std::vector<std::pair<std::string, double>>> spent_since(Connection& c, std::int64_t since_ms);
  static Result<double> spent(Connection& c, std::string_view key_id, std::int64_t since_ms);

  static Status insert_audit(Connection& c, const std::vector<AuditRow>& rows);
  static Result<Page<AuditRow>> audit(Connection& c, const AuditQuery& q, const PageRequest& page);
  // Deletes entries before `before` (Unix seconds); returns how many.
  static Result<std::int64_t> expire_audit(Connection& c, std::int64_t before);
};

}  // namespace sb::storage
