#include "workflows/comparison.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace sb::workflows {
namespace {

namespace json = boost::json;

const std::string kWhy = "Text A is focused and well argued, while text B repeats itself and never concludes.";
const std::vector<std::string> kLabels = {"Essay A", "Essay B"};

std::string answer(const std::string& content) {
  return R"({"choices":[{"index":0,"message":{"role":"assistant","content":)" + json::serialize(json::string(content)) +
         "}}]}";
}

TEST(Comparison, RequestAsksForAStrictSchemaWithTheLabels) {
  Comparison c;
  c.a = "one";
  c.b = "two";
  c.labels = {"Left", "Right"};
  c.temperature = 0.2;
  auto body = comparison_request(c);
  EXPECT_EQ(body.at("temperature"), 0.2);
  const auto& js = body.at("response_format").at("json_schema");
  EXPECT_EQ(js.at("strict"), true);
  EXPECT_EQ(js.at("schema").at("additionalProperties"), false);
  EXPECT_EQ(js.at("schema").at("properties").at("winner").at("enum").as_array().size(), 2u);
  const std::string user(body.at("messages").at(1).at("content").as_string());
  EXPECT_NE(user.find("Left:\none"), std::string::npos);
  EXPECT_NE(user.find("Right:\ntwo"), std::string::npos);
}

TEST(Comparison, ParsesAndNormalises) {
  std::string raw;
  auto j = parse_judgment(answer(R"({"winner":" ESSAY b ","justification":")" + kWhy + R"(","confidence":"3"})"), kLabels, raw);
  ASSERT_TRUE(j) << j.error().message;
  EXPECT_EQ(j->winner, "Essay B");
  EXPECT_DOUBLE_EQ(j->confidence, 3);
  EXPECT_DOUBLE_EQ(j->normalized(), 0.5);
  auto fenced = parse_judgment(answer("```json\n{\"winner\":\"A\",\"justification\":\"" + kWhy + "\",\"confidence\":5}\n```"),
                               kLabels, raw);
  ASSERT_TRUE(fenced) << fenced.error().message;
  EXPECT_EQ(fenced->winner, "Essay A");
  EXPECT_DOUBLE_EQ(fenced->normalized(), 1.0);
}

TEST(Comparison, RefusesWhatIsOutOfContract) {
  std::string raw;
  auto fails = [&](const std::string& content, const std::string& says) {
    auto j = parse_judgment(answer(content), kLabels, raw);
    ASSERT_FALSE(j) << content;
    EXPECT_NE(j.error().message.find(says), std::string::npos) << j.error().message;
    EXPECT_EQ(raw, content);
  };
  fails("not json", "not a JSON object");
  fails(R"({"winner":"Essay C","justification":")" + kWhy + R"(","confidence":3})", "Essay C");
  fails(R"({"winner":"Essay A","justification":"short","confidence":3})", "5 characters");
  fails(R"({"winner":"Essay A","justification":")" + std::string(501, 'x') + R"(","confidence":3})", "501");
  fails(R"({"winner":"Essay A","justification":")" + kWhy + R"(","confidence":0.8})", "outside 1.0 to 5.0");
  fails(R"({"winner":"Essay A","justification":")" + kWhy + R"(","confidence":"high"})", "numeric");
  fails(R"({"winner":"Essay A","justification":")" + kWhy + R"("})", "numeric");
  EXPECT_FALSE(parse_judgment("{}", kLabels, raw));
  EXPECT_FALSE(parse_judgment("garbage", kLabels, raw));
  EXPECT_FALSE(parse_judgment(R"({"choices":[{"message":{"content":null}}]})", kLabels, raw));
}

}  // namespace
}  // namespace sb::workflows
