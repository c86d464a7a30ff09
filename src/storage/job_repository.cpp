#include "storage/job_repository.hpp"

#include <algorithm>

namespace sb::storage {

namespace {

constexpr const char* kCols =
    "seq, id, type, status, priority, request, request_bytes, idempotency_key, webhook_url, "
    "attempts, max_attempts, created_at, updated_at, run_at, started_at, finished_at, "
    "expires_at, lease_owner, lease_until, result, result_status, error, provider, model, "
    "webhook_state, webhook_attempts, webhook_next_at, webhook_last_status, webhook_last_error, key_id";

std::string sql(std::string_view head, std::string_view tail = {}) {
  std::string s(head);
  s += kCols;
  s += tail;
  return s;
}

JobRow read_row(const Statement& s) {
  JobRow r;
  r.seq = s.column_int64(0);
  r.id = s.column_text(1);
  r.type = s.column_text(2);
  r.status = s.column_text(3);
  r.priority = static_cast<int>(s.column_int64(4));
  r.request = s.column_text(5);
  r.request_bytes = s.column_int64(6);
  r.idempotency_key = s.column_opt_text(7);
  r.webhook_url = s.column_opt_text(8);
  r.attempts = static_cast<int>(s.column_int64(9));
  r.max_attempts = static_cast<int>(s.column_int64(10));
  r.created_at = s.column_int64(11);
  r.updated_at = s.column_int64(12);
  r.run_at = s.column_int64(13);
  r.started_at = s.column_opt_int64(14);
  r.finished_at = s.column_opt_int64(15);
  r.expires_at = s.column_int64(16);
  r.lease_owner = s.column_opt_text(17);
  r.lease_until = s.column_opt_int64(18);
  r.result = s.column_opt_text(19);
  r.result_status = s.column_opt_int64(20);
  r.error = s.column_opt_text(21);
  r.provider = s.column_opt_text(22);
  r.model = s.column_opt_text(23);
  r.webhook_state = s.column_opt_text(24);
  r.webhook_attempts = static_cast<int>(s.column_int64(25));
  r.webhook_next_at = s.column_opt_int64(26);
  r.webhook_last_status = s.column_opt_int64(27);
  r.webhook_last_error = s.column_opt_text(28);
  r.key_id = s.column_opt_text(29);
  return r;
}

Result<std::vector<JobRow>> rows(Statement& st) { return st.all(read_row); }

Result<std::optional<JobRow>> one(Statement& st) {
  auto r = rows(st);
  if (!r) return std::move(r).error();
  if (r->empty()) return std::optional<JobRow>();
  return std::optional<JobRow>(std::move(r->front()));
}

// Columns set when a job reaches a terminal state: no lease, finished, webhook due if any.
constexpr const char* kFinish =
    "finished_at = :now, updated_at = :now, lease_owner = NULL, lease_until = NULL, "
    "webhook_state = CASE WHEN webhook_url IS NULL THEN NULL ELSE 'pending' END, "
    "webhook_next_at = CASE WHEN webhook_url IS NULL THEN NULL ELSE :now END";

}  // namespace

Result<JobRepository::Inserted> JobRepository::insert(Connection& c, const JobInsert& job) {
  if (job.idempotency_key) {
    auto q = c.cached(sql("SELECT ", " FROM jobs WHERE idempotency_key = ?1"));
    if (!q) return std::move(q).error();
    q->bind(1, std::string_view(*job.idempotency_key));
    auto existing = one(*q);
    if (!existing) return std::move(existing).error();
    if (*existing) {
      // A replay returns the first job; the same key for another request is the client's bug.
      if ((*existing)->type != job.type || (*existing)->request != job.request) {
        return Error(core::ErrorKind::idempotency_key_reused,
                     "this idempotency key was used for a different request (job " + (*existing)->id +
                         "); use a new key for a new request",
                     "idempotency_key", "storage");
      }
      return Inserted{std::move(**existing), true};
    }
  }
  auto st = c.cached(sql(
      "INSERT INTO jobs (id, type, status, priority, request, request_bytes, idempotency_key, "
      "webhook_url, attempts, max_attempts, created_at, updated_at, run_at, expires_at, key_id) "
      "VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9, ?9, ?9, ?10, ?11) RETURNING "));
  if (!st) return std::move(st).error();
  st->bind(1, std::string_view(job.id))
      .bind(2, std::string_view(job.type))
      .bind(3, static_cast<std::int64_t>(job.priority))
      .bind(4, std::string_view(job.request))
      .bind(5, static_cast<std::int64_t>(job.request.size()))
      .bind_opt(6, job.idempotency_key)
      .bind_opt(7, job.webhook_url)
      .bind(8, static_cast<std::int64_t>(job.max_attempts))
      .bind(9, job.now)
      .bind(10, job.expires_at)
      .bind_opt(11, job.key_id);
  auto row = one(*st);
  if (!row) return std::move(row).error();
  if (!*row) return Error(core::ErrorKind::internal, "insert returned no row", {}, "storage");
  return Inserted{std::move(**row), false};
}

Result<std::optional<JobRow>> JobRepository::get(Connection& c, std::string_view id) {
  auto st = c.cached(sql("SELECT ", " FROM jobs WHERE id = ?1"));
  if (!st) return std::move(st).error();
  st->bind(1, id);
  return one(*st);
}

Result<Page<JobRow>> JobRepository::list(Connection& c, std::string_view status, const PageRequest& page) {
  std::int64_t pivot = 0;
  if (const std::string& id = page.after.empty() ? page.before : page.after; !id.empty()) {
    auto q = c.cached("SELECT seq FROM jobs WHERE id = ?1");
    if (!q) return std::move(q).error();
    q->bind(1, std::string_view(id));
    auto row = q->step();
    if (!row) return std::move(row).error();
    if (!*row) {
      const char* name = page.after.empty() ? "before" : "after";
      return Error(core::ErrorKind::invalid_field, std::string("'") + name + "' is not the id of a job", name);
    }
    pivot = q->column_int64(0);
  }
  const bool desc = page.scan_descending();
  auto st = c.cached(sql("SELECT ", desc ? " FROM jobs WHERE (?1 = '' OR status = ?1) AND (?2 <= 0 OR seq < ?2)"
                                           " ORDER BY seq DESC LIMIT ?3"
                                         : " FROM jobs WHERE (?1 = '' OR status = ?1) AND seq > ?2"
                                           " ORDER BY seq ASC LIMIT ?3"));
  if (!st) return std::move(st).error();
  st->bind(1, status).bind(2, pivot).bind(3, static_cast<std::int64_t>(page.limit) + 1);
  auto r = rows(*st);
  if (!r) return std::move(r).error();
  return make_page(std::move(*r), page);
}

Result<std::vector<JobRow>> JobRepository::claim(Connection& c, std::int64_t now,
                                                 std::string_view owner, std::int64_t lease_ms,
                                                 int limit) {
  auto st = c.cached(sql(
      "UPDATE jobs SET status = 'processing', attempts = attempts + 1, lease_owner = ?1, "
      "lease_until = ?2, started_at = coalesce(started_at, ?3), updated_at = ?3 "
      "WHERE seq IN (SELECT seq FROM jobs INDEXED BY jobs_queue WHERE status = 'queued' "
      "AND run_at <= ?3 "
      "AND expires_at > ?3 ORDER BY priority DESC, seq LIMIT ?4) RETURNING "));
  if (!st) return std::move(st).error();
  st->bind(1, owner).bind(2, now + lease_ms).bind(3, now).bind(4, static_cast<std::int64_t>(limit));
  auto r = rows(*st);
  if (!r) return r;
  std::sort(r->begin(), r->end(), [](const JobRow& a, const JobRow& b) {
    return a.priority != b.priority ? a.priority > b.priority : a.seq < b.seq;
  });
  return r;
}

Status JobRepository::renew(Connection& c, const std::vector<std::string>& ids,
                            std::string_view owner, std::int64_t until) {
  auto st = c.cached(
      "UPDATE jobs SET lease_until = ?1 WHERE id = ?2 AND status = 'processing' AND "
      "lease_owner = ?3");
  if (!st) return std::move(st).error();
  for (const auto& id : ids) {
    st->bind(1, until).bind(2, std::string_view(id)).bind(3, owner);
    if (auto r = st->run(); !r) return r;
    st->reset();
  }
  return {};
}

Result<std::optional<JobRow>> JobRepository::complete(Connection& c, std::string_view id,
                                                      int attempt, std::string_view owner,
                                                      std::int64_t now, std::string_view result,
                                                      std::string_view provider,
                                                      std::string_view model) {
  auto st = c.cached(sql(std::string("UPDATE jobs SET status = 'completed', result = :result, "
                                     "result_status = 200, provider = :provider, model = :model, ") +
                             kFinish +
                             " WHERE id = :id AND status = 'processing' AND attempts = :attempt "
                             "AND lease_owner = :owner RETURNING "));
  if (!st) return std::move(st).error();
  // Named parameters are numbered in order of first appearance.
  st->bind(1, result).bind(2, provider).bind(3, model).bind(4, now).bind(5, id)
      .bind(6, static_cast<std::int64_t>(attempt)).bind(7, owner);
  return one(*st);
}

Result<std::optional<JobRow>> JobRepository::fail(Connection& c, std::string_view id, int attempt,
                                                  std::string_view owner, std::int64_t now,
                                                  std::int64_t status, std::string_view error,
                                                  std::optional<std::int64_t> retry_at) {
  if (retry_at) {
    auto st = c.cached(sql(
        "UPDATE jobs SET status = 'queued', run_at = ?1, error = ?2, result_status = ?3, "
        "updated_at = ?4, lease_owner = NULL, lease_until = NULL WHERE id = ?5 AND "
        "status = 'processing' AND attempts = ?6 AND lease_owner = ?7 RETURNING "));
    if (!st) return std::move(st).error();
    st->bind(1, *retry_at).bind(2, error).bind(3, status).bind(4, now).bind(5, id)
        .bind(6, static_cast<std::int64_t>(attempt)).bind(7, owner);
    return one(*st);
  }
  auto st = c.cached(sql(std::string("UPDATE jobs SET status = 'failed', error = :error, "
                                     "result_status = :status, ") +
                             kFinish +
                             " WHERE id = :id AND status = 'processing' AND attempts = :attempt "
                             "AND lease_owner = :owner RETURNING "));
  if (!st) return std::move(st).error();
  st->bind(1, error).bind(2, status).bind(3, now).bind(4, id)
      .bind(5, static_cast<std::int64_t>(attempt)).bind(6, owner);
  return one(*st);
}

Result<std::optional<JobRow>> JobRepository::defer(Connection& c, std::string_view id, int attempt,
                                                   std::string_view owner, std::int64_t now,
                                                   std::int64_t run_at, std::string_view reason) {
  auto st = c.cached(sql(
      "UPDATE jobs SET status = 'queued', attempts = attempts - 1, run_at = ?1, error = ?2, "
      "updated_at = ?3, lease_owner = NULL, lease_until = NULL WHERE id = ?4 AND "
      "status = 'processing' AND attempts = ?5 AND lease_owner = ?6 RETURNING "));
  if (!st) return std::move(st).error();
  st->bind(1, run_at).bind(2, reason).bind(3, now).bind(4, id)
      .bind(5, static_cast<std::int64_t>(attempt)).bind(6, owner);
  return one(*st);
}

Result<JobRepository::CancelOutcome> JobRepository::cancel(Connection& c, std::string_view id,
                                                         std::int64_t now) {
  auto st = c.cached(sql(std::string("UPDATE jobs SET status = 'cancelled', ") + kFinish +
                         " WHERE id = :id AND status IN ('queued', 'processing') RETURNING "));
  if (!st) return std::move(st).error();
  st->bind(1, now).bind(2, id);
  auto applied = one(*st);
  if (!applied) return std::move(applied).error();
  if (*applied) return CancelOutcome{std::move(*applied), true};
  auto current = get(c, id);
  if (!current) return std::move(current).error();
  return CancelOutcome{std::move(*current), false};
}

Result<SweepResult> JobRepository::sweep(Connection& c, std::int64_t now,
                                         std::string_view live_owner, std::int64_t retention_ms) {
  SweepResult out;
  // A lease that ran out, or one held by an earlier run of the process: the attempt was
  // counted when it was taken; run again if attempts remain, else fail.
  {
    auto st = c.cached(
        "UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_until = NULL, "
        "updated_at = ?1 WHERE status = 'processing' AND (lease_until < ?1 OR lease_owner != ?2) "
        "AND attempts < max_attempts");
    if (!st) return std::move(st).error();
    st->bind(1, now).bind(2, live_owner);
    if (auto r = st->run(); !r) return std::move(r).error();
    out.requeued = st->changes();
  }
  {
    auto st = c.cached(sql(std::string(
        "UPDATE jobs SET status = 'failed', result_status = 500, error = "
        "'{\"error\":{\"message\":\"the worker running the last attempt stopped before it "
        "finished\",\"type\":\"server_error\",\"code\":\"worker_lost\"}}', ") + kFinish +
        " WHERE status = 'processing' AND (lease_until < :now OR lease_owner != :owner) "
        "RETURNING "));
    if (!st) return std::move(st).error();
    st->bind(1, now).bind(2, live_owner);
    auto r = rows(*st);
    if (!r) return std::move(r).error();
    for (auto& row : *r) out.finished.push_back(row.id);  // terminal now too
  }
  {
    auto st = c.cached(sql(std::string(
        "UPDATE jobs SET status = 'expired', result_status = 410, error = "
        "'{\"error\":{\"message\":\"the job did not finish within its ttl\",\"type\":"
        "\"invalid_request_error\",\"code\":\"job_expired\"}}', ") + kFinish +
        " WHERE status IN ('queued', 'processing') AND expires_at <= :now RETURNING "));
    if (!st) return std::move(st).error();
    st->bind(1, now);
    auto r = rows(*st);
    if (!r) return std::move(r).error();
    for (auto& row : *r) out.finished.push_back(row.id);
  }
  {
    auto st = c.cached(
        "DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ?1 AND "
        "(webhook_state IS NULL OR webhook_state != 'pending')");
    if (!st) return std::move(st).error();
    st->bind(1, now - retention_ms);
    if (auto r = st->run(); !r) return std::move(r).error();
    out.purged = st->changes();
  }
  return out;
}

Result<JobCounts> JobRepository::counts(Connection& c) {
  JobCounts out;
  auto st = c.cached("SELECT status, count(*) FROM jobs GROUP BY status");
  if (!st) return std::move(st).error();
  for (;;) {
    auto more = st->step();
    if (!more) return std::move(more).error();
    if (!*more) break;
    std::string s = st->column_text(0);
    std::int64_t n = st->column_int64(1);
    if (s == "queued") out.queued = n;
    else if (s == "processing") out.processing = n;
    else if (s == "completed") out.completed = n;
    else if (s == "failed") out.failed = n;
    else if (s == "expired") out.expired = n;
    else if (s == "cancelled") out.cancelled = n;
  }
  auto bytes = c.cached(
      "SELECT coalesce(sum(request_bytes), 0) FROM jobs WHERE status IN ('queued', 'processing')");
  if (!bytes) return std::move(bytes).error();
  auto row = bytes->step();
  if (!row) return std::move(row).error();
  out.pending_bytes = bytes->column_int64(0);
  return out;
}

Result<std::vector<JobRow>> JobRepository::claim_webhooks(Connection& c, std::int64_t now,
                                                          std::int64_t lease_until, int limit) {
  auto st = c.cached(sql(
      "UPDATE jobs SET webhook_next_at = ?1 WHERE seq IN (SELECT seq FROM jobs WHERE "
      "webhook_state = 'pending' AND webhook_next_at <= ?2 ORDER BY webhook_next_at LIMIT ?3) "
      "RETURNING "));
  if (!st) return std::move(st).error();
  st->bind(1, lease_until).bind(2, now).bind(3, static_cast<std::int64_t>(limit));
  return rows(*st);
}

Status JobRepository::record_webhook(Connection& c, std::string_view id, std::int64_t now,
                                     std::int64_t http_status, std::optional<std::string> error,
                                     std::optional<std::int64_t> next_at, bool delivered) {
  auto st = c.cached(
      "UPDATE jobs SET webhook_attempts = webhook_attempts + 1, webhook_last_status = ?1, "
      "webhook_last_error = ?2, webhook_next_at = ?3, webhook_state = ?4, updated_at = ?5 "
      "WHERE id = ?6");
  if (!st) return std::move(st).error();
  const char* state = delivered ? "delivered" : next_at ? "pending" : "failed";
  st->bind(1, http_status).bind_opt(2, error).bind_opt(3, next_at).bind(4, state).bind(5, now)
      .bind(6, id);
  return st->run();
}

}  // namespace sb::storage
