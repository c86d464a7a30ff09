#include "knowledge/fusion.hpp"

#include <gtest/gtest.h>

namespace sb::knowledge {
namespace {

TEST(Fusion, WeightedNormalisesKeywordsAndKeepsCosinesThenWeighs) {
  // keyword scores 10, 5, 0 -> 1, 0.5, 0; semantic cosines 0.9, 0.5 kept as they are.
  std::vector<Ranked> kw = {{1, 10}, {2, 5}, {3, 0}};
  std::vector<Ranked> sem = {{2, 0.9}, {4, 0.5}};
  auto f = fuse(kw, sem, Fusion::weighted, 0.6, 10);
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0].id, 2);  // 0.4 * 0.5 + 0.6 * 0.9 = 0.74
  EXPECT_DOUBLE_EQ(f[0].score, 0.74);
  EXPECT_EQ(f[1].id, 1);  // 0.4 * 1
  EXPECT_DOUBLE_EQ(f[1].score, 0.4);
  EXPECT_DOUBLE_EQ(*f[0].keyword, 5);
  EXPECT_DOUBLE_EQ(*f[0].semantic, 0.9);
  EXPECT_FALSE(f[1].semantic.has_value());
  EXPECT_EQ(f[2].id, 4);  // 0.6 * 0.5
  EXPECT_DOUBLE_EQ(f[2].score, 0.3);
  EXPECT_EQ(f[3].id, 3);
  EXPECT_DOUBLE_EQ(f[3].score, 0);
}

TEST(Fusion, ANonsenseQueryWithWeakVectorsScoresLow) {
  // No keyword match; the nearest vectors are barely near. Min-max would have made the first 1.
  auto f = fuse({}, {{1, 0.12}, {2, 0.08}, {3, -0.2}}, Fusion::weighted, 0.6, 10);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].id, 1);
  EXPECT_LT(f[0].score, 0.1);
  EXPECT_DOUBLE_EQ(f[2].score, 0) << "a negative cosine counts 0";
}

TEST(Fusion, WeightZeroOrOneIsOneListAlone) {
  std::vector<Ranked> kw = {{1, 3}, {2, 1}};
  std::vector<Ranked> sem = {{2, 0.8}, {1, 0.1}};
  EXPECT_EQ(fuse(kw, sem, Fusion::weighted, 0.0, 1)[0].id, 1);
  EXPECT_EQ(fuse(kw, sem, Fusion::weighted, 1.0, 1)[0].id, 2);
}

TEST(Fusion, EqualScoresCountAsOne) {
  auto f = fuse({{7, 2}, {8, 2}}, {}, Fusion::weighted, 0.5, 10);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_DOUBLE_EQ(f[0].score, 0.5);
  EXPECT_DOUBLE_EQ(f[1].score, 0.5);
}

TEST(Fusion, ReciprocalRankFusionSumsOneOverSixtyPlusRank) {
  std::vector<Ranked> kw = {{1, 100}, {2, 50}};
  std::vector<Ranked> sem = {{2, 0.9}, {3, 0.8}};
  auto f = fuse(kw, sem, Fusion::rrf, 0.6, 2);
  ASSERT_EQ(f.size(), 2u);  // cut to k
  EXPECT_EQ(f[0].id, 2);
  EXPECT_DOUBLE_EQ(f[0].score, 1.0 / 62 + 1.0 / 61);
  EXPECT_EQ(f[1].id, 1);
  EXPECT_DOUBLE_EQ(f[1].score, 1.0 / 61);
}

TEST(Fusion, EmptyListsGiveNothing) {
  EXPECT_TRUE(fuse({}, {}, Fusion::weighted, 0.6, 5).empty());
  EXPECT_TRUE(fuse({}, {}, Fusion::rrf, 0.6, 5).empty());
}

}  // namespace
}  // namespace sb::knowledge
