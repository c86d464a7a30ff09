#include "http/message.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace sb::http {
namespace {

TEST(Message, HeaderLookupIsCaseInsensitive) {
  Request r;
  r.headers = {{"Content-Type", "application/json"}, {"X-Request-Id", "abc"}};
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("x-request-id"), "abc");
  EXPECT_EQ(r.header("missing"), "");
}

TEST(Message, QueryParametersAreDecoded) {
  Request r;
  r.query_string = "status=queued&limit=10&q=a+b%20c%2F&flag&bad=%zz";
  EXPECT_EQ(r.query("status"), "queued");
  EXPECT_EQ(r.query("limit"), "10");
  EXPECT_EQ(r.query("q"), "a b c/");
  EXPECT_EQ(r.query("flag"), "");
  EXPECT_EQ(r.query("bad"), "%zz");
  EXPECT_FALSE(r.query("cursor"));
}

TEST(Message, ErrorEnvelopeIsOpenAiShaped) {
  core::Error e(core::ErrorKind::invalid_field, "'n' must be an integer", "n");
  auto v = boost::json::parse(error_body(e)).as_object();
  auto& err = v["error"].as_object();
  EXPECT_EQ(err["message"], "'n' must be an integer");
  EXPECT_EQ(err["type"], "invalid_request_error");
  EXPECT_EQ(err["param"], "n");
  EXPECT_EQ(err["code"], "invalid_value");
  auto r = Response::error(core::Error(core::ErrorKind::busy, "full"));
  EXPECT_EQ(r.status, 503);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Retry-After");
}

}  // namespace
}  // namespace sb::http
