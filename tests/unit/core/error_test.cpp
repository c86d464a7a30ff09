#include "core/error.hpp"

#include <gtest/gtest.h>

namespace sb::core {
namespace {

TEST(Error, EachKindHasOneStatusTypeAndCode) {
  EXPECT_EQ(error_info(ErrorKind::bad_request).status, 400);
  EXPECT_EQ(error_info(ErrorKind::invalid_field).code, "invalid_value");
  EXPECT_EQ(error_info(ErrorKind::unauthorized).status, 401);
  EXPECT_EQ(error_info(ErrorKind::not_found).status, 404);
  EXPECT_EQ(error_info(ErrorKind::method_not_allowed).status, 405);
  EXPECT_EQ(error_info(ErrorKind::payload_too_large).status, 413);
  EXPECT_EQ(error_info(ErrorKind::headers_too_large).status, 431);
  EXPECT_EQ(error_info(ErrorKind::rate_limited).type, "rate_limit_error");
  EXPECT_EQ(error_info(ErrorKind::busy).status, 503);
  EXPECT_EQ(error_info(ErrorKind::internal).type, "server_error");
}

TEST(Error, ResultCarriesValueOrError) {
  Result<int> ok = 5;
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 5);
  Result<int> bad = Error(ErrorKind::not_found, "gone", "id");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().status(), 404);
  EXPECT_EQ(bad.error().param, "id");
  Status s;
  EXPECT_TRUE(s);
  Status f = Error(ErrorKind::busy, "full");
  EXPECT_FALSE(f);
}

}  // namespace
}  // namespace sb::core

#include <fstream>
#include <sstream>

namespace sb::core {
namespace {

// The README's error table lists every code the server can answer, with its status and type.
TEST(Error, TheReadmesErrorTableListsEveryCode) {
  std::ifstream in(std::string(SB_SOURCE_DIR) + "/README.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string readme = ss.str();
  const auto begin = readme.find("### Errors");
  ASSERT_NE(begin, std::string::npos);
  const std::string table = readme.substr(begin, readme.find("\n### ", begin + 1) - begin);
  for (int k = 0; k <= static_cast<int>(ErrorKind::internal); ++k) {
    const auto& info = error_info(static_cast<ErrorKind>(k));
    const std::string row = "| " + std::to_string(info.status) + " | `" + std::string(info.type) + "` | `" +
                            std::string(info.code) + "` |";
    EXPECT_NE(table.find(row), std::string::npos) << "README.md's error table lacks " << row;
  }
}

}  // namespace
}  // namespace sb::core
