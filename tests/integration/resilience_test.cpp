// Retries, deadlines, circuit breakers, routing strategies, embeddings and the providers API,
// through the real binary against fake upstreams.

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "fake_upstream.hpp"
#include "harness.hpp"

namespace sbtest {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string chat(const std::string& model, bool stream = false) {
  return R"({"model":")" + model + R"(","messages":[{"role":"user","content":"hi"}])" +
         (stream ? R"(,"stream":true)" : "") + "}";
}

Behavior ok(const std::string& content = "ok") { return completion(content); }

std::string two_providers(FakeUpstream& a, FakeUpstream& b, const std::string& gateway,
                          int timeout_ms = 2000) {
  return "[gateway]\n" + gateway + "[[providers]]\nname = \"a\"\ntype = \"openai\"\nbase_url = \"" +
         a.url() + "/v1\"\ntimeout_ms = " + std::to_string(timeout_ms) +
         "\n[[providers]]\nname = \"b\"\ntype = \"openai\"\nbase_url = \"" + b.url() +
         "/v1\"\n[[routes]]\nname = \"smart\"\ntargets = [{ provider = \"a\", model = \"gpt-a\" }, "
         "{ provider = \"b\", model = \"gpt-b\" }]\n";
}

long long elapsed_ms(Clock::time_point t0) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
}

TEST(Retries, TheSameTargetIsRetriedWithBackoffThenTheNextTakesOver) {
  FakeUpstream a, b;
  Server s({.config_toml = two_providers(a, b, "max_retries = 2\nretry_backoff_ms = 60\n")});
  for (int i = 0; i < 3; ++i) a.push(failing(503));
  b.push(ok("from b"));
  auto t0 = Clock::now();
  auto r = http(s.port(), "POST", "/v1/chat/completions", chat("smart"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->header("x-switchboard-provider"), "b");
  EXPECT_EQ(r->header("x-switchboard-attempts"), "4");
  EXPECT_EQ(a.received().size(), 3u);
  // Two backoffs: [30,60] ms then [60,120] ms.
  EXPECT_GE(elapsed_ms(t0), 90);
  EXPECT_EQ(metric(s.port(), R"(switchboard_gateway_retries_total{provider="a"})"), 2);
  EXPECT_EQ(metric(s.port(), R"(switchboard_gateway_fallbacks_total{provider="b"})"), 1);
}

TEST(Retries, RetryAfterIsHonoured) {
  FakeUpstream a, b;
  Server s({.config_toml = two_providers(a, b, "max_retries = 1\nretry_backoff_ms = 10\n")});
  Behavior limited = failing(429);
  limited.headers.emplace_back("Retry-After", "1");
  a.push(limited);
  a.push(ok("after waiting"));
  auto t0 = Clock::now();
  auto r = http(s.port(), "POST", "/v1/chat/completions", chat("smart"));
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->header("x-switchboard-provider"), "a");
  EXPECT_EQ(r->header("x-switchboard-attempts"), "2");
  EXPECT_GE(elapsed_ms(t0), 1000);
  EXPECT_TRUE(b.received().empty());
}

TEST(Retries, ARetryAfterLongerThanTheBackoffCapFallsBackAtOnce) {
  FakeUpstream a, b;
  Server s({.config_toml = two_providers(a, b, "max_retries = 2\nretry_backoff_max_ms = 2000\n")});
  Behavior limited = failing(429);
  limited.headers.emplace_back("Retry-After", "60");
  a.push(limited);
  b.push(ok("b"));
  auto t0 = Clock::now();
  auto r = http(s.port(), "POST", "/v1/chat/completions", chat("smart"));
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->header("x-switchboard-provider"), "b");
  EXPECT_LT(elapsed_ms(t0), 1000);
}

TEST(Retries, ClientErrorsAreNeverRetried) {
  FakeUpstream a, b;
  Server s({.config_toml = two_providers(a, b, "max_retries = 3\n")});
  a.push(failing(400));
  auto r = http(s.port(), "POST", "/v1/chat/completions", chat("smart"));
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(a.received().size(), 1u);
  EXPECT_TRUE(b.received().empty());
}

TEST(Retries, AuthErrorsFallBackOnlyWhenConfigured) {
  FakeUpstream a, b;
  Server s({.config_toml = two_providers(a, b, "max_retries = 0\nretry_on_auth_errors = true\n")});
  a.push(failing(401));
  b.push(ok("b"));
  auto r = http(s.port(), "POST", "/v1/chat/completions", chat("smart"));
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("x-switchboard-provider"), "b");
}

TEST(Deadline, EveryAttemptFitsInTheRequestDeadline) {
  FakeUpstream a, b;
  Server s({.config_toml = two_providers(a, b, "request_timeout_ms = 1200\nmax_retries = 3\n", 5000)});
  Behavior slow;
  slow.delay_before_headers = milliseconds(4000);
  a.set_default(slow);
  b.set_default(slow);
  auto t0 = Clock::now();
  auto r = http(s.port(), "POST", "/v1/chat/completions", chat("smart"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504) << r->body;
  EXPECT_EQ(json::parse(r->body).at("error").at("code"), "upstream_timeout");
  EXPECT_GE(elapsed_ms(t0), 1100);
  EXPECT_LT(elapsed_ms(t0), 2500) << "the provider's own 5 s timeout must not extend the deadline";
}

TEST(Breaker, OpensSkipsTheTargetAndRecoversThroughAProbe) {
  FakeUpstream a, b;
  Server s({.config_toml = two_providers(
                a, b, "max_retries = 0\nbreaker_min_calls = 3\nbreaker_open_ms = 1000\n")});
  a.set_default(failing(500));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(http(s.port(), "POST", "/v1/chat/completions", chat("a/gpt-a"))->status, 502);
  }
  // Open: answered without a call, with Retry-After.
  auto r = http(s.port(), "POST", "/v1/chat/completions", chat("a/gpt-a"));
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_FALSE(r->header("retry-after").empty());
  EXPECT_EQ(json::parse(r->body).at("error").at("code"), "service_unavailable");
  EXPECT_EQ(a.received().size(), 3u);
  auto st = json::parse(http(s.port(), "GET", "/api/v1/providers")->body);
  bool seen = false;
  for (const auto& p : st.at("data").as_array()) {
    if (p.at("name") != "a") continue;
    for (const auto& t : p.at("targets").as_array()) {
      if (t.at("model") != "gpt-a") continue;
      seen = true;
      EXPECT_EQ(t.at("breaker"), "open");
      EXPECT_EQ(t.at("failures"), 3);
      EXPECT_DOUBLE_EQ(t.at("error_rate").as_double(), 1.0);
    }
  }
  EXPECT_TRUE(seen) << st;
  EXPECT_EQ(metric(s.port(), R"(switchboard_circuit_state{provider="a",model="gpt-a"})"), 2);

  // The route skips the open target and goes straight to b.
  b.push(ok("b"));
  r = http(s.port(), "POST", "/v1/chat/completions", chat("smart"));
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("x-switchboard-attempts"), "1");
  EXPECT_EQ(a.received().size(), 3u);

  // After open_ms one probe goes through; its success closes the circuit.
  std::this_thread::sleep_for(milliseconds(1100));
  a.set_default(ok("a is back"));
  r = http(s.port(), "POST", "/v1/chat/completions", chat("a/gpt-a"));
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(metric(s.port(), R"(switchboard_circuit_state{provider="a",model="gpt-a"})"), 0);
}

TEST(Breaker, StreamsAlsoAnswer503WhenEveryTargetIsOpen) {
  FakeUpstream a, b;
  Server s({.config_toml = two_providers(a, b, "max_retries = 0\nbreaker_min_calls = 2\n")});
  a.set_default(failing(500));
  b.set_default(failing(500));
  for (int i = 0; i < 2; ++i) http(s.port(), "POST", "/v1/chat/completions", chat("smart"));
  auto r = http(s.port(), "POST", "/v1/chat/completions", chat("smart", true));
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->header("content-type"), "application/json");
  int retry_after = std::stoi(std::string(r->header("retry-after")));
  EXPECT_GE(retry_after, 1);
  EXPECT_LE(retry_after, 30);
}

TEST(Diagnosis, AFallbackChainsErrorNamesEveryTargetTried) {
  FakeUpstream a, b;
  Server s({.config_toml = two_providers(a, b, "max_retries = 1\nretry_backoff_ms = 1\n")});
  a.set_default(failing(500, "a is down"));
  b.set_default(failing(429, "b is rate limited"));
  auto r = http(s.port(), "POST", "/v1/chat/completions", chat("smart"));
  ASSERT_EQ(r->status, 429) << r->body;
  auto attempts = json::parse(r->body).at("error").at("attempts").as_array();
  ASSERT_EQ(attempts.size(), 2u) << r->body;
  EXPECT_EQ(attempts[0].at("provider"), "a");
  EXPECT_EQ(attempts[0].at("model"), "gpt-a");
  EXPECT_EQ(attempts[0].at("outcome"), "error");
  EXPECT_EQ(attempts[0].at("calls"), 2);
  EXPECT_EQ(attempts[0].at("status"), 500);
  EXPECT_EQ(attempts[0].at("code"), "upstream_error");
  EXPECT_NE(std::string(attempts[0].at("message").as_string()).find("a is down"), std::string::npos) << r->body;
  EXPECT_EQ(attempts[1].at("provider"), "b");
  EXPECT_EQ(attempts[1].at("status"), 429);
  EXPECT_EQ(attempts[1].at("code"), "rate_limit_exceeded");
}

TEST(Diagnosis, AnOpenBreakerTellsSdksNotToRetryUnlessATargetIsBackSoon) {
  FakeUpstream a, b;
  Server s({.config_toml = two_providers(a, b, "max_retries = 0\nbreaker_min_calls = 2\nbreaker_open_ms = 20000\n")});
  a.set_default(failing(500));
  for (int i = 0; i < 2; ++i) http(s.port(), "POST", "/v1/chat/completions", chat("a/gpt-a"));
  auto r = http(s.port(), "POST", "/v1/chat/completions", chat("a/gpt-a"));
  ASSERT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(r->header("x-should-retry"), "false");
  auto attempts = json::parse(r->body).at("error").at("attempts").as_array();
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].at("outcome"), "circuit_open");
  EXPECT_GT(attempts[0].at("retry_in_ms").as_int64(), 5000);

  FakeUpstream c, d;
  Server soon({.config_toml = two_providers(c, d, "max_retries = 0\nbreaker_min_calls = 2\nbreaker_open_ms = 2000\n")});
  c.set_default(failing(500));
  for (int i = 0; i < 2; ++i) http(soon.port(), "POST", "/v1/chat/completions", chat("a/gpt-a"));
  auto q = http(soon.port(), "POST", "/v1/chat/completions", chat("a/gpt-a"));
  ASSERT_EQ(q->status, 503) << q->body;
  EXPECT_EQ(q->header("x-should-retry"), "") << "back within seconds: the SDK may retry";
}

std::string mocks(const std::string& strategy, const std::string& targets, const std::string& extra = "") {
  return "[[providers]]\nname = \"m1\"\ntype = \"mock\"\n" + extra +
         "[[providers]]\nname = \"m2\"\ntype = \"mock\"\n"
         "[[routes]]\nname = \"r\"\nstrategy = \"" + strategy + "\"\ntargets = " + targets + "\n";
}

TEST(Routing, WeightedSpreadsByWeight) {
  Server s({.config_toml = mocks("weighted", R"([{ provider = "m1", model = "x", weight = 3 }, { provider = "m2", model = "x", weight = 1 }])")});
  std::map<std::string, int> seen;
  for (int i = 0; i < 200; ++i) {
    auto r = http(s.port(), "POST", "/v1/chat/completions", chat("r"));
    ASSERT_EQ(r->status, 200);
    ++seen[std::string(r->header("x-switchboard-provider"))];
  }
  EXPECT_GT(seen["m1"], 120) << seen["m1"];
  EXPECT_LT(seen["m1"], 180) << seen["m1"];
  EXPECT_EQ(seen["m1"] + seen["m2"], 200);
}

TEST(Routing, LeastLatencyPrefersTheFasterTarget) {
  Server s({.config_toml = mocks("least_latency", R"([{ provider = "m1", model = "x" }, { provider = "m2", model = "x" }])",
                                 "latency_ms = 40\n")});
  int fast = 0;
  for (int i = 0; i < 12; ++i) {
    auto r = http(s.port(), "POST", "/v1/chat/completions", chat("r"));
    ASSERT_EQ(r->status, 200);
    if (r->header("x-switchboard-provider") == "m2") ++fast;
  }
  EXPECT_GE(fast, 10);
}

TEST(Observability, ServerTimingTokensAndOverhead) {
  FakeUpstream a, b;
  Server s({.config_toml = two_providers(a, b, "")});
  a.push(ok());
  auto r = http(s.port(), "POST", "/v1/chat/completions", chat("a/gpt-a"));
  ASSERT_EQ(r->status, 200);
  std::string timing(r->header("server-timing"));
  EXPECT_EQ(timing.rfind("gateway;dur=", 0), 0u) << timing;
  EXPECT_NE(timing.find("upstream;dur="), std::string::npos);
  EXPECT_EQ(metric(s.port(), R"(switchboard_tokens_total{provider="a",model="gpt-a",kind="prompt"})"), 3);
  EXPECT_EQ(metric(s.port(), R"(switchboard_tokens_total{provider="a",model="gpt-a",kind="completion"})"), 4);
  EXPECT_GE(metric(s.port(), "switchboard_gateway_overhead_seconds_count"), 1);
}

TEST(Providers, TestCallsTheProviderLive) {
  FakeUpstream a, b;
  Server s({.config_toml = two_providers(a, b, "")});
  a.push(ok());
  auto r = http(s.port(), "POST", "/api/v1/providers/a/test", R"({"model":"gpt-a"})");
  ASSERT_EQ(r->status, 200) << r->body;
  auto v = json::parse(r->body);
  EXPECT_EQ(v.at("ok"), true);
  EXPECT_EQ(v.at("model"), "gpt-a");
  auto sent = json::parse(a.received().at(0).body);
  EXPECT_EQ(sent.at("max_tokens"), 1);
  a.push(failing(500));
  v = json::parse(http(s.port(), "POST", "/api/v1/providers/a/test", R"({"model":"gpt-a"})")->body);
  EXPECT_EQ(v.at("ok"), false);
  EXPECT_EQ(v.at("status"), 500);
  EXPECT_EQ(http(s.port(), "POST", "/api/v1/providers/nope/test", "{}")->status, 404);
  EXPECT_EQ(http(s.port(), "POST", "/api/v1/providers/a/test", "")->status, 400) << "no model to test";
  EXPECT_EQ(http(s.port(), "POST", "/api/v1/providers/a/test", "{bad")->status, 400);
}

std::vector<double> embedding(const json::value& v, std::size_t i) {
  std::vector<double> out;
  for (const auto& x : v.at("data").at(i).at("embedding").as_array()) out.push_back(x.as_double());
  return out;
}

double cosine(const std::vector<double>& x, const std::vector<double>& y) {
  double d = 0;
  for (std::size_t i = 0; i < x.size(); ++i) d += x[i] * y[i];
  return d;
}

TEST(Embeddings, MockEmbeddingsAreDeterministicNormalisedAndMeaningful) {
  Server s;
  auto r = http(s.port(), "POST", "/v1/embeddings",
                R"({"model":"mock/echo","input":["the cat sat on the mat","the cat sat on a mat","quarterly revenue report"],"dimensions":64})");
  ASSERT_EQ(r->status, 200) << r->body;
  auto v = json::parse(r->body);
  EXPECT_EQ(v.at("object"), "list");
  EXPECT_EQ(v.at("data").as_array().size(), 3u);
  EXPECT_EQ(v.at("data").at(2).at("index"), 2);
  auto e0 = embedding(v, 0), e1 = embedding(v, 1), e2 = embedding(v, 2);
  ASSERT_EQ(e0.size(), 64u);
  EXPECT_NEAR(cosine(e0, e0), 1.0, 1e-5);
  EXPECT_GT(cosine(e0, e1), cosine(e0, e2) + 0.3);
  EXPECT_GT(v.at("usage").at("prompt_tokens").as_int64(), 0);
  auto again = json::parse(http(s.port(), "POST", "/v1/embeddings",
                                R"({"model":"mock/echo","input":"the cat sat on the mat","dimensions":64})")->body);
  EXPECT_EQ(embedding(again, 0), e0);

  auto b64 = json::parse(http(s.port(), "POST", "/v1/embeddings",
                              R"({"model":"mock/echo","input":"x","encoding_format":"base64"})")->body);
  std::string enc(b64.at("data").at(0).at("embedding").as_string());
  EXPECT_EQ(enc.size(), (256u * 4 + 2) / 3 * 4) << "256 float32 values, base64";
}

// How many linearly independent directions the vectors span (Gram-Schmidt).
std::size_t independent_directions(const std::vector<std::vector<double>>& vectors) {
  std::vector<std::vector<double>> basis;
  for (auto x : vectors) {
    for (const auto& b : basis) {
      const double d = cosine(x, b);
      for (std::size_t k = 0; k < x.size(); ++k) x[k] -= d * b[k];
    }
    const double n = std::sqrt(cosine(x, x));
    if (n < 1e-3) continue;
    for (auto& c : x) c /= n;
    basis.push_back(std::move(x));
  }
  return basis.size();
}

// embedding_rank = 3: every vector lies in one 3-dimensional subspace of the 32 dimensions (so a
// fourth vector is a combination of three others), still deterministic, normalised and meaningful.
TEST(Embeddings, MockEmbeddingRankConfinesVectorsToASubspace) {
  Server s({.config_toml = "[[providers]]\nname = \"low\"\ntype = \"mock\"\nembedding_rank = 3\n"
                           "[[providers]]\nname = \"full\"\ntype = \"mock\"\n"});
  const std::string body =
      R"({"model":"low/e","dimensions":32,"input":["red apples and pears","red apples and plums","tax law reform",)"
      R"("river boats at dawn","quantum spin chains","red apples and pears"]})";
  auto r = http(s.port(), "POST", "/v1/embeddings", body);
  ASSERT_EQ(r->status, 200) << r->body;
  auto v = json::parse(r->body);
  std::vector<std::vector<double>> e;
  for (std::size_t i = 0; i < 6; ++i) e.push_back(embedding(v, i));
  ASSERT_EQ(e[0].size(), 32u);
  EXPECT_NEAR(cosine(e[0], e[0]), 1.0, 1e-5);
  EXPECT_EQ(e[5], e[0]);
  EXPECT_GT(cosine(e[0], e[1]), cosine(e[0], e[2]));
  // The five different texts: only three independent directions.
  EXPECT_EQ(independent_directions({e[0], e[1], e[2], e[3], e[4]}), 3u);
  // Without a rank the vectors are not so confined.
  auto full = json::parse(http(s.port(), "POST", "/v1/embeddings",
                               R"({"model":"full/e","dimensions":32,"input":["red apples and pears","red apples and plums","tax law reform","river boats at dawn","quantum spin chains"]})")
                              ->body);
  std::vector<std::vector<double>> unconfined;
  for (std::size_t i = 0; i < 5; ++i) unconfined.push_back(embedding(full, i));
  EXPECT_EQ(independent_directions(unconfined), 5u);
}

TEST(Embeddings, BadInputsAreRefusedNamingTheField) {
  Server s;
  auto code = [&](const std::string& body) {
    auto r = http(s.port(), "POST", "/v1/embeddings", body);
    auto v = json::parse(r->body);
    return std::to_string(r->status) + " " + std::string(v.at("error").at("param").is_string() ? v.at("error").at("param").as_string() : "");
  };
  EXPECT_EQ(code(R"({"input":"x"})"), "400 model");
  EXPECT_EQ(code(R"({"model":"mock/echo"})"), "400 input");
  EXPECT_EQ(code(R"({"model":"mock/echo","input":""})"), "400 input");
  EXPECT_EQ(code(R"({"model":"mock/echo","input":[]})"), "400 input");
  EXPECT_EQ(code(R"({"model":"mock/echo","input":[1,"a"]})"), "400 input");
  EXPECT_EQ(code(R"({"model":"mock/echo","input":{"a":1}})"), "400 input");
  EXPECT_EQ(code(R"({"model":"mock/echo","input":"x","dimensions":0})"), "400 dimensions");
  EXPECT_EQ(code(R"({"model":"mock/echo","input":"x","dimensions":"8"})"), "400 dimensions");
  EXPECT_EQ(code(R"({"model":"mock/echo","input":"x","encoding_format":"hex"})"), "400 encoding_format");
  EXPECT_EQ(code(R"({"model":"nope/x","input":"x"})"), "404 model");
}

TEST(Embeddings, OpenAiCompatibleUpstreamsGetTheRequestAsSent) {
  FakeUpstream a, b;
  Server s({.config_toml = two_providers(a, b, "")});
  Behavior e;
  e.body = R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"model":"emb","usage":{"prompt_tokens":2,"total_tokens":2}})";
  a.push(e);
  auto r = http(s.port(), "POST", "/v1/embeddings", R"({"model":"a/emb","input":["hello world"],"dimensions":2})");
  ASSERT_EQ(r->status, 200) << r->body;
  std::string answered = e.body;
  answered.replace(answered.find("\"emb\""), 5, "\"a/emb\"");
  EXPECT_EQ(r->body, answered) << "relayed as is, naming the model the client asked for";
  EXPECT_EQ(r->header("x-switchboard-model"), "emb");
  auto got = a.received().at(0);
  EXPECT_EQ(got.target, "/v1/embeddings");
  EXPECT_EQ(json::parse(got.body).at("dimensions"), 2);
  EXPECT_EQ(json::parse(got.body).at("model"), "emb");
}

}  // namespace
}  // namespace sbtest
