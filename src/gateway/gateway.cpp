#include "gateway/gateway.hpp"

#include "core/log.hpp"

namespace sb::gateway {

using boost::asio::awaitable;
using core::Error;
using core::ErrorKind;
namespace log = core::log;
namespace metrics = core::metrics;

struct Gateway::Metrics {
  explicit Metrics(metrics::Registry& r)
      : requests(r.counter("switchboard_upstream_requests_total",
                           "Upstream calls by provider, model and outcome (HTTP status, or "
                           "error kind when there was no answer).",
                           {"provider", "model", "status"})),
        latency(r.histogram("switchboard_upstream_duration_seconds",
                            "Upstream call time (whole answer, or the whole stream).",
                            {"provider"})),
        fallbacks(r.counter("switchboard_gateway_fallbacks_total",
                            "Attempts on a later target after an earlier one failed, by the "
                            "provider fallen back to.",
                            {"provider"})) {}
  metrics::Family<metrics::Counter>& requests;
  metrics::Family<metrics::Histogram>& latency;
  metrics::Family<metrics::Counter>& fallbacks;
};

Gateway::Gateway(const core::Config& config, http::Client& client, metrics::Registry& registry)
    : routes_(config.routes), metrics_(std::make_unique<Metrics>(registry)) {
  for (const auto& p : config.providers) {
    providers_.push_back(p.type == "mock" ? make_mock_provider(p) : make_openai_provider(p, client));
  }
}

Gateway::~Gateway() = default;

core::Result<std::vector<Target>> Gateway::resolve(std::string_view model) const {
  auto not_found = [&] {
    return Error(ErrorKind::model_not_found,
                 "The model `" + std::string(model) +
                     "` does not exist: use a route name or provider/model (GET /v1/models lists them)",
                 "model");
  };
  auto find_provider = [&](std::string_view name) -> Provider* {
    for (const auto& p : providers_) {
      if (p->config().name == name) return p.get();
    }
    return nullptr;
  };
  for (const auto& r : routes_) {
    if (r.name != model) continue;
    std::vector<Target> out;
    for (const auto& t : r.targets) out.push_back({find_provider(t.provider), t.model});
    return out;
  }
  auto slash = model.find('/');
  if (slash == std::string_view::npos || slash + 1 == model.size()) return not_found();
  Provider* p = find_provider(model.substr(0, slash));
  if (!p) return not_found();
  std::string upstream_model(model.substr(slash + 1));
  const auto& allow = p->config().models;
  if (!allow.empty() && std::find(allow.begin(), allow.end(), upstream_model) == allow.end()) {
    return not_found();
  }
  return std::vector<Target>{{p, upstream_model}};
}

std::vector<ModelInfo> Gateway::models() const {
  std::vector<ModelInfo> out;
  for (const auto& r : routes_) out.push_back({r.name, "switchboard"});
  for (const auto& p : providers_) {
    for (const auto& m : p->config().models) out.push_back({p->config().name + "/" + m, p->config().name});
  }
  return out;
}

void Gateway::record(const ChatCall& call, const Target& t, int attempt, const Error* error,
                     std::chrono::steady_clock::time_point t0) {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string& provider = t.provider->config().name;
  // The upstream's HTTP status, or the error code when it never answered (upstream_timeout...).
  std::string status = !error                  ? "200"
                       : error->upstream_status ? std::to_string(error->upstream_status)
                                                : std::string(core::error_info(error->kind).code);
  metrics_->requests.with({provider, t.model, status}).inc();
  metrics_->latency.with({provider}).observe(secs);
  if (error) {
    log::warn("upstream attempt", {{"request_id", call.request_id},
                                   {"provider", provider},
                                   {"model", t.model},
                                   {"attempt", attempt},
                                   {"status", status},
                                   {"duration_ms", secs * 1000},
                                   {"error", error->message}});
  } else {
    log::info("upstream attempt", {{"request_id", call.request_id},
                                   {"provider", provider},
                                   {"model", t.model},
                                   {"attempt", attempt},
                                   {"status", status},
                                   {"duration_ms", secs * 1000}});
  }
}

void Gateway::begin_attempt(const Target& t, ChatCall& call, Outcome& outcome) {
  if (outcome.attempts > 0) metrics_->fallbacks.with({t.provider->config().name}).inc();
  outcome.provider = t.provider->config().name;
  outcome.model = t.model;
  ++outcome.attempts;
  call.model = t.model;
}

awaitable<core::Result<ChatResult>> Gateway::chat(ChatCall call, std::vector<Target> targets,
                                                  Outcome& outcome) {
  std::optional<Error> last = Error(ErrorKind::model_not_found, "no targets", "model");
  for (const auto& t : targets) {
    begin_attempt(t, call, outcome);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = co_await t.provider->chat(call);
    record(call, t, outcome.attempts, r ? nullptr : &r.error(), t0);
    if (r) co_return r;
    last = std::move(r).error();
    if (!retryable(*last)) break;
  }
  co_return std::move(*last);
}

awaitable<core::Status> Gateway::chat_stream(ChatCall call, std::vector<Target> targets,
                                             ChunkSink sink, Outcome& outcome) {
  std::optional<Error> last = Error(ErrorKind::model_not_found, "no targets", "model");
  bool sent = false;
  ChunkSink counting = [&](std::string_view chunk) -> awaitable<bool> {
    sent = true;
    co_return co_await sink(chunk);
  };
  for (const auto& t : targets) {
    begin_attempt(t, call, outcome);
    const auto t0 = std::chrono::steady_clock::now();
    auto st = co_await t.provider->chat_stream(call, counting);
    record(call, t, outcome.attempts, st ? nullptr : &st.error(), t0);
    if (st) co_return st;
    last = std::move(st).error();
    // Once a chunk reached the client, another target cannot take over the answer.
    if (sent || !retryable(*last)) break;
  }
  co_return std::move(*last);
}

}  // namespace sb::gateway
