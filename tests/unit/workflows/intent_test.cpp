#include "workflows/intent.hpp"

#include <gtest/gtest.h>

namespace sb::workflows {
namespace {

std::vector<Intent> intents() {
  return {
      {"billing", "Invoices, payments, refunds and charges", {"I was charged twice", "where is my invoice", "refund my payment"}, "a/x"},
      {"tech_support", "Problems with the product not working", {"the app crashes on start", "I cannot log in", "error when uploading"}, "b/y"},
      {"general", "Anything else", {"hello", "what are your opening hours"}, "c/z"},
  };
}

TEST(LocalClassifier, PicksTheIntentWhoseExamplesMatchBest) {
  LocalClassifier c(intents(), 2);
  auto billing = c.classify("Why was my card charged twice this month?");
  EXPECT_TRUE(billing.matched);
  EXPECT_EQ(billing.intent, 0u);
  EXPECT_GT(billing.confidence, 0.5);
  EXPECT_LE(billing.confidence, 1.0);
  EXPECT_EQ(c.classify("The app keeps crashing when I start it").intent, 1u);
  EXPECT_EQ(c.classify("I can't log in to my account, error").intent, 1u);
  EXPECT_EQ(c.classify("refunds please").intent, 0u);  // stemmed: refund
  EXPECT_EQ(c.classify("tech support").intent, 1u);    // the name counts
}

TEST(LocalClassifier, NoMatchingWordFallsBackWithZeroConfidence) {
  LocalClassifier c(intents(), 2);
  for (std::string_view text : {"", "zzzz qqqq", "🙂🙂", "\x01\x02 \xff\xfe", "the the the"}) {
    auto r = c.classify(text);
    EXPECT_EQ(r.intent, 2u) << text;
    EXPECT_FALSE(r.matched) << text;
    EXPECT_EQ(r.confidence, 0) << text;
  }
}

TEST(LocalClassifier, ATieIsHalfConfident) {
  std::vector<Intent> two = {{"a", "", {"apple pie"}, "x/a"}, {"b", "", {"apple pie"}, "x/b"}};
  LocalClassifier c(two, 0);
  auto r = c.classify("apple pie");
  EXPECT_TRUE(r.matched);
  EXPECT_DOUBLE_EQ(r.confidence, 0.5);
}

}  // namespace
}  // namespace sb::workflows
