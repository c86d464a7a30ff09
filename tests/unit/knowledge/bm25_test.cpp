#include "knowledge/bm25.hpp"

#include <gtest/gtest.h>


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

}  // namespace
}  // namespace sb::knowledge
