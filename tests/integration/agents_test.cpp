// The log analyzer through the binary: rules alone, a model explaining the evidence with runbook
// passages from a collection (OpenAI-type fake), an invalid answer falling back to the rules,
// and bad input.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <thread>

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
        .config_toml = "[gateway]\nmax_retries = 0\n[[providers]]\nname = \"mock\"\ntype = \"mock\"\nmodels = [\"echo\", \"embed\"]\n"
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

TEST_F(AnalyzeLogTest, GenerateCallsCompletionsWithTheModelServicesDefaults) {
  Behavior b;
  b.body = R"({"id":"cmpl-1","object":"text_completion","created":1,"model":"llama3","choices":[{"text":"Hello!","index":0,"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}})";
  up_.push(b);
  auto r = http(server_->port(), "POST", "/api/v1/generate", R"({"prompt":"Say hello","model":"oa/llama3","stop":["\n"]})", kJson);
  ASSERT_EQ(r->status, 200) << r->body;
  auto v = json::parse(r->body);
  EXPECT_EQ(v.at("text"), "Hello!");
  EXPECT_EQ(v.at("finish_reason"), "stop");
  EXPECT_EQ(v.at("usage").at("total_tokens"), 5);
  EXPECT_EQ(v.at("model"), "oa/llama3");
  ASSERT_EQ(up_.received().size(), 1u);
  EXPECT_NE(up_.received()[0].target.find("/v1/completions"), std::string::npos);
  auto sent = json::parse(up_.received()[0].body);
  EXPECT_EQ(sent.at("model"), "llama3");
  EXPECT_EQ(sent.at("prompt"), "Say hello");
  EXPECT_EQ(sent.at("max_tokens"), 512);
  EXPECT_DOUBLE_EQ(sent.at("temperature").to_number<double>(), 0.7);
  EXPECT_DOUBLE_EQ(sent.at("top_p").to_number<double>(), 0.9);
  EXPECT_EQ(sent.at("stop"), json::parse(R"(["\n"])"));

  Behavior s;
  s.headers = {{"Content-Type", "text/event-stream"}};
  s.chunks = {"data: {\"id\":\"c\",\"object\":\"text_completion\",\"choices\":[{\"text\":\"Hel\",\"index\":0,\"finish_reason\":null}]}\n\n",
              "data: {\"id\":\"c\",\"object\":\"text_completion\",\"choices\":[{\"text\":\"lo\",\"index\":0,\"finish_reason\":\"stop\"}]}\n\n",
              "data: [DONE]\n\n"};
  up_.push(s);
  auto st = http(server_->port(), "POST", "/api/v1/generate", R"({"prompt":"Say hello","model":"oa/llama3","stream":true})", kJson);
  ASSERT_EQ(st->status, 200) << st->body;
  EXPECT_NE(st->body.find("event: token\ndata: {\"text\":\"Hel\"}"), std::string::npos) << st->body;
  EXPECT_NE(st->body.find("event: done\ndata: {\"object\":\"generation\",\"model\":\"oa/llama3\",\"text\":\"Hello\",\"finish_reason\":\"stop\"}"),
            std::string::npos) << st->body;
  EXPECT_EQ(json::parse(up_.received()[1].body).at("stream"), true);

  // The default model: the first /v1/models lists (mock/echo here); model/info says which.
  auto info = json::parse(http(server_->port(), "GET", "/api/v1/model/info")->body);
  EXPECT_EQ(info.at("model"), "mock/echo");
  EXPECT_EQ(info.at("targets").at(0).at("provider"), "mock");
  auto dflt = json::parse(http(server_->port(), "POST", "/api/v1/generate", R"({"prompt":"Hi"})", kJson)->body);
  EXPECT_EQ(dflt.at("text"), "Mock reply to: Hi");

  for (const char* bad : {R"({})", R"({"prompt":""})", R"({"prompt":"x","max_tokens":0})", R"({"prompt":"x","temperature":3})",
                          R"({"prompt":"x","top_p":1.5})", R"({"prompt":"x","stop":[1]})", R"({"prompt":"x","stop":["a","b","c","d","e"]})",
                          R"({"prompt":"x","stream":"yes"})", R"({"prompt":"x","seed":1})"}) {
    auto res = http(server_->port(), "POST", "/api/v1/generate", bad, kJson);
    EXPECT_EQ(res->status, 400) << bad << " -> " << res->body;
  }
  EXPECT_EQ(http(server_->port(), "POST", "/api/v1/generate", R"({"prompt":"x","model":"nope/m"})", kJson)->status, 404);
}

// --- the agent runtime ---------------------------------------------------------------------

Behavior tool_calls(const std::vector<std::pair<std::string, std::string>>& calls) {
  json::array tc;
  int n = 0;
  for (const auto& [name, args] : calls) {
    json::object fn;
    fn["name"] = name;
    fn["arguments"] = args;
    json::object c;
    c["id"] = "call_" + std::to_string(++n);
    c["type"] = "function";
    c["function"] = std::move(fn);
    tc.push_back(std::move(c));
  }
  json::object msg;
  msg["role"] = "assistant";
  msg["content"] = nullptr;
  msg["tool_calls"] = std::move(tc);
  Behavior b;
  b.body = R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":)" +
           json::serialize(msg) + R"(,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}})";
  return b;
}

class AgentTest : public ::testing::Test {
 protected:
  void start() {
    server_.reset();
    server_ = std::make_unique<Server>(ServerOptions{
        .config_toml = "[gateway]\nmax_retries = 0\n[[providers]]\nname = \"mock\"\ntype = \"mock\"\nmodels = [\"echo\", \"embed\"]\n"
                       "[[providers]]\nname = \"oa\"\ntype = \"openai\"\nbase_url = \"" + up_.url() + "/v1\"\n"
                       "[[agents]]\nname = \"helper\"\nmodel = \"oa/gpt\"\nsystem_prompt = \"You fix CI.\"\n"
                       "tools = [\"knowledge_search\", \"get_document\"]\ncollections = [\"runbooks\"]\n",
        .data_dir = dir_.path()});
  }
  void SetUp() override {
    start();
    ASSERT_EQ(http(server_->port(), "POST", "/api/v1/collections", R"({"name":"runbooks","embedding_model":"mock/embed"})", kJson)->status, 201);
    auto d = http(server_->port(), "POST", "/api/v1/index",
                  R"({"collection":"runbooks","external_id":"npm","title":"npm ERESOLVE","text":"Align the peer dependency versions."})", kJson);
    ASSERT_EQ(d->status, 201) << d->body;
    doc_ = std::string(json::parse(d->body).at("id").as_string());
  }
  json::value execute(const std::string& body, int status = 200) {
    auto r = http(server_->port(), "POST", "/api/v1/workflows/execute", body, kJson);
    EXPECT_TRUE(r);
    if (!r) return nullptr;
    EXPECT_EQ(r->status, status) << r->body;
    return json::parse(r->body);
  }
  TempDir dir_;
  FakeUpstream up_;
  std::unique_ptr<Server> server_;
  std::string doc_;
};

TEST_F(AgentTest, TwoToolsInParallelThenAnAnswerStoredAsARun) {
  up_.push(tool_calls({{"knowledge_search", R"({"query":"ERESOLVE peer dependency"})"}, {"get_document", R"({"id":")" + doc_ + R"("})"}}));
  up_.push(answer("Align react with the peer range [npm ERESOLVE]."));
  auto v = execute(R"({"agent":"helper","input":"npm ci fails with ERESOLVE"})");
  EXPECT_EQ(v.at("object"), "workflow.run");
  EXPECT_EQ(v.at("finish_reason"), "stop");
  EXPECT_EQ(v.at("output"), "Align react with the peer range [npm ERESOLVE].");
  EXPECT_EQ(v.at("iterations"), 2);
  std::vector<std::string> types;
  for (const auto& s : v.at("steps").as_array()) types.emplace_back(s.at("type").as_string());
  EXPECT_EQ(types, (std::vector<std::string>{"model", "tool_call", "tool_result", "tool_call", "tool_result", "model"}));
  EXPECT_EQ(v.at("steps").at(2).at("ok"), true);
  EXPECT_EQ(v.at("usage").at("total_tokens"), 57);  // 7 + 50
  EXPECT_TRUE(v.at("runtime_ms").is_number());
  // The model got the tools, then the results as tool messages.
  ASSERT_EQ(up_.received().size(), 2u);
  auto first = json::parse(up_.received()[0].body);
  EXPECT_EQ(first.at("tools").as_array().size(), 2u);
  EXPECT_EQ(first.at("messages").at(0).at("content"), "You fix CI.");
  auto second = json::parse(up_.received()[1].body);
  const auto& msgs = second.at("messages").as_array();
  ASSERT_EQ(msgs.size(), 5u);  // system, user, assistant (tool calls), 2 tool results
  EXPECT_EQ(msgs[3].at("role"), "tool");
  EXPECT_EQ(msgs[3].at("tool_call_id"), "call_1");
  EXPECT_NE(std::string(msgs[3].at("content").as_string()).find("npm ERESOLVE"), std::string::npos);
  EXPECT_NE(std::string(msgs[4].at("content").as_string()).find("Align the peer dependency versions."), std::string::npos);
  // Stored.
  const std::string id(v.at("id").as_string());
  auto got = http(server_->port(), "GET", "/api/v1/workflows/runs/" + id);
  ASSERT_EQ(got->status, 200);
  EXPECT_EQ(json::parse(got->body).at("output"), v.at("output"));
  auto list = json::parse(http(server_->port(), "GET", "/api/v1/workflows/runs")->body);
  EXPECT_EQ(list.at("data").at(0).at("id"), json::value(id));
  EXPECT_EQ(http(server_->port(), "GET", "/api/v1/workflows/runs/run_nope")->status, 404);
}

TEST_F(AgentTest, AFailingToolGoesBackToTheModelAsItsResult) {
  up_.push(tool_calls({{"delete_everything", "{}"}, {"knowledge_search", "not json"}, {"get_document", R"({"id":"doc_missing"})"}}));
  up_.push(answer("I could not look it up."));
  auto v = execute(R"({"agent":"helper","input":"help"})");
  EXPECT_EQ(v.at("finish_reason"), "stop");
  const auto& steps = v.at("steps").as_array();
  for (std::size_t i : {2u, 4u, 6u}) EXPECT_EQ(steps[i].at("ok"), false) << steps[i];
  auto second = json::parse(up_.received()[1].body);
  EXPECT_NE(std::string(second.at("messages").at(3).at("content").as_string()).find("no tool named"), std::string::npos);
  EXPECT_NE(std::string(second.at("messages").at(4).at("content").as_string()).find("not a JSON object"), std::string::npos);
}

TEST_F(AgentTest, EachEndingSaysWhy) {
  up_.set_default(tool_calls({{"knowledge_search", R"({"query":"x"})"}}));
  auto loop = execute(R"({"agent":{"model":"oa/gpt","tools":["knowledge_search"],"collections":["runbooks"],"max_iterations":2},"input":"go"})");
  EXPECT_EQ(loop.at("finish_reason"), "max_iterations");
  EXPECT_EQ(loop.at("iterations"), 2);
  auto budget = execute(R"({"agent":{"model":"oa/gpt","tools":["knowledge_search"],"collections":["runbooks"],"max_tokens_total":5},"input":"go"})");
  EXPECT_EQ(budget.at("finish_reason"), "budget");
  EXPECT_EQ(budget.at("iterations"), 1);
  Behavior slow = answer("too late");
  slow.delay_before_headers = std::chrono::milliseconds(2500);
  up_.set_default(slow);
  auto timeout = execute(R"({"agent":{"model":"oa/gpt","timeout_s":1},"input":"go"})");
  EXPECT_EQ(timeout.at("finish_reason"), "timeout");
  up_.set_default(answer("done"));
  auto stop = execute(R"({"agent":{"model":"oa/gpt"},"input":"go"})");
  EXPECT_EQ(stop.at("finish_reason"), "stop");
  EXPECT_EQ(stop.at("agent"), "(inline)");
}

TEST_F(AgentTest, TypesListTheAgentsAndBadRunsAreRefused) {
  auto types = json::parse(http(server_->port(), "GET", "/api/v1/workflows/types")->body);
  bool helper = false;
  for (const auto& t : types.at("data").as_array()) helper = helper || (t.at("type") == "agent" && t.at("name") == "helper");
  EXPECT_TRUE(helper) << types;
  execute(R"({"input":"x"})", 400);
  execute(R"({"agent":"nobody","input":"x"})", 404);
  execute(R"({"agent":"helper"})", 400);
  execute(R"({"agent":"helper","input":"x","stream":"yes"})", 400);
  execute(R"({"agent":"helper","input":"x","stream":true,"async":true})", 400);
  execute(R"({"agent":{"model":"oa/gpt","tools":["rm"]},"input":"x"})", 400);
  execute(R"({"agent":{"model":"oa/gpt","max_iterations":0},"input":"x"})", 400);
  execute(R"({"agent":{"model":"oa/gpt","colour":1},"input":"x"})", 400);
  execute(R"({"agent":{"model":"nope/m"},"input":"x"})", 404);
  EXPECT_TRUE(up_.received().empty());
}

TEST_F(AgentTest, AStreamedRunSendsItsStepsAsTheyHappenAndIsStored) {
  up_.push(tool_calls({{"knowledge_search", R"({"query":"ERESOLVE"})"}}));
  up_.push(answer("Align the peers."));
  auto r = http(server_->port(), "POST", "/api/v1/workflows/execute", R"({"agent":"helper","input":"npm ci fails","stream":true})", kJson);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->header("content-type"), "text/event-stream");
  std::vector<std::string> events;
  std::size_t at = 0;
  while ((at = r->body.find("event: ", at)) != std::string::npos) {
    auto nl = r->body.find('\n', at);
    events.push_back(r->body.substr(at + 7, nl - at - 7));
    at = nl;
  }
  EXPECT_EQ(events, (std::vector<std::string>{"step", "tool_call", "tool_result", "step", "answer", "done"})) << r->body;
  auto done = r->body.rfind("data: ");
  auto run = json::parse(r->body.substr(done + 6, r->body.find('\n', done) - done - 6));
  EXPECT_EQ(run.at("output"), "Align the peers.");
  auto stored = http(server_->port(), "GET", "/api/v1/workflows/runs/" + std::string(run.at("id").as_string()));
  EXPECT_EQ(stored->status, 200);
}

TEST_F(AgentTest, AnAsyncRunIsAJobThatSurvivesAKill) {
  Behavior slow = tool_calls({{"knowledge_search", R"({"query":"ERESOLVE"})"}});
  slow.delay_before_headers = std::chrono::milliseconds(3000);
  up_.push(slow);
  auto r = http(server_->port(), "POST", "/api/v1/workflows/execute", R"({"agent":"helper","input":"npm ci fails","async":true})", kJson);
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string job(json::parse(r->body).at("id").as_string());
  EXPECT_EQ(json::parse(r->body).at("type"), "agent");
  for (int i = 0; i < 200 && up_.received().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(up_.received().size(), 1u);
  server_->kill9();
  up_.push(tool_calls({{"knowledge_search", R"({"query":"ERESOLVE"})"}}));
  up_.push(answer("Align the peers."));
  start();
  json::object st;
  for (int i = 0; i < 300; ++i) {
    st = json::parse(http(server_->port(), "GET", "/api/v1/jobs/" + job)->body).as_object();
    if (st.at("status") != "queued" && st.at("status") != "processing") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(st.at("status"), "completed") << json::serialize(st);
  auto result = json::parse(http(server_->port(), "GET", "/api/v1/jobs/" + job + "/result")->body);
  EXPECT_EQ(result.at("output"), "Align the peers.");
  EXPECT_EQ(result.at("id"), json::value("run_" + job.substr(4)));
  auto stored = http(server_->port(), "GET", "/api/v1/workflows/runs/run_" + job.substr(4));
  EXPECT_EQ(stored->status, 200) << stored->body;
}

TEST_F(AgentTest, AgentsAreMadeChangedAndDeletedThroughTheApiAndSurviveARestart) {
  auto made = http(server_->port(), "POST", "/api/v1/agents",
                   R"({"name":"triage","model":"oa/gpt","system_prompt":"Triage.","tools":["knowledge_search"],"collections":["runbooks"]})", kJson);
  ASSERT_EQ(made->status, 201) << made->body;
  auto v = json::parse(made->body);
  EXPECT_EQ(v.at("object"), "agent");
  EXPECT_EQ(v.at("from_config"), false);
  const std::string id(v.at("id").as_string());
  EXPECT_EQ(http(server_->port(), "POST", "/api/v1/agents", R"({"name":"triage","model":"oa/gpt"})", kJson)->status, 409);
  EXPECT_EQ(http(server_->port(), "POST", "/api/v1/agents", R"({"name":"Bad Name","model":"oa/gpt"})", kJson)->status, 400);
  EXPECT_EQ(http(server_->port(), "POST", "/api/v1/agents", R"({"name":"x","model":"nope/m"})", kJson)->status, 404);
  EXPECT_EQ(http(server_->port(), "POST", "/api/v1/agents", R"({"name":"x","model":"oa/gpt","tools":["rm"]})", kJson)->status, 400);
  auto patched = http(server_->port(), "PATCH", "/api/v1/agents/triage", R"({"max_iterations":3})", kJson);
  ASSERT_EQ(patched->status, 200) << patched->body;
  EXPECT_EQ(json::parse(patched->body).at("max_iterations"), 3);
  EXPECT_EQ(http(server_->port(), "PATCH", "/api/v1/agents/helper", R"({"max_iterations":3})", kJson)->status, 409);  // the config's
  auto list = json::parse(http(server_->port(), "GET", "/api/v1/agents")->body);
  EXPECT_EQ(list.at("data").as_array().size(), 2u);
  // It runs, by name, and is an MCP tool too.
  up_.push(answer("triaged"));
  auto run = execute(R"({"agent":"triage","input":"look"})");
  EXPECT_EQ(run.at("output"), "triaged");
  EXPECT_EQ(json::parse(up_.received().back().body).at("messages").at(0).at("content"), "Triage.");
  auto tools = http(server_->port(), "POST", "/mcp", R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})", kJson);
  EXPECT_NE(tools->body.find("agent_triage"), std::string::npos);
  // Stored: after a restart it is still there; deleted, it is gone.
  start();
  auto again = http(server_->port(), "GET", "/api/v1/agents/" + id);
  ASSERT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(json::parse(again->body).at("max_iterations"), 3);
  EXPECT_EQ(http(server_->port(), "DELETE", "/api/v1/agents/triage")->status, 200);
  EXPECT_EQ(http(server_->port(), "GET", "/api/v1/agents/triage")->status, 404);
  EXPECT_EQ(http(server_->port(), "DELETE", "/api/v1/agents/helper")->status, 409);
}

TEST_F(AgentTest, HttpGetIsOptInAndRefusesPrivateAddresses) {
  up_.push(tool_calls({{"http_get", R"({"url":")" + up_.url() + R"(/secret"})"}, {"http_get", R"({"url":"http://[::1]/x"})"}, {"http_get", "{}"}}));
  up_.push(answer("could not fetch"));
  auto v = execute(R"({"agent":{"model":"oa/gpt","tools":["http_get"]},"input":"read it"})");
  EXPECT_EQ(v.at("finish_reason"), "stop");
  int refused = 0;
  for (const auto& s : v.at("steps").as_array()) {
    if (s.at("type") == "tool_result") {
      EXPECT_EQ(s.at("ok"), false) << s;
      refused += std::string(s.at("result").as_string()).find("private") != std::string::npos;
    }
  }
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(up_.received().size(), 2u);  // only the model: nothing fetched from the loopback fake
  // Not offered unless named.
  auto first = json::parse(up_.received()[0].body);
  EXPECT_EQ(first.at("tools").at(0).at("function").at("name"), "http_get");
  up_.push(answer("plain"));
  execute(R"({"agent":{"model":"oa/gpt"},"input":"x"})");
  EXPECT_FALSE(json::parse(up_.received().back().body).as_object().contains("tools"));
}

TEST(AgentCost, ARunWithAKeyCarriesItsCost) {
  FakeUpstream model;
  Server server({.env = {{"SWITCHBOARD_API_KEY", "sb-admin-agents-cost"}},
                 .config_toml = "[[providers]]\nname = \"oa\"\ntype = \"openai\"\nbase_url = \"" + model.url() + "/v1\"\n"
                                "[[prices]]\nmodel = \"oa/*\"\ninput_per_mtok = 1000000\noutput_per_mtok = 1000000\n"});
  const std::map<std::string, std::string> admin = {{"Authorization", "Bearer sb-admin-agents-cost"}, {"Content-Type", "application/json"}};
  auto k = http(server.port(), "POST", "/api/v1/keys", R"({"name":"runner","scopes":["chat"]})", admin);
  ASSERT_EQ(k->status, 201) << k->body;
  const std::string key(json::parse(k->body).at("secret").as_string());
  model.push(answer("done"));  // usage: 30 prompt + 20 completion tokens at $1 each
  auto r = http(server.port(), "POST", "/api/v1/workflows/execute", R"({"agent":{"model":"oa/gpt"},"input":"x"})",
                {{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}});
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_DOUBLE_EQ(json::parse(r->body).at("cost_usd").to_number<double>(), 50.0) << r->body;
  // A key sees its own runs only.
  auto mine = json::parse(http(server.port(), "GET", "/api/v1/workflows/runs", "", {{"Authorization", "Bearer " + key}})->body);
  EXPECT_EQ(mine.at("data").as_array().size(), 1u);
  auto other = http(server.port(), "POST", "/api/v1/keys", R"({"name":"other","scopes":["chat"]})", admin);
  const std::string key2(json::parse(other->body).at("secret").as_string());
  auto theirs = json::parse(http(server.port(), "GET", "/api/v1/workflows/runs", "", {{"Authorization", "Bearer " + key2}})->body);
  EXPECT_TRUE(theirs.at("data").as_array().empty());
}

TEST(AgentProviders, TheSameRunThroughAnthropicAndGeminiTypeFakes) {
  FakeUpstream claude, gem;
  Server server({.env = {{"SB_K", "k-1"}},
                 .config_toml = "[gateway]\nmax_retries = 0\n[[providers]]\nname = \"mock\"\ntype = \"mock\"\nmodels = [\"echo\", \"embed\"]\n"
                                "[[providers]]\nname = \"claude\"\ntype = \"anthropic\"\nbase_url = \"" + claude.url() + "/v1\"\napi_key_env = \"SB_K\"\n"
                                "[[providers]]\nname = \"gem\"\ntype = \"gemini\"\nbase_url = \"" + gem.url() + "/v1beta\"\napi_key_env = \"SB_K\"\n"});
  ASSERT_EQ(http(server.port(), "POST", "/api/v1/collections", R"({"name":"runbooks","embedding_model":"mock/embed"})", kJson)->status, 201);
  ASSERT_EQ(http(server.port(), "POST", "/api/v1/index",
                 R"({"collection":"runbooks","external_id":"npm","title":"npm ERESOLVE","text":"Align the peer dependency versions."})", kJson)->status, 201);
  const std::string agent = R"("tools":["knowledge_search"],"collections":["runbooks"])";

  claude.push(Behavior{.body = R"({"id":"msg_1","type":"message","role":"assistant","model":"c","content":[)"
                               R"({"type":"tool_use","id":"toolu_1","name":"knowledge_search","input":{"query":"ERESOLVE"}}],)"
                               R"("stop_reason":"tool_use","usage":{"input_tokens":20,"output_tokens":5}})"});
  claude.push(Behavior{.body = R"({"id":"msg_2","type":"message","role":"assistant","model":"c","content":[{"type":"text","text":"Align the peers."}],)"
                               R"("stop_reason":"end_turn","usage":{"input_tokens":40,"output_tokens":5}})"});
  auto r = http(server.port(), "POST", "/api/v1/workflows/execute",
                R"({"agent":{"model":"claude/claude-sonnet-4-5",)" + agent + R"(},"input":"npm ci fails"})", kJson);
  ASSERT_EQ(r->status, 200) << r->body;
  auto v = json::parse(r->body);
  EXPECT_EQ(v.at("finish_reason"), "stop");
  EXPECT_EQ(v.at("output"), "Align the peers.");
  ASSERT_EQ(claude.received().size(), 2u);
  auto first = json::parse(claude.received()[0].body);
  EXPECT_EQ(first.at("tools").at(0).at("name"), "knowledge_search");
  EXPECT_TRUE(first.at("tools").at(0).as_object().contains("input_schema"));
  auto second = json::parse(claude.received()[1].body);
  const auto& last = second.at("messages").as_array().back();
  EXPECT_EQ(last.at("role"), "user");
  EXPECT_EQ(last.at("content").at(0).at("type"), "tool_result");
  EXPECT_EQ(last.at("content").at(0).at("tool_use_id"), "toolu_1");

  gem.push(Behavior{.body = R"({"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"knowledge_search","args":{"query":"ERESOLVE"}}}]},)"
                            R"("finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":20,"candidatesTokenCount":5,"totalTokenCount":25}})"});
  gem.push(Behavior{.body = R"({"candidates":[{"content":{"role":"model","parts":[{"text":"Align the peers."}]},"finishReason":"STOP","index":0}],)"
                            R"("usageMetadata":{"promptTokenCount":40,"candidatesTokenCount":5,"totalTokenCount":45}})"});
  auto g = http(server.port(), "POST", "/api/v1/workflows/execute",
                R"({"agent":{"model":"gem/gemini-2.0-flash",)" + agent + R"(},"input":"npm ci fails"})", kJson);
  ASSERT_EQ(g->status, 200) << g->body;
  auto gv = json::parse(g->body);
  EXPECT_EQ(gv.at("finish_reason"), "stop");
  EXPECT_EQ(gv.at("output"), "Align the peers.");
  EXPECT_EQ(gv.at("steps").at(2).at("ok"), true) << gv;
  ASSERT_EQ(gem.received().size(), 2u);
  auto gsecond = json::parse(gem.received()[1].body);
  const auto& parts = gsecond.at("contents").as_array().back().at("parts");
  EXPECT_EQ(parts.at(0).at("functionResponse").at("name"), "knowledge_search");
}

TEST(AgentTools, HttpToolsAndAnMcpServersToolsAreCalledForTheModel) {
  FakeUpstream model, tickets, mcp;
  Server server({.env = {{"SB_TICKET", "Bearer t-secret"}},
                 .config_toml = "[gateway]\nmax_retries = 0\n"
                                "[[providers]]\nname = \"oa\"\ntype = \"openai\"\nbase_url = \"" + model.url() + "/v1\"\n"
                                "[[tools]]\nname = \"ticket\"\ntype = \"http\"\ndescription = \"Open a ticket\"\nurl = \"" + tickets.url() + "/tickets\"\n"
                                "parameters = '{\"type\":\"object\",\"properties\":{\"title\":{\"type\":\"string\"}},\"required\":[\"title\"]}'\n"
                                "headers_env = { Authorization = \"SB_TICKET\" }\nallow_private = true\n"
                                "[[tools]]\nname = \"guarded\"\ntype = \"http\"\nurl = \"" + tickets.url() + "/x\"\n"
                                "[[tools]]\nname = \"deploys\"\ntype = \"mcp\"\nurl = \"" + mcp.url() + "/mcp\"\nallow_private = true\n"
                                "[[agents]]\nname = \"ops\"\nmodel = \"oa/gpt\"\ntools = [\"ticket\", \"guarded\", \"deploys\"]\n"});
  // The MCP server: initialize (with a session), the initialized notification, tools/list, then a
  // tools/call answered as server-sent events.
  Behavior init;
  init.headers = {{"Content-Type", "application/json"}, {"Mcp-Session-Id", "sess-1"}};
  init.body = R"({"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"deploys","version":"1"}}})";
  mcp.push(init);
  Behavior accepted;
  accepted.status = 202;
  accepted.body = "";
  mcp.push(accepted);
  Behavior list;
  list.body = R"({"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"deploy_status","description":"The last deploy",)"
              R"("inputSchema":{"type":"object","properties":{"service":{"type":"string"}}}}]}})";
  mcp.push(list);
  Behavior called;
  called.headers = {{"Content-Type", "text/event-stream"}};
  called.chunks = {"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"api deployed v42\"}],\"isError\":false}}\n\n"};
  mcp.push(called);
  Behavior created;
  created.status = 201;
  created.body = R"({"id":"T-1"})";
  tickets.push(created);

  model.push(tool_calls({{"deploys__deploy_status", R"({"service":"api"})"}, {"ticket", R"({"title":"api is down"})"}, {"guarded", "{}"}}));
  model.push(answer("api is on v42; ticket T-1 opened."));
  auto r = http(server.port(), "POST", "/api/v1/workflows/execute", R"({"agent":"ops","input":"is the api deployed?"})", kJson);
  ASSERT_EQ(r->status, 200) << r->body;
  auto v = json::parse(r->body);
  EXPECT_EQ(v.at("finish_reason"), "stop");
  // The model was offered the HTTP tools and the MCP server's tool under "<server>__<tool>".
  auto first = json::parse(model.received().at(0).body);
  std::vector<std::string> names;
  for (const auto& t : first.at("tools").as_array()) names.emplace_back(t.at("function").at("name").as_string());
  EXPECT_EQ(names, (std::vector<std::string>{"ticket", "guarded", "deploys__deploy_status"}));
  EXPECT_EQ(first.at("tools").at(2).at("function").at("parameters").at("properties").at("service").at("type"), "string");
  // Results: the MCP call's text, the ticket's answer, the guarded tool refused (a private address).
  std::map<std::string, json::value> results;
  for (const auto& s : v.at("steps").as_array()) {
    if (s.at("type") == "tool_result") results[std::string(s.at("name").as_string())] = s;
  }
  EXPECT_EQ(results["deploys__deploy_status"].at("result"), "api deployed v42");
  EXPECT_EQ(results["deploys__deploy_status"].at("ok"), true);
  EXPECT_EQ(results["ticket"].at("result"), R"({"id":"T-1"})");
  EXPECT_EQ(results["guarded"].at("ok"), false);
  // What the tools' servers got.
  ASSERT_EQ(tickets.received().size(), 1u);
  EXPECT_EQ(json::parse(tickets.received()[0].body).at("title"), "api is down");
  EXPECT_EQ(tickets.received()[0].headers.at("authorization"), "Bearer t-secret");
  auto got = mcp.received();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(json::parse(got[0].body).at("method"), "initialize");
  EXPECT_EQ(got[0].headers.count("mcp-session-id"), 0u);
  EXPECT_EQ(json::parse(got[1].body).at("method"), "notifications/initialized");
  EXPECT_FALSE(json::parse(got[1].body).as_object().contains("id"));
  EXPECT_EQ(got[1].headers.at("mcp-session-id"), "sess-1");
  EXPECT_EQ(got[1].headers.at("mcp-protocol-version"), "2025-06-18");
  EXPECT_NE(got[3].headers.at("accept").find("text/event-stream"), std::string::npos);
  auto call = json::parse(got[3].body);
  EXPECT_EQ(call.at("method"), "tools/call");
  EXPECT_EQ(call.at("params").at("name"), "deploy_status");
  EXPECT_EQ(call.at("params").at("arguments").at("service"), "api");
  // The secret header never shows in the run.
  EXPECT_EQ(r->body.find("t-secret"), std::string::npos);
}

TEST(AgentTools, AnUnreachableMcpServerIsLeftOutAndSaidSo) {
  FakeUpstream model;
  Server server({.config_toml = "[gateway]\nmax_retries = 0\n"
                                "[[providers]]\nname = \"oa\"\ntype = \"openai\"\nbase_url = \"" + model.url() + "/v1\"\n"
                                "[[tools]]\nname = \"gone\"\ntype = \"mcp\"\nurl = \"http://127.0.0.1:1/mcp\"\nallow_private = true\ntimeout_ms = 2000\n"
                                "[[agents]]\nname = \"ops\"\nmodel = \"oa/gpt\"\ntools = [\"gone\"]\n"});
  model.push(answer("no tools today"));
  auto r = http(server.port(), "POST", "/api/v1/workflows/execute", R"({"agent":"ops","input":"x"})", kJson);
  ASSERT_EQ(r->status, 200) << r->body;
  auto v = json::parse(r->body);
  EXPECT_EQ(v.at("steps").at(0).at("type"), "tools");
  EXPECT_NE(std::string(v.at("steps").at(0).at("error").as_string()).find("MCP server 'gone'"), std::string::npos);
  EXPECT_FALSE(json::parse(model.received().at(0).body).as_object().contains("tools"));
}

}  // namespace
}  // namespace sbtest
