#include "workflows/intent_router.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace sb::workflows {
namespace {

namespace json = boost::json;

std::vector<core::IntentConfig> intents() {
  return {{"billing", "Invoices and refunds", {"I was charged twice"}, "a/x"}, {"Tech", "Broken things", {}, "b/y"}};
}

std::string answer(const std::string& content) {
  return R"({"choices":[{"index":0,"message":{"role":"assistant","content":)" + json::serialize(json::string(content)) +
         "}}]}";
}

TEST(IntentRequest, AsksForTheEnumOfNamesAndAConfidenceThroughAStrictSchema) {
  auto body = intent_request(intents(), "my card was charged");
  const auto& schema = body.at("response_format").at("json_schema");
  EXPECT_EQ(schema.at("strict"), true);
  EXPECT_EQ(schema.at("schema").at("properties").at("intent").at("enum"), json::parse(R"(["billing","Tech"])"));
  EXPECT_EQ(schema.at("schema").at("required"), json::parse(R"(["intent","confidence"])"));
  const auto& messages = body.at("messages").as_array();
  ASSERT_EQ(messages.size(), 2u);
  const std::string system(messages[0].at("content").as_string());
  EXPECT_NE(system.find("billing: Invoices and refunds (for example: I was charged twice)"), std::string::npos);
  EXPECT_EQ(messages[1].at("content"), "my card was charged");
  EXPECT_EQ(body.at("temperature"), 0);
}

TEST(ParseIntent, AcceptsTheNameInAnyCaseAndANumericString) {
  auto a = parse_intent(answer(R"({"intent":"tech","confidence":"0.75"})"), intents());
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->intent, 1u);
  EXPECT_DOUBLE_EQ(a->confidence, 0.75);
  auto fenced = parse_intent(answer("```json\n{\"intent\":\"billing\",\"confidence\":1}\n```"), intents());
  ASSERT_TRUE(fenced);
  EXPECT_EQ(fenced->intent, 0u);
}

TEST(ParseIntent, RefusesWhatIsNotAnIntentWithAConfidenceInRange) {
  auto why = [](const std::string& body) {
    auto r = parse_intent(body, intents());
    return r ? std::string() : r.error().message;
  };
  EXPECT_NE(why(answer(R"({"intent":"sales","confidence":0.5})")).find("not one of the intents"), std::string::npos);
  EXPECT_NE(why(answer(R"({"intent":"billing","confidence":1.5})")).find("outside 0 to 1"), std::string::npos);
  EXPECT_NE(why(answer(R"({"intent":"billing"})")).find("confidence"), std::string::npos);
  EXPECT_NE(why(answer(R"({"confidence":0.5})")).find("\"intent\""), std::string::npos);
  EXPECT_NE(why(answer("billing")).find("not a JSON object"), std::string::npos);
  EXPECT_NE(why(R"({"choices":[]})").find("no message content"), std::string::npos);
  EXPECT_NE(why("garbage").find("no message content"), std::string::npos);
  EXPECT_NE(why(answer(R"({"intent":"billing","confidence":"NaN"})")).find("confidence"), std::string::npos);
}

TEST(ClassificationText, IsTheLastUserMessageBoundedAtACharacterBoundary) {
  auto req = json::parse(R"({"messages":[{"role":"user","content":"first"},{"role":"assistant","content":"x"},
      {"role":"user","content":[{"type":"text","text":"héllo"},{"type":"image_url","image_url":{"url":"u"}},{"type":"text","text":"there"}]},
      {"role":"system","content":"s"}]})").as_object();
  EXPECT_EQ(classification_text(req, 1000), "héllo\nthere");
  EXPECT_EQ(classification_text(req, 2), "h");  // not half of the é
  EXPECT_EQ(classification_text(json::parse(R"({"messages":[{"role":"system","content":"s"}]})").as_object(), 10), "");
  EXPECT_EQ(classification_text(json::parse(R"({"model":"m"})").as_object(), 10), "");
}

}  // namespace
}  // namespace sb::workflows
