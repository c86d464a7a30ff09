#include "gateway/gateway.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

#include "core/log.hpp"

namespace sb::gateway {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::awaitable;
using core::Error;
using core::ErrorKind;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
namespace log = core::log;
namespace metrics = core::metrics;

namespace {

// prompt/completion tokens from the last "usage" object of an OpenAI response or chunk: a scan
// for the two counters after the key, without parsing the document.
bool extract_usage(std::string_view text, long long& prompt, long long& completion, long long* cached = nullptr) {
  auto at = text.rfind("\"usage\"");
  if (at == std::string_view::npos) return false;
  std::string_view rest = text.substr(at);
  auto number = [&](std::string_view key, long long& out) {
    auto k = rest.find(key);
    if (k == std::string_view::npos) return false;
    std::size_t i = k + key.size();
    while (i < rest.size() && (rest[i] == ' ' || rest[i] == ':' || rest[i] == '\n')) ++i;
    long long v = 0;
    bool any = false;
    for (; i < rest.size() && rest[i] >= '0' && rest[i] <= '9'; ++i, any = true) v = v * 10 + (rest[i] - '0');
    if (any) out = v;
    return any;
  };
  bool p = number("\"prompt_tokens\"", prompt);
  bool c = number("\"completion_tokens\"", completion);
  if (cached) number("\"cached_tokens\"", *cached);
  return p || c;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

struct Gateway::Metrics {
  explicit Metrics(metrics::Registry& r)
      : requests(r.counter("switchboard_upstream_requests_total",
                           "Upstream calls by provider, model and outcome (HTTP status, or "
                           "error kind when there was no answer).",
                           {"provider", "model", "status"})),
        latency(r.histogram("switchboard_upstream_duration_seconds",
                            "Upstream call time (whole answer, or the whole stream).",
                            {"provider"})),
        ttft(r.histogram("switchboard_upstream_ttft_seconds",
                         "Time from the start of a streamed upstream call to its first chunk.",
                         {"provider"})),
        overhead(r.histogram("switchboard_gateway_overhead_seconds",
                             "The gateway's own time per request: total minus upstream calls and "
                             "backoff (for a stream, until its first chunk).",
                             {})),
        fallbacks(r.counter("switchboard_gateway_fallbacks_total",
                            "Attempts on a later target after an earlier one failed, by the "
                            "provider fallen back to.",
                            {"provider"})),
        retries(r.counter("switchboard_gateway_retries_total",
                          "Repeated attempts on the same target after a retryable failure.",
                          {"provider"})),
        short_circuits(r.counter("switchboard_gateway_circuit_skips_total",
                                 "Targets skipped without a call because their circuit was open.",
                                 {"provider", "model"})),
        tokens(r.counter("switchboard_tokens_total",
                         "Tokens reported by upstreams, by kind (prompt, completion).",
                         {"provider", "model", "kind"})),
        breaker(r.gauge("switchboard_circuit_state",
                        "Circuit breaker per target: 0 closed, 1 half-open, 2 open.",
                        {"provider", "model"})) {}
  metrics::Family<metrics::Counter>& requests;
  metrics::Family<metrics::Histogram>& latency;
  metrics::Family<metrics::Histogram>& ttft;
  metrics::Family<metrics::Histogram>& overhead;
  metrics::Family<metrics::Counter>& fallbacks;
  metrics::Family<metrics::Counter>& retries;
  metrics::Family<metrics::Counter>& short_circuits;
  metrics::Family<metrics::Counter>& tokens;
  metrics::Family<metrics::Gauge>& breaker;
};

Gateway::Gateway(const core::Config& config, http::Client& client, metrics::Registry& registry)
    : client_(client),
      settings_(std::make_shared<const core::GatewayConfig>(config.gateway)),
      table_(nullptr),
      metrics_(std::make_unique<Metrics>(registry)),
      rng_(std::random_device{}()) {
  table_.set(make_table(config));
  registry.on_collect([this] {
    const auto now = Clock::now();
    std::lock_guard lock(mu_);
    for (const auto& [key, h] : health_) {
      auto slash = key.find('/');
      auto snap = h->snapshot(now);
      double v = snap.state == BreakerState::closed ? 0 : snap.state == BreakerState::half_open ? 1 : 2;
      metrics_->breaker.with({key.substr(0, slash), key.substr(slash + 1)}).set(v);
    }
  });
}

Gateway::~Gateway() = default;

std::shared_ptr<const Gateway::Table> Gateway::make_table(const core::Config& config) {
  auto t = std::make_shared<Table>();
  t->routes = config.routes;
  for (core::ProviderConfig p : config.providers) {
    p.record_dir = config.gateway.record_dir;
    if (p.type == "mock") {
      t->providers.push_back(make_mock_provider(p));
    } else if (p.type == "anthropic") {
      t->providers.push_back(make_anthropic_provider(p, client_));
    } else if (p.type == "gemini") {
      t->providers.push_back(make_gemini_provider(p, client_));
    } else {
      t->providers.push_back(make_openai_provider(p, client_));
    }
  }
  // Every route target and allow-listed model has its breaker (and gauge) from the start.
  for (const auto& r : t->routes) {
    for (const auto& target : r.targets) health(target.provider, target.model);
  }
  for (const auto& p : t->providers) {
    for (const auto& m : p->config().models) health(p->config().name, m);
  }
  return t;
}

void Gateway::reload(const core::Config& config) {
  settings_.set(std::make_shared<const core::GatewayConfig>(config.gateway));
  table_.set(make_table(config));
}

Provider* Gateway::Table::find(std::string_view name) const {
  for (const auto& p : providers) {
    if (p->config().name == name) return p.get();
  }
  return nullptr;
}

std::shared_ptr<Provider> Gateway::find_provider(std::string_view name) const {
  auto t = table_.get();
  Provider* p = t->find(name);
  return p ? std::shared_ptr<Provider>(t, p) : nullptr;  // (aliasing: keeps the table alive)
}

TargetHealth* Gateway::health(const std::string& provider, const std::string& model) {
  std::string key = provider + "/" + model;
  const auto settings = settings_.get();
  std::lock_guard lock(mu_);
  auto& slot = health_[key];
  if (!slot) {
    slot = std::make_unique<TargetHealth>(BreakerConfig{settings->breaker_failure_percent,
                                                        settings->breaker_min_calls,
                                                        settings->breaker_window_ms,
                                                        settings->breaker_open_ms});
  }
  return slot.get();
}

core::Result<Resolved> Gateway::resolve(std::string_view model) {
  auto not_found = [&] {
    return Error(ErrorKind::model_not_found,
                 "The model `" + std::string(model) +
                     "` does not exist: use a route name or provider/model (GET /v1/models lists them)",
                 "model");
  };
  const auto table = table_.get();
  for (const auto& r : table->routes) {
    if (r.name != model) continue;
    if (r.strategy == "intent") {
      return Error(ErrorKind::invalid_field,
                   "`" + std::string(model) +
                       "` is an intent route: it serves chat completions (/v1/chat/completions), each by the "
                       "target of the intent it is classified as",
                   "model");
    }
    Resolved out;
    out.strategy = r.strategy;
    out.keep = table;
    for (const auto& t : r.targets) {
      out.targets.push_back({table->find(t.provider), t.model, t.weight, health(t.provider, t.model)});
    }
    return out;
  }
  auto slash = model.find('/');
  if (slash == std::string_view::npos || slash + 1 == model.size()) return not_found();
  Provider* p = table->find(model.substr(0, slash));
  if (!p) return not_found();
  std::string upstream_model(model.substr(slash + 1));
  const auto& allow = p->config().models;
  if (!allow.empty() && std::find(allow.begin(), allow.end(), upstream_model) == allow.end()) {
    return not_found();
  }
  Resolved out;
  out.keep = table;
  out.targets.push_back({p, upstream_model, 1, health(p->config().name, upstream_model)});
  return out;
}

std::vector<ModelInfo> Gateway::models() const {
  std::vector<ModelInfo> out;
  const auto table = table_.get();
  for (const auto& r : table->routes) out.push_back({r.name, "switchboard"});
  for (const auto& p : table->providers) {
    for (const auto& m : p->config().models) out.push_back({p->config().name + "/" + m, p->config().name});
  }
  return out;
}

std::vector<Target> Gateway::order(Resolved& resolved) {
  std::vector<Target> t = std::move(resolved.targets);
  if (t.size() < 2) return t;
  if (resolved.strategy == "weighted") {
    // Weighted random order without replacement: the first pick follows the weights, the rest
    // are the fallbacks. Weight 0 = only ever a fallback, after the weighted ones.
    std::vector<Target> out;
    std::lock_guard lock(mu_);
    while (!t.empty()) {
      long long total = 0;
      for (const auto& x : t) total += x.weight;
      std::size_t pick = 0;
      if (total > 0) {
        long long r = std::uniform_int_distribution<long long>(0, total - 1)(rng_);
        while (r >= t[pick].weight) r -= t[pick++].weight;
      }
      out.push_back(std::move(t[pick]));
      t.erase(t.begin() + static_cast<std::ptrdiff_t>(pick));
    }
    return out;
  }
  if (resolved.strategy == "least_latency") {
    // Fastest smoothed latency first; a target never measured goes first, so it gets measured.
    const auto now = Clock::now();
    std::vector<std::pair<double, std::size_t>> keyed;
    for (std::size_t i = 0; i < t.size(); ++i) keyed.emplace_back(t[i].health->snapshot(now).latency_ms, i);
    std::stable_sort(keyed.begin(), keyed.end());
    std::vector<Target> out;
    for (const auto& [lat, i] : keyed) out.push_back(std::move(t[i]));
    return out;
  }
  return t;
}

milliseconds Gateway::backoff(int retry, const core::GatewayConfig& settings) {
  long long cap = settings.retry_backoff_ms;
  for (int i = 0; i < retry && cap < settings.retry_backoff_max_ms; ++i) cap *= 2;
  cap = std::min<long long>(cap, settings.retry_backoff_max_ms);
  if (cap <= 0) return milliseconds(0);
  std::lock_guard lock(mu_);
  // "Full jitter": uniform in [cap/2, cap] keeps retries spread without waiting nearly zero.
  return milliseconds(std::uniform_int_distribution<long long>(cap / 2, cap)(rng_));
}

bool Gateway::all_open(const Resolved& resolved) {
  const auto now = Clock::now();
  for (const auto& t : resolved.targets) {
    if (t.health->snapshot(now).state != BreakerState::open) return false;
  }
  return !resolved.targets.empty();
}

void Gateway::record(const ChatCall& call, const Target& t, int attempt, const Error* error,
                     Clock::duration took) {
  const std::string& provider = t.provider->config().name;
  // The upstream's HTTP status, or the error code when it never answered (upstream_timeout...).
  std::string status = !error                  ? "200"
                       : error->upstream_status ? std::to_string(error->upstream_status)
                                                : std::string(core::error_info(error->kind).code);
  metrics_->requests.with({provider, t.model, status}).inc();
  metrics_->latency.with({provider}).observe(seconds(took));
  const double ms = seconds(took) * 1000;
  // The log vocabulary: `status` is always an HTTP status (an integer; 0 when the upstream never
  // answered), `code` the error's code.
  if (error) {
    log::warn("upstream attempt", {{"request_id", call.request_id},
                                   {"provider", provider},
                                   {"model", t.model},
                                   {"attempt", attempt},
                                   {"status", error->upstream_status},
                                   {"code", core::error_info(error->kind).code},
                                   {"duration_ms", ms},
                                   {"error", error->message}});
  } else {
    log::info("upstream attempt", {{"request_id", call.request_id},
                                   {"provider", provider},
                                   {"model", t.model},
                                   {"attempt", attempt},
                                   {"status", 200},
                                   {"duration_ms", ms}});
  }
}

void Gateway::add_tokens(const Outcome& o, long long prompt, long long completion) {
  if (prompt > 0) metrics_->tokens.with({o.provider, o.model, "prompt"}).inc(static_cast<std::uint64_t>(prompt));
  if (completion > 0) {
    metrics_->tokens.with({o.provider, o.model, "completion"}).inc(static_cast<std::uint64_t>(completion));
  }
}

void Gateway::count_tokens(const Outcome& o, std::string_view body) {
  long long prompt = 0, completion = 0;
  if (extract_usage(body, prompt, completion)) add_tokens(o, prompt, completion);
}

void Gateway::observe_overhead(Clock::duration d) {
  metrics_->overhead.with({}).observe(std::max(0.0, seconds(d)));
}

namespace {

// error.attempts: [{"provider","model","outcome":"error"|"circuit_open","calls","status","code",
// "message"} | {..., "retry_in_ms"}].
std::string attempts_json(const std::vector<TriedTarget>& tried) {
  std::string out = "[";
  for (const auto& t : tried) {
    if (out.size() > 1) out += ",";
    out += "{\"provider\":";
    log::append_json_string(out, t.provider);
    out += ",\"model\":";
    log::append_json_string(out, t.model);
    if (t.calls == 0) {
      out += ",\"outcome\":\"circuit_open\",\"retry_in_ms\":" + std::to_string(t.retry_in_ms) + "}";
      continue;
    }
    out += ",\"outcome\":\"error\",\"calls\":" + std::to_string(t.calls) + ",\"status\":";
    out += t.status ? std::to_string(t.status) : "null";
    out += ",\"code\":";
    log::append_json_string(out, t.code);
    out += ",\"message\":";
    log::append_json_string(out, t.message);
    out += "}";
  }
  return out + "]";
}

// An open-breaker 503 tells clients not to retry on their own unless a target is back soon (the
// OpenAI SDKs obey x-should-retry; their default retries would otherwise wait out Retry-After).
constexpr milliseconds kSoon(5000);

}  // namespace

awaitable<core::Status> Gateway::run(ChatCall& call, Resolved resolved, Outcome& outcome,
                                     const Attempt& attempt, const bool* started) {
  std::vector<TriedTarget> tried;
  core::Status st = co_await run_targets(call, std::move(resolved), outcome, attempt, started, tried);
  if (st || st.error().where == "client" || tried.empty()) co_return st;
  Error e = std::move(st).error();
  e.attempts = attempts_json(tried);
  if (e.circuits_open && e.retry_after_ms > kSoon.count()) e.should_not_retry = true;
  co_return e;
}

awaitable<core::Status> Gateway::run_targets(ChatCall& call, Resolved resolved, Outcome& outcome,
                                             const Attempt& attempt, const bool* started,
                                             std::vector<TriedTarget>& tried) {
  const auto settings = settings_.get();  // this call's, whatever a reload does meanwhile
  const std::shared_ptr<const void> keep = resolved.keep;  // the targets' providers
  if (call.deadline == Clock::time_point::max()) {
    call.deadline = Clock::now() + milliseconds(settings->request_timeout_ms);
  }
  std::vector<Target> targets = order(resolved);
  std::optional<Error> last;
  milliseconds soonest_probe = milliseconds::max();
  for (std::size_t ti = 0; ti < targets.size(); ++ti) {
    const Target& t = targets[ti];
    const std::string& provider = t.provider->config().name;
    for (int retry = 0;; ++retry) {
      auto now = Clock::now();
      if (now >= call.deadline) {
        Error e(ErrorKind::upstream_timeout,
                "the request's deadline (gateway.request_timeout_ms = " +
                    std::to_string(settings->request_timeout_ms) + ") passed after " +
                    std::to_string(outcome.attempts) + " attempt(s)" +
                    (last ? "; last error: " + last->message : ""),
                {}, "gateway");
        co_return e;
      }
      if (!t.health->allow(now)) {
        metrics_->short_circuits.with({provider, t.model}).inc();
        const milliseconds retry_in = std::max(milliseconds(1), t.health->snapshot(now).retry_in);
        soonest_probe = std::min(soonest_probe, retry_in);
        if (retry == 0) tried.push_back({provider, t.model, 0, 0, {}, {}, retry_in.count()});
        break;  // to the next target, without a call
      }
      if (outcome.attempts > 0) {
        (retry > 0 ? metrics_->retries : metrics_->fallbacks).with({provider}).inc();
      }
      outcome.provider = provider;
      outcome.model = t.model;
      ++outcome.attempts;
      call.model = t.model;
      call.body["model"] = t.model;
      const auto t0 = Clock::now();
      core::Status st = co_await attempt(t, call);
      const auto took = Clock::now() - t0;
      outcome.upstream += took;
      record(call, t, outcome.attempts, st ? nullptr : &st.error(), took);
      if (!st) {  // (a success ends the loop: only failures are listed)
        if (retry == 0) tried.push_back({provider, t.model});
        ++tried.back().calls;
        tried.back().status = st.error().upstream_status;
        tried.back().code = std::string(core::error_info(st.error().kind).code);
        tried.back().message = st.error().message;
      }
      if (st) {
        t.health->record(false, took, Clock::now());
        co_return st;
      }
      Error e = std::move(st).error();
      if (call.cancel && call.cancel->fired()) {
        // Our client left: the attempt says nothing about the upstream, and nobody waits.
        t.health->release();
        e.where = "client";
        co_return e;
      }
      if (started && *started) {
        // Output already reached the client: the answer cannot be retried or replaced.
        if (counts_as_failure(e) && e.where != "client") {
          t.health->record(true, took, Clock::now());
        } else {
          t.health->release();
        }
        co_return e;
      }
      t.health->record(counts_as_failure(e), took, Clock::now());
      if (!retryable(e, settings->retry_on_auth_errors)) co_return e;
      milliseconds wait = backoff(retry, *settings);
      if (e.retry_after_ms >= 0) wait = std::max(wait, milliseconds(e.retry_after_ms));
      last = std::move(e);
      if (retry >= settings->max_retries) break;
      if (wait > milliseconds(settings->retry_backoff_max_ms) || Clock::now() + wait >= call.deadline) {
        break;  // a long Retry-After or no time left: the next target instead
      }
      if (wait.count() > 0) {
        asio::steady_timer timer(co_await asio::this_coro::executor, wait);
        core::CancelSignal::Id hook = 0;
        if (call.cancel) hook = call.cancel->subscribe([&timer] { timer.cancel(); });
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (call.cancel) call.cancel->unsubscribe(hook);
        outcome.waited += wait;
        if (call.cancel && call.cancel->fired()) {
          Error gone(ErrorKind::unavailable, "the client went away", {}, "client");
          co_return gone;
        }
      }
    }
  }
  if (last) co_return std::move(*last);
  // Nothing was called: every target's circuit is open.
  Error e(ErrorKind::unavailable,
          "every target for this model is unavailable (circuit open after repeated upstream "
          "failures); retry later",
          {}, "gateway");
  e.retry_after_ms = soonest_probe == milliseconds::max() ? 1000 : static_cast<int>(soonest_probe.count());
  e.circuits_open = true;
  co_return e;
}

awaitable<core::Result<ChatResult>> Gateway::whole(ChatCall call, Resolved resolved, Outcome& outcome,
                                                   WholeCall method) {
  ChatResult result;
  Attempt attempt = [&](const Target& t, ChatCall& c) -> awaitable<core::Status> {
    auto r = co_await (t.provider->*method)(c);
    if (!r) co_return std::move(r).error();
    result = std::move(*r);
    co_return core::Status{};
  };
  auto st = co_await run(call, std::move(resolved), outcome, attempt, nullptr);
  if (!st) co_return std::move(st).error();
  count_tokens(outcome, result.body);
  if (call.meter) {
    core::TokenUsage u;
    if (extract_usage(result.body, u.prompt, u.completion, &u.cached)) {
      call.meter->add_usage(outcome.provider, outcome.model, u);
    }
  }
  co_return result;
}

awaitable<core::Result<ChatResult>> Gateway::chat(ChatCall call, Resolved resolved, Outcome& outcome) {
  return whole(std::move(call), std::move(resolved), outcome, &Provider::chat);
}

awaitable<core::Result<EmbedResult>> Gateway::embeddings(EmbedCall call, Resolved resolved,
                                                          Outcome& outcome) {
  return whole(std::move(call), std::move(resolved), outcome, &Provider::embeddings);
}

awaitable<core::Result<ChatResult>> Gateway::completions(ChatCall call, Resolved resolved, Outcome& outcome) {
  return whole(std::move(call), std::move(resolved), outcome, &Provider::completions);
}

awaitable<core::Status> Gateway::chat_stream(ChatCall call, Resolved resolved, ChunkSink sink,
                                             Outcome& outcome) {
  return stream(std::move(call), std::move(resolved), std::move(sink), outcome, &Provider::chat_stream);
}

awaitable<core::Status> Gateway::completions_stream(ChatCall call, Resolved resolved, ChunkSink sink,
                                                    Outcome& outcome) {
  return stream(std::move(call), std::move(resolved), std::move(sink), outcome, &Provider::completions_stream);
}

awaitable<core::Status> Gateway::stream(ChatCall call, Resolved resolved, ChunkSink sink, Outcome& outcome,
                                        StreamCall method) {
  bool sent = false;
  Clock::time_point attempt_start;
  long long prompt = 0, completion = 0, cached = 0;
  long long chunks = 0;  // content chunks: the completion's size when the stream reports no usage
  bool usage_seen = false;
  bool client_gone = false;
  ChunkSink counting = [&](std::string_view chunk, bool more) -> awaitable<bool> {
    if (chunk.empty()) co_return co_await sink(chunk, more);  // a flush
    if (!sent) {
      outcome.first_chunk = Clock::now() - attempt_start;
      metrics_->ttft.with({outcome.provider}).observe(seconds(outcome.first_chunk));
    }
    sent = true;
    if (chunk.find("\"usage\":{") != std::string_view::npos) {
      usage_seen = extract_usage(chunk, prompt, completion, &cached) || usage_seen;
    } else {
      ++chunks;
    }
    bool ok = co_await sink(chunk, more);
    client_gone = client_gone || !ok;
    co_return ok;
  };
  Attempt attempt = [&](const Target& t, ChatCall& c) -> awaitable<core::Status> {
    attempt_start = Clock::now();
    auto st = co_await (t.provider->*method)(c, counting);
    if (!st && client_gone) {
      Error e = std::move(st).error();
      e.where = "client";  // our client left: says nothing about the upstream's health
      co_return e;
    }
    co_return st;
  };
  auto st = co_await run(call, std::move(resolved), outcome, attempt, &sent);
  if (usage_seen) add_tokens(outcome, prompt, completion);
  if (call.meter && sent) {
    core::TokenUsage u{prompt, completion, cached};
    if (!usage_seen) {
      u.completion = chunks;  // prompt: the admission's estimate stands
      u.estimated = true;
    }
    call.meter->add_usage(outcome.provider, outcome.model, u);
  }
  co_return st;
}

std::vector<ProviderStatus> Gateway::providers() {
  std::vector<ProviderStatus> out;
  const auto now = Clock::now();
  std::lock_guard lock(mu_);
  const auto table = table_.get();
  for (const auto& p : table->providers) {
    ProviderStatus s;
    s.name = p->config().name;
    s.type = p->config().type;
    s.base_url = p->config().base_url;
    s.models = p->config().models;
    std::string prefix = s.name + "/";
    for (const auto& [key, h] : health_) {
      if (key.rfind(prefix, 0) == 0) s.targets.push_back({key.substr(prefix.size()), h->snapshot(now)});
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace sb::gateway
