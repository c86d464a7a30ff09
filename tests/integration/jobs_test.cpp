// The job API through the real binary: lifecycle, bad input, idempotency, cancellation, listing,
// SSE events, signed webhooks with retries, queue-when-down with a breaker that opens and
// recovers, capacity watermarks, and kill -9 in the middle of running jobs.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <ctime>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <set>

#include "fake_upstream.hpp"
#include "harness.hpp"

namespace sbtest {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string chat_request(const std::string& model, const std::string& text = "hi") {
  return R"({"model":")" + model + R"(","messages":[{"role":"user","content":")" + text + R"("}]})";
}

std::string job(const std::string& model, const std::string& extra = "") {
  return R"({"type":"chat.completion","request":)" + chat_request(model) + extra + "}";
}

std::string upstream_config(FakeUpstream& a, const std::string& extra = "") {
  return extra + "\n[[providers]]\nname = \"a\"\ntype = \"openai\"\nbase_url = \"" + a.url() +
         "/v1\"\ntimeout_ms = 5000\n";
}

json::object body_of(const std::optional<HttpResponse>& r) {
  EXPECT_TRUE(r);
  return json::parse(r->body).as_object();
}

std::string submit(int port, const std::string& body, int expect = 202) {
  auto r = http(port, "POST", "/api/v1/jobs", body);
  EXPECT_TRUE(r);
  EXPECT_EQ(r->status, expect) << r->body;
  if (!r || r->status != 202) return "";
  return std::string(json::parse(r->body).at("id").as_string());
}

// Polls the status until it is terminal (or the timeout passes); returns the last status object.
json::object wait_terminal(int port, const std::string& id, milliseconds timeout = milliseconds(10000)) {
  const auto end = Clock::now() + timeout;
  json::object last;
  while (Clock::now() < end) {
    auto r = http(port, "GET", "/api/v1/jobs/" + id);
    if (r && r->status == 200) {
      last = json::parse(r->body).as_object();
      std::string s(last.at("status").as_string());
      if (s == "completed" || s == "failed" || s == "expired" || s == "cancelled") return last;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  return last;
}

std::string status_of(const json::object& o) {
  return o.contains("status") ? std::string(o.at("status").as_string()) : "";
}

TEST(Jobs, ASubmittedJobRunsAndItsResultIsTheSynchronousAnswer) {
  FakeUpstream a;
  a.set_default(completion("done later"));
  Server s({.config_toml = upstream_config(a)});
  auto r = http(s.port(), "POST", "/api/v1/jobs", job("a/gpt"));
  ASSERT_EQ(r->status, 202) << r->body;
  auto accepted = json::parse(r->body).as_object();
  std::string id(accepted.at("id").as_string());
  EXPECT_EQ(accepted.at("status"), "queued");
  EXPECT_EQ(accepted.at("status_url").as_string(), "/api/v1/jobs/" + id);
  EXPECT_EQ(accepted.at("result_url").as_string(), "/api/v1/jobs/" + id + "/result");
  EXPECT_TRUE(accepted.contains("created_at"));
  EXPECT_EQ(r->header("location"), "/api/v1/jobs/" + id);

  auto done = wait_terminal(s.port(), id);
  EXPECT_EQ(status_of(done), "completed");
  EXPECT_EQ(done.at("attempts"), 1);
  EXPECT_EQ(done.at("provider"), "a");
  auto result = http(s.port(), "GET", "/api/v1/jobs/" + id + "/result");
  ASSERT_EQ(result->status, 200);
  EXPECT_EQ(json::parse(result->body).at("choices").at(0).at("message").at("content"), "done later");
  // The aliases answer the same.
  EXPECT_EQ(http(s.port(), "GET", "/api/v1/results/" + id)->body, result->body);
  EXPECT_EQ(json::parse(http(s.port(), "GET", "/api/v1/status/" + id)->body).at("status"), "completed");
  // The upstream got the request as sent, without stream.
  auto got = json::parse(a.received().at(0).body).as_object();
  EXPECT_EQ(got.at("model"), "gpt");
  EXPECT_FALSE(got.contains("stream"));
  EXPECT_EQ(metric(s.port(), "switchboard_jobs_completed_total"), 1);
  EXPECT_TRUE(s.wait_for_log("\"job_status\":\"completed\""));
}

TEST(Jobs, BadSubmissionsAreRefusedWithTheFieldNamed) {
  FakeUpstream a;
  Server s({.config_toml = upstream_config(a)});
  auto check = [&](const std::string& body, int status, const std::string& param) {
    auto r = http(s.port(), "POST", "/api/v1/jobs", body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << body << " -> " << r->body;
    auto e = json::parse(r->body).at("error").as_object();
    if (!param.empty()) {
      EXPECT_EQ(std::string(e.at("param").as_string()), param) << r->body;
    }
  };
  check("{not json", 400, "");
  check(R"({"request":{}})", 400, "type");
  check(R"({"type":"image","request":{}})", 400, "type");
  check(R"({"type":"chat.completion"})", 400, "request");
  check(R"({"type":"chat.completion","request":{"model":"a/x"}})", 400, "request.messages");
  check(R"({"type":"embeddings","request":{"model":"a/x","input":7}})", 400, "request.input");
  check(job("nobody/x"), 404, "");
  check(job("a/x", R"(,"priority":"high")"), 400, "priority");
  check(job("a/x", R"(,"ttl_ms":999)"), 400, "ttl_ms");
  check(job("a/x", R"(,"ttl_s":60)"), 400, "ttl_s");
  check(job("a/x", R"(,"max_attempts":1000)"), 400, "max_attempts");
  check(job("a/x", R"(,"webhook_url":"ftp://x")"), 400, "webhook_url");
  check(job("a/x", R"(,"webhook_url":"http://127.0.0.1:9/hook")"), 400, "webhook_url");
  check(job("a/x", R"(,"webhook_url":"http://10.1.2.3/hook")"), 400, "webhook_url");
  // Every spelling the resolver reads as a private address is refused at submit.
  for (const char* host : {"0x7f.1", "2130706433", "0177.0.0.1", "127.1", "localhost.", "[::127.0.0.1]",
                           "[::ffff:0:7f00:1]", "[64:ff9b::a9fe:a9fe]", "[2002:7f00:1::]"}) {
    check(job("a/x", std::string(R"(,"webhook_url":"http://)") + host + R"(/hook")"), 400, "webhook_url");
  }
  EXPECT_EQ(http(s.port(), "GET", "/api/v1/jobs/job_nope")->status, 404);
  EXPECT_EQ(http(s.port(), "GET", "/api/v1/jobs/job_nope/result")->status, 404);
  EXPECT_EQ(http(s.port(), "DELETE", "/api/v1/jobs/job_nope")->status, 404);
  EXPECT_EQ(http(s.port(), "GET", "/api/v1/jobs?status=weird")->status, 400);
  EXPECT_EQ(http(s.port(), "GET", "/api/v1/jobs?limit=0")->status, 400);
  EXPECT_EQ(http(s.port(), "GET", "/api/v1/jobs?cursor=abc")->status, 400);
  EXPECT_TRUE(a.received().empty());
  // Still serving.
  EXPECT_EQ(http(s.port(), "GET", "/health")->status, 200);
}

TEST(Jobs, ABatchIsAcceptedWholeOrNotAtAll) {
  FakeUpstream a;
  a.set_default(completion("batched"));
  Server s({.config_toml = upstream_config(a)});
  const std::string one = R"({"type":"chat.completion","request":)" + chat_request("a/gpt") + "}";
  auto bad = http(s.port(), "POST", "/api/v1/jobs/batch",
                  R"({"jobs":[)" + one + R"(,{"type":"chat.completion","request":{"model":"a/gpt"}}]})");
  ASSERT_EQ(bad->status, 400);
  EXPECT_EQ(json::parse(bad->body).at("error").at("param").as_string(), "jobs[1].request.messages");
  EXPECT_EQ(http(s.port(), "POST", "/api/v1/jobs/batch", R"({"jobs":[]})")->status, 400);
  EXPECT_EQ(http(s.port(), "POST", "/api/v1/jobs/batch", R"({"jobs":[7]})")->status, 400);
  EXPECT_TRUE(body_of(http(s.port(), "GET", "/api/v1/jobs")).at("data").as_array().empty())
      << "a refused batch stores nothing";
  auto ok = http(s.port(), "POST", "/api/v1/jobs/batch", R"({"jobs":[)" + one + "," + one + "," + one + "]}");
  ASSERT_EQ(ok->status, 202) << ok->body;
  auto data = json::parse(ok->body).at("data").as_array();
  ASSERT_EQ(data.size(), 3u);
  for (const auto& j : data) {
    EXPECT_EQ(status_of(wait_terminal(s.port(), std::string(j.at("id").as_string()))), "completed");
  }
  EXPECT_EQ(a.received().size(), 3u);
}

TEST(Jobs, TheSameIdempotencyKeyReturnsTheSameJob) {
  FakeUpstream a;
  a.set_default(completion("once"));
  Server s({.config_toml = upstream_config(a)});
  auto first = http(s.port(), "POST", "/api/v1/jobs", job("a/gpt", R"(,"idempotency_key":"order-42")"));
  auto second = http(s.port(), "POST", "/api/v1/jobs", job("a/gpt", R"(,"idempotency_key":"order-42")"));
  auto by_header = http(s.port(), "POST", "/api/v1/jobs", job("a/gpt"), {{"Idempotency-Key", "order-42"}});
  ASSERT_EQ(first->status, 202);
  ASSERT_EQ(second->status, 202);
  const auto id = json::parse(first->body).at("id");
  EXPECT_EQ(json::parse(second->body).at("id"), id);
  EXPECT_EQ(json::parse(by_header->body).at("id"), id);
  EXPECT_EQ(second->header("x-switchboard-idempotent-replay"), "true");
  EXPECT_EQ(first->header("x-switchboard-idempotent-replay"), "");
  wait_terminal(s.port(), std::string(id.as_string()));
  EXPECT_EQ(a.received().size(), 1u);
  // The same key for a different request is refused, naming the first job.
  auto other = http(s.port(), "POST", "/api/v1/jobs", job("a/other", R"(,"idempotency_key":"order-42")"));
  ASSERT_EQ(other->status, 422) << other->body;
  EXPECT_EQ(code_of(*other), "idempotency_key_reused");
  EXPECT_NE(other->body.find(std::string(id.as_string())), std::string::npos) << other->body;
  EXPECT_EQ(a.received().size(), 1u);
}

TEST(Jobs, CancellingARunningJobDropsItsUpstreamCall) {
  FakeUpstream a;
  Behavior slow = completion("too late");
  slow.delay_before_headers = milliseconds(3000);
  a.set_default(slow);
  Server s({.config_toml = upstream_config(a)});
  std::string id = submit(s.port(), job("a/gpt"));
  for (int i = 0; i < 100 && a.received().empty(); ++i) std::this_thread::sleep_for(milliseconds(10));
  ASSERT_EQ(a.received().size(), 1u);
  auto del = http(s.port(), "DELETE", "/api/v1/jobs/" + id);
  ASSERT_EQ(del->status, 200) << del->body;
  EXPECT_EQ(json::parse(del->body).at("status"), "cancelled");
  for (int i = 0; i < 100 && a.abandoned() == 0; ++i) std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(a.abandoned(), 1);
  EXPECT_EQ(http(s.port(), "GET", "/api/v1/jobs/" + id + "/result")->status, 409);
  EXPECT_EQ(http(s.port(), "DELETE", "/api/v1/jobs/" + id)->status, 409) << "already finished";
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(status_of(body_of(http(s.port(), "GET", "/api/v1/jobs/" + id))), "cancelled");
}

TEST(Jobs, ListingFiltersAndPages) {
  FakeUpstream a;
  a.set_default(completion("x"));
  Server s({.config_toml = upstream_config(a)});
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(submit(s.port(), job("a/gpt")));
  for (auto& id : ids) wait_terminal(s.port(), id);
  auto page = body_of(http(s.port(), "GET", "/api/v1/jobs?limit=2&status=completed"));
  ASSERT_EQ(page.at("data").as_array().size(), 2u);
  EXPECT_EQ(page.at("data").at(0).at("id").as_string(), ids[4]);
  EXPECT_EQ(page.at("has_more"), true);
  EXPECT_EQ(page.at("first_id").as_string(), ids[4]);
  EXPECT_EQ(page.at("last_id").as_string(), ids[3]);
  std::string cursor(page.at("last_id").as_string());
  auto rest = body_of(http(s.port(), "GET", "/api/v1/jobs?limit=10&after=" + cursor));
  ASSERT_EQ(rest.at("data").as_array().size(), 3u);
  EXPECT_EQ(rest.at("data").at(2).at("id").as_string(), ids[0]);
  EXPECT_EQ(rest.at("has_more"), false);
  auto back = body_of(http(s.port(), "GET", "/api/v1/jobs?limit=1&before=" + ids[2]));
  EXPECT_EQ(back.at("data").at(0).at("id").as_string(), ids[3]);
  auto oldest = body_of(http(s.port(), "GET", "/api/v1/jobs?limit=1&order=asc"));
  EXPECT_EQ(oldest.at("data").at(0).at("id").as_string(), ids[0]);
  auto empty = body_of(http(s.port(), "GET", "/api/v1/jobs?status=failed"));
  EXPECT_TRUE(empty.at("data").as_array().empty());
  EXPECT_TRUE(empty.at("first_id").is_null());
  EXPECT_EQ(http(s.port(), "GET", "/api/v1/jobs?after=job_nope")->status, 400);
  EXPECT_EQ(http(s.port(), "GET", "/api/v1/jobs?after=" + ids[0] + "&before=" + ids[1])->status, 400);
  // Times are Unix seconds.
  const auto created = page.at("data").at(0).at("created_at");
  ASSERT_TRUE(created.is_int64()) << created;
  EXPECT_NEAR(static_cast<double>(created.as_int64()), static_cast<double>(std::time(nullptr)), 120);
}

TEST(Jobs, RetryableFailuresAreRetriedWithBackoffAndTheLastErrorIsKept) {
  FakeUpstream a;
  a.push(failing(503));
  a.push(failing(500));
  a.push(completion("third time"));
  Server s({.config_toml = upstream_config(a, "[gateway]\nmax_retries = 0\n[jobs]\nretry_backoff_ms = 50\n")});
  std::string id = submit(s.port(), job("a/gpt"));
  auto done = wait_terminal(s.port(), id);
  EXPECT_EQ(status_of(done), "completed");
  EXPECT_EQ(done.at("attempts"), 3);

  // A non-retryable upstream answer fails at once with its status and message.
  Behavior bad = failing(400);
  bad.body = R"({"error":{"message":"bad tool schema","type":"invalid_request_error"}})";
  a.push(bad);
  std::string id2 = submit(s.port(), job("a/gpt"));
  auto failed = wait_terminal(s.port(), id2);
  EXPECT_EQ(status_of(failed), "failed");
  EXPECT_EQ(failed.at("attempts"), 1);
  auto res = http(s.port(), "GET", "/api/v1/jobs/" + id2 + "/result");
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(res->body.find("bad tool schema"), std::string::npos) << res->body;
  EXPECT_NE(json::serialize(failed.at("last_error")).find("bad tool schema"), std::string::npos);
}

TEST(Jobs, EventsStreamEachStatusAndCloseAfterTheLast) {
  FakeUpstream a;
  Behavior slow = completion("streamed status");
  slow.delay_before_headers = milliseconds(300);
  a.set_default(slow);
  Server s({.config_toml = upstream_config(a)});
  std::string id = submit(s.port(), job("a/gpt"));
  Client c(s.port());
  auto r = c.request("GET", "/api/v1/jobs/" + id + "/events");  // reads until the stream ends
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "text/event-stream");
  EXPECT_NE(r->body.find("event: status"), std::string::npos);
  EXPECT_NE(r->body.find("\"status\":\"processing\""), std::string::npos) << r->body;
  auto last = r->body.rfind("data: ");
  auto final_status = json::parse(r->body.substr(last + 6, r->body.find('\n', last) - last - 6));
  EXPECT_EQ(final_status.at("status"), "completed");
  EXPECT_EQ(final_status.at("result").at("choices").at(0).at("message").at("content"), "streamed status");
  EXPECT_EQ(http(s.port(), "GET", "/api/v1/jobs/job_nope/events")->status, 404);
}

std::string hmac_hex(const std::string& key, const std::string& msg) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
  std::string out;
  char b[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(b, sizeof b, "%02x", mac[i]);
    out += b;
  }
  return out;
}

TEST(Jobs, WebhooksAreSignedAndRetriedUntilDelivered) {
  FakeUpstream a, receiver;
  a.set_default(completion("hooked"));
  receiver.push(failing(500));  // the first delivery fails
  receiver.set_default(Behavior{});
  Server s({.env = {{"SWITCHBOARD_JOBS_WEBHOOK_SECRET", "whsec-test-1"}},
            .config_toml = upstream_config(a, "[jobs]\nwebhook_allow_private = true\n")});
  std::string id = submit(s.port(), job("a/gpt", R"(,"webhook_url":")" + receiver.url() + R"(/hooks/jobs")"));
  for (int i = 0; i < 300 && receiver.received().size() < 2; ++i) std::this_thread::sleep_for(milliseconds(20));
  auto got = receiver.received();
  ASSERT_EQ(got.size(), 2u) << "one failed delivery, then one that succeeded";
  for (const auto& req : got) {
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.target, "/hooks/jobs");
    const std::string ts = req.headers.at("x-switchboard-timestamp");
    EXPECT_EQ(req.headers.at("x-switchboard-signature"), "sha256=" + hmac_hex("whsec-test-1", ts + "." + req.body));
    EXPECT_NE(req.headers.at("x-switchboard-signature"), "sha256=" + hmac_hex("wrong", ts + "." + req.body));
    auto body = json::parse(req.body);
    EXPECT_EQ(body.at("id").as_string(), id);
    EXPECT_EQ(body.at("status"), "completed");
    EXPECT_EQ(body.at("result").at("choices").at(0).at("message").at("content"), "hooked");
  }
  EXPECT_EQ(got[0].headers.at("x-switchboard-delivery"), "1");
  EXPECT_EQ(got[1].headers.at("x-switchboard-delivery"), "2");
  json::object st;
  for (int i = 0; i < 100; ++i) {
    st = body_of(http(s.port(), "GET", "/api/v1/jobs/" + id));
    if (st.at("webhook").at("state") == "delivered") break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(st.at("webhook").at("state"), "delivered");
  EXPECT_EQ(st.at("webhook").at("attempts"), 2);
  EXPECT_EQ(st.at("webhook").at("last_status"), 200);
  // The secret never shows up in the logs.
  for (const auto& line : s.stdout_lines()) EXPECT_EQ(line.find("whsec-test-1"), std::string::npos) << line;
}

TEST(Jobs, QueueWhenDownAcceptsAJobAndRunsItAfterTheBreakerRecovers) {
  FakeUpstream a;
  a.set_default(failing(503));
  Server s({.config_toml = upstream_config(a, "[gateway]\nmax_retries = 0\nbreaker_min_calls = 2\n"
                                              "breaker_open_ms = 700\n")});
  // Open the breaker.
  for (int i = 0; i < 2; ++i) {
    EXPECT_GE(http(s.port(), "POST", "/v1/chat/completions", chat_request("a/gpt"))->status, 500);
  }
  const std::size_t calls = a.received().size();
  // immediate (the default): 503 with Retry-After, no call.
  auto now = http(s.port(), "POST", "/v1/chat/completions", chat_request("a/gpt"),
                  {{"X-Switchboard-Processing-Mode", "immediate"}});
  EXPECT_EQ(now->status, 503);
  EXPECT_FALSE(now->header("retry-after").empty());
  EXPECT_EQ(http(s.port(), "POST", "/v1/chat/completions", chat_request("a/gpt"),
                 {{"X-Switchboard-Processing-Mode", "sometimes"}})->status, 400);
  // queue_if_unavailable: a job instead.
  auto queued = http(s.port(), "POST", "/v1/chat/completions", chat_request("a/gpt", "keep me"),
                     {{"X-Switchboard-Processing-Mode", "queue_if_unavailable"}});
  ASSERT_EQ(queued->status, 202) << queued->body;
  std::string id(json::parse(queued->body).at("id").as_string());
  EXPECT_EQ(a.received().size(), calls) << "nothing was called while the circuit was open";
  // The upstream recovers; the job waits for the half-open probe without spending attempts.
  a.set_default(completion("back again"));
  auto done = wait_terminal(s.port(), id, milliseconds(8000));
  EXPECT_EQ(status_of(done), "completed");
  EXPECT_EQ(done.at("attempts"), 1);
  auto res = http(s.port(), "GET", "/api/v1/jobs/" + id + "/result");
  EXPECT_EQ(json::parse(res->body).at("choices").at(0).at("message").at("content"), "back again");
  EXPECT_NE(a.received().back().body.find("keep me"), std::string::npos);
  // With a working target, queue_if_unavailable answers at once.
  auto direct = http(s.port(), "POST", "/v1/chat/completions", chat_request("a/gpt"),
                     {{"X-Switchboard-Processing-Mode", "queue_if_unavailable"}});
  EXPECT_EQ(direct->status, 200);
}

TEST(Jobs, AdmissionStopsAtTheHighWatermarkAndReopensBelowTheLow) {
  FakeUpstream a;
  Behavior slow = completion("slow");
  slow.delay_before_headers = milliseconds(150);
  a.set_default(slow);
  Server s({.config_toml = upstream_config(a, "[jobs]\nconcurrency = 1\nmax_queued = 10\n"
                                              "sweep_interval_ms = 50\n")});
  std::vector<std::string> ids;
  std::optional<HttpResponse> refused;
  for (int i = 0; i < 12; ++i) {
    auto r = http(s.port(), "POST", "/api/v1/jobs", job("a/gpt"));
    if (r->status == 503) {
      refused = r;
      break;
    }
    ASSERT_EQ(r->status, 202);
    ids.push_back(std::string(json::parse(r->body).at("id").as_string()));
  }
  ASSERT_TRUE(refused) << "admission must stop";
  EXPECT_LE(ids.size(), 9u);
  EXPECT_GE(ids.size(), 8u);
  EXPECT_NE(refused->body.find("queue at capacity"), std::string::npos);
  EXPECT_FALSE(refused->header("retry-after").empty());
  // Still closed just below the high watermark (hysteresis)...
  bool reopened_early = false;
  for (int i = 0; i < 200; ++i) {
    auto st = body_of(http(s.port(), "GET", "/api/v1/jobs?status=queued&limit=100"));
    const auto queued = st.at("data").as_array().size();
    if (queued >= 6 && queued < 8) {
      if (http(s.port(), "POST", "/api/v1/jobs", job("a/gpt"))->status == 202) reopened_early = true;
      break;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_FALSE(reopened_early);
  // ...and open again once the queue drained below the low watermark.
  for (auto& id : ids) wait_terminal(s.port(), id);
  EXPECT_EQ(http(s.port(), "POST", "/api/v1/jobs", job("a/gpt"))->status, 202);
  EXPECT_GE(metric(s.port(), "switchboard_jobs_rejected_total"), 1);
}

TEST(Jobs, AProvidersJobConcurrencyCapsItsJobsAndLetsOthersPass) {
  FakeUpstream slow, fast;
  Behavior held = completion("slow one");
  held.delay_before_headers = milliseconds(400);
  slow.set_default(held);
  fast.set_default(completion("fast one"));
  Server s({.config_toml = "[jobs]\nconcurrency = 4\n[[providers]]\nname = \"slow\"\ntype = \"openai\"\nbase_url = \"" +
                           slow.url() + "/v1\"\njob_concurrency = 1\n[[providers]]\nname = \"fast\"\ntype = \"openai\"\nbase_url = \"" +
                           fast.url() + "/v1\"\n"});
  std::vector<std::string> slow_ids, fast_ids;
  for (int i = 0; i < 3; ++i) slow_ids.push_back(submit(s.port(), job("slow/m")));
  for (int i = 0; i < 3; ++i) fast_ids.push_back(submit(s.port(), job("fast/m")));
  for (auto& id : fast_ids) EXPECT_EQ(status_of(wait_terminal(s.port(), id, milliseconds(3000))), "completed");
  EXPECT_EQ(slow.received().size(), 1u) << "one job at a time for the capped provider";
  for (auto& id : slow_ids) EXPECT_EQ(status_of(wait_terminal(s.port(), id)), "completed");
  EXPECT_EQ(slow.received().size(), 3u);
}

TEST(Jobs, KillNineWhileJobsRunLosesNothing) {
  FakeUpstream a;
  Behavior slowish = completion("survived");
  slowish.delay_before_headers = milliseconds(30);
  a.set_default(slowish);
  TempDir dir;
  const std::string config = upstream_config(a, "[jobs]\nconcurrency = 4\nmax_attempts = 10\n");
  std::set<std::string> acknowledged;
  for (int round = 0; round < 4; ++round) {
    Server s({.config_toml = config, .data_dir = dir.path()});
    // Submit for a while, then kill -9 in the middle of it all.
    const auto until = Clock::now() + milliseconds(300 + 100 * round);
    while (Clock::now() < until) {
      auto r = http(s.port(), "POST", "/api/v1/jobs", job("a/gpt"));
      if (r && r->status == 202) acknowledged.insert(std::string(json::parse(r->body).at("id").as_string()));
    }
    s.kill9();
  }
  ASSERT_GT(acknowledged.size(), 20u);
  Server s({.config_toml = config, .data_dir = dir.path()});
  // Every acknowledged job reaches completed (one overall deadline; a slow machine only waits).
  const auto deadline = Clock::now() + milliseconds(90000);
  for (const auto& id : acknowledged) {
    json::object st;
    while (Clock::now() < deadline) {
      st = wait_terminal(s.port(), id, milliseconds(1000));
      if (!status_of(st).empty() && status_of(st) != "queued" && status_of(st) != "processing") break;
    }
    ASSERT_EQ(status_of(st), "completed") << id << " of " << acknowledged.size() << ": " << json::serialize(st);
  }
  auto list = body_of(http(s.port(), "GET", "/api/v1/jobs?status=completed&limit=100"));
  EXPECT_FALSE(list.at("data").as_array().empty());
}

}  // namespace
}  // namespace sbtest
