// Conversations and their turns with explicit times: one live conversation per key and session,
// the last N turns oldest first, soft delete and restore, retention (expire, then purge).

#include <gtest/gtest.h>

#include <filesystem>

#include "storage/chat_repository.hpp"
#include "storage/database.hpp"

namespace sb::storage {
namespace {

constexpr std::int64_t T0 = 1'700'000'000;
constexpr std::int64_t kDay = 86400;

class ChatRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sb-chat-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
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
  Status conversation(const std::string& id, const std::string& session, std::int64_t at, const std::string& key = "k1") {
    ConversationRow r;
    r.id = id;
    r.session_id = session;
    r.key_id = key;
    r.title = "t";
    r.created_at = r.updated_at = at;
    return sync([&](Connection& c) { return ChatRepository::insert(c, r); });
  }
  Status turn(const std::string& conv, int i, std::int64_t at) {
    TurnRow t;
    t.id = "msg_" + conv + std::to_string(i);
    t.conversation_id = conv;
    t.question = "q" + std::to_string(i);
    t.answer = "a" + std::to_string(i);
    t.created_at = at;
    return sync([&](Connection& c) { return ChatRepository::add_turn(c, t); });
  }

  std::unique_ptr<Database> db_;
  std::filesystem::path dir_;
};

TEST_F(ChatRepositoryTest, OneLiveConversationPerKeyAndSession) {
  ASSERT_TRUE(conversation("conv_a", "s", T0));
  auto again = conversation("conv_b", "s", T0);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, core::ErrorKind::conflict);
  EXPECT_TRUE(conversation("conv_c", "s", T0, "k2")) << "another key's session";
  ASSERT_TRUE(sync([](Connection& c) { return ChatRepository::set_deleted(c, "conv_a", T0 + 1); }));
  EXPECT_TRUE(conversation("conv_b", "s", T0 + 2)) << "free again once the first is deleted";
  auto restore = sync([](Connection& c) { return ChatRepository::set_deleted(c, "conv_a", std::nullopt); });
  ASSERT_FALSE(restore);
  EXPECT_EQ(restore.error().kind, core::ErrorKind::conflict);
  auto found = sync([](Connection& c) { return ChatRepository::by_session(c, "k1", "s"); });
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->id, "conv_b");
}

TEST_F(ChatRepositoryTest, TheLastTurnsComeOldestFirstAndAreCounted) {
  ASSERT_TRUE(conversation("conv_a", "s", T0));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(turn("conv_a", i, T0 + i));
  auto last = sync([](Connection& c) { return ChatRepository::turns(c, "conv_a", 2); });
  ASSERT_TRUE(last);
  ASSERT_EQ(last->size(), 2u);
  EXPECT_EQ((*last)[0].question, "q3");
  EXPECT_EQ((*last)[1].question, "q4");
  auto all = sync([](Connection& c) { return ChatRepository::turns(c, "conv_a", 0); });
  EXPECT_EQ(all->size(), 5u);
  auto row = sync([](Connection& c) { return ChatRepository::get(c, "conv_a"); });
  EXPECT_EQ((*row)->turns, 5);
  EXPECT_EQ((*row)->updated_at, T0 + 4);
}

TEST_F(ChatRepositoryTest, RetentionSoftDeletesThenPurgesWithTheirTurns) {
  ASSERT_TRUE(conversation("conv_old", "a", T0));
  ASSERT_TRUE(turn("conv_old", 0, T0));
  ASSERT_TRUE(conversation("conv_new", "b", T0 + 20 * kDay));
  // 30 days after the first: only it is expired.
  const std::int64_t now = T0 + 31 * kDay;
  auto expired = sync([&](Connection& c) { return ChatRepository::expire(c, now - 30 * kDay, now); });
  ASSERT_TRUE(expired);
  EXPECT_EQ(*expired, 1);
  EXPECT_TRUE((*sync([](Connection& c) { return ChatRepository::get(c, "conv_old"); }))->deleted_at);
  EXPECT_FALSE((*sync([](Connection& c) { return ChatRepository::get(c, "conv_new"); }))->deleted_at);
  auto early = sync([&](Connection& c) { return ChatRepository::purge(c, now - 30 * kDay); });
  EXPECT_EQ(*early, 0) << "deleted just now: kept for purge_after_days";
  const std::int64_t later = now + 31 * kDay;
  auto purged = sync([&](Connection& c) { return ChatRepository::purge(c, later - 30 * kDay); });
  EXPECT_EQ(*purged, 1);
  EXPECT_FALSE(*sync([](Connection& c) { return ChatRepository::get(c, "conv_old"); }));
  EXPECT_TRUE(sync([](Connection& c) { return ChatRepository::turns(c, "conv_old", 0); })->empty());
}

}  // namespace
}  // namespace sb::storage
