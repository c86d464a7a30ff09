// The in-process response cache: bounded by bytes (least recently used out first), answers
// expire, a value larger than the cache is not kept; canonical JSON ignores key order.

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "chat/cache.hpp"

namespace sb::chat {
namespace {

using namespace std::chrono_literals;

TEST(ResponseCache, TheLeastRecentlyUsedGoFirstWhenFull) {
  core::FakeClock clock;
  core::metrics::Registry metrics;
  auto cache = make_memory_cache(1000, clock, metrics);
  const std::string v(200, 'x');
  cache->put("a", v, 60s);
  cache->put("b", v, 60s);
  cache->put("c", v, 60s);
  EXPECT_TRUE(cache->get("a"));  // a is now the most recent
  cache->put("d", v, 60s);       // over 1000 bytes: b goes (the least recently used)
  EXPECT_TRUE(cache->get("a"));
  EXPECT_FALSE(cache->get("b"));
  EXPECT_TRUE(cache->get("c"));
  EXPECT_TRUE(cache->get("d"));
  EXPECT_LE(cache->bytes(), 1000u);
  cache->put("huge", std::string(5000, 'y'), 60s);
  EXPECT_FALSE(cache->get("huge"));
  EXPECT_TRUE(cache->get("d")) << "a value too large for the cache evicts nothing";
  const std::string text = metrics.render();
  EXPECT_NE(text.find("switchboard_cache_evictions_total 1"), std::string::npos) << text;
  EXPECT_NE(text.find("switchboard_cache_misses_total 2"), std::string::npos) << text;
}

TEST(ResponseCache, AnswersExpireAndAreReplaced) {
  core::FakeClock clock;
  core::metrics::Registry metrics;
  auto cache = make_memory_cache(1 << 20, clock, metrics);
  cache->put("k", "one", 10s);
  clock.advance(9999);
  EXPECT_EQ(cache->get("k"), "one");
  clock.advance(1);
  EXPECT_FALSE(cache->get("k"));
  EXPECT_EQ(cache->entries(), 0u);
  cache->put("k", "one", 10s);
  cache->put("k", "two", 10s);
  EXPECT_EQ(cache->get("k"), "two");
  EXPECT_EQ(cache->entries(), 1u);
}

TEST(ResponseCache, CanonicalJsonIgnoresKeyOrder) {
  auto a = boost::json::parse(R"({"b":1,"a":{"y":[1,{"q":2,"p":1}],"x":0.7}})");
  auto b = boost::json::parse(R"({"a":{"x":0.7,"y":[1,{"p":1,"q":2}]},"b":1})");
  EXPECT_EQ(canonical_json(a), canonical_json(b));
  EXPECT_EQ(canonical_json(a), R"({"a":{"x":0.7,"y":[1,{"p":1,"q":2}]},"b":1})");
  EXPECT_NE(canonical_json(boost::json::parse(R"({"a":[1,2]})")), canonical_json(boost::json::parse(R"({"a":[2,1]})")));
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace sb::chat
