#include "http/auth.hpp"

#include <gtest/gtest.h>

namespace sb::http {
namespace {

TEST(BearerAuth, DisabledWithoutKeys) {
  BearerAuth a(core::AuthConfig{});
  EXPECT_FALSE(a.enabled());
  EXPECT_FALSE(a.required_for("/v1/chat/completions"));
}

TEST(BearerAuth, ProtectsApiPathsOnly) {
  core::AuthConfig cfg;
  cfg.api_keys = {"k1"};
  BearerAuth a(cfg);
  EXPECT_TRUE(a.required_for("/v1/models"));
  EXPECT_TRUE(a.required_for("/api/v1/echo"));
  EXPECT_FALSE(a.required_for("/health"));
  EXPECT_FALSE(a.required_for("/metrics"));
  EXPECT_FALSE(a.required_for("/v1x"));
  cfg.protect_health = cfg.protect_metrics = true;
  BearerAuth strict(cfg);
  EXPECT_TRUE(strict.required_for("/health"));
  EXPECT_TRUE(strict.required_for("/ready"));
  EXPECT_TRUE(strict.required_for("/metrics"));
}

TEST(BearerAuth, ChecksTheToken) {
  core::AuthConfig cfg;
  cfg.api_keys = {"sk-one", "sk-two"};
  BearerAuth a(cfg);
  EXPECT_EQ(a.check("Bearer sk-one"), BearerAuth::Outcome::ok);
  EXPECT_EQ(a.check("bearer sk-two"), BearerAuth::Outcome::ok);
  EXPECT_EQ(a.check("Bearer  sk-two "), BearerAuth::Outcome::ok);
  EXPECT_EQ(a.check("Bearer sk-three"), BearerAuth::Outcome::invalid);
  EXPECT_EQ(a.check("Bearer sk-one2"), BearerAuth::Outcome::invalid);
  EXPECT_EQ(a.check(""), BearerAuth::Outcome::missing);
  EXPECT_EQ(a.check("Bearer "), BearerAuth::Outcome::missing);
  EXPECT_EQ(a.check("Basic c2stb25lOg=="), BearerAuth::Outcome::missing);
  EXPECT_EQ(a.check("sk-one"), BearerAuth::Outcome::missing);
}

TEST(BearerAuth, AcceptsXApiKeyAsAnthropicClientsSendIt) {
  core::AuthConfig cfg;
  cfg.api_keys = {"sk-one"};
  BearerAuth a(cfg);
  EXPECT_EQ(a.check("", "sk-one"), BearerAuth::Outcome::ok);
  EXPECT_EQ(a.check("", "sk-two"), BearerAuth::Outcome::invalid);
  EXPECT_EQ(a.check("", ""), BearerAuth::Outcome::missing);
  EXPECT_EQ(a.check("Bearer sk-bad", "sk-one"), BearerAuth::Outcome::invalid) << "Authorization decides";
  EXPECT_EQ(a.check("Bearer sk-one", "sk-bad"), BearerAuth::Outcome::ok);
}

}  // namespace
}  // namespace sb::http
