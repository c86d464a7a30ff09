// The usage table's batched insert: a batch of any size goes in whole, each row's fields kept,
// in order (statements of several rows, and single rows for the rest).

#include <gtest/gtest.h>

#include <filesystem>

#include "storage/control_repository.hpp"
#include "storage/database.hpp"

namespace sb::storage {
namespace {

class ControlRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sb-control-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
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

  static UsageRow row(int i) {
    UsageRow r;
    r.at_ms = 1'700'000'000'000 + i;
    r.key_id = "key_" + std::to_string(i % 7);
    r.route = "/v1/chat/completions";
    r.model = "m" + std::to_string(i);
    r.provider = "p" + std::to_string(i % 3);
    r.target = r.provider + "/t" + std::to_string(i);
    r.prompt_tokens = i;
    r.completion_tokens = 2 * i;
    r.cached_tokens = i % 5;
    r.cost_usd = i * 0.25;
    r.latency_ms = 10 + i;
    r.status = i % 2 ? 200 : 429;
    r.request_id = "req_" + std::to_string(i);
    return r;
  }

  std::unique_ptr<Database> db_;
  std::filesystem::path dir_;
};

TEST_F(ControlRepositoryTest, ABatchOfAnySizeGoesInWholeWithEveryField) {
  for (int n : {0, 1, 31, 32, 33, 70}) {
    SCOPED_TRACE(n);
    std::vector<UsageRow> rows;
    for (int i = 0; i < n; ++i) rows.push_back(row(i));
    auto st = db_->run_sync([&](Connection& c) { return ControlRepository::insert_usage(c, rows); });
    ASSERT_TRUE(st) << st.error().message;
    PageRequest page;
    page.limit = 100;
    page.ascending = true;
    auto got = db_->run_sync([&](Connection& c) { return ControlRepository::usage(c, UsageQuery{}, page); });
    ASSERT_TRUE(got) << got.error().message;
    ASSERT_EQ(got->rows.size(), static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      const UsageRow& r = got->rows[i];
      const UsageRow want = row(i);
      EXPECT_EQ(r.at_ms, want.at_ms);
      EXPECT_EQ(r.key_id, want.key_id);
      EXPECT_EQ(r.route, want.route);
      EXPECT_EQ(r.model, want.model);
      EXPECT_EQ(r.provider, want.provider);
      EXPECT_EQ(r.target, want.target);
      EXPECT_EQ(r.prompt_tokens, want.prompt_tokens);
      EXPECT_EQ(r.completion_tokens, want.completion_tokens);
      EXPECT_EQ(r.cached_tokens, want.cached_tokens);
      EXPECT_DOUBLE_EQ(r.cost_usd, want.cost_usd);
      EXPECT_EQ(r.latency_ms, want.latency_ms);
      EXPECT_EQ(r.status, want.status);
      EXPECT_EQ(r.request_id, want.request_id);
    }
    auto clear = db_->run_sync([](Connection& c) { return c.exec("DELETE FROM usage"); });
    ASSERT_TRUE(clear);
  }
}

}  // namespace
}  // namespace sb::storage
