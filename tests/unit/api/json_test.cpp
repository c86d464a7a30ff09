#include "api/json.hpp"

#include <gtest/gtest.h>

namespace sb::api {
namespace {

TEST(Json, ParseErrorsSayWhere) {
  auto r = parse_json("{\"a\": }");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, core::ErrorKind::invalid_json);
  EXPECT_NE(r.error().message.find("at byte"), std::string::npos);
  EXPECT_FALSE(parse_json(""));
  EXPECT_FALSE(parse_json("{} extra"));
  EXPECT_FALSE(parse_json_object("[1,2]"));
  EXPECT_TRUE(parse_json_object("{\"a\":1}"));
}

TEST(Json, TypedFieldsNameTheField) {
  auto o = *parse_json_object(R"({"n": 5, "big": 99999, "s": "x", "b": true, "f": 1.5, "z": null})");
  EXPECT_EQ(**get_int(o, "n", 0, 10), 5);
  EXPECT_FALSE(*get_int(o, "missing", 0, 10));
  EXPECT_FALSE(*get_int(o, "z", 0, 10));
  auto wrong = get_int(o, "s", 0, 10);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().param, "s");
  EXPECT_EQ(wrong.error().status(), 400);
  EXPECT_FALSE(get_int(o, "f", 0, 10));
  EXPECT_FALSE(get_int(o, "big", 0, 10));
  EXPECT_EQ(**get_bool(o, "b"), true);
  EXPECT_FALSE(get_bool(o, "n"));
  EXPECT_EQ(**get_string(o, "s"), "x");
  EXPECT_EQ(get_string(o, "n").error().message, "'n' must be a string");
}

}  // namespace
}  // namespace sb::api
