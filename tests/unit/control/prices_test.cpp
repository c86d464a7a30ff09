// Prices: configured entries before the built-in table, glob patterns, cached input.

#include <gtest/gtest.h>

#include "control/prices.hpp"

namespace sb::control {
namespace {

TEST(Prices, GlobsMatchAnyRunIncludingSlashes) {
  EXPECT_TRUE(glob_match("*/gpt-4o*", "openrouter/openai/gpt-4o-2024-08-06"));
  EXPECT_TRUE(glob_match("mock/*", "mock/echo"));
  EXPECT_TRUE(glob_match("a/b", "a/b"));
  EXPECT_FALSE(glob_match("a/b", "a/bc"));
  EXPECT_FALSE(glob_match("*/gpt-4o", "openai/gpt-4o-mini"));
  EXPECT_TRUE(glob_match("*", ""));
}

TEST(Prices, TheBuiltInTablePricesTheLongerNameFirst) {
  Prices p({});
  ASSERT_NE(p.find("openai", "gpt-4o-mini"), nullptr);
  EXPECT_DOUBLE_EQ(p.find("openai", "gpt-4o-mini")->input_per_mtok, 0.15);
  EXPECT_DOUBLE_EQ(p.find("openai", "gpt-4o")->input_per_mtok, 2.50);
  EXPECT_EQ(p.find("mock", "echo"), nullptr);
  EXPECT_EQ(p.cost("mock", "echo", {1000, 1000, 0}), 0);
}

TEST(Prices, ConfiguredEntriesComeFirstAndCachedInputDefaultsToInput) {
  core::PriceConfig c;
  c.model = "openai/gpt-4o*";
  c.input_per_mtok = 1;
  c.output_per_mtok = 2;
  Prices p({c});
  // 1e6 prompt tokens of which 4e5 cached, 5e5 completion: 0.6 + 0.4 + 1.0
  EXPECT_DOUBLE_EQ(p.cost("openai", "gpt-4o-mini", {1'000'000, 500'000, 400'000}), 2.0);
  core::PriceConfig cached = c;
  cached.cached_input_per_mtok = 0.5;
  Prices q({cached});
  EXPECT_DOUBLE_EQ(q.cost("openai", "gpt-4o", {1'000'000, 0, 400'000}), 0.6 + 0.2);
}

}  // namespace
}  // namespace sb::control
