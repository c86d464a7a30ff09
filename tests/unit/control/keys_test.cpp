// API keys: secrets, the pepper, hashed storage, lookup, revocation, rotation with a grace
// period, expiry, persistence across a restart; budgets' reservations.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/detached.hpp>

#include <filesystem>
#include <optional>
#include <set>
#include <fstream>
#include <sys/stat.h>
#include <thread>

#include "control/keys.hpp"
#include "control/ledger.hpp"
#include "storage/database.hpp"

namespace sb::control {
namespace {

namespace asio = boost::asio;

template <class T>
T run(asio::awaitable<T> a) {
  asio::io_context ioc(1);
  std::optional<T> out;
  auto body = [&]() -> asio::awaitable<void> { out.emplace(co_await std::move(a)); };
  asio::co_spawn(ioc, body, asio::detached);
  ioc.run();
  return std::move(*out);
}

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sb-keys-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    open();
  }
  void open() {
    keys_.reset();
    db_.reset();
    core::StorageConfig cfg;
    cfg.data_dir = dir_.string();
    auto db = storage::Database::open(cfg);
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(*db);
    auto pepper = KeyStore::load_pepper(dir_.string());
    ASSERT_TRUE(pepper) << pepper.error().message;
    keys_ = std::make_unique<KeyStore>(*db_, clock_, *pepper);
    ASSERT_TRUE(keys_->load());
  }
  void TearDown() override {
    keys_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  Issued create(KeySpec spec = {}) {
    auto r = run(keys_->create(std::move(spec)));
    EXPECT_TRUE(r) << r.error().message;
    return *r;
  }

  std::filesystem::path dir_;
  core::FakeClock clock_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<KeyStore> keys_;
};

TEST(Secrets, AreSbAndFortyThreeBase62CharactersAndNeverRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    std::string s = KeyStore::new_secret();
    ASSERT_EQ(s.size(), 46u);
    EXPECT_EQ(s.substr(0, 3), "sb-");
    for (char c : s.substr(3)) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << s;
    EXPECT_TRUE(seen.insert(s).second);
  }
}

TEST_F(KeysTest, ThePepperIsMadeOnceWithOwnerOnlyPermissions) {
  auto a = KeyStore::load_pepper(dir_.string());
  auto b = KeyStore::load_pepper(dir_.string());
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->size(), 64u);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "pepper").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
}

TEST_F(KeysTest, TheSecretIsFoundByItsHashAndNeverStored) {
  KeySpec spec;
  spec.name = "ci";
  spec.scopes = kChat | kJobs;
  Issued k = create(spec);
  EXPECT_EQ(k.key->prefix, k.secret.substr(0, 8));
  EXPECT_EQ(k.key->id.substr(0, 4), "key_");
  auto found = keys_->lookup(k.secret);
  ASSERT_EQ(found.status, Lookup::Status::ok);
  EXPECT_EQ(found.key->id, k.key->id);
  EXPECT_EQ(keys_->lookup(k.secret + "x").status, Lookup::Status::unknown);
  EXPECT_EQ(keys_->lookup("").status, Lookup::Status::unknown);
  // The database holds the HMAC, not the secret.
  db_->close();
  std::ifstream f(dir_ / "switchboard.db", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), {});
  std::ifstream w(dir_ / "switchboard.db-wal", std::ios::binary);
  bytes += std::string((std::istreambuf_iterator<char>(w)), {});
  EXPECT_EQ(bytes.find(k.secret), std::string::npos);
  EXPECT_EQ(bytes.find(k.secret.substr(8)), std::string::npos);
}

TEST_F(KeysTest, KeysSurviveARestartAndARevocationIsImmediate) {
  Issued k = create();
  open();
  ASSERT_EQ(keys_->lookup(k.secret).status, Lookup::Status::ok);
  auto revoked = run(keys_->revoke(k.key->name));
  ASSERT_TRUE(revoked);
  EXPECT_TRUE((*revoked)->revoked_at);
  EXPECT_NE(keys_->lookup(k.secret).status, Lookup::Status::ok);
  open();
  EXPECT_NE(keys_->lookup(k.secret).status, Lookup::Status::ok);
  EXPECT_TRUE(keys_->find(k.key->id)->revoked_at);
}

TEST_F(KeysTest, RotationKeepsTheOldSecretOnlyForTheGracePeriod) {
  Issued k = create();
  auto rotated = run(keys_->rotate(k.key->id, 60'000));
  ASSERT_TRUE(rotated);
  EXPECT_NE(rotated->secret, k.secret);
  EXPECT_EQ(keys_->lookup(rotated->secret).status, Lookup::Status::ok);
  EXPECT_EQ(keys_->lookup(k.secret).status, Lookup::Status::ok);
  clock_.advance(60'001);
  EXPECT_EQ(keys_->lookup(k.secret).status, Lookup::Status::unknown);
  EXPECT_EQ(keys_->lookup(rotated->secret).status, Lookup::Status::ok);
  auto again = run(keys_->rotate(k.key->id, 0));
  ASSERT_TRUE(again);
  EXPECT_EQ(keys_->lookup(rotated->secret).status, Lookup::Status::unknown);
  EXPECT_EQ(keys_->lookup(again->secret).status, Lookup::Status::ok);
}

TEST_F(KeysTest, AnExpiredKeyIsRefused) {
  KeySpec spec;
  spec.expires_at = clock_.now_ms() / 1000 + 10;
  Issued k = create(spec);
  EXPECT_EQ(keys_->lookup(k.secret).status, Lookup::Status::ok);
  clock_.advance(10'000);
  EXPECT_EQ(keys_->lookup(k.secret).status, Lookup::Status::expired);
}

TEST_F(KeysTest, NamesAreUniqueAndChangesApply) {
  KeySpec a;
  a.name = "alpha";
  create(a);
  auto dup = run(keys_->create(a));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().kind, core::ErrorKind::conflict);
  KeySpec change;
  change.rpm = 5;
  change.models = std::vector<std::string>{"openai/*", "fast"};
  auto updated = run(keys_->update("alpha", change));
  ASSERT_TRUE(updated);
  EXPECT_EQ((*updated)->rpm, 5);
  EXPECT_TRUE((*updated)->allows_model("openai/gpt-4o"));
  EXPECT_TRUE((*updated)->allows_model("fast"));
  EXPECT_FALSE((*updated)->allows_model("anthropic/claude"));
  EXPECT_FALSE(run(keys_->update("nope", change)));
}

TEST_F(KeysTest, ConcurrentLookupsSeeARevocationAtOnce) {
  Issued k = create();
  std::atomic<bool> stop{false};
  std::atomic<long> after_revoke_ok{0};
  std::atomic<bool> revoked{false};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      while (!stop) {
        const bool was_revoked = revoked.load();
        if (keys_->lookup(k.secret).status == Lookup::Status::ok && was_revoked) ++after_revoke_ok;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(run(keys_->revoke(k.key->id)));
  revoked = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(after_revoke_ok.load(), 0);
}

TEST_F(KeysTest, BudgetsReserveTheWorstCaseSoConcurrentRequestsCannotOvershoot) {
  KeySpec spec;
  spec.budget = std::optional<Budget>(Budget{1.0, "day"});
  Issued k = create(spec);
  Budgets b(clock_);
  BudgetStatus st;
  int admitted = 0;
  for (int i = 0; i < 20; ++i) admitted += b.reserve(*k.key, 0.3, st);  // 20 at once, none settled
  EXPECT_EQ(admitted, 3);
  b.settle(*k.key, 0.3, 0.05);  // one finished, cheaper than feared
  EXPECT_TRUE(b.reserve(*k.key, 0.3, st));
  EXPECT_NEAR(b.status(*k.key).spent_usd, 0.05, 1e-12);
  EXPECT_NEAR(b.status(*k.key).reserved_usd, 0.9, 1e-12);
  // The next day starts from nothing spent.
  clock_.advance(86'400'000);
  EXPECT_NEAR(b.status(*k.key).spent_usd, 0, 1e-12);
}

TEST(Periods, StartAtMidnightAndTheFirstOfTheMonthUtc) {
  const std::int64_t t = 1'700'000'000'000;  // 2023-11-14T22:13:20Z
  EXPECT_EQ(period_start_ms("day", t), 1'699'920'000'000);
  EXPECT_EQ(period_end_ms("day", t), 1'700'006'400'000);
  EXPECT_EQ(period_start_ms("month", t), 1'698'796'800'000);  // 2023-11-01
  EXPECT_EQ(period_end_ms("month", t), 1'701'388'800'000);    // 2023-12-01
  EXPECT_EQ(period_start_ms("total", t), 0);
}

}  // namespace
}  // namespace sb::control
