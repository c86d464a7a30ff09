#include "http/client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <thread>

#include "fake_upstream.hpp"

namespace sb::http {
namespace {

using namespace std::chrono_literals;
using sbtest::Behavior;
using sbtest::FakeUpstream;

// One io_context for the whole file, as in the server: pooled sockets belong to it.
boost::asio::io_context& test_ioc() {
  static boost::asio::io_context ioc;
  return ioc;
}

template <class F>
auto run(F f) {
  auto& ioc = test_ioc();
  ioc.restart();
  using R = typename std::invoke_result_t<F>::value_type;
  std::optional<R> out;
  boost::asio::co_spawn(
      ioc, [&]() -> boost::asio::awaitable<void> { out.emplace(co_await f()); },
      boost::asio::detached);
  ioc.run();
  return std::move(*out);
}

core::Result<ClientResponse> fetch(Client& c, ClientRequest r) {
  return run([&] { return c.fetch(r); });
}

ClientRequest get(const std::string& url) {
  ClientRequest r;
  r.url = url;
  return r;
}

TEST(Url, Parses) {
  auto u = parse_url("https://api.openai.com/v1/chat/completions?x=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "api.openai.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/v1/chat/completions?x=1");
  EXPECT_EQ(parse_url("http://127.0.0.1:11434")->target, "/");
  EXPECT_EQ(parse_url("http://[::1]:8080/x")->host, "::1");
  EXPECT_FALSE(parse_url("ftp://example.com/"));
  EXPECT_FALSE(parse_url("not a url"));
  EXPECT_FALSE(parse_url("http:///path"));
}

TEST(Client, FormatsTheRequestForTheWire) {
  ClientRequest r;
  r.method = "POST";
  r.url = "http://127.0.0.1:8080/v1/chat/completions";
  r.headers = {{"Content-Type", "text/plain"},
               {"Authorization", "Bearer k"},
               {"content-type", "application/json"},  // replaces the first Content-Type
               {"Content-Length", "999"},             // the client's own is sent instead
               {"Connection", "close"}};
  r.body = "{\"a\":1}";
  auto wire = format_request(r, *parse_url(r.url), "switchboard/1");
  ASSERT_TRUE(wire) << wire.error().message;
  EXPECT_EQ(*wire,
            "POST /v1/chat/completions HTTP/1.1\r\n"
            "Host: 127.0.0.1:8080\r\n"
            "User-Agent: switchboard/1\r\n"
            "Authorization: Bearer k\r\n"
            "content-type: application/json\r\n"
            "Content-Length: 7\r\n"
            "\r\n"
            "{\"a\":1}");

  // Default ports are left out of Host, IPv6 hosts are bracketed, the caller's Host and
  // User-Agent replace the defaults, and a GET without a body has no Content-Length.
  EXPECT_EQ(*format_request(get("https://api.example.com/v1/models?x=1"),
                            *parse_url("https://api.example.com/v1/models?x=1"), "ua"),
            "GET /v1/models?x=1 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: ua\r\n\r\n");
  EXPECT_EQ(*format_request(get("http://[::1]:81/"), *parse_url("http://[::1]:81/"), "ua"),
            "GET / HTTP/1.1\r\nHost: [::1]:81\r\nUser-Agent: ua\r\n\r\n");
  ClientRequest own = get("http://a.test/");
  own.headers = {{"user-agent", "mine"}, {"HOST", "b.test"}};
  EXPECT_EQ(*format_request(own, *parse_url(own.url), "ua"),
            "GET / HTTP/1.1\r\nuser-agent: mine\r\nHOST: b.test\r\n\r\n");
  ClientRequest empty_post = get("http://a.test/x");
  empty_post.method = "POST";
  EXPECT_NE(format_request(empty_post, *parse_url(empty_post.url), "ua")->find("Content-Length: 0\r\n"),
            std::string::npos);

  // Header injection is refused, and the error never repeats the value.
  ClientRequest bad = get("http://a.test/");
  bad.headers = {{"X-Key", "secret\r\nX-Evil: 1"}};
  auto refused = format_request(bad, *parse_url(bad.url), "ua");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, core::ErrorKind::invalid_field);
  EXPECT_EQ(refused.error().message.find("secret"), std::string::npos);
  bad.headers = {{"Bad Name", "v"}};
  EXPECT_FALSE(format_request(bad, *parse_url(bad.url), "ua"));
  bad.headers = {};
  bad.method = "GE T";
  EXPECT_FALSE(format_request(bad, *parse_url(bad.url), "ua"));
}

// A server for one connection that answers with raw bytes, written in the given pieces a
// little apart, and then closes the connection.
class RawOnce {
 public:
  explicit RawOnce(std::vector<std::string> pieces)
      : acceptor_(ioc_, {boost::asio::ip::address_v4::loopback(), 0}) {
    thread_ = std::thread([this, pieces = std::move(pieces)] {
      boost::asio::ip::tcp::socket s(ioc_);
      acceptor_.accept(s);
      boost::asio::streambuf head;
      boost::asio::read_until(s, head, "\r\n\r\n");
      for (const auto& piece : pieces) {
        boost::asio::write(s, boost::asio::buffer(piece));
        std::this_thread::sleep_for(2ms);
      }
    });
  }
  ~RawOnce() { thread_.join(); }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/";
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
};

TEST(Client, ReadsResponsesHoweverTheyAreFramedOrSplit) {
  Client c;
  {  // a head arriving a byte at a time, then a body of known length in two pieces
    std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: 1\r\n\r\n";
    std::vector<std::string> pieces;
    for (char ch : head) pieces.emplace_back(1, ch);
    pieces.push_back("hello ");
    pieces.push_back("world");
    RawOnce server(pieces);
    auto res = fetch(c, get(server.url()));
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(res->body, "hello world");
    EXPECT_EQ(res->header("x-a"), "1");
  }
  {  // a body that ends with the connection
    RawOnce server({"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ", "the end"});
    auto res = fetch(c, get(server.url()));
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(res->body, "until the end");
  }
  {  // chunked, with the chunk framing split across writes
    RawOnce server({"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r", "\nab", "cde\r\n3\r\nfgh\r\n0", "\r\n\r\n"});
    auto res = fetch(c, get(server.url()));
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(res->body, "abcdefgh");
  }
  {  // a body cut short of its Content-Length is an error, not a short answer
    RawOnce server({"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort"});
    auto res = fetch(c, get(server.url()));
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error().kind, core::ErrorKind::upstream_error);
  }
  {  // a head cut short is an error too
    RawOnce server({"HTTP/1.1 200 OK\r\nContent-Le"});
    auto res = fetch(c, get(server.url()));
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error().kind, core::ErrorKind::upstream_error);
  }
  // The two answers framed by length are pooled (the server did not say close); the one that
  // ended with its connection, and the failed ones, are not.
  EXPECT_EQ(c.idle_connections(), 2u);
}

TEST(Client, SendsTheRequestAndReadsTheResponse) {
  FakeUpstream up;
  Behavior b;
  b.status = 201;
  b.body = R"({"id":"x"})";
  b.headers.emplace_back("X-Upstream", "yes");
  up.push(b);
  Client c;
  ClientRequest r;
  r.method = "POST";
  r.url = up.url() + "/v1/chat/completions";
  r.headers = {{"Authorization", "Bearer sk-test"}, {"Content-Type", "application/json"}};
  r.body = R"({"model":"m"})";
  auto res = fetch(c, r);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(res->body, R"({"id":"x"})");
  EXPECT_EQ(res->header("x-upstream"), "yes");
  auto got = up.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].target, "/v1/chat/completions");
  EXPECT_EQ(got[0].headers["authorization"], "Bearer sk-test");
  EXPECT_EQ(got[0].headers["host"], "127.0.0.1:" + std::to_string(up.port()));
  EXPECT_EQ(got[0].body, R"({"model":"m"})");
}

TEST(Client, ErrorStatusIsAResponseNotAnError) {
  FakeUpstream up;
  Behavior b;
  b.status = 429;
  b.headers.emplace_back("Retry-After", "3");
  b.body = R"({"error":{"message":"slow down"}})";
  up.push(b);
  Client c;
  auto res = fetch(c, get(up.url() + "/x"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 429);
  EXPECT_EQ(res->header("retry-after"), "3");
}

TEST(Client, ReusesKeepAliveConnections) {
  FakeUpstream up;
  Client c;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(fetch(c, get(up.url() + "/x")));
  EXPECT_EQ(up.connections(), 1);
  EXPECT_EQ(c.idle_connections(), 1u);
}

TEST(Client, RetriesOnceWhenAPooledConnectionWasClosed) {
  FakeUpstream up;
  Behavior drop;
  drop.drop_after = true;
  up.push(drop);
  Client c;
  ASSERT_TRUE(fetch(c, get(up.url() + "/a")));
  std::this_thread::sleep_for(50ms);
  auto res = fetch(c, get(up.url() + "/b"));
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(up.connections(), 2);
}

TEST(Client, ConnectionRefusedIsAnUpstreamError) {
  int port;
  {
    FakeUpstream gone;
    port = gone.port();
  }
  Client c;
  auto res = fetch(c, get("http://127.0.0.1:" + std::to_string(port) + "/"));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, core::ErrorKind::upstream_error);
}

TEST(Client, SlowFirstByteTimesOut) {
  FakeUpstream up;
  Behavior slow;
  slow.delay_before_headers = 3s;
  up.push(slow);
  Client c;
  auto r = get(up.url() + "/");
  r.timeouts.first_byte = 200ms;
  auto t0 = std::chrono::steady_clock::now();
  auto res = fetch(c, r);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, core::ErrorKind::upstream_timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
}

TEST(Client, ClosedBeforeHeadersIsAnError) {
  FakeUpstream up;
  Behavior close;
  close.fault = Behavior::Fault::close_before_headers;
  up.push(close);
  Client c;
  auto res = fetch(c, get(up.url() + "/"));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, core::ErrorKind::upstream_error);
  EXPECT_EQ(up.received().size(), 1u);  // a fresh connection is not retried
}

TEST(Client, ResponsesAreBounded) {
  FakeUpstream up;
  Behavior huge;
  huge.body = std::string(100000, 'x');
  up.push(huge);
  ClientOptions o;
  o.max_response_bytes = 1000;
  Client c(o);
  auto res = fetch(c, get(up.url() + "/"));
  ASSERT_FALSE(res);
  EXPECT_NE(res.error().message.find("exceeds 1000 bytes"), std::string::npos);
}

TEST(Client, StreamsTheBodyAsItArrives) {
  FakeUpstream up;
  Behavior sse;
  sse.headers = {{"Content-Type", "text/event-stream"}};
  sse.chunks = {"data: 1\n\n", "data: 2\n\n", "data: [DONE]\n\n"};
  sse.delay_between_chunks = 150ms;
  up.push(sse);
  Client c;
  std::vector<std::pair<std::chrono::steady_clock::duration, std::string>> pieces;
  int head_status = 0;
  auto t0 = std::chrono::steady_clock::now();
  auto res = run([&] {
    return c.stream(
        get(up.url() + "/"), [&](const ClientResponse& h) { head_status = h.status; },
        [&](std::string_view d) -> boost::asio::awaitable<bool> {
          pieces.emplace_back(std::chrono::steady_clock::now() - t0, std::string(d));
          co_return true;
        });
  });
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(head_status, 200);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0].second, "data: 1\n\n");
  EXPECT_LT(pieces[0].first, 120ms) << "the first chunk must not wait for the rest";
  EXPECT_GE(pieces[2].first, 250ms);
  EXPECT_TRUE(res->body.empty());
}

TEST(Client, ResetMidStreamIsAnError) {
  FakeUpstream up;
  Behavior reset;
  reset.chunks = {"data: 1\n\n", "data: 2\n\n"};
  reset.fault = Behavior::Fault::reset_mid_body;
  reset.fault_after_chunks = 1;
  up.push(reset);
  Client c;
  std::string seen;
  auto res = run([&] {
    return c.stream(get(up.url() + "/"), nullptr,
                    [&](std::string_view d) -> boost::asio::awaitable<bool> {
                      seen += d;
                      co_return true;
                    });
  });
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, core::ErrorKind::upstream_error);
  EXPECT_EQ(seen, "data: 1\n\n");
}

TEST(Client, StalledStreamTimesOut) {
  FakeUpstream up;
  Behavior hang;
  hang.chunks = {"data: 1\n\n", "data: 2\n\n"};
  hang.fault = Behavior::Fault::hang_mid_body;
  hang.fault_after_chunks = 1;
  up.push(hang);
  Client c;
  auto r = get(up.url() + "/");
  r.timeouts.idle = 200ms;
  auto res = run([&] {
    return c.stream(r, nullptr,
                    [](std::string_view) -> boost::asio::awaitable<bool> { co_return true; });
  });
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, core::ErrorKind::upstream_timeout);
}

TEST(Client, ConsumerCanStopAStream) {
  FakeUpstream up;
  Behavior sse;
  sse.chunks = {"a", "b", "c", "d"};
  sse.delay_between_chunks = 100ms;
  up.push(sse);
  Client c;
  int calls = 0;
  auto res = run([&] {
    return c.stream(get(up.url() + "/"), nullptr,
                    [&](std::string_view) -> boost::asio::awaitable<bool> { co_return ++calls < 2; });
  });
  ASSERT_TRUE(res);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(c.idle_connections(), 0u);  // a half-read connection is never pooled
}

TEST(Client, TlsToAPlainServerFailsCleanly) {
  FakeUpstream up;
  Client c;
  auto r = get("https://127.0.0.1:" + std::to_string(up.port()) + "/");
  r.timeouts.connect = 300ms;
  auto res = fetch(c, r);
  ASSERT_FALSE(res);
  EXPECT_TRUE(res.error().kind == core::ErrorKind::upstream_timeout ||
              res.error().kind == core::ErrorKind::upstream_error);
}

}  // namespace
}  // namespace sb::http

namespace sb::http {
namespace {

TEST(Proxy, NoProxyMatchesNamesSuffixesAndStar) {
  EXPECT_TRUE(proxy_exempt("localhost", "localhost,127.0.0.1"));
  EXPECT_TRUE(proxy_exempt("api.internal.example", ".example"));
  EXPECT_TRUE(proxy_exempt("api.internal.example", "internal.example"));
  EXPECT_TRUE(proxy_exempt("API.Example", "api.example"));
  EXPECT_TRUE(proxy_exempt("anything", " * "));
  EXPECT_FALSE(proxy_exempt("notexample", "example"));
  EXPECT_FALSE(proxy_exempt("api.openai.com", ""));
  EXPECT_FALSE(proxy_exempt("api.openai.com", "openai.org,,"));
}

TEST(Proxy, HttpsGoesThroughConnectWithCredentials) {
  FakeUpstream proxy;  // answers CONNECT with 200 and then speaks plain HTTP: the TLS handshake fails
  Client c(ClientOptions{.https_proxy = "http://user:pw@127.0.0.1:" + std::to_string(proxy.port())});
  auto r = get("https://api.example.test/v1/models");
  r.timeouts.connect = 1000ms;
  auto res = fetch(c, r);
  ASSERT_FALSE(res);
  auto got = proxy.received();
  ASSERT_GE(got.size(), 1u);
  EXPECT_EQ(got[0].method, "CONNECT");
  EXPECT_EQ(got[0].target, "api.example.test:443");
  EXPECT_EQ(got[0].headers["proxy-authorization"], "Basic dXNlcjpwdw==");  // user:pw
}

TEST(Proxy, ARefusedConnectIsAClearError) {
  FakeUpstream proxy;
  Behavior refuse;
  refuse.status = 407;
  refuse.body = "proxy auth required";
  proxy.push(refuse);
  Client c(ClientOptions{.https_proxy = "http://127.0.0.1:" + std::to_string(proxy.port())});
  auto res = fetch(c, get("https://api.example.test/"));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, core::ErrorKind::upstream_error);
  EXPECT_NE(res.error().message.find("refused CONNECT api.example.test:443"), std::string::npos) << res.error().message;
  EXPECT_NE(res.error().message.find("407"), std::string::npos);
}

TEST(Proxy, PlainHttpAndExemptHostsGoDirect) {
  FakeUpstream up;
  Client c(ClientOptions{.https_proxy = "http://127.0.0.1:1", .no_proxy = "127.0.0.1"});
  ASSERT_TRUE(fetch(c, get(up.url() + "/x")));  // http:// never uses the HTTPS proxy
  EXPECT_EQ(up.received().at(0).method, "GET");
}

}  // namespace
}  // namespace sb::http
