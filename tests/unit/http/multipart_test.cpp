#include "http/multipart.hpp"

#include <gtest/gtest.h>

namespace sb::http {
namespace {

TEST(Multipart, BoundaryComesFromTheContentType) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc123"), "abc123");
  EXPECT_EQ(multipart_boundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b\""), "a b");
  EXPECT_EQ(multipart_boundary("application/json"), "");
  EXPECT_EQ(multipart_boundary("multipart/mixed; boundary=x"), "");
}

TEST(Multipart, PartsWithNamesFileNamesAndTypes) {
  const std::string body =
      "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"collection\"\r\n\r\nhandbook\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".txt\"\r\n"
      "Content-Type: text/plain\r\n\r\nline one\r\nline two\r\n--XyZ--\r\n";
  auto parts = parse_multipart(body, "XyZ");
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "collection");
  EXPECT_EQ((*parts)[0].body, "handbook");
  EXPECT_EQ((*parts)[1].name, "file");
  EXPECT_EQ((*parts)[1].filename, "a \"b\".txt");
  EXPECT_EQ((*parts)[1].content_type, "text/plain");
  EXPECT_EQ((*parts)[1].body, "line one\r\nline two");
}

TEST(Multipart, MalformedBodiesAreRefused) {
  EXPECT_FALSE(parse_multipart("no boundary here", "XyZ"));
  EXPECT_FALSE(parse_multipart("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated", "XyZ"));
  EXPECT_FALSE(parse_multipart("--XyZ\r\nContent-Disposition: form-data; name=\"a\"", "XyZ"));
  EXPECT_FALSE(parse_multipart("--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--", "XyZ")) << "no name";
  EXPECT_FALSE(parse_multipart("--XyZ\r\nbad header\r\n\r\nx\r\n--XyZ--", "XyZ"));
  EXPECT_FALSE(parse_multipart("", ""));
  auto empty = parse_multipart("--XyZ--\r\n", "XyZ");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace sb::http
