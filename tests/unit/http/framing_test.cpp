#include "http/framing.hpp"

#include <gtest/gtest.h>

namespace sb::http {
namespace {

using core::ErrorKind;

TEST(Framing, OnlyASingleFinalChunkedIsAccepted) {
  EXPECT_FALSE(check_transfer_encoding({}, true));
  EXPECT_FALSE(check_transfer_encoding({"chunked"}, false));
  EXPECT_FALSE(check_transfer_encoding({" CHUNKED\t"}, false));
  for (auto v : {"identity", "xchunked", "gzip", "chunked, chunked", "chunked, gzip", "", " , ", "chunked;x=1"}) {
    auto e = check_transfer_encoding({v}, false);
    ASSERT_TRUE(e) << v;
    EXPECT_EQ(e->kind, ErrorKind::bad_request) << v;
  }
  auto both = check_transfer_encoding({"chunked"}, true);
  ASSERT_TRUE(both);
  EXPECT_EQ(both->kind, ErrorKind::bad_request);
  EXPECT_EQ(check_transfer_encoding({"chunked", "chunked"}, false)->kind, ErrorKind::bad_request);
  EXPECT_EQ(check_transfer_encoding({"gzip, chunked"}, false)->kind, ErrorKind::not_implemented);
  EXPECT_EQ(check_transfer_encoding({"gzip", "chunked"}, false)->kind, ErrorKind::not_implemented);
}

TEST(Framing, ObsFoldIsFoundInAHeadAndAcrossPieces) {
  EXPECT_FALSE(has_obs_fold("GET / HTTP/1.1\r\nHost: a\r\nX: b c\r\n\r\n"));
  EXPECT_TRUE(has_obs_fold("GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n"));
  EXPECT_TRUE(has_obs_fold("GET / HTTP/1.1\r\nHost: a\r\n\tb\r\n\r\n"));
  EXPECT_TRUE(has_obs_fold(" b\r\n\r\n", true));
  EXPECT_FALSE(has_obs_fold(" b\r\n\r\n", false));
  EXPECT_FALSE(has_obs_fold(""));
  EXPECT_FALSE(has_obs_fold("", true));
}

TEST(Framing, AbsoluteTargetsBecomeOriginForm) {
  EXPECT_EQ(origin_form("/health"), "/health");
  EXPECT_EQ(origin_form("http://h/health?x=1"), "/health?x=1");
  EXPECT_EQ(origin_form("HTTPS://h:8080/v1/models"), "/v1/models");
  EXPECT_EQ(origin_form("http://h"), "/");
  EXPECT_EQ(origin_form("*"), "*");
  EXPECT_EQ(origin_form("httpx://h/a"), "httpx://h/a");
}

}  // namespace
}  // namespace sb::http
