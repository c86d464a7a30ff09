#pragma once
// The agents a server knows: the config's ([[agents]], read-only) and those made through the API
// (POST/PATCH/DELETE /api/v1/agents, stored in SQLite and read again at start).

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "gateway/gateway.hpp"
#include "storage/database.hpp"

namespace sb::workflows {

struct AgentEntry {
  std::string id;  // agent_<hex>, or "config:<name>"
  core::AgentConfig agent;
  bool from_config = false;
  std::int64_t created_at = 0, updated_at = 0;
};

template <class T>
using RegistryTask = boost::asio::awaitable<core::Result<T>>;

class AgentRegistry {
 public:
  // All must outlive the registry.
  AgentRegistry(storage::Database& db, const core::Clock& clock, gateway::Gateway& gateway,
                std::vector<core::AgentConfig> config_agents, std::vector<core::ToolConfig> tools);

  // At start: the stored agents (one with a config agent's name is skipped, logged).
  core::Status load();

  std::vector<std::shared_ptr<const AgentEntry>> list() const;
  std::shared_ptr<const AgentEntry> find(std::string_view id_or_name) const;
  const std::vector<core::ToolConfig>& tools() const { return tools_; }

  // Errors: invalid_field / unknown_parameter (the spec), model_not_found, conflict (name taken;
  // a config agent cannot be changed or deleted here), not_found.
  RegistryTask<std::shared_ptr<const AgentEntry>> create(boost::json::object spec);
  RegistryTask<std::shared_ptr<const AgentEntry>> update(std::string id_or_name, boost::json::object patch);
  RegistryTask<std::shared_ptr<const AgentEntry>> remove(std::string id_or_name);

 private:
  storage::Database& db_;
  const core::Clock& clock_;
  gateway::Gateway& gateway_;
  std::vector<core::ToolConfig> tools_;
  mutable std::shared_mutex mu_;
  std::vector<std::shared_ptr<const AgentEntry>> agents_;
};

// The agent as the API shows it: its spec with id, from_config, created_at, updated_at.
boost::json::object agent_entry_json(const AgentEntry& e);

}  // namespace sb::workflows
