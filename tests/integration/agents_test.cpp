// The log analyzer through the binary: rules alone, a model explaining the evidence with runbook
// passages from a collection (OpenAI-type fake), an invalid answer falling back to the rules,
// and bad input.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "fake_upstream.hpp"
#include "harness.hpp"

namespace sbtest {
namespace {

namespace json = boost::json;

const std::map<std::string, std::string> kJson = {{"Content-Type", "application/json"}};

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string corpus(const std::string& name) { return read(std::string(SB_SOURCE_DIR) + "/tests/golden/ci_logs/" + name); }

Behavior answer(const std::string& content) {
  Behavior b;
  b.body = R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":)" +
           json::serialize(json::string(content)) +
           R"(},"finish_reason":"stop"}],"usage":{"prompt_tokens":30,"completion_tokens":20,"total_tokens":50}})";
  return b;
}

class AnalyzeLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(ServerOptions{
        .config_toml = "[gateway]\nmax_retries = 0\n[[providers]]\nname = \"mock\"\ntype = \"mock\"\n"
                       "[[providers]]\nname = \"oa\"\ntype = \"openai\"\nbase_url = \"" + up_.url() + "/v1\"\n"});
  }
  std::optional<HttpResponse> analyze(const json::object& body) {
    return http(server_->port(), "POST", "/api/v1/workflows/analyze-log", json::serialize(body), kJson);
  }
  FakeUpstream up_;
  std::unique_ptr<Server> server_;
};

TEST_F(AnalyzeLogTest, TheRulesAloneNameTheCategoryStepEvidenceAndFailingTests) {
  json::object body;
  body["log_content"] = corpus("gtest_gitlab.log");
  body["log_type"] = "test";
  auto r = analyze(body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto v = json::parse(r->body);
  EXPECT_EQ(v.at("object"), "log_analysis");
  EXPECT_EQ(v.at("method"), "rules");
  EXPECT_EQ(v.at("category"), "test");
  EXPECT_EQ(v.at("failing_step"), "test");
  EXPECT_EQ(v.at("failing_tests").at(0), "Parser.RejectsTrailingComma");
  EXPECT_EQ(v.at("exit_code"), 1);
  bool found = false;
  for (const auto& l : v.at("evidence").as_array()) {
    if (std::string(l.at("text").as_string()).find("parser_test.cpp:42: Failure") != std::string::npos) {
      found = true;
      EXPECT_GT(l.at("line").as_int64(), 0);
    }
  }
  EXPECT_TRUE(found) << r->body;
  EXPECT_FALSE(std::string(v.at("summary").as_string()).empty());
  EXPECT_TRUE(up_.received().empty());
  // model: null is the rules too.
  body["model"] = nullptr;
  EXPECT_EQ(json::parse(analyze(body)->body).at("method"), "rules");
}

TEST_F(AnalyzeLogTest, AModelExplainsTheEvidenceWithRunbookPassagesItCites) {
  ASSERT_EQ(http(server_->port(), "POST", "/api/v1/collections", R"({"name":"runbooks","embedding_model":"mock/embed"})", kJson)->status, 201);
  ASSERT_EQ(http(server_->port(), "POST", "/api/v1/index",
                 R"({"collection":"runbooks","external_id":"npm","title":"npm ERESOLVE",)"
                 R"("text":"When npm ci fails with ERESOLVE unable to resolve dependency tree, align the peer dependency versions or pin react."})",
                 kJson)->status, 201);
  const std::string analysis =
      R"({"summary":"npm could not resolve the dependency tree.","category":"Dependency","failing_step":"Install",)"
      R"("root_cause":"npm ERR! ERESOLVE unable to resolve dependency tree","suggested_fix":"Align react with the peer range.",)"
      R"("confidence":"0.8","references":[1]})";
  up_.push(answer("not json"));  // retried once
  up_.push(answer(analysis));
  json::object body;
  body["log_content"] = corpus("npm_eresolve_gha.log");
  body["collection"] = "runbooks";
  body["model"] = "oa/gpt";
  auto r = analyze(body);
  ASSERT_EQ(r->status, 200) << r->body;
  auto v = json::parse(r->body);
  EXPECT_EQ(v.at("method"), "model");
  EXPECT_EQ(v.at("category"), "dependency");  // normalised
  EXPECT_DOUBLE_EQ(v.at("confidence").to_number<double>(), 0.8);
  ASSERT_EQ(v.at("references").as_array().size(), 1u) << r->body;
  EXPECT_EQ(v.at("references").at(0).at("title"), "npm ERESOLVE");
  ASSERT_EQ(up_.received().size(), 2u);
  auto sent = json::parse(up_.received().at(1).body);
  EXPECT_EQ(sent.at("response_format").at("json_schema").at("strict"), true);
  const std::string prompt(sent.at("messages").at(1).at("content").as_string());
  EXPECT_NE(prompt.find("ERESOLVE unable to resolve dependency tree"), std::string::npos);
  EXPECT_NE(prompt.find("[1] npm ERESOLVE"), std::string::npos);
  EXPECT_LT(prompt.size(), 20000u);  // the evidence, not the log

  // Invalid twice (a category that is not one of the seven): the rules answer, with why.
  up_.push(answer(R"({"summary":"x","category":"cosmic rays","failing_step":"","root_cause":"y","suggested_fix":"z","confidence":1,"references":[]})"));
  up_.push(answer("still not json"));
  auto fallback = json::parse(analyze(body)->body);
  EXPECT_EQ(fallback.at("method"), "rules");
  EXPECT_EQ(fallback.at("category"), "dependency");
  EXPECT_TRUE(fallback.at("model_error").is_object());
  EXPECT_FALSE(fallback.at("references").as_array().empty());  // the passages found, for the reader
}

TEST_F(AnalyzeLogTest, BadInputIsRefused) {
  auto bad = [&](const std::string& b, int status, const std::string& param) {
    auto r = http(server_->port(), "POST", "/api/v1/workflows/analyze-log", b, kJson);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << b << " -> " << r->body;
    if (!param.empty()) {
      EXPECT_EQ(json::parse(r->body).at("error").at("param"), json::value(param)) << r->body;
    }
  };
  bad(R"({})", 400, "log_content");
  bad(R"({"log_content":"x","log_url":"http://example.com/x"})", 400, "log_content");
  bad(R"({"job_id":"123"})", 400, "job_id");
  bad(R"({"log_content":""})", 400, "log_content");
  bad(R"({"log_content":"x","log_type":"lint"})", 400, "log_type");
  bad(R"({"log_content":"x","model":5})", 400, "model");
  bad(R"({"log_content":"x","model":"nope/m"})", 404, "model");
  bad(R"({"log_content":"x","colour":1})", 400, "colour");
  bad(R"({"log_url":"http://127.0.0.1:1/log.txt"})", 400, "log_url");  // a private address
  bad(R"({"log_url":"file:///etc/passwd"})", 400, "log_url");
  bad("not json", 400, "");
  EXPECT_EQ(http(server_->port(), "GET", "/health")->status, 200);
}

}  // namespace
}  // namespace sbtest
