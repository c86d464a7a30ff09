#include "knowledge/bm25.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace sb::knowledge {
namespace {

TEST(Bm25, RanksLikeBm25AndHonoursRemovals) {
  Bm25Index index;
  index.add({1, "Penguins", "", "Emperor penguins breed in the Antarctic winter."});
  index.add({2, "Volcanoes", "", "Lava flows from erupting volcanoes."});
  index.add({3, "Deserts", "", "Camels cross the hot sand dunes. Camels drink rarely."});
  auto r = index.search("where do penguins breed", 10);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].id, 1);
  // tf counts: "camels" twice in 3 beats nothing else; stems match ("erupting" ~ "erupt").
  EXPECT_EQ(index.search("camel", 10)[0].id, 3);
  EXPECT_EQ(index.search("eruption", 10)[0].id, 2) << "same stem";
  EXPECT_TRUE(index.search("glacier", 10).empty());
  EXPECT_EQ(index.search("erupt", 10)[0].id, 2);
  index.remove({1});
  EXPECT_TRUE(index.search("penguins", 10).empty());
  index.add({1, "ignored", "", "the text of a revived chunk is not read again"});
  EXPECT_EQ(index.search("penguins", 10)[0].id, 1);
  EXPECT_EQ(index.live(), 3u);
  std::function<bool(std::int64_t)> only2 = [](std::int64_t id) { return id == 2; };
  EXPECT_TRUE(index.search("camels", 10, &only2).empty());
}

// The dense scan (every slot swept) and the sparse one (touched chunks tracked) answer alike,
// with removed chunks and filters.
TEST(Bm25, DenseAndSparseScansAgree) {
  std::mt19937 rng(5);
  std::vector<std::string> vocab;
  for (int i = 0; i < 400; ++i) vocab.push_back("w" + std::to_string(i) + "x");
  auto word = [&] {
    // Skewed: low indexes are common words.
    std::uniform_real_distribution<double> u(0, 1);
    return vocab[static_cast<std::size_t>(std::pow(u(rng), 3) * vocab.size()) % vocab.size()];
  };
  Bm25Index index;
  for (int d = 0; d < 3000; ++d) {
    std::string text;
    const int len = 20 + static_cast<int>(rng() % 120);
    for (int w = 0; w < len; ++w) text += word() + " ";
    index.add({d, "", "", text});
  }
  std::vector<std::int64_t> removed;
  for (int d = 0; d < 3000; d += 7) removed.push_back(d);
  index.remove(removed);
  std::function<bool(std::int64_t)> even = [](std::int64_t id) { return id % 2 == 0; };
  for (int q = 0; q < 200; ++q) {
    std::string query;
    for (int w = 0; w < 2 + q % 9; ++w) query += word() + " ";
    for (std::size_t k : {1u, 10u, 56u}) {
      for (auto* filter : {static_cast<std::function<bool(std::int64_t)>*>(nullptr), &even}) {
        auto fast = index.search(query, k, filter, true);
        auto full = index.search(query, k, filter, false);
        ASSERT_FALSE(full.empty()) << query;
        ASSERT_EQ(fast.size(), full.size()) << query;
        for (std::size_t i = 0; i < fast.size(); ++i) {
          EXPECT_EQ(fast[i].id, full[i].id) << query << " k=" << k << " at " << i;
          EXPECT_NEAR(fast[i].score, full[i].score, 1e-4);
        }
      }
    }
  }
}

}  // namespace
}  // namespace sb::knowledge
