#include "http/sse.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace sb::http {
namespace {

std::vector<SseEvent> parse_in_pieces(std::string_view text, std::vector<std::size_t> cuts) {
  SseParser p;
  std::vector<SseEvent> out;
  std::size_t prev = 0;
  cuts.push_back(text.size());
  for (std::size_t cut : cuts) {
    auto st = p.feed(text.substr(prev, cut - prev), [&](SseEvent&& e) { out.push_back(std::move(e)); });
    EXPECT_TRUE(st);
    prev = cut;
  }
  return out;
}

std::string summary(const std::vector<SseEvent>& events) {
  std::string s;
  for (const auto& e : events) s += "[" + e.event + "|" + e.data + "|" + e.id + "]";
  return s;
}

// An OpenAI-style stream and an Anthropic-style stream with every line-ending kind, comments,
// multi-line data and a BOM.
const std::string kStream =
    "\xEF\xBB\xBF"
    ": keep-alive\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
    "event: content_block_delta\r\n"
    "data: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"lo\"}}\r\n\r\n"
    "id: 7\r"
    "data:first\r"
    "data: second\r\r"
    "event: ping\n\n"
    "data: [DONE]\n\n";

const std::string kExpected =
    "[|{\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}|]"
    "[content_block_delta|{\"type\":\"content_block_delta\",\"delta\":{\"text\":\"lo\"}}|]"
    "[|first\nsecond|7]"
    "[|[DONE]|7]";

TEST(Sse, ParsesWholeStream) { EXPECT_EQ(summary(parse_in_pieces(kStream, {})), kExpected); }

TEST(Sse, SameEventsWhereverTheStreamIsSplitOnce) {
  for (std::size_t cut = 0; cut <= kStream.size(); ++cut) {
    EXPECT_EQ(summary(parse_in_pieces(kStream, {cut})), kExpected) << "cut at " << cut;
  }
}

TEST(Sse, SameEventsFedOneByteAtATime) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < kStream.size(); ++i) cuts.push_back(i);
  EXPECT_EQ(summary(parse_in_pieces(kStream, cuts)), kExpected);
}

TEST(Sse, SameEventsWhereverTheStreamIsSplitTwice) {
  for (std::size_t a = 0; a <= kStream.size(); a += 3) {
    for (std::size_t b = a; b <= kStream.size(); b += 5) {
      ASSERT_EQ(summary(parse_in_pieces(kStream, {a, b})), kExpected) << a << "," << b;
    }
  }
}

TEST(Sse, FieldsAndEdgeCases) {
  auto ev = parse_in_pieces("retry: 1500\ndata\ndata:\n\nevent: only-type\n\nfield-without-colon\n\n", {});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "\n");  // two empty data lines
  EXPECT_EQ(ev[0].retry_ms, 1500);
}

TEST(Sse, UnterminatedEventAtEndIsNotDispatched) {
  SseParser p;
  int n = 0;
  ASSERT_TRUE(p.feed("data: partial\n", [&](SseEvent&&) { ++n; }));
  EXPECT_EQ(n, 0);
  EXPECT_FALSE(p.idle());
  ASSERT_TRUE(p.feed("\n", [&](SseEvent&&) { ++n; }));
  EXPECT_EQ(n, 1);
  EXPECT_TRUE(p.idle());
}

TEST(Sse, OversizedEventIsAnErrorNotABuffer) {
  SseParser p(1024);
  std::string big = "data: " + std::string(2000, 'x');
  auto st = p.feed(big, [](SseEvent&&) {});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, core::ErrorKind::upstream_error);
  EXPECT_FALSE(p.feed("\n\n", [](SseEvent&&) {}));
  SseParser lines(1024);  // many data lines adding up past the limit
  core::Status s;
  for (int i = 0; i < 100 && s; ++i) s = lines.feed("data: " + std::string(50, 'y') + "\n", [](SseEvent&&) {});
  EXPECT_FALSE(s);
}

}  // namespace
}  // namespace sb::http
