// The knowledge API through the real binary: collections, indexing text, keyword search, and
// the bad-input answers.

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <thread>
#include <filesystem>
#include <map>
#include <set>

#include <boost/json/serialize.hpp>
#include <sqlite3.h>

#include "documents.hpp"
#include "fake_upstream.hpp"
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
                      R"({"collection":"handbook","external_id":"leave","title":"Leave policy",)"
                      R"("text":"# Holidays\n\nEmployees get 25 days of paid holiday.\n\n# Sickness\n\nReport sick leave to your manager."})");
  ASSERT_EQ(indexed->status, 201) << indexed->body;
  EXPECT_EQ(json::parse(indexed->body).at("chunks"), 2);
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/index",
                 R"({"collection":"handbook","external_id":"it","title":"Laptops","text":"Laptops are replaced every three years."})")
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
  EXPECT_EQ(data[0].at("external_id"), "leave");
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
  const std::string v1 = R"({"collection":"docs","external_id":"faq","title":"FAQ","text":"Parking is free on weekends."})";
  auto first = http(s.port(), "POST", "/api/v1/index", v1);
  ASSERT_EQ(first->status, 201);
  const auto doc_id = json::parse(first->body).at("id");
  auto same = http(s.port(), "POST", "/api/v1/index", v1);
  ASSERT_EQ(same->status, 200) << same->body;
  EXPECT_EQ(json::parse(same->body).at("unchanged"), true);
  EXPECT_EQ(json::parse(same->body).at("version"), 1);
  EXPECT_EQ(json::parse(same->body).at("id"), doc_id);
  auto changed = http(s.port(), "POST", "/api/v1/index",
                      R"({"collection":"docs","external_id":"faq","title":"FAQ","text":"Parking costs 5 euros on weekdays."})");
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
                            R"({"collection":"kb","external_id":"a","title":"Alpha","text":"Zebras graze.\n\nThey run fast."})")->body);
  http(s.port(), "POST", "/api/v1/index", R"({"collection":"kb","external_id":"a","title":"Alpha","text":"Zebras graze at dawn."})");
  http(s.port(), "POST", "/api/v1/index", R"({"collection":"kb","external_id":"b","title":"Beta","text":"Lions sleep."})");
  const std::string id(a.at("id").as_string());

  auto doc = json::parse(http(s.port(), "GET", "/api/v1/documents/" + id + "?include=text")->body);
  EXPECT_EQ(doc.at("version"), 2);
  EXPECT_EQ(doc.at("text"), "Zebras graze at dawn.");
  EXPECT_EQ(doc.at("collection"), "kb");
  EXPECT_TRUE(doc.at("deleted_at").is_null());
  EXPECT_FALSE(json::parse(http(s.port(), "GET", "/api/v1/docs/" + id)->body).as_object().contains("text"));
  auto versions = json::parse(http(s.port(), "GET", "/api/v1/documents/" + id + "/versions")->body);
  ASSERT_EQ(versions.at("data").as_array().size(), 2u);
  EXPECT_EQ(versions.at("data").at(0).at("version"), 2) << "newest first";
  EXPECT_EQ(versions.at("first_id"), 2);
  auto older = json::parse(http(s.port(), "GET", "/api/v1/documents/" + id + "/versions?after=2")->body);
  ASSERT_EQ(older.at("data").as_array().size(), 1u);
  EXPECT_EQ(older.at("data").at(0).at("version"), 1);
  EXPECT_EQ(older.at("has_more"), false);
  EXPECT_EQ(http(s.port(), "GET", "/api/v1/documents/" + id + "/versions?after=9")->status, 400);
  EXPECT_EQ(doc.at("created_at").as_int64() / 1000000000, 1) << "Unix seconds, not milliseconds: " << doc;

  auto page = json::parse(http(s.port(), "GET", "/api/v1/documents?collection=kb&limit=1")->body);
  ASSERT_EQ(page.at("data").as_array().size(), 1u);
  EXPECT_EQ(page.at("data").at(0).at("external_id"), "b");
  EXPECT_EQ(page.at("has_more"), true);
  auto rest = json::parse(http(s.port(), "GET", "/api/v1/documents?collection=kb&after=" +
                                                    std::string(page.at("last_id").as_string()))->body);
  ASSERT_EQ(rest.at("data").as_array().size(), 1u);
  EXPECT_EQ(rest.at("data").at(0).at("external_id"), "a");
  auto back = json::parse(http(s.port(), "GET", "/api/v1/documents?collection=kb&before=" +
                                                    std::string(rest.at("first_id").as_string()))->body);
  EXPECT_EQ(back.at("data").at(0).at("external_id"), "b");
  auto cols = json::parse(http(s.port(), "GET", "/api/v1/collections?limit=1")->body);
  EXPECT_EQ(cols.at("data").as_array().size(), 1u);
  EXPECT_EQ(cols.at("data").at(0).at("name"), "kb");
  EXPECT_EQ(cols.at("has_more"), false);

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
  check("/api/v1/collections", R"({"name":"x","embedding_model":"nope/model"})", 404, "embedding_model");
  check("/api/v1/collections", R"({"name":"x","embedding_model":7})", 400, "embedding_model");
  check("/api/v1/collections", R"({"name":"x","dimensions":64})", 400, "dimensions");
  check("/api/v1/collections", R"({"name":"x","embedding_model":"mock/embed","dimensions":0})", 400, "dimensions");
  check("/api/v1/index", R"({"collection":"none","text":"text"})", 404, "collection");
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"c"})")->status, 201);
  check("/api/v1/index", R"({"collection":"c"})", 400, "text");
  check("/api/v1/index", R"({"collection":"c","text":"   "})", 400, "text");
  check("/api/v1/index", R"({"collection":"c","text":7})", 400, "text");
  check("/api/v1/search", R"({"collection":"c"})", 400, "query");
  check("/api/v1/search", R"({"collection":"c","query":"x","top_k":0})", 400, "top_k");
  check("/api/v1/search", R"({"collection":"c","query":"x","mode":"magic"})", 400, "mode");
  check("/api/v1/search", R"({"collection":"missing","query":"x"})", 404, "collection");
  check("/api/v1/search", R"({"collection":"c","query":"x","fusion":"max"})", 400, "fusion");
  check("/api/v1/search", R"({"collection":"c","query":"x","semantic_weight":1.5})", 400, "semantic_weight");
  check("/api/v1/search", R"({"collection":"c","query":"x","hnsw_ef":0})", 400, "hnsw_ef");
  check("/api/v1/search", R"({"collection":"c","query":"x","hnsw_ef":"many"})", 400, "hnsw_ef");
  check("/api/v1/search", R"({"collection":"c","query":"x","filters":[]})", 400, "filters");
  check("/api/v1/search", R"({"collection":"c","query":"x","filters":{"colour":"red"}})", 400, "filters.colour");
  check("/api/v1/search", R"({"collection":"c","query":"x","filters":{"tags":"a"}})", 400, "filters.tags");
  check("/api/v1/search", R"({"collection":"c","query":"x","filters":{"metadata":{"a":[1]}}})", 400,
        "filters.metadata.a");
  check("/api/v1/index", R"({"collection":"c","text":"t","tags":[1]})", 400, "tags[0]");
  check("/api/v1/index", R"({"collection":"c","text":"t","metadata":"m"})", 400, "metadata");
  check("/api/v1/documents", R"({"collection":"c","content":"t"})", 400, "content");
  check("/api/v1/documents", R"({"collection":"c"})", 400, "text");
  check("/api/v1/index/batch", R"({"collection":"c","documents":[]})", 400, "documents");
  check("/api/v1/index/batch", R"({"collection":"c","documents":[{"text":"ok"},{"text":5}]})", 400,
        "documents[1].text");
  EXPECT_EQ(http(s.port(), "GET", "/health")->status, 200);
}

// A collection with the mock provider's hashed embeddings: semantic and hybrid search, filters,
// versions and deletes seen by the vector index, and the index rebuilt from storage.
TEST(Knowledge, HybridSearchWithEmbeddingsFiltersAndARebuiltIndex) {
  TempDir data;
  auto search = [](int port, const std::string& body) {
    auto r = http(port, "POST", "/api/v1/search", body);
    EXPECT_EQ(r->status, 200) << body << " -> " << r->body;
    return json::parse(r->body).as_object();
  };
  auto ids = [](const json::object& res) {
    std::vector<std::string> out;
    for (const auto& h : res.at("data").as_array()) out.emplace_back(h.at("external_id").as_string());
    return out;
  };
  std::string pets_doc;
  {
    Server s({.data_dir = data.path()});
    auto created = http(s.port(), "POST", "/api/v1/collections",
                        R"({"name":"kb","embedding_model":"mock/embed","dimensions":128})");
    ASSERT_EQ(created->status, 201) << created->body;
    EXPECT_EQ(json::parse(created->body).at("dimensions"), 128);
    // The model answers 128-dimensional vectors; asking 64 of a collection that says 128 is
    // impossible here, so the mismatch is checked at creation instead.
    const std::vector<std::string> docs = {
        R"({"collection":"kb","external_id":"cats","title":"Cats","text":"Cats are small domesticated mammals that purr and hunt mice.","tags":["pets"],"metadata":{"year":2020,"lang":"en","indoor":true}})",
        R"({"collection":"kb","external_id":"dogs","title":"Dogs","text":"Dogs are loyal domesticated mammals that bark and fetch.","tags":["pets"],"metadata":{"year":2021,"lang":"en"}})",
        R"({"collection":"kb","external_id":"rockets","title":"Rockets","text":"A rocket engine burns propellant to produce thrust in space.","tags":["space"],"metadata":{"year":2021,"lang":"de"}})",
    };
    for (const auto& d : docs) {
      auto r = http(s.port(), "POST", "/api/v1/documents", d);
      ASSERT_EQ(r->status, 201) << r->body;
      EXPECT_EQ(json::parse(r->body).at("embedded_chunks"), 1);
      if (d.find("\"cats\"") != std::string::npos) pets_doc = json::parse(r->body).at("id").as_string();
    }
    auto sem = search(s.port(), R"({"collection":"kb","query":"mammals that purr","mode":"semantic","top_k":3})");
    EXPECT_EQ(sem.at("mode"), "semantic");
    ASSERT_EQ(ids(sem).size(), 3u);
    EXPECT_EQ(ids(sem)[0], "cats");
    EXPECT_TRUE(sem.at("data").at(0).at("scores").at("keyword").is_null());
    EXPECT_GT(sem.at("data").at(0).at("scores").at("semantic").as_double(), 0.3);

    auto exact = search(s.port(), R"({"collection":"kb","query":"mammals that purr","mode":"semantic","top_k":3,"exact":true})");
    EXPECT_EQ(ids(exact), ids(sem)) << "three vectors: the graph finds them all";
    auto wide = search(s.port(), R"({"collection":"kb","query":"mammals that purr","mode":"semantic","top_k":3,"hnsw_ef":500})");
    EXPECT_EQ(ids(wide), ids(sem));
    EXPECT_EQ(http(s.port(), "POST", "/api/v1/search", R"({"collection":"kb","query":"x","exact":"yes"})")->status, 400);

    auto hybrid = search(s.port(), R"({"collection":"kb","query":"rocket thrust","top_k":2})");
    EXPECT_EQ(hybrid.at("mode"), "hybrid");
    EXPECT_FALSE(hybrid.contains("note"));
    ASSERT_GE(ids(hybrid).size(), 1u);
    EXPECT_EQ(ids(hybrid)[0], "rockets");
    // Best keyword match (normalised to 1) and its cosine as it is.
    const auto& best = hybrid.at("data").at(0);
    EXPECT_NEAR(best.at("score").as_double(), 0.4 + 0.6 * best.at("scores").at("semantic").as_double(), 1e-6);
    auto rrf = search(s.port(), R"({"collection":"kb","query":"rocket thrust","fusion":"rrf","top_k":1})");
    EXPECT_NEAR(rrf.at("data").at(0).at("score").as_double(), 2.0 / 61, 1e-9);

    // Filters apply to both halves.
    auto pets = search(s.port(), R"({"collection":"kb","query":"rocket thrust","filters":{"tags":["pets"]}})");
    for (const auto& id : ids(pets)) EXPECT_NE(id, "rockets");
    auto y2021 = search(s.port(), R"({"collection":"kb","query":"domesticated mammals","mode":"semantic","filters":{"metadata":{"year":2021,"lang":"en"}}})");
    EXPECT_EQ(ids(y2021), std::vector<std::string>{"dogs"});
    auto indoor = search(s.port(), R"({"collection":"kb","query":"mammals","filters":{"metadata":{"indoor":true}}})");
    EXPECT_EQ(ids(indoor), std::vector<std::string>{"cats"});
    auto by_id = search(s.port(), R"({"collection":"kb","query":"mammals","mode":"semantic","filters":{"document_ids":["dogs"]}})");
    EXPECT_EQ(ids(by_id), std::vector<std::string>{"dogs"});

    // A new version replaces the old text in the vector index too; a deleted document is gone.
    auto put = http(s.port(), "PUT", "/api/v1/documents/" + pets_doc,
                    R"({"title":"Cats","text":"Cats sleep most of the day on warm windowsills.","tags":["pets"]})");
    ASSERT_EQ(put->status, 200) << put->body;
    EXPECT_EQ(json::parse(put->body).at("version"), 2);
    auto purr = search(s.port(), R"({"collection":"kb","query":"purr and hunt mice","mode":"semantic","top_k":3})");
    for (const auto& h : purr.at("data").as_array()) {
      EXPECT_EQ(std::string(h.at("text").as_string()).find("purr"), std::string::npos) << "old version found";
    }
    ASSERT_EQ(http(s.port(), "DELETE", "/api/v1/documents/" + pets_doc)->status, 200);
    auto after = search(s.port(), R"({"collection":"kb","query":"cats sleep windowsills","mode":"semantic","top_k":5})");
    for (const auto& id : ids(after)) EXPECT_NE(id, "cats");
    ASSERT_EQ(http(s.port(), "POST", "/api/v1/documents/" + pets_doc + "/restore")->status, 200);
    auto back = search(s.port(), R"({"collection":"kb","query":"cats sleep windowsills","mode":"semantic","top_k":1})");
    EXPECT_EQ(ids(back), std::vector<std::string>{"cats"});

    // Re-indexing unchanged content embeds nothing; a stats call counts what is live.
    auto again = http(s.port(), "POST", "/api/v1/index/batch",
                      R"({"collection":"kb","documents":[{"external_id":"dogs","title":"Dogs","text":"Dogs are loyal domesticated mammals that bark and fetch.","tags":["pets"],"metadata":{"year":2021,"lang":"en"}},{"external_id":"fish","title":"Fish","text":"Goldfish swim in bowls."}]})");
    ASSERT_EQ(again->status, 200) << again->body;
    auto batch = json::parse(again->body);
    EXPECT_EQ(batch.at("data").at(0).at("unchanged"), true);
    EXPECT_EQ(batch.at("data").at(1).at("embedded_chunks"), 1);
    EXPECT_EQ(batch.at("failed"), 0);
    // A changed document embeds only its changed chunks (the others' vectors are cached by hash).
    const std::string two = R"({"collection":"kb","external_id":"two","title":"Two","text":"# A\n\nAlpha section text.\n\n# B\n\nBeta section text."})";
    auto v1 = json::parse(http(s.port(), "POST", "/api/v1/index", two)->body);
    EXPECT_EQ(v1.at("chunks"), 2);
    EXPECT_EQ(v1.at("embedded_chunks"), 2);
    auto v2 = json::parse(http(s.port(), "POST", "/api/v1/index",
                               R"({"collection":"kb","external_id":"two","title":"Two","text":"# A\n\nAlpha section text.\n\n# B\n\nBeta section, rewritten."})")->body);
    EXPECT_EQ(v2.at("version"), 2);
    EXPECT_EQ(v2.at("embedded_chunks"), 1) << v2;
    ASSERT_EQ(http(s.port(), "DELETE", "/api/v1/documents/" + std::string(v2.at("id").as_string()))->status, 200);

    // Written after the indexes were opened: both see it at once.
    auto fish = search(s.port(), R"({"collection":"kb","query":"goldfish bowls","mode":"semantic","top_k":1})");
    EXPECT_EQ(ids(fish), std::vector<std::string>{"fish"});
    auto fish_kw = search(s.port(), R"({"collection":"kb","query":"goldfish","mode":"keyword","top_k":1})");
    EXPECT_EQ(ids(fish_kw), std::vector<std::string>{"fish"});
    auto stats = json::parse(http(s.port(), "GET", "/api/v1/stats")->body);
    EXPECT_EQ(stats.at("documents"), 4);
    EXPECT_EQ(stats.at("chunks"), 4);
    EXPECT_EQ(s.stop(SIGTERM), 0);
  }
  // The saved index is deleted: the next search rebuilds it from the stored vectors.
  std::filesystem::remove_all(data.path() + "/vectors");
  {
    Server s({.data_dir = data.path()});
    auto res = search(s.port(), R"({"collection":"kb","query":"goldfish bowls","mode":"semantic","top_k":1})");
    EXPECT_EQ(ids(res), std::vector<std::string>{"fish"});
    EXPECT_TRUE(s.wait_for_log("vector index rebuilt"));
    // Deleting the collection removes it from listings and search; the name is free again.
    ASSERT_EQ(http(s.port(), "DELETE", "/api/v1/collections/kb")->status, 200);
    EXPECT_EQ(http(s.port(), "DELETE", "/api/v1/collections/kb")->status, 404);
    EXPECT_EQ(http(s.port(), "POST", "/api/v1/search", R"({"collection":"kb","query":"fish"})")->status, 404);
    EXPECT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"kb"})")->status, 201);
    EXPECT_EQ(json::parse(http(s.port(), "GET", "/api/v1/collections/kb")->body).at("documents"), 0);
  }
  // A saved index that fails its checksum is rebuilt too (not trusted, not crashed on).
}

// Search reads its candidates from the in-memory indexes and only the hits from storage: a chunk
// that storage no longer holds as live (here deleted behind the server's back, as when a write
// lands between the two) is never returned, in any mode, and the others still are. The answer
// says where its time went.
TEST(Knowledge, AChunkGoneFromStorageIsNeverReturnedThoughTheIndexesStillHoldIt) {
  Server s;
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections",
                 R"({"name":"kb","embedding_model":"mock/embed","dimensions":64})")->status,
            201);
  // "a" is the best match in every mode.
  for (const std::string id : {"a", "b", "c"}) {
    const std::string more = id == "a" ? " A lighthouse, a harbour." : "";
    auto r = http(s.port(), "POST", "/api/v1/index",
                  R"({"collection":"kb","external_id":")" + id + R"(","title":"Harbour )" + id +
                      R"(","text":"The lighthouse guards the harbour entrance at night.)" + more + R"("})");
    ASSERT_EQ(r->status, 201) << r->body;
  }
  auto ids = [&](const std::string& mode) {
    auto r = http(s.port(), "POST", "/api/v1/search",
                  R"({"collection":"kb","query":"lighthouse harbour","top_k":2,"mode":")" + mode + R"("})");
    EXPECT_EQ(r->status, 200) << r->body;
    std::set<std::string> out;
    const json::value body = json::parse(r->body);
    for (const auto& h : body.at("data").as_array()) out.emplace(h.at("external_id").as_string());
    return std::make_pair(out, r->header("server-timing"));
  };
  for (const char* mode : {"keyword", "semantic"}) EXPECT_EQ(ids(mode).first.count("a"), 1u) << mode;
  auto [before, timing] = ids("hybrid");
  EXPECT_EQ(before.count("a"), 1u);
  for (const char* part : {"embed;dur=", "wait;dur=", "keyword;dur=", "vector;dur=", "fetch;dur="}) {
    EXPECT_NE(timing.find(part), std::string::npos) << timing;
  }
  EXPECT_EQ(ids("keyword").second.find("vector;"), std::string::npos) << "keyword mode has no vector half";

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((s.data_dir() + "/switchboard.db").c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 10000);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE documents SET deleted_at = 1 WHERE external_id = 'a'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  // Still two hits: the search was made again checking every candidate.
  const std::set<std::string> rest{"b", "c"};
  for (const char* mode : {"keyword", "semantic", "hybrid"}) EXPECT_EQ(ids(mode).first, rest) << mode;
}

std::string form(const std::map<std::string, std::string>& fields, const std::string& filename,
                 const std::string& type, const std::string& file) {
  return multipart_form(fields, filename, type, file);
}
const std::map<std::string, std::string>& kForm = kMultipart;

TEST(Knowledge, UploadsArePdfDocxHtmlOrTextAndBadFilesAreRefused) {
  Server s({.env = {{"SWITCHBOARD_KNOWLEDGE_MAX_DOCUMENT_BYTES", "200000"}}});
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"files"})")->status, 201);
  const std::string pdf = sbtest::make_pdf({"Zebras graze on the savanna.", "Lions hunt at dusk.", "Appendix."});
  auto r = http(s.port(), "POST", "/api/v1/documents",
                form({{"collection", "files"}, {"tags", "animals, africa"}, {"metadata", R"({"dept":"zoo"})"}},
                     "animals.pdf", "application/pdf", pdf),
                kForm);
  ASSERT_EQ(r->status, 201) << r->body;
  auto doc = json::parse(r->body);
  EXPECT_EQ(doc.at("pages"), 3);
  const std::string pdf_id(doc.at("id").as_string());
  auto hit = json::parse(http(s.port(), "POST", "/api/v1/search", R"({"collection":"files","query":"lions hunting"})")->body);
  ASSERT_GE(hit.at("data").as_array().size(), 1u) << hit;
  EXPECT_EQ(hit.at("data").at(0).at("page"), 2) << "page numbers kept";
  EXPECT_EQ(hit.at("data").at(0).at("source"), "animals.pdf");
  EXPECT_EQ(hit.at("data").at(0).at("title"), "animals.pdf");
  auto meta = json::parse(http(s.port(), "GET", "/api/v1/documents/" + pdf_id)->body);
  EXPECT_EQ(meta.at("content_type"), "application/pdf");
  EXPECT_EQ(meta.at("tags"), json::parse(R"(["animals","africa"])"));
  EXPECT_EQ(meta.at("metadata").at("dept"), "zoo");
  EXPECT_EQ(json::parse(http(s.port(), "GET", "/api/v1/documents?collection=files&tag=africa")->body)
                .at("data").as_array().size(), 1u);
  EXPECT_EQ(json::parse(http(s.port(), "GET", "/api/v1/documents?collection=files&tag=europe")->body)
                .at("data").as_array().size(), 0u);

  const std::string docx = sbtest::make_docx({{"Heading1", "Parking"}, {"", "Parking is free on weekends."}});
  r = http(s.port(), "POST", "/api/v1/documents", form({{"collection", "files"}, {"external_id", "parking"}}, "p.docx", "", docx), kForm);
  ASSERT_EQ(r->status, 201) << r->body;
  hit = json::parse(http(s.port(), "POST", "/api/v1/search", R"({"collection":"files","query":"weekend parking"})")->body);
  EXPECT_EQ(hit.at("data").at(0).at("external_id"), "parking");
  EXPECT_EQ(hit.at("data").at(0).at("heading"), "Parking");

  // A new version by upload (PUT): the old text leaves search.
  const std::string html = "<html><head><title>Parking v2</title><script>x()</script></head>"
                           "<body><h1>Parking</h1><p>Parking costs 5 euros.</p></body></html>";
  std::string docx_id(json::parse(r->body).at("id").as_string());
  r = http(s.port(), "PUT", "/api/v1/documents/" + docx_id, form({}, "p.html", "text/html", html), kForm);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body).at("version"), 2);
  auto v2 = json::parse(http(s.port(), "GET", "/api/v1/documents/" + docx_id + "?include=text")->body);
  EXPECT_EQ(v2.at("title"), "Parking v2");
  EXPECT_EQ(v2.at("text"), "Parking costs 5 euros.") << "chunk texts (headings are kept apart)";
  EXPECT_EQ(json::parse(http(s.port(), "POST", "/api/v1/search", R"({"collection":"files","query":"free weekends"})")->body)
                .at("data").as_array().size(), 0u);

  auto refused = [&](const std::string& body, int status, const std::string& what) {
    auto res = http(s.port(), "POST", "/api/v1/documents", body, kForm);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << what << ": " << res->body;
    EXPECT_TRUE(json::parse(res->body).as_object().contains("error")) << res->body;
  };
  refused(form({{"collection", "files"}}, "x.png", "image/png", std::string("\x89PNG\r\n\x1a\n\0\0", 10)), 415, "image");
  refused(form({{"collection", "files"}}, "big.txt", "text/plain", std::string(300000, 'a')), 413, "over the limit");
  refused(form({{"collection", "files"}}, "broken.pdf", "application/pdf", "%PDF-1.4 garbage"), 422, "corrupt pdf");
  refused(form({{"collection", "files"}}, "bad.docx", "", "PK\x03\x04 not really"), 422, "bad docx");
  refused(form({{"collection", "files"}}, "blank.txt", "text/plain", "   \n  "), 422, "no text");
  refused(form({{"collection", "files"}, {"metadata", "[1]"}}, "a.txt", "text/plain", "words"), 400, "bad metadata");
  refused(form({{"collection", "nope"}}, "a.txt", "text/plain", "words"), 404, "unknown collection");
  refused("--BoUnDaRy\r\nContent-Disposition: form-data; name=\"collection\"\r\n\r\nfiles", 400, "unterminated");
  refused("--BoUnDaRy\r\nContent-Disposition: form-data; name=\"collection\"\r\n\r\nfiles\r\n--BoUnDaRy--\r\n", 400,
          "no file");
  EXPECT_EQ(json::parse(http(s.port(), "GET", "/api/v1/collections/files")->body).at("documents"), 2)
      << "nothing half-written";
}

TEST(Knowledge, DocumentsFromUrlsWithPrivateAddressesRefusedByDefault) {
  FakeUpstream site;
  Behavior page;
  page.headers = {{"Content-Type", "text/html; charset=utf-8"}};
  page.body = "<html><head><title>Travel policy</title><style>x{}</style></head><body><h1>Trains</h1>"
              "<p>Book second class for trips under four hours.</p></body></html>";
  {
    Server s;
    ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"web"})")->status, 201);
    for (const std::string url : {site.url() + "/travel", std::string("http://localhost:1/x"),
                                  std::string("http://10.0.0.7/x"), std::string("http://169.254.169.254/latest")}) {
      auto r = http(s.port(), "POST", "/api/v1/documents", R"({"collection":"web","url":")" + url + R"("})");
      EXPECT_EQ(r->status, 400) << url << " -> " << r->body;
      EXPECT_EQ(json::parse(r->body).at("error").at("param"), "url");
    }
    EXPECT_TRUE(site.received().empty()) << "nothing was fetched";
    auto ftp = http(s.port(), "POST", "/api/v1/documents", R"({"collection":"web","url":"ftp://example.com/a"})");
    EXPECT_EQ(ftp->status, 400);
    auto both = http(s.port(), "POST", "/api/v1/documents", R"({"collection":"web","url":"http://x.example/","text":"t"})");
    EXPECT_EQ(both->status, 400);
  }
  Server s({.env = {{"SWITCHBOARD_KNOWLEDGE_URL_ALLOW_PRIVATE", "true"},
                    {"SWITCHBOARD_KNOWLEDGE_MAX_DOCUMENT_BYTES", "4096"}}});
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"web"})")->status, 201);
  Behavior moved;
  moved.status = 302;
  moved.headers = {{"Location", "/travel"}};
  moved.body = "";
  site.push(moved);
  site.push(page);
  auto r = http(s.port(), "POST", "/api/v1/documents",
                R"({"collection":"web","external_id":"travel","url":")" + site.url() + R"(/old-travel"})");
  ASSERT_EQ(r->status, 201) << r->body;
  auto doc = json::parse(http(s.port(), "GET", "/api/v1/documents/" + std::string(json::parse(r->body).at("id").as_string()) +
                                                   "?include=text")->body);
  EXPECT_EQ(doc.at("title"), "Travel policy");
  EXPECT_EQ(std::string(doc.at("source").as_string()), site.url() + "/old-travel");
  EXPECT_EQ(doc.at("content_type"), "text/html");
  EXPECT_EQ(doc.at("text"), "Book second class for trips under four hours.");
  ASSERT_EQ(site.received().size(), 2u);
  EXPECT_EQ(site.received()[1].target, "/travel") << "the redirect was followed";

  Behavior missing = failing(404, "gone");
  site.push(missing);
  r = http(s.port(), "POST", "/api/v1/documents", R"({"collection":"web","url":")" + site.url() + R"(/gone"})");
  EXPECT_EQ(r->status, 422) << r->body;
  Behavior huge;
  huge.headers = {{"Content-Type", "text/plain"}};
  huge.body = std::string(10000, 'x');
  site.push(huge);
  r = http(s.port(), "POST", "/api/v1/documents", R"({"collection":"web","url":")" + site.url() + R"(/huge"})");
  EXPECT_EQ(r->status, 413) << r->body;
  EXPECT_EQ(json::parse(http(s.port(), "GET", "/api/v1/collections/web")->body).at("documents"), 1);
}

TEST(Knowledge, LargeUploadsAreProcessedInTheBackgroundWithAState) {
  Server s({.env = {{"SWITCHBOARD_KNOWLEDGE_ASYNC_INGEST_BYTES", "2000"}}});
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"big","embedding_model":"mock/embed"})")->status, 201);
  auto wait_state = [&](const std::string& id) {
    json::value doc;
    for (int i = 0; i < 100; ++i) {
      doc = json::parse(http(s.port(), "GET", "/api/v1/documents/" + id)->body);
      const std::string state(doc.at("state").as_string());
      if (state == "ready" || state == "failed") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return doc;
  };
  // Over the threshold: 202 at once, then ready.
  std::string text;
  for (int i = 0; i < 60; ++i) text += "Paragraph " + std::to_string(i) + " about glaciers and moraines.\n\n";
  auto r = http(s.port(), "POST", "/api/v1/documents", form({{"collection", "big"}, {"external_id", "glaciers"}}, "g.txt", "text/plain", text), kForm);
  ASSERT_EQ(r->status, 202) << r->body;
  auto pending = json::parse(r->body);
  EXPECT_TRUE(pending.at("state") == "pending" || pending.at("state") == "processing") << pending;
  EXPECT_EQ(pending.at("version"), 0);
  const std::string id(pending.at("id").as_string());
  auto done = wait_state(id);
  EXPECT_EQ(done.at("state"), "ready") << done;
  EXPECT_EQ(done.at("version"), 1);
  EXPECT_GT(done.at("chunks").as_int64(), 0);
  EXPECT_TRUE(done.at("progress").is_null());
  auto hit = json::parse(http(s.port(), "POST", "/api/v1/search", R"({"collection":"big","query":"moraines","top_k":1})")->body);
  EXPECT_EQ(hit.at("data").at(0).at("external_id"), "glaciers");
  // A small file with ?async=true, broken: failed, with the reason; the document stays out of search.
  r = http(s.port(), "POST", "/api/v1/documents?async=true",
           form({{"collection", "big"}}, "broken.pdf", "application/pdf", "%PDF-1.4 nothing"), kForm);
  ASSERT_EQ(r->status, 202) << r->body;
  auto failed = wait_state(std::string(json::parse(r->body).at("id").as_string()));
  EXPECT_EQ(failed.at("state"), "failed");
  EXPECT_NE(std::string(failed.at("error").as_string()).find("PDF"), std::string::npos) << failed;
  auto stats = json::parse(http(s.port(), "GET", "/api/v1/stats")->body);
  EXPECT_EQ(stats.at("documents"), 1) << "a failed upload is not a live document: " << stats;
  // A new version in the background (PUT): the old one stays searchable until it is ready.
  r = http(s.port(), "PUT", "/api/v1/documents/" + id + "?async=true",
           form({}, "g2.txt", "text/plain", "Glaciers retreat in warm summers."), kForm);
  ASSERT_EQ(r->status, 202) << r->body;
  auto v2 = wait_state(id);
  EXPECT_EQ(v2.at("state"), "ready");
  EXPECT_EQ(v2.at("version"), 2);
  EXPECT_EQ(http(s.port(), "POST", "/api/v1/documents?async=maybe", form({{"collection", "big"}}, "a.txt", "text/plain", "x"), kForm)->status,
            400);
  // An id that is taken cannot get a second placeholder.
  EXPECT_EQ(http(s.port(), "POST", "/api/v1/documents?async=true",
                 form({{"collection", "big"}, {"external_id", "glaciers"}}, "g.txt", "text/plain", "again"), kForm)->status,
            409);
}

// Concurrent writers and readers on one collection: every write lands, every search answers.
TEST(Knowledge, ConcurrentIngestAndSearch) {
  Server s;
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"busy","embedding_model":"mock/embed"})")->status, 201);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < 25; ++i) {
        const std::string body = R"({"collection":"busy","external_id":"w)" + std::to_string(w) + "-" + std::to_string(i) +
                                 R"(","text":"Writer )" + std::to_string(w) + " note " + std::to_string(i) +
                                 R"( about comets and asteroids."})";
        auto r = http(s.port(), "POST", "/api/v1/index", body);
        if (!r || r->status != 201) ++bad;
      }
    });
  }
  for (int q = 0; q < 2; ++q) {
    threads.emplace_back([&] {
      for (int i = 0; i < 40; ++i) {
        auto r = http(s.port(), "POST", "/api/v1/search", R"({"collection":"busy","query":"comets asteroids","top_k":5})");
        if (!r || r->status != 200) ++bad;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(json::parse(http(s.port(), "GET", "/api/v1/collections/busy")->body).at("documents"), 100);
  auto all = json::parse(http(s.port(), "POST", "/api/v1/search",
                              R"({"collection":"busy","query":"comets","mode":"keyword","top_k":1000})")->body);
  EXPECT_EQ(all.at("data").as_array().size(), 100u) << "the keyword index saw every write";
  auto sem = json::parse(http(s.port(), "POST", "/api/v1/search",
                              R"({"collection":"busy","query":"comets","mode":"semantic","top_k":1000})")->body);
  EXPECT_EQ(sem.at("data").as_array().size(), 100u) << "the vector index saw every write";
}

// An accepted (202) upload and a running model change survive kill -9: the upload's bytes are
// kept with its pending row until it is processed, and both are carried on at the next start.
TEST(Knowledge, AcceptedUploadsAndModelChangesSurviveAKill) {
  TempDir data;
  // Each embedding call takes 150 ms; one chunk per call and small chunks make the work last.
  const std::string config = "[[providers]]\nname = \"slow\"\ntype = \"mock\"\nlatency_ms = 150\n";
  const std::map<std::string, std::string> env = {{"SWITCHBOARD_KNOWLEDGE_EMBED_BATCH", "1"},
                                                  {"SWITCHBOARD_KNOWLEDGE_CHUNK_TOKENS", "64"},
                                                  {"SWITCHBOARD_KNOWLEDGE_CHUNK_OVERLAP_TOKENS", "0"}};
  std::string text;
  for (int i = 0; i < 12; ++i) {
    text += "# Part " + std::to_string(i) + "\n\nThe glacier moraine number " + std::to_string(i) +
            " holds boulders, gravel and sand left by the retreating ice sheet.\n\n";
  }
  std::string id;
  {
    Server s({.env = env, .config_toml = config, .data_dir = data.path()});
    ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"ice","embedding_model":"slow/embed","dimensions":32})")->status,
              201);
    ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"notes"})")->status, 201);
    for (int i = 0; i < 12; ++i) {
      ASSERT_EQ(http(s.port(), "POST", "/api/v1/index",
                     R"({"collection":"notes","external_id":"n)" + std::to_string(i) + R"(","text":"Note )" + std::to_string(i) +
                         (i == 3 ? " on volcanic ash." : " on garden tools.") + R"("})")
                    ->status,
                201);
    }
    auto r = http(s.port(), "POST", "/api/v1/documents?async=true",
                  form({{"collection", "ice"}, {"external_id", "moraines"}, {"author", "Ada"}}, "m.md", "text/markdown", text), kForm);
    ASSERT_EQ(r->status, 202) << r->body;
    id = std::string(json::parse(r->body).at("id").as_string());
    ASSERT_EQ(http(s.port(), "PATCH", "/api/v1/collections/notes", R"({"embedding_model":"slow/embed","dimensions":16})")->status,
              202);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    auto doc = json::parse(http(s.port(), "GET", "/api/v1/documents/" + id)->body);
    ASSERT_NE(doc.at("state"), "ready") << "the upload must still be unfinished when the server is killed";
    s.kill9();
  }
  Server s({.env = env, .config_toml = config, .data_dir = data.path()});
  EXPECT_TRUE(s.wait_for_log("uploads resumed"));
  EXPECT_TRUE(s.wait_for_log("embedding model change resumed"));
  json::value doc, col;
  for (int i = 0; i < 300; ++i) {
    doc = json::parse(http(s.port(), "GET", "/api/v1/documents/" + id)->body);
    col = json::parse(http(s.port(), "GET", "/api/v1/collections/notes")->body);
    if (doc.at("state") != "pending" && doc.at("state") != "processing" && col.at("reembedding").is_null()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(doc.at("state"), "ready") << doc;
  EXPECT_EQ(doc.at("version"), 1);
  EXPECT_EQ(doc.at("author"), "Ada") << "the upload's fields were kept with it";
  EXPECT_GE(doc.at("chunks").as_int64(), 2);
  auto hit = json::parse(http(s.port(), "POST", "/api/v1/search",
                              R"({"collection":"ice","query":"boulders gravel moraine","mode":"hybrid","top_k":1})")->body);
  EXPECT_EQ(hit.at("mode"), "hybrid");
  EXPECT_EQ(hit.at("data").at(0).at("external_id"), "moraines");
  EXPECT_EQ(col.at("embedding_model"), "slow/embed") << col;
  EXPECT_EQ(col.at("dimensions"), 16) << col;
  auto ash = json::parse(http(s.port(), "POST", "/api/v1/search",
                              R"({"collection":"notes","query":"volcanic ash","mode":"semantic","top_k":1})")->body);
  EXPECT_EQ(ash.at("data").at(0).at("external_id"), "n3");
}

TEST(Knowledge, ChangingTheEmbeddingModelReembedsInTheBackground) {
  TempDir data;
  {
    Server s({.data_dir = data.path()});
    // Keyword-only at first, with documents.
    ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"kb"})")->status, 201);
    for (int i = 0; i < 30; ++i) {
      const std::string body = R"({"collection":"kb","external_id":"n)" + std::to_string(i) + R"(","text":"Note )" +
                               std::to_string(i) + R"( about )" + (i == 7 ? "volcanic eruptions" : "garden tools") + R"(."})";
      ASSERT_EQ(http(s.port(), "POST", "/api/v1/index", body)->status, 201);
    }
    auto wait_switch = [&](std::int64_t dimension) {
      json::value c;
      for (int i = 0; i < 100; ++i) {
        c = json::parse(http(s.port(), "GET", "/api/v1/collections/kb")->body);
        if (c.at("reembedding").is_null() && c.at("dimensions") == dimension) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      return c;
    };
    auto r = http(s.port(), "PATCH", "/api/v1/collections/kb", R"({"embedding_model":"mock/embed","dimensions":64})");
    ASSERT_EQ(r->status, 202) << r->body;
    EXPECT_EQ(json::parse(r->body).at("reembedding").at("embedding_model"), "mock/embed");
    auto c = wait_switch(64);
    EXPECT_EQ(c.at("embedding_model"), "mock/embed") << c;
    auto sem = json::parse(http(s.port(), "POST", "/api/v1/search",
                                R"({"collection":"kb","query":"volcanic eruptions","mode":"semantic","top_k":1})")->body);
    EXPECT_EQ(sem.at("mode"), "semantic");
    EXPECT_EQ(sem.at("data").at(0).at("external_id"), "n7");
    // Another size of the same model: a new index of 256-dimensional vectors.
    r = http(s.port(), "PATCH", "/api/v1/collections/kb", R"({"embedding_model":"mock/embed","dimensions":256})");
    ASSERT_EQ(r->status, 202) << r->body;
    c = wait_switch(256);
    EXPECT_EQ(c.at("dimensions"), 256) << c;
    sem = json::parse(http(s.port(), "POST", "/api/v1/search",
                           R"({"collection":"kb","query":"volcanic eruptions","mode":"semantic","top_k":1})")->body);
    EXPECT_EQ(sem.at("data").at(0).at("external_id"), "n7");
    // New documents use the new model at once.
    ASSERT_EQ(http(s.port(), "POST", "/api/v1/index", R"({"collection":"kb","external_id":"lava","text":"Lava from volcanic eruptions."})")->status, 201);
    // The same model and size again: nothing to do (200).
    EXPECT_EQ(http(s.port(), "PATCH", "/api/v1/collections/kb", R"({"embedding_model":"mock/embed","dimensions":256})")->status, 200);
    EXPECT_EQ(http(s.port(), "PATCH", "/api/v1/collections/kb", R"({"embedding_model":"nope/x"})")->status, 404);
    EXPECT_EQ(http(s.port(), "PATCH", "/api/v1/collections/kb", R"({})")->status, 400);
    EXPECT_EQ(http(s.port(), "PATCH", "/api/v1/collections/none", R"({"embedding_model":"mock/embed"})")->status, 404);
    EXPECT_EQ(s.stop(SIGTERM), 0);
  }
  // After a restart the saved index is the new model's (its key is checked), and it finds the
  // document written last.
  Server s({.data_dir = data.path()});
  auto sem = json::parse(http(s.port(), "POST", "/api/v1/search",
                              R"({"collection":"kb","query":"lava from volcanic eruptions","mode":"semantic","top_k":2})")->body);
  std::set<std::string> found;
  for (const auto& h : sem.at("data").as_array()) found.insert(std::string(h.at("external_id").as_string()));
  EXPECT_TRUE(found.count("lava")) << sem;
  EXPECT_TRUE(found.count("n7")) << sem;
}

// An OpenAI embeddings answer with one vector of `dim` values per input (inputs counted by the
// test, not parsed).
Behavior embeddings(std::size_t inputs, std::size_t dim) {
  json::array data;
  for (std::size_t i = 0; i < inputs; ++i) {
    json::array v;
    for (std::size_t j = 0; j < dim; ++j) v.push_back(j == i % dim ? 1.0 : 0.0);
    data.push_back(json::object{{"object", "embedding"}, {"index", i}, {"embedding", std::move(v)}});
  }
  Behavior b;
  b.body = json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}, {"model", "e"},
                                        {"usage", json::object{{"prompt_tokens", 1}, {"total_tokens", 1}}}});
  return b;
}

TEST(Knowledge, EmbeddingModelErrorsAndDimensionMismatches) {
  FakeUpstream up;
  Server s({.config_toml = "[[providers]]\nname = \"emb\"\ntype = \"openai\"\nbase_url = \"" + up.url() +
                           "/v1\"\ntimeout_ms = 5000\n[gateway]\nmax_retries = 0\n"});
  // The model answers 8 values where 16 were asked: 409 at creation, nothing created.
  up.push(embeddings(1, 8));
  auto r = http(s.port(), "POST", "/api/v1/collections",
                R"({"name":"kb","embedding_model":"emb/e","dimensions":16})");
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_EQ(json::parse(r->body).at("error").at("param"), "dimensions");
  ASSERT_GE(up.received().size(), 1u);
  EXPECT_EQ(json::parse(up.received().back().body).at("dimensions"), 16) << "asked of the model";
  EXPECT_EQ(http(s.port(), "GET", "/api/v1/collections/kb")->status, 404);

  up.push(embeddings(1, 8));
  r = http(s.port(), "POST", "/api/v1/collections", R"({"name":"kb","embedding_model":"emb/e"})");
  ASSERT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(json::parse(r->body).at("dimensions"), 8);

  // Later the model answers another size (switched behind our back): 409, nothing written.
  up.push(embeddings(2, 4));
  r = http(s.port(), "POST", "/api/v1/index", R"({"collection":"kb","text":"One.\n\n# Two\n\nTwo."})");
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_NE(std::string(json::parse(r->body).at("error").at("message").as_string()).find("8-dimensional"),
            std::string::npos);
  // A failing model fails ingestion with its status class; nothing is half-written.
  up.push(failing(500, "model melted"));
  r = http(s.port(), "POST", "/api/v1/index", R"({"collection":"kb","text":"Three."})");
  EXPECT_EQ(r->status, 502) << r->body;
  // A wrong number of vectors is the upstream's fault.
  up.push(embeddings(3, 8));
  r = http(s.port(), "POST", "/api/v1/index", R"({"collection":"kb","text":"Four."})");
  EXPECT_EQ(r->status, 502) << r->body;
  EXPECT_EQ(json::parse(http(s.port(), "GET", "/api/v1/collections/kb")->body).at("documents"), 0);

  // Hybrid search with a failing model falls back to keyword and says why; semantic fails.
  up.push(embeddings(1, 8));
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/index", R"({"collection":"kb","text":"Owls hunt at night."})")->status,
            201);
  up.push(failing(503, "busy"));
  auto kw = json::parse(http(s.port(), "POST", "/api/v1/search", R"({"collection":"kb","query":"owls"})")->body);
  EXPECT_EQ(kw.at("mode"), "keyword");
  EXPECT_NE(std::string(kw.at("note").as_string()).find("embedding model failed"), std::string::npos);
  EXPECT_EQ(kw.at("data").as_array().size(), 1u);
  up.push(failing(503, "busy"));
  EXPECT_EQ(http(s.port(), "POST", "/api/v1/search", R"({"collection":"kb","query":"owls","mode":"semantic"})")->status,
            502);

  // A collection without a model searches keyword-only when asked for hybrid (the default) and
  // says so; "semantic" is refused.
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"plain"})")->status, 201);
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/index", R"({"collection":"plain","text":"Owls hunt at night."})")->status, 201);
  auto plain = json::parse(http(s.port(), "POST", "/api/v1/search", R"({"collection":"plain","query":"owls"})")->body);
  EXPECT_EQ(plain.at("mode"), "keyword");
  EXPECT_TRUE(plain.as_object().contains("note"));
  EXPECT_EQ(http(s.port(), "POST", "/api/v1/search", R"({"collection":"plain","query":"owls","mode":"semantic"})")->status,
            400);
}

}  // namespace
}  // namespace sbtest

namespace sbtest {
namespace {

TEST(Knowledge, SearchModesScoresAndThresholdsAreHonest) {
  Server s;
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"plainkw"})")->status, 201);
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/index", R"({"collection":"plainkw","text":"Owls hunt at night."})")->status, 201);
  // "semantic" cannot be answered by a keyword-only collection: said, not quietly changed.
  auto sem = http(s.port(), "POST", "/api/v1/search", R"({"collection":"plainkw","query":"owls","mode":"semantic"})");
  EXPECT_EQ(sem->status, 400) << sem->body;
  EXPECT_EQ(json::parse(sem->body).at("error").at("param"), "mode");
  EXPECT_EQ(http(s.port(), "POST", "/api/v1/search", R"({"collection":"plainkw","query":"owls"})")->status, 200);

  ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"vec","embedding_model":"mock/embed"})")->status, 201);
  for (const char* t : {"Owls hunt small rodents at night.", "Tides follow the moon.", "Bread rises with yeast."}) {
    ASSERT_EQ(http(s.port(), "POST", "/api/v1/index", std::string(R"({"collection":"vec","text":")") + t + "\"}")->status, 201);
  }
  auto score_of = [&](const std::string& body) {
    auto r = json::parse(http(s.port(), "POST", "/api/v1/search", body)->body);
    const auto& data = r.at("data").as_array();
    return data.empty() ? -1.0 : data.at(0).at("score").to_number<double>();
  };
  const double good = score_of(R"({"collection":"vec","query":"owls hunt rodents"})");
  const double nonsense = score_of(R"({"collection":"vec","query":"qwxz vbnm"})");
  EXPECT_GT(good, 0.5);
  EXPECT_LT(nonsense, 0.2) << "a query matching nothing must not score like a match";
  EXPECT_EQ(score_of(R"({"collection":"vec","query":"qwxz vbnm","score_threshold":0.3})"), -1.0);
  auto kept = json::parse(http(s.port(), "POST", "/api/v1/search",
                               R"({"collection":"vec","query":"owls hunt rodents","score_threshold":0.5})")->body);
  EXPECT_EQ(kept.at("data").as_array().size(), 1u) << kept;
  EXPECT_EQ(http(s.port(), "POST", "/api/v1/search", R"({"collection":"vec","query":"x","score_threshold":-1})")->status, 400);
}

TEST(Knowledge, ADocumentWithNothingToSearchIs422) {
  Server s;
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"md"})")->status, 201);
  auto r = http(s.port(), "POST", "/api/v1/documents", R"({"collection":"md","text":"# Only a heading\n"})");
  EXPECT_EQ(r->status, 422) << r->body;
  EXPECT_EQ(code_of(*r), "unprocessable_entity");
  EXPECT_EQ(json::parse(http(s.port(), "GET", "/api/v1/stats")->body).at("documents"), 0);
}

TEST(Knowledge, ANewVersionKeepsTagsMetadataAndAuthorUnlessGiven) {
  Server s;
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"kb"})")->status, 201);
  auto r = http(s.port(), "POST", "/api/v1/documents",
                R"({"collection":"kb","text":"First.","tags":["hr"],"metadata":{"year":2024},"author":"Ann"})");
  ASSERT_EQ(r->status, 201) << r->body;
  const std::string id(json::parse(r->body).at("id").as_string());
  auto v2 = http(s.port(), "PUT", "/api/v1/documents/" + id,
                 multipart_form({}, "v2.txt", "text/plain", "Second version."), kMultipart);
  ASSERT_EQ(v2->status, 200) << v2->body;
  auto doc = json::parse(http(s.port(), "GET", "/api/v1/documents/" + id)->body);
  EXPECT_EQ(doc.at("version"), 2);
  EXPECT_EQ(doc.at("tags").at(0), "hr") << doc;
  EXPECT_EQ(doc.at("metadata").at("year"), 2024) << doc;
  EXPECT_EQ(doc.at("author"), "Ann") << doc;
  auto v3 = http(s.port(), "PUT", "/api/v1/documents/" + id, R"({"text":"Third.","tags":["ops"]})");
  ASSERT_EQ(v3->status, 200) << v3->body;
  doc = json::parse(http(s.port(), "GET", "/api/v1/documents/" + id)->body);
  EXPECT_EQ(doc.at("tags").at(0), "ops") << "given: replaced";
  EXPECT_EQ(doc.at("metadata").at("year"), 2024) << "not given: kept";
}

}  // namespace
}  // namespace sbtest

namespace sbtest {
namespace {

TEST(Knowledge, RestoringADocumentOfADeletedCollectionSaysSo) {
  Server s;
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"gone"})")->status, 201);
  auto doc = http(s.port(), "POST", "/api/v1/index", R"({"collection":"gone","text":"Owls."})");
  const std::string id(json::parse(doc->body).at("id").as_string());
  ASSERT_EQ(http(s.port(), "DELETE", "/api/v1/collections/gone")->status, 200);
  auto r = http(s.port(), "POST", "/api/v1/documents/" + id + "/restore");
  EXPECT_EQ(r->status, 404) << r->body;
  EXPECT_NE(r->body.find("the collection 'gone' was deleted"), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find('~'), std::string::npos) << "no internal name: " << r->body;
}

}  // namespace
}  // namespace sbtest
