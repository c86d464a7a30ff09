#include "http/server.hpp"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <cerrno>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "core/http_syntax.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "http/framing.hpp"
#include "http/request_log.hpp"

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
// How often a connection whose request is being handled is checked for a departed client.
constexpr milliseconds kWatchTick(200);
// One read from a client socket.
constexpr std::size_t kReadSize = 8192;

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

constexpr std::size_t kMaxWebSocketMessage = 64 * 1024;

// http::WebSocket over Beast, on the connection's socket.
class BeastWebSocket final : public WebSocket {
 public:
  explicit BeastWebSocket(tcp::socket& socket) : ws_(socket) {
    beast::websocket::stream_base::timeout t;
    t.handshake_timeout = std::chrono::seconds(10);
    t.idle_timeout = std::chrono::seconds(60);  // a ping after 30 s of silence; gone after 60
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.set_option(beast::websocket::stream_base::decorator(
        [](beast::websocket::response_type& r) { r.set(bhttp::field::server, "switchboard"); }));
    ws_.read_message_max(kMaxWebSocketMessage);
    ws_.text(true);
  }
  beast::websocket::stream<tcp::socket&>& stream() { return ws_; }

  awaitable<std::optional<std::string>> read() override {
    for (;;) {
      buf_.clear();
      auto [ec, n] = co_await ws_.async_read(buf_, kTuple);
      if (ec) co_return std::nullopt;
      if (ws_.got_text()) co_return beast::buffers_to_string(buf_.data());
      // (binary messages are not part of the protocol: ignored)
    }
  }
  awaitable<bool> write(std::string_view text) override {
    auto [ec, n] = co_await ws_.async_write(asio::buffer(text.data(), text.size()), kTuple);
    co_return !ec;
  }
  awaitable<void> close(int code, std::string_view reason) override {
    beast::websocket::close_reason why(static_cast<beast::websocket::close_code>(code));
    why.reason = std::string(reason.substr(0, 123));
    auto [ec] = co_await ws_.async_close(why, kTuple);
    (void)ec;
  }
  void abort() override {
    boost::system::error_code ec;
    ws_.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    ws_.next_layer().close(ec);
  }

 private:
  beast::websocket::stream<tcp::socket&> ws_;
  beast::flat_buffer buf_;
};

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


// One client connection. Timeouts use a single watchdog per connection: each phase stores a
// deadline (no timer operation per read or write) and the watchdog, ticking on the connection's
// thread, closes the socket once a deadline has passed. A deadline fires between its time and
// one tick later.
struct Conn {
  explicit Conn(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {
    boost::system::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    if (!ec) {
      auto a = ep.address();
      remote_ip = a.is_v6() && a.to_v6().is_v4_mapped()
                      ? asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string()
                      : a.to_string();
    }
  }
  tcp::socket socket;
  std::string remote_ip;  // the peer's address, as text ("" when unknown)
  asio::steady_timer timer;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  bool busy = false;       // a request is being read, handled or written. Its thread only.
  bool timed_out = false;  // the watchdog closed the socket, or cancelled a read to answer 408
  // Set while a request is being read: a deadline passing then cancels the read (answered with
  // 408) instead of closing the socket. Its thread only.
  bool answer_timeout = false;
  bool closed = false;     // the session is over
  // Set while a handler runs with nothing more buffered from the client: the watchdog peeks at
  // the socket on its ticks and fires this when the client has gone (EOF or error). A tick,
  // not a reactor wait, so the common case costs no syscall per request.
  std::shared_ptr<core::CancelSignal> watch;

  void expires_after(milliseconds d) { deadline = std::chrono::steady_clock::now() + d; }
  void expires_never() { deadline = std::chrono::steady_clock::time_point::max(); }
  void close() {
    boost::system::error_code ec;
    socket.close(ec);
  }
  // Ends the connection and wakes the watchdog so it exits too.
  void finish() {
    close();
    closed = true;
    timer.cancel();
  }
};

awaitable<void> watchdog(std::shared_ptr<Conn> c, milliseconds tick) {
  while (!c->closed) {
    const auto now = std::chrono::steady_clock::now();
    if (c->deadline <= now) {
      c->timed_out = true;
      if (!c->answer_timeout) {
        // A client that stopped reading leaves our answer queued in the kernel: reset the
        // connection, so neither the socket nor its buffers outlive the write timeout.
        int unsent = 0;
        if (::ioctl(c->socket.native_handle(), SIOCOUTQ, &unsent) == 0 && unsent > 0) {
          boost::system::error_code ignored;
          c->socket.set_option(asio::socket_base::linger(true, 0), ignored);
        }
        c->close();
        co_return;
      }
      // The session answers 408 (under a new deadline) and closes.
      c->answer_timeout = false;
      c->expires_never();
      boost::system::error_code ignored;
      c->socket.cancel(ignored);
    }
    if (c->watch) {
      char byte;
      ssize_t n = ::recv(c->socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        auto fire = std::move(c->watch);
        fire->fire();
      }
    }
    const milliseconds wait = c->watch ? std::min(tick, kWatchTick) : tick;
    c->timer.expires_at(std::min(c->deadline, now + wait));
    co_await c->timer.async_wait(kTuple);
  }
}

void append_status_line(std::string& out, int status) {
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out.push_back(' ');
  out += sv(bhttp::obsolete_reason(static_cast<bhttp::status>(status)));
  out += "\r\n";
}

bool header_safe(std::string_view s) { return !core::breaks_header(s); }

void append_header(std::string& out, std::string_view name, std::string_view value) {
  if (!header_safe(name) || !header_safe(value)) return;  // never let a value split the head
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

class ConnWriter final : public StreamWriter {
 public:
  ConnWriter(Conn& c, std::string head, bool chunked, milliseconds timeout)
      : c_(c), head_(std::move(head)), chunked_(chunked), timeout_(timeout) {}

  awaitable<bool> write(std::string_view data) override {
    if (!ok_ || data.empty() || replacement_) co_return ok_;
    seal_head();
    c_.expires_after(timeout_);
    boost::system::error_code ec;
    std::size_t n = 0;
    if (chunked_) {
      char size[20];
      int len = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
      std::array<asio::const_buffer, 4> bufs{asio::buffer(pending_head_),
                                             asio::buffer(size, static_cast<std::size_t>(len)),
                                             asio::buffer(data.data(), data.size()),
                                             asio::buffer("\r\n", 2)};
      std::tie(ec, n) = co_await asio::async_write(c_.socket, bufs, kTuple);
    } else {
      std::array<asio::const_buffer, 2> bufs{asio::buffer(pending_head_),
                                             asio::buffer(data.data(), data.size())};
      std::tie(ec, n) = co_await asio::async_write(c_.socket, bufs, kTuple);
    }
    pending_head_.clear();
    ok_ = !ec;
    bytes_ += n;
    co_return ok_;
  }

  bool started() const override { return sealed_; }

  void add_header(std::string name, std::string value) override {
    if (!sealed_) extra_.emplace_back(std::move(name), std::move(value));
  }

  void replace(Response replacement) override {
    if (!sealed_) replacement_ = std::move(replacement);
  }

  // Sends the head if nothing was written, then the end of the chunked body.
  awaitable<bool> finish() {
    if (!ok_) co_return false;
    seal_head();
    c_.expires_after(timeout_);
    std::string tail = std::move(pending_head_);
    if (chunked_) tail += "0\r\n\r\n";
    if (tail.empty()) co_return true;
    auto [ec, n] = co_await asio::async_write(c_.socket, asio::buffer(tail), kTuple);
    ok_ = !ec;
    bytes_ += n;
    co_return ok_;
  }

  std::optional<Response>& replacement() { return replacement_; }
  std::size_t bytes() const { return bytes_; }

 private:
  void seal_head() {
    if (sealed_) return;
    sealed_ = true;
    // head_ ends with the blank line; extra headers go before it.
    std::string extra;
    for (const auto& [k, v] : extra_) append_header(extra, k, v);
    head_.insert(head_.size() - 2, extra);
    pending_head_ = std::move(head_);
  }

  Conn& c_;
  std::string head_;
  std::string pending_head_;  // sealed head not yet on the wire
  bool chunked_;
  milliseconds timeout_;
  bool sealed_ = false;
  bool ok_ = true;
  std::size_t bytes_ = 0;
  std::vector<std::pair<std::string, std::string>> extra_;
  std::optional<Response> replacement_;
};

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Impl> {
  Impl(std::vector<asio::io_context*> io, const core::Config& config, const Router& r,
       Gate& g, const core::Swappable<CorsPolicy>& c, metrics::Registry& registry)
      : contexts(std::move(io)),
        cfg(config.server),
        router(r),
        gate(g),
        cors(c),
        m(registry, config.log.access_log),
        acceptor(*contexts.front()) {}

  std::vector<asio::io_context*> contexts;
  std::size_t next_context = 0;  // acceptor-only
  core::ServerConfig cfg;
  const Router& router;
  Gate& gate;
  const core::Swappable<CorsPolicy>& cors;
  RequestLog m;  // metrics and access log
  tcp::acceptor acceptor;
  std::atomic<bool> draining{false};
  std::atomic<bool> shutdown_called{false};
  std::atomic<std::int64_t> open{0};
  std::mutex mu;  // guards conns
  std::unordered_map<Conn*, std::weak_ptr<Conn>> conns;

  awaitable<void> accept_loop();
  awaitable<void> reject(std::shared_ptr<Conn> c);
  awaitable<void> session(std::shared_ptr<Conn> c);
  awaitable<bool> serve_one(Conn& c, beast::flat_buffer& buf);
  awaitable<bool> fail_request(Conn& c, const boost::system::error_code& ec, const char* phase,
                               std::chrono::steady_clock::time_point t0);
  // Answers an unreadable request with `error` and closes the connection.
  awaitable<bool> refuse(Conn& c, const Error& error, std::chrono::steady_clock::time_point t0);
  awaitable<Response> dispatch(Request& req, std::string_view& route);
  awaitable<std::pair<bool, std::size_t>> write_response(Conn& c, const Request& req,
                                                         unsigned version, bool head,
                                                         Response& res, bool keep);
  awaitable<void> linger_close(Conn& c);
  awaitable<void> drain(milliseconds grace, std::function<void()> on_done);
  void on_session_end(Conn* c, std::exception_ptr e);
  std::vector<std::shared_ptr<Conn>> snapshot();
};

Server::Server(std::vector<asio::io_context*> contexts, const core::Config& config,
               const Router& router, Gate& gate, const core::Swappable<CorsPolicy>& cors,
               metrics::Registry& registry)
    : impl_(std::make_shared<Impl>(std::move(contexts), config, router, gate, cors, registry)) {}

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
  // The watchdog tick bounds how late a timeout fires: half the shortest timeout, 50 ms..1 s.
  const int shortest = std::min({cfg.header_timeout_ms, cfg.body_timeout_ms, cfg.idle_timeout_ms,
                                 cfg.write_timeout_ms});
  const milliseconds tick(std::clamp(shortest / 2, 50, 1000));
  for (;;) {
    asio::io_context& target = *contexts[next_context];
    next_context = (next_context + 1) % contexts.size();
    auto [ec, socket] = co_await acceptor.async_accept(target, kTuple);
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
      auto conn = std::make_shared<Conn>(std::move(socket));
      auto ex = conn->socket.get_executor();
      asio::co_spawn(ex, watchdog(conn, tick), asio::detached);
      asio::co_spawn(ex, reject(conn), [self](std::exception_ptr) {});
      continue;
    }
    auto conn = std::make_shared<Conn>(std::move(socket));
    open.fetch_add(1);
    m.open.add(1);
    {
      std::lock_guard lock(mu);
      conns.emplace(conn.get(), conn);
    }
    auto ex = conn->socket.get_executor();
    asio::co_spawn(ex, watchdog(conn, tick), asio::detached);
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

awaitable<void> Server::Impl::reject(std::shared_ptr<Conn> conn) {
  Request req;
  req.request_id = core::new_request_id();
  Response res = Response::error(Error(ErrorKind::too_many_connections,
                                       "too many connections; retry shortly"));
  auto [ok, bytes] = co_await write_response(*conn, req, 11, false, res, false);
  if (ok) co_await linger_close(*conn);
  conn->finish();
}

awaitable<void> Server::Impl::session(std::shared_ptr<Conn> c) {
  // Bounded: Beast's parser holds a chunk-size line or the trailer section in the buffer until it
  // is complete, so the bound is what keeps those within server.max_header_bytes (plus a read).
  beast::flat_buffer buf(static_cast<std::size_t>(cfg.max_header_bytes) + kReadSize);
  bool first = true;
  for (;;) {
    if (buf.size() == 0) {
      // Between requests: wait for the first byte of the next one.
      c->busy = false;
      if (draining.load()) break;
      c->expires_after(milliseconds(first ? cfg.header_timeout_ms : cfg.idle_timeout_ms));
      auto [ec, n] = co_await c->socket.async_read_some(buf.prepare(kReadSize), kTuple);
      if (ec) break;
      buf.commit(n);
    }
    c->busy = true;
    first = false;
    if (!co_await serve_one(*c, buf)) break;
  }
  boost::system::error_code ec;
  c->socket.shutdown(tcp::socket::shutdown_send, ec);
  c->finish();
}

awaitable<void> Server::Impl::linger_close(Conn& c) {
  // Stop sending, then drain what the client still sends (bounded) before closing, so the
  // kernel does not answer unread data with a reset that would destroy our error response.
  boost::system::error_code ec;
  c.socket.shutdown(tcp::socket::shutdown_send, ec);
  c.expires_after(milliseconds(1000));
  std::array<char, 16384> scratch{};
  std::size_t drained = 0;
  while (drained < (4u << 20)) {
    auto [rec, n] = co_await c.socket.async_read_some(asio::buffer(scratch), kTuple);
    if (rec) break;
    drained += n;
  }
  c.close();
}

awaitable<bool> Server::Impl::fail_request(Conn& c, const boost::system::error_code& ec,
                                           const char* phase,
                                           std::chrono::steady_clock::time_point t0) {
  std::optional<Error> err;
  c.answer_timeout = false;
  if (c.timed_out) {
    // The watchdog cancelled the read of a request begun but not finished in time. (A closed
    // socket cannot be answered: the write below fails and the connection ends.)
    err = Error(ErrorKind::request_timeout,
                std::string("the request ") + phase + " did not arrive within server." +
                    (std::string_view(phase) == "body" ? "body_timeout_ms" : "header_timeout_ms"));
  } else if (ec == bhttp::error::header_limit) {
    err = Error(ErrorKind::headers_too_large,
                "request header block exceeds " + std::to_string(cfg.max_header_bytes) +
                    " bytes");
  } else if (ec == bhttp::error::body_limit) {
    err = Error(ErrorKind::payload_too_large,
                "request body exceeds " + std::to_string(cfg.max_body_bytes) + " bytes");
  } else if (ec == bhttp::error::buffer_overflow) {
    // Only a chunk-size line or the trailer section can fill the bounded buffer (the head is
    // bounded by the parser's header limit first).
    err = Error(ErrorKind::headers_too_large,
                "a chunk-size line or the trailer section exceeds " +
                    std::to_string(cfg.max_header_bytes) + " bytes (server.max_header_bytes)");
  } else if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
             ec == asio::error::eof || ec == asio::error::connection_reset ||
             ec == asio::error::operation_aborted || ec == asio::error::broken_pipe) {
    // The client went away.
  } else {
    err = Error(ErrorKind::bad_request, std::string("malformed request: ") + ec.message());
  }
  if (!err) co_return false;
  co_return co_await refuse(c, *err, t0);
}

awaitable<bool> Server::Impl::refuse(Conn& c, const Error& error,
                                     std::chrono::steady_clock::time_point t0) {
  Request req;
  req.request_id = core::new_request_id();
  Response res = Response::error(error);
  auto [ok, bytes] = co_await write_response(c, req, 11, false, res, false);
  m.record("OTHER", kUnmatched, res.status, t0, 0, bytes, req.request_id, {});
  if (ok) co_await linger_close(c);
  co_return false;
}

awaitable<bool> Server::Impl::serve_one(Conn& c, beast::flat_buffer& buf) {
  const auto t0 = std::chrono::steady_clock::now();
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
  parser.body_limit(static_cast<std::uint64_t>(cfg.max_body_bytes));
  c.expires_after(milliseconds(cfg.header_timeout_ms));
  c.answer_timeout = true;
  // The head is parsed from the buffer as it fills (the request line first, then the fields
  // once all of them are there), and the bytes the parser takes are checked for what it would
  // let through.
  bool line_start = false;  // the bytes taken so far end a line
  for (;;) {
    boost::system::error_code ec;
    const std::size_t used = parser.put(buf.data(), ec);
    const std::string_view taken(static_cast<const char*>(buf.data().data()), used);
    if (has_obs_fold(taken, line_start)) {
      co_return co_await refuse(
          c, Error(ErrorKind::bad_request,
                   "malformed request: a header field is continued on the next line "
                   "(obsolete line folding, RFC 9112 section 5.2)"),
          t0);
    }
    if (used > 0) line_start = taken.back() == '\n';
    buf.consume(used);
    if (!ec) break;
    if (ec != bhttp::error::need_more) co_return co_await fail_request(c, ec, "headers", t0);
    if (buf.size() >= buf.max_size()) {
      co_return co_await fail_request(c, bhttp::error::header_limit, "headers", t0);
    }
    const std::size_t room = std::min(kReadSize, buf.max_size() - buf.size());
    auto [rec, n] = co_await c.socket.async_read_some(buf.prepare(room), kTuple);
    if (rec) co_return co_await fail_request(c, rec, "headers", t0);
    buf.commit(n);
  }
  auto& msg = parser.get();
  {
    std::vector<std::string_view> codings;
    for (const auto& f : msg) {
      if (f.name() == bhttp::field::transfer_encoding) codings.push_back(sv(f.value()));
    }
    if (!codings.empty()) {
      const bool has_length = msg.find(bhttp::field::content_length) != msg.end();
      if (auto bad = check_transfer_encoding(codings, has_length)) {
        co_return co_await refuse(c, *bad, t0);
      }
    }
  }
  if (!parser.is_done()) {
    if (beast::iequals(msg[bhttp::field::expect], "100-continue")) {
      c.expires_after(milliseconds(cfg.write_timeout_ms));
      auto [ec, n] = co_await asio::async_write(
          c.socket, asio::buffer("HTTP/1.1 100 Continue\r\n\r\n", 25), kTuple);
      if (ec) co_return false;
    }
    c.expires_after(milliseconds(cfg.body_timeout_ms));
    auto [ec, n] = co_await bhttp::async_read(c.socket, buf, parser, kTuple);
    if (ec) co_return co_await fail_request(c, ec, "body", t0);
  }
  c.expires_never();
  c.answer_timeout = false;

  Request req;
  req.remote_ip = c.remote_ip;
  req.method = sv(msg.method_string());
  req.target = origin_form(sv(msg.target()));
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
  // While the handler runs, the watchdog checks whether the client has left (a readable socket
  // with nothing buffered is a pipelined request or EOF) and fires the request's cancel signal.
  req.cancel = std::make_shared<core::CancelSignal>();
  if (buf.size() == 0) c.watch = req.cancel;
  Response res = co_await dispatch(req, route);
  c.watch.reset();
  if (res.websocket && res.status == 101) {
    if (!beast::websocket::is_upgrade(msg)) {
      Error e(ErrorKind::bad_request, "this endpoint speaks WebSocket: send a GET with Upgrade: websocket");
      e.http_status = 426;
      res = Response::error(e);
      res.header("Upgrade", "websocket");
    } else {
      // The connection is the WebSocket's from now on, and ends with it.
      gate.finish(req, 101);
      BeastWebSocket ws(c.socket);
      auto [ec] = co_await ws.stream().async_accept(msg, kTuple);
      if (!ec) {
        try {
          co_await res.websocket(ws);
        } catch (const std::exception& e) {
          log::error("websocket handler threw", {{"request_id", req.request_id}, {"error", std::string(e.what())}});
        }
      }
      m.in_flight.add(-1);
      m.record(method_label(msg.method()), route, 101, t0, bytes_in, 0, req.request_id, req.path);
      co_return false;
    }
  }
  const bool keep = msg.keep_alive() && !res.close && !draining.load();
  // A whole answer is settled (usage, limits) before the client can see it; a stream after it ends.
  const bool streamed = res.stream && !head;
  if (!streamed) {
    const bool too_large = static_cast<std::int64_t>(res.body.size()) > cfg.max_response_bytes;
    gate.finish(req, too_large ? 500 : res.status);  // (write_response answers 500 instead of it)
  }
  auto [ok, bytes_out] = co_await write_response(c, req, msg.version(), head, res, keep);
  if (streamed) gate.finish(req, res.status);
  m.in_flight.add(-1);
  m.record(method_label(msg.method()), route, res.status, t0, bytes_in, bytes_out, req.request_id,
         req.path);
  co_return ok && keep;
}

awaitable<Response> Server::Impl::dispatch(Request& req, std::string_view& route) {
  Match match = router.match(req.method, req.path);
  if (!match.pattern.empty()) route = match.pattern;
  const std::string_view origin = req.header("Origin");
  const auto cors = this->cors.get();  // this request's policy, whatever a reload does meanwhile

  if (req.method == "OPTIONS") {
    if (match.kind == Match::Kind::not_found) {
      co_return Response::error(Error(ErrorKind::not_found, "unknown route: OPTIONS " +
                                                                std::string(req.path)));
    }
    Response res;
    res.status = 204;
    res.content_type.clear();
    if (!origin.empty() && !req.header("Access-Control-Request-Method").empty()) {
      if (!cors->origin_allowed(origin)) {
        co_return Response::error(Error(ErrorKind::forbidden,
                                        "CORS: origin " + std::string(origin) +
                                            " is not in cors.allowed_origins"));
      }
      res.headers = cors->preflight_headers(origin, match.allow);
    } else {
      res.header("Allow", match.allow);
    }
    co_return res;
  }

  std::optional<Response> res = gate.admit(req, match);
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
  gate.respond(req, *res);
  if (!origin.empty()) {
    for (auto& h : cors->response_headers(origin)) res->headers.push_back(std::move(h));
  }
  co_return std::move(*res);
}

awaitable<std::pair<bool, std::size_t>> Server::Impl::write_response(Conn& c, const Request& req,
                                                                     unsigned version, bool head,
                                                                     Response& res, bool keep) {
  // The head is serialised by hand into one buffer and written together with the body (writev).
  const bool streaming = res.stream && !head;
  const bool chunked = streaming && version >= 11;
  if (streaming && !chunked) keep = false;  // HTTP/1.0: the body ends when the connection does
  std::string out;
  out.reserve(512);  // a head with the rate-limit headers fits
  append_status_line(out, res.status);
  out += "Server: switchboard\r\nDate: ";
  out += http_date();
  out += "\r\n";
  if (!res.content_type.empty()) append_header(out, "Content-Type", res.content_type);
  append_header(out, "X-Request-Id", req.request_id);
  for (const auto& [k, v] : res.headers) append_header(out, k, v);
  const bool no_body_status = res.status == 204 || res.status == 304 || res.status < 200;
  if (!streaming && static_cast<std::int64_t>(res.body.size()) > cfg.max_response_bytes) {
    // Requests are refused before work when their answer would be this large; one that still
    // came out larger is not sent.
    log::error("response over server.max_response_bytes not sent",
               {{"request_id", req.request_id}, {"bytes", static_cast<long long>(res.body.size())}});
    Response replacement = Response::error(
        Error(ErrorKind::internal, "the answer exceeds server.max_response_bytes (" +
                                       std::to_string(cfg.max_response_bytes) + " bytes)"));
    res.status = replacement.status;
    co_return co_await write_response(c, req, version, head, replacement, keep);
  }
  if (chunked) {
    out += "Transfer-Encoding: chunked\r\n";
  } else if (!streaming && !no_body_status) {
    out += "Content-Length: ";
    out += std::to_string(res.body.size());
    out += "\r\n";
  }
  if (!keep) {
    out += "Connection: close\r\n";
  } else if (version < 11) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  const milliseconds timeout(cfg.write_timeout_ms);
  if (streaming) {
    ConnWriter writer(c, std::move(out), chunked, timeout);
    std::string what;
    try {
      co_await res.stream(writer);
    } catch (const std::exception& e) {
      what = e.what();
    }
    if (!what.empty()) {
      m.handler_exceptions.inc();
      log::error("stream producer threw", {{"request_id", req.request_id}, {"error", what}});
      if (!writer.started()) writer.replace(Response::error(Error(ErrorKind::internal, "internal error")));
      else co_return std::pair{false, writer.bytes()};
    }
    if (writer.replacement()) {
      Response replacement = std::move(*writer.replacement());
      res.status = replacement.status;  // what the access log and metrics report
      co_return co_await write_response(c, req, version, head, replacement, keep);
    }
    bool ok = co_await writer.finish();
    co_return std::pair{ok && keep, writer.bytes()};
  }
  c.expires_after(timeout);
  const bool send_body = !head && !no_body_status && !res.body.empty();
  std::array<asio::const_buffer, 2> bufs{asio::buffer(out),
                                         asio::buffer(res.body.data(), send_body ? res.body.size() : 0)};
  auto [ec, n] = co_await asio::async_write(c.socket, bufs, kTuple);
  co_return std::pair{!ec, n};
}


awaitable<void> Server::Impl::drain(milliseconds grace, std::function<void()> on_done) {
  draining.store(true);
  boost::system::error_code ec;
  acceptor.close(ec);
  auto conns_now = snapshot();
  log::info("shutting down", {{"open_connections", static_cast<long long>(conns_now.size())},
                              {"grace_ms", static_cast<long long>(grace.count())}});
  for (auto& c : conns_now) {
    asio::post(c->socket.get_executor(), [c] {
      if (!c->busy) {
        boost::system::error_code ignored;
        c->socket.cancel(ignored);
      }
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
      asio::post(c->socket.get_executor(), [c] { c->close(); });
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
