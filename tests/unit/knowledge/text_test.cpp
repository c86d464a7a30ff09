// Chunking, chunk hashes, keyword queries, retrieval metrics and BM25 search over the store.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "knowledge/eval.hpp"
#include "knowledge/text.hpp"
#include "storage/database.hpp"
#include "storage/knowledge_repository.hpp"

namespace sb::knowledge {
namespace {

std::string words(int n, const std::string& w = "word") {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? " " : "") + w + std::to_string(i);
  return s;
}

TEST(Chunker, PacksParagraphsUpToTheBudgetAndKeepsHeadings) {
  const std::string md = "# Guide\n\nIntro paragraph here.\n\n## Setup\n\nFirst step.\n\nSecond step.\n\n"
                         "# Other\n\nLast words.\n";
  auto chunks = chunk_text(md, {.max_tokens = 512});
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].heading, "Guide");
  EXPECT_EQ(chunks[0].text, "Intro paragraph here.");
  EXPECT_EQ(chunks[1].heading, "Guide > Setup");
  EXPECT_EQ(chunks[1].text, "First step.\n\nSecond step.");
  EXPECT_EQ(chunks[2].heading, "Other");
}

TEST(Chunker, SplitsLongTextAtSentencesThenWordsWithinTheBudget) {
  std::string para;
  for (int i = 0; i < 40; ++i) para += words(10, "s" + std::to_string(i) + "w") + ". ";
  auto chunks = chunk_text(para, {.max_tokens = 64});
  ASSERT_GT(chunks.size(), 5u);
  for (const auto& c : chunks) {
    EXPECT_LE(c.tokens, 64) << c.text;
    EXPECT_FALSE(c.text.empty());
  }
  // A single sentence longer than the budget is cut at words.
  auto one = chunk_text(words(300), {.max_tokens = 64});
  ASSERT_GT(one.size(), 4u);
  for (const auto& c : one) EXPECT_LE(c.tokens, 64);
  std::string joined;
  for (const auto& c : one) joined += (joined.empty() ? "" : " ") + c.text;
  EXPECT_EQ(joined, words(300)) << "nothing lost or repeated";
}

TEST(Chunker, OverlapRepeatsTheEndOfThePreviousChunkWithinASection) {
  ChunkOptions o;
  o.max_tokens = 16;     // 12 words per chunk
  o.overlap_tokens = 4;  // 3 words repeated
  std::string para;
  for (int i = 1; i <= 20; ++i) para += "w" + std::to_string(i) + " ";
  auto chunks = chunk_text("# A\n\n" + para + "\n\n# B\n\nOther section text.", o);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].text.rfind("w1 ", 0), 0u);
  // The second chunk of section A starts with the last three words of the first.
  const auto first_end = chunks[0].text.substr(chunks[0].text.size() - 11);
  EXPECT_EQ(chunks[1].text.rfind(first_end, 0), 0u) << chunks[1].text;
  EXPECT_EQ(chunks[2].heading, "B");
  EXPECT_EQ(chunks[2].text, "Other section text.") << "no overlap across sections";
  o.overlap_tokens = 0;
  EXPECT_EQ(chunk_text("# A\n\n" + para, o)[1].text.rfind("w13", 0), 0u);
}

TEST(Chunker, EmptyAndBlankTextGiveNoChunks) {
  EXPECT_TRUE(chunk_text("").empty());
  EXPECT_TRUE(chunk_text(" \n\n\t \n").empty());
  EXPECT_TRUE(chunk_text("# Only a heading\n").empty());
}

TEST(ChunkHash, IgnoresSpacingOnly) {
  EXPECT_EQ(normalized_hash("a  b\n c "), normalized_hash("a b c"));
  EXPECT_NE(normalized_hash("a b c"), normalized_hash("a b d"));
  EXPECT_EQ(normalized_hash("").size(), 64u);
}

TEST(KeywordQuery, QuotesWordsAndNeutralisesSyntax) {
  EXPECT_EQ(keyword_query("Cats AND dogs?"), R"("cats" OR "dogs")") << "stop words dropped";
  EXPECT_EQ(keyword_query("title:x \"quoted\" NEAR(a b) -z*"),
            R"("title" OR "x" OR "quoted" OR "near" OR "b" OR "z")");
  EXPECT_EQ(keyword_query("dup Dup DUP"), R"("dup")");
  EXPECT_EQ(keyword_query("  ...  "), "");
  EXPECT_EQ(keyword_query("the of and"), "");
}

TEST(Metrics, MatchTheDefinitions) {
  std::map<std::string, int> rel{{"a", 1}, {"b", 1}};
  EXPECT_DOUBLE_EQ(ndcg_at({"a", "b", "c"}, rel, 10), 1.0);
  // One relevant document at rank 2 of two relevant: (1/log2 3) / (1 + 1/log2 3).
  EXPECT_NEAR(ndcg_at({"x", "a"}, rel, 10), (1 / std::log2(3.0)) / (1 + 1 / std::log2(3.0)), 1e-12);
  EXPECT_DOUBLE_EQ(ndcg_at({"x", "y"}, rel, 10), 0.0);
  EXPECT_DOUBLE_EQ(recall_at({"a", "x"}, rel, 100), 0.5);
  EXPECT_DOUBLE_EQ(recall_at({"x", "a"}, rel, 1), 0.0);
  EXPECT_DOUBLE_EQ(mrr_at({"x", "y", "b"}, rel, 10), 1.0 / 3);
  EXPECT_DOUBLE_EQ(mrr_at({"x", "y", "b"}, rel, 2), 0.0);
  EXPECT_DOUBLE_EQ(ndcg_at({"a"}, {}, 10), 0.0) << "no relevant documents";
}

TEST(KeywordSearch, RanksByBm25WithinTheCollectionAndStems) {
  auto dir = std::filesystem::temp_directory_path() / ("sb-kw-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  core::StorageConfig cfg;
  cfg.data_dir = dir.string();
  auto db = storage::Database::open(cfg);
  ASSERT_TRUE(db) << db.error().message;
  auto r = (*db)->run_sync([](storage::Connection& c) -> core::Result<std::vector<storage::ChunkHit>> {
    auto a = storage::KnowledgeRepository::create_collection(c, "c1", "one", 0);
    auto b = storage::KnowledgeRepository::create_collection(c, "c2", "two", 0);
    if (!a || !b) return core::Error(core::ErrorKind::internal, "collections");
    auto dup = storage::KnowledgeRepository::create_collection(c, "c3", "one", 0);
    EXPECT_FALSE(dup);
    EXPECT_EQ(dup.error().kind, core::ErrorKind::conflict);
    auto add = [&](const std::string& id, const std::string& col, const std::string& title,
                   const std::string& text) {
      storage::DocumentInsert d;
      d.id = id;
      d.collection_id = col;
      d.external_id = id;
      d.title = title;
      d.content_hash = normalized_hash(text);
      d.chunks.push_back(storage::ChunkInsert{0, "", std::nullopt, text, normalized_hash(text)});
      EXPECT_TRUE(storage::KnowledgeRepository::add_document(c, d));
    };
    add("d1", "c1", "Running shoes", "A guide to running shoes for marathon runners.");
    add("d2", "c1", "Cooking", "Recipes for pasta and sauces.");
    add("d3", "c1", "Shoes", "Shoes shoes shoes: a history of the shoe, and one runner.");
    add("d4", "c2", "Runners", "Marathon runners run in the other collection.");
    // Many better matches in another collection must not hide this collection's weaker ones.
    for (int i = 0; i < 100; ++i) {
      add("x" + std::to_string(i), "c2", "Marathon", "Marathon marathon runner runners marathon.");
    }
    auto one = storage::KnowledgeRepository::keyword_search(c, "c1", keyword_query("marathon"), 1);
    EXPECT_TRUE(one && one->size() == 1 && (*one)[0].document_id == "d1");
    return storage::KnowledgeRepository::keyword_search(c, "c1", keyword_query("marathon runner"), 10);
  });
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 2u) << "only matching chunks of collection c1";
  EXPECT_EQ((*r)[0].document_id, "d1") << "both terms (runner stems to match runners)";
  EXPECT_EQ((*r)[1].document_id, "d3");
  EXPECT_GT((*r)[0].score, (*r)[1].score);
  EXPECT_EQ((*r)[0].title, "Running shoes");
  (*db)->close();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sb::knowledge
