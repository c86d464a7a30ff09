#pragma once
// The durable job queue, as an interface: the embedded backend is a SQLite table with leases
// (make_sqlite_queue); a Redis or PostgreSQL backend implements the same calls, and nothing
// above this interface (the service, the API) changes.
//
// Every change is durable when its awaitable completes: a job the API acknowledged is on disk.

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/job_repository.hpp"

namespace sb::storage {
class Database;
}

namespace sb::jobs {

using Job = storage::JobRow;
using storage::JobCounts;
using storage::JobInsert;
using storage::SweepResult;
template <class T>
using Task = boost::asio::awaitable<core::Result<T>>;

class Queue {
 public:
  virtual ~Queue() = default;
  struct Enqueued {
    Job job;
    bool existed = false;  // the idempotency key was already used: this is the earlier job
  };
  // All or nothing, in one durable write.
  virtual Task<std::vector<Enqueued>> enqueue(std::vector<JobInsert> jobs) = 0;
  virtual Task<std::optional<Job>> get(std::string id) = 0;
  virtual Task<storage::Page<Job>> list(std::string status, storage::PageRequest page) = 0;
  virtual Task<std::vector<Job>> claim(std::int64_t now, std::string owner, std::int64_t lease_ms,
                                       int limit) = 0;
  virtual boost::asio::awaitable<core::Status> renew(std::vector<std::string> ids,
                                                     std::string owner, std::int64_t until) = 0;
  virtual Task<std::optional<Job>> complete(std::string id, int attempt, std::string owner,
                                            std::int64_t now, std::string result,
                                            std::string provider, std::string model) = 0;
  virtual Task<std::optional<Job>> fail(std::string id, int attempt, std::string owner,
                                        std::int64_t now, std::int64_t status, std::string error,
                                        std::optional<std::int64_t> retry_at) = 0;
  virtual Task<std::optional<Job>> defer(std::string id, int attempt, std::string owner,
                                         std::int64_t now, std::int64_t run_at,
                                         std::string reason) = 0;
  struct Cancelled {
    std::optional<Job> job;  // empty: no such job
    bool applied = false;    // false: it had finished already (job says how)
  };
  virtual Task<Cancelled> cancel(std::string id, std::int64_t now) = 0;
  virtual Task<SweepResult> sweep(std::int64_t now, std::string live_owner,
                                  std::int64_t retention_ms) = 0;
  virtual Task<JobCounts> counts() = 0;
  virtual Task<std::vector<Job>> claim_webhooks(std::int64_t now, std::int64_t lease_until,
                                                int limit) = 0;
  virtual boost::asio::awaitable<core::Status> record_webhook(
      std::string id, std::int64_t now, std::int64_t http_status, std::optional<std::string> error,
      std::optional<std::int64_t> next_at, bool delivered) = 0;
};

// The embedded backend: the jobs table of the SQLite database. Writes go through the
// database's single writer (group commit); reads use the pool.
std::unique_ptr<Queue> make_sqlite_queue(storage::Database& db);

}  // namespace sb::jobs
