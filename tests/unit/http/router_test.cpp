#include "http/router.hpp"

#include <gtest/gtest.h>

namespace sb::http {
namespace {

Handler noop() {
  return [](Request&) -> boost::asio::awaitable<Response> { co_return Response{}; };
}

Router make() {
  Router r;
  r.add("GET", "/health", noop());
  r.add("GET", "/api/v1/jobs/{id}", noop());
  r.add("DELETE", "/api/v1/jobs/{id}", noop());
  r.add("GET", "/api/v1/jobs/{id}/result", noop());
  r.add("POST", "/api/v1/jobs", noop());
  return r;
}

TEST(Router, MatchesLiteralAndCapturedSegments) {
  Router r = make();
  auto m = r.match("GET", "/api/v1/jobs/j_42");
  ASSERT_EQ(m.kind, Match::Kind::found);
  EXPECT_EQ(m.route->pattern, "/api/v1/jobs/{id}");
  EXPECT_EQ(m.pattern, "/api/v1/jobs/{id}");
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0].first, "id");
  EXPECT_EQ(m.params[0].second, "j_42");
  EXPECT_EQ(r.match("GET", "/api/v1/jobs/j_42/result").route->pattern,
            "/api/v1/jobs/{id}/result");
}

TEST(Router, WrongMethodListsAllowedMethods) {
  Router r = make();
  auto m = r.match("PUT", "/api/v1/jobs/x");
  EXPECT_EQ(m.kind, Match::Kind::method_not_allowed);
  EXPECT_EQ(m.allow, "DELETE, GET, HEAD, OPTIONS");
  EXPECT_EQ(m.pattern, "/api/v1/jobs/{id}");
  EXPECT_EQ(r.match("GET", "/api/v1/jobs").allow, "OPTIONS, POST");
}

TEST(Router, HeadUsesGet) {
  Router r = make();
  EXPECT_EQ(r.match("HEAD", "/health").kind, Match::Kind::found);
}

TEST(Router, UnknownPathsAreNotFound) {
  Router r = make();
  EXPECT_EQ(r.match("GET", "/nope").kind, Match::Kind::not_found);
  EXPECT_EQ(r.match("GET", "/health/").kind, Match::Kind::not_found);
  EXPECT_EQ(r.match("GET", "/api/v1/jobs//result").kind, Match::Kind::not_found);
  EXPECT_EQ(r.match("GET", "health").kind, Match::Kind::not_found);
  EXPECT_EQ(r.match("GET", "").kind, Match::Kind::not_found);
  EXPECT_TRUE(r.match("GET", "/nope").pattern.empty());
}

TEST(Router, RejectsDuplicatesAndBadPatterns) {
  Router r = make();
  EXPECT_THROW(r.add("GET", "/health", noop()), std::invalid_argument);
  EXPECT_THROW(r.add("GET", "health", noop()), std::invalid_argument);
}

}  // namespace
}  // namespace sb::http

namespace sb::http {
namespace {

TEST(Router, ARestCaptureTakesTheRemainingSegments) {
  Router r;
  r.add("GET", "/v1/models", noop());
  r.add("GET", "/v1/models/{id...}", noop());
  auto m = r.match("GET", "/v1/models/openrouter/openai/gpt-4o");
  ASSERT_EQ(m.kind, Match::Kind::found);
  EXPECT_EQ(m.route->pattern, "/v1/models/{id...}");
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0].first, "id");
  EXPECT_EQ(m.params[0].second, "openrouter/openai/gpt-4o");
  EXPECT_EQ(r.match("GET", "/v1/models/smart").params.at(0).second, "smart");
  EXPECT_EQ(r.match("GET", "/v1/models").route->pattern, "/v1/models");
  EXPECT_EQ(r.match("GET", "/v1/models/").kind, Match::Kind::not_found);
}

}  // namespace
}  // namespace sb::http
