#include "http/cors.hpp"

#include <gtest/gtest.h>

namespace sb::http {
namespace {

std::string get(const HeaderList& h, const std::string& name) {
  for (const auto& [k, v] : h) {
    if (k == name) return v;
  }
  return "";
}

TEST(Cors, OffByDefault) {
  CorsPolicy p(core::CorsConfig{});
  EXPECT_FALSE(p.enabled());
  EXPECT_FALSE(p.origin_allowed("https://a.example"));
  EXPECT_TRUE(p.response_headers("https://a.example").empty());
}

TEST(Cors, ListedOriginsAreEchoedWithVary) {
  core::CorsConfig cfg;
  cfg.allowed_origins = {"https://a.example"};
  CorsPolicy p(cfg);
  EXPECT_TRUE(p.origin_allowed("https://a.example"));
  EXPECT_FALSE(p.origin_allowed("https://evil.example"));
  auto h = p.response_headers("https://a.example");
  EXPECT_EQ(get(h, "Access-Control-Allow-Origin"), "https://a.example");
  EXPECT_EQ(get(h, "Vary"), "Origin");
  EXPECT_NE(get(h, "Access-Control-Expose-Headers").find("X-Request-Id"), std::string::npos);
  auto pre = p.preflight_headers("https://a.example", "GET, POST");
  EXPECT_EQ(get(pre, "Access-Control-Allow-Methods"), "GET, POST");
  EXPECT_NE(get(pre, "Access-Control-Allow-Headers").find("authorization"), std::string::npos);
  EXPECT_EQ(get(pre, "Access-Control-Max-Age"), "600");
}

TEST(Cors, WildcardAllowsAnyOrigin) {
  core::CorsConfig cfg;
  cfg.allowed_origins = {"*"};
  CorsPolicy p(cfg);
  EXPECT_TRUE(p.origin_allowed("https://anything.example"));
  EXPECT_FALSE(p.origin_allowed(""));
  EXPECT_EQ(get(p.response_headers("https://x.example"), "Access-Control-Allow-Origin"), "*");
}

}  // namespace
}  // namespace sb::http
