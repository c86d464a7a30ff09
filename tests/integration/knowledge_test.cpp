// The knowledge API through the real binary: collections, indexing text, keyword search, and
// the bad-input answers.

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "harness.hpp"

namespace sbtest {
namespace {

namespace json = boost::json;

TEST(Knowledge, IndexThenSearchByKeyword) {
  Server s;
  auto created = http(s.port(), "POST", "/api/v1/collections", R"({"name":"handbook"})");
  ASSERT_EQ(created->status, 201) << created->body;
  EXPECT_EQ(json::parse(created->body).at("name"), "handbook");
  EXPECT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"handbook"})")->status, 409);

  auto indexed = http(s.port(), "POST", "/api/v1/index",
                      R"({"collection":"handbook","id":"leave","title":"Leave policy",)"
                      R"("content":"# Holidays\n\nEmployees get 25 days of paid holiday.\n\n# Sickness\n\nReport sick leave to your manager."})");
  ASSERT_EQ(indexed->status, 201) << indexed->body;
  EXPECT_EQ(json::parse(indexed->body).at("chunks"), 2);
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/index",
                 R"({"collection":"handbook","id":"it","title":"Laptops","content":"Laptops are replaced every three years."})")
                ->status,
            201);

  auto found = http(s.port(), "POST", "/api/v1/search",
                    R"({"collection":"handbook","query":"how many holidays do employees get?","top_k":5})");
  ASSERT_EQ(found->status, 200) << found->body;
  auto body = json::parse(found->body).as_object();
  EXPECT_EQ(body.at("mode"), "keyword");
  EXPECT_TRUE(body.contains("note")) << "says it searched keyword-only";
  auto data = body.at("data").as_array();
  ASSERT_GE(data.size(), 1u);
  EXPECT_EQ(data[0].at("id"), "leave");
  EXPECT_EQ(data[0].at("heading"), "Holidays");
  EXPECT_NE(std::string(data[0].at("text").as_string()).find("25 days"), std::string::npos);
  EXPECT_GT(data[0].at("score").as_double(), 0);

  auto list = json::parse(http(s.port(), "GET", "/api/v1/collections")->body);
  EXPECT_EQ(list.at("data").at(0).at("documents"), 2);
  EXPECT_EQ(list.at("data").at(0).at("chunks"), 3);

  auto nothing = http(s.port(), "POST", "/api/v1/search", R"({"collection":"handbook","query":"the of"})");
  EXPECT_EQ(json::parse(nothing->body).at("data").as_array().size(), 0u);
}

TEST(Knowledge, BadInputIsRefusedWithTheFieldNamed) {
  Server s;
  auto check = [&](const std::string& path, const std::string& body, int status, const std::string& param) {
    auto r = http(s.port(), "POST", path, body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << path << " " << body << " -> " << r->body;
    if (!param.empty()) {
      EXPECT_EQ(std::string(json::parse(r->body).at("error").at("param").as_string()), param) << r->body;
    }
  };
  check("/api/v1/collections", "{oops", 400, "");
  check("/api/v1/collections", R"({})", 400, "name");
  check("/api/v1/collections", R"({"name":"has space"})", 400, "name");
  check("/api/v1/collections", R"({"name":"x","embedding_model":"mock/echo"})", 400, "embedding_model");
  check("/api/v1/index", R"({"collection":"none","content":"text"})", 404, "collection");
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"c"})")->status, 201);
  check("/api/v1/index", R"({"collection":"c"})", 400, "content");
  check("/api/v1/index", R"({"collection":"c","content":"   "})", 400, "content");
  check("/api/v1/index", R"({"collection":"c","content":7})", 400, "content");
  check("/api/v1/search", R"({"collection":"c"})", 400, "query");
  check("/api/v1/search", R"({"collection":"c","query":"x","top_k":0})", 400, "top_k");
  check("/api/v1/search", R"({"collection":"c","query":"x","mode":"magic"})", 400, "mode");
  check("/api/v1/search", R"({"collection":"missing","query":"x"})", 404, "collection");
  EXPECT_EQ(http(s.port(), "GET", "/health")->status, 200);
}

}  // namespace
}  // namespace sbtest
