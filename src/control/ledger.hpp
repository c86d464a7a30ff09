#pragma once
// What keys spend, and what happened: budgets (reserve at admission, settle at the end, so
// concurrent requests cannot overshoot), usage rows and audit entries (queued in memory and
// written in batches by the database's writer; flushed on shutdown), and the per-key token and
// cost metrics.

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "control/keys.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "storage/control_repository.hpp"
#include "storage/database.hpp"

namespace sb::control {

struct BudgetStatus {
  double amount_usd = 0, spent_usd = 0, reserved_usd = 0;
  std::string period;
  std::int64_t resets_at_ms = 0;  // 0: never ("total")
};

class Budgets {
 public:
  explicit Budgets(const core::Clock& clock) : clock_(clock) {}
  // What each key spent in its current period, from the usage table (at start).
  core::Status load(storage::Database& db, const std::vector<std::shared_ptr<const Key>>& keys);
  // After a key's budget changed: its spending in the (new) period.
  void set_spent(const Key& key, double spent);

  // Reserves `worst` USD if spent + reserved + worst stays within the budget.
  bool reserve(const Key& key, double worst, BudgetStatus& status);
  // The request ended: its reservation goes, its real cost counts.
  void settle(const Key& key, double reserved, double cost);
  BudgetStatus status(const Key& key);

 private:
  struct State {
    std::int64_t period_start = -1;
    double spent = 0, reserved = 0;
  };
  State& state(const Key& key, std::int64_t now);  // REQUIRES: mu_ held
  static BudgetStatus snapshot(const Key& key, const State& s, std::int64_t now);  // REQUIRES: key.budget
  const core::Clock& clock_;
  std::mutex mu_;
  std::unordered_map<std::string, State> states_;
};

class Ledger {
 public:
  Ledger(storage::Database& db, KeyStore& keys, const core::Clock& clock, core::metrics::Registry& registry,
         int flush_ms, int retention_days, int metrics_max_keys);

  void usage(storage::UsageRow row);
  void audit(storage::AuditRow row);

  // Writes the queued rows every flush interval, and sweeps old audit entries hourly, until
  // stop(). Runs on an I/O thread.
  boost::asio::awaitable<void> run();
  void stop();
  // Writes whatever is still queued, on the calling thread (at shutdown, after the last request).
  void flush_now();
  // Writes what is queued now (tests, and the usage endpoint so a caller sees its own rows).
  boost::asio::awaitable<core::Status> flush();

 private:
  struct Batch {
    std::vector<storage::UsageRow> usage;
    std::vector<storage::AuditRow> audit;
    std::vector<std::pair<std::string, std::int64_t>> touched;
    bool empty() const { return usage.empty() && audit.empty() && touched.empty(); }
  };
  Batch take();
  static core::Status write(storage::Connection& c, const Batch& b);
  std::string_view key_label(const std::string& key_id);  // REQUIRES: mu_ held

  storage::Database& db_;
  KeyStore& keys_;
  const core::Clock& clock_;
  int flush_ms_, retention_days_;
  std::size_t metrics_max_keys_;
  core::metrics::Family<core::metrics::Counter>& tokens_;
  core::metrics::Family<core::metrics::Counter>& cost_;
  std::mutex mu_;
  Batch queued_;
  std::set<std::string> labelled_;
  struct Series {
    core::metrics::Counter *prompt, *completion, *cached, *cost;
  };
  std::unordered_map<std::string, Series> series_;  // "<key label>\n<model>" -> its counters
  std::string series_name_;                          // (the name looked up, reused)
  std::atomic<bool> stopping_{false};
};

}  // namespace sb::control
