// Citation markers: kept when they name a source, removed (and counted) when invented, groups
// trimmed to their valid numbers, and the same result whatever the text's split into pieces.

#include <gtest/gtest.h>

#include "chat/citations.hpp"

namespace sb::chat {
namespace {

TEST(Citations, MarkersNamingASourceStayAndInventedOnesGo) {
  auto c = clean_markers("Red [1]. Night [2][7]. Both [1, 9]. Odd [0] and [12].", 2);
  EXPECT_EQ(c.text, "Red [1]. Night [2]. Both [1]. Odd  and .");
  EXPECT_EQ(c.cited, (std::vector<int>{1, 2}));
  EXPECT_EQ(c.invented, 4);
}

TEST(Citations, TextThatIsNotAMarkerIsLeftAlone) {
  for (std::string s : {"a [b] c", "list[0 ]", "[", "x [1", "[1,]", "[,1]", "arr[i][j]", "[1 2]", "[[1]]"}) {
    auto c = clean_markers(s, 3);
    if (s == "[[1]]") {
      EXPECT_EQ(c.text, "[[1]]");
      EXPECT_EQ(c.cited, (std::vector<int>{1}));
      continue;
    }
    EXPECT_EQ(c.text, s) << s;
    EXPECT_TRUE(c.cited.empty()) << s;
  }
  EXPECT_EQ(clean_markers("[99999999999999999999]", 3).text, "");  // too large a number: invented
}

TEST(Citations, AStreamSplitAnywhereGivesTheSameTextAndCitations) {
  const std::string text = "Foxes [1] are red [8] and owls [2, 3] hunt [3][1]. [x] [4";
  const auto whole = clean_markers(text, 3);
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    for (std::size_t cut2 = cut; cut2 <= text.size(); cut2 += 3) {
      MarkerFilter f(3);
      std::vector<int> newly, order;
      std::string out = f.feed(text.substr(0, cut), newly);
      out += f.feed(text.substr(cut, cut2 - cut), newly);
      out += f.feed(text.substr(cut2), newly);
      out += f.finish(newly);
      EXPECT_EQ(out, whole.text) << cut << "," << cut2;
      EXPECT_EQ(newly, whole.cited) << cut << "," << cut2;
      EXPECT_EQ(f.invented(), whole.invented);
    }
  }
  EXPECT_EQ(whole.text, "Foxes [1] are red  and owls [2, 3] hunt [3][1]. [x] [4");
  EXPECT_EQ(whole.cited, (std::vector<int>{1, 2, 3}));
}

TEST(Citations, AnOpenBracketIsHeldBackOnlyWhileItCanBeAMarker) {
  MarkerFilter f(5);
  std::vector<int> newly;
  EXPECT_EQ(f.feed("see [", newly), "see ");
  EXPECT_EQ(f.feed("2", newly), "");
  EXPECT_EQ(f.feed("]!", newly), "[2]!");
  EXPECT_EQ(newly, (std::vector<int>{2}));
  EXPECT_EQ(f.feed("[a", newly), "[a");
  EXPECT_EQ(f.feed("[" + std::string(40, '1'), newly), "[" + std::string(40, '1')) << "bounded hold";
}

}  // namespace
}  // namespace sb::chat
