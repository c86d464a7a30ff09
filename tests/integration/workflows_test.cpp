// Workflows through the real binary, against fake upstreams: fan-out (whole and streamed, a
// failing leg in its slot, each leg limited and recorded on its own), and bad input.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
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

// --- intent routes -----------------------------------------------------------------------

std::string intent_answer(const std::string& intent, const std::string& confidence) {
  return R"({"intent":)" + json::serialize(json::string(intent)) + R"(,"confidence":)" + confidence + "}";
}

class IntentTest : public ::testing::Test {
 protected:
  void start(const std::string& route_extra = "", const std::string& data_dir = "") {
    std::string config =
        "[gateway]\nmax_retries = 0\n"
        "[[providers]]\nname = \"cls\"\ntype = \"openai\"\nbase_url = \"" + cls_.url() + "/v1\"\n"
        "[[providers]]\nname = \"a\"\ntype = \"openai\"\nbase_url = \"" + a_.url() + "/v1\"\n"
        "[[providers]]\nname = \"b\"\ntype = \"openai\"\nbase_url = \"" + b_.url() + "/v1\"\n"
        "[[routes]]\nname = \"tech-route\"\ntargets = [{ provider = \"b\", model = \"gpt-b\" }]\n"
        "[[routes]]\nname = \"support\"\nstrategy = \"intent\"\nclassifier = \"cls/small\"\n" + route_extra +
        "intents = [\n"
        "  { name = \"billing\", description = \"Invoices, payments and refunds\", examples = [\"I was charged twice\", "
        "\"where is my invoice\"], target = \"a/gpt-a\" },\n"
        "  { name = \"tech\", description = \"The product is broken\", examples = [\"the app crashes on start\"], "
        "target = \"tech-route\" },\n"
        "]\n"
        "[[providers]]\nname = \"mock\"\ntype = \"mock\"\n"
        "[[routes]]\nname = \"embedded\"\nstrategy = \"intent\"\nembedding_model = \"mock/embed\"\n"
        "intents = [{ name = \"billing\", examples = [\"refund my invoice\"], target = \"a/gpt-a\" },"
        " { name = \"tech\", examples = [\"crash\"], target = \"b/gpt-b\" }]\n"
        "[[routes]]\nname = \"embedded-down\"\nstrategy = \"intent\"\nembedding_model = \"b/not-an-embedder\"\n"
        "intents = [{ name = \"billing\", examples = [\"refund my invoice\"], target = \"a/gpt-a\" },"
        " { name = \"tech\", examples = [\"crash\"], target = \"b/gpt-b\" }]\n"
        "[[routes]]\nname = \"local-only\"\nstrategy = \"intent\"\nmax_text_chars = 20\n"
        "intents = [{ name = \"billing\", examples = [\"refund my invoice\"], target = \"a/gpt-a\" },"
        " { name = \"tech\", examples = [\"crash\"], target = \"b/gpt-b\" }]\n";
    a_.set_default(completion("billing answer"));
    b_.set_default(completion("tech answer"));
    server_.reset();
    server_ = std::make_unique<Server>(ServerOptions{.config_toml = config, .data_dir = data_dir});
  }
  std::optional<HttpResponse> chat(const std::string& text, bool stream = false) {
    return http(server_->port(), "POST", "/v1/chat/completions",
                R"({"model":"support","messages":[{"role":"user","content":)" + json::serialize(json::string(text)) +
                    "}]" + (stream ? R"(,"stream":true)" : "") + "}",
                kJson);
  }
  std::optional<HttpResponse> intent(const std::string& body, const std::string& path = "/api/v1/intent") {
    return http(server_->port(), "POST", path, body, kJson);
  }
  FakeUpstream cls_, a_, b_;
  std::unique_ptr<Server> server_;
};

TEST_F(IntentTest, TheLlmClassifierPicksTheIntentWhoseTargetAnswers) {
  start();
  cls_.push(answer(intent_answer("tech", "0.9")));
  auto r = chat("The screen stays black after the update");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->header("x-switchboard-intent"), "tech");
  EXPECT_EQ(r->header("x-switchboard-intent-classifier"), "llm");
  EXPECT_EQ(r->header("x-switchboard-provider"), "b");
  auto v = json::parse(r->body);
  EXPECT_EQ(v.at("model"), "support");  // the name the client asked for
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content"), "tech answer");
  ASSERT_EQ(b_.received().size(), 1u);
  EXPECT_EQ(json::parse(b_.received()[0].body).at("model"), "gpt-b");
  EXPECT_TRUE(a_.received().empty());
  // The classifier was asked for the enum of intents through structured output, with the text.
  ASSERT_EQ(cls_.received().size(), 1u);
  auto asked = json::parse(cls_.received()[0].body);
  EXPECT_EQ(asked.at("model"), "small");
  EXPECT_EQ(asked.at("response_format").at("json_schema").at("schema").at("properties").at("intent").at("enum"),
            json::parse(R"(["billing","tech"])"));
  EXPECT_EQ(asked.at("messages").at(1).at("content"), "The screen stays black after the update");

  // Streamed: the same headers, the target's chunks.
  cls_.push(answer(intent_answer("billing", "0.8")));
  a_.push(sse({delta("streamed billing")}));
  auto s = chat("refund please", true);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->status, 200) << s->body;
  EXPECT_EQ(s->header("x-switchboard-intent"), "billing");
  EXPECT_NE(s->body.find("streamed billing"), std::string::npos);
  EXPECT_NE(s->body.find("\"model\":\"support\""), std::string::npos);
  EXPECT_NE(s->body.find("data: [DONE]"), std::string::npos);

  // POST /api/v1/intent and its alias answer the decision without serving it.
  cls_.push(answer(intent_answer("billing", "0.6")));
  auto d = intent(R"({"route":"support","text":"where is my invoice?"})");
  ASSERT_TRUE(d);
  ASSERT_EQ(d->status, 200) << d->body;
  auto dv = json::parse(d->body);
  EXPECT_EQ(dv.at("intent"), "billing");
  EXPECT_DOUBLE_EQ(dv.at("confidence").to_number<double>(), 0.6);
  EXPECT_EQ(dv.at("target"), "a/gpt-a");
  EXPECT_EQ(dv.at("classifier"), "llm");
  EXPECT_TRUE(dv.at("latency_ms").is_number());
  cls_.push(answer(intent_answer("tech", "1")));
  auto alias = intent(R"({"route":"support","text":"crash"})", "/api/v1/intent-router-resilient");
  ASSERT_EQ(alias->status, 200) << alias->body;
  EXPECT_EQ(json::parse(alias->body).at("target"), "tech-route");
  EXPECT_EQ(a_.received().size(), 1u);  // (the stream only)
  EXPECT_GE(metric(server_->port(), "switchboard_intent_classifications_total{route=\"support\",intent=\"billing\",classifier=\"llm\"}"), 2);
}

TEST_F(IntentTest, InvalidClassifierOutputIsRetriedOnceThenTheLocalClassifierAnswers) {
  start();
  cls_.push(answer("I think it is about billing"));
  cls_.push(answer(intent_answer("billing", "0.7")));
  auto retried = intent(R"({"route":"support","text":"I was charged twice"})");
  ASSERT_EQ(retried->status, 200) << retried->body;
  EXPECT_EQ(json::parse(retried->body).at("classifier"), "llm");
  EXPECT_EQ(cls_.received().size(), 2u);

  cls_.push(answer(intent_answer("sales", "0.7")));  // not an intent
  cls_.push(answer(intent_answer("tech", "7")));     // out of range
  auto r = chat("the app crashes on start every time");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(cls_.received().size(), 4u);
  EXPECT_EQ(r->header("x-switchboard-intent"), "tech");
  EXPECT_EQ(r->header("x-switchboard-intent-classifier"), "local");
  EXPECT_EQ(json::parse(r->body).at("choices").at(0).at("message").at("content"), "tech answer");
  EXPECT_EQ(metric(server_->port(), "switchboard_intent_fallbacks_total{route=\"support\",reason=\"invalid_output\"}"), 1);
}

TEST_F(IntentTest, TheClassifiersBreakerOpensAndTheLocalClassifierTakesOver) {
  start("classifier_min_calls = 2\nclassifier_open_ms = 60000\n");
  cls_.set_default(failing(500, "classifier down"));
  for (int i = 0; i < 2; ++i) {
    auto r = intent(R"({"route":"support","text":"where is my invoice"})");
    ASSERT_EQ(r->status, 200) << r->body;
    auto v = json::parse(r->body);
    EXPECT_EQ(v.at("classifier"), "local");
    EXPECT_EQ(v.at("fallback_reason"), "upstream_error");
    EXPECT_EQ(v.at("intent"), "billing");
  }
  EXPECT_EQ(cls_.received().size(), 2u);
  // Open now: no call, the local classifier at once; requests through the route still served.
  auto open = intent(R"({"route":"support","text":"the app crashes"})");
  ASSERT_EQ(open->status, 200) << open->body;
  auto v = json::parse(open->body);
  EXPECT_EQ(v.at("fallback_reason"), "breaker_open");
  EXPECT_EQ(v.at("intent"), "tech");
  auto served = chat("I was charged twice");
  ASSERT_EQ(served->status, 200) << served->body;
  EXPECT_EQ(served->header("x-switchboard-intent-classifier"), "local");
  EXPECT_EQ(served->header("x-switchboard-intent"), "billing");
  EXPECT_EQ(cls_.received().size(), 2u);
  EXPECT_EQ(metric(server_->port(), "switchboard_intent_fallbacks_total{route=\"support\",reason=\"breaker_open\"}"), 2);
}

TEST_F(IntentTest, ARouteWithoutAClassifierIsLocalAndBadInputIsRefused) {
  start();
  auto local = intent(R"({"route":"local-only","text":"crash"})");
  ASSERT_EQ(local->status, 200) << local->body;
  auto v = json::parse(local->body);
  EXPECT_EQ(v.at("classifier"), "local");
  EXPECT_FALSE(v.as_object().contains("fallback_reason"));
  EXPECT_EQ(v.at("target"), "b/gpt-b");
  // Any characters are accepted (escaped NUL, emoji, right-to-left text).
  auto odd = intent(R"({"route":"local-only","text":"\u0000 😀 שלום"})");
  ASSERT_EQ(odd->status, 200) << odd->body;
  EXPECT_EQ(json::parse(odd->body).at("intent"), "billing");  // nothing matched: the first intent

  auto too_long = intent(R"({"route":"local-only","text":"this text is longer than twenty"})");
  EXPECT_EQ(too_long->status, 400);
  EXPECT_NE(too_long->body.find("max_text_chars"), std::string::npos);
  EXPECT_EQ(json::parse(too_long->body).at("error").at("param"), "text");
  auto unknown = intent(R"({"route":"tech-route","text":"x"})");
  EXPECT_EQ(unknown->status, 404) << unknown->body;
  EXPECT_EQ(json::parse(unknown->body).at("error").at("param"), "route");
  EXPECT_EQ(intent(R"({"text":"x"})")->status, 400);
  EXPECT_EQ(intent(R"({"route":"local-only"})")->status, 400);
  EXPECT_EQ(intent(R"({"route":"local-only","text":""})")->status, 400);
  EXPECT_EQ(intent(R"({"route":"local-only","text":5})")->status, 400);
  EXPECT_EQ(intent(R"({"route":"local-only","text":"x","extra":1})")->status, 400);
  EXPECT_EQ(intent("not json")->status, 400);
  // An intent route serves chat completions only.
  auto emb = http(server_->port(), "POST", "/v1/embeddings", R"({"model":"support","input":"x"})", kJson);
  EXPECT_EQ(emb->status, 400) << emb->body;
  EXPECT_NE(emb->body.find("intent route"), std::string::npos);
  // A long chat message is classified by its start, not refused.
  auto long_chat = http(server_->port(), "POST", "/v1/chat/completions",
                        R"({"model":"local-only","messages":[{"role":"user","content":"crash crash crash crash crash and more words"}]})", kJson);
  ASSERT_EQ(long_chat->status, 200) << long_chat->body;
  EXPECT_EQ(long_chat->header("x-switchboard-intent"), "tech");
  // Listed as a model.
  auto models = http(server_->port(), "GET", "/v1/models");
  EXPECT_NE(models->body.find("\"id\":\"support\""), std::string::npos);
  EXPECT_EQ(cls_.received().size(), 0u);
}

TEST_F(IntentTest, IntentsSentWithTheRequestAreClassifiedToo) {
  start();
  const std::string intents =
      R"("intents":[{"name":"refund","description":"money back","examples":["I want my money back"],"target":"a/gpt-a"},)"
      R"({"name":"shipping","examples":["where is my parcel","delivery is late"]}])";
  auto local = intent(R"({"text":"my parcel delivery is late",)" + intents + "}");
  ASSERT_EQ(local->status, 200) << local->body;
  auto v = json::parse(local->body);
  EXPECT_EQ(v.at("intent"), "shipping");
  EXPECT_EQ(v.at("classifier"), "local");
  EXPECT_TRUE(v.at("route").is_null());
  EXPECT_TRUE(v.at("target").is_null());
  cls_.push(answer(intent_answer("refund", "0.95")));
  auto llm = intent(R"({"text":"money back now","classifier":"cls/small",)" + intents + "}");
  ASSERT_EQ(llm->status, 200) << llm->body;
  EXPECT_EQ(json::parse(llm->body).at("classifier"), "llm");
  EXPECT_EQ(json::parse(llm->body).at("target"), "a/gpt-a");
  // Inline names never become metric labels.
  EXPECT_EQ(metric(server_->port(), "switchboard_intent_classifications_total{route=\"(inline)\",intent=\"(inline)\",classifier=\"llm\"}"), 1);

  auto bad = [&](const std::string& body, const std::string& param) {
    auto r = intent(body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << body << " -> " << r->body;
    EXPECT_EQ(json::parse(r->body).at("error").at("param"), json::value(param)) << r->body;
  };
  bad(R"({"text":"x","intents":[]})", "intents");
  bad(R"({"text":"x","intents":[{"name":""}]})", "intents[0].name");
  bad(R"({"text":"x","intents":[{"name":"a"},{"name":"a"}]})", "intents[1].name");
  bad(R"({"text":"x","intents":[{"name":"a","colour":"red"}]})", "intents[0].colour");
  bad(R"({"text":"x","intents":[{"name":"a","examples":[1]}]})", "intents[0].examples");
  bad(R"({"text":"x","intents":[{"name":"a"}],"fallback_intent":"b"})", "fallback_intent");
  bad(R"({"text":"x","route":"support","intents":[{"name":"a"}]})", "intents");
  bad(R"({"text":"x","route":"support","classifier":"cls/small"})", "classifier");
  auto unknown = intent(R"({"text":"x","intents":[{"name":"a"}],"classifier":"nope/m"})");
  EXPECT_EQ(unknown->status, 404) << unknown->body;
  EXPECT_EQ(cls_.received().size(), 1u);
}

TEST_F(IntentTest, ARouteWithAnEmbeddingModelAddsSimilarityAndFallsBackToBm25WithoutIt) {
  start();
  auto hybrid = intent(R"({"route":"embedded","text":"please refund the invoice"})");
  ASSERT_EQ(hybrid->status, 200) << hybrid->body;
  auto v = json::parse(hybrid->body);
  EXPECT_EQ(v.at("local_method"), "bm25+embeddings");
  EXPECT_EQ(v.at("intent"), "billing");
  EXPECT_GT(v.at("confidence").to_number<double>(), 0.5);
  auto again = json::parse(intent(R"({"route":"embedded","text":"it keeps on crashing: crash"})")->body);
  EXPECT_EQ(again.at("intent"), "tech");
  // An embedding model that does not answer with vectors: BM25 alone, the request still served.
  auto down = intent(R"({"route":"embedded-down","text":"refund my invoice"})");
  ASSERT_EQ(down->status, 200) << down->body;
  EXPECT_EQ(json::parse(down->body).at("local_method"), "bm25");
  EXPECT_EQ(json::parse(down->body).at("intent"), "billing");
  EXPECT_FALSE(b_.received().empty());  // (it was asked)
  EXPECT_NE(b_.received().at(0).target.find("/embeddings"), std::string::npos);
}

// --- pipeline jobs -----------------------------------------------------------------------

json::object wait_job(int port, const std::string& id, std::chrono::milliseconds limit = std::chrono::milliseconds(15000)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  json::object st;
  while (std::chrono::steady_clock::now() < until) {
    auto r = http(port, "GET", "/api/v1/jobs/" + id);
    if (r && r->status == 200) {
      st = json::parse(r->body).as_object();
      const auto& s = st.at("status").as_string();
      if (s != "queued" && s != "processing") return st;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return st;
}

using PipelineTest = IntentTest;

TEST_F(PipelineTest, ClassifiesGeneratesAndStoresTheAnswerInTheConversation) {
  start();
  cls_.push(answer(intent_answer("tech", "0.9")));
  b_.push(completion("restart it"));
  auto r = http(server_->port(), "POST", "/api/v1/jobs",
                R"({"type":"pipeline","request":{"message":"the app crashes","route":"support","session_id":"s-1","user":"u-1"}})", kJson);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string id(json::parse(r->body).at("id").as_string());
  auto st = wait_job(server_->port(), id);
  ASSERT_EQ(st.at("status"), "completed") << json::serialize(st);
  auto res = http(server_->port(), "GET", "/api/v1/jobs/" + id + "/result");
  ASSERT_EQ(res->status, 200) << res->body;
  auto v = json::parse(res->body);
  EXPECT_EQ(v.at("object"), "pipeline.result");
  EXPECT_EQ(v.at("intent"), "tech");
  EXPECT_EQ(v.at("target"), "tech-route");
  EXPECT_EQ(v.at("answer"), "restart it");
  const auto& steps = v.at("steps").as_array();
  ASSERT_EQ(steps.size(), 4u);
  EXPECT_EQ(steps[0].at("name"), "classify");
  EXPECT_EQ(steps[0].at("status"), "ok");
  EXPECT_EQ(steps[0].at("classifier"), "llm");
  EXPECT_EQ(steps[1].at("status"), "skipped");
  EXPECT_NE(std::string(steps[1].at("reason").as_string()).find("compress_over_chars"), std::string::npos);
  EXPECT_EQ(steps[2].at("status"), "ok");
  EXPECT_EQ(steps[3].at("status"), "ok");
  for (const auto& s : steps) EXPECT_TRUE(s.at("latency_ms").is_number());
  const std::string conv(v.at("conversation_id").as_string());
  // The generation asked with the pipeline's defaults (temperature 0.7, max_tokens 1000).
  auto sent = json::parse(b_.received().at(0).body);
  EXPECT_DOUBLE_EQ(sent.at("temperature").to_number<double>(), 0.7);
  EXPECT_EQ(sent.at("max_tokens"), 1000);
  EXPECT_EQ(sent.at("model"), "gpt-b");

  auto c = http(server_->port(), "GET", "/api/v1/conversations/" + conv);
  ASSERT_EQ(c->status, 200) << c->body;
  auto cv = json::parse(c->body);
  EXPECT_EQ(cv.at("session_id"), "s-1");
  EXPECT_EQ(cv.at("turns"), 1);
  ASSERT_EQ(cv.at("messages").as_array().size(), 1u) << c->body;
  EXPECT_EQ(cv.at("messages").at(0).at("answer"), "restart it");

  // The next message of the session: the memory goes with it, a long one is not compressed
  // (no compression model), and the turn joins the conversation.
  cls_.push(answer(intent_answer("billing", "0.8")));
  const std::string longer(600, 'x');
  auto r2 = http(server_->port(), "POST", "/api/v1/jobs",
                 R"({"type":"pipeline","request":{"message":")" + longer + R"(","route":"support","session_id":"s-1","generation":{"temperature":0.2,"max_tokens":50}}})", kJson);
  ASSERT_EQ(r2->status, 202) << r2->body;
  auto st2 = wait_job(server_->port(), std::string(json::parse(r2->body).at("id").as_string()));
  ASSERT_EQ(st2.at("status"), "completed") << json::serialize(st2);
  auto sent2 = json::parse(a_.received().at(0).body);
  const auto& msgs = sent2.at("messages").as_array();
  ASSERT_EQ(msgs.size(), 3u) << sent2;
  EXPECT_EQ(msgs[0].at("content"), "the app crashes");
  EXPECT_EQ(msgs[1].at("content"), "restart it");
  EXPECT_EQ(sent2.at("max_tokens"), 50);
  auto res2 = json::parse(http(server_->port(), "GET", "/api/v1/jobs/" + std::string(json::parse(r2->body).at("id").as_string()) + "/result")->body);
  EXPECT_EQ(res2.at("steps").at(1).at("reason"), "no compression model");
  EXPECT_EQ(res2.at("conversation_id"), json::value(conv));
  auto c2 = json::parse(http(server_->port(), "GET", "/api/v1/conversations/" + conv)->body);
  EXPECT_EQ(c2.at("turns"), 2);
}

TEST_F(PipelineTest, TheSeedEntryPointSubmitsOnePipelinePerMessageId) {
  start();
  cls_.set_default(answer(intent_answer("billing", "0.9")));
  const std::string body = R"({"message":"refund please","messageId":"m-42","sessionId":"web-7","userId":"u-9"})";
  auto r = http(server_->port(), "POST", "/api/v1/jobs/process-ai-job", body, kJson);
  ASSERT_EQ(r->status, 202) << r->body;
  auto again = http(server_->port(), "POST", "/api/v1/jobs/process-ai-job", body, kJson);
  ASSERT_EQ(again->status, 202) << again->body;
  EXPECT_EQ(json::parse(again->body).at("id"), json::parse(r->body).at("id"));
  EXPECT_EQ(again->header("x-switchboard-idempotent-replay"), "true");
  auto st = wait_job(server_->port(), std::string(json::parse(r->body).at("id").as_string()));
  ASSERT_EQ(st.at("status"), "completed") << json::serialize(st);
  EXPECT_EQ(st.at("type"), "pipeline");
  // The default route is the first intent route.
  EXPECT_EQ(a_.received().size(), 1u);
  auto list = json::parse(http(server_->port(), "GET", "/api/v1/conversations")->body);
  ASSERT_EQ(list.at("data").as_array().size(), 1u);
  EXPECT_EQ(list.at("data").at(0).at("session_id"), "web-7");
  EXPECT_EQ(list.at("data").at(0).at("user"), "u-9");

  auto bad = [&](const std::string& path, const std::string& b, const std::string& param) {
    auto res = http(server_->port(), "POST", path, b, kJson);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << b << " -> " << res->body;
    EXPECT_EQ(json::parse(res->body).at("error").at("param"), json::value(param)) << res->body;
  };
  bad("/api/v1/jobs/process-ai-job", R"({"messageId":"x"})", "message");
  bad("/api/v1/jobs/process-ai-job", R"({"message":"x","extra":1})", "extra");
  bad("/api/v1/jobs", R"({"type":"pipeline","request":{}})", "request.message");
  bad("/api/v1/jobs", R"({"type":"pipeline","request":{"message":"x","steps":["generate","classify"]}})", "request.steps");
  bad("/api/v1/jobs", R"({"type":"pipeline","request":{"message":"x","steps":["store"]}})", "request.steps");
  bad("/api/v1/jobs", R"({"type":"pipeline","request":{"message":"x","steps":["dance"]}})", "request.steps[0]");
  bad("/api/v1/jobs", R"({"type":"pipeline","request":{"message":"x","route":"support","model":"a/x"}})", "request.model");
  bad("/api/v1/jobs", R"({"type":"pipeline","request":{"message":"x","generation":{"temperature":5}}})", "request.generation.temperature");
  bad("/api/v1/jobs", R"({"type":"pipeline","request":{"message":"x","generation":{"top_k":5}}})", "request.generation.top_k");
  bad("/api/v1/jobs", R"({"type":"pipeline","request":{"message":"x","colour":"red"}})", "request.colour");
  auto unknown = http(server_->port(), "POST", "/api/v1/jobs", R"({"type":"pipeline","request":{"message":"x","model":"nope/m"}})", kJson);
  EXPECT_EQ(unknown->status, 404) << unknown->body;
}

TEST_F(PipelineTest, AKilledServerFinishesThePipelineOnceAfterARestart) {
  TempDir dir;
  start("", dir.path());
  cls_.set_default(answer(intent_answer("billing", "0.9")));
  Behavior slow = completion("never seen");
  slow.delay_before_headers = std::chrono::milliseconds(3000);
  a_.push(slow);
  auto r = http(server_->port(), "POST", "/api/v1/jobs",
                R"({"type":"pipeline","request":{"message":"refund","route":"support","session_id":"k-1"}})", kJson);
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string id(json::parse(r->body).at("id").as_string());
  // Wait until the generation is in flight, then kill -9.
  for (int i = 0; i < 200 && a_.received().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(a_.received().size(), 1u);
  server_->kill9();
  start("", dir.path());
  auto st = wait_job(server_->port(), id, std::chrono::milliseconds(30000));
  ASSERT_EQ(st.at("status"), "completed") << json::serialize(st);
  auto res = json::parse(http(server_->port(), "GET", "/api/v1/jobs/" + id + "/result")->body);
  EXPECT_EQ(res.at("answer"), "billing answer");  // the second run's
  EXPECT_EQ(a_.received().size(), 2u);
  auto conv = json::parse(http(server_->port(), "GET", "/api/v1/conversations/" + std::string(res.at("conversation_id").as_string()))->body);
  EXPECT_EQ(conv.at("turns"), 1);
}

TEST(ComparisonJobs, QueueIfUnavailableQueuesWhenEveryProviderIsDownAndImmediateFailsFast) {
  FakeUpstream up;
  Server server({.config_toml = "[gateway]\nmax_retries = 0\nbreaker_min_calls = 1\nbreaker_open_ms = 600\n"
                                "[[providers]]\nname = \"oa\"\ntype = \"openai\"\nbase_url = \"" + up.url() + "/v1\"\n"});
  auto compare = [&](const std::string& extra) {
    return http(server.port(), "POST", "/api/v1/comparison", "{" + kPair + R"(,"model":"oa/gpt")" + extra + "}", kJson);
  };
  up.push(failing(500, "down"));
  auto first = compare("");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 502) << first->body;  // the failure that opens the circuit
  auto fast = compare(R"(,"processing_mode":"immediate")");
  EXPECT_EQ(fast->status, 503) << fast->body;
  EXPECT_EQ(up.received().size(), 1u);  // (nothing was called)
  auto queued = compare(R"(,"processing_mode":"queue_if_unavailable")");
  ASSERT_EQ(queued->status, 202) << queued->body;
  auto job = json::parse(queued->body);
  EXPECT_EQ(job.at("type"), "comparison");
  const std::string id(job.at("id").as_string());
  // When the circuit lets a call through again, the job judges.
  up.set_default(answer(judgment("Essay B", kWhy, "3.5")));
  auto st = wait_job(server.port(), id, std::chrono::milliseconds(20000));
  ASSERT_EQ(st.at("status"), "completed") << json::serialize(st);
  auto res = json::parse(http(server.port(), "GET", "/api/v1/results/" + id)->body);
  EXPECT_EQ(res.at("object"), "comparison");
  EXPECT_EQ(res.at("winner"), "Essay B");
  EXPECT_DOUBLE_EQ(res.at("confidence_normalized").to_number<double>(), 0.625);
  // Available: queue_if_unavailable answers at once.
  auto now = compare(R"(,"processing_mode":"queue_if_unavailable")");
  EXPECT_EQ(now->status, 200) << now->body;
  EXPECT_EQ(compare(R"(,"processing_mode":"later")")->status, 400);
}

TEST(ComparisonJobs, ABatchIsOneJobPerPairEachJudgedFreshly) {
  FakeUpstream up;
  up.set_default(answer(judgment("Essay A", kWhy, "4")));
  Server server({.config_toml = "[[providers]]\nname = \"oa\"\ntype = \"openai\"\nbase_url = \"" + up.url() + "/v1\"\n"});
  const std::string pair = R"({"a":"Cats purr.","b":"Dogs."})";
  auto r = http(server.port(), "POST", "/api/v1/comparison/batch",
                R"({"model":"oa/gpt","instructions":"Which is kinder?","pairs":[)" + pair + "," + pair + "," +
                    R"({"a":"x","b":"y","labels":["Essay A","Other"]}]})",
                kJson);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  const auto answer_json = json::parse(r->body);
  const auto& data = answer_json.at("data").as_array();
  ASSERT_EQ(data.size(), 3u);
  std::vector<json::value> results;
  for (const auto& j : data) {
    auto st = wait_job(server.port(), std::string(j.at("id").as_string()));
    EXPECT_EQ(st.at("type"), "comparison");
    results.push_back(json::parse(http(server.port(), "GET", "/api/v1/results/" + std::string(j.at("id").as_string()))->body));
  }
  EXPECT_EQ(results[0].at("winner"), "Essay A");
  EXPECT_EQ(results[1].at("winner"), "Essay A");
  EXPECT_EQ(results[2].at("winner"), "Essay A");
  EXPECT_EQ(up.received().size(), 3u);  // the same pair twice: asked twice (never cached)
  auto sent = json::parse(up.received().at(0).body);
  EXPECT_NE(json::serialize(sent).find("Which is kinder?"), std::string::npos);

  auto bad = [&](const std::string& body, const std::string& param) {
    auto res = http(server.port(), "POST", "/api/v1/comparison/batch", body, kJson);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << body << " -> " << res->body;
    EXPECT_EQ(json::parse(res->body).at("error").at("param"), json::value(param)) << res->body;
  };
  bad(R"({"model":"oa/gpt","pairs":[]})", "pairs");
  bad(R"({"model":"oa/gpt","pairs":[{"a":"x"}]})", "pairs[0].b");
  bad(R"({"pairs":[{"a":"x","b":"y"}]})", "model");
  bad(R"({"model":"oa/gpt","pairs":[{"a":"x","b":"y","colour":1}]})", "pairs[0].colour");
}

// --- the recorder ------------------------------------------------------------------------

TEST(Recorder, WritesEachUpstreamExchangeAsOneJsonFileWithoutTheKey) {
  FakeUpstream up;
  TempDir dir;
  const std::string rec = dir.path() + "/recordings";
  Server server({.env = {{"SB_K", "sk-very-secret-123"}},
                 .config_toml = "[gateway]\nrecord_dir = \"" + rec + "\"\n"
                                "[[providers]]\nname = \"oa\"\ntype = \"openai\"\nbase_url = \"" + up.url() +
                                "/v1\"\napi_key_env = \"SB_K\"\n"});
  up.push(completion("whole answer"));
  auto r = http(server.port(), "POST", "/v1/chat/completions",
                R"({"model":"oa/gpt","messages":[{"role":"user","content":"hello recorder"}]})", kJson);
  ASSERT_EQ(r->status, 200) << r->body;
  up.push(sse({delta("streamed "), delta("answer")}));
  auto s = http(server.port(), "POST", "/v1/chat/completions",
                R"({"model":"oa/gpt","stream":true,"messages":[{"role":"user","content":"stream it"}]})", kJson);
  ASSERT_EQ(s->status, 200) << s->body;
  std::vector<std::string> files;
  for (int i = 0; i < 50 && files.size() < 2; ++i) {
    files.clear();
    for (const auto& e : std::filesystem::directory_iterator(rec)) files.push_back(e.path().string());
    if (files.size() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(files.size(), 2u);
  std::sort(files.begin(), files.end());
  auto read = [](const std::string& f) {
    std::ifstream in(f);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  for (const auto& f : files) {
    const std::string text = read(f);
    EXPECT_EQ(text.find("sk-very-secret-123"), std::string::npos) << text;
    EXPECT_NE(f.find("-oa.json"), std::string::npos);
    EXPECT_EQ(std::filesystem::status(f).permissions() & std::filesystem::perms::others_read, std::filesystem::perms::none);
  }
  auto whole = json::parse(read(files[0]));
  EXPECT_EQ(whole.at("provider"), "oa");
  EXPECT_EQ(whole.at("request").at("method"), "POST");
  EXPECT_EQ(whole.at("request").at("body").at("messages").at(0).at("content"), "hello recorder");
  bool removed = false;
  for (const auto& h : whole.at("request").at("headers").as_array()) {
    if (h.at(0) == "Authorization") removed = h.at(1) == "[removed]";
  }
  EXPECT_TRUE(removed) << whole.at("request").at("headers");
  EXPECT_EQ(whole.at("response").at("status"), 200);
  EXPECT_EQ(whole.at("response").at("body").at("choices").at(0).at("message").at("content"), "whole answer");
  auto streamed = json::parse(read(files[1]));
  const auto& events = streamed.at("response").at("events").as_array();
  ASSERT_EQ(events.size(), 3u) << streamed;
  EXPECT_EQ(events[0].at("choices").at(0).at("delta").at("content"), "streamed ");
  EXPECT_EQ(events[2], "[DONE]");
}

TEST(Recorder, ADirectoryOthersCanWriteIsRefusedAtStart) {
  TempDir dir;
  const std::string rec = dir.path() + "/open";
  std::filesystem::create_directories(rec);
  std::filesystem::permissions(rec, std::filesystem::perms::all);
  Server server({.config_toml = "[gateway]\nrecord_dir = \"" + rec + "\"\n", .expect_start = false});
  auto code = server.wait_exit(std::chrono::milliseconds(10000));
  ASSERT_TRUE(code);
  EXPECT_NE(*code, 0);
  EXPECT_NE(server.stderr_text().find("can be written by others"), std::string::npos) << server.stderr_text();
}

}  // namespace
}  // namespace sbtest
