#include "core/text.hpp"

#include <gtest/gtest.h>

namespace sb::core {
namespace {

TEST(Utf8, ValidTextIsValid) {
  for (const char* s : {"", "plain ascii text longer than eight", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                        "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf"}) {
    EXPECT_TRUE(is_valid_utf8(s)) << s;
  }
  for (const char* s : {"\xc3", "\xc0\x80", "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "\x80",
                        "abcdefgh\xfe"}) {
    EXPECT_FALSE(is_valid_utf8(s)) << s;
  }
  EXPECT_EQ(valid_utf8_prefix("abc\xff"), 3u);
}

TEST(Utf8, RepairReplacesEachMaximalInvalidSubpartWithOneReplacementCharacter) {
  std::string s = "a\xc3" "b";  // a lead without its continuation
  EXPECT_EQ(repair_utf8(s), 1u);
  EXPECT_EQ(s, "a\xef\xbf\xbd" "b");
  s = "\xe2\x82";  // a cut 3-byte sequence: one U+FFFD
  EXPECT_EQ(repair_utf8(s), 1u);
  EXPECT_EQ(s, "\xef\xbf\xbd");
  s = "\xed\xa0\x80";  // a surrogate: each byte is its own
  EXPECT_EQ(repair_utf8(s), 3u);
  s = "ok \xff\xfe ok";
  EXPECT_EQ(repair_utf8(s), 2u);
  EXPECT_TRUE(is_valid_utf8(s));
  s = "valid \xe2\x82\xac";
  EXPECT_EQ(repair_utf8(s), 0u);
  EXPECT_EQ(s, "valid \xe2\x82\xac");
  // Every byte value at every position comes out valid.
  for (int b = 0; b < 256; ++b) {
    for (int at = 0; at < 3; ++at) {
      std::string t = "ab";
      t.insert(t.begin() + std::min(at, 2), static_cast<char>(b));
      repair_utf8(t);
      EXPECT_TRUE(is_valid_utf8(t)) << b << " at " << at;
    }
  }
}

TEST(Utf8, PrefixNeverCutsASequence) {
  const std::string s = "ab\xe2\x82\xac";
  EXPECT_EQ(utf8_prefix(s, 3), "ab");
  EXPECT_EQ(utf8_prefix(s, 4), "ab");
  EXPECT_EQ(utf8_prefix(s, 5), s);
  EXPECT_EQ(utf8_prefix(s, 100), s);
}

TEST(Names, ControlCharactersAreFound) {
  EXPECT_FALSE(has_control_chars("gpt-4o/mini caf\xc3\xa9"));
  EXPECT_TRUE(has_control_chars(std::string("a\0b", 3)));
  EXPECT_TRUE(has_control_chars("a\nb"));
  EXPECT_TRUE(has_control_chars("a\x7f"));
  EXPECT_TRUE(has_control_chars("a\xc2\x85"));  // U+0085 NEL
}

TEST(Text, AsciiLowerTrimAndCodePoints) {
  EXPECT_EQ(ascii_lower("Essay A \xC3\x89"), "essay a \xC3\x89");  // only ASCII letters
  EXPECT_EQ(trim_space(" \t x y \r\n"), "x y");
  EXPECT_EQ(trim_space("   "), "");
  EXPECT_EQ(utf8_chars("h\xC3\xA9llo"), 5u);
  EXPECT_EQ(utf8_chars(""), 0u);
}

}  // namespace
}  // namespace sb::core
