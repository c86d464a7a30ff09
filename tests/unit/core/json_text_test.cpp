#include "core/json_text.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <random>

namespace sb::core {
namespace {

std::string num(double d) {
  std::string s;
  append_double(s, d);
  return s;
}

TEST(JsonText, NumbersAreShortestRoundTripNeverBoostsExponentForm) {
  EXPECT_EQ(num(0.7), "0.7");
  EXPECT_EQ(num(0.000123), "0.000123");
  EXPECT_EQ(num(1e-7), "1e-7");
  EXPECT_EQ(num(1e21), "1e21");
  EXPECT_EQ(num(1.5e300), "1.5e300");
  EXPECT_EQ(num(7.753338297855893e-1), "0.7753338297855893");
  EXPECT_EQ(num(123456.0), "123456.0");
  EXPECT_EQ(num(0.0), "0.0");
  EXPECT_EQ(num(-0.0), "-0.0");
  EXPECT_EQ(num(-2.5e-10), "-2.5e-10");
  EXPECT_EQ(num(std::numeric_limits<double>::infinity()), "null");
}

TEST(JsonText, EveryDoubleReadsBackAsTheSameDouble) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (!std::isfinite(d)) continue;
    const std::string text = num(d);
    // Exactly, with from_chars (Boost.JSON 1.81's own parser may be off in the last bit).
    double back = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), back);
    ASSERT_EQ(r.ptr, text.data() + text.size()) << text;
    EXPECT_EQ(back, d) << text;
    ASSERT_TRUE(boost::json::parse(text).is_double()) << text;
  }
}

TEST(JsonText, DocumentsReadBackEqualAndStringsAreEscaped) {
  const auto v = boost::json::parse(
      R"({"a":[1,-2,18446744073709551615,0.5,true,false,null],"s":"q\"b\\c\n\t\u0001\u001f é €","o":{}})");
  const std::string text = to_json(v);
  EXPECT_EQ(boost::json::parse(text), v);
  EXPECT_NE(text.find(R"(\u0001\u001f é €)"), std::string::npos) << text;
  EXPECT_EQ(to_json(v.at("o").as_object()), "{}");
  EXPECT_EQ(to_json(boost::json::array{1, 2.0}), "[1,2.0]");
  EXPECT_EQ(to_json(boost::json::string("x\"")), R"("x\"")");
}

}  // namespace
}  // namespace sb::core
