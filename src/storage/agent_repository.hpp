#pragma once
// Agent runs (workflows): one row per run, the whole run as JSON. Times are Unix seconds.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/page.hpp"
#include "storage/sqlite.hpp"

namespace sb::storage {

struct AgentRunRow {
  std::string id;  // run_<hex>
  std::string agent;
  std::string key_id;  // "" without a key
  std::string finish_reason;
  std::int64_t created_at = 0;
  std::string run;  // JSON
};

struct AgentRow {
  std::string id;  // agent_<hex>
  std::string name;
  std::string spec;  // JSON
  std::int64_t created_at = 0, updated_at = 0;
};

class AgentRepository {
 public:
  // Agents made through the API, oldest first.
  static Result<std::vector<AgentRow>> agents(Connection& c);
  static Status insert_agent(Connection& c, const AgentRow& row);   // conflict: the name is taken
  static Status update_agent(Connection& c, const AgentRow& row);   // by id
  static Status delete_agent(Connection& c, std::string_view id);

  // A row with the same id is replaced (a job's run that ran again).
  static Status insert(Connection& c, const AgentRunRow& row);
  static Result<std::optional<AgentRunRow>> get(Connection& c, std::string_view id);
  // key_id nullopt: everyone's (admin).
  static Result<Page<AgentRunRow>> list(Connection& c, const std::optional<std::string>& key_id, const PageRequest& page);
};

}  // namespace sb::storage
