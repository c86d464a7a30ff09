#pragma once
// The job service: admission (capacity watermarks with hysteresis), the dispatcher that leases
// jobs to workers, the gateway call each attempt makes, retries with backoff, waiting out open
// circuits without spending attempts, TTL/lease/retention sweeps, signed webhooks, and status
// events for SSE subscribers.
//
// Background loops run on the first I/O context; jobs run spread over all of them.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/cancel.hpp"
#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/request_context.hpp"
#include "core/metrics.hpp"
#include "gateway/gateway.hpp"
#include "http/client.hpp"
#include "jobs/queue.hpp"

namespace sb::jobs {

struct Submit {
  std::string type;     // chat.completion | embeddings (validated by the caller)
  std::string request;  // the request body, JSON (validated by the caller)
  int priority = 0;
  std::optional<std::string> webhook_url;
  std::optional<std::string> idempotency_key;
  std::optional<std::int64_t> ttl_ms;
  std::optional<int> max_attempts;
  std::optional<std::string> key_id;  // the submitting API key: the job's tokens count against it
};

// The status object of the API, webhooks and events. With include_result, a completed job's
// result is embedded.
boost::json::object status_object(const Job& job, bool include_result);
std::string status_json(const Job& job, bool include_result);  // serialised status_object

// HMAC-SHA256 over "<timestamp>.<body>", lowercase hex: the X-Switchboard-Signature value is
// "sha256=" + this.
std::string webhook_signature(std::string_view secret, std::string_view timestamp,
                              std::string_view body);

// Checks a webhook URL: http or https with a host; unless allowed, no loopback, private or
// link-local literal address (names are checked again when resolved at delivery).
core::Status check_webhook_url(std::string_view url, bool allow_private);

// One SSE subscriber's mailbox: the service posts status objects; the handler waits on `wake`.
struct Watcher {
  explicit Watcher(boost::asio::any_io_executor ex) : wake(ex) {}
  boost::asio::steady_timer wake;
  std::deque<std::string> events;  // status objects, oldest first; touched on wake's executor
  bool terminal = false;           // the last event is a terminal state
};

class Service {
 public:
  Service(const core::Config& config, Queue& queue, gateway::Gateway& gateway,
          http::Client& client, core::metrics::Registry& registry, const core::Clock& clock,
          std::vector<boost::asio::io_context*> contexts);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Before start(): what each attempt reports its tokens to (the submitting key's usage,
  // limits and budget); null: nothing.
  using MeterFor = std::function<std::shared_ptr<core::RequestContext>(const Job& job)>;
  void set_meter(MeterFor f) { meter_for_ = std::move(f); }

  // Before start(): what runs a job of `type` other than the built-in chat.completion and
  // embeddings (which call the gateway). An error is retried or fails the job as a gateway
  // error would; `cancel` fires when the job is cancelled while it runs.
  struct Handled {
    std::string body;  // the result, JSON
    std::string provider, model;  // what answered, for the job row ("" = none)
  };
  using Handler = std::function<boost::asio::awaitable<core::Result<Handled>>(
      const Job& job, std::shared_ptr<core::CancelSignal> cancel, std::shared_ptr<core::RequestContext> meter)>;
  void set_handler(std::string type, Handler h) { handlers_[std::move(type)] = std::move(h); }

  // Before start(): told every status a job reaches (queued on submission, processing, a retry
  // or deferral queued again, the terminal one), from any thread (the live event bus).
  void set_on_event(std::function<void(const Job&)> f) { on_event_ = std::move(f); }

  // Reads the queue's state and starts the loops. Jobs left processing by an earlier run are
  // queued again at once.
  void start();
  // Stops taking jobs and ends the loops; running attempts are abandoned (their jobs run again
  // after a restart: leases are the safety net). Safe from any thread; idempotent.
  void stop();

  // Admission + durable enqueue. Errors: busy (503 at capacity, retry_after_ms set),
  // invalid_field, storage errors.
  Task<Queue::Enqueued> submit(Submit s);
  // Several at once: admitted together and stored in one write, or none.
  Task<std::vector<Queue::Enqueued>> submit_many(std::vector<Submit> batch);
  Task<std::optional<Job>> get(std::string id);
  Task<storage::Page<Job>> list(std::string status, storage::PageRequest page);
  // Cancels a job that has not finished; `applied` says whether this call cancelled it.
  Task<Queue::Cancelled> cancel(std::string id);

  // SSE: register before reading the current status, so no change is missed.
  std::shared_ptr<Watcher> watch(const std::string& id, boost::asio::any_io_executor ex);
  void unwatch(const std::string& id, const std::shared_ptr<Watcher>& w);

  // One housekeeping pass (what the sweep loop does each interval); for tests and shutdown.
  boost::asio::awaitable<void> sweep_once();

  bool admitting() const;
  const std::string& owner() const { return owner_; }

 private:
  MeterFor meter_for_;
  std::map<std::string, Handler> handlers_;
  std::function<void(const Job&)> on_event_;
  std::mutex announce_mu_;  // orders a job's queued event before its processing one
  std::set<std::string> announced_;  // unfinished jobs whose queued event went out
  struct Metrics;
  boost::asio::awaitable<void> dispatch_loop();
  boost::asio::awaitable<void> sweep_loop();
  boost::asio::awaitable<void> webhook_loop();
  boost::asio::awaitable<void> run_job(Job job);
  boost::asio::awaitable<void> deliver(Job job);
  void wake_dispatcher();
  int prefetch() const;
  void start_ready();
  int startable() const;  // ready jobs whose provider has room
  bool has_room(const std::string& provider) const;
  std::string first_provider(const Job& job);
  void job_done(const std::string& id);
  void finished(const Job& job);  // a job reached a terminal state: counters, events, webhooks
  void publish(const Job& job);
  void announce(const Job& job);  // its "queued" event, once
  void log_state(const Job& job, std::string_view what);
  bool admit(std::int64_t jobs, std::int64_t bytes);
  JobInsert prepare(Submit s, std::int64_t now);
  void update_admission_locked();  // REQUIRES: cap_mu_ held
  std::int64_t backoff_ms(int attempt, int base, int cap);

  core::JobsConfig cfg_;
  std::int64_t max_result_bytes_;  // server.max_response_bytes
  Queue& queue_;
  gateway::Gateway& gateway_;
  http::Client& client_;
  const core::Clock& clock_;
  std::vector<boost::asio::io_context*> contexts_;
  boost::asio::io_context& home_;  // the loops' context
  std::unique_ptr<Metrics> m_;
  std::string owner_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> wake_pending_{false};
  std::unique_ptr<boost::asio::steady_timer> dispatch_wake_;  // home_ only
  std::unique_ptr<boost::asio::steady_timer> sweep_timer_;
  std::unique_ptr<boost::asio::steady_timer> webhook_timer_;
  std::set<std::string> running_;  // home_ only
  // Claimed, not started yet, with the provider the job's model routes to first; home_ only.
  struct Ready {
    Job job;
    std::string provider;
  };
  std::deque<Ready> ready_;
  std::map<std::string, int> provider_running_;  // home_ only
  std::map<std::string, int> provider_limit_;    // [[providers]] job_concurrency (> 0 only)
  std::map<std::string, std::string> job_provider_;  // running job id -> its provider; home_ only
  std::size_t next_context_ = 0;    // home_ only

  // Capacity: unfinished jobs and their bytes, kept in memory, corrected by each sweep.
  mutable std::mutex cap_mu_;
  std::int64_t pending_jobs_ = 0;
  std::int64_t pending_bytes_ = 0;
  bool admitting_ = true;

  // Attempts in flight in this process: where they run and how to stop them (cancel).
  std::mutex live_mu_;
  std::map<std::string, std::pair<boost::asio::any_io_executor, std::shared_ptr<core::CancelSignal>>> live_;

  std::mutex watch_mu_;
  std::multimap<std::string, std::shared_ptr<Watcher>> watchers_;

  std::mutex rng_mu_;
  std::mt19937_64 rng_;
};

}  // namespace sb::jobs
