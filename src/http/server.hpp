#pragma once
// The HTTP/1.1 server: an acceptor and one coroutine per connection. Each I/O thread runs its
// own io_context; accepted connections are dealt round-robin to them, and a connection (with
// the upstream calls its requests make) stays on its thread, so it needs no strand.
// It enforces the limits (header size 431, body size 413, malformed 400, timeouts, connection
// cap), answers CORS preflights, asks the Gate (auth, limits), routes, and writes one access-log line and
// the request metrics per request. Beast stays inside server.cpp.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/metrics.hpp"
#include "core/swappable.hpp"
#include "http/cors.hpp"
#include "http/gate.hpp"
#include "http/router.hpp"

namespace boost::asio {
class io_context;
}

namespace sb::http {

class Server {
 public:
  // The contexts (one per I/O thread, each run by exactly one thread; the acceptor lives on the
  // first), router, gate, cors and registry must outlive the server.
  Server(std::vector<boost::asio::io_context*> contexts, const core::Config& config,
         const Router& router, Gate& gate, const core::Swappable<CorsPolicy>& cors,
         core::metrics::Registry& registry);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens on config.server.listen. Returns the bound "host:port" (the real port
  // when 0 was asked for).
  core::Result<std::string> bind();
  // Starts accepting. REQUIRES: bind() succeeded.
  void start();
  // Graceful stop: stop accepting, close idle connections, let in-flight requests and streams
  // finish for up to `grace`, then close the rest. Calls on_done (on an I/O thread) when every
  // connection is gone. Safe to call from any thread; later calls are ignored.
  void shutdown(std::chrono::milliseconds grace, std::function<void()> on_done);

  std::int64_t open_connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sb::http
