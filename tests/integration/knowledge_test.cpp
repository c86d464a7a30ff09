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

TEST(Knowledge, ReindexingTheSameIdMakesAVersionOnlyWhenTheContentChanged) {
  Server s;
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"docs"})")->status, 201);
  const std::string v1 = R"({"collection":"docs","id":"faq","title":"FAQ","content":"Parking is free on weekends."})";
  auto first = http(s.port(), "POST", "/api/v1/index", v1);
  ASSERT_EQ(first->status, 201);
  const auto doc_id = json::parse(first->body).at("id");
  auto same = http(s.port(), "POST", "/api/v1/index", v1);
  ASSERT_EQ(same->status, 200) << same->body;
  EXPECT_EQ(json::parse(same->body).at("unchanged"), true);
  EXPECT_EQ(json::parse(same->body).at("version"), 1);
  EXPECT_EQ(json::parse(same->body).at("id"), doc_id);
  auto changed = http(s.port(), "POST", "/api/v1/index",
                      R"({"collection":"docs","id":"faq","title":"FAQ","content":"Parking costs 5 euros on weekdays."})");
  ASSERT_EQ(changed->status, 200) << changed->body;
  EXPECT_EQ(json::parse(changed->body).at("version"), 2);
  EXPECT_EQ(json::parse(changed->body).at("unchanged"), false);
  // Only the current version is searchable.
  auto old_text = json::parse(http(s.port(), "POST", "/api/v1/search", R"({"collection":"docs","query":"free weekends"})")->body);
  EXPECT_TRUE(old_text.at("data").as_array().empty()) << old_text;
  auto new_text = json::parse(http(s.port(), "POST", "/api/v1/search", R"({"collection":"docs","query":"euros"})")->body);
  ASSERT_EQ(new_text.at("data").as_array().size(), 1u);
  auto list = json::parse(http(s.port(), "GET", "/api/v1/collections")->body);
  EXPECT_EQ(list.at("data").at(0).at("documents"), 1);
  EXPECT_EQ(list.at("data").at(0).at("chunks"), 1) << "chunks of the current version";
}

TEST(Knowledge, DocumentsCanBeReadListedDeletedAndRestored) {
  Server s;
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"kb"})")->status, 201);
  auto a = json::parse(http(s.port(), "POST", "/api/v1/index",
                            R"({"collection":"kb","id":"a","title":"Alpha","content":"Zebras graze.\n\nThey run fast."})")->body);
  http(s.port(), "POST", "/api/v1/index", R"({"collection":"kb","id":"a","title":"Alpha","content":"Zebras graze at dawn."})");
  http(s.port(), "POST", "/api/v1/index", R"({"collection":"kb","id":"b","title":"Beta","content":"Lions sleep."})");
  const std::string id(a.at("id").as_string());

  auto doc = json::parse(http(s.port(), "GET", "/api/v1/documents/" + id + "?include=text")->body);
  EXPECT_EQ(doc.at("version"), 2);
  EXPECT_EQ(doc.at("text"), "Zebras graze at dawn.");
  EXPECT_EQ(doc.at("collection"), "kb");
  EXPECT_TRUE(doc.at("deleted_at").is_null());
  EXPECT_FALSE(json::parse(http(s.port(), "GET", "/api/v1/docs/" + id)->body).as_object().contains("text"));
  auto versions = json::parse(http(s.port(), "GET", "/api/v1/documents/" + id + "/versions")->body);
  ASSERT_EQ(versions.at("data").as_array().size(), 2u);
  EXPECT_EQ(versions.at("data").at(0).at("version"), 1);

  auto page = json::parse(http(s.port(), "GET", "/api/v1/documents?collection=kb&limit=1")->body);
  ASSERT_EQ(page.at("data").as_array().size(), 1u);
  EXPECT_EQ(page.at("data").at(0).at("external_id"), "b");
  EXPECT_EQ(page.at("has_more"), true);
  auto rest = json::parse(http(s.port(), "GET", "/api/v1/documents?collection=kb&cursor=" +
                                                    std::string(page.at("next_cursor").as_string()))->body);
  ASSERT_EQ(rest.at("data").as_array().size(), 1u);
  EXPECT_EQ(rest.at("data").at(0).at("external_id"), "a");

  auto search = [&](const std::string& q) {
    return json::parse(http(s.port(), "POST", "/api/v1/search", R"({"collection":"kb","query":")" + q + R"("})")->body)
        .at("data").as_array().size();
  };
  EXPECT_EQ(search("zebras"), 1u);
  auto del = http(s.port(), "DELETE", "/api/v1/documents/" + id);
  ASSERT_EQ(del->status, 200) << del->body;
  EXPECT_FALSE(json::parse(del->body).at("deleted_at").is_null());
  EXPECT_EQ(search("zebras"), 0u) << "a deleted document never appears";
  EXPECT_EQ(http(s.port(), "DELETE", "/api/v1/documents/" + id)->status, 409);
  EXPECT_EQ(json::parse(http(s.port(), "GET", "/api/v1/documents?collection=kb")->body).at("data").as_array().size(), 1u);
  auto restored = http(s.port(), "POST", "/api/v1/documents/" + id + "/restore");
  ASSERT_EQ(restored->status, 200) << restored->body;
  EXPECT_EQ(search("zebras"), 1u);
  EXPECT_EQ(search("fast"), 0u) << "only the current version is searched after a restore";
  EXPECT_EQ(http(s.port(), "POST", "/api/v1/documents/" + id + "/restore")->status, 409);
  EXPECT_EQ(http(s.port(), "GET", "/api/v1/documents/doc_nope")->status, 404);
  EXPECT_EQ(http(s.port(), "DELETE", "/api/v1/documents/doc_nope")->status, 404);
  EXPECT_EQ(http(s.port(), "GET", "/api/v1/documents")->status, 400);
  EXPECT_EQ(http(s.port(), "GET", "/api/v1/documents?collection=nope")->status, 404);
  EXPECT_EQ(http(s.port(), "GET", "/api/v1/documents?collection=kb&limit=0")->status, 400);
  EXPECT_EQ(http(s.port(), "GET", "/api/v1/documents/" + id + "?include=everything")->status, 400);
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
