// ../shared/API.md, rule by rule, over a table of every /api/v1/* endpoint: unknown fields and
// query parameters, wrong types and non-finite numbers are refused before any work is done,
// with the error naming the field by its path.

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "harness.hpp"

namespace sbtest {
namespace {

namespace json = boost::json;

struct Endpoint {
  std::string method;
  std::string path;           // a concrete path (its resource need not exist)
  std::string body;           // a valid body, or "" for an endpoint that takes none
  std::string wrong_type;     // a body with one field of the wrong type, or ""
  std::string wrong_param;    // the field it names
  std::string nested;         // a body with an unknown field below the top, or ""
  std::string nested_param;   // the path it names
};

const std::vector<Endpoint>& endpoints() {
  static const std::vector<Endpoint> table = {
      {"GET", "/api/v1/documents?collection=kb", "", "", "", "", ""},
      {"POST", "/api/v1/documents", R"({"collection":"kb","text":"Owls."})", R"({"collection":"kb","text":7})", "text",
       R"({"collection":"kb","text":"x","metadata":{"a":1},"tags":["a"],"tag":"a"})", "tag"},
      {"PUT", "/api/v1/documents/doc_00", R"({"text":"Owls."})", R"({"text":"x","title":7})", "title", "", ""},
      {"GET", "/api/v1/documents/doc_00", "", "", "", "", ""},
      {"GET", "/api/v1/documents/doc_00/versions", "", "", "", "", ""},
      {"GET", "/api/v1/documents/kb/policies/a.pdf", "", "", "", "", ""},
      {"DELETE", "/api/v1/documents/doc_00", "", "", "", "", ""},
      {"POST", "/api/v1/documents/doc_00/restore", "", "", "", "", ""},
      {"GET", "/api/v1/docs?collection=kb", "", "", "", "", ""},
      {"POST", "/api/v1/docs", R"({"collection":"kb","text":"Owls."})", R"({"collection":["kb"],"text":"x"})",
       "collection", "", ""},
      {"PUT", "/api/v1/docs/doc_00", R"({"text":"Owls."})", R"({"text":"x","tags":"a"})", "tags", "", ""},
      {"GET", "/api/v1/docs/doc_00", "", "", "", "", ""},
      {"GET", "/api/v1/docs/doc_00/versions", "", "", "", "", ""},
      {"DELETE", "/api/v1/docs/doc_00", "", "", "", "", ""},
      {"POST", "/api/v1/docs/doc_00/restore", "", "", "", "", ""},
      {"POST", "/api/v1/collections", R"({"name":"kb2"})", R"({"name":"kb2","dimensions":"64"})", "dimensions", "", ""},
      {"GET", "/api/v1/collections", "", "", "", "", ""},
      {"GET", "/api/v1/collections/kb", "", "", "", "", ""},
      {"PATCH", "/api/v1/collections/kb", R"({"embedding_model":"mock/embed"})",
       R"({"embedding_model":"mock/embed","dimensions":1.5})", "dimensions", "", ""},
      {"DELETE", "/api/v1/collections/kb", "", "", "", "", ""},
      {"POST", "/api/v1/index", R"({"collection":"kb","text":"Owls."})", R"({"collection":"kb","text":"x","tags":[1]})",
       "tags[0]", "", ""},
      {"POST", "/api/v1/index/batch", R"({"collection":"kb","documents":[{"text":"Owls."}]})",
       R"({"collection":"kb","documents":[{"text":"x"},"y"]})", "documents[1]",
       R"({"collection":"kb","documents":[{"text":"x"},{"text":"y","vector":[1,2]}]})", "documents[1].vector"},
      {"GET", "/api/v1/stats", "", "", "", "", ""},
      {"POST", "/api/v1/search", R"({"collection":"kb","query":"owls"})", R"({"collection":"kb","query":"owls","top_k":"3"})",
       "top_k", R"({"collection":"kb","query":"owls","filters":{"tags":["a"],"tag":"a"}})", "filters.tag"},
      {"POST", "/api/v1/jobs", R"({"type":"chat.completion","request":{"model":"mock/echo","messages":[]}})",
       R"({"type":"chat.completion","request":{},"priority":"high"})", "priority", "", ""},
      {"POST", "/api/v1/jobs/batch", R"({"jobs":[{"type":"embeddings","request":{"model":"mock/embed","input":"x"}}]})",
       R"({"jobs":{"type":"embeddings"}})", "jobs", R"({"jobs":[{"type":"embeddings","request":{},"prio":1}]})",
       "jobs[0].prio"},
      {"GET", "/api/v1/jobs", "", "", "", "", ""},
      {"GET", "/api/v1/jobs/job_00", "", "", "", "", ""},
      {"GET", "/api/v1/status/job_00", "", "", "", "", ""},
      {"GET", "/api/v1/jobs/job_00/result", "", "", "", "", ""},
      {"GET", "/api/v1/results/job_00", "", "", "", "", ""},
      {"DELETE", "/api/v1/jobs/job_00", "", "", "", "", ""},
      {"GET", "/api/v1/jobs/job_00/events", "", "", "", "", ""},
      {"GET", "/api/v1/providers", "", "", "", "", ""},
      {"POST", "/api/v1/providers/mock/test", R"({"model":"echo"})", R"({"model":5})", "model", "", ""},
      {"POST", "/api/v1/echo", R"({"any":"thing"})", "", "", "", ""},
      {"POST", "/api/v1/keys", R"({"name":"k","scopes":["admin"]})", R"({"rpm":"60"})", "rpm",
       R"({"budget":{"amount":5}})", "budget.amount"},
      {"GET", "/api/v1/keys", "", "", "", "", ""},
      {"GET", "/api/v1/keys/key_00", "", "", "", "", ""},
      {"PATCH", "/api/v1/keys/key_00", R"({"rpm":5})", R"({"scopes":"chat"})", "scopes",
       R"({"budget":{"period":"day","limit":1}})", "budget.limit"},
      {"DELETE", "/api/v1/keys/key_00", "", "", "", "", ""},
      {"POST", "/api/v1/keys/key_00/rotate", R"({"grace_period_ms":0})", R"({"grace_period_ms":"1"})",
       "grace_period_ms", "", ""},
      {"GET", "/api/v1/usage", "", "", "", "", ""},
      {"GET", "/api/v1/audit", "", "", "", "", ""},
      {"GET", "/api/v1/rate-limit/status", "", "", "", "", ""},
      {"POST", "/api/v1/config/reload", "", "", "", "", ""},
  };
  return table;
}

std::string with_query(const std::string& path, const std::string& pair) {
  return path + (path.find('?') == std::string::npos ? "?" : "&") + pair;
}

// The body with one more top-level member.
std::string with_field(const std::string& body, const std::string& member) {
  if (body.empty()) return "{" + member + "}";
  return body.substr(0, body.size() - 1) + "," + member + "}";
}

class Contract : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new Server(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static int port() { return server_->port(); }
  static Server* server_;

  // Expects a 400 with this code, naming `param`.
  static void expect_refused(const Endpoint& e, const std::string& path, const std::string& body,
                             const std::string& code, const std::string& param) {
    auto r = http(port(), e.method, path, body);
    ASSERT_TRUE(r) << e.method << " " << path;
    ASSERT_EQ(r->status, 400) << e.method << " " << path << " " << body << " -> " << r->body;
    auto err = json::parse(r->body).at("error").as_object();
    EXPECT_EQ(std::string(err.at("code").as_string()), code) << e.method << " " << path << " " << body << " -> " << r->body;
    EXPECT_EQ(err.at("param").is_string() ? std::string(err.at("param").as_string()) : "null", param) << e.method << " " << path << " " << body << " -> " << r->body;
    EXPECT_EQ(err.at("type"), "invalid_request_error") << r->body;
  }
};
Server* Contract::server_ = nullptr;

TEST_F(Contract, AnUnknownQueryParameterIsRefusedEverywhere) {
  for (const auto& e : endpoints()) {
    expect_refused(e, with_query(e.path, "lmit=5"), e.body, "unknown_parameter", "lmit");
  }
  auto r = http(port(), "GET", "/api/v1/jobs?limit=5&lmit=5");
  EXPECT_EQ(json::parse(r->body).at("error").at("message"), "Unrecognized request argument supplied: lmit");
}

TEST_F(Contract, AnUnknownFieldIsRefusedEverywhere) {
  for (const auto& e : endpoints()) {
    if (e.path == "/api/v1/echo") continue;  // the echo answers whatever it is sent
    expect_refused(e, e.path, with_field(e.body, R"("embeding_model":"mock/embed")"), "unknown_parameter",
                   "embeding_model");
  }
}

TEST_F(Contract, AnUnknownNestedFieldIsNamedByItsPath) {
  int checked = 0;
  for (const auto& e : endpoints()) {
    if (e.nested.empty()) continue;
    expect_refused(e, e.path, e.nested, "unknown_parameter", e.nested_param);
    ++checked;
  }
  EXPECT_GE(checked, 4);
}

TEST_F(Contract, AWrongTypeIsRefusedEverywhere) {
  int checked = 0;
  for (const auto& e : endpoints()) {
    if (e.wrong_type.empty()) continue;
    expect_refused(e, e.path, e.wrong_type, "invalid_type", e.wrong_param);
    ++checked;
  }
  EXPECT_GE(checked, 12);
}

TEST_F(Contract, ANonFiniteNumberIsRefusedEverywhere) {
  for (const auto& e : endpoints()) {
    expect_refused(e, e.path, with_field(e.body, R"("n":1e999)"), "invalid_value", "n");
  }
}

TEST_F(Contract, AMultipartUploadWithAnUnknownFieldIsRefused) {
  auto r = http(port(), "POST", "/api/v1/documents",
                multipart_form({{"collection", "kb"}, {"tagz", "a"}}, "a.txt", "text/plain", "Owls."),
                kMultipart);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(code_of(*r), "unknown_parameter") << r->body;
  EXPECT_EQ(json::parse(r->body).at("error").at("param"), "tagz");
}

TEST_F(Contract, ARenamedFieldSaysItsNewName) {
  auto r = http(port(), "POST", "/api/v1/index", R"({"collection":"kb","content":"Owls."})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("'text'"), std::string::npos) << r->body;
}

TEST_F(Contract, ResourcesAreAddressedByIdOrName) {
  auto made = http(port(), "POST", "/api/v1/collections", R"({"name":"named"})");
  ASSERT_EQ(made->status, 201) << made->body;
  const std::string col_id(json::parse(made->body).at("id").as_string());
  EXPECT_EQ(col_id.rfind("col_", 0), 0u);
  auto by_id = http(port(), "GET", "/api/v1/collections/" + col_id);
  ASSERT_EQ(by_id->status, 200) << by_id->body;
  EXPECT_EQ(json::parse(by_id->body).at("name"), "named");
  auto doc = http(port(), "POST", "/api/v1/index", R"({"collection":")" + col_id +
                                                        R"(","external_id":"policies/leave.md","text":"Leave rules."})");
  ASSERT_EQ(doc->status, 201) << "a collection by its id in a body too: " << doc->body;
  const std::string doc_id(json::parse(doc->body).at("id").as_string());
  for (const std::string& path : std::vector<std::string>{"/api/v1/documents/named/policies/leave.md",
                                                          "/api/v1/documents/" + col_id + "/policies%2Fleave.md"}) {
    auto got = http(port(), "GET", path);
    ASSERT_EQ(got->status, 200) << path << " " << got->body;
    EXPECT_EQ(json::parse(got->body).at("id").as_string(), doc_id);
  }
  EXPECT_EQ(http(port(), "GET", "/api/v1/documents/named/nope")->status, 404);
  EXPECT_EQ(http(port(), "GET", "/api/v1/documents/" + doc_id + "/versions")->status, 200) << "still the versions";
}

// Every list: the same parameters and envelope; times in Unix seconds.
TEST_F(Contract, EveryListPagesTheSameWay) {
  ASSERT_EQ(http(port(), "POST", "/api/v1/collections", R"({"name":"lists"})")->status, 201);
  auto doc = http(port(), "POST", "/api/v1/index", R"({"collection":"lists","text":"One."})");
  ASSERT_EQ(doc->status, 201);
  const std::string doc_id(json::parse(doc->body).at("id").as_string());
  ASSERT_EQ(http(port(), "POST", "/api/v1/jobs", R"({"type":"embeddings","request":{"model":"mock/embed","input":"x"}})")->status, 202);
  const std::vector<std::string> lists = {"/api/v1/jobs", "/api/v1/documents?collection=lists",
                                          "/api/v1/documents/" + doc_id + "/versions", "/api/v1/collections",
                                          "/api/v1/audit"};
  for (const auto& path : lists) {
    auto r = http(port(), "GET", with_query(path, "limit=1"));
    ASSERT_EQ(r->status, 200) << path << " " << r->body;
    auto v = json::parse(r->body).as_object();
    EXPECT_EQ(v.at("object"), "list") << path;
    EXPECT_EQ(v.at("data").as_array().size(), 1u) << path;
    EXPECT_TRUE(v.contains("first_id") && v.contains("last_id") && v.contains("has_more")) << path << " " << r->body;
    for (const auto& [k, val] : v.at("data").at(0).as_object()) {
      if (k.ends_with("_at") && !val.is_null()) {
        ASSERT_TRUE(val.is_int64()) << path << " " << k << " " << val;
        EXPECT_LT(val.as_int64(), 10'000'000'000) << path << " " << k << ": seconds, not milliseconds";
      }
    }
    for (const std::string bad : {"limit=0", "limit=101", "order=sideways", "after=nope_0", "after=a&before=b"}) {
      auto e = http(port(), "GET", with_query(path, bad));
      EXPECT_EQ(e->status, 400) << path << "?" << bad << " " << e->body;
    }
    auto asc = http(port(), "GET", with_query(path, "order=asc"));
    EXPECT_EQ(asc->status, 200) << path;
  }
}

TEST_F(Contract, ValidRequestsStillPass) {
  ASSERT_EQ(http(port(), "POST", "/api/v1/collections", R"({"name":"ok","embedding_model":null})")->status, 201);
  auto doc = http(port(), "POST", "/api/v1/index",
                  R"({"collection":"ok","text":"Owls hunt.","tags":["birds"],"metadata":{"kind":"note","any":{"nested":[1]}}})");
  ASSERT_EQ(doc->status, 201) << doc->body;
  auto hit = http(port(), "POST", "/api/v1/search",
                  R"({"collection":"ok","query":"owls","filters":{"tags":["birds"],"metadata":{"kind":"note"}}})");
  EXPECT_EQ(hit->status, 200) << hit->body;
}

}  // namespace
}  // namespace sbtest
