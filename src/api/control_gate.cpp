#include "api/control_gate.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>

#include "core/ids.hpp"
#include "core/json_text.hpp"
#include "core/log.hpp"

namespace sb::api {

namespace json = boost::json;
using core::Error;
using core::ErrorKind;
using http::Request;
using http::Response;

namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string fmt_usd(double v) {
  std::string out;
  core::append_double(out, v);
  return out;
}

}  // namespace

struct ControlGate::Settings {
  explicit Settings(const core::Config& c)
      : limits(c.limits), admin_keys(c.auth), trusted(c.limits.trusted_proxies), prices(c.prices),
        protect_health(c.auth.protect_health), protect_metrics(c.auth.protect_metrics) {}
  core::LimitsConfig limits;
  http::BearerAuth admin_keys;
  TrustedProxies trusted;
  control::Prices prices;
  bool protect_health, protect_metrics;
};

// One admitted request: what it holds (an in-flight slot, reserved tokens and dollars) and what
// it used, settled once at the end (or when dropped unfinished).
class ControlGate::Admission final : public core::RequestContext {
 public:
  Admission(ControlGate& gate, std::shared_ptr<const Settings> settings) : gate_(gate), settings(std::move(settings)) {}
  ~Admission() override { settle(record_on_drop ? 200 : 0); }

  void add_usage(std::string_view provider, std::string_view model, const core::TokenUsage& u) override {
    std::lock_guard lock(mu_);
    used.prompt += u.prompt;
    used.completion += u.completion;
    used.cached += u.cached;
    used.estimated = used.estimated || u.estimated;
    cost_ += settings->prices.cost(provider, model, u.estimated ? core::TokenUsage{prompt_estimate, u.completion, 0}
                                                                 : u);
    this->provider = provider;
    target = model;
    reported = true;
  }

  // Releases what the admission holds and records the request. Idempotent.
  void settle(int status) {
    if (settled_) return;
    settled_ = true;
    const std::int64_t now = gate_.clock_.now_ms();
    if (in_flight) gate_.limiter_.leave(in("par"));
    core::TokenUsage u;
    double c = 0;
    bool got = false;
    {
      std::lock_guard lock(mu_);
      u = used;
      c = cost_;
      got = reported;
    }
    // Unmetered routes (ingestion, search) count what their embedding calls reported, if any.
    if (!metered && (!got || (!key && key_id.empty()))) return;
    if (record_on_drop && !got) return;  // a job attempt that got no answer
    if (u.estimated) u.prompt = prompt_estimate;
    const long long actual = got ? u.prompt + u.completion : 0;
    if (tpm > 0) gate_.limiter_.adjust(in("tpm"), tpm, actual - reserved_tokens, now);
    if (key) gate_.budgets_.settle(*key, reserved_usd, c);
    if (status == 0) return;  // dropped unfinished (shutdown): nothing to record
    storage::UsageRow row;
    row.at_ms = now;
    // (settled once: the admission's strings move into the row)
    row.key_id = key ? key->id : std::move(key_id);
    row.route = std::move(route);
    row.model = std::move(model_asked);
    row.target = provider.empty() ? std::string() : provider + "/" + target;
    row.provider = std::move(provider);
    row.prompt_tokens = u.prompt;
    row.completion_tokens = u.completion;
    row.cached_tokens = u.cached;
    row.cost_usd = c;
    row.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    row.status = status;
    row.request_id = std::move(request_id);
    gate_.ledger_.usage(std::move(row));
  }

  double cost_now() {
    std::lock_guard lock(mu_);
    return reported ? cost_ : -1;
  }

  core::Result<std::shared_ptr<core::RequestContext>> leg(std::string_view model, std::string_view body) override;
  void finish(int status) override { settle(status); }
  std::optional<double> cost() override {
    const double c = cost_now();
    return c >= 0 ? std::optional<double>(c) : std::nullopt;
  }

  ControlGate& gate_;
  std::shared_ptr<const Settings> settings;
  std::shared_ptr<const control::Key> key;
  std::string bucket;  // "k:<id>:" or "ip:<addr>:"
  // The limiter's name for one of the bucket's counters ("rpm", "tpm", "par"), built in a buffer
  // the admission reuses.
  std::string_view in(std::string_view counter) {
    name_.assign(bucket).append(counter);
    return name_;
  }
  std::string actor, ip, route, model_asked, request_id;
  std::string_view action;
  long long rpm = 0, tpm = 0, max_parallel = 0;
  bool in_flight = false, metered = false;
  long long prompt_estimate = 0, reserved_tokens = 0;
  double reserved_usd = 0;
  std::optional<control::Window> requests_window, tokens_window;
  std::string audit_target;
  bool refused = false;
  bool record_on_drop = false;  // a job attempt's meter: recorded when it goes
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

 private:
  std::mutex mu_;
  core::TokenUsage used;
  double cost_ = 0;
  std::string provider, target;
  bool reported = false;
  bool settled_ = false;
  std::string name_;
};

ControlGate::ControlGate(const core::Config& config, control::KeyStore& keys, control::Limiter& limiter,
                         control::Budgets& budgets, control::Ledger& ledger, gateway::Gateway* gateway,
                         const core::Clock& clock)
    : keys_(keys),
      limiter_(limiter),
      budgets_(budgets),
      ledger_(ledger),
      gateway_(gateway),
      clock_(clock),
      settings_(std::make_shared<const Settings>(config)) {}

ControlGate::~ControlGate() = default;

void ControlGate::reload(const core::Config& config) { settings_.set(std::make_shared<const Settings>(config)); }

bool ControlGate::open() const { return !settings_.get()->admin_keys.enabled() && keys_.empty(); }

namespace {

Response refuse(ErrorKind kind, std::string message) {
  Response r = Response::error(Error(kind, std::move(message)));
  if (kind == ErrorKind::unauthorized) r.header("WWW-Authenticate", "Bearer");
  return r;
}

Response too_many(std::string message, std::int64_t retry_ms, bool never = false) {
  Error e(ErrorKind::rate_limited, std::move(message));
  e.retry_after_ms = static_cast<int>(std::min<std::int64_t>(retry_ms, 24LL * 3600 * 1000));
  e.should_not_retry = never;
  Response r = Response::error(e);
  r.header("retry-after-ms", std::to_string(retry_ms));
  return r;
}

std::string seconds_text(std::int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
  return buf;
}

}  // namespace

std::shared_ptr<core::RequestContext> ControlGate::job_meter(std::string_view key_id, std::string_view job_id,
                                                             std::string_view request) {
  auto a = std::make_shared<Admission>(*this, settings_.get());
  a->metered = true;
  a->record_on_drop = true;
  a->route = "job";
  a->request_id = std::string(job_id);
  a->model_asked = std::string(scan_string(request, "model").value_or(""));
  a->key_id = std::string(key_id);
  a->actor = a->key_id;
  if (auto key = keys_.find(key_id)) {
    a->key = key;
    a->bucket = "k:" + key->id + ":";
    a->tpm = key->tpm.value_or(a->settings->limits.tpm);
  }
  return a;
}

double ControlGate::worst_cost(std::string_view model, long long prompt, long long completion) {
  if (!gateway_ || model.empty()) return 0;
  auto resolved = gateway_->resolve(model);
  if (!resolved) return 0;
  const auto settings = settings_.get();
  double worst = 0;
  for (const auto& t : resolved->targets) {
    worst = std::max(worst, settings->prices.cost(t.provider->config().name, t.model, {prompt, completion, 0}));
  }
  return worst;
}

std::optional<Response> ControlGate::admit(Request& req, const http::Match& match) {
  const auto settings = settings_.get();
  const std::string_view path = req.path;
  const bool api = starts_with(path, "/v1/") || path == "/v1" || starts_with(path, "/api/") || path == "/mcp";
  bool protected_path = api;
  if (path == "/metrics") protected_path = settings->protect_metrics;
  if (path == "/health" || path == "/ready" || path == "/live" || path == "/version") protected_path = settings->protect_health;
  const RouteRule rule = match.kind == http::Match::Kind::found ? route_rule(req.method, match.pattern) : RouteRule{0, false, ""};

  const bool open = !settings->admin_keys.enabled() && keys_.empty();
  const bool ip_limited = open && api && settings->limits.ip_rpm > 0 && match.pattern != "/api/v1/rate-limit/status";
  // Nothing to check or record: no allocation on this path (an open server's usual request).
  if ((open && !ip_limited) || !protected_path) {
    if (rule.action.empty() && !rule.legs) return std::nullopt;  // (legs: their costs are reported)
  }

  auto a = std::make_shared<Admission>(*this, settings);
  a->route = std::string(match.pattern);
  a->action = rule.action;
  a->request_id = req.request_id;
  a->ip = settings->trusted.client_of(req.remote_ip, req.header("X-Forwarded-For"));
  a->actor = "anonymous";
  if (!rule.action.empty()) req.context = a;  // audited, even when refused

  if (!protected_path) return std::nullopt;
  bool malformed = false;
  std::string_view token = http::BearerAuth::token(req.header("Authorization"), req.header("x-api-key"), malformed);

  if (open || !api) {
    if (!open && token.empty()) {
      a->refused = true;
      return refuse(ErrorKind::unauthorized,
                    "missing API key: send the header 'Authorization: Bearer <key>' (or 'x-api-key: <key>')");
    }
    if (!open) {
      // /health or /metrics behind auth.protect_*: any valid key.
      if (settings->admin_keys.find(token)) return std::nullopt;
      auto found = keys_.lookup(token);
      if (found.status == control::Lookup::Status::ok) return std::nullopt;
      a->refused = true;
      return refuse(ErrorKind::unauthorized, "invalid API key");
    }
    // Open: nobody needs a key; traffic may be limited per address. Usage is recorded per key,
    // so an open server records none.
    req.context = a;
    if (ip_limited) {
      a->bucket = "ip:" + a->ip + ":";
      a->rpm = settings->limits.ip_rpm;
      auto t = limiter_.take(a->in("rpm"), a->rpm, 1, clock_.now_ms());
      a->requests_window = t.window;
      if (!t.ok) {
        a->refused = true;
        return too_many("rate limit exceeded: ip_rpm " + std::to_string(a->rpm) + " requests per minute for " +
                            a->ip + "; retry in " + seconds_text(t.retry_after_ms) + ", full again in " +
                            control::format_duration(t.window.reset_ms),
                        t.retry_after_ms);
      }
    }
    return std::nullopt;
  }

  if (token.empty()) {
    a->refused = true;
    return refuse(ErrorKind::unauthorized,
                  malformed ? "the Authorization header is not 'Bearer <key>'"
                            : "missing API key: send the header 'Authorization: Bearer <key>' (or 'x-api-key: <key>')");
  }
  // An API key first (the common case: one digest); then the configured admin keys.
  auto found = keys_.lookup(token);
  if (found.status == control::Lookup::Status::unknown) {
    if (std::size_t n = settings->admin_keys.find(token)) {
      a->actor = a->key_id = "config:" + std::to_string(n);
      a->key_name = a->key_id;
      a->admin = true;
      a->metered = rule.metered;
      if (a->metered) {
        a->model_asked = std::string(scan_string(req.body, "model").value_or(""));
        a->prompt_estimate = static_cast<long long>(req.body.size() / 4 + 1);
      }
      req.context = a;
      return std::nullopt;
    }
  }
  switch (found.status) {
    case control::Lookup::Status::ok:
      break;
    case control::Lookup::Status::revoked:
      a->refused = true;
      return refuse(ErrorKind::unauthorized, "API key " + found.key->prefix + "… (" + found.key->id + ") was revoked");
    case control::Lookup::Status::expired:
      a->refused = true;
      return refuse(ErrorKind::unauthorized, "API key " + found.key->prefix + "… (" + found.key->id + ") has expired");
    case control::Lookup::Status::unknown:
      a->refused = true;
      return refuse(ErrorKind::unauthorized, "invalid API key");
  }
  req.context = a;
  return admit_key(req, match, rule, std::move(found.key));
}

std::optional<Response> ControlGate::admit_key(Request& req, const http::Match& match, const RouteRule& rule,
                                               std::shared_ptr<const control::Key> key) {
  auto* a = static_cast<Admission*>(req.context.get());
  const auto& settings = a->settings;
  a->key = key;
  a->actor = a->key_id = key->id;
  a->key_name = key->name;
  a->admin = (key->scopes & control::kAdmin) != 0;
  a->collections = key->collections;
  a->bucket = "k:" + key->id + ":";
  const std::int64_t now = clock_.now_ms();
  key->last_used->store(now / 1000, std::memory_order_relaxed);

  // Scope, then the allow-lists.
  if (rule.scope && !(key->scopes & rule.scope) && !a->admin) {
    a->refused = true;
    std::string have;
    for (const auto& s : control::scope_names(key->scopes)) have += (have.empty() ? "" : ", ") + s;
    return refuse(ErrorKind::forbidden, "this key lacks the scope '" + std::string(control::scope_name(rule.scope)) +
                                            "' needed for " + std::string(req.method) + " " + std::string(match.pattern) +
                                            " (its scopes: " + (have.empty() ? "none" : have) + ")");
  }
  std::string model;
  if (rule.metered || rule.scope == control::kJobs) {
    if (key->models.empty()) {
      model = std::string(scan_string(req.body, "model").value_or(""));  // (for the usage row only)
    } else {
      // An allow-list is checked on the body as the handler will read it, parsed: a scan could
      // be fooled by a "model" nested earlier in the body or written with escapes.
      for (const auto& m : models_of(req.body)) {
        if (model.empty()) model = m;
        if (!key->allows_model(m)) {
          a->refused = true;
          std::string allowed;
          for (const auto& x : key->models) allowed += (allowed.empty() ? "" : ", ") + x;
          return refuse(ErrorKind::forbidden, "the model '" + m + "' is not allowed for this key (allowed: " + allowed + ")");
        }
      }
    }
  }
  if (!key->collections.empty() && (rule.scope == control::kKnowledgeRead || rule.scope == control::kKnowledgeWrite)) {
    std::optional<std::string> collection;
    if (auto p = req.param("name"); !p.empty() && starts_with(match.pattern, "/api/v1/collections/")) collection = std::string(p);
    if (auto p = req.param("collection"); !p.empty()) collection = std::string(p);
    if (auto q = req.query("collection")) collection = *q;
    if (!collection) {  // the body as the handler reads it (parsed, top level)
      const bool create = match.pattern == "/api/v1/collections" && req.method == "POST";
      collection = top_level_string(req.body, create ? "name" : "collection");
    }
    const bool by_id = match.pattern.find("{id}") != std::string_view::npos;
    if (collection && !key->allows_collection(*collection)) {
      a->refused = true;
      return refuse(ErrorKind::forbidden, "the collection '" + *collection + "' is not allowed for this key");
    }
    if (!collection && !by_id && match.pattern != "/api/v1/collections" && match.pattern != "/api/v1/stats") {
      a->refused = true;
      return refuse(ErrorKind::forbidden, "this key is limited to some collections: name the collection");
    }
    // Documents by id: their handler checks the document's collection against the context.
  }

  const auto& lim = settings->limits;
  a->rpm = key->rpm.value_or(lim.rpm);
  a->tpm = key->tpm.value_or(lim.tpm);
  a->max_parallel = key->max_parallel.value_or(lim.max_parallel);
  const bool status_poll = match.pattern == "/api/v1/rate-limit/status";
  if (status_poll) return std::nullopt;  // polling the status costs nothing

  if (a->max_parallel > 0) {
    if (!limiter_.enter(a->in("par"), a->max_parallel)) {
      a->refused = true;
      return too_many("rate limit exceeded: max_parallel " + std::to_string(a->max_parallel) +
                          " requests in flight for key " + key->id + "; retry when one finishes",
                      1000);
    }
    a->in_flight = true;
  }
  // A route with legs: each leg is limited and charged when it starts, not the request.
  if (rule.legs) return std::nullopt;
  if (auto e = charge(*a, rule.metered, rule.scope == control::kChat, std::move(model), req.body)) {
    a->refused = true;
    return refusal(*e);
  }
  return std::nullopt;
}

Response ControlGate::refusal(const Error& e) {
  Response r = Response::error(e);
  if (e.kind == ErrorKind::rate_limited) r.header("retry-after-ms", std::to_string(e.retry_after_ms));
  return r;
}

std::optional<Error> ControlGate::charge(Admission& admission, bool metered, bool chat, std::string model,
                                         std::string_view body) {
  auto* a = &admission;
  const auto& key = a->key;
  const auto& lim = a->settings->limits;
  const std::int64_t now = clock_.now_ms();
  auto limited = [](std::string message, std::int64_t retry_ms, bool never = false) {
    Error e(ErrorKind::rate_limited, std::move(message));
    e.retry_after_ms = static_cast<int>(std::min<std::int64_t>(retry_ms, 24LL * 3600 * 1000));
    e.should_not_retry = never;
    return e;
  };
  if (a->rpm > 0) {
    auto t = limiter_.take(a->in("rpm"), a->rpm, 1, now);
    a->requests_window = t.window;
    if (!t.ok) {
      return limited("rate limit exceeded: rpm " + std::to_string(a->rpm) + " requests per minute for key " + key->id +
                         "; retry in " + seconds_text(t.retry_after_ms) + ", full again in " +
                         control::format_duration(t.window.reset_ms),
                     t.retry_after_ms);
    }
  }
  if (!metered) return std::nullopt;
  a->metered = true;
  a->model_asked = std::move(model);
  a->prompt_estimate = static_cast<long long>(body.size() / 4 + 1);
  long long completion = 0;
  if (chat) {
    completion = lim.default_max_tokens;
    if (auto v = scan_max_tokens(body)) completion = std::min<long long>(*v, 1'000'000'000'000LL);  // (no overflow below)
  }
  if (a->tpm > 0) {
    const long long cost = a->prompt_estimate + completion;
    auto t = limiter_.take(a->in("tpm"), a->tpm, cost, now);
    a->tokens_window = t.window;
    if (!t.ok) {
      a->metered = false;
      if (a->rpm > 0) limiter_.adjust(a->in("rpm"), a->rpm, -1, now);  // the refused request costs no request
      if (t.never) {
        return limited("rate limit exceeded: this request needs about " + std::to_string(cost) +
                           " tokens (prompt estimate + max_tokens), more than the key's tpm " + std::to_string(a->tpm) +
                           "; lower max_tokens",
                       60000, true);
      }
      return limited("rate limit exceeded: tpm " + std::to_string(a->tpm) + " tokens per minute for key " + key->id +
                         " (this request reserves " + std::to_string(cost) + "); retry in " +
                         seconds_text(t.retry_after_ms) + ", full again in " + control::format_duration(t.window.reset_ms),
                     t.retry_after_ms);
    }
    a->reserved_tokens = cost;
  }
  if (key->budget) {
    const double worst = worst_cost(a->model_asked, a->prompt_estimate, completion);
    control::BudgetStatus b;
    if (!budgets_.reserve(*key, worst, b)) {
      if (a->tpm > 0) limiter_.adjust(a->in("tpm"), a->tpm, -a->reserved_tokens, now);
      a->reserved_tokens = 0;
      a->metered = false;
      Error e(ErrorKind::budget_exceeded,
              "budget exceeded for key " + key->id + ": spent $" + fmt_usd(b.spent_usd) + " (+ $" + fmt_usd(b.reserved_usd) +
                  " reserved by requests in flight) of $" + fmt_usd(b.amount_usd) + " per " +
                  (b.period == "total" ? std::string("lifetime") : b.period) + "; this request may cost up to $" +
                  fmt_usd(worst) +
                  (b.resets_at_ms ? "; resets in " + control::format_duration(b.resets_at_ms - now) : std::string()));
      e.retry_after_ms = b.resets_at_ms ? static_cast<int>(std::min<std::int64_t>(b.resets_at_ms - now, 24LL * 3600 * 1000)) : 0;
      e.should_not_retry = true;
      return e;
    }
    a->reserved_usd = worst;
  }
  return std::nullopt;
}

core::Result<std::shared_ptr<core::RequestContext>> ControlGate::Admission::leg(std::string_view model,
                                                                                std::string_view body) {
  auto l = std::make_shared<Admission>(gate_, settings);
  l->key = key;
  l->bucket = bucket;
  l->key_id = key_id;
  l->key_name = key_name;
  l->admin = admin;
  l->collections = collections;
  l->actor = actor;
  l->ip = ip;
  l->route = route;
  l->request_id = request_id;
  l->model_asked = std::string(model);
  l->prompt_estimate = static_cast<long long>(body.size() / 4 + 1);
  if (!key) {
    l->metered = !key_id.empty();  // an admin key from the config: recorded, not limited
    return std::shared_ptr<core::RequestContext>(std::move(l));
  }
  if (!key->allows_model(model)) {
    std::string allowed;
    for (const auto& x : key->models) allowed += (allowed.empty() ? "" : ", ") + x;
    return Error(ErrorKind::forbidden,
                 "the model '" + std::string(model) + "' is not allowed for this key (allowed: " + allowed + ")");
  }
  l->rpm = rpm;
  l->tpm = tpm;
  if (auto e = gate_.charge(*l, true, true, std::string(model), body)) return std::move(*e);
  return std::shared_ptr<core::RequestContext>(std::move(l));
}

void ControlGate::respond(Request& req, Response& res) {
  auto* a = static_cast<Admission*>(req.context.get());
  if (!a) return;
  if (!a->action.empty() && a->audit_target.empty()) {
    for (std::string_view p : {"id", "name"}) {
      if (auto v = req.param(p); !v.empty()) {
        a->audit_target = std::string(v);
        break;
      }
    }
    if (a->audit_target.empty() && res.status < 300) {
      if (auto id = scan_string(res.body, "id")) a->audit_target = std::string(*id);
    }
    if (a->audit_target.empty()) {
      if (auto c = scan_string(req.body, "collection")) a->audit_target = std::string(*c);
      else if (auto n = scan_string(req.body, "name")) a->audit_target = std::string(*n);
    }
  }
  if (!a->action.empty()) {
    // Recorded before the answer is written, so entries are in the order their clients saw.
    storage::AuditRow row;
    row.id = "aud_" + core::new_request_id().substr(0, 24);
    row.at = clock_.now_ms() / 1000;
    row.actor = a->actor;
    row.client_ip = a->ip;
    row.action = std::string(a->action);
    row.target = a->audit_target;
    row.outcome = res.status < 400 ? "success" : (res.status == 401 || res.status == 403) ? "denied" : "failure";
    row.status = res.status;
    row.request_id = a->request_id;
    ledger_.audit(std::move(row));
  }
  if (a->refused && res.status != 429) return;
  const std::int64_t now = clock_.now_ms();
  if (a->rpm > 0 && !a->bucket.empty()) {
    auto w = a->requests_window ? *a->requests_window : limiter_.peek(a->in("rpm"), a->rpm, now);
    res.header("x-ratelimit-limit-requests", std::to_string(w.limit));
    res.header("x-ratelimit-remaining-requests", std::to_string(w.remaining));
    res.header("x-ratelimit-reset-requests", control::format_duration(w.reset_ms));
  }
  if (a->tpm > 0 && !a->bucket.empty()) {
    auto w = a->tokens_window ? *a->tokens_window : limiter_.peek(a->in("tpm"), a->tpm, now);
    res.header("x-ratelimit-limit-tokens", std::to_string(w.limit));
    res.header("x-ratelimit-remaining-tokens", std::to_string(w.remaining));
    res.header("x-ratelimit-reset-tokens", control::format_duration(w.reset_ms));
  }
  if (a->metered && !res.stream) {
    double c = a->cost_now();
    if (c >= 0) res.header("x-switchboard-cost-usd", fmt_usd(c));
  }
}

void ControlGate::finish(Request& req, int status) {
  auto* a = static_cast<Admission*>(req.context.get());
  if (a) a->settle(status);
}

json::object ControlGate::status(const Request& req) {
  const std::int64_t now = clock_.now_ms();
  const auto settings = settings_.get();
  auto* a = static_cast<Admission*>(req.context.get());
  json::object out;
  out["object"] = "rate_limit.status";
  json::object limits;
  auto window = [&](std::string_view bucket, long long limit) {
    json::object w;
    auto win = limiter_.peek(bucket, limit, now);
    w["limit"] = limit;
    w["remaining"] = win.remaining;
    w["used"] = limit - win.remaining;
    w["reset_ms"] = win.reset_ms;
    w["resets_at"] = (now + win.reset_ms + 999) / 1000;
    w["window"] = "minute";
    return w;
  };
  std::string ip = a ? a->ip : settings->trusted.client_of(req.remote_ip, req.header("X-Forwarded-For"));
  out["client_ip"] = ip;
  if (a && a->key) {
    const auto& k = *a->key;
    out["key"] = json::object{{"id", k.id}, {"name", k.name}, {"prefix", k.prefix}};
    if (a->rpm > 0) limits["requests"] = window(a->in("rpm"), a->rpm);
    if (a->tpm > 0) limits["tokens"] = window(a->in("tpm"), a->tpm);
    if (a->max_parallel > 0) {
      limits["parallel"] = json::object{{"limit", a->max_parallel}, {"in_flight", limiter_.in_flight(a->in("par"))}};
    }
    if (k.budget) {
      auto b = budgets_.status(k);
      json::object budget{{"amount_usd", b.amount_usd},
                          {"period", b.period},
                          {"spent_usd", b.spent_usd},
                          {"reserved_usd", b.reserved_usd},
                          {"remaining_usd", std::max(0.0, b.amount_usd - b.spent_usd - b.reserved_usd)}};
      budget["resets_at"] = b.resets_at_ms ? json::value(b.resets_at_ms / 1000) : json::value(nullptr);
      out["budget"] = std::move(budget);
    } else {
      out["budget"] = nullptr;
    }
  } else {
    out["key"] = a && !a->key_id.empty() ? json::value(json::object{{"id", a->key_id}}) : json::value(nullptr);
    if (!a || a->key_id.empty()) {
      if (settings->limits.ip_rpm > 0) limits["requests"] = window("ip:" + ip + ":rpm", settings->limits.ip_rpm);
    }
    out["budget"] = nullptr;
  }
  out["limits"] = std::move(limits);
  return out;
}

}  // namespace sb::api
