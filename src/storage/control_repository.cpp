#include "storage/control_repository.hpp"

#include "storage/page_sql.hpp"

#include <charconv>

namespace sb::storage {

namespace {

constexpr const char* kKeyColumns =
    "id, name, prefix, hash, previous_hash, previous_until, scopes, models, collections, rpm, tpm, "
    "max_parallel, budget_usd, budget_period, expires_at, metadata, created_at, updated_at, "
    "last_used_at, revoked_at";

std::optional<double> opt_double(const Statement& s, int col) {
  if (s.column_is_null(col)) return std::nullopt;
  return s.column_double(col);
}

std::optional<std::string> opt_blob(const Statement& s, int col) {
  if (s.column_is_null(col)) return std::nullopt;
  return std::string(s.column_blob(col));
}

ApiKeyRow read_key(const Statement& s) {
  ApiKeyRow r;
  r.id = s.column_text(0);
  r.name = s.column_text(1);
  r.prefix = s.column_text(2);
  r.hash = std::string(s.column_blob(3));
  r.previous_hash = opt_blob(s, 4);
  r.previous_until = s.column_opt_int64(5);
  r.scopes = s.column_text(6);
  r.models = s.column_text(7);
  r.collections = s.column_text(8);
  r.rpm = s.column_opt_int64(9);
  r.tpm = s.column_opt_int64(10);
  r.max_parallel = s.column_opt_int64(11);
  r.budget_usd = opt_double(s, 12);
  r.budget_period = s.column_opt_text(13);
  r.expires_at = s.column_opt_int64(14);
  r.metadata = s.column_text(15);
  r.created_at = s.column_int64(16);
  r.updated_at = s.column_int64(17);
  r.last_used_at = s.column_opt_int64(18);
  r.revoked_at = s.column_opt_int64(19);
  return r;
}

// Binds every key column, ?1 = id ... ?20 = revoked_at.
void bind_key(Statement& s, const ApiKeyRow& r) {
  s.bind(1, r.id).bind(2, r.name).bind(3, r.prefix);
  s.bind_blob(4, r.hash.data(), r.hash.size());
  if (r.previous_hash) s.bind_blob(5, r.previous_hash->data(), r.previous_hash->size());
  else s.bind_null(5);
  s.bind_opt(6, r.previous_until).bind(7, r.scopes).bind(8, r.models).bind(9, r.collections);
  s.bind_opt(10, r.rpm).bind_opt(11, r.tpm).bind_opt(12, r.max_parallel);
  if (r.budget_usd) s.bind_double(13, *r.budget_usd);
  else s.bind_null(13);
  s.bind_opt(14, r.budget_period).bind_opt(15, r.expires_at).bind(16, r.metadata);
  s.bind(17, r.created_at).bind(18, r.updated_at).bind_opt(19, r.last_used_at).bind_opt(20, r.revoked_at);
}

UsageRow read_usage(const Statement& s) {
  UsageRow r;
  r.id = "use_" + std::to_string(s.column_int64(0));
  r.at_ms = s.column_int64(1);
  r.key_id = s.column_text(2);
  r.route = s.column_text(3);
  r.model = s.column_text(4);
  r.provider = s.column_text(5);
  r.target = s.column_text(6);
  r.prompt_tokens = s.column_int64(7);
  r.completion_tokens = s.column_int64(8);
  r.cached_tokens = s.column_int64(9);
  r.cost_usd = s.column_double(10);
  r.latency_ms = s.column_int64(11);
  r.status = static_cast<int>(s.column_int64(12));
  r.request_id = s.column_text(13);
  return r;
}

AuditRow read_audit(const Statement& s) {
  AuditRow r;
  r.id = s.column_text(0);
  r.at = s.column_int64(1);
  r.actor = s.column_text(2);
  r.client_ip = s.column_text(3);
  r.action = s.column_text(4);
  r.target = s.column_text(5);
  r.outcome = s.column_text(6);
  r.status = static_cast<int>(s.column_int64(7));
  r.request_id = s.column_text(8);
  return r;
}

}  // namespace

Result<std::vector<ApiKeyRow>> ControlRepository::keys(Connection& c) {
  auto st = c.prepare(std::string("SELECT ") + kKeyColumns + " FROM api_keys ORDER BY seq");
  if (!st) return std::move(st).error();
  return st->all(read_key);
}

Status ControlRepository::insert_key(Connection& c, const ApiKeyRow& r) {
  auto st = c.prepare(std::string("INSERT INTO api_keys(") + kKeyColumns +
                      ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20)");
  if (!st) return std::move(st).error();
  bind_key(*st, r);
  return st->run();
}

Status ControlRepository::update_key(Connection& c, const ApiKeyRow& r) {
  auto st = c.prepare(
      "UPDATE api_keys SET name=?2, prefix=?3, hash=?4, previous_hash=?5, previous_until=?6, scopes=?7, "
      "models=?8, collections=?9, rpm=?10, tpm=?11, max_parallel=?12, budget_usd=?13, budget_period=?14, "
      "expires_at=?15, metadata=?16, created_at=?17, updated_at=?18, last_used_at=?19, revoked_at=?20 "
      "WHERE id=?1");
  if (!st) return std::move(st).error();
  bind_key(*st, r);
  return st->run();
}

Status ControlRepository::touch_keys(Connection& c, const std::vector<std::pair<std::string, std::int64_t>>& used) {
  if (used.empty()) return {};
  auto st = c.cached("UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?2) WHERE id = ?1");
  if (!st) return std::move(st).error();
  for (const auto& [id, at] : used) {
    st->reset();
    st->bind(1, id).bind(2, at);
    if (auto r = st->run(); !r) return r;
  }
  return {};
}

Status ControlRepository::insert_usage(Connection& c, const std::vector<UsageRow>& rows) {
  // A batch (a second's rows) goes in as statements of up to kRows rows each: one statement
  // step per kRows rows rather than per row.
  constexpr std::size_t kRows = 32, kColumns = 13;
  auto sql_for = [](std::size_t n) {
    std::string sql =
        "INSERT INTO usage(at, key_id, route, model, provider, target, prompt_tokens, completion_tokens, "
        "cached_tokens, cost_usd, latency_ms, status, request_id) VALUES ";
    for (std::size_t i = 0; i < n; ++i) sql += i ? ",(?,?,?,?,?,?,?,?,?,?,?,?,?)" : "(?,?,?,?,?,?,?,?,?,?,?,?,?)";
    return sql;
  };
  static const std::string full = sql_for(kRows), single = sql_for(1);
  for (std::size_t from = 0; from < rows.size();) {
    const std::size_t n = rows.size() - from >= kRows ? kRows : 1;
    auto st = c.cached(n == kRows ? full : single);
    if (!st) return std::move(st).error();
    st->reset();
    for (std::size_t i = 0; i < n; ++i) {
      const UsageRow& r = rows[from + i];
      const int b = static_cast<int>(i * kColumns);
      st->bind(b + 1, r.at_ms).bind_unowned(b + 2, r.key_id).bind_unowned(b + 3, r.route).bind_unowned(b + 4, r.model);
      st->bind_unowned(b + 5, r.provider).bind_unowned(b + 6, r.target).bind(b + 7, r.prompt_tokens);
      st->bind(b + 8, r.completion_tokens).bind(b + 9, r.cached_tokens).bind_double(b + 10, r.cost_usd);
      st->bind(b + 11, r.latency_ms).bind(b + 12, static_cast<std::int64_t>(r.status)).bind_unowned(b + 13, r.request_id);
    }
    if (auto x = st->run(); !x) return x;
    from += n;
  }
  return {};
}

Result<Page<UsageRow>> ControlRepository::usage(Connection& c, const UsageQuery& q, const PageRequest& page) {
  // A usage row's id is "use_<seq>".
  std::int64_t pivot = 0;
  if (const std::string& id = page.after.empty() ? page.before : page.after; !id.empty()) {
    const char* name = page.after.empty() ? "before" : "after";
    auto [end, ec] = id.size() > 4 && id.rfind("use_", 0) == 0
                         ? std::from_chars(id.data() + 4, id.data() + id.size(), pivot)
                         : std::from_chars_result{id.data(), std::errc::invalid_argument};
    if (ec != std::errc() || end != id.data() + id.size() || pivot <= 0) {
      return Error(core::ErrorKind::invalid_field, std::string("'") + name + "' is not the id of a usage row", name);
    }
  }
  auto st = c.prepare(
      "SELECT seq, at, key_id, route, model, provider, target, prompt_tokens, completion_tokens, cached_tokens, "
      "cost_usd, latency_ms, status, request_id FROM usage WHERE at >= ?1 AND (?2 <= 0 OR at < ?2) "
      "AND (?3 = '' OR key_id = ?3)" + seq_clause(page, 4) + " LIMIT ?5");
  if (!st) return std::move(st).error();
  st->bind(1, q.from_ms).bind(2, q.to_ms).bind(3, q.key_id).bind(4, pivot).bind(5, static_cast<std::int64_t>(page.limit) + 1);
  auto rows = st->all(read_usage);
  if (!rows) return std::move(rows).error();
  return make_page(std::move(*rows), page);
}

Result<std::vector<UsageGroup>> ControlRepository::usage_groups(Connection& c, const UsageQuery& q,
                                                                 std::string_view group_by) {
  std::string expr;
  if (group_by == "key") expr = "key_id";
  else if (group_by == "model") expr = "model";
  else if (group_by == "provider") expr = "provider";
  else if (group_by == "day") expr = "strftime('%Y-%m-%d', at / 1000, 'unixepoch')";
  else return Error(core::ErrorKind::invalid_field, "group_by must be one of key, model, provider, day", "group_by");
  auto st = c.prepare("SELECT " + expr + " AS g, count(*), sum(prompt_tokens), sum(completion_tokens), "
                      "sum(cached_tokens), sum(cost_usd) FROM usage WHERE at >= ?1 AND (?2 <= 0 OR at < ?2) "
                      "AND (?3 = '' OR key_id = ?3) GROUP BY g ORDER BY g");
  if (!st) return std::move(st).error();
  st->bind(1, q.from_ms).bind(2, q.to_ms).bind(3, q.key_id);
  return st->all([](const Statement& s) {
    return UsageGroup{s.column_text(0), s.column_int64(1), s.column_int64(2), s.column_int64(3), s.column_int64(4),
                      s.column_double(5)};
  });
}

Result<std::vector<std::pair<std::string, double>>> ControlRepository::spent_since(Connection& c, std::int64_t since_ms) {
  auto st = c.prepare("SELECT key_id, sum(cost_usd) FROM usage WHERE at >= ?1 AND key_id != '' GROUP BY key_id");
  if (!st) return std::move(st).error();
  st->bind(1, since_ms);
  return st->all([](const Statement& s) { return std::pair{s.column_text(0), s.column_double(1)}; });
}

Result<double> ControlRepository::spent(Connection& c, std::string_view key_id, std::int64_t since_ms) {
  auto st = c.prepare("SELECT coalesce(sum(cost_usd), 0) FROM usage WHERE key_id = ?1 AND at >= ?2");
  if (!st) return std::move(st).error();
  st->bind(1, key_id).bind(2, since_ms);
  auto row = st->step();
  if (!row) return std::move(row).error();
  return st->column_double(0);
}

Status ControlRepository::insert_audit(Connection& c, const std::vector<AuditRow>& rows) {
  if (rows.empty()) return {};
  auto st = c.cached(
      "INSERT INTO audit(id, at, actor, client_ip, action, target, outcome, status, request_id) "
      "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)");
  if (!st) return std::move(st).error();
  for (const auto& r : rows) {
    st->reset();
    st->bind(1, r.id).bind(2, r.at).bind(3, r.actor).bind(4, r.client_ip).bind(5, r.action).bind(6, r.target);
    st->bind(7, r.outcome).bind(8, static_cast<std::int64_t>(r.status)).bind(9, r.request_id);
    if (auto x = st->run(); !x) return x;
  }
  return {};
}

Result<Page<AuditRow>> ControlRepository::audit(Connection& c, const AuditQuery& q, const PageRequest& page) {
  auto p = page_pivot(c, "audit", page, "an audit entry");
  if (!p) return std::move(p).error();
  auto st = c.prepare(
      "SELECT id, at, actor, client_ip, action, target, outcome, status, request_id FROM audit "
      "WHERE (?1 = '' OR actor = ?1) AND (?2 = '' OR action = ?2) AND (?3 = '' OR target = ?3) "
      "AND at >= ?4 AND (?5 <= 0 OR at < ?5)" + seq_clause(page, 6) + " LIMIT ?7");
  if (!st) return std::move(st).error();
  st->bind(1, q.actor).bind(2, q.action).bind(3, q.target).bind(4, q.from).bind(5, q.to).bind(6, *p);
  st->bind(7, static_cast<std::int64_t>(page.limit) + 1);
  auto rows = st->all(read_audit);
  if (!rows) return std::move(rows).error();
  return make_page(std::move(*rows), page);
}

Result<std::int64_t> ControlRepository::expire_audit(Connection& c, std::int64_t before) {
  auto st = c.prepare("DELETE FROM audit WHERE at < ?1");
  if (!st) return std::move(st).error();
  st->bind(1, before);
  if (auto r = st->run(); !r) return std::move(r).error();
  return st->changes();
}

}  // namespace sb::storage
