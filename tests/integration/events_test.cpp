// Live events through the binary: SSE (/api/v1/events) and WebSocket (/api/v1/ws) subscribers
// seeing job status changes and stored messages, filtered by id and by key; bad subscriptions;
// a WebSocket subscriber that stops reading dropped without the server's memory growing.

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "fake_upstream.hpp"
#include "harness.hpp"

namespace sbtest {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

const std::map<std::string, std::string> kJson = {{"Content-Type", "application/json"}};

// A blocking WebSocket client (Beast), reads bounded by a socket timeout.
class WsClient {
 public:
  WsClient(int port, const std::string& target, const std::string& key = "", int rcvbuf = 0) : ws_(ioc_) {
    tcp::socket& s = ws_.next_layer();
    s.open(tcp::v4());
    if (rcvbuf > 0) s.set_option(asio::socket_base::receive_buffer_size(rcvbuf));
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    timeval tv{5, 0};
    setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (!key.empty()) {
      ws_.set_option(beast::websocket::stream_base::decorator(
          [key](beast::websocket::request_type& r) { r.set(beast::http::field::authorization, "Bearer " + key); }));
    }
    ws_.handshake("127.0.0.1", target);
  }
  void send(const std::string& text) { ws_.write(asio::buffer(text)); }
  // The next message as JSON; null on close or timeout.
  json::value next() {
    beast::flat_buffer b;
    beast::error_code ec;
    ws_.read(b, ec);
    if (ec) {
      error = ec;
      return nullptr;
    }
    return json::parse(beast::buffers_to_string(b.data()));
  }
  // Messages until one of `type` (skipping others); null when none came.
  json::value until(const std::string& type) {
    for (int i = 0; i < 100; ++i) {
      auto v = next();
      if (v.is_null()) return v;
      if (v.at("type") == json::value(type)) return v;
    }
    return nullptr;
  }
  beast::error_code error;
  beast::websocket::stream<tcp::socket>& stream() { return ws_; }

 private:
  asio::io_context ioc_;
  beast::websocket::stream<tcp::socket> ws_;
};

long rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// GET `target` on a raw socket, reading until `until` shows up (or 10 s).
std::string read_for(int port, const std::string& target, const std::string& until) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "";
  }
  timeval tv{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  char buf[65536];
  while (std::chrono::steady_clock::now() < deadline && out.find(until) == std::string::npos) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n > 0) out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string job_body(const std::string& model = "mock/echo") {
  return R"({"type":"chat.completion","request":{"model":")" + model + R"(","messages":[{"role":"user","content":"hi"}]}})";
}

TEST(Events, AWebSocketSubscriberSeesAJobsStatusesAndTheMessageItsPipelineStored) {
  Server server;
  WsClient ws(server.port(), "/api/v1/ws");
  ws.send(R"({"action":"subscribe","type":"job"})");
  EXPECT_EQ(ws.next().at("type"), "subscribed");
  ws.send(R"({"action":"subscribe","type":"conversation"})");
  EXPECT_EQ(ws.next().at("type"), "subscribed");
  auto r = http(server.port(), "POST", "/api/v1/jobs/process-ai-job", R"({"message":"Hello","sessionId":"s-1"})", kJson);
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string id(json::parse(r->body).at("id").as_string());
  std::vector<std::string> types;
  json::value message;
  for (int i = 0; i < 10 && (types.empty() || types.back() != "job.completed"); ++i) {
    auto e = ws.next();
    ASSERT_FALSE(e.is_null()) << ws.error.message();
    types.emplace_back(e.at("type").as_string());
    if (types.back() == "message.created") message = e;
    if (types.back().rfind("job.", 0) == 0) EXPECT_EQ(e.at("id"), json::value(id));
  }
  ASSERT_GE(types.size(), 4u);
  EXPECT_EQ(types.front(), "job.queued");
  EXPECT_EQ(types.back(), "job.completed");
  EXPECT_NE(std::find(types.begin(), types.end(), "job.processing"), types.end());
  ASSERT_TRUE(message.is_object());
  EXPECT_EQ(message.at("topic"), "conversation");
  EXPECT_EQ(message.at("message").at("content"), "Mock reply to: Hello");
  EXPECT_EQ(message.at("message").at("role"), "assistant");

  // One job by id: its current status at once (it has finished), then nothing of others.
  ws.send(R"({"action":"unsubscribe","type":"job"})");
  EXPECT_EQ(ws.until("unsubscribed").at("topic"), "job");
  ws.send(R"({"action":"unsubscribe","type":"conversation"})");
  EXPECT_EQ(ws.until("unsubscribed").at("topic"), "conversation");
  ws.send(R"({"action":"subscribe","type":"job","id":")" + id + R"("})");
  EXPECT_EQ(ws.next().at("type"), "subscribed");
  auto snap = ws.next();
  EXPECT_EQ(snap.at("type"), "job.completed");
  http(server.port(), "POST", "/api/v1/jobs", job_body(), kJson);
  // Bad messages are answered with an error, and the connection stays.
  for (const char* bad : {"not json", R"({"action":"dance"})", R"({"action":"subscribe","type":"cat"})",
                          R"({"action":"subscribe","type":"job","id":5})"}) {
    ws.send(bad);
    auto e = ws.next();
    EXPECT_EQ(e.at("type"), "error") << bad << " -> " << e;  // (not the other job's events)
  }
  ws.send(R"({"action":"subscribe","type":"job"})");
  EXPECT_EQ(ws.next().at("type"), "subscribed");
}

TEST(Events, ServerSentEventsFollowOneJobOrATopic) {
  FakeUpstream slow;
  Behavior b = completion("done");
  b.delay_before_headers = 300ms;
  slow.set_default(b);
  Server server({.config_toml = "[[providers]]\nname = \"up\"\ntype = \"openai\"\nbase_url = \"" + slow.url() + "/v1\"\n"});
  auto r = http(server.port(), "POST", "/api/v1/jobs", job_body("up/m"), kJson);
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string id(json::parse(r->body).at("id").as_string());
  // Subscribed while it runs: its status now, then the rest until it completes.
  std::string body = read_for(server.port(), "/api/v1/events?type=job&id=" + id, "job.completed");
  EXPECT_NE(body.find("HTTP/1.1 200"), std::string::npos) << body;
  EXPECT_NE(body.find("text/event-stream"), std::string::npos);
  const auto first = body.find("event: job.");
  const auto done = body.find("event: job.completed");
  ASSERT_NE(first, std::string::npos) << body;
  ASSERT_NE(done, std::string::npos) << body;
  EXPECT_LT(first, done);
  EXPECT_NE(body.find("\"id\":\"" + id + "\""), std::string::npos);
  // A topic: every job's.
  std::thread later([&] {
    std::this_thread::sleep_for(200ms);
    http(server.port(), "POST", "/api/v1/jobs", job_body("up/m"), kJson);
  });
  std::string topic = read_for(server.port(), "/api/v1/events?type=job", "event: job.queued");
  later.join();
  EXPECT_NE(topic.find("event: job.queued"), std::string::npos) << topic;

  EXPECT_EQ(http(server.port(), "GET", "/api/v1/events?type=dog")->status, 400);
  EXPECT_EQ(http(server.port(), "GET", "/api/v1/events?id=job_1")->status, 400);
  EXPECT_EQ(http(server.port(), "GET", "/api/v1/events?type=job&id=job_nope")->status, 404);
  EXPECT_EQ(http(server.port(), "GET", "/api/v1/events?colour=red")->status, 400);
  auto not_ws = http(server.port(), "GET", "/api/v1/ws");
  EXPECT_EQ(not_ws->status, 426) << not_ws->body;
  EXPECT_EQ(not_ws->header("upgrade"), "websocket");
}

TEST(Events, ASubscriberOnlySeesItsOwnKeysEvents) {
  Server server({.env = {{"SWITCHBOARD_API_KEY", "sb-admin-events-key"}}});
  const std::map<std::string, std::string> admin = {{"Authorization", "Bearer sb-admin-events-key"},
                                                    {"Content-Type", "application/json"}};
  auto make = [&](const std::string& name) {
    auto k = http(server.port(), "POST", "/api/v1/keys", R"({"name":")" + name + R"(","scopes":["jobs","chat"]})", admin);
    EXPECT_EQ(k->status, 201) << k->body;
    return std::string(json::parse(k->body).at("secret").as_string());
  };
  const std::string alice = make("alice"), bob = make("bob");
  WsClient as_alice(server.port(), "/api/v1/ws?type=job", alice);
  WsClient as_admin(server.port(), "/api/v1/ws?type=job", "sb-admin-events-key");
  EXPECT_THROW(WsClient(server.port(), "/api/v1/ws?type=job", "sb-wrong"), std::exception);  // 401
  auto submit = [&](const std::string& key) {
    auto r = http(server.port(), "POST", "/api/v1/jobs", job_body(),
                  {{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}});
    EXPECT_EQ(r->status, 202) << r->body;
    return std::string(json::parse(r->body).at("id").as_string());
  };
  const std::string bobs = submit(bob);
  const std::string alices = submit(alice);
  // Alice's first event is her own job's (bob's never reach her); the admin sees bob's first.
  EXPECT_EQ(as_alice.next().at("id"), json::value(alices));
  EXPECT_EQ(as_admin.next().at("id"), json::value(bobs));
  // The seed's shared-secret callers: a key without the jobs scope is refused with the envelope.
  auto k = http(server.port(), "POST", "/api/v1/keys", R"({"name":"carol","scopes":["chat"]})", admin);
  const std::string carol(json::parse(k->body).at("secret").as_string());
  auto refused = http(server.port(), "POST", "/api/v1/jobs/process-ai-job", R"({"message":"hi"})",
                      {{"Authorization", "Bearer " + carol}, {"Content-Type", "application/json"}});
  EXPECT_EQ(refused->status, 403) << refused->body;
  EXPECT_EQ(json::parse(refused->body).at("error").at("type"), "permission_error");
  EXPECT_NE(refused->body.find("'jobs'"), std::string::npos) << refused->body;
  auto anonymous = http(server.port(), "POST", "/api/v1/jobs/process-ai-job", R"({"message":"hi"})", kJson);
  EXPECT_EQ(anonymous->status, 401) << anonymous->body;
  auto allowed = http(server.port(), "POST", "/api/v1/jobs/process-ai-job", R"({"message":"hi"})",
                      {{"Authorization", "Bearer " + alice}, {"Content-Type", "application/json"}});
  EXPECT_EQ(allowed->status, 202) << allowed->body;
}

TEST(Events, AWebSocketSubscriberThatStopsReadingIsDroppedAndMemoryStaysBounded) {
  Server server({.config_toml = "[events]\nmax_pending_events = 64\nmax_pending_bytes = 262144\n"});
  WsClient slow(server.port(), "/api/v1/ws?type=conversation", "", 4096);
  WsClient fine(server.port(), "/api/v1/ws?type=job");
  // Big messages: each stored answer's event carries about 200 KB.
  const std::string big(100000, 'x');
  const long before = rss_kb(server.pid());
  for (int i = 0; i < 60; ++i) {
    auto r = http(server.port(), "POST", "/api/v1/jobs",
                  R"({"type":"pipeline","request":{"message":")" + big + R"(","model":"mock/echo","session_id":"s)" +
                      std::to_string(i) + R"("}})", kJson);
    ASSERT_EQ(r->status, 202) << r->body;
  }
  double dropped = 0;
  for (int i = 0; i < 200 && dropped < 1; ++i) {
    std::this_thread::sleep_for(50ms);
    dropped = metric(server.port(), "switchboard_event_subscribers_dropped");
  }
  EXPECT_EQ(dropped, 1);
  const long after = rss_kb(server.pid());
  EXPECT_LT(after - before, 64 * 1024) << before << " kB -> " << after << " kB";
  // The slow one ends (after whatever its buffers held); the other kept receiving.
  bool closed = false;
  for (int i = 0; i < 500 && !closed; ++i) closed = slow.next().is_null();
  EXPECT_TRUE(closed);
  EXPECT_FALSE(fine.next().is_null());
  EXPECT_EQ(http(server.port(), "GET", "/health")->status, 200);
  for (int i = 0; i < 100 && metric(server.port(), "switchboard_event_subscribers") != 1; ++i) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(metric(server.port(), "switchboard_event_subscribers"), 1);
}

}  // namespace
}  // namespace sbtest
