// The real binary: routes, request ids, keep-alive, pipelining, metrics, auth, CORS, logs.

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "harness.hpp"

namespace sbtest {
namespace {

namespace json = boost::json;

json::object error_of(const HttpResponse& r) {
  auto v = json::parse(r.body).as_object();
  return v["error"].as_object();
}

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new Server(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static int port() { return server_->port(); }
  static Server* server_;
};
Server* ServerTest::server_ = nullptr;

TEST_F(ServerTest, HealthLiveReadyVersion) {
  for (const char* path : {"/health", "/live"}) {
    auto r = http(port(), "GET", path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(json::parse(r->body).at("status"), "ok");
    EXPECT_EQ(r->header("content-type"), "application/json");
  }
  auto ready = http(port(), "GET", "/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  auto storage = json::parse(ready->body).at("checks").at("storage");
  EXPECT_EQ(storage.at("status"), "ok");
  EXPECT_EQ(storage.at("journal_mode"), "wal");
  auto version = http(port(), "GET", "/version");
  ASSERT_TRUE(version);
  EXPECT_EQ(json::parse(version->body).at("name"), "switchboard");
}

TEST_F(ServerTest, EveryResponseCarriesARequestId) {
  auto generated = http(port(), "GET", "/health");
  ASSERT_TRUE(generated);
  EXPECT_EQ(generated->header("x-request-id").size(), 32u);
  auto echoed = http(port(), "GET", "/health", "", {{"X-Request-Id", "client-id-42"}});
  EXPECT_EQ(echoed->header("x-request-id"), "client-id-42");
  auto unsafe = http(port(), "GET", "/health", "", {{"X-Request-Id", "bad id with spaces"}});
  EXPECT_EQ(unsafe->header("x-request-id").size(), 32u);
  auto error = http(port(), "GET", "/nope");
  EXPECT_EQ(error->header("x-request-id").size(), 32u);
}

TEST_F(ServerTest, UnknownRouteIs404Envelope) {
  auto r = http(port(), "GET", "/v1/nothing-here");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  auto e = error_of(*r);
  EXPECT_EQ(e["code"], "not_found");
  EXPECT_EQ(e["type"], "invalid_request_error");
  EXPECT_TRUE(e.contains("message"));
}

TEST_F(ServerTest, WrongMethodIs405WithAllow) {
  auto r = http(port(), "POST", "/health", "{}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "GET, HEAD, OPTIONS");
  EXPECT_EQ(error_of(*r)["code"], "method_not_allowed");
}

TEST_F(ServerTest, HeadAndOptions) {
  Client c(port());
  auto head = c.request("HEAD", "/health");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-length"), "15");
  EXPECT_TRUE(head->body.empty());
  auto after = c.request("GET", "/health");  // nothing stray was left on the connection
  ASSERT_TRUE(after);
  EXPECT_EQ(after->body, R"({"status":"ok"})");
  auto opt = c.request("OPTIONS", "/api/v1/echo");
  ASSERT_TRUE(opt);
  EXPECT_EQ(opt->status, 204);
  EXPECT_EQ(opt->header("allow"), "OPTIONS, POST");
}

TEST_F(ServerTest, EchoAnswersTheJsonItGot) {
  auto r = http(port(), "POST", "/api/v1/echo", R"({"model":"x","messages":[{"role":"user"}]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body), json::parse(R"({"model":"x","messages":[{"role":"user"}]})"));
}

TEST_F(ServerTest, InvalidJsonIs400) {
  for (const std::string body : {"{\"a\":", "not json", "", "{} trailing"}) {
    auto r = http(port(), "POST", "/api/v1/echo", body);
    ASSERT_TRUE(r) << body;
    EXPECT_EQ(r->status, 400) << body;
    EXPECT_EQ(error_of(*r)["code"], "invalid_json") << body;
  }
}

TEST_F(ServerTest, WrongFieldTypeIs400NamingTheField) {
  auto r = http(port(), "POST", "/api/v1/echo", R"({"delay_ms": "soon"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  auto e = error_of(*r);
  EXPECT_EQ(e["param"], "delay_ms");
  EXPECT_EQ(e["code"], "invalid_type");
  EXPECT_NE(std::string(e["message"].as_string()).find("delay_ms"), std::string::npos);
  auto range = http(port(), "POST", "/api/v1/echo", R"({"events": 0})");
  EXPECT_EQ(error_of(*range)["param"], "events");
}

TEST_F(ServerTest, StreamsServerSentEvents) {
  auto r = http(port(), "POST", "/api/v1/echo", R"({"events": 3, "x": 1})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "text/event-stream");
  EXPECT_EQ(r->header("transfer-encoding"), "chunked");
  std::string event = "data: {\"events\":3,\"x\":1}\n\n";
  EXPECT_EQ(r->body, event + event + event + "data: [DONE]\n\n");
}

TEST_F(ServerTest, KeepAliveReusesTheConnection) {
  Client c(port());
  for (int i = 0; i < 20; ++i) {
    auto r = c.request("GET", "/health");
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200);
  }
  auto r = c.request("POST", "/api/v1/echo", R"({"i":1})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, R"({"i":1})");
}

TEST_F(ServerTest, Http10ClientsGetAnAnswerAndAClose) {
  Client c(port());
  ASSERT_TRUE(c.send("GET /health HTTP/1.0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"status":"ok"})");
  EXPECT_TRUE(c.wait_closed(2s));

  Client keep(port());
  ASSERT_TRUE(keep.send("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto k = keep.read_response();
  ASSERT_TRUE(k);
  EXPECT_EQ(k->header("connection"), "keep-alive");
  EXPECT_TRUE(keep.request("GET", "/live"));

  Client stream(port());  // a stream to an HTTP/1.0 client is delimited by the close
  ASSERT_TRUE(stream.send("POST /api/v1/echo HTTP/1.0\r\nContent-Length: 12\r\n\r\n{\"events\":2}"));
  auto sr = stream.read_response();
  ASSERT_TRUE(sr);
  EXPECT_EQ(sr->header("transfer-encoding"), "");
  EXPECT_NE(sr->body.find("data: [DONE]"), std::string::npos);
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Client c(port());
  std::string batch = raw_request("POST", "/api/v1/echo", R"({"n":1})") +
                      raw_request("GET", "/nope") +
                      raw_request("POST", "/api/v1/echo", R"({"n":2,"delay_ms":50})") +
                      raw_request("POST", "/api/v1/echo", R"({"n":3})");
  ASSERT_TRUE(c.send(batch));
  auto r1 = c.read_response();
  auto r2 = c.read_response();
  auto r3 = c.read_response();
  auto r4 = c.read_response();
  ASSERT_TRUE(r1 && r2 && r3 && r4);
  EXPECT_EQ(r1->body, R"({"n":1})");
  EXPECT_EQ(r2->status, 404);
  EXPECT_EQ(json::parse(r3->body).at("n"), 2);
  EXPECT_EQ(r4->body, R"({"n":3})");
}

TEST(Metrics, CountRequestsByRoutePattern) {
  Server s;  // its own process, so no other test's requests are counted
  auto port = [&] { return s.port(); };
  const std::string key =
      R"(switchboard_http_requests_total{route="/live",method="GET",status="200"})";
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(http(port(), "GET", "/live"));
  // A request is counted just after its response is written: allow the last one a moment.
  double seen = -1;
  for (int i = 0; i < 100 && seen != 7; ++i) {
    seen = metric(port(), key);
    if (seen != 7) std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(seen, 7);
  ASSERT_TRUE(http(port(), "GET", "/raw/path/12345"));
  auto m = http(port(), "GET", "/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(m->body.find("/raw/path/12345"), std::string::npos) << "raw paths must not be labels";
  EXPECT_NE(m->body.find(R"(route="unmatched",method="GET",status="404")"), std::string::npos);
  EXPECT_NE(m->body.find("switchboard_http_request_duration_seconds_bucket{route=\"/live\""),
            std::string::npos);
  EXPECT_GE(metric(port(), "switchboard_http_open_connections"), 1);
  EXPECT_GE(metric(port(), "switchboard_http_requests_in_flight"), 1);  // the scrape itself
  EXPECT_GT(metric(port(), "process_resident_memory_bytes"), 1e6);
  EXPECT_NE(m->body.find("switchboard_build_info{version="), std::string::npos);
}

TEST_F(ServerTest, AccessLogHasOneJsonLinePerRequest) {
  ASSERT_TRUE(http(port(), "GET", "/health", "", {{"X-Request-Id", "log-line-probe"}}));
  ASSERT_TRUE(server_->wait_for_log("log-line-probe"));
  for (const auto& line : server_->stdout_lines()) {
    if (line.find("log-line-probe") == std::string::npos) continue;
    auto v = json::parse(line).as_object();
    EXPECT_EQ(v["msg"], "request");
    EXPECT_EQ(v["level"], "info");
    EXPECT_EQ(v["method"], "GET");
    EXPECT_EQ(v["route"], "/health");
    EXPECT_EQ(v["status"], 200);
    EXPECT_TRUE(v.contains("duration_ms"));
    EXPECT_TRUE(v.contains("bytes_out"));
    EXPECT_TRUE(v.contains("time"));
  }
}

TEST(Auth, BearerKeyProtectsApiRoutesAndNeverReachesTheLogs) {
  const std::string key = "sk-integration-secret-123";
  Server s({.env = {{"SWITCHBOARD_API_KEY", key}}});
  auto missing = http(s.port(), "POST", "/api/v1/echo", "{}");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 401);
  EXPECT_EQ(error_of(*missing)["type"], "authentication_error");
  EXPECT_EQ(missing->header("www-authenticate"), "Bearer");
  auto wrong = http(s.port(), "POST", "/api/v1/echo", "{}", {{"Authorization", "Bearer nope"}});
  EXPECT_EQ(wrong->status, 401);
  auto unknown = http(s.port(), "GET", "/v1/hidden");  // auth before routing: no route leak
  EXPECT_EQ(unknown->status, 401);
  auto ok = http(s.port(), "POST", "/api/v1/echo", "{}", {{"Authorization", "Bearer " + key}});
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(http(s.port(), "GET", "/health")->status, 200);
  EXPECT_EQ(http(s.port(), "GET", "/metrics")->status, 200);
  EXPECT_EQ(s.stop(SIGTERM), 0);
  for (const auto& line : s.stdout_lines()) EXPECT_EQ(line.find(key), std::string::npos) << line;
  EXPECT_EQ(s.stderr_text().find(key), std::string::npos);
}

TEST(Auth, HealthAndMetricsCanBeProtected) {
  Server s({.env = {{"SWITCHBOARD_AUTH_API_KEYS", "k1,k2"},
                    {"SWITCHBOARD_AUTH_PROTECT_METRICS", "true"},
                    {"SWITCHBOARD_AUTH_PROTECT_HEALTH", "true"}}});
  EXPECT_EQ(http(s.port(), "GET", "/metrics")->status, 401);
  EXPECT_EQ(http(s.port(), "GET", "/health")->status, 401);
  EXPECT_EQ(http(s.port(), "GET", "/metrics", "", {{"Authorization", "Bearer k2"}})->status, 200);
}

TEST(Cors, PreflightAndActualRequests) {
  Server s({.config_toml = "[cors]\nallowed_origins = [\"https://app.example\"]\n"});
  auto pre = http(s.port(), "OPTIONS", "/api/v1/echo", "",
                  {{"Origin", "https://app.example"},
                   {"Access-Control-Request-Method", "POST"},
                   {"Access-Control-Request-Headers", "content-type, authorization"}});
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->status, 204);
  EXPECT_EQ(pre->header("access-control-allow-origin"), "https://app.example");
  EXPECT_EQ(pre->header("access-control-allow-methods"), "OPTIONS, POST");
  EXPECT_NE(pre->header("access-control-allow-headers").find("authorization"), std::string::npos);
  EXPECT_EQ(pre->header("access-control-max-age"), "600");

  auto refused = http(s.port(), "OPTIONS", "/api/v1/echo", "",
                      {{"Origin", "https://evil.example"},
                       {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(refused->status, 403);
  EXPECT_EQ(refused->header("access-control-allow-origin"), "");

  auto actual = http(s.port(), "POST", "/api/v1/echo", "{}", {{"Origin", "https://app.example"}});
  EXPECT_EQ(actual->header("access-control-allow-origin"), "https://app.example");
  EXPECT_NE(actual->header("access-control-expose-headers").find("X-Request-Id"),
            std::string::npos);
  auto other = http(s.port(), "POST", "/api/v1/echo", "{}", {{"Origin", "https://evil.example"}});
  EXPECT_EQ(other->status, 200);
  EXPECT_EQ(other->header("access-control-allow-origin"), "");
}

TEST(Cors, PreflightIsNotBlockedByAuth) {
  Server s({.config_toml = "[cors]\nallowed_origins = [\"*\"]\n[auth]\napi_keys = [\"k\"]\n"});
  auto pre = http(s.port(), "OPTIONS", "/api/v1/echo", "",
                  {{"Origin", "https://x.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(pre->status, 204);
  EXPECT_EQ(pre->header("access-control-allow-origin"), "*");
}

}  // namespace
}  // namespace sbtest
