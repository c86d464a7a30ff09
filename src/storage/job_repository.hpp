#pragma once
// The job table: every SQL statement of the durable job queue. Functions take the Connection
// they run on (the caller decides: Database::write for changes, Database::run for reads) and
// explicit times in Unix milliseconds, so the lifecycle is testable with a fake clock.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/page.hpp"
#include "storage/sqlite.hpp"

namespace sb::storage {

struct JobRow {
  std::int64_t seq = 0;  // insertion order; list cursors
  std::string id;
  std::string type;    // chat.completion | embeddings
  std::string status;  // queued | processing | completed | failed | expired | cancelled
  int priority = 0;
  std::string request;  // the request body (JSON)
  std::int64_t request_bytes = 0;
  std::optional<std::string> idempotency_key;
  std::optional<std::string> webhook_url;
  int attempts = 0;
  int max_attempts = 3;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  std::int64_t run_at = 0;  // not before
  std::optional<std::int64_t> started_at;
  std::optional<std::int64_t> finished_at;
  std::int64_t expires_at = 0;
  std::optional<std::string> lease_owner;
  std::optional<std::int64_t> lease_until;
  std::optional<std::string> result;  // the response body on completion
  std::optional<std::int64_t> result_status;  // HTTP status of result or error
  std::optional<std::string> error;   // last error, an OpenAI error envelope
  std::optional<std::string> provider, model;
  std::optional<std::string> webhook_state;  // pending | delivered | failed
  int webhook_attempts = 0;
  std::optional<std::int64_t> webhook_next_at;
  std::optional<std::int64_t> webhook_last_status;
  std::optional<std::string> webhook_last_error;
  std::optional<std::string> key_id;  // the API key it was submitted with (its usage counts there)

  bool terminal() const {
    return status == "completed" || status == "failed" || status == "expired" ||
           status == "cancelled";
  }
};

struct JobInsert {
  std::string id;
  std::string type;
  int priority = 0;
  std::string request;
  std::optional<std::string> idempotency_key;
  std::optional<std::string> webhook_url;
  std::optional<std::string> key_id;
  int max_attempts = 3;
  std::int64_t now = 0;
  std::int64_t expires_at = 0;
};

struct JobCounts {
  std::int64_t queued = 0, processing = 0, completed = 0, failed = 0, expired = 0, cancelled = 0;
  std::int64_t pending_bytes = 0;  // request bytes of queued + processing jobs
};

struct SweepResult {
  std::int64_t requeued = 0;            // leases that ran out (or a dead process's)
  std::vector<std::string> finished;    // ids that became terminal now (expired, or failed
                                        // because the lease of their last attempt ran out)
  std::int64_t purged = 0;              // finished jobs past retention, deleted
};

class JobRepository {
 public:
  // Inserts a queued job. With an idempotency key already used, nothing is inserted and the
  // existing job is returned with existed = true.
  struct Inserted {
    JobRow row;
    bool existed = false;
  };
  static Result<Inserted> insert(Connection& c, const JobInsert& job);
  static Result<std::optional<JobRow>> get(Connection& c, std::string_view id);
  // One page of jobs (status empty = any). A cursor that is not a job's id is invalid_field.
  static Result<Page<JobRow>> list(Connection& c, std::string_view status, const PageRequest& page);
  // Takes up to `limit` runnable jobs (queued, run_at <= now, not expired), highest priority
  // first then oldest, marks them processing under a lease and counts the attempt.
  static Result<std::vector<JobRow>> claim(Connection& c, std::int64_t now, std::string_view owner,
                                           std::int64_t lease_ms, int limit);
  // Extends the leases of jobs this owner is running.
  static Status renew(Connection& c, const std::vector<std::string>& ids, std::string_view owner,
                      std::int64_t until);
  // Ends an attempt. Each applies only while the job is still processing under `owner` with
  // this attempt number (a cancelled, expired or re-leased job is left alone) and returns the
  // updated row, or nothing when it did not apply.
  static Result<std::optional<JobRow>> complete(Connection& c, std::string_view id, int attempt,
                                                std::string_view owner, std::int64_t now,
                                                std::string_view result, std::string_view provider,
                                                std::string_view model);
  // A failed attempt: back to queued at retry_at, or failed for good when retry_at is empty.
  static Result<std::optional<JobRow>> fail(Connection& c, std::string_view id, int attempt,
                                            std::string_view owner, std::int64_t now,
                                            std::int64_t status, std::string_view error,
                                            std::optional<std::int64_t> retry_at);
  // Not an attempt (every target's circuit was open): back to queued at run_at, the attempt
  // uncounted.
  static Result<std::optional<JobRow>> defer(Connection& c, std::string_view id, int attempt,
                                             std::string_view owner, std::int64_t now,
                                             std::int64_t run_at, std::string_view reason);
  // Cancels a job that has not finished. Returns the row (empty: unknown id) and whether this
  // call cancelled it.
  struct CancelOutcome {
    std::optional<JobRow> job;
    bool applied = false;
  };
  static Result<CancelOutcome> cancel(Connection& c, std::string_view id, std::int64_t now);
  // Housekeeping: re-queues processing jobs whose lease ran out or whose owner is not
  // `live_owner` (a previous run of this process); expires unfinished jobs past their TTL;
  // deletes finished jobs older than `retention_ms`.
  static Result<SweepResult> sweep(Connection& c, std::int64_t now, std::string_view live_owner,
                                   std::int64_t retention_ms);
  static Result<JobCounts> counts(Connection& c);

  // Webhooks: takes jobs whose delivery is due (pushing their next try to `lease_until`, so a
  // delivery in flight is not taken twice), and records the outcome of one delivery attempt.
  static Result<std::vector<JobRow>> claim_webhooks(Connection& c, std::int64_t now,
                                                    std::int64_t lease_until, int limit);
  static Status record_webhook(Connection& c, std::string_view id, std::int64_t now,
                               std::int64_t http_status, std::optional<std::string> error,
                               std::optional<std::int64_t> next_at, bool delivered);
};

}  // namespace sb::storage
