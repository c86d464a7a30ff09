// The prompt of a RAG turn: numbered sources in the system message, memory cut to its budget
// oldest first (the newest exchange truncated with a marker, never dropped), the question last.

#include <gtest/gtest.h>

#include "chat/prompt.hpp"

namespace sb::chat {
namespace {

Source source(int n, std::string title, std::string text, std::optional<std::int64_t> page = std::nullopt) {
  Source s;
  s.n = n;
  s.hit.chunk.title = std::move(title);
  s.hit.chunk.text = std::move(text);
  s.hit.chunk.page = page;
  s.hit.chunk.document_id = "doc_" + std::to_string(n);
  return s;
}

std::string words(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? " w" : "w") + std::to_string(i);
  return s;
}

TEST(Prompt, SourcesAreNumberedInTheSystemMessage) {
  std::vector<Source> sources{source(1, "Foxes", "Foxes are red.", 3), source(2, "", "Owls hunt.")};
  const std::string m = system_message("", sources);
  EXPECT_EQ(m.find(kDefaultSystemPrompt), 0u);
  EXPECT_NE(m.find("[1] Foxes (page 3)\nFoxes are red."), std::string::npos) << m;
  EXPECT_NE(m.find("[2] doc_2\nOwls hunt."), std::string::npos) << m;
  EXPECT_EQ(system_message("Use these: {sources} Thanks.", sources).find("Use these: [1] Foxes"), 0u);
}

TEST(Prompt, MemoryKeepsTheNewestTurnsWithinItsBudget) {
  std::vector<Exchange> all;
  for (int i = 0; i < 5; ++i) all.push_back({"q" + std::to_string(i) + " " + words(8), "a" + std::to_string(i) + " " + words(8)});
  auto two = fit_memory(all, 2, 100000);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].question.substr(0, 2), "q3");
  EXPECT_EQ(two[1].question.substr(0, 2), "q4");
  // Each exchange is 18 words = 24 tokens: a budget of 50 keeps two, oldest dropped first.
  auto budget = fit_memory(all, 20, 50);
  ASSERT_EQ(budget.size(), 2u);
  EXPECT_EQ(budget[1].question.substr(0, 2), "q4");
  EXPECT_TRUE(fit_memory(all, 0, 1000).empty());
  EXPECT_TRUE(fit_memory(all, 5, 0).empty());
}

TEST(Prompt, ASingleExchangeOverTheBudgetIsTruncatedWithAMarker) {
  std::vector<Exchange> all{{"short question", words(300)}};
  auto kept = fit_memory(all, 5, 40);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].question, "short question");
  EXPECT_NE(kept[0].answer.find(kTruncated), std::string::npos);
  EXPECT_LT(kept[0].answer.size(), all[0].answer.size() / 4);
  std::vector<Exchange> huge_question{{words(500), "a"}};
  auto cut = fit_memory(huge_question, 5, 40);
  ASSERT_EQ(cut.size(), 1u);
  EXPECT_NE(cut[0].question.find(kTruncated), std::string::npos);
}

TEST(Prompt, AnswerMessagesAreSystemMemoryThenTheQuestion) {
  auto m = answer_messages("", {source(1, "T", "x")}, {{"q1", "a1"}}, "q2");
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].at("role"), "system");
  EXPECT_EQ(m[1].at("content"), "q1");
  EXPECT_EQ(m[2].at("role"), "assistant");
  EXPECT_EQ(m[3].at("content"), "q2");
  auto r = rewrite_messages({{"q1", "a1"}}, "and then?");
  EXPECT_NE(std::string(r[1].at("content").as_string()).find("User: q1\nAssistant: a1"), std::string::npos);
}

}  // namespace
}  // namespace sb::chat
