#include "http/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <ctime>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "core/ids.hpp"
#include "core/log.hpp"

namespace sb::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using core::Error;
using core::ErrorKind;
namespace log = core::log;
namespace metrics = core::metrics;
using std::chrono::milliseconds;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kUnmatched = "unmatched";

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

const std::string& http_date() {
  thread_local std::time_t last = 0;
  thread_local std::string cached;
  std::time_t now = std::time(nullptr);
  if (now != last) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached.assign(buf, n);
    last = now;
  }
  return cached;
}

std::string_view method_label(bhttp::verb v) {
  if (v == bhttp::verb::unknown) return "OTHER";
  return sv(bhttp::to_string(v));
}

// The metrics of the HTTP server, declared in one place.
struct ServerMetrics {
  metrics::Family<metrics::Counter>& requests;
  metrics::Family<metrics::Histogram>& duration;
  metrics::Gauge& in_flight;
  metrics::Gauge& open;
  metrics::Counter& accepted;
  metrics::Counter& rejected;
  metrics::Counter& handler_exceptions;

  explicit ServerMetrics(metrics::Registry& r)
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
                               .with({})) {}
};

struct Conn {
  explicit Conn(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
  bool busy = false;  // a request is being read, handled or written. Strand-only.
};

class ConnWriter final : public StreamWriter {
 public:
  ConnWriter(Conn& c, bool chunked, milliseconds timeout)
      : c_(c), chunked_(chunked), timeout_(timeout) {}

  awaitable<bool> write(std::string_view data) override {
    if (!ok_ || data.empty()) co_return ok_;
    c_.stream.expires_after(timeout_);
    boost::system::error_code ec;
    if (chunked_) {
      std::tie(ec, std::ignore) = co_await asio::async_write(
          c_.stream, bhttp::make_chunk(asio::const_buffer(data.data(), data.size())), kTuple);
    } else {
      std::tie(ec, std::ignore) = co_await asio::async_write(
          c_.stream, asio::const_buffer(data.data(), data.size()), kTuple);
    }
    ok_ = !ec;
    if (ok_) bytes_ += data.size();
    co_return ok_;
  }

  awaitable<bool> finish() {
    if (!ok_ || !chunked_) co_return ok_;
    c_.stream.expires_after(timeout_);
    auto [ec, n] = co_await asio::async_write(c_.stream, bhttp::make_chunk_last(), kTuple);
    ok_ = !ec;
    co_return ok_;
  }

  bool ok() const { return ok_; }
  std::size_t bytes() const { return bytes_; }

 private:
  Conn& c_;
  bool chunked_;
  milliseconds timeout_;
  bool ok_ = true;
  std::size_t bytes_ = 0;
};

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, const core::Config& config, const Router& r, const BearerAuth& a,
       const CorsPolicy& c, metrics::Registry& registry)
      : ioc(io),
        cfg(config.server),
        access_log(config.log.access_log),
        router(r),
        auth(a),
        cors(c),
        m(registry),
        acceptor(asio::make_strand(io)) {}

  asio::io_context& ioc;
  core::ServerConfig cfg;
  bool access_log;
  const Router& router;
  const BearerAuth& auth;
  const CorsPolicy& cors;
  ServerMetrics m;
  tcp::acceptor acceptor;
  std::atomic<bool> draining{false};
  std::atomic<bool> shutdown_called{false};
  std::atomic<std::int64_t> open{0};
  std::mutex mu;  // guards conns
  std::unordered_map<Conn*, std::weak_ptr<Conn>> conns;

  awaitable<void> accept_loop();
  awaitable<void> reject(tcp::socket socket);
  awaitable<void> session(std::shared_ptr<Conn> c);
  awaitable<bool> serve_one(Conn& c, beast::flat_buffer& buf);
  awaitable<bool> fail_request(Conn& c, const boost::system::error_code& ec, const char* phase,
                               std::chrono::steady_clock::time_point t0);
  awaitable<Response> dispatch(Request& req, std::string_view& route);
  awaitable<std::pair<bool, std::size_t>> write_response(Conn& c, const Request& req,
                                                         unsigned version, bool head,
                                                         Response& res, bool keep);
  awaitable<void> linger_close(Conn& c);
  awaitable<void> drain(milliseconds grace, std::function<void()> on_done);
  void on_session_end(Conn* c, std::exception_ptr e);
  void record(std::string_view method, std::string_view route, int status,
              std::chrono::steady_clock::time_point t0, std::size_t bytes_in,
              std::size_t bytes_out, const std::string& request_id, std::string_view path);
  std::vector<std::shared_ptr<Conn>> snapshot();
};

Server::Server(asio::io_context& ioc, const core::Config& config, const Router& router,
               const BearerAuth& auth, const CorsPolicy& cors, metrics::Registry& registry)
    : impl_(std::make_shared<Impl>(ioc, config, router, auth, cors, registry)) {}

Server::~Server() = default;

std::int64_t Server::open_connections() const { return impl_->open.load(); }

core::Result<std::string> Server::bind() {
  auto la = core::parse_listen(impl_->cfg.listen);
  if (!la) return Error(ErrorKind::invalid_field, "server.listen: expected HOST:PORT", "listen");
  std::string host = la->host == "localhost" ? "127.0.0.1" : la->host;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) {
    return Error(ErrorKind::invalid_field,
                 "server.listen: \"" + la->host + "\" is not an IP address (or localhost)",
                 "listen");
  }
  tcp::endpoint ep(addr, la->port);
  auto& acc = impl_->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error(ErrorKind::unavailable,
                 "cannot listen on " + impl_->cfg.listen + ": " + ec.message(), "listen");
  }
  auto bound = acc.local_endpoint(ec);
  std::string a = bound.address().to_string();
  if (bound.address().is_v6()) a = "[" + a + "]";
  return a + ":" + std::to_string(bound.port());
}

void Server::start() {
  asio::co_spawn(impl_->acceptor.get_executor(), impl_->accept_loop(),
                 [self = impl_](std::exception_ptr e) {
                   if (e) log::error("accept loop stopped by an exception");
                 });
}

void Server::shutdown(milliseconds grace, std::function<void()> on_done) {
  if (impl_->shutdown_called.exchange(true)) return;
  asio::co_spawn(impl_->acceptor.get_executor(), impl_->drain(grace, std::move(on_done)),
                 [self = impl_](std::exception_ptr) {});
}

std::vector<std::shared_ptr<Conn>> Server::Impl::snapshot() {
  std::vector<std::shared_ptr<Conn>> out;
  std::lock_guard lock(mu);
  for (auto& [raw, weak] : conns) {
    if (auto c = weak.lock()) out.push_back(std::move(c));
  }
  return out;
}

awaitable<void> Server::Impl::accept_loop() {
  auto self = shared_from_this();
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), kTuple);
    if (ec) {
      if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
      log::warn("accept failed", {{"error", ec.message()}});
      asio::steady_timer backoff(acceptor.get_executor(), milliseconds(50));
      co_await backoff.async_wait(kTuple);
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    m.accepted.inc();
    if (open.load() >= cfg.max_connections) {
      m.rejected.inc();
      auto ex = socket.get_executor();
      asio::co_spawn(ex, reject(std::move(socket)), [self](std::exception_ptr) {});
      continue;
    }
    auto conn = std::make_shared<Conn>(std::move(socket));
    open.fetch_add(1);
    m.open.add(1);
    {
      std::lock_guard lock(mu);
      conns.emplace(conn.get(), conn);
    }
    auto ex = conn->stream.get_executor();
    asio::co_spawn(ex, session(conn), [self, raw = conn.get()](std::exception_ptr e) {
      self->on_session_end(raw, e);
    });
  }
}

void Server::Impl::on_session_end(Conn* c, std::exception_ptr e) {
  {
    std::lock_guard lock(mu);
    conns.erase(c);
  }
  open.fetch_sub(1);
  m.open.add(-1);
  if (e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::error("connection ended by an exception", {{"error", ex.what()}});
    } catch (...) {
      log::error("connection ended by an unknown exception");
    }
  }
}

awaitable<void> Server::Impl::reject(tcp::socket socket) {
  Conn c(std::move(socket));
  std::string id = core::new_request_id();
  std::string body = error_body(Error(ErrorKind::too_many_connections,
                                      "too many connections; retry shortly"));
  std::string head = "HTTP/1.1 503 Service Unavailable\r\nServer: switchboard\r\n"
                     "Content-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n"
                     "X-Request-Id: " + id + "\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\n\r\n";
  c.stream.expires_after(milliseconds(2000));
  std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(body)};
  auto [ec, n] = co_await asio::async_write(c.stream, bufs, kTuple);
  if (!ec) co_await linger_close(c);
}

awaitable<void> Server::Impl::session(std::shared_ptr<Conn> c) {
  beast::flat_buffer buf;
  bool first = true;
  for (;;) {
    if (buf.size() == 0) {
      // Between requests: wait for the first byte of the next one.
      c->busy = false;
      if (draining.load()) break;
      c->stream.expires_after(milliseconds(first ? cfg.header_timeout_ms : cfg.idle_timeout_ms));
      auto [ec, n] = co_await c->stream.async_read_some(buf.prepare(8192), kTuple);
      if (ec) break;
      buf.commit(n);
    }
    c->busy = true;
    first = false;
    if (!co_await serve_one(*c, buf)) break;
  }
  boost::system::error_code ec;
  c->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  c->stream.close();
}

awaitable<void> Server::Impl::linger_close(Conn& c) {
  // Stop sending, then drain what the client still sends (bounded) before closing, so the
  // kernel does not answer unread data with a reset that would destroy our error response.
  boost::system::error_code ec;
  c.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  c.stream.expires_after(milliseconds(1000));
  std::array<char, 16384> scratch{};
  std::size_t drained = 0;
  while (drained < (4u << 20)) {
    auto [rec, n] = co_await c.stream.async_read_some(asio::buffer(scratch), kTuple);
    if (rec) break;
    drained += n;
  }
  c.stream.close();
}

awaitable<bool> Server::Impl::fail_request(Conn& c, const boost::system::error_code& ec,
                                           const char* phase,
                                           std::chrono::steady_clock::time_point t0) {
  std::optional<Error> err;
  if (ec == bhttp::error::header_limit) {
    err = Error(ErrorKind::headers_too_large,
                "request header block exceeds " + std::to_string(cfg.max_header_bytes) +
                    " bytes");
  } else if (ec == bhttp::error::body_limit) {
    err = Error(ErrorKind::payload_too_large,
                "request body exceeds " + std::to_string(cfg.max_body_bytes) + " bytes");
  } else if (ec == beast::error::timeout) {
    // Beast has closed the socket already: nothing can be answered.
    log::info("connection closed", {{"reason", std::string("timed out reading the request ") +
                                                   phase}});
  } else if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
             ec == asio::error::eof || ec == asio::error::connection_reset ||
             ec == asio::error::operation_aborted || ec == asio::error::broken_pipe) {
    // The client went away.
  } else {
    err = Error(ErrorKind::bad_request, std::string("malformed request: ") + ec.message());
  }
  if (!err) co_return false;
  Request req;
  req.request_id = core::new_request_id();
  Response res = Response::error(*err);
  auto [ok, bytes] = co_await write_response(c, req, 11, false, res, false);
  record("OTHER", kUnmatched, res.status, t0, 0, bytes, req.request_id, {});
  if (ok) co_await linger_close(c);
  co_return false;
}

awaitable<bool> Server::Impl::serve_one(Conn& c, beast::flat_buffer& buf) {
  const auto t0 = std::chrono::steady_clock::now();
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
  parser.body_limit(static_cast<std::uint64_t>(cfg.max_body_bytes));
  c.stream.expires_after(milliseconds(cfg.header_timeout_ms));
  {
    auto [ec, n] = co_await bhttp::async_read_header(c.stream, buf, parser, kTuple);
    if (ec) co_return co_await fail_request(c, ec, "headers", t0);
  }
  auto& msg = parser.get();
  if (!parser.is_done()) {
    if (beast::iequals(msg[bhttp::field::expect], "100-continue")) {
      bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, msg.version()};
      c.stream.expires_after(milliseconds(cfg.write_timeout_ms));
      auto [ec, n] = co_await bhttp::async_write(c.stream, cont, kTuple);
      if (ec) co_return false;
    }
    c.stream.expires_after(milliseconds(cfg.body_timeout_ms));
    auto [ec, n] = co_await bhttp::async_read(c.stream, buf, parser, kTuple);
    if (ec) co_return co_await fail_request(c, ec, "body", t0);
  }
  c.stream.expires_never();

  Request req;
  req.method = sv(msg.method_string());
  req.target = sv(msg.target());
  auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string_view::npos) req.query_string = req.target.substr(q + 1);
  req.headers.reserve(16);
  for (const auto& f : msg) req.headers.push_back({sv(f.name_string()), sv(f.value())});
  req.body = std::move(msg.body());
  std::string_view client_id = req.header("X-Request-Id");
  req.request_id = core::valid_request_id(client_id) ? std::string(client_id)
                                                     : core::new_request_id();
  const std::size_t bytes_in = req.body.size();
  const bool head = msg.method() == bhttp::verb::head;

  m.in_flight.add(1);
  std::string_view route = kUnmatched;
  Response res = co_await dispatch(req, route);
  const bool keep = msg.keep_alive() && !res.close && !draining.load();
  auto [ok, bytes_out] = co_await write_response(c, req, msg.version(), head, res, keep);
  m.in_flight.add(-1);
  record(method_label(msg.method()), route, res.status, t0, bytes_in, bytes_out, req.request_id,
         req.path);
  co_return ok && keep;
}

awaitable<Response> Server::Impl::dispatch(Request& req, std::string_view& route) {
  Match match = router.match(req.method, req.path);
  if (!match.pattern.empty()) route = match.pattern;
  const std::string_view origin = req.header("Origin");

  if (req.method == "OPTIONS") {
    if (match.kind == Match::Kind::not_found) {
      co_return Response::error(Error(ErrorKind::not_found, "unknown route: OPTIONS " +
                                                                std::string(req.path)));
    }
    Response res;
    res.status = 204;
    res.content_type.clear();
    if (!origin.empty() && !req.header("Access-Control-Request-Method").empty()) {
      if (!cors.origin_allowed(origin)) {
        co_return Response::error(Error(ErrorKind::forbidden,
                                        "CORS: origin " + std::string(origin) +
                                            " is not in cors.allowed_origins"));
      }
      res.headers = cors.preflight_headers(origin, match.allow);
    } else {
      res.header("Allow", match.allow);
    }
    co_return res;
  }

  std::optional<Response> res;
  if (auth.required_for(req.path)) {
    auto outcome = auth.check(req.header("Authorization"));
    if (outcome != BearerAuth::Outcome::ok) {
      res = Response::error(Error(
          ErrorKind::unauthorized,
          outcome == BearerAuth::Outcome::missing
              ? "missing API key: send the header 'Authorization: Bearer <key>'"
              : "invalid API key"));
      res->header("WWW-Authenticate", "Bearer");
    }
  }
  if (!res) {
    if (match.kind == Match::Kind::not_found) {
      res = Response::error(Error(ErrorKind::not_found, "unknown route: " +
                                                            std::string(req.method) + " " +
                                                            std::string(req.path)));
    } else if (match.kind == Match::Kind::method_not_allowed) {
      res = Response::error(Error(ErrorKind::method_not_allowed,
                                  "method " + std::string(req.method) + " not allowed on " +
                                      std::string(match.pattern) + "; allowed: " + match.allow));
      res->header("Allow", match.allow);
    } else {
      req.params = std::move(match.params);
      std::string what;
      try {
        res = co_await match.route->handler(req);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
        what = "unknown exception";
      }
      if (!res) {
        m.handler_exceptions.inc();
        log::error("handler threw", {{"request_id", req.request_id},
                                     {"route", match.pattern},
                                     {"error", what}});
        res = Response::error(Error(ErrorKind::internal, "internal error"));
      }
    }
  }
  if (!origin.empty()) {
    for (auto& h : cors.response_headers(origin)) res->headers.push_back(std::move(h));
  }
  co_return std::move(*res);
}

awaitable<std::pair<bool, std::size_t>> Server::Impl::write_response(Conn& c, const Request& req,
                                                                     unsigned version, bool head,
                                                                     Response& res, bool keep) {
  const auto status = static_cast<bhttp::status>(res.status);
  const milliseconds timeout(cfg.write_timeout_ms);
  if (res.stream && !head) {
    bhttp::response<bhttp::empty_body> out{status, version};
    out.set(bhttp::field::server, "switchboard");
    out.set(bhttp::field::date, http_date());
    if (!res.content_type.empty()) out.set(bhttp::field::content_type, res.content_type);
    out.set("X-Request-Id", req.request_id);
    for (const auto& [k, v] : res.headers) out.insert(k, v);
    const bool chunked = version >= 11;
    if (chunked) {
      out.chunked(true);
    } else {
      keep = false;
    }
    out.keep_alive(keep);
    bhttp::response_serializer<bhttp::empty_body> sr{out};
    c.stream.expires_after(timeout);
    auto [ec, n] = co_await bhttp::async_write_header(c.stream, sr, kTuple);
    if (ec) co_return std::pair{false, n};
    ConnWriter writer(c, chunked, timeout);
    std::string what;
    try {
      co_await res.stream(writer);
    } catch (const std::exception& e) {
      what = e.what();
    }
    if (!what.empty()) {
      m.handler_exceptions.inc();
      log::error("stream producer threw", {{"request_id", req.request_id}, {"error", what}});
      co_return std::pair{false, n + writer.bytes()};
    }
    bool ok = co_await writer.finish();
    co_return std::pair{ok && keep, n + writer.bytes()};
  }

  bhttp::response<bhttp::string_body> out{status, version};
  out.set(bhttp::field::server, "switchboard");
  out.set(bhttp::field::date, http_date());
  if (!res.content_type.empty()) out.set(bhttp::field::content_type, res.content_type);
  out.set("X-Request-Id", req.request_id);
  for (const auto& [k, v] : res.headers) out.insert(k, v);
  out.keep_alive(keep);
  out.body() = std::move(res.body);
  out.prepare_payload();
  if (head) out.body().clear();
  c.stream.expires_after(timeout);
  auto [ec, n] = co_await bhttp::async_write(c.stream, out, kTuple);
  co_return std::pair{!ec, n};
}

void Server::Impl::record(std::string_view method, std::string_view route, int status,
                          std::chrono::steady_clock::time_point t0, std::size_t bytes_in,
                          std::size_t bytes_out, const std::string& request_id,
                          std::string_view path) {
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string route_s(route);
  m.requests.with({route_s, std::string(method), std::to_string(status)}).inc();
  m.duration.with({route_s}).observe(secs);
  if (access_log && log::enabled(log::Level::info)) {
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

awaitable<void> Server::Impl::drain(milliseconds grace, std::function<void()> on_done) {
  draining.store(true);
  boost::system::error_code ec;
  acceptor.close(ec);
  auto conns_now = snapshot();
  log::info("shutting down", {{"open_connections", static_cast<long long>(conns_now.size())},
                              {"grace_ms", static_cast<long long>(grace.count())}});
  for (auto& c : conns_now) {
    asio::post(c->stream.get_executor(), [c] {
      if (!c->busy) c->stream.cancel();
    });
  }
  conns_now.clear();
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (open.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(milliseconds(10));
    co_await timer.async_wait(kTuple);
  }
  if (open.load() > 0) {
    log::warn("shutdown grace period over; closing connections",
              {{"open_connections", static_cast<long long>(open.load())}});
    for (auto& c : snapshot()) {
      asio::post(c->stream.get_executor(), [c] { c->stream.close(); });
    }
    const auto hard = std::chrono::steady_clock::now() + milliseconds(1000);
    while (open.load() > 0 && std::chrono::steady_clock::now() < hard) {
      timer.expires_after(milliseconds(10));
      co_await timer.async_wait(kTuple);
    }
  }
  on_done();
}

}  // namespace sb::http
