// Every limit of the HTTP server, answered with the right status and envelope, after which the
// server keeps serving.

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "harness.hpp"

namespace sbtest {
namespace {

namespace json = boost::json;

// Reads switchboard_http_connections_rejected_total over an open keep-alive connection.
double metric_with_client(Client& c) {
  auto r = c.request("GET", "/metrics");
  if (!r) return -1;
  const std::string key = "switchboard_http_connections_rejected_total ";
  auto pos = r->body.find("\n" + key);
  return pos == std::string::npos ? -1 : std::stod(r->body.substr(pos + 1 + key.size()));
}

class LimitsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new Server({.config_toml = "[server]\n"
                                         "max_body_bytes = 4096\n"
                                         "header_timeout_ms = 400\n"
                                         "body_timeout_ms = 400\n"
                                         "idle_timeout_ms = 600\n"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void TearDown() override {
    // Whatever the test did, the server still answers.
    auto r = http(port(), "GET", "/health");
    ASSERT_TRUE(r) << "server stopped serving";
    EXPECT_EQ(r->status, 200);
  }
  static int port() { return server_->port(); }
  static Server* server_;
};
Server* LimitsTest::server_ = nullptr;

TEST_F(LimitsTest, HeaderBlockOver16KiBIs431AndCloses) {
  Client c(port());
  std::string big(17 * 1024, 'a');
  ASSERT_TRUE(c.send("GET /health HTTP/1.1\r\nHost: t\r\nX-Big: " + big + "\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(code_of(*r), "headers_too_large");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.wait_closed(3s));
}

TEST_F(LimitsTest, ManyHeadersJustUnderTheLimitAreFine) {
  Client c(port());
  std::string headers;
  for (int i = 0; i < 100; ++i) headers += "X-H" + std::to_string(i) + ": " + std::string(100, 'v') + "\r\n";
  ASSERT_TRUE(c.send("GET /health HTTP/1.1\r\nHost: t\r\n" + headers + "\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(LimitsTest, ContentLengthOverTheLimitIs413BeforeTheBodyIsSent) {
  Client c(port());
  // Only the headers are sent: the answer must come from Content-Length alone.
  ASSERT_TRUE(c.send("POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n"));
  auto r = c.read_response(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(code_of(*r), "payload_too_large");
  EXPECT_TRUE(c.wait_closed(3s));
}

TEST_F(LimitsTest, ChunkedBodyOverTheLimitIs413) {
  Client c(port());
  ASSERT_TRUE(c.send("POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
  std::string chunk(1000, 'x');
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
  for (int i = 0; i < 10; ++i) {
    if (!c.send(std::string(size) + chunk + "\r\n")) break;  // the server may close early
  }
  auto r = c.read_response(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(code_of(*r), "payload_too_large");
}

TEST_F(LimitsTest, ChunkedBodyUnderTheLimitIsAccepted) {
  Client c(port());
  ASSERT_TRUE(c.send("POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"a":1})");
}

TEST_F(LimitsTest, MalformedRequestLineIs400AndCloses) {
  for (const std::string bad : {"GARBAGE\r\n\r\n", "GET /health HTTP/9.9\r\n\r\n",
                                "GET  HTTP/1.1\r\n\r\n", "GET /health HTTP/1.1\r\nBad Header\r\n\r\n",
                                "GET /health HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n"}) {
    Client c(port());
    ASSERT_TRUE(c.send(bad));
    auto r = c.read_response(3s);
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_EQ(code_of(*r), "bad_request") << bad;
    EXPECT_TRUE(c.wait_closed(3s)) << bad;
  }
}

TEST_F(LimitsTest, ExpectContinueGets100ThenTheAnswer) {
  Client c(port());
  ASSERT_TRUE(c.send("POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n"
                     "Expect: 100-continue\r\n\r\n"));
  auto cont = c.read_response(3s);
  ASSERT_TRUE(cont);
  EXPECT_EQ(cont->status, 100);
  ASSERT_TRUE(c.send(R"({"a":1})"));
  auto r = c.read_response(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"a":1})");
}

TEST_F(LimitsTest, SlowHeadersCloseTheConnection) {
  Client c(port());
  ASSERT_TRUE(c.send("GET /health HTTP/1.1\r\nHo"));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.wait_closed(3s));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
}

TEST_F(LimitsTest, SilentConnectionIsClosedAfterTheHeaderTimeout) {
  Client c(port());
  EXPECT_TRUE(c.wait_closed(3s));
}

TEST_F(LimitsTest, SlowBodyIsAnswered408AndClosed) {
  Client c(port());
  ASSERT_TRUE(c.send("POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"a\""));
  auto r = c.read_response(3s);
  ASSERT_TRUE(r) << "the README promises 408";
  EXPECT_EQ(r->status, 408);
  EXPECT_EQ(code_of(*r), "request_timeout");
  EXPECT_NE(r->body.find("body_timeout_ms"), std::string::npos) << r->body;
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.wait_closed(3s));
}

TEST_F(LimitsTest, SlowHeadersAreAnswered408) {
  Client c(port());
  ASSERT_TRUE(c.send("GET /health HTTP/1.1\r\nHo"));
  auto r = c.read_response(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_NE(r->body.find("header_timeout_ms"), std::string::npos) << r->body;
}

TEST_F(LimitsTest, IdleKeepAliveIsClosed) {
  Client c(port());
  auto r = c.request("GET", "/health");
  ASSERT_TRUE(r);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.wait_closed(3s));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 500ms);  // idle_timeout_ms = 600
}

TEST_F(LimitsTest, ClientVanishingMidRequestIsHarmless) {
  for (int i = 0; i < 20; ++i) {
    Client c(port());
    ASSERT_TRUE(c.send("POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\n{"));
  }
  for (int i = 0; i < 20; ++i) {
    Client c(port());
    ASSERT_TRUE(c.send(raw_request("POST", "/api/v1/echo", R"({"delay_ms":100})")));
  }
}

TEST(ConnectionCap, ExtraConnectionsGet503UntilOneCloses) {
  Server s({.env = {{"SWITCHBOARD_SERVER_MAX_CONNECTIONS", "2"}}});
  auto a = std::make_unique<Client>(s.port());
  Client b(s.port());
  ASSERT_TRUE(a->request("GET", "/health"));
  ASSERT_TRUE(b.request("GET", "/health"));
  {
    Client c(s.port());
    auto r = c.read_response(3s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(code_of(*r), "too_many_connections");
    EXPECT_EQ(r->header("retry-after"), "1");
    EXPECT_TRUE(c.wait_closed(3s));
  }
  a.reset();  // frees a slot
  std::optional<HttpResponse> r;
  for (int i = 0; i < 50 && !(r && r->status == 200); ++i) {
    std::this_thread::sleep_for(20ms);
    Client d(s.port());
    r = d.request("GET", "/health");
  }
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_GE(metric_with_client(b), 1);
}

}  // namespace
}  // namespace sbtest
