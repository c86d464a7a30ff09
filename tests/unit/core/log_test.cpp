#include "core/log.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace sb::core::log {
namespace {

TEST(Log, LineIsOneJsonObjectWithTimeLevelAndMessage) {
  std::string line = format_line(Level::info, "request",
                                 {{"request_id", "abc"}, {"status", 200}, {"ok", true},
                                  {"duration_ms", 1.5}, {"path", "/a\"b\n"}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto v = boost::json::parse(line).as_object();
  EXPECT_EQ(v["level"], "info");
  EXPECT_EQ(v["msg"], "request");
  EXPECT_EQ(v["request_id"], "abc");
  EXPECT_EQ(v["status"], 200);
  EXPECT_EQ(v["ok"], true);
  EXPECT_DOUBLE_EQ(v["duration_ms"].as_double(), 1.5);
  EXPECT_EQ(v["path"], "/a\"b\n");
  EXPECT_EQ(v["time"].as_string().size(), 27u);  // 2026-11-21T22:30:00.123456Z
}

TEST(Log, SecretFieldsAreMasked) {
  std::string line = format_line(Level::warn, "x",
                                 {{"authorization", "Bearer sk-live-123"},
                                  {"api_key", "sk-live-123"},
                                  {"X-Api-Key", "sk-live-123"},
                                  {"client_secret", "s3cr3t"},
                                  {"password", "hunter2"},
                                  {"access_token", "tok"},
                                  {"prompt_tokens", 12}});
  EXPECT_EQ(line.find("sk-live-123"), std::string::npos) << line;
  EXPECT_EQ(line.find("s3cr3t"), std::string::npos);
  EXPECT_EQ(line.find("hunter2"), std::string::npos);
  EXPECT_EQ(line.find("\"tok\""), std::string::npos);
  auto v = boost::json::parse(line).as_object();
  EXPECT_EQ(v["authorization"], "***");
  EXPECT_EQ(v["prompt_tokens"], 12);  // a count, not a secret
}

TEST(Log, SecretNames) {
  for (auto n : {"Authorization", "x-api-key", "apiKey", "OPENAI_API_KEY", "token", "refresh-token",
                 "Cookie", "Set-Cookie", "db.password", "secret"}) {
    EXPECT_TRUE(is_secret_name(n)) << n;
  }
  for (auto n : {"status", "prompt_tokens", "max_tokens", "route", "monkey", "keyboard_layout"}) {
    EXPECT_FALSE(is_secret_name(n)) << n;
  }
}

TEST(Log, ControlCharactersAreEscaped) {
  std::string out;
  append_json_string(out, std::string("a\x01\tb", 4));
  EXPECT_EQ(out, "\"a\\u0001\\tb\"");
}

TEST(Log, EveryByteIsEscapedAtEveryPositionOfALongString) {
  // The escaper skips eight plain bytes at a time: put each byte value at each offset of a
  // 19-byte string (inside a word, at its edges, in the tail) and check the result parses back.
  for (int c = 0; c < 256; ++c) {
    for (std::size_t at = 0; at < 19; ++at) {
      // Bytes from 0x80 go in as the lead of a two-byte UTF-8 sequence, so the string stays
      // valid for the parser; other high bytes pass through like any plain byte.
      if (c >= 0x80 && (c < 0xc2 || c > 0xdf || at == 18)) continue;
      std::string s(19, 'x');
      s[at] = static_cast<char>(c);
      if (c >= 0x80) s[at + 1] = '\x80';
      std::string out;
      append_json_string(out, s);
      boost::system::error_code ec;
      auto v = boost::json::parse(out, ec);
      ASSERT_FALSE(ec) << "byte " << c << " at " << at << ": " << out;
      ASSERT_EQ(std::string(v.as_string()), s) << "byte " << c << " at " << at;
    }
  }
}

TEST(Log, Levels) {
  EXPECT_EQ(parse_level("warn"), Level::warn);
  EXPECT_EQ(parse_level("debug"), Level::debug);
  EXPECT_FALSE(parse_level("verbose"));
  EXPECT_EQ(level_name(Level::error), "error");
}

}  // namespace
}  // namespace sb::core::log

namespace sb::core::log {
namespace {

TEST(Log, MaskingDoesNotDependOnWhereTheKeyLives) {
  // The same buffer holds a harmless key, then a secret one: the second must still be masked.
  std::string key = "x-req-idd";
  EXPECT_NE(format_line(Level::info, "m", {{std::string_view(key), "visible"}}).find("visible"),
            std::string::npos);
  key = "x-api-key";
  EXPECT_EQ(format_line(Level::info, "m", {{std::string_view(key), "sk-hidden"}}).find("sk-hidden"),
            std::string::npos);
}

}  // namespace
}  // namespace sb::core::log
