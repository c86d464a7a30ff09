// The job service with a fake clock: retry backoff waits for the clock, TTL expiry, retention,
// and the admission watermarks with hysteresis. The service runs on a real io_context thread
// against the in-process mock provider; only stored times come from the fake clock.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <filesystem>
#include <thread>

#include "core/clock.hpp"
#include "gateway/gateway.hpp"
#include "http/client.hpp"
#include "jobs/queue.hpp"
#include "jobs/service.hpp"
#include "storage/database.hpp"

namespace sb::jobs {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class JobServiceTest : public ::testing::Test {
 protected:
  void start(std::int64_t max_queued = 1000, int concurrency = 16) {
    dir_ = std::filesystem::temp_directory_path() /
           ("sb-jobsvc-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    config_.storage.data_dir = dir_.string();
    config_.gateway.max_retries = 0;
    config_.jobs.retry_backoff_ms = 60000;
    config_.jobs.retry_backoff_max_ms = 60000;
    config_.jobs.sweep_interval_ms = 3600000;  // sweeps only when the test calls sweep_once
    config_.jobs.max_queued = max_queued;
    config_.jobs.concurrency = concurrency;
    core::ProviderConfig ok;
    ok.name = "ok";
    ok.type = "mock";
    core::ProviderConfig down = ok;
    down.name = "down";
    down.fail_rate = 1;
    down.fail_status = 503;
    config_.providers = {ok, down};
    auto db = storage::Database::open(config_.storage);
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(*db);
    queue_ = make_sqlite_queue(*db_);
    gateway_ = std::make_unique<gateway::Gateway>(config_, client_, registry_);
    service_ = std::make_unique<Service>(config_, *queue_, *gateway_, client_, registry_, clock_,
                                         std::vector<asio::io_context*>{&io_});
    service_->start();
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (service_) service_->stop();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
    service_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Runs an awaitable on the service's context and waits for its value.
  template <class T>
  T run(asio::awaitable<T> a) {
    auto wrapped = [](asio::awaitable<T> inner) -> asio::awaitable<std::optional<T>> {
      co_return co_await std::move(inner);
    };
    return *asio::co_spawn(io_, wrapped(std::move(a)), asio::use_future).get();
  }

  void run(asio::awaitable<void> a) { asio::co_spawn(io_, std::move(a), asio::use_future).get(); }

  Submit chat(const std::string& model, std::optional<std::int64_t> ttl = std::nullopt) {
    Submit s;
    s.type = "chat.completion";
    s.request = R"({"model":")" + model + R"(","messages":[{"role":"user","content":"hi"}]})";
    s.ttl_ms = ttl ? std::optional<std::int64_t>(*ttl * 1000) : std::nullopt;
    return s;
  }

  Job get(const std::string& id) {
    auto r = run(service_->get(id));
    EXPECT_TRUE(r && *r);
    return **r;
  }

  // Polls (real time) until pred(job) holds.
  bool wait_for(const std::string& id, const std::function<bool(const Job&)>& pred,
                std::chrono::milliseconds timeout = 3000ms) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (pred(get(id))) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  core::Config config_;
  std::filesystem::path dir_;
  core::FakeClock clock_;
  core::metrics::Registry registry_;
  http::Client client_;
  asio::io_context io_{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{asio::make_work_guard(io_)};
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<Queue> queue_;
  std::unique_ptr<gateway::Gateway> gateway_;
  std::unique_ptr<Service> service_;
  std::thread thread_;
};

TEST_F(JobServiceTest, ARetryWaitsForTheClockToReachItsBackoff) {
  start();
  auto r = run(service_->submit(chat("down/m")));
  ASSERT_TRUE(r) << r.error().message;
  const std::string id = r->job.id;
  ASSERT_TRUE(wait_for(id, [](const Job& j) { return j.attempts == 1 && j.status == "queued"; }));
  const Job waiting = get(id);
  EXPECT_GE(waiting.run_at, clock_.now_ms() + 30000) << "backoff is [base/2, base]";
  EXPECT_LE(waiting.run_at, clock_.now_ms() + 60000);
  std::this_thread::sleep_for(600ms);  // real time passes; the (fake) backoff does not
  EXPECT_EQ(get(id).attempts, 1);
  clock_.advance(60001);
  EXPECT_TRUE(wait_for(id, [](const Job& j) { return j.attempts >= 2; }));
}

TEST_F(JobServiceTest, AJobNotFinishedWithinItsTtlExpires) {
  start();
  auto r = run(service_->submit(chat("down/m", 600)));
  ASSERT_TRUE(r);
  const std::string id = r->job.id;
  ASSERT_TRUE(wait_for(id, [](const Job& j) { return j.attempts == 1; }));
  run(service_->sweep_once());
  EXPECT_EQ(get(id).status, "queued") << "not before its ttl";
  clock_.advance(600 * 1000);
  run(service_->sweep_once());
  const Job j = get(id);
  EXPECT_EQ(j.status, "expired");
  EXPECT_EQ(*j.finished_at, clock_.now_ms());
}

TEST_F(JobServiceTest, FinishedJobsArePurgedAfterTheRetention) {
  start();
  auto r = run(service_->submit(chat("ok/echo")));
  ASSERT_TRUE(r);
  const std::string id = r->job.id;
  ASSERT_TRUE(wait_for(id, [](const Job& j) { return j.status == "completed"; }));
  clock_.advance(config_.jobs.retention_s * 1000 - 1000);
  run(service_->sweep_once());
  EXPECT_TRUE(*run(service_->get(id)));
  clock_.advance(2000);
  run(service_->sweep_once());
  EXPECT_FALSE(*run(service_->get(id))) << "gone after retention";
}

TEST_F(JobServiceTest, AdmissionClosesAtTheHighWatermarkAndReopensBelowTheLow) {
  start(10);
  std::vector<std::string> ids;
  for (;;) {
    auto r = run(service_->submit(chat("down/m")));
    if (!r) {
      EXPECT_EQ(r.error().kind, core::ErrorKind::busy);
      EXPECT_GT(r.error().retry_after_ms, 0);
      break;
    }
    ids.push_back(r->job.id);
    ASSERT_LT(ids.size(), 10u);
  }
  EXPECT_EQ(ids.size(), 8u) << "80% of 10";
  EXPECT_FALSE(service_->admitting());
  ASSERT_TRUE(run(service_->cancel(ids[0]))->applied);
  ASSERT_TRUE(run(service_->cancel(ids[1]))->applied);
  EXPECT_FALSE(run(service_->submit(chat("down/m")))) << "6 of 10 is not below the low watermark";
  ASSERT_TRUE(run(service_->cancel(ids[2]))->applied);
  EXPECT_TRUE(run(service_->submit(chat("down/m")))) << "5 of 10 is";
  EXPECT_TRUE(service_->admitting());
}

TEST_F(JobServiceTest, ConcurrencyZeroAcceptsJobsAndRunsNone) {
  start(1000, 0);
  auto r = run(service_->submit(chat("ok/echo")));
  ASSERT_TRUE(r);
  std::this_thread::sleep_for(600ms);
  const Job j = get(r->job.id);
  EXPECT_EQ(j.status, "queued");
  EXPECT_EQ(j.attempts, 0);
}

}  // namespace
}  // namespace sb::jobs
