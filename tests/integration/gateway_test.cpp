// The gateway through the real binary, against fake upstreams the test controls.

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "fake_upstream.hpp"
#include "harness.hpp"

namespace sbtest {
namespace {

namespace json = boost::json;

const std::string kKey = "sk-upstream-secret-key-0123456789";
const std::string kChat = R"({"model":"MODEL","messages":[{"role":"user","content":"hi"}],"temperature":0.2,"x_custom":{"a":1}})";

std::string chat_body(const std::string& model, bool stream = false) {
  std::string b = kChat;
  b.replace(b.find("MODEL"), 5, model);
  if (stream) b.insert(b.size() - 1, R"(,"stream":true)");
  return b;
}

// gateway: the [gateway] keys; by default no same-target retries, so each test scripts exactly
// the calls it expects.
std::string config_for(FakeUpstream& a, FakeUpstream& b,
                       const std::string& gateway = "max_retries = 0\n") {
  return "[gateway]\n" + gateway +
         "[[providers]]\nname = \"a\"\ntype = \"openai\"\nbase_url = \"" + a.url() +
         "/v1\"\napi_key_env = \"SB_TEST_KEY\"\ntimeout_ms = 2000\n"
         "headers = { \"HTTP-Referer\" = \"https://app.example\" }\n"
         "[[providers]]\nname = \"b\"\ntype = \"openai\"\nbase_url = \"" + b.url() + "/v1\"\n"
         "[[routes]]\nname = \"smart\"\ntargets = [{ provider = \"a\", model = \"gpt-a\" }, "
         "{ provider = \"b\", model = \"gpt-b\" }]\n";
}

Behavior sse(std::vector<std::string> datas) {
  Behavior b;
  b.headers = {{"Content-Type", "text/event-stream"}};
  for (auto& d : datas) b.chunks.push_back("data: " + d + "\n\n");
  return b;
}

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(
        ServerOptions{.env = {{"SB_TEST_KEY", kKey}}, .config_toml = config_for(a_, b_)});
  }
  int port() { return server_->port(); }
  FakeUpstream a_, b_;
  std::unique_ptr<Server> server_;
};

TEST_F(GatewayTest, ModelsListsRoutesAndAllowListedModels) {
  auto r = http(port(), "GET", "/v1/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto v = json::parse(r->body);
  EXPECT_EQ(v.at("object"), "list");
  EXPECT_EQ(v.at("data").at(0).at("id"), "smart");
}

TEST_F(GatewayTest, ForwardsTheRequestAndReturnsTheUpstreamAnswer) {
  a_.push(completion("hello"));
  auto r = http(port(), "POST", "/v1/chat/completions", chat_body("a/gpt-4o"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body).at("choices").at(0).at("message").at("content"), "hello");
  EXPECT_EQ(r->header("x-switchboard-provider"), "a");
  EXPECT_EQ(r->header("x-switchboard-model"), "gpt-4o");
  EXPECT_EQ(r->header("x-switchboard-attempts"), "1");
  auto got = a_.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].target, "/v1/chat/completions");
  EXPECT_EQ(got[0].headers["authorization"], "Bearer " + kKey);
  EXPECT_EQ(got[0].headers["http-referer"], "https://app.example");
  auto sent = json::parse(got[0].body);
  EXPECT_EQ(sent.at("model"), "gpt-4o");
  EXPECT_EQ(sent.at("x_custom").at("a"), 1) << "unknown fields pass through";
  EXPECT_DOUBLE_EQ(sent.at("temperature").as_double(), 0.2);
}

TEST_F(GatewayTest, FallsBackToTheNextTargetOnARetryableError) {
  a_.push(failing(500));
  b_.push(completion("from b"));
  auto r = http(port(), "POST", "/v1/chat/completions", chat_body("smart"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body).at("choices").at(0).at("message").at("content"), "from b");
  EXPECT_EQ(r->header("x-switchboard-provider"), "b");
  EXPECT_EQ(r->header("x-switchboard-attempts"), "2");
  EXPECT_EQ(json::parse(b_.received().at(0).body).at("model"), "gpt-b");
  EXPECT_GE(metric(port(), R"(switchboard_gateway_fallbacks_total{provider="b"})"), 1);
  EXPECT_GE(metric(port(), R"(switchboard_upstream_requests_total{provider="a",model="gpt-a",status="500"})"), 1);
}

TEST_F(GatewayTest, FallsBackWhenTheUpstreamIsSlowOrGone) {
  Behavior slow;
  slow.delay_before_headers = std::chrono::milliseconds(5000);  // provider a: timeout_ms = 2000
  a_.push(slow);
  b_.push(completion("b was fast"));
  auto t0 = std::chrono::steady_clock::now();
  auto r = http(port(), "POST", "/v1/chat/completions", chat_body("smart"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(4000));
  EXPECT_GE(metric(port(), R"(switchboard_upstream_requests_total{provider="a",model="gpt-a",status="upstream_timeout"})"), 1);
}

TEST_F(GatewayTest, ClientErrorsAreNotRetriedAndKeepTheirStatus) {
  a_.push(failing(422, "temperature must be <= 2"));
  auto r = http(port(), "POST", "/v1/chat/completions", chat_body("smart"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422);
  auto e = json::parse(r->body).at("error");
  EXPECT_NE(std::string(e.at("message").as_string()).find("temperature must be <= 2"), std::string::npos);
  EXPECT_TRUE(b_.received().empty()) << "a 4xx must not fall back";
}

TEST_F(GatewayTest, RateLimitKeepsStatusAndRetryAfterWhenEveryTargetFails) {
  Behavior limited = failing(429, "slow down");
  limited.headers.emplace_back("Retry-After", "7");
  a_.push(failing(503));
  b_.push(limited);
  auto r = http(port(), "POST", "/v1/chat/completions", chat_body("smart"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->header("retry-after"), "7");
  EXPECT_EQ(json::parse(r->body).at("error").at("type"), "rate_limit_error");
}

TEST_F(GatewayTest, UpstreamMessagesNeverCarryTheKey) {
  a_.push(failing(401, "Incorrect API key provided: " + kKey));
  auto r = http(port(), "POST", "/v1/chat/completions", chat_body("a/gpt-4o"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(r->body.find(kKey), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("0123456789"), std::string::npos) << r->body;
  server_->stop(SIGTERM);
  for (const auto& line : server_->stdout_lines()) EXPECT_EQ(line.find(kKey), std::string::npos);
}

TEST_F(GatewayTest, UnknownModelAndBadBodies) {
  auto r = http(port(), "POST", "/v1/chat/completions", chat_body("nope/x"));
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(json::parse(r->body).at("error").at("code"), "model_not_found");
  r = http(port(), "POST", "/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body).at("error").at("param"), "model");
  r = http(port(), "POST", "/v1/chat/completions", R"({"model":"smart","messages":"hi"})");
  EXPECT_EQ(json::parse(r->body).at("error").at("param"), "messages");
  r = http(port(), "POST", "/v1/chat/completions", R"({"model":"smart","messages":[{"content":"x"}]})");
  EXPECT_EQ(json::parse(r->body).at("error").at("param"), "messages[0].role");
  r = http(port(), "POST", "/v1/chat/completions", R"({"model":"smart","stream":"yes","messages":[{"role":"user"}]})");
  EXPECT_EQ(json::parse(r->body).at("error").at("param"), "stream");
  r = http(port(), "POST", "/v1/chat/completions", "{not json");
  EXPECT_EQ(json::parse(r->body).at("error").at("code"), "invalid_json");
  EXPECT_TRUE(a_.received().empty());
}

TEST_F(GatewayTest, StreamsChunksThrough) {
  a_.push(sse({R"({"choices":[{"index":0,"delta":{"content":"Hel"}}]})",
               R"({"choices":[{"index":0,"delta":{"content":"lo"}}]})", "[DONE]"}));
  auto r = http(port(), "POST", "/v1/chat/completions", chat_body("a/gpt-4o", true));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "text/event-stream");
  EXPECT_EQ(r->header("x-switchboard-provider"), "a");
  EXPECT_EQ(r->body,
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\n\n"
            "data: [DONE]\n\n");
  EXPECT_EQ(json::parse(a_.received().at(0).body).at("stream"), true);
}

TEST_F(GatewayTest, StreamFallsBackBeforeTheFirstByte) {
  a_.push(failing(503));
  b_.push(sse({R"({"choices":[{"index":0,"delta":{"content":"b"}}]})", "[DONE]"}));
  auto r = http(port(), "POST", "/v1/chat/completions", chat_body("smart", true));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("x-switchboard-provider"), "b");
  EXPECT_EQ(r->header("x-switchboard-attempts"), "2");
  EXPECT_NE(r->body.find("data: [DONE]"), std::string::npos);
}

TEST_F(GatewayTest, StreamWhoseTargetsAllFailAnswersAnErrorStatus) {
  a_.push(failing(500));
  b_.push(failing(502));
  auto r = http(port(), "POST", "/v1/chat/completions", chat_body("smart", true));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_EQ(json::parse(r->body).at("error").at("code"), "upstream_error");
}

TEST_F(GatewayTest, StreamBrokenMidwayEndsWithAnErrorEventAndNoFallback) {
  Behavior broken = sse({R"({"choices":[{"index":0,"delta":{"content":"par"}}]})", "x"});
  broken.fault = Behavior::Fault::reset_mid_body;
  broken.fault_after_chunks = 1;
  a_.push(broken);
  auto r = http(port(), "POST", "/v1/chat/completions", chat_body("smart", true));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("\"par\""), std::string::npos);
  EXPECT_NE(r->body.find("data: {\"error\":"), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("[DONE]"), std::string::npos);
  EXPECT_TRUE(b_.received().empty()) << "no fallback after the first byte";
}

TEST_F(GatewayTest, ClientDisconnectCancelsTheUpstreamStream) {
  Behavior slow = sse({"{\"n\":1}", "{\"n\":2}", "{\"n\":3}", "{\"n\":4}", "[DONE]"});
  slow.delay_between_chunks = std::chrono::milliseconds(300);
  a_.push(slow);
  {
    Client c(port());
    ASSERT_TRUE(c.send(raw_request("POST", "/v1/chat/completions", chat_body("a/m", true))));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }  // the client goes away after the first chunk
  for (int i = 0; i < 40 && a_.abandoned() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(a_.abandoned(), 1) << "the upstream connection must be dropped";
}

TEST_F(GatewayTest, ClientDisconnectCancelsAWholeUpstreamCall) {
  Behavior slow = completion("too late");
  slow.delay_before_headers = std::chrono::milliseconds(2000);
  a_.push(slow);
  {
    Client c(port());
    ASSERT_TRUE(c.send(raw_request("POST", "/v1/chat/completions", chat_body("smart"))));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }  // the client goes away while the upstream is still thinking
  for (int i = 0; i < 30 && a_.abandoned() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(a_.abandoned(), 1) << "the upstream call must be dropped before its answer";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(b_.received().empty()) << "no fallback for a client that left";
  // The server keeps serving.
  a_.push(completion("next"));
  auto r = http(port(), "POST", "/v1/chat/completions", chat_body("a/m"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(GatewayDefaults, EmbeddedMockAnswersWithoutConfiguration) {
  Server s;
  auto r = http(s.port(), "POST", "/v1/chat/completions",
                R"({"model":"mock/echo","messages":[{"role":"user","content":"ping"}]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body).at("choices").at(0).at("message").at("content"), "Mock reply to: ping");
  auto st = http(s.port(), "POST", "/v1/chat/completions",
                 R"({"model":"mock/echo","stream":true,"messages":[{"role":"user","content":"a b"}]})");
  EXPECT_NE(st->body.find("\" b\""), std::string::npos);
  EXPECT_NE(st->body.find("data: [DONE]"), std::string::npos);
  EXPECT_EQ(st->body.find("\"usage\""), std::string::npos) << "no usage unless asked for";

  // include_usage: "usage": null on every chunk, then one chunk with empty choices and totals.
  auto u = http(s.port(), "POST", "/v1/chat/completions",
                R"({"model":"mock/echo","stream":true,"stream_options":{"include_usage":true},)"
                R"("messages":[{"role":"user","content":"a b"}]})");
  std::vector<json::object> chunks;
  std::size_t pos = 0;
  while ((pos = u->body.find("data: {", pos)) != std::string::npos) {
    std::size_t end = u->body.find("\n\n", pos);
    chunks.push_back(json::parse(u->body.substr(pos + 6, end - pos - 6)).as_object());
    pos = end;
  }
  ASSERT_GE(chunks.size(), 3u);
  for (std::size_t i = 0; i + 1 < chunks.size(); ++i) {
    ASSERT_TRUE(chunks[i].contains("usage")) << i;
    EXPECT_TRUE(chunks[i]["usage"].is_null()) << i;
  }
  EXPECT_TRUE(chunks.back()["choices"].as_array().empty());
  EXPECT_EQ(chunks.back()["usage"].at("completion_tokens"), 5);
}

}  // namespace
}  // namespace sbtest

namespace sbtest {
namespace {

TEST_F(GatewayTest, AnAnswerThatIsNotAJsonObjectIs502AndNeverRelayed) {
  for (const std::string body : {"<html>oops " + kKey + "</html>", std::string("[]"), std::string("null"),
                                 std::string("5"), std::string("\"x\""), std::string("{\"truncated\":"),
                                 std::string("")}) {
    // A fresh server each time: repeated failures would open the target's circuit breaker.
    server_ = std::make_unique<Server>(ServerOptions{.env = {{"SB_TEST_KEY", kKey}}, .config_toml = config_for(a_, b_)});
    Behavior b;
    b.body = body;
    a_.push(b);
    auto r = http(port(), "POST", "/v1/chat/completions", chat_body("a/gpt-a"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 502) << body << " -> " << r->body;
    EXPECT_EQ(r->body.find(kKey), std::string::npos) << "the upstream's body was relayed";
    EXPECT_NE(r->body.find("not a JSON object"), std::string::npos) << r->body;
    std::string logs;
    for (auto& l : server_->stdout_lines()) logs += l;
    EXPECT_EQ(logs.find(kKey), std::string::npos) << "the key reached the log";
  }
}

TEST_F(GatewayTest, AStreamWithNoEventsIs502) {
  a_.push(sse({"[DONE]"}));
  auto r = http(port(), "POST", "/v1/chat/completions", chat_body("a/gpt-a", true));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502) << r->body;
  Behavior plain;
  plain.headers = {{"Content-Type", "text/plain"}};
  plain.body = "not a stream " + kKey;
  a_.push(plain);
  r = http(port(), "POST", "/v1/chat/completions", chat_body("a/gpt-a", true));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502) << r->body;
  EXPECT_EQ(r->body.find(kKey), std::string::npos);
}

}  // namespace
}  // namespace sbtest

namespace sbtest {
namespace {

TEST_F(GatewayTest, NumbersReachTheUpstreamInTheirShortestForm) {
  a_.push(completion("ok"));
  auto r = http(port(), "POST", "/v1/chat/completions",
                R"({"model":"a/gpt-a","messages":[{"role":"user","content":"hi"}],"temperature":0.7,"top_p":1e-7})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string sent = a_.received().at(0).body;
  EXPECT_NE(sent.find("\"temperature\":0.7"), std::string::npos) << sent;
  EXPECT_NE(sent.find("\"top_p\":1e-7"), std::string::npos) << sent;
  EXPECT_EQ(sent.find("E-"), std::string::npos) << sent;
}

TEST(GatewayDeadline, TheRequestDeadlineBoundsADrippedBody) {
  FakeUpstream a, b;
  Server s({.env = {{"SB_TEST_KEY", kKey}},
            .config_toml = config_for(a, b, "max_retries = 0\nrequest_timeout_ms = 1500\n")});
  Behavior drip = completion("a long answer that arrives one byte at a time");
  const std::string body = drip.body;
  drip.body.clear();
  for (char ch : body) drip.chunks.push_back(std::string(1, ch));
  drip.delay_between_chunks = 100ms;  // each silence is short; the whole takes seconds
  a.set_default(drip);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = http(s.port(), "POST", "/v1/chat/completions", chat_body("a/gpt-a"));
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504) << r->body;
  EXPECT_LT(took, 3s);
  EXPECT_NE(r->body.find("deadline"), std::string::npos) << r->body;
}

}  // namespace
}  // namespace sbtest

namespace sbtest {
namespace {

// ../shared/API.md: /v1 bodies reach OpenAI-compatible upstreams byte for byte but the model.
TEST_F(GatewayTest, TheBodyReachesTheUpstreamByteForByteButTheModel) {
  const std::string sent =
      "{ \"temperature\" : 0.70,\n\t\"messages\":[{\"content\":\"caf\\u00e9 \\ud83d\\ude00 \xc3\xa9\",\"role\":\"user\"}],"
      "  \"model\" :\"smart\" , \"top_k\": 40, \"big\": 12345678901234567890123, \"tiny\": 1e-300,"
      " \"seed\":-0, \"provider\":{\"order\":[\"x\"] ,\"model\":\"inner\"}, \"logit_bias\":{\"50256\":-100.000}}";
  auto expect_for = [&](const std::string& model) {
    std::string e = sent;
    e.replace(e.find("\"smart\""), 7, "\"" + model + "\"");
    return e;
  };
  a_.push(failing(500));
  b_.push(completion("ok"));
  auto r = http(port(), "POST", "/v1/chat/completions", sent);
  ASSERT_EQ(r->status, 200) << r->body;
  ASSERT_EQ(a_.received().size(), 1u);
  EXPECT_EQ(a_.received().at(0).body, expect_for("gpt-a"));
  ASSERT_EQ(b_.received().size(), 1u);
  EXPECT_EQ(b_.received().at(0).body, expect_for("gpt-b")) << "the fallback gets the same bytes";

  std::string streamed = sent;
  streamed.insert(streamed.size() - 1, " ,\"stream\" :true");
  a_.push(sse({R"({"choices":[{"delta":{"content":"x"}}]})", "[DONE]"}));
  auto s = http(port(), "POST", "/v1/chat/completions", streamed);
  ASSERT_EQ(s->status, 200) << s->body;
  std::string want = streamed;
  want.replace(want.find("\"smart\""), 7, "\"gpt-a\"");
  EXPECT_EQ(a_.received().back().body, want);

  const std::string embed = R"({"input" : ["a", "b"],"dimensions":8 ,"model":"a/text-embed","user":"u1"})";
  a_.push(Behavior{.body = R"({"object":"list","data":[],"model":"text-embed"})"});
  auto e = http(port(), "POST", "/v1/embeddings", embed);
  ASSERT_EQ(e->status, 200) << e->body;
  EXPECT_EQ(a_.received().back().body, R"({"input" : ["a", "b"],"dimensions":8 ,"model":"text-embed","user":"u1"})");
}

}  // namespace
}  // namespace sbtest

namespace sbtest {
namespace {

TEST_F(GatewayTest, AnswersNameTheModelTheClientAskedFor) {
  a_.push(completion("hello"));
  auto r = http(port(), "POST", "/v1/chat/completions", chat_body("smart"));
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body).at("model"), "smart") << r->body;
  EXPECT_EQ(r->header("x-switchboard-model"), "gpt-a");
  a_.push(sse({R"({"id":"c","object":"chat.completion.chunk","model":"gpt-a-0613","choices":[{"delta":{"content":"x"}}]})",
               "[DONE]"}));
  auto s = http(port(), "POST", "/v1/chat/completions", chat_body("smart", true));
  ASSERT_EQ(s->status, 200) << s->body;
  EXPECT_NE(s->body.find(R"("model":"smart")"), std::string::npos) << s->body;
  EXPECT_EQ(s->body.find("gpt-a-0613"), std::string::npos) << s->body;
}

TEST_F(GatewayTest, ModelsCanBeRetrievedOneByOneIdsWithSlashesIncluded) {
  auto r = http(port(), "GET", "/v1/models/smart");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body).at("id"), "smart");
  EXPECT_EQ(json::parse(r->body).at("object"), "model");
  for (const std::string path : {"/v1/models/a/gpt-4o", "/v1/models/a%2Fgpt-4o"}) {
    auto m = http(port(), "GET", path);
    ASSERT_EQ(m->status, 200) << path << " " << m->body;
    EXPECT_EQ(json::parse(m->body).at("id"), "a/gpt-4o");
    EXPECT_EQ(json::parse(m->body).at("owned_by"), "a");
  }
  auto missing = http(port(), "GET", "/v1/models/nope/x");
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(code_of(*missing), "model_not_found");
  EXPECT_EQ(http(port(), "GET", "/v1/models/nothing")->status, 404);
}

}  // namespace
}  // namespace sbtest

namespace sbtest {
namespace {

TEST_F(GatewayTest, LogLinesSpellStatusAsAnIntegerHttpStatus) {
  a_.push(failing(500));
  b_.push(completion("ok"));
  ASSERT_EQ(http(port(), "POST", "/v1/chat/completions", chat_body("smart"))->status, 200);
  ASSERT_TRUE(server_->wait_for_log(R"("msg":"upstream attempt")"));
  ASSERT_TRUE(server_->wait_for_log(R"("status":200)"));
  int seen = 0;
  for (const auto& line : server_->stdout_lines()) {
    auto v = json::parse(line).as_object();
    if (v.at("msg") != "upstream attempt" && v.at("msg") != "request") continue;
    ++seen;
    EXPECT_TRUE(v.at("status").is_int64()) << line;
    if (v.at("msg") == "upstream attempt" && v.at("provider") == "a") {
      EXPECT_EQ(v.at("status"), 500) << line;
      EXPECT_EQ(v.at("code"), "upstream_error") << line;
    }
  }
  EXPECT_GE(seen, 2);
}

}  // namespace
}  // namespace sbtest

namespace sbtest {
namespace {

TEST_F(GatewayTest, LegacyCompletionsPassThroughToOpenAiCompatibleUpstreams) {
  const std::string sent = R"({"model":"smart", "prompt":["Once upon"],"max_tokens":5,"echo":false,"best_of":2})";
  Behavior answer;
  answer.body = R"({"id":"cmpl-1","object":"text_completion","created":1,"model":"gpt-a","choices":[{"text":" a time","index":0,"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}})";
  a_.push(answer);
  auto r = http(port(), "POST", "/v1/completions", sent);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(a_.received().back().target, "/v1/completions");
  EXPECT_EQ(a_.received().back().body, R"({"model":"gpt-a", "prompt":["Once upon"],"max_tokens":5,"echo":false,"best_of":2})");
  auto v = json::parse(r->body);
  EXPECT_EQ(v.at("model"), "smart");
  EXPECT_EQ(v.at("choices").at(0).at("text"), " a time");
  // Streamed, with fallback: a fails, b streams.
  a_.push(failing(503));
  b_.push(sse({R"({"id":"cmpl-2","object":"text_completion","created":1,"model":"gpt-b","choices":[{"text":"Hi","index":0,"logprobs":null,"finish_reason":null}]})",
               "[DONE]"}));
  auto s = http(port(), "POST", "/v1/completions", R"({"model":"smart","prompt":"x","stream":true})");
  ASSERT_EQ(s->status, 200) << s->body;
  EXPECT_NE(s->body.find(R"("text":"Hi")"), std::string::npos) << s->body;
  EXPECT_NE(s->body.find("data: [DONE]"), std::string::npos) << s->body;
  EXPECT_EQ(b_.received().back().target, "/v1/completions");
  // The mock answers it too; bad prompts are 400.
  auto m = http(port(), "POST", "/v1/completions", R"({"model":"a/x","prompt":7})");
  EXPECT_EQ(m->status, 400);
  EXPECT_EQ(json::parse(m->body).at("error").at("param"), "prompt");
}

}  // namespace
}  // namespace sbtest
