#include "workflows/agent_registry.hpp"

#include <boost/json/parse.hpp>

#include <mutex>

#include "core/ids.hpp"
#include "core/json_text.hpp"
#include "core/log.hpp"
#include "storage/agent_repository.hpp"
#include "workflows/agent.hpp"

namespace sb::workflows {

namespace json = boost::json;
using core::Error;
using core::ErrorKind;

namespace {

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) return false;
  }
  return true;
}

core::Result<core::AgentConfig> checked(const json::object& spec, const std::vector<core::ToolConfig>& tools) {
  if (const auto* n = spec.if_contains("name"); !n || !n->is_string() || !valid_name(std::string(n->get_string()))) {
    return Error(ErrorKind::invalid_field, "'name' is required: 1-64 characters from a-z 0-9 _ . -", "name");
  }
  auto a = agent_from_json(spec, &tools);
  if (!a) {
    Error e = std::move(a).error();
    // (agent_from_json names the fields "agent.<field>": here the body is the agent)
    if (e.param.rfind("agent.", 0) == 0) e.param = e.param.substr(6);
    auto at = e.message.find("'agent.");
    if (at != std::string::npos) e.message.erase(at + 1, 6);
    return e;
  }
  return a;
}

}  // namespace

json::object agent_entry_json(const AgentEntry& e) {
  json::object o = agent_json(e.agent);
  o["id"] = e.id;
  o["object"] = "agent";
  o["from_config"] = e.from_config;
  o["created_at"] = e.created_at;
  o["updated_at"] = e.updated_at;
  return o;
}

AgentRegistry::AgentRegistry(storage::Database& db, const core::Clock& clock, gateway::Gateway& gateway,
                             std::vector<core::AgentConfig> config_agents, std::vector<core::ToolConfig> tools)
    : db_(db), clock_(clock), gateway_(gateway), tools_(std::move(tools)) {
  for (auto& a : config_agents) {
    auto e = std::make_shared<AgentEntry>();
    e->id = "config:" + a.name;
    e->agent = std::move(a);
    e->from_config = true;
    agents_.push_back(std::move(e));
  }
}

core::Status AgentRegistry::load() {
  auto rows = db_.run_sync([](storage::Connection& c) { return storage::AgentRepository::agents(c); });
  if (!rows) return std::move(rows).error();
  for (const auto& row : *rows) {
    boost::system::error_code ec;
    json::value spec = json::parse(row.spec, ec);
    auto a = ec || !spec.is_object() ? core::Result<core::AgentConfig>(Error(ErrorKind::internal, "its spec is not JSON"))
                                     : checked(spec.as_object(), tools_);
    if (!a || find(row.name)) {
      core::log::warn("stored agent skipped", {{"agent", row.name}, {"reason", a ? "a config agent has its name" : a.error().message}});
      continue;
    }
    auto e = std::make_shared<AgentEntry>();
    e->id = row.id;
    e->agent = std::move(*a);
    e->created_at = row.created_at;
    e->updated_at = row.updated_at;
    std::unique_lock lock(mu_);
    agents_.push_back(std::move(e));
  }
  return {};
}

std::vector<std::shared_ptr<const AgentEntry>> AgentRegistry::list() const {
  std::shared_lock lock(mu_);
  return agents_;
}

std::shared_ptr<const AgentEntry> AgentRegistry::find(std::string_view id_or_name) const {
  std::shared_lock lock(mu_);
  for (const auto& a : agents_) {
    if (a->id == id_or_name || a->agent.name == id_or_name) return a;
  }
  return nullptr;
}

RegistryTask<std::shared_ptr<const AgentEntry>> AgentRegistry::create(json::object spec) {
  auto a = checked(spec, tools_);
  if (!a) co_return std::move(a).error();
  if (auto t = gateway_.resolve(a->model); !t) co_return std::move(t).error();
  if (find(a->name)) co_return Error(ErrorKind::conflict, "an agent named '" + a->name + "' already exists", "name");
  auto e = std::make_shared<AgentEntry>();
  e->id = "agent_" + core::new_request_id().substr(0, 24);
  e->created_at = e->updated_at = clock_.now_ms() / 1000;
  e->agent = std::move(*a);
  storage::AgentRow row{e->id, e->agent.name, core::to_json(agent_json(e->agent)), e->created_at, e->updated_at};
  auto insert = [row](storage::Connection& c) { return storage::AgentRepository::insert_agent(c, row); };
  auto st = co_await db_.write(std::move(insert));
  if (!st) co_return std::move(st).error();
  std::shared_ptr<const AgentEntry> made = e;
  {
    std::unique_lock lock(mu_);
    agents_.push_back(made);
  }
  co_return made;
}

RegistryTask<std::shared_ptr<const AgentEntry>> AgentRegistry::update(std::string id_or_name, json::object patch) {
  auto old = find(id_or_name);
  if (!old) co_return Error(ErrorKind::not_found, "no agent '" + id_or_name + "'");
  if (old->from_config) {
    co_return Error(ErrorKind::conflict, "the agent '" + old->agent.name + "' is declared in the config file: change it there");
  }
  json::object spec = agent_json(old->agent);
  for (const auto& [k, v] : patch) spec[k] = v;
  auto a = checked(spec, tools_);
  if (!a) co_return std::move(a).error();
  if (auto t = gateway_.resolve(a->model); !t) co_return std::move(t).error();
  if (auto other = find(a->name); other && other->id != old->id) {
    co_return Error(ErrorKind::conflict, "an agent named '" + a->name + "' already exists", "name");
  }
  auto e = std::make_shared<AgentEntry>(*old);
  e->agent = std::move(*a);
  e->updated_at = clock_.now_ms() / 1000;
  storage::AgentRow row{e->id, e->agent.name, core::to_json(agent_json(e->agent)), e->created_at, e->updated_at};
  auto write = [row](storage::Connection& c) { return storage::AgentRepository::update_agent(c, row); };
  auto st = co_await db_.write(std::move(write));
  if (!st) co_return std::move(st).error();
  std::shared_ptr<const AgentEntry> made = e;
  {
    std::unique_lock lock(mu_);
    for (auto& x : agents_) {
      if (x->id == made->id) x = made;
    }
  }
  co_return made;
}

RegistryTask<std::shared_ptr<const AgentEntry>> AgentRegistry::remove(std::string id_or_name) {
  auto old = find(id_or_name);
  if (!old) co_return Error(ErrorKind::not_found, "no agent '" + id_or_name + "'");
  if (old->from_config) {
    co_return Error(ErrorKind::conflict, "the agent '" + old->agent.name + "' is declared in the config file: remove it there");
  }
  auto del = [id = old->id](storage::Connection& c) { return storage::AgentRepository::delete_agent(c, id); };
  auto st = co_await db_.write(std::move(del));
  if (!st) co_return std::move(st).error();
  {
    std::unique_lock lock(mu_);
    std::erase_if(agents_, [&](const auto& x) { return x->id == old->id; });
  }
  co_return old;
}

}  // namespace sb::workflows
