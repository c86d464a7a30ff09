#include "jobs/service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "core/cancel.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "gateway/json_splice.hpp"
#include "http/message.hpp"
#include "core/json_text.hpp"

namespace sb::jobs {

namespace asio = boost::asio;
namespace json = boost::json;
namespace log = core::log;
namespace metrics = core::metrics;
using asio::awaitable;
using core::Error;
using core::ErrorKind;
using std::chrono::milliseconds;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr int kClaimBatch = 64;
constexpr int kWebhookBatch = 16;
constexpr int kMaxHeld = 1000;  // claimed jobs waiting for their provider's job_concurrency
constexpr milliseconds kIdlePoll(250);  // delayed retries and deferrals become due without a wake

double seconds(std::int64_t ms) { return std::max<std::int64_t>(ms, 0) / 1000.0; }

bool retryable(const Error& e) {
  const int s = e.status();
  return s == 408 || s == 409 || s == 429 || s >= 500;
}

// Unix ms -> Unix seconds, as every *_at field is (../shared/API.md).
std::int64_t secs(std::int64_t ms) { return ms / 1000; }

json::value opt_time(const std::optional<std::int64_t>& ms) {
  return ms ? json::value(secs(*ms)) : json::value(nullptr);
}

json::value parsed_or_string(const std::string& s) {
  boost::system::error_code ec;
  json::value v = json::parse(s, ec);
  return ec ? json::value(s) : v;
}

}  // namespace

std::string webhook_signature(std::string_view secret, std::string_view timestamp,
                              std::string_view body) {
  std::string msg;
  msg.reserve(timestamp.size() + 1 + body.size());
  msg.append(timestamp).append(".").append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 15]);
  }
  return out;
}

std::string status_json(const Job& j, bool include_result) {
  return core::to_json(status_object(j, include_result));
}

json::object status_object(const Job& j, bool include_result) {
  json::object o{{"id", j.id},
                 {"object", "job"},
                 {"type", j.type},
                 {"status", j.status},
                 {"priority", j.priority},
                 {"attempts", j.attempts},
                 {"max_attempts", j.max_attempts},
                 {"created_at", secs(j.created_at)},
                 {"updated_at", secs(j.updated_at)},
                 {"started_at", opt_time(j.started_at)},
                 {"finished_at", opt_time(j.finished_at)},
                 {"expires_at", secs(j.expires_at)},
                 {"status_url", "/api/v1/jobs/" + j.id},
                 {"result_url", "/api/v1/jobs/" + j.id + "/result"}};
  if (j.status == "queued" && j.attempts > 0) o["next_attempt_at"] = secs(j.run_at);
  if (j.idempotency_key) o["idempotency_key"] = *j.idempotency_key;
  if (j.provider) o["provider"] = *j.provider;
  if (j.model) o["model"] = *j.model;
  if (j.error) {
    json::value e = parsed_or_string(*j.error);
    o["last_error"] = e.is_object() && e.as_object().contains("error") ? e.as_object()["error"] : e;
  } else {
    o["last_error"] = nullptr;
  }
  if (j.webhook_url) {
    o["webhook"] = json::object{{"url", *j.webhook_url},
                                {"state", j.webhook_state ? json::value(*j.webhook_state) : json::value(nullptr)},
                                {"attempts", j.webhook_attempts},
                                {"last_status", j.webhook_last_status ? json::value(*j.webhook_last_status) : json::value(nullptr)},
                                {"last_error", j.webhook_last_error ? json::value(*j.webhook_last_error) : json::value(nullptr)},
                                {"next_attempt_at", j.webhook_state && *j.webhook_state == "pending" ? opt_time(j.webhook_next_at) : json::value(nullptr)}};
  }
  if (include_result) {
    if (j.status == "completed" && j.result) o["result"] = parsed_or_string(*j.result);
  }
  return o;
}

core::Status check_webhook_url(std::string_view url, bool allow_private) {
  auto u = http::parse_url(url);
  if (!u || u->host.empty()) {
    return Error(ErrorKind::invalid_field, "'webhook_url' must be an http:// or https:// URL",
                 "webhook_url");
  }
  if (!allow_private && http::names_private_host(u->host)) {
    return Error(ErrorKind::invalid_field,
                 "'webhook_url' points at a loopback, private or link-local address; set "
                 "jobs.webhook_allow_private = true to allow it",
                 "webhook_url");
  }
  return {};
}

struct Service::Metrics {
  metrics::Family<metrics::Gauge>& jobs;
  metrics::Counter& enqueued;
  metrics::Counter& completed;
  metrics::Counter& failed;
  metrics::Counter& expired;
  metrics::Counter& cancelled;
  metrics::Counter& retried;
  metrics::Counter& deferred;
  metrics::Counter& rejected;
  metrics::Histogram& wait;
  metrics::Histogram& run;
  metrics::Family<metrics::Counter>& webhooks;

  explicit Metrics(metrics::Registry& r)
      : jobs(r.gauge("switchboard_jobs", "Jobs in the store, by status.", {"status"})),
        enqueued(r.counter("switchboard_jobs_enqueued_total", "Jobs accepted (202).").with({})),
        completed(r.counter("switchboard_jobs_completed_total", "Jobs completed.").with({})),
        failed(r.counter("switchboard_jobs_failed_total", "Jobs failed for good.").with({})),
        expired(r.counter("switchboard_jobs_expired_total", "Jobs expired (TTL).").with({})),
        cancelled(r.counter("switchboard_jobs_cancelled_total", "Jobs cancelled.").with({})),
        retried(r.counter("switchboard_jobs_retries_total",
                          "Failed attempts scheduled to run again.").with({})),
        deferred(r.counter("switchboard_jobs_deferred_total",
                           "Attempts put back uncounted because every target's circuit was open.")
                     .with({})),
        rejected(r.counter("switchboard_jobs_rejected_total",
                           "Submissions refused because the queue was at capacity.").with({})),
        wait(r.histogram("switchboard_job_queue_wait_seconds",
                         "From when a job could run to when an attempt started.", {}).with({})),
        run(r.histogram("switchboard_job_run_seconds", "Time one attempt ran.", {}).with({})),
        webhooks(r.counter("switchboard_job_webhook_deliveries_total",
                           "Webhook delivery attempts, by outcome (delivered, retry, failed).",
                           {"outcome"})) {}
};

Service::Service(const core::Config& config, Queue& queue, gateway::Gateway& gateway,
                 http::Client& client, metrics::Registry& registry, const core::Clock& clock,
                 std::vector<asio::io_context*> contexts)
    : cfg_(config.jobs),
      max_result_bytes_(config.server.max_response_bytes),
      queue_(queue),
      gateway_(gateway),
      client_(client),
      clock_(clock),
      contexts_(std::move(contexts)),
      home_(*contexts_.front()),
      m_(std::make_unique<Metrics>(registry)),
      owner_("w-" + core::new_request_id().substr(0, 16)),
      dispatch_wake_(std::make_unique<asio::steady_timer>(home_)),
      sweep_timer_(std::make_unique<asio::steady_timer>(home_)),
      webhook_timer_(std::make_unique<asio::steady_timer>(home_)),
      rng_(std::random_device{}()) {
  for (const auto& p : config.providers) {
    if (p.job_concurrency > 0) provider_limit_[p.name] = p.job_concurrency;
  }
}

Service::~Service() = default;

void Service::start() {
  // The capacity counters start from the store (jobs left by an earlier run), counted before
  // any submission; from then on every admission and terminal transition keeps them exact.
  {
    asio::io_context once;
    std::optional<core::Result<JobCounts>> counted;
    asio::co_spawn(once, [&]() -> awaitable<void> { counted.emplace(co_await queue_.counts()); },
                   asio::detached);
    once.run();
    auto c = counted ? std::move(*counted) : core::Result<JobCounts>(Error(ErrorKind::internal, "not counted"));
    if (c) {
      std::lock_guard lock(cap_mu_);
      pending_jobs_ = c->queued + c->processing;
      pending_bytes_ = c->pending_bytes;
      update_admission_locked();
    } else {
      log::error("counting stored jobs failed", {{"error", c.error().message}});
    }
  }
  auto spawn = [this](awaitable<void> a, const char* name) {
    asio::co_spawn(home_, std::move(a), [name](std::exception_ptr e) {
      if (e) log::error("job loop stopped by an exception", {{"loop", name}});
    });
  };
  spawn(dispatch_loop(), "dispatch");
  spawn(sweep_loop(), "sweep");
  spawn(webhook_loop(), "webhooks");
}

void Service::stop() {
  if (stopping_.exchange(true)) return;
  asio::post(home_, [this] {
    dispatch_wake_->cancel();
    sweep_timer_->cancel();
    webhook_timer_->cancel();
  });
}

bool Service::admitting() const {
  std::lock_guard lock(cap_mu_);
  return admitting_;
}

void Service::update_admission_locked() {
  const std::int64_t used = std::max(pending_jobs_ * 100 / std::max<std::int64_t>(cfg_.max_queued, 1),
                                     pending_bytes_ * 100 / std::max<std::int64_t>(cfg_.max_queued_bytes, 1));
  if (admitting_ && used >= cfg_.high_watermark_percent) {
    admitting_ = false;
    log::warn("job queue at capacity: admission stopped",
              {{"queued", pending_jobs_}, {"bytes", pending_bytes_}, {"used_percent", used}});
  } else if (!admitting_ && used < cfg_.low_watermark_percent) {
    admitting_ = true;
    log::info("job queue below the low watermark: admission reopened", {{"used_percent", used}});
  }
}

bool Service::admit(std::int64_t jobs, std::int64_t bytes) {
  std::lock_guard lock(cap_mu_);
  update_admission_locked();
  if (!admitting_ || pending_jobs_ + jobs > cfg_.max_queued ||
      pending_bytes_ + bytes > cfg_.max_queued_bytes) {
    return false;
  }
  pending_jobs_ += jobs;
  pending_bytes_ += bytes;
  return true;
}

JobInsert Service::prepare(Submit s, std::int64_t now) {
  JobInsert in;
  in.id = "job_" + core::new_request_id().substr(0, 24);
  in.type = std::move(s.type);
  in.priority = s.priority;
  in.request = std::move(s.request);
  in.idempotency_key = std::move(s.idempotency_key);
  in.webhook_url = std::move(s.webhook_url);
  in.key_id = std::move(s.key_id);
  in.max_attempts = s.max_attempts.value_or(cfg_.max_attempts);
  in.now = now;
  in.expires_at = now + s.ttl_ms.value_or(cfg_.ttl_s * 1000);
  return in;
}

Task<std::vector<Queue::Enqueued>> Service::submit_many(std::vector<Submit> batch) {
  if (stopping_) co_return Error(ErrorKind::unavailable, "shutting down", {}, "jobs");
  std::int64_t bytes = 0;
  for (const auto& s : batch) {
    const auto size = static_cast<std::int64_t>(s.request.size());
    if (size > cfg_.max_queued_bytes) {
      // Waiting cannot help: it could never fit.
      co_return Error(ErrorKind::payload_too_large,
                      "the job's request is " + std::to_string(size) + " bytes, more than the whole queue holds (" +
                          std::to_string(cfg_.max_queued_bytes) + ", jobs.max_queued_bytes)",
                      "request", "jobs");
    }
    bytes += size;
  }
  const auto n = static_cast<std::int64_t>(batch.size());
  if (!admit(n, bytes)) {
    m_->rejected.inc(static_cast<std::uint64_t>(n));
    Error e(ErrorKind::busy, "queue at capacity; retry later", {}, "jobs");
    e.retry_after_ms = std::max(cfg_.sweep_interval_ms, 1000);
    co_return e;
  }
  const std::int64_t now = clock_.now_ms();
  std::vector<JobInsert> rows;
  rows.reserve(batch.size());
  for (auto& s : batch) rows.push_back(prepare(std::move(s), now));
  auto r = co_await queue_.enqueue(std::move(rows));
  std::int64_t undo_jobs = r ? 0 : n, undo_bytes = r ? 0 : bytes;
  if (r) {
    for (const auto& e : *r) {
      if (!e.existed) continue;
      ++undo_jobs;
      undo_bytes += e.job.request_bytes;
    }
  }
  {
    std::lock_guard lock(cap_mu_);
    pending_jobs_ -= undo_jobs;
    pending_bytes_ -= undo_bytes;
  }
  if (!r) co_return r;
  bool any = false;
  for (const auto& e : *r) {
    if (e.existed) continue;
    any = true;
    m_->enqueued.inc();
    log_state(e.job, "queued");
    announce(e.job);
  }
  if (any) wake_dispatcher();
  co_return r;
}

Task<Queue::Enqueued> Service::submit(Submit s) {
  std::vector<Submit> one;
  one.push_back(std::move(s));
  auto r = co_await submit_many(std::move(one));
  if (!r) co_return std::move(r).error();
  co_return std::move(r->front());
}

Task<std::optional<Job>> Service::get(std::string id) { co_return co_await queue_.get(std::move(id)); }

Task<storage::Page<Job>> Service::list(std::string status, storage::PageRequest page) {
  co_return co_await queue_.list(std::move(status), std::move(page));
}

Task<Queue::Cancelled> Service::cancel(std::string id) {
  auto r = co_await queue_.cancel(id, clock_.now_ms());
  if (!r || !r->applied) co_return r;
  finished(*r->job);
  // Stop the attempt in flight, if this process runs it.
  std::shared_ptr<core::CancelSignal> signal;
  asio::any_io_executor ex;
  {
    std::lock_guard lock(live_mu_);
    auto it = live_.find(id);
    if (it != live_.end()) {
      ex = it->second.first;
      signal = it->second.second;
    }
  }
  if (signal) asio::post(ex, [signal] { signal->fire(); });
  asio::post(home_, [this, id] {  // claimed but not started yet: never start it
    std::erase_if(ready_, [&](const Ready& r) { return r.job.id == id; });
  });
  co_return r;
}

std::shared_ptr<Watcher> Service::watch(const std::string& id, asio::any_io_executor ex) {
  auto w = std::make_shared<Watcher>(std::move(ex));
  w->wake.expires_at(asio::steady_timer::time_point::max());
  std::lock_guard lock(watch_mu_);
  watchers_.emplace(id, w);
  return w;
}

void Service::unwatch(const std::string& id, const std::shared_ptr<Watcher>& w) {
  std::lock_guard lock(watch_mu_);
  auto [b, e] = watchers_.equal_range(id);
  for (auto it = b; it != e; ++it) {
    if (it->second == w) {
      watchers_.erase(it);
      return;
    }
  }
}

void Service::announce(const Job& job) {
  if (!on_event_) return;
  std::lock_guard lock(announce_mu_);
  if (announced_.insert(job.id).second) on_event_(job);
}

void Service::publish(const Job& job) {
  if (on_event_) {
    // A job claimed before its submission was announced: "queued" first, so that a subscriber
    // sees its states in order (the submitter's announce then sees it done and says nothing).
    std::lock_guard lock(announce_mu_);
    if (job.status == "processing" && job.attempts == 1 && announced_.insert(job.id).second) {
      Job queued = job;
      queued.status = "queued";
      queued.attempts = 0;
      queued.started_at.reset();
      on_event_(queued);
    }
    if (job.terminal()) announced_.erase(job.id);
    on_event_(job);
  }
  std::vector<std::shared_ptr<Watcher>> ws;
  {
    std::lock_guard lock(watch_mu_);
    auto [b, e] = watchers_.equal_range(job.id);
    for (auto it = b; it != e; ++it) ws.push_back(it->second);
  }
  if (ws.empty()) return;
  auto body = std::make_shared<std::string>(status_json(job, true));
  const bool terminal = job.terminal();
  for (auto& w : ws) {
    asio::post(w->wake.get_executor(), [w, body, terminal] {
      w->events.push_back(*body);
      w->terminal = w->terminal || terminal;
      w->wake.cancel();
    });
  }
}

void Service::log_state(const Job& job, std::string_view what) {
  std::string error;
  if (job.error && job.status != "completed") {
    json::value e = parsed_or_string(*job.error);
    const json::value* msg = e.is_object() && e.as_object().contains("error") && e.as_object()["error"].is_object()
                                 ? e.as_object()["error"].as_object().if_contains("message")
                                 : nullptr;
    error = msg && msg->is_string() ? std::string(msg->get_string()) : *job.error;
  }
  if (error.empty()) {
    log::info("job", {{"job_id", job.id}, {"type", job.type}, {"job_status", what}, {"attempts", job.attempts}});
  } else {
    log::info("job", {{"job_id", job.id}, {"type", job.type}, {"job_status", what}, {"attempts", job.attempts},
                      {"error", error}});
  }
}

void Service::finished(const Job& job) {
  {
    std::lock_guard lock(cap_mu_);
    --pending_jobs_;
    pending_bytes_ -= job.request_bytes;
  }
  if (job.status == "completed") m_->completed.inc();
  else if (job.status == "failed") m_->failed.inc();
  else if (job.status == "expired") m_->expired.inc();
  else if (job.status == "cancelled") m_->cancelled.inc();
  log_state(job, job.status);
  publish(job);
  if (job.webhook_url) asio::post(home_, [this] { webhook_timer_->cancel(); });
}

void Service::wake_dispatcher() {
  wake_pending_.store(true);
  asio::post(home_, [this] { dispatch_wake_->cancel(); });
}

std::int64_t Service::backoff_ms(int attempt, int base, int cap) {
  std::int64_t d = base;
  for (int i = 1; i < attempt && d < cap; ++i) d *= 2;
  d = std::min<std::int64_t>(d, cap);
  if (d <= 1) return d;
  std::lock_guard lock(rng_mu_);
  return std::uniform_int_distribution<std::int64_t>(d / 2, d)(rng_);
}

// Jobs are claimed ahead of need (up to `prefetch` more than can run), so the next job starts the
// moment one finishes while the dispatcher claims more in the background: at low concurrency
// the claim's transaction overlaps a job's run instead of adding to it. Everything here runs
// on home_, jobs included: no thread hop between a job ending and the next starting.
int Service::prefetch() const { return std::min(cfg_.concurrency, kClaimBatch); }

std::string Service::first_provider(const Job& job) {
  if (provider_limit_.empty()) return {};
  boost::system::error_code ec;
  json::value v = json::parse(job.request, ec);
  const json::value* model = !ec && v.is_object() ? v.as_object().if_contains("model") : nullptr;
  if (!model || !model->is_string()) return {};
  auto targets = gateway_.resolve(std::string(model->get_string()));
  if (!targets || targets->targets.empty()) return {};
  return targets->targets.front().provider->config().name;
}

bool Service::has_room(const std::string& provider) const {
  auto limit = provider_limit_.find(provider);
  if (limit == provider_limit_.end()) return true;
  auto running = provider_running_.find(provider);
  return running == provider_running_.end() || running->second < limit->second;
}

int Service::startable() const {
  int n = 0;
  for (const auto& r : ready_) n += has_room(r.provider) ? 1 : 0;
  return n;
}

void Service::start_ready() {
  for (auto it = ready_.begin();
       it != ready_.end() && static_cast<int>(running_.size()) < cfg_.concurrency;) {
    if (!has_room(it->provider)) {  // its provider is at job_concurrency: let others pass
      ++it;
      continue;
    }
    Job job = std::move(it->job);
    std::string provider = std::move(it->provider);
    it = ready_.erase(it);
    running_.insert(job.id);
    if (!provider.empty()) {
      ++provider_running_[provider];
      job_provider_[job.id] = provider;
    }
    asio::co_spawn(home_, run_job(std::move(job)), asio::detached);
  }
}

awaitable<void> Service::dispatch_loop() {
  co_await sweep_once();  // jobs an earlier run left processing go back in the queue first
  while (!stopping_) {
    start_ready();
    // Jobs held back by a provider's job_concurrency do not count, up to kMaxHeld of them.
    const int want = std::min(cfg_.concurrency + prefetch() - static_cast<int>(running_.size()) - startable(),
                              kMaxHeld - static_cast<int>(ready_.size()));
    if (want > 0) {
      wake_pending_.store(false);
      const int ask = std::min(want, kClaimBatch);
      auto jobs = co_await queue_.claim(clock_.now_ms(), owner_, cfg_.lease_ms, ask);
      if (!jobs) {
        log::error("claiming jobs failed", {{"error", jobs.error().message}});
      } else {
        for (auto& job : *jobs) {
          std::string provider = first_provider(job);
          ready_.push_back(Ready{std::move(job), std::move(provider)});
        }
        start_ready();
        if (static_cast<int>(jobs->size()) == ask) continue;
      }
    }
    if (wake_pending_.exchange(false) && want > 0) continue;
    dispatch_wake_->expires_after(kIdlePoll);
    co_await dispatch_wake_->async_wait(kTuple);
  }
}

void Service::job_done(const std::string& id) {
  // On home_ already (jobs run there).
  running_.erase(id);
  if (auto p = job_provider_.find(id); p != job_provider_.end()) {
    --provider_running_[p->second];
    job_provider_.erase(p);
  }
  start_ready();
  dispatch_wake_->cancel();
}

awaitable<void> Service::run_job(Job job) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::int64_t started = clock_.now_ms();
  m_->wait.observe(seconds(started - job.run_at));
  publish(job);
  auto signal = std::make_shared<core::CancelSignal>();
  {
    std::lock_guard lock(live_mu_);
    live_[job.id] = {co_await asio::this_coro::executor, signal};
  }

  core::Result<gateway::ChatResult> r = Error(ErrorKind::internal, "not run", {}, "jobs");
  gateway::Outcome outcome;
  boost::system::error_code ec;
  auto handler = handlers_.find(job.type);
  json::value body = handler == handlers_.end() ? json::parse(job.request, ec) : json::value();
  if (handler != handlers_.end()) {
    auto handled = co_await handler->second(job, signal, meter_for_ ? meter_for_(job) : nullptr);
    if (handled) {
      r = gateway::ChatResult{std::move(handled->body)};
      outcome.provider = std::move(handled->provider);
      outcome.model = std::move(handled->model);
    } else {
      r = std::move(handled).error();
    }
  } else if (ec || !body.is_object() || !body.as_object().contains("model") ||
      !body.as_object()["model"].is_string()) {
    r = Error(ErrorKind::invalid_field, "the stored request is not a valid request object", "request");
  } else {
    json::object& o = body.as_object();
    o.erase("stream");  // a job's result is one whole response
    o.erase("stream_options");
    std::string model(o["model"].as_string());
    auto targets = gateway_.resolve(model);
    if (!targets) {
      r = std::move(targets).error();
    } else {
      gateway::ChatCall call{std::move(o), "", job.id};
      call.cancel = signal;
      if (meter_for_) call.meter = meter_for_(job);
      if (job.type == "embeddings") {
        r = co_await gateway_.embeddings(std::move(call), std::move(*targets), outcome);
      } else {
        r = co_await gateway_.chat(std::move(call), std::move(*targets), outcome);
      }
      // The result names the model the job asked for, as the synchronous endpoints do.
      if (r) gateway::rename_model(r->body, model);
    }
  }
  {
    std::lock_guard lock(live_mu_);
    live_.erase(job.id);
  }
  m_->run.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  const std::int64_t now = clock_.now_ms();
  core::Result<std::optional<Job>> end = std::optional<Job>();
  if (r && static_cast<std::int64_t>(r->body.size()) > max_result_bytes_) {
    r = Error(ErrorKind::payload_too_large,
              "the result is " + std::to_string(r->body.size()) + " bytes, over server.max_response_bytes (" +
                  std::to_string(max_result_bytes_) + ")",
              {}, "jobs");
  }
  if (signal->fired()) {
    // Cancelled while running: the row already says so.
  } else if (r) {
    end = co_await queue_.complete(job.id, job.attempts, owner_, now, std::move(r->body),
                                   outcome.provider, outcome.model);
  } else if (r.error().circuits_open) {
    const std::int64_t wait = std::max(r.error().retry_after_ms, 100);
    m_->deferred.inc();
    end = co_await queue_.defer(job.id, job.attempts, owner_, now, now + wait, http::error_body(r.error()));
  } else {
    const Error& e = r.error();
    std::optional<std::int64_t> retry_at;
    if (retryable(e) && job.attempts < job.max_attempts) {
      std::int64_t wait = backoff_ms(job.attempts, cfg_.retry_backoff_ms, cfg_.retry_backoff_max_ms);
      if (e.retry_after_ms > 0) wait = std::max<std::int64_t>(wait, e.retry_after_ms);
      if (now + wait < job.expires_at) retry_at = now + wait;
    }
    if (retry_at) m_->retried.inc();
    end = co_await queue_.fail(job.id, job.attempts, owner_, now, e.status(), http::error_body(e), retry_at);
  }
  if (!end) {
    log::error("recording a job's attempt failed; its lease will put it back",
               {{"job_id", job.id}, {"error", end.error().message}});
  } else if (*end) {
    const Job& row = **end;
    if (row.terminal()) {
      finished(row);
    } else {
      log_state(row, row.attempts < job.attempts ? "deferred" : "retry");
      publish(row);
    }
  }
  job_done(job.id);
}

awaitable<void> Service::sweep_once() {
  const std::int64_t now = clock_.now_ms();
  auto swept = co_await queue_.sweep(now, owner_, cfg_.retention_s * 1000);
  if (!swept) {
    log::error("job sweep failed", {{"error", swept.error().message}});
  } else {
    if (swept->requeued > 0) {
      log::warn("jobs re-queued after their worker's lease ended", {{"count", swept->requeued}});
      wake_dispatcher();
    }
    if (swept->purged > 0) log::info("finished jobs purged", {{"count", swept->purged}});
    for (const auto& id : swept->finished) {
      auto row = co_await queue_.get(id);
      if (row && *row) finished(**row);
    }
  }
  // running_ and ready_ belong to home_, where this runs.
  std::vector<std::string> ids(running_.begin(), running_.end());
  for (const auto& r : ready_) ids.push_back(r.job.id);
  if (!ids.empty()) {
    if (auto st = co_await queue_.renew(std::move(ids), owner_, clock_.now_ms() + cfg_.lease_ms); !st) {
      log::error("renewing job leases failed", {{"error", st.error().message}});
    }
  }
  auto counts = co_await queue_.counts();
  if (counts) {
    m_->jobs.with({"queued"}).set(static_cast<double>(counts->queued));
    m_->jobs.with({"processing"}).set(static_cast<double>(counts->processing));
    m_->jobs.with({"completed"}).set(static_cast<double>(counts->completed));
    m_->jobs.with({"failed"}).set(static_cast<double>(counts->failed));
    m_->jobs.with({"expired"}).set(static_cast<double>(counts->expired));
    m_->jobs.with({"cancelled"}).set(static_cast<double>(counts->cancelled));
    std::lock_guard lock(cap_mu_);
    update_admission_locked();  // reopens once drained, even without a submission
  }
}

awaitable<void> Service::sweep_loop() {
  while (!stopping_) {
    sweep_timer_->expires_after(milliseconds(cfg_.sweep_interval_ms));
    co_await sweep_timer_->async_wait(kTuple);
    if (stopping_) break;
    co_await sweep_once();
  }
}

awaitable<void> Service::webhook_loop() {
  while (!stopping_) {
    const std::int64_t now = clock_.now_ms();
    auto due = co_await queue_.claim_webhooks(now, now + cfg_.webhook_timeout_ms + 5000, kWebhookBatch);
    if (!due) {
      log::error("claiming webhooks failed", {{"error", due.error().message}});
    } else {
      for (auto& job : *due) {
        asio::io_context& ctx = *contexts_[next_context_++ % contexts_.size()];
        asio::co_spawn(ctx, deliver(std::move(job)), asio::detached);
      }
      if (static_cast<int>(due->size()) == kWebhookBatch) continue;
    }
    webhook_timer_->expires_after(milliseconds(500));
    co_await webhook_timer_->async_wait(kTuple);
  }
}

awaitable<void> Service::deliver(Job job) {
  const std::string body = status_json(job, true);
  const std::int64_t now = clock_.now_ms();
  const std::string ts = std::to_string(now / 1000);
  http::ClientRequest req;
  req.method = "POST";
  req.url = *job.webhook_url;
  req.body = body;
  req.public_only = !cfg_.webhook_allow_private;
  req.headers = {{"Content-Type", "application/json"},
                 {"X-Switchboard-Event", "job." + job.status},
                 {"X-Switchboard-Job-Id", job.id},
                 {"X-Switchboard-Delivery", std::to_string(job.webhook_attempts + 1)},
                 {"X-Switchboard-Timestamp", ts}};
  if (!cfg_.webhook_secret.empty()) {
    req.headers.emplace_back("X-Switchboard-Signature",
                             "sha256=" + webhook_signature(cfg_.webhook_secret, ts, body));
  }
  const milliseconds timeout(cfg_.webhook_timeout_ms);
  req.timeouts = {timeout, timeout, timeout};
  auto res = co_await client_.fetch(std::move(req));
  const bool ok = res && res->status >= 200 && res->status < 300;
  std::optional<std::string> error;
  std::int64_t status = res ? res->status : 0;
  if (!res) error = res.error().message;
  else if (!ok) error = "receiver answered HTTP " + std::to_string(res->status);
  const int attempts = job.webhook_attempts + 1;
  std::optional<std::int64_t> next_at;
  if (!ok && attempts < cfg_.webhook_max_attempts) {
    next_at = clock_.now_ms() + backoff_ms(attempts, 1000, 300000);
  }
  const char* outcome = ok ? "delivered" : next_at ? "retry" : "failed";
  m_->webhooks.with({outcome}).inc();
  if (ok) {
    log::info("job webhook", {{"job_id", job.id}, {"outcome", outcome}, {"attempt", attempts}, {"status", status}});
  } else {
    log::warn("job webhook", {{"job_id", job.id}, {"outcome", outcome}, {"attempt", attempts},
                              {"status", status}, {"error", error.value_or("")}});
  }
  if (auto st = co_await queue_.record_webhook(job.id, clock_.now_ms(), status, error, next_at, ok); !st) {
    log::error("recording a webhook delivery failed", {{"job_id", job.id}, {"error", st.error().message}});
  }
}

}  // namespace sb::jobs
