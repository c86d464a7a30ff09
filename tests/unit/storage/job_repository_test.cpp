// The job table's lifecycle with explicit (fake) times: claim order, leases, retries, deferrals,
// TTL, retention, idempotency, webhooks; and the database's group-commit writer.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/detached.hpp>

#include <filesystem>

#include "storage/database.hpp"
#include "storage/job_repository.hpp"

namespace sb::storage {
namespace {

constexpr std::int64_t T0 = 1'700'000'000'000;
constexpr std::int64_t kHour = 3'600'000;

class JobRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sb-jobs-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    core::StorageConfig cfg;
    cfg.data_dir = dir_.string();
    auto db = Database::open(cfg);
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(*db);
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  template <class F>
  auto sync(F f) {
    return db_->run_sync(f);
  }

  JobRow insert(std::string id, int priority = 0, std::int64_t now = T0,
                std::optional<std::string> webhook = std::nullopt, int max_attempts = 3) {
    JobInsert in;
    in.id = std::move(id);
    in.type = "chat.completion";
    in.priority = priority;
    in.request = R"({"model":"mock/echo"})";
    in.max_attempts = max_attempts;
    in.webhook_url = std::move(webhook);
    in.now = now;
    in.expires_at = now + 4 * kHour;
    auto r = sync([&](Connection& c) { return JobRepository::insert(c, in); });
    EXPECT_TRUE(r) << r.error().message;
    return r->row;
  }

  std::vector<JobRow> claim(std::int64_t now, int limit = 10, std::string owner = "w1") {
    auto r = sync([&](Connection& c) { return JobRepository::claim(c, now, owner, 60000, limit); });
    EXPECT_TRUE(r) << r.error().message;
    return *r;
  }

  JobRow get(const std::string& id) {
    auto r = sync([&](Connection& c) { return JobRepository::get(c, id); });
    EXPECT_TRUE(r && *r);
    return **r;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(JobRepositoryTest, ClaimTakesHighestPriorityThenOldestAndCountsTheAttempt) {
  insert("a", 0, T0);
  insert("b", 5, T0 + 1);
  insert("c", 0, T0 + 2);
  auto got = claim(T0 + 10, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, "b");
  EXPECT_EQ(got[1].id, "a");
  EXPECT_EQ(got[0].status, "processing");
  EXPECT_EQ(got[0].attempts, 1);
  EXPECT_EQ(*got[0].lease_until, T0 + 10 + 60000);
  auto rest = claim(T0 + 10);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].id, "c");
  EXPECT_TRUE(claim(T0 + 10).empty());
}

TEST_F(JobRepositoryTest, IdempotencyKeyReturnsTheExistingJob) {
  JobInsert in;
  in.id = "first";
  in.type = "embeddings";
  in.request = "{}";
  in.idempotency_key = "k-1";
  in.now = T0;
  in.expires_at = T0 + kHour;
  auto a = sync([&](Connection& c) { return JobRepository::insert(c, in); });
  in.id = "second";
  auto b = sync([&](Connection& c) { return JobRepository::insert(c, in); });
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(a->existed);
  EXPECT_TRUE(b->existed);
  EXPECT_EQ(b->row.id, "first");
  auto counts = sync([](Connection& c) { return JobRepository::counts(c); });
  EXPECT_EQ(counts->queued, 1);
}

TEST_F(JobRepositoryTest, AFailedAttemptWaitsForItsRetryTimeThenFailsForGood) {
  insert("j", 0, T0, std::string("http://hook.example/x"), 2);
  auto first = claim(T0);
  ASSERT_EQ(first.size(), 1u);
  auto r = sync([&](Connection& c) {
    return JobRepository::fail(c, "j", 1, "w1", T0 + 5, 503, R"({"error":{}})", T0 + 1000);
  });
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->status, "queued");
  EXPECT_FALSE((*r)->webhook_state) << "no webhook before a terminal state";
  EXPECT_TRUE(claim(T0 + 999).empty()) << "not before its retry time";
  auto second = claim(T0 + 1000);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].attempts, 2);
  auto end = sync([&](Connection& c) {
    return JobRepository::fail(c, "j", 2, "w1", T0 + 1100, 503, R"({"error":{}})", std::nullopt);
  });
  ASSERT_TRUE(end && *end);
  EXPECT_EQ((*end)->status, "failed");
  EXPECT_EQ(*(*end)->finished_at, T0 + 1100);
  EXPECT_EQ((*end)->webhook_state.value_or(""), "pending");
  EXPECT_EQ(*(*end)->webhook_next_at, T0 + 1100);
}

TEST_F(JobRepositoryTest, ALateAnswerAfterCancelOrReLeaseChangesNothing) {
  insert("j");
  claim(T0);
  auto cancelled = sync([&](Connection& c) { return JobRepository::cancel(c, "j", T0 + 1); });
  ASSERT_TRUE(cancelled && cancelled->job);
  EXPECT_TRUE(cancelled->applied);
  EXPECT_EQ(cancelled->job->status, "cancelled");
  auto late = sync([&](Connection& c) {
    return JobRepository::complete(c, "j", 1, "w1", T0 + 2, R"({"x":1})", "p", "m");
  });
  ASSERT_TRUE(late);
  EXPECT_FALSE(*late);
  EXPECT_EQ(get("j").status, "cancelled");
  // Cancelling a finished job does nothing.
  auto again = sync([&](Connection& c) { return JobRepository::cancel(c, "j", T0 + 3); });
  EXPECT_FALSE(again->applied);
  EXPECT_EQ(*again->job->finished_at, T0 + 1);
  EXPECT_FALSE(sync([&](Connection& c) { return JobRepository::cancel(c, "nope", T0); })->job);

  insert("k");
  claim(T0, 10, "w1");
  auto wrong_owner = sync([&](Connection& c) {
    return JobRepository::complete(c, "k", 1, "w2", T0 + 2, "{}", "p", "m");
  });
  EXPECT_FALSE(*wrong_owner);
  auto wrong_attempt = sync([&](Connection& c) {
    return JobRepository::complete(c, "k", 2, "w1", T0 + 2, "{}", "p", "m");
  });
  EXPECT_FALSE(*wrong_attempt);
  auto right = sync([&](Connection& c) {
    return JobRepository::complete(c, "k", 1, "w1", T0 + 2, R"({"ok":true})", "p", "m");
  });
  ASSERT_TRUE(*right);
  EXPECT_EQ((*right)->status, "completed");
  EXPECT_EQ((*right)->result.value_or(""), R"({"ok":true})");
}

TEST_F(JobRepositoryTest, DeferringDoesNotSpendAnAttempt) {
  insert("j");
  claim(T0);
  auto r = sync([&](Connection& c) { return JobRepository::defer(c, "j", 1, "w1", T0, T0 + 500, "open"); });
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->status, "queued");
  EXPECT_EQ((*r)->attempts, 0);
  EXPECT_TRUE(claim(T0 + 499).empty());
  EXPECT_EQ(claim(T0 + 500).at(0).attempts, 1);
}

TEST_F(JobRepositoryTest, SweepRequeuesLostLeasesExpiresAndPurges) {
  insert("lease-ran-out");
  insert("dead-owner");
  insert("last-attempt", 0, T0, std::nullopt, 1);
  claim(T0, 1, "w1");          // lease-ran-out, lease until T0+60s
  claim(T0 + 70000, 1, "old");  // dead-owner, owned by an earlier run
  claim(T0 + 70000, 1, "w1");   // last-attempt, lease until T0+130s
  auto s = sync([&](Connection& c) { return JobRepository::sweep(c, T0 + 130001, "w1", 7 * 24 * kHour); });
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->requeued, 2);
  EXPECT_EQ(get("lease-ran-out").status, "queued");
  EXPECT_EQ(get("lease-ran-out").attempts, 1) << "the attempt stays counted";
  EXPECT_EQ(get("dead-owner").status, "queued");
  EXPECT_EQ(get("last-attempt").status, "failed");
  EXPECT_EQ(s->finished, std::vector<std::string>{"last-attempt"});

  // TTL: unfinished jobs past expires_at become expired.
  auto ttl = sync([&](Connection& c) { return JobRepository::sweep(c, T0 + 4 * kHour, "w1", 7 * 24 * kHour); });
  ASSERT_TRUE(ttl);
  EXPECT_EQ(ttl->finished.size(), 2u);
  EXPECT_EQ(get("dead-owner").status, "expired");
  EXPECT_EQ(get("dead-owner").result_status.value_or(0), 410);

  // Retention: finished jobs older than it are deleted.
  auto purge = sync([&](Connection& c) { return JobRepository::sweep(c, T0 + 4 * kHour + 2 * kHour, "w1", kHour); });
  ASSERT_TRUE(purge);
  EXPECT_EQ(purge->purged, 3);
  auto counts = sync([](Connection& c) { return JobRepository::counts(c); });
  EXPECT_EQ(counts->queued + counts->failed + counts->expired, 0);
}

TEST_F(JobRepositoryTest, RetentionKeepsJobsWhoseWebhookIsStillDue) {
  insert("j", 0, T0, std::string("http://hook.example/"));
  claim(T0);
  sync([&](Connection& c) { return JobRepository::complete(c, "j", 1, "w1", T0, "{}", "p", "m"); });
  auto s = sync([&](Connection& c) { return JobRepository::sweep(c, T0 + 10 * kHour, "w1", kHour); });
  EXPECT_EQ(s->purged, 0);
  auto due = sync([&](Connection& c) { return JobRepository::claim_webhooks(c, T0 + 10 * kHour, T0 + 11 * kHour, 10); });
  ASSERT_EQ(due->size(), 1u);
  EXPECT_TRUE(sync([&](Connection& c) { return JobRepository::claim_webhooks(c, T0 + 10 * kHour, T0 + 11 * kHour, 10); })->empty())
      << "a delivery in flight is not taken twice";
  ASSERT_TRUE(sync([&](Connection& c) {
    auto st = JobRepository::record_webhook(c, "j", T0, 200, std::nullopt, std::nullopt, true);
    return st ? Result<int>(0) : Result<int>(st.error());
  }));
  EXPECT_EQ(get("j").webhook_state.value_or(""), "delivered");
  EXPECT_EQ(get("j").webhook_attempts, 1);
  EXPECT_EQ(sync([&](Connection& c) { return JobRepository::sweep(c, T0 + 10 * kHour, "w1", kHour); })->purged, 1);
}

TEST_F(JobRepositoryTest, ListPagesAfterAndBeforeAnIdInEitherOrder) {
  for (int i = 0; i < 5; ++i) insert("j" + std::to_string(i));
  auto list = [&](PageRequest p, std::string status = "") {
    return sync([&](Connection& c) { return JobRepository::list(c, status, p); });
  };
  auto ids = [](const Page<JobRow>& p) {
    std::string out;
    for (const auto& r : p.rows) out += r.id + " ";
    return out;
  };
  auto first = list({.limit = 2});
  ASSERT_TRUE(first);
  EXPECT_EQ(ids(*first), "j4 j3 ");
  EXPECT_TRUE(first->has_more);
  auto next = list({.limit = 10, .after = "j3"});
  EXPECT_EQ(ids(*next), "j2 j1 j0 ");
  EXPECT_FALSE(next->has_more);
  auto back = list({.limit = 2, .before = "j1"});
  EXPECT_EQ(ids(*back), "j3 j2 ") << "the two just before j1, in the list's order";
  EXPECT_TRUE(back->has_more);
  auto asc = list({.limit = 2, .ascending = true});
  EXPECT_EQ(ids(*asc), "j0 j1 ");
  auto asc_after = list({.limit = 2, .after = "j1", .ascending = true});
  EXPECT_EQ(ids(*asc_after), "j2 j3 ");
  auto asc_before = list({.limit = 5, .before = "j2", .ascending = true});
  EXPECT_EQ(ids(*asc_before), "j0 j1 ");
  EXPECT_FALSE(asc_before->has_more);
  auto unknown = list({.after = "nope"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().param, "after");
  claim(T0, 1);
  EXPECT_EQ(list({.limit = 10}, "processing")->rows.size(), 1u);
}

TEST_F(JobRepositoryTest, GroupCommitKeepsEachWritesOutcomeSeparate) {
  boost::asio::io_context io;
  auto good = [](std::string id) {
    return [id](Connection& c) -> Result<int> {
      JobInsert in;
      in.id = id;
      in.type = "chat.completion";
      in.request = "{}";
      in.now = T0;
      in.expires_at = T0 + kHour;
      auto r = JobRepository::insert(c, in);
      if (!r) return r.error();
      return 1;
    };
  };
  auto bad = [](Connection& c) -> Result<int> {
    JobInsert in;
    in.id = "rolled-back";
    in.type = "chat.completion";
    in.request = "{}";
    in.now = T0;
    in.expires_at = T0 + kHour;
    (void)JobRepository::insert(c, in);
    return core::Error(core::ErrorKind::conflict, "changed my mind");
  };
  int ok = 0, failed = 0;
  auto run = [&](auto f) -> boost::asio::awaitable<void> {
    auto r = co_await db_->write(f);
    (r.ok() ? ok : failed)++;
  };
  for (int i = 0; i < 50; ++i) {
    boost::asio::co_spawn(io, run(good("g" + std::to_string(i))), boost::asio::detached);
    if (i == 25) boost::asio::co_spawn(io, run(bad), boost::asio::detached);
  }
  io.run();
  EXPECT_EQ(ok, 50);
  EXPECT_EQ(failed, 1);
  auto counts = sync([](Connection& c) { return JobRepository::counts(c); });
  EXPECT_EQ(counts->queued, 50);
  auto gone = sync([](Connection& c) { return JobRepository::get(c, "rolled-back"); });
  EXPECT_FALSE(*gone);
}

}  // namespace
}  // namespace sb::storage
