#include "http/client.hpp"

#include "core/base64.hpp"
#include "core/http_syntax.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <strings.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

namespace sb::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using core::Error;
using core::ErrorKind;
using core::Result;
using std::chrono::milliseconds;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
using TlsStream = asio::ssl::stream<tcp::socket>;

struct Connection {
  std::string key;
  std::unique_ptr<tcp::socket> plain;
  std::unique_ptr<TlsStream> tls;
  beast::flat_buffer buf;
  // Body bytes land here before they are handed on; kept with the (pooled) connection so a
  // request does not allocate it, nor carry it in its coroutine frame.
  std::unique_ptr<char[]> chunk;
  static constexpr std::size_t kChunk = 16384;
  // Room offered to one socket read: a typical head and body arrive in one recv.
  static constexpr std::size_t kRead = 16384;
  std::chrono::steady_clock::time_point idle_since;
  tcp::socket& socket() { return plain ? *plain : tls->next_layer(); }
};

// Cancels the socket's pending operations if they outlast `d`. The timer runs on the caller's
// executor, so it is serialised with the operation it guards whichever executor created the
// (pooled) socket.
class Deadline {
 public:
  Deadline(const asio::any_io_executor& ex, tcp::socket& socket, milliseconds d)
      : state_(std::make_shared<State>()), timer_(ex, d) {
    state_->socket = &socket;
    timer_.async_wait([st = state_](const boost::system::error_code& ec) {
      if (!ec && st->socket) {
        st->fired = true;
        boost::system::error_code ignored;
        st->socket->cancel(ignored);
      }
    });
  }
  ~Deadline() {
    state_->socket = nullptr;
    timer_.cancel();
  }
  bool fired() const { return state_->fired; }

 private:
  struct State {
    tcp::socket* socket = nullptr;
    bool fired = false;
  };
  std::shared_ptr<State> state_;
  asio::steady_timer timer_;
};

// Subscribes the socket to a request's cancel signal for the duration of an exchange step.
class CancelHook {
 public:
  CancelHook(const std::shared_ptr<core::CancelSignal>& signal, tcp::socket& socket)
      : signal_(signal), fired_(std::make_shared<bool>(false)) {
    if (signal_) {
      id_ = signal_->subscribe([&socket, fired = fired_] {
        *fired = true;
        boost::system::error_code ignored;
        socket.cancel(ignored);
      });
    }
  }
  ~CancelHook() {
    if (signal_ && id_) signal_->unsubscribe(id_);
  }
  bool fired() const { return *fired_; }

 private:
  std::shared_ptr<core::CancelSignal> signal_;
  std::shared_ptr<bool> fired_;
  core::CancelSignal::Id id_ = 0;
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string where(const Url& u) { return u.host + ":" + std::to_string(u.port); }

Error client_error(ErrorKind kind, std::string message) {
  return Error(kind, std::move(message), {}, "http_client");
}

}  // namespace

void proxy_from_environment(ClientOptions& options) {
  for (const char* name : {"HTTPS_PROXY", "https_proxy"}) {
    if (const char* v = std::getenv(name); v && *v) {
      options.https_proxy = v;
      break;
    }
  }
  for (const char* name : {"NO_PROXY", "no_proxy"}) {
    if (const char* v = std::getenv(name); v && *v) {
      options.no_proxy = v;
      break;
    }
  }
}

bool proxy_exempt(std::string_view host, std::string_view no_proxy) {
  std::size_t pos = 0;
  while (pos <= no_proxy.size()) {
    std::size_t comma = no_proxy.find(',', pos);
    std::string_view item = no_proxy.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == "*") return true;
    if (!item.empty()) {
      if (item.front() == '.') item.remove_prefix(1);
      if (iequals(host, item)) return true;
      if (host.size() > item.size() && host[host.size() - item.size() - 1] == '.' &&
          iequals(host.substr(host.size() - item.size()), item)) {
        return true;
      }
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return false;
}

Result<Url> parse_url(std::string_view text) {
  auto r = boost::urls::parse_uri(text);
  if (!r) return Error(ErrorKind::invalid_field, "invalid URL: " + r.error().message(), "url");
  Url u;
  u.scheme = std::string(r->scheme());
  for (auto& c : u.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (u.scheme != "http" && u.scheme != "https") {
    return Error(ErrorKind::invalid_field, "URL scheme must be http or https", "url");
  }
  u.host = std::string(r->encoded_host());
  if (u.host.size() >= 2 && u.host.front() == '[') u.host = u.host.substr(1, u.host.size() - 2);
  if (u.host.empty()) return Error(ErrorKind::invalid_field, "URL has no host", "url");
  if (r->has_port()) {
    if (r->port_number() == 0) return Error(ErrorKind::invalid_field, "invalid URL port", "url");
    u.port = r->port_number();
  } else {
    u.port = u.scheme == "https" ? 443 : 80;
  }
  u.target = std::string(r->encoded_path());
  if (u.target.empty()) u.target = "/";
  if (r->has_query()) u.target += "?" + std::string(r->encoded_query());
  return u;
}

namespace {

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out += ": ";
  out.append(value);
  out += "\r\n";
}

}  // namespace

Result<std::string> format_request(const ClientRequest& r, const Url& url,
                                   std::string_view user_agent) {
  if (!core::is_http_token(r.method)) {
    return Error(ErrorKind::invalid_field, "unsupported HTTP method " + r.method, "method");
  }
  for (const auto& [k, v] : r.headers) {
    if (!core::is_http_token(k)) {
      return Error(ErrorKind::invalid_field, "invalid header name", "headers");
    }
    if (core::breaks_header(v)) {
      return Error(ErrorKind::invalid_field, "header " + k + " holds a line break or NUL",
                   "headers");
    }
  }
  // Whether a header at or after `from` has this name: a header is sent unless a later one
  // replaces it, and a default unless the caller gives its own.
  auto named_from = [&](std::size_t from, std::string_view name) {
    for (std::size_t j = from; j < r.headers.size(); ++j) {
      if (iequals(r.headers[j].first, name)) return true;
    }
    return false;
  };
  auto given = [&](std::string_view name) { return named_from(0, name); };
  auto superseded = [&](std::size_t i, std::string_view name) { return named_from(i + 1, name); };

  std::string out;
  out.reserve(256 + r.url.size() + r.body.size());
  out += r.method;
  out += ' ';
  out += url.target;
  out += " HTTP/1.1\r\n";
  if (!given("Host")) {
    out += "Host: ";
    const bool v6 = url.host.find(':') != std::string::npos;
    if (v6) out += '[';
    out += url.host;
    if (v6) out += ']';
    const bool default_port = (url.scheme == "http" && url.port == 80) ||
                              (url.scheme == "https" && url.port == 443);
    if (!default_port) {
      out += ':';
      out += std::to_string(url.port);
    }
    out += "\r\n";
  }
  if (!given("User-Agent")) append_field(out, "User-Agent", user_agent);
  for (std::size_t i = 0; i < r.headers.size(); ++i) {
    const auto& [k, v] = r.headers[i];
    if (iequals(k, "Content-Length") || iequals(k, "Connection") ||
        iequals(k, "Transfer-Encoding") || superseded(i, k)) {
      continue;
    }
    append_field(out, k, v);
  }
  const bool carries_body = r.method == "POST" || r.method == "PUT" || r.method == "PATCH" ||
                            r.method == "OPTIONS";
  if (!r.body.empty() || carries_body) {
    out += "Content-Length: ";
    out += std::to_string(r.body.size());
    out += "\r\n";
  }
  out += "\r\n";
  out += r.body;
  return out;
}

std::string_view ClientResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return {};
}

struct Client::Impl {
  explicit Impl(ClientOptions o) : options(std::move(o)), tls_ctx(asio::ssl::context::tls_client) {
    tls_ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1);
    tls_ctx.set_default_verify_paths();
    if (!options.ca_file.empty()) tls_ctx.load_verify_file(options.ca_file);
    tls_ctx.set_verify_mode(asio::ssl::verify_peer);
  }

  ClientOptions options;
  asio::ssl::context tls_ctx;
  mutable std::mutex mu;  // guards idle
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle;

  std::unique_ptr<Connection> take(const std::string& key) {
    std::lock_guard lock(mu);
    auto it = idle.find(key);
    if (it == idle.end()) return nullptr;
    auto& list = it->second;
    const auto now = std::chrono::steady_clock::now();
    while (!list.empty()) {
      auto c = std::move(list.back());
      list.pop_back();
      if (now - c->idle_since < options.pool_idle_timeout) return c;
    }
    return nullptr;
  }

  void give_back(std::unique_ptr<Connection> c) {
    c->idle_since = std::chrono::steady_clock::now();
    std::lock_guard lock(mu);
    auto& list = idle[c->key];
    if (list.size() < options.max_idle_per_host) list.push_back(std::move(c));
  }

  awaitable<Result<std::unique_ptr<Connection>>> connect(const Url& url, const std::string& key,
                                                          const ClientTimeouts& t,
                                                          bool public_only) {
    auto ex = co_await asio::this_coro::executor;
    auto c = std::make_unique<Connection>();
    c->key = key;
    auto socket = std::make_unique<tcp::socket>(ex);
    // https through an HTTP proxy: TCP to the proxy, CONNECT host:port, then TLS end to end.
    std::optional<boost::urls::url_view> proxy;
    if (url.scheme == "https" && !options.https_proxy.empty() && !proxy_exempt(url.host, options.no_proxy)) {
      auto p = boost::urls::parse_uri(options.https_proxy);
      if (!p || p->host().empty()) {
        co_return client_error(ErrorKind::upstream_error, "HTTPS_PROXY is not a valid http://host:port URL");
      }
      proxy = *p;
    }
    const std::string dial_host = proxy ? std::string(proxy->encoded_host()) : url.host;
    const std::string dial_port = proxy ? (proxy->has_port() ? std::string(proxy->port()) : "80")
                                        : std::to_string(url.port);
    const std::string dial_where = proxy ? "proxy " + dial_host + ":" + dial_port : where(url);
    tcp::resolver resolver(ex);
    auto [rec, results] = co_await resolver.async_resolve(dial_host, dial_port, kTuple);
    if (rec) {
      co_return client_error(ErrorKind::upstream_error, "cannot resolve " + dial_host + ": " + rec.message());
    }
    if (public_only) {
      // Through a proxy only the name itself can be judged; directly, every resolved address.
      bool refused = false;
      if (proxy) {
        refused = names_private_host(url.host);
      } else {
        for (const auto& r : results) {
          if (!is_public_address(r.endpoint().address().to_string())) refused = true;
        }
      }
      if (refused) {
        co_return Error(ErrorKind::forbidden,
                        "refused: " + url.host + " is a loopback, private or link-local address",
                        {}, "http.client");
      }
    }
    {
      Deadline d(ex, *socket, t.connect);
      auto [cec, ep] = co_await asio::async_connect(*socket, results, kTuple);
      if (d.fired()) {
        co_return client_error(ErrorKind::upstream_timeout,
                        "connect to " + dial_where + " timed out after " +
                            std::to_string(t.connect.count()) + " ms");
      }
      if (cec) {
        co_return client_error(ErrorKind::upstream_error,
                        "connect to " + dial_where + " failed: " + cec.message());
      }
    }
    boost::system::error_code ignored;
    socket->set_option(tcp::no_delay(true), ignored);
    if (proxy) {
      std::string authority = (url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host) +
                              ":" + std::to_string(url.port);
      std::string connect = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
      if (proxy->has_userinfo()) {
        connect += "Proxy-Authorization: Basic " + core::base64_encode(proxy->userinfo()) + "\r\n";
      }
      connect += "\r\n";
      Deadline d(ex, *socket, t.connect);
      auto [wec, wn] = co_await asio::async_write(*socket, asio::buffer(connect), kTuple);
      std::string reply;
      std::size_t extra = 0;  // bytes read past the proxy's answer head
      boost::system::error_code pec = wec;
      if (!pec) {
        // Read the proxy's answer head byte-exactly: what follows belongs to the TLS session.
        auto buf = asio::dynamic_buffer(reply, 16384);
        auto [rec2, rn] = co_await asio::async_read_until(*socket, buf, "\r\n\r\n", kTuple);
        pec = rec2;
        if (!pec) extra = reply.size() - rn;
      }
      if (d.fired()) co_return client_error(ErrorKind::upstream_timeout, "CONNECT through " + dial_where + " timed out");
      if (pec) {
        co_return client_error(ErrorKind::upstream_error, "CONNECT through " + dial_where + " failed: " + pec.message());
      }
      // "HTTP/1.1 200 Connection established"
      auto sp = reply.find(' ');
      std::string status = sp == std::string::npos ? "" : reply.substr(sp + 1, 3);
      if (status != "200") {
        auto eol = reply.find("\r\n");
        co_return client_error(ErrorKind::upstream_error,
                               "proxy " + dial_host + " refused CONNECT " + authority + ": " + reply.substr(0, eol));
      }
      if (extra > 0) {
        co_return client_error(ErrorKind::upstream_error, "proxy " + dial_host + " sent data before the TLS handshake");
      }
    }
    if (url.scheme == "https") {
      auto tls = std::make_unique<TlsStream>(std::move(*socket), tls_ctx);
      SSL_set_tlsext_host_name(tls->native_handle(), url.host.c_str());
      tls->set_verify_callback(asio::ssl::host_name_verification(url.host));
      Deadline d(ex, tls->next_layer(), t.connect);
      auto [hec] = co_await tls->async_handshake(asio::ssl::stream_base::client, kTuple);
      if (d.fired()) {
        co_return client_error(ErrorKind::upstream_timeout, "TLS handshake with " + where(url) + " timed out");
      }
      if (hec) {
        co_return client_error(ErrorKind::upstream_error,
                        "TLS handshake with " + where(url) + " failed: " + hec.message());
      }
      c->tls = std::move(tls);
    } else {
      c->plain = std::move(socket);
    }
    co_return c;
  }

  // One read from the stream into the connection's buffer. The end of the stream is handed to
  // the parser (which completes a body delimited by the connection's end, or reports a partial
  // message); before any byte it is end_of_stream, as Beast's own reads report it.
  template <class Stream, class Parser>
  static awaitable<boost::system::error_code> read_more(Stream& s, Connection& c, Parser& p) {
    auto [ec, n] = co_await s.async_read_some(c.buf.prepare(Connection::kRead), kTuple);
    c.buf.commit(n);
    if (ec == asio::error::eof) {
      if (!p.got_some()) co_return bhttp::error::end_of_stream;
      ec = {};
      p.put_eof(ec);
    }
    co_return ec;
  }

  struct Outcome {
    bool reusable = false;
    bool stale = false;  // failed before any response byte: safe to retry on a new connection
  };

  // Reads into *buffer_ when it is set (fetch), else hands pieces to on_data (stream).
  template <class Stream>
  awaitable<Result<ClientResponse>> run(Stream& s, Connection& c, const std::string& wire,
                                        bool head_request, const Url& url, const ClientTimeouts& t,
                                        const std::shared_ptr<core::CancelSignal>& cancel,
                                        const HeadSink& on_head, const DataSink& on_data,
                                        std::string* buffer_, Outcome& out) {
    auto ex = co_await asio::this_coro::executor;
    CancelHook hook(cancel, c.socket());
    auto cancelled = [&] {
      return client_error(ErrorKind::unavailable, "the request to " + where(url) + " was cancelled (the client went away)");
    };
    bhttp::response_parser<bhttp::buffer_body> p;
    p.header_limit(64 * 1024);
    p.body_limit(boost::none);  // bounded below, as it arrives
    if (head_request) p.skip(true);
    {
      Deadline d(ex, c.socket(), t.first_byte);
      auto [wec, wn] = co_await asio::async_write(s, asio::buffer(wire), kTuple);
      if (hook.fired()) co_return cancelled();
      if (wec) {
        out.stale = !d.fired();
        ErrorKind kind = d.fired() ? ErrorKind::upstream_timeout : ErrorKind::upstream_error;
        co_return client_error(kind, "sending the request to " + where(url) + " failed: " +
                                         wec.message());
      }
      // The head is parsed from the connection's buffer as bytes arrive (Beast's parser, fed
      // directly: no composed read operation per step).
      boost::system::error_code hec;
      while (!p.is_header_done() && !hec) {
        if (c.buf.size() > 0) {
          c.buf.consume(p.put(c.buf.data(), hec));
          if (hec != bhttp::error::need_more) continue;
          hec = {};
        }
        hec = co_await read_more(s, c, p);
      }
      if (hook.fired()) co_return cancelled();
      if (d.fired()) {
        co_return client_error(ErrorKind::upstream_timeout,
                        "no response from " + where(url) + " within " +
                            std::to_string(t.first_byte.count()) + " ms");
      }
      if (hec) {
        out.stale = hec == bhttp::error::end_of_stream || hec == asio::error::connection_reset;
        co_return client_error(ErrorKind::upstream_error,
                        "reading the response from " + where(url) + " failed: " + hec.message());
      }
    }
    ClientResponse resp;
    resp.status = static_cast<int>(p.get().result_int());
    for (const auto& f : p.get()) {
      resp.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    if (on_head) on_head(resp);
    if (!c.chunk) c.chunk = std::make_unique<char[]>(Connection::kChunk);
    char* const chunk = c.chunk.get();
    std::size_t total = 0;
    // Body bytes already buffered are parsed at once; the socket is read (under the idle
    // timeout) only when the parser needs more than the buffer holds.
    bool starved = c.buf.size() == 0;
    while (!p.is_done()) {
      boost::system::error_code rec;
      if (starved) {
        // A fetch's whole body, and a stream's until its first bytes, are bounded by the
        // request's deadline as well as by the silence allowed between reads.
        const bool bounded = t.deadline != std::chrono::steady_clock::time_point::max() &&
                             (buffer_ || total == 0);
        auto wait = t.idle;
        if (bounded) {
          const auto left = std::chrono::duration_cast<milliseconds>(t.deadline - std::chrono::steady_clock::now());
          wait = std::clamp(left, milliseconds(0), t.idle);
        }
        Deadline d(ex, c.socket(), wait);
        rec = co_await read_more(s, c, p);
        if (hook.fired()) co_return cancelled();
        if (d.fired()) {
          if (bounded && wait < t.idle) {
            co_return client_error(ErrorKind::upstream_timeout,
                                   "the response from " + where(url) + " did not arrive within the request's deadline");
          }
          co_return client_error(ErrorKind::upstream_timeout,
                          "the response from " + where(url) + " stalled for " +
                              std::to_string(t.idle.count()) + " ms");
        }
        starved = false;
        if (!rec && p.is_done()) break;  // the body ended with the connection
      }
      std::size_t got = 0;
      if (!rec) {
        p.get().body().data = chunk;
        p.get().body().size = Connection::kChunk;
        c.buf.consume(p.put(c.buf.data(), rec));
        got = Connection::kChunk - p.get().body().size;
        if (rec == bhttp::error::need_more || rec == bhttp::error::need_buffer) {
          starved = rec == bhttp::error::need_more || c.buf.size() == 0;
          rec = {};
        } else if (!rec && !p.is_done() && c.buf.size() == 0) {
          starved = true;
        }
      }
      if (rec) {
        co_return client_error(ErrorKind::upstream_error,
                        "reading the response body from " + where(url) + " failed: " +
                            rec.message());
      }
      total += got;
      if (total > options.max_response_bytes) {
        co_return client_error(ErrorKind::upstream_error,
                        "the response from " + where(url) + " exceeds " +
                            std::to_string(options.max_response_bytes) + " bytes");
      }
      if (got > 0) {
        if (buffer_) {
          buffer_->append(chunk, got);
        } else if (on_data && !co_await on_data(std::string_view(chunk, got))) {
          co_return resp;
        }
      }
    }
    out.reusable = p.get().keep_alive() && !p.need_eof();  // (a body that ended with the connection)
    co_return resp;
  }

  // Provider calls repeat a handful of URLs: each thread keeps the parsed form of the ones it
  // has seen (bounded), so a request does not parse its URL again.
  static Result<Url> parse_url_cached(const std::string& text) {
    thread_local std::unordered_map<std::string, Url> seen;
    if (auto it = seen.find(text); it != seen.end()) return it->second;
    auto url = parse_url(text);
    if (url) {
      if (seen.size() >= 256) seen.clear();
      seen.emplace(text, *url);
    }
    return url;
  }

  awaitable<Result<ClientResponse>> exchange(ClientRequest r, HeadSink on_head, DataSink on_data,
                                             bool buffer) {
    auto url = parse_url_cached(r.url);
    if (!url) co_return std::move(url).error();
    auto wire = format_request(r, *url, options.user_agent);
    if (!wire) co_return std::move(wire).error();
    const bool head_request = r.method == "HEAD";
    // Pooled sockets belong to the io_context (I/O thread) that opened them: the pool is keyed
    // by that context too, so a connection is only ever reused on its own thread.
    char ctx[24];
    std::snprintf(ctx, sizeof ctx, "@%p",
                  static_cast<void*>(&asio::query(co_await asio::this_coro::executor,
                                                  asio::execution::context)));
    const std::string key = url->scheme + "://" + url->host + ":" + std::to_string(url->port) +
                            ctx + (r.public_only ? "#public" : "");

    std::string body;
    for (int attempt = 0;; ++attempt) {
      auto conn = take(key);
      const bool reused = conn != nullptr;
      if (!conn) {
        auto fresh = co_await connect(*url, key, r.timeouts, r.public_only);
        if (!fresh) co_return std::move(fresh).error();
        conn = std::move(*fresh);
      }
      Outcome out;
      // (No co_await inside ?: — GCC 12 miscompiles it.)
      Result<ClientResponse> res = Error(ErrorKind::internal, "unreachable");
      if (conn->tls) {
        res = co_await run(*conn->tls, *conn, *wire, head_request, *url, r.timeouts, r.cancel, on_head, on_data,
                           buffer ? &body : nullptr, out);
      } else {
        res = co_await run(*conn->plain, *conn, *wire, head_request, *url, r.timeouts, r.cancel, on_head, on_data,
                           buffer ? &body : nullptr, out);
      }
      // A pooled connection the server had already closed: retry once on a new connection.
      if (!res && out.stale && reused && attempt == 0 && !(r.cancel && r.cancel->fired())) continue;
      if (res && out.reusable) give_back(std::move(conn));
      if (res && buffer) res->body = std::move(body);
      co_return res;
    }
  }
};

Client::Client(ClientOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}
Client::~Client() = default;

awaitable<Result<ClientResponse>> Client::fetch(ClientRequest request) {
  auto impl = impl_;
  co_return co_await impl->exchange(std::move(request), nullptr, nullptr, true);
}

awaitable<Result<ClientResponse>> Client::stream(ClientRequest request, HeadSink on_head,
                                                 DataSink on_data) {
  auto impl = impl_;
  co_return co_await impl->exchange(std::move(request), std::move(on_head), std::move(on_data),
                                    false);
}

void Client::close_idle() {
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle;
  {
    std::lock_guard lock(impl_->mu);
    idle.swap(impl_->idle);
  }
}

std::size_t Client::idle_connections() const {
  std::lock_guard lock(impl_->mu);
  std::size_t n = 0;
  for (const auto& [k, list] : impl_->idle) n += list.size();
  return n;
}

}  // namespace sb::http
