// The embedded job queue backend over storage::JobRepository.

#include "jobs/queue.hpp"
#include "storage/database.hpp"

namespace sb::jobs {

namespace {

using storage::Connection;
using storage::JobRepository;

// Each call names its lambda before awaiting it: GCC 12 copies a capturing lambda temporary
// inside a co_await expression bitwise (double frees under valgrind).
class SqliteQueue final : public Queue {
 public:
  explicit SqliteQueue(storage::Database& db) : db_(db) {}

  Task<std::vector<Enqueued>> enqueue(std::vector<JobInsert> jobs) override {
    auto fn = [jobs = std::move(jobs)](Connection& c) -> core::Result<std::vector<Enqueued>> {
      std::vector<Enqueued> out;
      out.reserve(jobs.size());
      for (const auto& job : jobs) {
        auto r = JobRepository::insert(c, job);
        if (!r) return std::move(r).error();
        out.push_back(Enqueued{std::move(r->row), r->existed});
      }
      return out;
    };
    co_return co_await db_.write(std::move(fn));
  }
  Task<std::optional<Job>> get(std::string id) override {
    auto fn = [id = std::move(id)](Connection& c) { return JobRepository::get(c, id); };
    co_return co_await db_.run(std::move(fn));
  }
  Task<storage::Page<Job>> list(std::string status, storage::PageRequest page) override {
    auto fn = [status = std::move(status), page = std::move(page)](Connection& c) {
      return JobRepository::list(c, status, page);
    };
    co_return co_await db_.run(std::move(fn));
  }
  Task<std::vector<Job>> claim(std::int64_t now, std::string owner, std::int64_t lease_ms,
                               int limit) override {
    auto fn = [=, owner = std::move(owner)](Connection& c) {
      return JobRepository::claim(c, now, owner, lease_ms, limit);
    };
    co_return co_await db_.write(std::move(fn));
  }
  boost::asio::awaitable<core::Status> renew(std::vector<std::string> ids, std::string owner,
                                             std::int64_t until) override {
    auto fn = [ids = std::move(ids), owner = std::move(owner), until](Connection& c) -> core::Result<bool> {
      if (auto st = JobRepository::renew(c, ids, owner, until); !st) return std::move(st).error();
      return true;
    };
    auto r = co_await db_.write(std::move(fn));
    if (!r) co_return std::move(r).error();
    co_return core::Status{};
  }
  Task<std::optional<Job>> complete(std::string id, int attempt, std::string owner,
                                    std::int64_t now, std::string result, std::string provider,
                                    std::string model) override {
    auto fn = [=, id = std::move(id), owner = std::move(owner),
                                  result = std::move(result), provider = std::move(provider),
                                  model = std::move(model)](Connection& c) {
      return JobRepository::complete(c, id, attempt, owner, now, result, provider, model);
    };
    co_return co_await db_.write(std::move(fn));
  }
  Task<std::optional<Job>> fail(std::string id, int attempt, std::string owner, std::int64_t now,
                                std::int64_t status, std::string error,
                                std::optional<std::int64_t> retry_at) override {
    auto fn = [=, id = std::move(id), owner = std::move(owner),
                                  error = std::move(error)](Connection& c) {
      return JobRepository::fail(c, id, attempt, owner, now, status, error, retry_at);
    };
    co_return co_await db_.write(std::move(fn));
  }
  Task<std::optional<Job>> defer(std::string id, int attempt, std::string owner, std::int64_t now,
                                 std::int64_t run_at, std::string reason) override {
    auto fn = [=, id = std::move(id), owner = std::move(owner),
                                  reason = std::move(reason)](Connection& c) {
      return JobRepository::defer(c, id, attempt, owner, now, run_at, reason);
    };
    co_return co_await db_.write(std::move(fn));
  }
  Task<Cancelled> cancel(std::string id, std::int64_t now) override {
    auto fn = [id = std::move(id), now](Connection& c) -> core::Result<Cancelled> {
      auto r = JobRepository::cancel(c, id, now);
      if (!r) return std::move(r).error();
      return Cancelled{std::move(r->job), r->applied};
    };
    co_return co_await db_.write(std::move(fn));
  }
  Task<SweepResult> sweep(std::int64_t now, std::string live_owner,
                          std::int64_t retention_ms) override {
    auto fn = [=, owner = std::move(live_owner)](Connection& c) {
      return JobRepository::sweep(c, now, owner, retention_ms);
    };
    co_return co_await db_.write(std::move(fn));
  }
  Task<JobCounts> counts() override {
    auto fn = [](Connection& c) { return JobRepository::counts(c); };
    co_return co_await db_.run(std::move(fn));
  }
  Task<std::vector<Job>> claim_webhooks(std::int64_t now, std::int64_t lease_until,
                                        int limit) override {
    auto fn = [=](Connection& c) {
      return JobRepository::claim_webhooks(c, now, lease_until, limit);
    };
    co_return co_await db_.write(std::move(fn));
  }
  boost::asio::awaitable<core::Status> record_webhook(std::string id, std::int64_t now,
                                                      std::int64_t http_status,
                                                      std::optional<std::string> error,
                                                      std::optional<std::int64_t> next_at,
                                                      bool delivered) override {
    auto fn = [=, id = std::move(id), error = std::move(error)](Connection& c) -> core::Result<bool> {
      if (auto st = JobRepository::record_webhook(c, id, now, http_status, error, next_at, delivered); !st) {
        return std::move(st).error();
      }
      return true;
    };
    auto r = co_await db_.write(std::move(fn));
    if (!r) co_return std::move(r).error();
    co_return core::Status{};
  }

 private:
  storage::Database& db_;
};

}  // namespace

std::unique_ptr<Queue> make_sqlite_queue(storage::Database& db) {
  return std::make_unique<SqliteQueue>(db);
}

}  // namespace sb::jobs
