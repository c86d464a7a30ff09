#include "http/request_log.hpp"

#include <cstdio>
#include <unordered_map>

#include "core/log.hpp"

namespace sb::http {

namespace log = core::log;
namespace metrics = core::metrics;

RequestLog::RequestLog(metrics::Registry& r, bool access_log)
    : requests(r.counter("switchboard_http_requests_total",
                           "HTTP requests answered, by route pattern, method and status.",
                           {"route", "method", "status"})),
      duration(r.histogram("switchboard_http_request_duration_seconds",
                           "Time from the first request byte to the last response byte.",
                           {"route"})),
      in_flight(r.gauge("switchboard_http_requests_in_flight",
                        "Requests being handled or written now.")
                    .with({})),
      open(r.gauge("switchboard_http_open_connections", "Open client connections.").with({})),
      accepted(r.counter("switchboard_http_connections_accepted_total",
                         "Client connections accepted.")
                   .with({})),
      rejected(r.counter("switchboard_http_connections_rejected_total",
                         "Connections refused with 503 because server.max_connections was "
                         "reached.")
                   .with({})),
      handler_exceptions(r.counter("switchboard_http_handler_exceptions_total",
                                   "Handlers that threw; each was answered with 500.")
                             .with({})),
      access_log_(access_log) {}

void RequestLog::record(std::string_view method, std::string_view route, int status,
                        std::chrono::steady_clock::time_point t0, std::size_t bytes_in,
                        std::size_t bytes_out, const std::string& request_id, std::string_view path) {
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Children never move, so each thread keeps pointers to the ones it used, keyed without
  // allocating; the family lookup (labels vector, shared lock) happens once per key per thread.
  struct Cache {
    const RequestLog* owner = nullptr;
    std::string key;
    std::unordered_map<std::string, metrics::Counter*> counters;
    std::unordered_map<std::string, metrics::Histogram*> histograms;
  };
  thread_local Cache cache;
  if (cache.owner != this) {
    cache = Cache{};
    cache.owner = this;
  }
  char status_text[8];
  int status_len = std::snprintf(status_text, sizeof status_text, "%d", status);
  std::string_view status_sv(status_text, static_cast<std::size_t>(status_len));
  cache.key.assign(route);
  auto hit = cache.histograms.find(cache.key);
  if (hit == cache.histograms.end()) {
    hit = cache.histograms.emplace(cache.key, &duration.with({cache.key})).first;
  }
  hit->second->observe(secs);
  cache.key.push_back('\x1f');
  cache.key.append(method);
  cache.key.push_back('\x1f');
  cache.key.append(status_sv);
  auto cit = cache.counters.find(cache.key);
  if (cit == cache.counters.end()) {
    auto& child = requests.with({std::string(route), std::string(method), std::string(status_sv)});
    cit = cache.counters.emplace(cache.key, &child).first;
  }
  cit->second->inc();
  if (access_log_ && log::enabled(log::Level::info)) {
    log::info("request", {{"request_id", request_id},
                          {"method", method},
                          {"route", route},
                          {"path", path},
                          {"status", status},
                          {"duration_ms", secs * 1000.0},
                          {"bytes_in", bytes_in},
                          {"bytes_out", bytes_out}});
  }
}

}  // namespace sb::http
