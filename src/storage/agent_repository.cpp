#include "storage/agent_repository.hpp"

#include "storage/page_sql.hpp"

namespace sb::storage {

namespace {

AgentRunRow read_run(const Statement& s) {
  AgentRunRow r;
  r.id = s.column_text(0);
  r.agent = s.column_text(1);
  r.key_id = s.column_text(2);
  r.finish_reason = s.column_text(3);
  r.created_at = s.column_int64(4);
  r.run = s.column_text(5);
  return r;
}

constexpr const char* kColumns = "id, agent, key_id, finish_reason, created_at, run";

}  // namespace

Status AgentRepository::insert(Connection& c, const AgentRunRow& r) {
  // (a job's run that runs again after a crash replaces its row)
  auto st = c.cached(
      "INSERT INTO agent_runs (id, agent, key_id, finish_reason, created_at, run) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
      "ON CONFLICT(id) DO UPDATE SET finish_reason = excluded.finish_reason, run = excluded.run");
  if (!st) return std::move(st).error();
  st->bind(1, r.id).bind(2, r.agent).bind(3, r.key_id).bind(4, r.finish_reason).bind(5, r.created_at).bind(6, r.run);
  return st->run();
}

Result<std::optional<AgentRunRow>> AgentRepository::get(Connection& c, std::string_view id) {
  auto st = c.cached(std::string("SELECT ") + kColumns + " FROM agent_runs WHERE id = ?1");
  if (!st) return std::move(st).error();
  st->bind(1, id);
  auto rows = st->all(read_run);
  if (!rows) return std::move(rows).error();
  if (rows->empty()) return std::optional<AgentRunRow>();
  return std::optional<AgentRunRow>(std::move(rows->front()));
}

Result<Page<AgentRunRow>> AgentRepository::list(Connection& c, const std::optional<std::string>& key_id, const PageRequest& page) {
  auto pivot = page_pivot(c, "agent_runs", page, "a run");
  if (!pivot) return std::move(pivot).error();
  auto st = c.prepare(std::string("SELECT ") + kColumns + " FROM agent_runs WHERE (?1 IS NULL OR key_id = ?1)" +
                      seq_clause(page, 2) + " LIMIT ?3");
  if (!st) return std::move(st).error();
  st->bind_opt(1, key_id).bind(2, *pivot).bind(3, static_cast<std::int64_t>(page.limit) + 1);
  auto rows = st->all(read_run);
  if (!rows) return std::move(rows).error();
  return make_page(std::move(*rows), page);
}

Result<std::vector<AgentRow>> AgentRepository::agents(Connection& c) {
  auto st = c.cached("SELECT id, name, spec, created_at, updated_at FROM agents ORDER BY seq");
  if (!st) return std::move(st).error();
  return st->all([](const Statement& s) {
    return AgentRow{s.column_text(0), s.column_text(1), s.column_text(2), s.column_int64(3), s.column_int64(4)};
  });
}

Status AgentRepository::insert_agent(Connection& c, const AgentRow& r) {
  auto st = c.cached("INSERT INTO agents (id, name, spec, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!st) return std::move(st).error();
  st->bind(1, r.id).bind(2, r.name).bind(3, r.spec).bind(4, r.created_at).bind(5, r.updated_at);
  auto done = st->run();
  if (!done && done.error().kind == core::ErrorKind::conflict) {
    return core::Error(core::ErrorKind::conflict, "an agent named '" + r.name + "' already exists", "name");
  }
  return done;
}

Status AgentRepository::update_agent(Connection& c, const AgentRow& r) {
  auto st = c.cached("UPDATE agents SET name = ?2, spec = ?3, updated_at = ?4 WHERE id = ?1");
  if (!st) return std::move(st).error();
  st->bind(1, r.id).bind(2, r.name).bind(3, r.spec).bind(4, r.updated_at);
  auto done = st->run();
  if (!done && done.error().kind == core::ErrorKind::conflict) {
    return core::Error(core::ErrorKind::conflict, "an agent named '" + r.name + "' already exists", "name");
  }
  return done;
}

Status AgentRepository::delete_agent(Connection& c, std::string_view id) {
  auto st = c.cached("DELETE FROM agents WHERE id = ?1");
  if (!st) return std::move(st).error();
  st->bind(1, id);
  return st->run();
}

}  // namespace sb::storage
