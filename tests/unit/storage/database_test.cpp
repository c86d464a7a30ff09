#include "storage/database.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "storage/system_repository.hpp"

namespace sb::storage {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    static int n = 0;
    path_ = fs::temp_directory_path() /
            ("sb_db_test_" + std::to_string(getpid()) + "_" + std::to_string(n++));
    fs::remove_all(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  core::StorageConfig config() const {
    core::StorageConfig c;
    c.data_dir = (path_ / "data").string();
    c.blocking_threads = 2;
    return c;
  }

 private:
  fs::path path_;
};

Result<std::string> text(Connection& c, const std::string& sql) {
  auto r = c.query_text(sql);
  if (!r) return std::move(r).error();
  return r->value_or("");
}

TEST(Database, OpensCreatesDirAndMigrates) {
  TempDir dir;
  auto db = Database::open(dir.config());
  ASSERT_TRUE(db) << db.error().message;
  EXPECT_TRUE(fs::exists((*db)->path()));
  EXPECT_EQ((*db)->migration_report().from_version, 0);
  EXPECT_EQ((*db)->migration_report().to_version, migrations().back().version);
  auto mode = (*db)->run_sync([](Connection& c) { return text(c, "PRAGMA journal_mode"); });
  EXPECT_EQ(*mode, "wal");
  (*db)->close();

  auto again = Database::open(dir.config());
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->migration_report().applied, 0);
}

// storage.mmap_mb and storage.cache_mb reach every connection's pragmas.
TEST(Database, MemoryMapAndCacheSizesComeFromTheConfig) {
  TempDir dir;
  auto config = dir.config();
  config.mmap_mb = 8;
  config.cache_mb = 3;
  auto db = Database::open(config);
  ASSERT_TRUE(db) << db.error().message;
  auto mmap = (*db)->run_sync([](Connection& c) { return text(c, "PRAGMA mmap_size"); });
  auto cache = (*db)->run_sync([](Connection& c) { return text(c, "PRAGMA cache_size"); });
  EXPECT_EQ(*mmap, std::to_string(8 << 20));
  EXPECT_EQ(*cache, "-3072");
  (*db)->close();
  auto plain = Database::open(dir.config());
  ASSERT_TRUE(plain);
  EXPECT_EQ(*(*plain)->run_sync([](Connection& c) { return text(c, "PRAGMA mmap_size"); }), "0") << "off by default";
}

TEST(Database, FailedMigrationRollsBackAndNamesIt) {
  TempDir dir;
  std::vector<Migration> list = {
      {1, "one", "CREATE TABLE a (x INTEGER);"},
      {2, "two", "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);"},
  };
  auto db = Database::open(dir.config(), list);
  ASSERT_FALSE(db);
  EXPECT_NE(db.error().message.find("migration 2 (two) failed"), std::string::npos)
      << db.error().message;

  list[1].sql = "CREATE TABLE b (x INTEGER);";
  auto fixed = Database::open(dir.config(), list);
  ASSERT_TRUE(fixed) << fixed.error().message;
  EXPECT_EQ((*fixed)->migration_report().from_version, 1);  // b was rolled back with its failure
  EXPECT_EQ((*fixed)->migration_report().to_version, 2);
}

TEST(Database, RefusesASchemaNewerThanTheBuild) {
  TempDir dir;
  std::vector<Migration> newer = {{1, "one", "SELECT 1;"}, {2, "two", "SELECT 1;"}};
  ASSERT_TRUE(Database::open(dir.config(), newer));
  auto older = Database::open(dir.config(), {{1, "one", "SELECT 1;"}});
  ASSERT_FALSE(older);
  EXPECT_NE(older.error().message.find("newer than this build"), std::string::npos);
}

TEST(Database, RunExecutesOnThePoolAndRecordsBoots) {
  TempDir dir;
  auto db = Database::open(dir.config());
  ASSERT_TRUE(db);
  SystemRepository repo(**db);
  ASSERT_EQ(*repo.record_boot("test"), 1);
  ASSERT_EQ(*repo.record_boot("test"), 2);
  boost::asio::io_context ioc;
  std::optional<Result<StorageStatus>> got;
  boost::asio::co_spawn(
      ioc, [&]() -> boost::asio::awaitable<void> { got.emplace(co_await repo.status()); },
      boost::asio::detached);
  ioc.run();
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->boots, 2);
  EXPECT_EQ((*got)->instance_id.size(), 32u);
  EXPECT_EQ((*got)->journal_mode, "wal");
}

TEST(Database, ClosedDatabaseAnswersUnavailable) {
  TempDir dir;
  auto db = Database::open(dir.config());
  ASSERT_TRUE(db);
  (*db)->close();
  auto r = (*db)->run_sync([](Connection& c) { return text(c, "SELECT 1"); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, core::ErrorKind::unavailable);
}

// A child process commits transactions as fast as it can and reports each commit on a pipe;
// the parent kill -9s it at a random moment. The database must then open, pass integrity_check,
// and hold every transaction the child saw committed.
TEST(Database, SurvivesKill9DuringWrites) {
  TempDir dir;
  { ASSERT_TRUE(Database::open(dir.config())); }
  std::mt19937 rng(12345);
  std::int64_t last_seen = 0;
  for (int round = 0; round < 6; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      auto db = Database::open(dir.config());
      if (!db) _exit(3);
      (void)(*db)->run_sync([&](Connection& c) -> Result<int> {
        (void)c.exec("CREATE TABLE IF NOT EXISTS crash_test (id INTEGER PRIMARY KEY, v TEXT)");
        for (;;) {
          if (!c.exec("BEGIN IMMEDIATE")) _exit(4);
          (void)c.exec("INSERT INTO crash_test(v) VALUES (hex(randomblob(64)))");
          if (!c.exec("COMMIT")) _exit(5);
          auto n = c.query_text("SELECT count(*) FROM crash_test");
          std::int64_t count = std::stoll(n->value_or("0"));
          if (write(fds[1], &count, sizeof count) != sizeof count) _exit(6);
        }
      });
      _exit(0);
    }
    close(fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng() % 150));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);
    std::int64_t v = 0;
    while (read(fds[0], &v, sizeof v) == sizeof v) last_seen = std::max(last_seen, v);
    close(fds[0]);

    auto db = Database::open(dir.config());
    ASSERT_TRUE(db) << db.error().message;
    auto check = (*db)->run_sync([](Connection& c) { return text(c, "PRAGMA integrity_check"); });
    ASSERT_TRUE(check);
    EXPECT_EQ(*check, "ok");
    auto count = (*db)->run_sync(
        [](Connection& c) { return text(c, "SELECT count(*) FROM crash_test"); });
    ASSERT_TRUE(count) << count.error().message;
    EXPECT_GE(std::stoll(*count), last_seen) << "round " << round;
  }
  EXPECT_GT(last_seen, 0);
}

// kill -9 in the middle of a long migration leaves the previous version; the next start applies
// the migration cleanly.
TEST(Database, SurvivesKill9DuringAMigration) {
  TempDir dir;
  std::vector<Migration> list = {
      {1, "one", "CREATE TABLE a (x INTEGER);"},
      {2, "slow",
       "CREATE TABLE big (x INTEGER, y TEXT);"
       "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000000)"
       " INSERT INTO big SELECT i, hex(randomblob(16)) FROM c;"},
  };
  { ASSERT_TRUE(Database::open(dir.config(), {list[0]})); }
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto db = Database::open(dir.config(), list);
    _exit(db ? 0 : 3);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "migration finished before the kill; make it slower";

  list[1].sql = "CREATE TABLE big (x INTEGER, y TEXT); INSERT INTO big VALUES (1, 'a');";
  auto db = Database::open(dir.config(), list);
  ASSERT_TRUE(db) << db.error().message;
  EXPECT_EQ((*db)->migration_report().from_version, 1);
  EXPECT_EQ((*db)->migration_report().to_version, 2);
  auto n = (*db)->run_sync([](Connection& c) { return text(c, "SELECT count(*) FROM big"); });
  EXPECT_EQ(*n, "1");
}

}  // namespace
}  // namespace sb::storage
