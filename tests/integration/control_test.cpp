// The control plane through the real binary: keys (401 vs 403, revocation, rotation), rate
// limits with their headers (rpm, tpm reserved then corrected, max_parallel, ip_rpm), budgets
// under concurrency, usage rows kept across SIGTERM, the audit log, and secrets kept out of logs.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <csignal>
#include <future>
#include <thread>

#include "fake_upstream.hpp"
#include "harness.hpp"

namespace sbtest {
namespace {

namespace json = boost::json;

const std::string kAdmin = "sb-test-admin-key-from-config";

std::string config_for(FakeUpstream& up, const std::string& extra = "") {
  return "[limits]\nusage_flush_ms = 60000\n" + extra +
         "[[providers]]\nname = \"fake\"\ntype = \"openai\"\nbase_url = \"" + up.url() + "/v1\"\n"
         "[[providers]]\nname = \"mock\"\ntype = \"mock\"\nmodels = [\"echo\", \"embed\"]\n"
         "[[providers]]\nname = \"slow\"\ntype = \"mock\"\nlatency_ms = 400\n"
         "[[prices]]\nmodel = \"fake/*\"\ninput_per_mtok = 1000000\noutput_per_mtok = 1000000\n";
}

std::map<std::string, std::string> bearer(const std::string& key) {
  return {{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}};
}

std::string chat(const std::string& model, int max_tokens = 0, bool stream = false) {
  std::string b = R"({"model":")" + model + R"(","messages":[{"role":"user","content":"hi"}])";
  if (max_tokens) b += R"(,"max_tokens":)" + std::to_string(max_tokens);
  if (stream) b += R"(,"stream":true,"stream_options":{"include_usage":true})";
  return b + "}";
}

json::value body_of(const HttpResponse& r) { return json::parse(r.body); }

// Creates a key with an admin credential; returns {id, secret}.
std::pair<std::string, std::string> make_key(int port, const std::string& admin, const std::string& spec) {
  auto r = http(port, "POST", "/api/v1/keys", spec, bearer(admin));
  EXPECT_TRUE(r);
  if (!r) return {};
  EXPECT_EQ(r->status, 201) << r->body;
  if (r->status != 201) return {};
  auto v = body_of(*r);
  return {std::string(v.at("id").as_string()), std::string(v.at("secret").as_string())};
}

class ControlTest : public ::testing::Test {
 protected:
  void start(const std::string& extra = "", std::map<std::string, std::string> env = {{"SWITCHBOARD_API_KEY", kAdmin}},
             std::string data_dir = "") {
    server_ = std::make_unique<Server>(ServerOptions{.env = env, .config_toml = config_for(up_, extra), .data_dir = data_dir});
  }
  int port() { return server_->port(); }
  FakeUpstream up_;
  std::unique_ptr<Server> server_;
};

TEST_F(ControlTest, AnOpenServerClosesWhenItsFirstAdminKeyIsCreated) {
  start("", {});
  EXPECT_TRUE(server_->wait_for_log("open: no key needed"));
  auto open = http(port(), "GET", "/v1/models");
  ASSERT_TRUE(open);
  EXPECT_EQ(open->status, 200);
  auto not_admin = http(port(), "POST", "/api/v1/keys", R"({"name":"first","scopes":["chat"]})");
  ASSERT_TRUE(not_admin);
  EXPECT_EQ(not_admin->status, 400) << not_admin->body;
  auto [id, secret] = make_key(port(), "", R"({"name":"root","scopes":["admin"]})");
  ASSERT_FALSE(secret.empty());
  auto closed = http(port(), "GET", "/v1/models");
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->status, 401);
  EXPECT_EQ(closed->header("www-authenticate"), "Bearer");
  auto with = http(port(), "GET", "/v1/models", "", bearer(secret));
  ASSERT_TRUE(with);
  EXPECT_EQ(with->status, 200);
}

TEST_F(ControlTest, MissingOrUnknownKeysAre401AndMissingScopesModelsCollections403) {
  start();
  auto [id, secret] = make_key(port(), kAdmin,
                               R"({"name":"embedder","scopes":["embeddings","knowledge:read"],"models":["mock/embed"],"collections":["docs"]})");
  auto none = http(port(), "POST", "/v1/chat/completions", chat("mock/echo"));
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(code_of(*none), "invalid_api_key");
  auto wrong = http(port(), "POST", "/v1/chat/completions", chat("mock/echo"), bearer(secret + "x"));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(body_of(*wrong).at("error").at("message"), "invalid API key");

  auto scope = http(port(), "POST", "/v1/chat/completions", chat("mock/echo"), bearer(secret));
  ASSERT_TRUE(scope);
  EXPECT_EQ(scope->status, 403);
  EXPECT_EQ(body_of(*scope).at("error").at("type"), "permission_error");
  EXPECT_NE(scope->body.find("'chat'"), std::string::npos) << scope->body;

  auto model = http(port(), "POST", "/v1/embeddings", R"({"model":"mock/other","input":"x"})", bearer(secret));
  ASSERT_TRUE(model);
  EXPECT_EQ(model->status, 403);
  EXPECT_NE(model->body.find("mock/other"), std::string::npos) << model->body;
  // Neither an escaped name nor an earlier nested "model" gets past the allow-list.
  auto escaped = http(port(), "POST", "/v1/embeddings", R"({"model":"mock\/other","input":"x"})", bearer(secret));
  ASSERT_TRUE(escaped);
  EXPECT_EQ(escaped->status, 403) << escaped->body;
  auto nested = http(port(), "POST", "/v1/embeddings", R"({"user":{"model":"mock/embed"},"model":"mock/other","input":"x"})",
                     bearer(secret));
  ASSERT_TRUE(nested);
  EXPECT_EQ(nested->status, 403) << nested->body;
  auto ok = http(port(), "POST", "/v1/embeddings", R"({"model":"mock/embed","input":"x"})", bearer(secret));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;

  auto collection = http(port(), "POST", "/api/v1/search", R"({"collection":"secret-stuff","query":"x"})", bearer(secret));
  ASSERT_TRUE(collection);
  EXPECT_EQ(collection->status, 403);
  EXPECT_NE(collection->body.find("secret-stuff"), std::string::npos);
  auto sneaky = http(port(), "POST", "/api/v1/search", R"({"filters":{"metadata":{"collection":"docs"}},"collection":"secret-stuff","query":"x"})",
                     bearer(secret));
  ASSERT_TRUE(sneaky);
  EXPECT_EQ(sneaky->status, 403) << sneaky->body;
  // It lists only its own collections.
  ASSERT_EQ(http(port(), "POST", "/api/v1/collections", R"({"name":"docs"})", bearer(kAdmin))->status, 201);
  ASSERT_EQ(http(port(), "POST", "/api/v1/collections", R"({"name":"hidden"})", bearer(kAdmin))->status, 201);
  auto listed = http(port(), "GET", "/api/v1/collections", "", bearer(secret));
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->status, 200) << listed->body;
  EXPECT_EQ(body_of(*listed).at("data").as_array().size(), 1u) << listed->body;
  EXPECT_EQ(listed->body.find("hidden"), std::string::npos);
  auto admin_only = http(port(), "GET", "/api/v1/keys", "", bearer(secret));
  ASSERT_TRUE(admin_only);
  EXPECT_EQ(admin_only->status, 403);
  EXPECT_NE(admin_only->body.find("'admin'"), std::string::npos);
}

TEST_F(ControlTest, ARevokedKeyIsRefusedOnTheNextRequestAndRotationHasAGracePeriod) {
  start();
  auto [id, secret] = make_key(port(), kAdmin, R"({"name":"rotating","scopes":["chat"]})");
  Client c(port());  // a kept-alive connection: no per-connection cache of the key
  auto before = c.request("GET", "/v1/models", "", bearer(secret));
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, 200);

  auto rotated = http(port(), "POST", "/api/v1/keys/" + id + "/rotate", R"({"grace_period_ms":1500})", bearer(kAdmin));
  ASSERT_TRUE(rotated);
  ASSERT_EQ(rotated->status, 200) << rotated->body;
  std::string fresh(body_of(*rotated).at("secret").as_string());
  EXPECT_EQ(c.request("GET", "/v1/models", "", bearer(secret))->status, 200);  // within the grace period
  EXPECT_EQ(c.request("GET", "/v1/models", "", bearer(fresh))->status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1700));
  EXPECT_EQ(c.request("GET", "/v1/models", "", bearer(secret))->status, 401);
  EXPECT_EQ(c.request("GET", "/v1/models", "", bearer(fresh))->status, 200);

  auto revoked = http(port(), "DELETE", "/api/v1/keys/rotating", "", bearer(kAdmin));
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->status, 200);
  EXPECT_FALSE(body_of(*revoked).at("revoked_at").is_null());
  auto after = c.request("GET", "/v1/models", "", bearer(fresh));
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 401);
  EXPECT_NE(after->body.find("revoked"), std::string::npos);
  // The list still shows it, revoked; the secret is never shown again.
  auto list = http(port(), "GET", "/api/v1/keys?revoked=true", "", bearer(kAdmin));
  ASSERT_TRUE(list);
  EXPECT_EQ(body_of(*list).at("data").as_array().size(), 1u);
  EXPECT_EQ(list->body.find(fresh), std::string::npos);
  EXPECT_EQ(list->body.find("\"secret\""), std::string::npos);
}

TEST_F(ControlTest, RpmTripsWithOpenAIHeadersAndRetryAfter) {
  start();
  auto [id, secret] = make_key(port(), kAdmin, R"({"name":"slowpoke","scopes":["chat"],"rpm":3})");
  for (int i = 0; i < 3; ++i) {
    auto r = http(port(), "POST", "/v1/chat/completions", chat("mock/echo"), bearer(secret));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->header("x-ratelimit-limit-requests"), "3");
    EXPECT_EQ(r->header("x-ratelimit-remaining-requests"), std::to_string(2 - i));
    EXPECT_FALSE(r->header("x-ratelimit-reset-requests").empty());
    EXPECT_EQ(r->header("x-ratelimit-limit-tokens"), "");  // no tpm set: no token headers
  }
  auto r = http(port(), "POST", "/v1/chat/completions", chat("mock/echo"), bearer(secret));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(code_of(*r), "rate_limit_exceeded");
  EXPECT_NE(r->body.find("rpm 3"), std::string::npos) << r->body;
  EXPECT_FALSE(r->header("retry-after").empty());
  const int retry_ms = std::stoi(r->header("retry-after-ms"));
  EXPECT_GT(retry_ms, 15000);  // one request every 20 s
  EXPECT_LE(retry_ms, 20000);
  EXPECT_EQ(r->header("x-ratelimit-remaining-requests"), "0");
}

TEST_F(ControlTest, TokensAreReservedAtAdmissionAndCorrectedWithTheProvidersUsage) {
  start();
  auto [id, secret] = make_key(port(), kAdmin, R"({"name":"tokens","scopes":["chat"],"tpm":10000})");
  up_.push(completion("hello"));  // usage: 3 + 4
  auto r = http(port(), "POST", "/v1/chat/completions", chat("fake/gpt", 2000), bearer(secret));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const int reserved_left = std::stoi(r->header("x-ratelimit-remaining-tokens"));
  EXPECT_LT(reserved_left, 8000);  // 2000 + the prompt's estimate were reserved
  EXPECT_EQ(r->header("x-ratelimit-limit-tokens"), "10000");
  EXPECT_EQ(r->header("x-switchboard-cost-usd"), "7.0");  // 7 tokens at $1 each
  auto status = http(port(), "GET", "/api/v1/rate-limit/status", "", bearer(secret));
  ASSERT_TRUE(status);
  const auto tokens = body_of(*status).at("limits").at("tokens");
  // Corrected to the 7 used (a bucket refills 166 tokens a second, so only a lower bound holds).
  EXPECT_GE(tokens.at("remaining").as_int64(), 9992);

  // A stream too: the usage chunk corrects it at the end.
  Behavior sse;
  sse.headers = {{"Content-Type", "text/event-stream"}};
  sse.chunks = {"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n",
                "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6,\"total_tokens\":11}}\n\n",
                "data: [DONE]\n\n"};
  up_.push(sse);
  auto s = http(port(), "POST", "/v1/chat/completions", chat("fake/gpt", 3000, true), bearer(secret));
  ASSERT_TRUE(s);
  ASSERT_EQ(s->status, 200) << s->body;
  EXPECT_FALSE(s->header("x-ratelimit-remaining-tokens").empty());  // before the stream's first byte
  // (A stream is settled when its producer ends, just after its last byte reached the client.)
  std::int64_t remaining = 0;
  for (int i = 0; i < 50 && remaining < 9992 - 11; ++i) {
    if (i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto after = http(port(), "GET", "/api/v1/rate-limit/status", "", bearer(secret));
    ASSERT_TRUE(after);
    remaining = body_of(*after).at("limits").at("tokens").at("remaining").as_int64();
  }
  EXPECT_GE(remaining, 9992 - 11);  // uncorrected it would be under 7000
}

TEST_F(ControlTest, ATpmLimitRefusesWhatDoesNotFitAndSaysSo) {
  start();
  auto [id, secret] = make_key(port(), kAdmin, R"({"name":"tiny","scopes":["chat"],"tpm":100})");
  auto big = http(port(), "POST", "/v1/chat/completions", chat("mock/echo", 500), bearer(secret));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 429);
  EXPECT_NE(big->body.find("tpm 100"), std::string::npos) << big->body;
  EXPECT_EQ(big->header("x-should-retry"), "false");
  auto fits = http(port(), "POST", "/v1/chat/completions", chat("mock/echo", 50), bearer(secret));
  ASSERT_TRUE(fits);
  EXPECT_EQ(fits->status, 200) << fits->body;
  auto again = http(port(), "POST", "/v1/chat/completions", chat("mock/echo", 90), bearer(secret));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 429);
  EXPECT_NE(again->body.find("tpm 100"), std::string::npos);
}

TEST_F(ControlTest, MaxParallelRefusesTheRequestOverTheLimitWhileOthersRun) {
  start();
  auto [id, secret] = make_key(port(), kAdmin, R"({"name":"one-at-a-time","scopes":["chat"],"max_parallel":1})");
  auto first = std::async(std::launch::async, [&] {
    return http(port(), "POST", "/v1/chat/completions", chat("slow/echo"), bearer(secret));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  auto second = http(port(), "POST", "/v1/chat/completions", chat("slow/echo"), bearer(secret));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 429);
  EXPECT_NE(second->body.find("max_parallel 1"), std::string::npos) << second->body;
  auto f = first.get();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->status, 200);
  auto third = http(port(), "POST", "/v1/chat/completions", chat("mock/echo"), bearer(secret));
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 200);  // released when the first finished
}

TEST_F(ControlTest, KeylessTrafficIsLimitedPerIp) {
  start("ip_rpm = 2\n", {});
  EXPECT_EQ(http(port(), "GET", "/v1/models")->status, 200);
  EXPECT_EQ(http(port(), "GET", "/v1/models")->status, 200);
  auto r = http(port(), "GET", "/v1/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_NE(r->body.find("ip_rpm 2"), std::string::npos) << r->body;
  EXPECT_FALSE(r->header("retry-after").empty());
  // An X-Forwarded-For from a peer that is not a trusted proxy changes nothing.
  auto spoofed = http(port(), "GET", "/v1/models", "", {{"X-Forwarded-For", "9.9.9.9"}});
  ASSERT_TRUE(spoofed);
  EXPECT_EQ(spoofed->status, 429);
  // Health checks are not limited; the status endpoint is free and says where the client stands.
  EXPECT_EQ(http(port(), "GET", "/health")->status, 200);
  auto status = http(port(), "GET", "/api/v1/rate-limit/status");
  ASSERT_TRUE(status);
  ASSERT_EQ(status->status, 200);
  EXPECT_EQ(body_of(*status).at("limits").at("requests").at("remaining"), 0);
  EXPECT_EQ(body_of(*status).at("client_ip"), "127.0.0.1");
}

TEST_F(ControlTest, TrustedProxiesNameTheClient) {
  start("ip_rpm = 1\ntrusted_proxies = [\"127.0.0.1\"]\n", {});
  EXPECT_EQ(http(port(), "GET", "/v1/models", "", {{"X-Forwarded-For", "1.1.1.1"}})->status, 200);
  EXPECT_EQ(http(port(), "GET", "/v1/models", "", {{"X-Forwarded-For", "2.2.2.2"}})->status, 200);
  EXPECT_EQ(http(port(), "GET", "/v1/models", "", {{"X-Forwarded-For", "1.1.1.1"}})->status, 429);
}

TEST_F(ControlTest, TwentyConcurrentRequestsDoNotOvershootABudget) {
  start();
  // $1 per token: a request reserves its worst case (prompt estimate + max_tokens 10), then
  // costs 7 (3 + 4 tokens).
  auto [id, secret] =
      make_key(port(), kAdmin, R"({"name":"frugal","scopes":["chat"],"budget":{"amount_usd":60,"period":"month"}})");
  Behavior slow = completion("ok");
  slow.delay_before_headers = std::chrono::milliseconds(200);
  up_.set_default(slow);
  std::vector<std::future<std::optional<HttpResponse>>> calls;
  for (int i = 0; i < 20; ++i) {
    calls.push_back(std::async(std::launch::async, [&] {
      return http(port(), "POST", "/v1/chat/completions", chat("fake/gpt", 10), bearer(secret));
    }));
  }
  int ok = 0, refused = 0;
  for (auto& c : calls) {
    auto r = c.get();
    ASSERT_TRUE(r);
    if (r->status == 200) {
      ++ok;
    } else {
      ASSERT_EQ(r->status, 429) << r->body;
      EXPECT_EQ(body_of(*r).at("error").at("type"), "insufficient_quota");
      EXPECT_EQ(code_of(*r), "budget_exceeded");
      EXPECT_NE(r->body.find("of $60.0"), std::string::npos) << r->body;
      ++refused;
    }
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(refused, 0);
  auto status = http(port(), "GET", "/api/v1/rate-limit/status", "", bearer(secret));
  ASSERT_TRUE(status);
  const auto budget = body_of(*status).at("budget");
  EXPECT_LE(budget.at("spent_usd").to_number<double>(), 60.0);
  EXPECT_DOUBLE_EQ(budget.at("spent_usd").to_number<double>(), 7.0 * ok);
  EXPECT_DOUBLE_EQ(budget.at("reserved_usd").to_number<double>(), 0);
}

TEST_F(ControlTest, UsageRowsSurviveSigtermAndAreScopedToTheirKey) {
  TempDir dir;
  start("", {{"SWITCHBOARD_API_KEY", kAdmin}}, dir.path());
  auto [a_id, a] = make_key(port(), kAdmin, R"({"name":"a","scopes":["chat"]})");
  auto [b_id, b] = make_key(port(), kAdmin, R"({"name":"b","scopes":["chat"]})");
  for (int i = 0; i < 3; ++i) up_.push(completion("x"));
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(http(port(), "POST", "/v1/chat/completions", chat("fake/gpt"), bearer(a))->status, 200);
  }
  ASSERT_EQ(http(port(), "POST", "/v1/chat/completions", chat("mock/echo"), bearer(b))->status, 200);
  // usage_flush_ms is a minute: nothing was written yet; SIGTERM writes it.
  EXPECT_EQ(server_->stop(SIGTERM), 0);
  start("", {{"SWITCHBOARD_API_KEY", kAdmin}}, dir.path());
  auto all = http(port(), "GET", "/api/v1/usage?group_by=key", "", bearer(kAdmin));
  ASSERT_TRUE(all);
  ASSERT_EQ(all->status, 200) << all->body;
  auto groups = body_of(*all).at("data").as_array();
  ASSERT_EQ(groups.size(), 2u) << all->body;
  auto own = http(port(), "GET", "/api/v1/usage", "", bearer(a));
  ASSERT_TRUE(own);
  ASSERT_EQ(own->status, 200) << own->body;
  auto rows = body_of(*own).at("data").as_array();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(std::string(rows[0].at("key_id").as_string()), a_id);
  EXPECT_EQ(rows[0].at("target"), "fake/gpt");
  EXPECT_EQ(rows[0].at("prompt_tokens"), 3);
  EXPECT_EQ(rows[0].at("completion_tokens"), 4);
  EXPECT_DOUBLE_EQ(rows[0].at("cost_usd").to_number<double>(), 7.0);
  EXPECT_EQ(rows[0].at("status"), 200);
  auto other = http(port(), "GET", "/api/v1/usage?key=" + b_id, "", bearer(a));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 403);
  auto by_model = http(port(), "GET", "/api/v1/usage?group_by=model", "", bearer(kAdmin));
  ASSERT_TRUE(by_model);
  EXPECT_NE(by_model->body.find("\"model\":\"fake/gpt\""), std::string::npos) << by_model->body;
  auto bad = http(port(), "GET", "/api/v1/usage?group_by=colour", "", bearer(kAdmin));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  // The metrics count tokens and cost per key id.
  auto m = http(port(), "GET", "/metrics");
  ASSERT_TRUE(m);
}

TEST_F(ControlTest, AJobsTokensCountAgainstTheKeyThatSubmittedIt) {
  start();
  auto [id, secret] = make_key(port(), kAdmin, R"({"name":"batcher","scopes":["jobs"],"budget":{"amount_usd":50}})");
  up_.push(completion("done"));
  auto job = http(port(), "POST", "/api/v1/jobs",
                  R"({"type":"chat.completion","request":{"model":"fake/gpt","messages":[{"role":"user","content":"x"}]}})",
                  bearer(secret));
  ASSERT_TRUE(job);
  ASSERT_EQ(job->status, 202) << job->body;
  const std::string job_id(body_of(*job).at("id").as_string());
  std::string state;
  for (int i = 0; i < 100 && state != "completed"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    state = std::string(body_of(*http(port(), "GET", "/api/v1/jobs/" + job_id, "", bearer(secret))).at("status").as_string());
  }
  ASSERT_EQ(state, "completed");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the attempt's meter is settled after the result
  auto usage = http(port(), "GET", "/api/v1/usage", "", bearer(secret));
  ASSERT_TRUE(usage);
  ASSERT_EQ(usage->status, 200) << usage->body;
  auto rows = body_of(*usage).at("data").as_array();
  ASSERT_EQ(rows.size(), 1u) << usage->body;
  EXPECT_EQ(rows[0].at("route"), "job");
  EXPECT_EQ(std::string(rows[0].at("request_id").as_string()), job_id);
  EXPECT_EQ(rows[0].at("prompt_tokens"), 3);
  EXPECT_DOUBLE_EQ(rows[0].at("cost_usd").to_number<double>(), 7.0);
  auto status = http(port(), "GET", "/api/v1/rate-limit/status", "", bearer(secret));
  EXPECT_DOUBLE_EQ(body_of(*status).at("budget").at("spent_usd").to_number<double>(), 7.0) << status->body;
}

TEST_F(ControlTest, IngestionAndSearchEmbeddingsCountAgainstTheCallersKey) {
  start();
  auto [id, secret] = make_key(port(), kAdmin, R"({"name":"librarian","scopes":["knowledge:write","knowledge:read"]})");
  ASSERT_EQ(http(port(), "POST", "/api/v1/collections", R"({"name":"lib","embedding_model":"mock/embed"})", bearer(secret))->status,
            201);
  auto doc = http(port(), "POST", "/api/v1/index", R"({"collection":"lib","text":"Owls hunt at night and sleep by day."})",
                  bearer(secret));
  ASSERT_TRUE(doc);
  ASSERT_EQ(doc->status, 201) << doc->body;
  ASSERT_EQ(http(port(), "POST", "/api/v1/search", R"({"collection":"lib","query":"owls","mode":"semantic"})", bearer(secret))->status,
            200);
  auto usage = http(port(), "GET", "/api/v1/usage?order=asc", "", bearer(secret));
  ASSERT_TRUE(usage);
  const json::value v = body_of(*usage);
  std::vector<std::string> routes;
  for (const auto& r : v.at("data").as_array()) {
    routes.emplace_back(r.at("route").as_string());
    EXPECT_GT(r.at("prompt_tokens").as_int64(), 0) << usage->body;
    EXPECT_EQ(r.at("target"), "mock/embed");
  }
  // (the collection's creation probed the model too, and counts)
  ASSERT_GE(routes.size(), 2u) << usage->body << " " << doc->body;
  EXPECT_EQ(routes[routes.size() - 2], "/api/v1/index") << usage->body;
  EXPECT_EQ(routes.back(), "/api/v1/search") << usage->body;
}

TEST_F(ControlTest, WhatABudgetSpentSurvivesARestart) {
  TempDir dir;
  start("", {{"SWITCHBOARD_API_KEY", kAdmin}}, dir.path());
  auto [id, secret] =
      make_key(port(), kAdmin, R"({"name":"saver","scopes":["chat"],"budget":{"amount_usd":100,"period":"day"}})");
  up_.push(completion("x"));
  up_.push(completion("y"));
  ASSERT_EQ(http(port(), "POST", "/v1/chat/completions", chat("fake/gpt", 10), bearer(secret))->status, 200);
  ASSERT_EQ(http(port(), "POST", "/v1/chat/completions", chat("fake/gpt", 10), bearer(secret))->status, 200);
  EXPECT_EQ(server_->stop(SIGTERM), 0);
  start("", {{"SWITCHBOARD_API_KEY", kAdmin}}, dir.path());
  auto status = http(port(), "GET", "/api/v1/rate-limit/status", "", bearer(secret));
  ASSERT_TRUE(status);
  ASSERT_EQ(status->status, 200) << status->body;
  EXPECT_DOUBLE_EQ(body_of(*status).at("budget").at("spent_usd").to_number<double>(), 14.0) << status->body;
  EXPECT_DOUBLE_EQ(body_of(*status).at("budget").at("remaining_usd").to_number<double>(), 86.0);
}

TEST_F(ControlTest, EveryAuditedActionIsLoggedWithItsActorAndOutcome) {
  start();
  auto [id, secret] = make_key(port(), kAdmin, R"({"name":"audited","scopes":["knowledge:write","knowledge:read","jobs"]})");
  ASSERT_EQ(http(port(), "PATCH", "/api/v1/keys/" + id, R"({"rpm":100})", bearer(kAdmin))->status, 200);
  ASSERT_EQ(http(port(), "POST", "/api/v1/keys/" + id + "/rotate", "{}", bearer(kAdmin))->status, 200);
  auto fresh_key = http(port(), "GET", "/api/v1/keys/" + id, "", bearer(kAdmin));
  ASSERT_EQ(http(port(), "POST", "/api/v1/collections", R"({"name":"handbook"})", bearer(kAdmin))->status, 201);
  auto doc = http(port(), "POST", "/api/v1/documents", R"({"collection":"handbook","text":"hello there"})", bearer(kAdmin));
  ASSERT_TRUE(doc);
  ASSERT_EQ(doc->status, 201) << doc->body;
  std::string doc_id(body_of(*doc).at("id").as_string());
  ASSERT_EQ(http(port(), "DELETE", "/api/v1/documents/" + doc_id, "", bearer(kAdmin))->status, 200);
  ASSERT_EQ(http(port(), "POST", "/api/v1/documents/" + doc_id + "/restore", "", bearer(kAdmin))->status, 200);
  ASSERT_EQ(http(port(), "POST", "/api/v1/providers/mock/test", "", bearer(kAdmin))->status, 200);
  auto job = http(port(), "POST", "/api/v1/jobs",
                  R"({"type":"chat.completion","request":{"model":"slow/echo","messages":[{"role":"user","content":"x"}]}})",
                  bearer(kAdmin));
  ASSERT_TRUE(job);
  std::string job_id(body_of(*job).at("id").as_string());
  http(port(), "DELETE", "/api/v1/jobs/" + job_id, "", bearer(kAdmin));
  ASSERT_EQ(http(port(), "POST", "/api/v1/config/reload", "", bearer(kAdmin))->status, 200);
  ASSERT_EQ(http(port(), "DELETE", "/api/v1/collections/handbook", "", bearer(kAdmin))->status, 200);
  // Denied attempts are logged too.
  EXPECT_EQ(http(port(), "DELETE", "/api/v1/keys/" + id, "", bearer("sb-not-a-key"))->status, 401);
  ASSERT_EQ(http(port(), "DELETE", "/api/v1/keys/" + id, "", bearer(kAdmin))->status, 200);

  auto audit = http(port(), "GET", "/api/v1/audit?limit=100&order=asc", "", bearer(kAdmin));
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->status, 200) << audit->body;
  std::vector<std::string> actions;
  const json::value entries = body_of(*audit);
  for (const auto& e : entries.at("data").as_array()) {
    actions.emplace_back(e.at("action").as_string());
    EXPECT_EQ(e.at("client_ip"), "127.0.0.1");
    EXPECT_FALSE(e.at("request_id").as_string().empty());
  }
  const std::vector<std::string> want = {"key.created", "key.updated", "key.rotated", "collection.created",
                                         "document.created", "document.deleted", "document.restored", "provider.tested",
                                         "job.cancelled", "config.reloaded", "collection.deleted", "key.revoked",
                                         "key.revoked"};
  EXPECT_EQ(actions, want) << audit->body;
  auto v = body_of(*audit).at("data").as_array();
  EXPECT_EQ(v[0].at("actor"), "config:1");
  EXPECT_EQ(std::string(v[0].at("target").as_string()), id);
  EXPECT_EQ(v[0].at("outcome"), "success");
  EXPECT_EQ(v[11].at("outcome"), "denied");
  EXPECT_EQ(v[11].at("actor"), "anonymous");
  EXPECT_EQ(audit->body.find(secret), std::string::npos);
  auto filtered = http(port(), "GET", "/api/v1/audit?action=key.revoked", "", bearer(kAdmin));
  ASSERT_TRUE(filtered);
  EXPECT_EQ(body_of(*filtered).at("data").as_array().size(), 2u);
  auto not_admin = http(port(), "GET", "/api/v1/audit", "", bearer(secret));
  EXPECT_EQ(not_admin->status, 401);  // revoked by now
}

TEST_F(ControlTest, SecretsNeverAppearInLogsMetricsOrErrors) {
  start("", {{"SWITCHBOARD_API_KEY", kAdmin}, {"SWITCHBOARD_LOG_ACCESS_LOG", "true"}});
  auto [id, secret] = make_key(port(), kAdmin, R"({"name":"quiet","scopes":["chat"],"rpm":1})");
  http(port(), "POST", "/v1/chat/completions", chat("mock/echo"), bearer(secret));
  auto limited = http(port(), "POST", "/v1/chat/completions", chat("mock/echo"), bearer(secret));
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  EXPECT_EQ(limited->body.find(secret), std::string::npos);
  http(port(), "POST", "/v1/chat/completions", chat("mock/echo"), bearer(secret + "-typo"));
  auto m = http(port(), "GET", "/metrics", "", bearer(kAdmin));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body.find(secret.substr(3)), std::string::npos);
  EXPECT_NE(m->body.find("switchboard_key_tokens_total"), std::string::npos);
  server_->stop(SIGTERM);
  std::string logs = server_->stderr_text();
  for (const auto& l : server_->stdout_lines()) logs += l + "\n";
  EXPECT_EQ(logs.find(secret.substr(3)), std::string::npos);
  EXPECT_EQ(logs.find(kAdmin), std::string::npos);
}

TEST_F(ControlTest, BadKeyRequestsAreClearErrors) {
  start();
  struct Case {
    std::string body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {R"({"scopes":["chat","root"]})", 400, "invalid_value"},
      {R"({"scopes":"chat"})", 400, "invalid_type"},
      {R"({"scope":["chat"]})", 400, "unknown_parameter"},
      {R"({"name":"has space"})", 400, "invalid_value"},
      {R"({"rpm":-1})", 400, "invalid_value"},
      {R"({"rpm":1.5})", 400, "invalid_type"},
      {R"({"budget":{"amount_usd":5,"period":"week"}})", 400, "invalid_value"},
      {R"({"budget":{"period":"day"}})", 400, "invalid_value"},
      {R"({"budget":{"amount_usd":-1}})", 400, "invalid_value"},
      {R"({"expires_at":1000})", 400, "invalid_value"},
      {R"({"metadata":[1]})", 400, "invalid_type"},
      {R"({"name":)", 400, "invalid_json"},
  };
  for (const auto& c : cases) {
    auto r = http(port(), "POST", "/api/v1/keys", c.body, bearer(kAdmin));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, c.status) << c.body << " -> " << r->body;
    EXPECT_EQ(code_of(*r), c.code) << c.body;
  }
  make_key(port(), kAdmin, R"({"name":"twice"})");
  auto dup = http(port(), "POST", "/api/v1/keys", R"({"name":"twice"})", bearer(kAdmin));
  ASSERT_TRUE(dup);
  EXPECT_EQ(dup->status, 409);
  EXPECT_EQ(http(port(), "GET", "/api/v1/keys/key_nope", "", bearer(kAdmin))->status, 404);
  EXPECT_EQ(http(port(), "POST", "/api/v1/keys/key_nope/rotate", "", bearer(kAdmin))->status, 404);
  EXPECT_EQ(http(port(), "POST", "/api/v1/keys/twice/rotate", R"({"grace_period_ms":-1})", bearer(kAdmin))->status, 400);
  EXPECT_EQ(http(port(), "GET", "/api/v1/audit?from=yesterday", "", bearer(kAdmin))->status, 400);
  EXPECT_EQ(http(port(), "GET", "/api/v1/keys?limit=1000", "", bearer(kAdmin))->status, 400);
  // The server is still serving.
  EXPECT_EQ(http(port(), "GET", "/health")->status, 200);
}

Run cli(int port, const std::string& key, const std::string& args) {
  return run_in(".", args + " --server http://127.0.0.1:" + std::to_string(port), true, "SWITCHBOARD_API_KEY='" + key + "'");
}

TEST_F(ControlTest, TheKeysCommandManagesKeysOfARunningServer) {
  start();
  auto made = cli(port(), kAdmin, "keys create --name deploy --scopes chat,jobs --rpm 60 --budget 2.5 --budget-period day");
  ASSERT_EQ(made.code, 0) << made.out;
  auto v = json::parse(made.out);
  EXPECT_EQ(v.at("rpm"), 60);
  EXPECT_EQ(v.at("budget").at("period"), "day");
  const std::string secret(v.at("secret").as_string());
  EXPECT_EQ(http(port(), "GET", "/v1/models", "", bearer(secret))->status, 200);
  auto list = cli(port(), kAdmin, "keys list");
  ASSERT_EQ(list.code, 0) << list.out;
  EXPECT_NE(list.out.find("deploy"), std::string::npos);
  EXPECT_NE(list.out.find("active"), std::string::npos);
  EXPECT_EQ(list.out.find(secret), std::string::npos);
  auto rotated = cli(port(), kAdmin, "keys rotate deploy");
  ASSERT_EQ(rotated.code, 0) << rotated.out;
  EXPECT_EQ(http(port(), "GET", "/v1/models", "", bearer(secret))->status, 401);
  ASSERT_EQ(cli(port(), kAdmin, "keys revoke deploy").code, 0);
  EXPECT_NE(cli(port(), kAdmin, "keys list").out.find("revoked"), std::string::npos);
  EXPECT_EQ(cli(port(), kAdmin, "keys create --scopes nope").code, 1);
  EXPECT_EQ(cli(port(), "sb-wrong", "keys list").code, 1);
  EXPECT_EQ(cli(port(), kAdmin, "keys").code, 2);
  EXPECT_EQ(cli(port(), kAdmin, "keys create --rpm many").code, 2);
  auto usage = cli(port(), kAdmin, "usage --group-by model");
  EXPECT_EQ(usage.code, 0) << usage.out;
  EXPECT_EQ(cli(1, kAdmin, "keys list").code, 2);  // nothing listens there
}

}  // namespace
}  // namespace sbtest
