#include "control/ledger.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"

namespace sb::control {

namespace log = core::log;

core::Status Budgets::load(storage::Database& db, const std::vector<std::shared_ptr<const Key>>& keys) {
  const std::int64_t now = clock_.now_ms();
  // One pass over the usage table per period kind in use (day, month, total), not one per key.
  std::map<std::int64_t, std::map<std::string, double>> spent_since;  // period start -> key -> USD
  for (const auto& k : keys) {
    if (!k->budget) continue;
    const std::int64_t since = period_start_ms(k->budget->period, now);
    if (!spent_since.count(since)) {
      auto rows = db.run_sync([since](storage::Connection& c) { return storage::ControlRepository::spent_since(c, since); });
      if (!rows) return std::move(rows).error();
      auto& m = spent_since[since];
      for (auto& [id, usd] : *rows) m[id] = usd;
    }
    const auto& m = spent_since[since];
    auto it = m.find(k->id);
    std::lock_guard lock(mu_);
    State& s = states_[k->id];
    s.period_start = since;
    s.spent = it == m.end() ? 0 : it->second;
  }
  return {};
}

void Budgets::set_spent(const Key& key, double spent) {
  if (!key.budget) return;
  std::lock_guard lock(mu_);
  State& s = states_[key.id];
  s.period_start = period_start_ms(key.budget->period, clock_.now_ms());
  s.spent = spent;
}

Budgets::State& Budgets::state(const Key& key, std::int64_t now) {
  State& s = states_[key.id];
  const std::int64_t start = period_start_ms(key.budget->period, now);
  if (s.period_start != start) {
    if (s.period_start >= 0 && start > s.period_start) s.spent = 0;  // a new day or month
    s.period_start = start;
  }
  return s;
}

BudgetStatus Budgets::snapshot(const Key& key, const State& s, std::int64_t now) {
  return BudgetStatus{key.budget->amount_usd, s.spent, s.reserved, key.budget->period,
                      period_end_ms(key.budget->period, now)};
}

bool Budgets::reserve(const Key& key, double worst, BudgetStatus& out) {
  if (!key.budget) return true;
  const std::int64_t now = clock_.now_ms();
  std::lock_guard lock(mu_);
  State& s = state(key, now);
  out = snapshot(key, s, now);
  // Nothing left: refused even when the worst case is unknown (0), so an exhausted key stops.
  if (s.spent >= key.budget->amount_usd || s.spent + s.reserved + worst > key.budget->amount_usd) return false;
  s.reserved += worst;
  out.reserved_usd = s.reserved;
  return true;
}

void Budgets::settle(const Key& key, double reserved, double cost) {
  std::lock_guard lock(mu_);
  auto it = states_.find(key.id);
  if (it == states_.end()) {
    if (!key.budget) return;
    it = states_.emplace(key.id, State{}).first;
  }
  State& s = it->second;
  s.reserved = std::max(0.0, s.reserved - reserved);
  s.spent += cost;
}

BudgetStatus Budgets::status(const Key& key) {
  BudgetStatus out;
  if (!key.budget) return out;
  const std::int64_t now = clock_.now_ms();
  std::lock_guard lock(mu_);
  return snapshot(key, state(key, now), now);
}

Ledger::Ledger(storage::Database& db, KeyStore& keys, const core::Clock& clock, core::metrics::Registry& registry,
               int flush_ms, int retention_days, int metrics_max_keys)
    : db_(db),
      keys_(keys),
      clock_(clock),
      flush_ms_(flush_ms),
      retention_days_(retention_days),
      metrics_max_keys_(static_cast<std::size_t>(std::max(metrics_max_keys, 0))),
      tokens_(registry.counter("switchboard_key_tokens_total",
                               "Tokens by API key id (the first limits.metrics_max_keys keys; the rest \"other\"), "
                               "target model and kind (prompt, completion, cached).",
                               {"key", "model", "kind"})),
      cost_(registry.counter("switchboard_key_cost_microdollars_total",
                             "Cost in millionths of a USD by API key id (bounded as for tokens) and target model.",
                             {"key", "model"})) {}

std::string_view Ledger::key_label(const std::string& key_id) {
  if (key_id.empty()) return "none";
  if (auto it = labelled_.find(key_id); it != labelled_.end()) return *it;
  if (labelled_.size() < metrics_max_keys_) return *labelled_.insert(key_id).first;
  return "other";
}

void Ledger::usage(storage::UsageRow row) {
  std::lock_guard lock(mu_);
  const std::string_view key = key_label(row.key_id);
  const std::string& model = row.target.empty() ? row.model : row.target;
  series_name_.assign(key).append("\n").append(model);
  auto it = series_.find(series_name_);
  if (it == series_.end()) {
    if (series_.size() >= 4096) series_.clear();  // (only a cache of the families' children)
    it = series_.emplace(series_name_, Series{&tokens_.with({key, model, "prompt"}),
                                                 &tokens_.with({key, model, "completion"}),
                                                 &tokens_.with({key, model, "cached"}), &cost_.with({key, model})})
             .first;
  }
  const Series& s = it->second;
  if (row.prompt_tokens > 0) s.prompt->inc(static_cast<std::uint64_t>(row.prompt_tokens));
  if (row.completion_tokens > 0) s.completion->inc(static_cast<std::uint64_t>(row.completion_tokens));
  if (row.cached_tokens > 0) s.cached->inc(static_cast<std::uint64_t>(row.cached_tokens));
  if (row.cost_usd > 0) s.cost->inc(static_cast<std::uint64_t>(row.cost_usd * 1e6 + 0.5));
  queued_.usage.push_back(std::move(row));
}

void Ledger::audit(storage::AuditRow row) {
  std::lock_guard lock(mu_);
  queued_.audit.push_back(std::move(row));
}

Ledger::Batch Ledger::take() {
  Batch b;
  {
    std::lock_guard lock(mu_);
    std::swap(b, queued_);
  }
  b.touched = keys_.take_touched();
  return b;
}

core::Status Ledger::write(storage::Connection& c, const Batch& b) {
  if (auto st = storage::ControlRepository::insert_usage(c, b.usage); !st) return st;
  if (auto st = storage::ControlRepository::insert_audit(c, b.audit); !st) return st;
  return storage::ControlRepository::touch_keys(c, b.touched);
}

boost::asio::awaitable<core::Status> Ledger::flush() {
  Batch b = take();
  if (b.empty()) co_return core::Status{};
  // Shared, not copied: a second's rows are many, and this runs on an I/O thread.
  auto batch = std::make_shared<Batch>(std::move(b));
  auto task = [batch](storage::Connection& c) { return write(c, *batch); };  // named (GCC 12)
  auto st = co_await db_.write(std::move(task));
  if (!st) {
    log::error("usage and audit rows not written; kept for the next try", {{"error", st.error().message}});
    std::lock_guard lock(mu_);
    queued_.usage.insert(queued_.usage.begin(), std::make_move_iterator(batch->usage.begin()),
                         std::make_move_iterator(batch->usage.end()));
    queued_.audit.insert(queued_.audit.begin(), std::make_move_iterator(batch->audit.begin()),
                         std::make_move_iterator(batch->audit.end()));
  }
  co_return st;
}

boost::asio::awaitable<void> Ledger::run() {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  std::int64_t next_sweep = 0;
  while (!stopping_.load()) {
    timer.expires_after(std::chrono::milliseconds(flush_ms_));
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (stopping_.load()) break;
    co_await flush();
    const std::int64_t now = clock_.now_ms();
    if (now >= next_sweep) {
      next_sweep = now + 3600 * 1000;
      const std::int64_t before = now / 1000 - static_cast<std::int64_t>(retention_days_) * 86400;
      auto task = [before](storage::Connection& c) { return storage::ControlRepository::expire_audit(c, before); };  // named (GCC 12)
      auto n = co_await db_.write(std::move(task));
      if (n && *n > 0) log::info("audit entries past retention deleted", {{"entries", static_cast<long long>(*n)}});
    }
  }
}

void Ledger::stop() { stopping_.store(true); }

void Ledger::flush_now() {
  Batch b = take();
  if (b.empty()) return;
  auto st = db_.run_sync([&b](storage::Connection& c) -> core::Status {
    if (auto s = c.exec("BEGIN IMMEDIATE"); !s) return s;
    auto r = write(c, b);
    if (!r) {
      (void)c.exec("ROLLBACK");
      return r;
    }
    return c.exec("COMMIT");
  });
  if (!st) {
    log::error("usage and audit rows lost at shutdown",
               {{"error", st.error().message}, {"usage_rows", static_cast<long long>(b.usage.size())},
                {"audit_entries", static_cast<long long>(b.audit.size())}});
  }
}

}  // namespace sb::control
