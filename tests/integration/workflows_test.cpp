// Workflows through the real binary, against fake upstreams: fan-out (whole and streamed, a
// failing leg in its slot, each leg limited and recorded on its own), and bad input.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include "fake_upstream.hpp"
#include "harness.hpp"

namespace sbtest {
namespace {

namespace json = boost::json;

const std::string kAdmin = "sb-workflows-admin-key";
const std::map<std::string, std::string> kJson = {{"Content-Type", "application/json"}};

std::map<std::string, std::string> bearer(const std::string& key) {
  return {{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}};
}

Behavior sse(std::vector<std::string> datas) {
  Behavior b;
  b.headers = {{"Content-Type", "text/event-stream"}};
  for (auto& d : datas) b.chunks.push_back("data: " + d + "\n\n");
  b.chunks.push_back("data: [DONE]\n\n");
  return b;
}

std::string delta(const std::string& text) {
  return R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt","choices":[{"index":0,"delta":{"content":)" +
         json::serialize(json::string(text)) + R"(},"finish_reason":null}]})";
}

// The SSE events of a body: (event, data) in order.
std::vector<std::pair<std::string, std::string>> events_of(const std::string& body) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t at = 0;
  while (at < body.size()) {
    std::size_t end = body.find("\n\n", at);
    if (end == std::string::npos) break;
    std::string block = body.substr(at, end - at);
    at = end + 2;
    std::string event, data;
    std::size_t line = 0;
    while (line < block.size()) {
      std::size_t nl = block.find('\n', line);
      std::string l = block.substr(line, nl == std::string::npos ? std::string::npos : nl - line);
      line = nl == std::string::npos ? block.size() : nl + 1;
      if (l.rfind("event: ", 0) == 0) event = l.substr(7);
      if (l.rfind("data: ", 0) == 0) data = l.substr(6);
    }
    if (!event.empty()) out.emplace_back(event, data);
  }
  return out;
}

class WorkflowsTest : public ::testing::Test {
 protected:
  std::string config(const std::string& extra = "") {
    return "[gateway]\nmax_retries = 0\n" + extra +
           "[[providers]]\nname = \"good\"\ntype = \"openai\"\nbase_url = \"" + good_.url() + "/v1\"\n"
           "[[providers]]\nname = \"bad\"\ntype = \"openai\"\nbase_url = \"" + bad_.url() + "/v1\"\n"
           "[[providers]]\nname = \"mock\"\ntype = \"mock\"\n"
           "[[prices]]\nmodel = \"good/*\"\ninput_per_mtok = 1000000\noutput_per_mtok = 1000000\n";
  }
  void start(const std::string& extra = "", std::map<std::string, std::string> env = {}) {
    server_ = std::make_unique<Server>(ServerOptions{.env = env, .config_toml = config(extra)});
  }
  std::optional<HttpResponse> post(const std::string& path, const std::string& body,
                                   const std::map<std::string, std::string>& headers = kJson) {
    return http(server_->port(), "POST", path, body, headers);
  }
  FakeUpstream good_, bad_;
  std::unique_ptr<Server> server_;
};

const std::string kRequest = R"("request":{"messages":[{"role":"user","content":"hi"}],"max_tokens":20})";

TEST_F(WorkflowsTest, FanoutAnswersEveryLegInItsSlotAndAFailingOneFailsAlone) {
  start();
  good_.set_default(completion("from good"));
  bad_.set_default(failing(500, "broken upstream"));
  auto r = post("/api/v1/fanout", R"({"models":["good/gpt-a","bad/gpt-b","mock/echo","nope/x"],)" + kRequest + "}");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto v = json::parse(r->body);
  EXPECT_EQ(v.at("object"), "fanout");
  const auto& results = v.at("results").as_array();
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].at("index"), 0);
  EXPECT_EQ(results[0].at("model"), "good/gpt-a");
  EXPECT_EQ(results[0].at("status"), 200);
  EXPECT_EQ(results[0].at("provider"), "good/gpt-a");
  EXPECT_EQ(results[0].at("choices").at(0).at("message").at("content"), "from good");
  EXPECT_EQ(results[0].at("usage").at("prompt_tokens"), 3);
  EXPECT_DOUBLE_EQ(results[0].at("cost_usd").to_number<double>(), 7.0);  // 3 + 4 tokens at $1 each
  EXPECT_TRUE(results[0].at("latency_ms").is_int64());
  EXPECT_EQ(results[1].at("status"), 502);
  EXPECT_EQ(results[1].at("error").at("type"), "upstream_error");
  EXPECT_FALSE(results[1].as_object().contains("choices"));
  EXPECT_EQ(results[2].at("status"), 200);
  EXPECT_FALSE(results[2].at("choices").as_array().empty());
  EXPECT_EQ(results[3].at("status"), 404);
  EXPECT_EQ(results[3].at("error").at("code"), "model_not_found");
  // Each leg got the request with its own model.
  auto got = good_.received();
  ASSERT_EQ(got.size(), 1u);
  auto sent = json::parse(got[0].body);
  EXPECT_EQ(sent.at("model"), "gpt-a");
  EXPECT_EQ(sent.at("max_tokens"), 20);
}

TEST_F(WorkflowsTest, FanoutStreamsTheLegsMultiplexedThenTheirResults) {
  start();
  good_.set_default(sse({delta("one "), delta("two")}));
  bad_.set_default(failing(503, "down"));
  auto r = post("/api/v1/fanout", R"({"models":["good/gpt-a","bad/gpt-b"],"stream":true,)" + kRequest + "}");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->header("content-type"), "text/event-stream");
  auto events = events_of(r->body);
  ASSERT_FALSE(events.empty()) << r->body;
  EXPECT_EQ(events.back().first, "done");
  std::string text;
  int results = 0;
  for (const auto& [event, data] : events) {
    auto v = json::parse(data);
    if (event == "chunk") {
      EXPECT_EQ(v.at("index"), 0) << data;  // only the good leg streams
      EXPECT_EQ(v.at("model"), "good/gpt-a");
      EXPECT_EQ(v.at("chunk").at("model"), "good/gpt-a");  // named as asked, not the upstream's "gpt"
      const auto& choices = v.at("chunk").at("choices").as_array();
      if (!choices.empty() && choices[0].at("delta").as_object().contains("content")) {
        text += std::string(choices[0].at("delta").at("content").as_string());
      }
    } else if (event == "result") {
      ++results;
      if (v.at("index") == 1) {
        EXPECT_EQ(v.at("status"), 502) << data;
        EXPECT_EQ(v.at("error").at("type"), "upstream_error");
      } else {
        EXPECT_EQ(v.at("status"), 200) << data;
      }
    }
  }
  EXPECT_EQ(text, "one two");
  EXPECT_EQ(results, 2);
  auto done = json::parse(events.back().second);
  EXPECT_EQ(done.at("results").as_array().size(), 2u);
  // The legs asked for usage in their streams.
  auto sent = json::parse(good_.received().at(0).body);
  EXPECT_EQ(sent.at("stream"), true);
  EXPECT_EQ(sent.at("stream_options").at("include_usage"), true);
}

TEST_F(WorkflowsTest, FanoutRefusesBadRequestsWhole) {
  start();
  auto check = [&](const std::string& body, const std::string& param) {
    auto r = post("/api/v1/fanout", body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << body << " -> " << r->body;
    EXPECT_EQ(json::parse(r->body).at("error").at("param"), json::value(param)) << r->body;
  };
  check(R"({"models":["mock/echo"],)" + kRequest + "}", "models");
  check(R"({"models":["a/1","a/2","a/3","a/4","a/5","a/6","a/7","a/8","a/9"],)" + kRequest + "}", "models");
  check(R"({"models":["mock/echo",3],)" + kRequest + "}", "models[1]");
  check(R"({"models":["mock/echo","mock/echo"]})", "request");
  check(R"({"models":["mock/echo","mock/echo"],"request":{"model":"x","messages":[]}})", "request.model");
  check(R"({"models":["mock/echo","mock/echo"],"request":{"messages":"hi"}})", "request.messages");
  check(R"({"models":["mock/echo","mock/echo"],"colour":1,)" + kRequest + "}", "colour");
  auto r = post("/api/v1/fanout", "{not json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  // Still serving.
  auto ok = post("/api/v1/fanout", R"({"models":["mock/echo","mock/echo"],)" + kRequest + "}");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
}

TEST_F(WorkflowsTest, FanoutLimitsAndRecordsEachLegOnItsOwn) {
  start("[limits]\nusage_flush_ms = 20\n", {{"SWITCHBOARD_API_KEY", kAdmin}});
  good_.set_default(completion("ok"));
  auto k = http(server_->port(), "POST", "/api/v1/keys", R"({"name":"f","scopes":["chat"],"rpm":2})", bearer(kAdmin));
  ASSERT_TRUE(k);
  ASSERT_EQ(k->status, 201) << k->body;
  const std::string secret(json::parse(k->body).at("secret").as_string());
  const std::string id(json::parse(k->body).at("id").as_string());
  // Three legs, rpm 2: two are answered, the third is refused in its slot.
  auto r = post("/api/v1/fanout", R"({"models":["good/a","good/b","good/c"],)" + kRequest + "}", bearer(secret));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto results = json::parse(r->body).at("results").as_array();
  int ok = 0, limited = 0;
  for (const auto& x : results) {
    if (x.at("status") == 200) ++ok;
    if (x.at("status") == 429) {
      ++limited;
      EXPECT_EQ(x.at("error").at("code"), "rate_limit_exceeded") << x;
    }
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(limited, 1);
  // A model outside the key's allow-list: that leg is refused in its slot.
  auto k2 = http(server_->port(), "POST", "/api/v1/keys", R"({"name":"g","scopes":["chat"],"models":["good/a"]})",
                 bearer(kAdmin));
  ASSERT_EQ(k2->status, 201);
  const std::string secret2(json::parse(k2->body).at("secret").as_string());
  auto refused = post("/api/v1/fanout", R"({"models":["good/a","mock/echo"],)" + kRequest + "}", bearer(secret2));
  ASSERT_TRUE(refused);
  ASSERT_EQ(refused->status, 200) << refused->body;
  auto slots = json::parse(refused->body).at("results").as_array();
  EXPECT_EQ(slots[0].at("status"), 200);
  EXPECT_EQ(slots[1].at("status"), 403);
  EXPECT_EQ(slots[1].at("error").at("type"), "permission_error");
  // A key without the chat scope: 403 before any leg.
  auto k3 = http(server_->port(), "POST", "/api/v1/keys", R"({"name":"h","scopes":["jobs"]})", bearer(kAdmin));
  const std::string secret3(json::parse(k3->body).at("secret").as_string());
  auto scope = post("/api/v1/fanout", R"({"models":["good/a","mock/echo"],)" + kRequest + "}", bearer(secret3));
  ASSERT_TRUE(scope);
  EXPECT_EQ(scope->status, 403) << scope->body;
  // Each answered leg is its own usage row, with its model and cost.
  json::array rows;
  for (int i = 0; i < 100 && rows.size() < 2; ++i) {
    auto u = http(server_->port(), "GET", "/api/v1/usage?key=" + id, "", bearer(kAdmin));
    ASSERT_TRUE(u);
    ASSERT_EQ(u->status, 200) << u->body;
    rows = json::parse(u->body).at("data").as_array();
    if (rows.size() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    EXPECT_EQ(row.at("route"), "/api/v1/fanout");
    EXPECT_EQ(row.at("status"), 200);
    EXPECT_DOUBLE_EQ(row.at("cost_usd").to_number<double>(), 7.0);
    EXPECT_TRUE(row.at("model") == "good/a" || row.at("model") == "good/b" || row.at("model") == "good/c") << row;
  }
}


// --- comparison --------------------------------------------------------------------------

const std::string kWhy = "Essay A argues with evidence and a clear structure; Essay B wanders off topic.";

std::string judgment(const std::string& winner, const std::string& why, const std::string& confidence) {
  return R"({"winner":)" + json::serialize(json::string(winner)) + R"(,"justification":)" +
         json::serialize(json::string(why)) + R"(,"confidence":)" + confidence + "}";
}

// A chat.completion whose content is `content`, escaped.
Behavior answer(const std::string& content) {
  Behavior b;
  b.body = R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":)" +
           json::serialize(json::string(content)) +
           R"(},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}})";
  return b;
}

const std::string kPair = R"("a":"Cats are good because they purr.","b":"Dogs.")";

class ComparisonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string config =
        "[gateway]\nmax_retries = 0\n"
        "[[providers]]\nname = \"oa\"\ntype = \"openai\"\nbase_url = \"" + up_.url() + "/v1\"\n"
        "[[providers]]\nname = \"claude\"\ntype = \"anthropic\"\nbase_url = \"" + claude_.url() + "/v1\"\napi_key_env = \"SB_K\"\n"
        "[[providers]]\nname = \"gem\"\ntype = \"gemini\"\nbase_url = \"" + gem_.url() + "/v1beta\"\napi_key_env = \"SB_K\"\n";
    server_ = std::make_unique<Server>(ServerOptions{.env = {{"SB_K", "k-123"}}, .config_toml = config});
  }
  std::optional<HttpResponse> compare(const std::string& body) {
    return http(server_->port(), "POST", "/api/v1/comparison", body, kJson);
  }
  FakeUpstream up_, claude_, gem_;
  std::unique_ptr<Server> server_;
};

TEST_F(ComparisonTest, OpenAiIsAskedForTheSchemaAndTheAnswerIsNormalised) {
  // Label case, a numeric string: normalised.
  up_.push(answer(judgment("essay a", kWhy, "\"4.5\"")));
  auto r = compare("{" + kPair + R"(,"model":"oa/gpt"})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto v = json::parse(r->body);
  EXPECT_EQ(v.at("object"), "comparison");
  EXPECT_EQ(v.at("winner"), "Essay A");
  EXPECT_EQ(v.at("justification"), json::value(kWhy));
  EXPECT_DOUBLE_EQ(v.at("confidence").to_number<double>(), 4.5);
  EXPECT_DOUBLE_EQ(v.at("confidence_normalized").to_number<double>(), 0.875);
  EXPECT_EQ(v.at("attempts"), 1);
  EXPECT_EQ(v.at("provider"), "oa/gpt");
  auto sent = json::parse(up_.received().at(0).body);
  const auto& rf = sent.at("response_format");
  EXPECT_EQ(rf.at("type"), "json_schema");
  EXPECT_EQ(rf.at("json_schema").at("strict"), true);
  EXPECT_EQ(rf.at("json_schema").at("schema").at("properties").at("winner").at("enum"),
            json::parse(R"(["Essay A","Essay B"])"));
  // Never cached: the same request asks again.
  up_.push(answer(judgment("Essay B", kWhy, "2")));
  auto again = compare("{" + kPair + R"(,"model":"oa/gpt"})");
  ASSERT_EQ(again->status, 200);
  EXPECT_EQ(json::parse(again->body).at("winner"), "Essay B");
  EXPECT_EQ(up_.received().size(), 2u);
}

TEST_F(ComparisonTest, AnInvalidAnswerIsRetriedOnceThenA502WithTheRawOutput) {
  up_.push(answer(judgment("Essay A", kWhy, "9")));  // out of range
  up_.push(answer(judgment("Essay A", kWhy, "3")));
  auto r = compare("{" + kPair + R"(,"model":"oa/gpt","labels":["Left","Right"]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502) << r->body;  // out of range, then "Essay A" is not a label here
  EXPECT_EQ(up_.received().size(), 2u);
  up_.push(answer("not json at all"));
  up_.push(answer(judgment("Left", "too short", "3")));
  auto bad = compare("{" + kPair + R"(,"model":"oa/gpt","labels":["Left","Right"]})");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 502) << bad->body;
  auto e = json::parse(bad->body).at("error");
  EXPECT_NE(std::string(e.at("message").as_string()).find("justification"), std::string::npos) << e;
  EXPECT_NE(std::string(e.at("raw").as_string()).find("too short"), std::string::npos);
  up_.push(answer(judgment("Essay A", kWhy, "0.9")));
  up_.push(answer(judgment("B", kWhy, "1")));  // a letter names the label
  auto ok = compare("{" + kPair + R"(,"model":"oa/gpt"})");
  ASSERT_EQ(ok->status, 200) << ok->body;
  auto v = json::parse(ok->body);
  EXPECT_EQ(v.at("winner"), "Essay B");
  EXPECT_EQ(v.at("attempts"), 2);
}

TEST_F(ComparisonTest, AnthropicAnswersThroughAForcedToolAndGeminiThroughASchema) {
  claude_.push(Behavior{.body = R"({"id":"msg_1","type":"message","role":"assistant","model":"c","content":[)"
                                R"({"type":"tool_use","id":"t1","name":"comparison","input":)" +
                                judgment("Essay B", kWhy, "3.5") +
                                R"(}],"stop_reason":"tool_use","usage":{"input_tokens":50,"output_tokens":20}})"});
  auto r = compare("{" + kPair + R"(,"model":"claude/c"})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body).at("winner"), "Essay B");
  EXPECT_EQ(json::parse(r->body).at("usage").at("prompt_tokens"), 50);
  auto sent = json::parse(claude_.received().at(0).body);
  EXPECT_EQ(sent.at("tool_choice").at("type"), "tool");
  EXPECT_EQ(sent.at("tool_choice").at("name"), "comparison");
  EXPECT_EQ(sent.at("tools").at(0).at("input_schema").at("required").as_array().size(), 3u);

  gem_.push(Behavior{.body = R"({"candidates":[{"content":{"role":"model","parts":[{"text":)" +
                             json::serialize(json::string(judgment("Essay A", kWhy, "5"))) +
                             R"(}]},"finishReason":"STOP","index":0}]})"});
  auto g = compare("{" + kPair + R"(,"model":"gem/flash"})");
  ASSERT_TRUE(g);
  ASSERT_EQ(g->status, 200) << g->body;
  EXPECT_EQ(json::parse(g->body).at("winner"), "Essay A");
  auto gsent = json::parse(gem_.received().at(0).body);
  EXPECT_EQ(gsent.at("generationConfig").at("responseMimeType"), "application/json");
  EXPECT_TRUE(gsent.at("generationConfig").as_object().contains("responseSchema"));
}

TEST_F(ComparisonTest, SeveralModelsJudgeInParallelWithTheirAgreement) {
  up_.push(answer(judgment("Essay A", kWhy, "4")));
  claude_.push(failing(529, "overloaded"));
  gem_.push(Behavior{.body = R"({"candidates":[{"content":{"role":"model","parts":[{"text":)" +
                             json::serialize(json::string(judgment("Essay A", kWhy, "2"))) +
                             R"(}]},"finishReason":"STOP","index":0}]})"});
  auto r = compare("{" + kPair + R"(,"models":["oa/gpt","claude/c","gem/flash"]})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto v = json::parse(r->body);
  EXPECT_EQ(v.at("object"), "comparison.list");
  const auto& results = v.at("results").as_array();
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].at("winner"), "Essay A");
  EXPECT_TRUE(results[1].as_object().contains("error"));
  EXPECT_EQ(results[2].at("winner"), "Essay A");
  EXPECT_EQ(v.at("agreement").at("judged"), 2);
  EXPECT_EQ(v.at("agreement").at("winner"), "Essay A");
  EXPECT_EQ(v.at("agreement").at("unanimous"), true);
}

TEST_F(ComparisonTest, BadRequestsAreRefusedBeforeAnyCall) {
  auto check = [&](const std::string& body, const std::string& param) {
    auto r = compare(body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << body << " -> " << r->body;
    EXPECT_EQ(json::parse(r->body).at("error").at("param"), json::value(param)) << r->body;
  };
  check(R"({"b":"x","model":"oa/gpt"})", "a");
  check(R"({"a":"","b":"x","model":"oa/gpt"})", "a");
  check("{" + kPair + "}", "model");
  check("{" + kPair + R"(,"model":"oa/gpt","models":["oa/gpt"]})", "model");
  check("{" + kPair + R"(,"models":[]})", "models");
  check("{" + kPair + R"(,"model":"oa/gpt","labels":["A"]})", "labels");
  check("{" + kPair + R"(,"model":"oa/gpt","labels":["A","A"]})", "labels");
  check("{" + kPair + R"(,"model":"oa/gpt","temperature":3})", "temperature");
  check("{" + kPair + R"(,"model":"oa/gpt","processing_mode":"later"})", "processing_mode");
  check("{" + kPair + R"(,"model":"oa/gpt","rubric":"x"})", "rubric");
  check(R"({"a":")" + std::string(100001, 'x') + R"(","b":"x","model":"oa/gpt"})", "a");
  EXPECT_TRUE(up_.received().empty());
}

}  // namespace
}  // namespace sbtest
