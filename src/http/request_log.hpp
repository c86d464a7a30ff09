#pragma once
// The HTTP server's metrics, declared in one place, and the record of each answered request:
// its counter and duration histogram (by route pattern, method and status) and its access-log
// line (log.access_log).

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "core/metrics.hpp"

namespace sb::http {

class RequestLog {
 public:
  RequestLog(core::metrics::Registry& registry, bool access_log);

  // One answered request. Thread-safe; each I/O thread keeps its own cache of metric children.
  void record(std::string_view method, std::string_view route, int status,
              std::chrono::steady_clock::time_point t0, std::size_t bytes_in, std::size_t bytes_out,
              const std::string& request_id, std::string_view path);

  core::metrics::Family<core::metrics::Counter>& requests;
  core::metrics::Family<core::metrics::Histogram>& duration;
  core::metrics::Gauge& in_flight;
  core::metrics::Gauge& open;
  core::metrics::Counter& accepted;
  core::metrics::Counter& rejected;
  core::metrics::Counter& handler_exceptions;

 private:
  bool access_log_;
};

}  // namespace sb::http
