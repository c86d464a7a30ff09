#include "core/ids.hpp"

#include <gtest/gtest.h>

#include <set>

namespace sb::core {
namespace {

TEST(Ids, RequestIdsAre32HexAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    std::string id = new_request_id();
    ASSERT_EQ(id.size(), 32u);
    ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(Ids, ClientRequestIdValidation) {
  EXPECT_TRUE(valid_request_id("req-123_abc.DEF:9/+="));
  EXPECT_FALSE(valid_request_id(""));
  EXPECT_FALSE(valid_request_id(std::string(129, 'a')));
  EXPECT_FALSE(valid_request_id("has space"));
  EXPECT_FALSE(valid_request_id("inject\r\nx: y"));
  EXPECT_FALSE(valid_request_id("quote\""));
}

}  // namespace
}  // namespace sb::core
