// Anthropic and Gemini providers through the real binary: the URL, headers and translated body
// they send, and the OpenAI answers and streams clients get back.

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "fake_upstream.hpp"
#include "harness.hpp"

namespace sbtest {
namespace {

namespace json = boost::json;

const std::string kKey = "sk-ant-native-test-key-0123456789";

class NativeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string config =
        "[gateway]\nmax_retries = 0\n"
        "[[providers]]\nname = \"claude\"\ntype = \"anthropic\"\nbase_url = \"" + up_.url() +
        "/v1\"\napi_key_env = \"SB_NATIVE_KEY\"\n"
        "[[providers]]\nname = \"gem\"\ntype = \"gemini\"\nbase_url = \"" + up_.url() +
        "/v1beta\"\napi_key_env = \"SB_NATIVE_KEY\"\n";
    server_ = std::make_unique<Server>(ServerOptions{.env = {{"SB_NATIVE_KEY", kKey}}, .config_toml = config});
  }
  int port() { return server_->port(); }
  FakeUpstream up_;
  std::unique_ptr<Server> server_;
};

Behavior json_answer(const std::string& body) {
  Behavior b;
  b.body = body;
  return b;
}

Behavior sse_answer(const std::vector<std::string>& datas) {
  Behavior b;
  b.headers = {{"Content-Type", "text/event-stream"}};
  for (const auto& d : datas) b.chunks.push_back("data: " + d + "\n\n");
  return b;
}

TEST_F(NativeTest, AnthropicWholeAnswer) {
  up_.push(json_answer(R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"Bonjour"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":2}})"));
  auto r = http(port(), "POST", "/v1/chat/completions",
                R"({"model":"claude/claude-x","messages":[{"role":"system","content":"S"},{"role":"user","content":"Hi"}]})");
  ASSERT_EQ(r->status, 200) << r->body;
  auto v = json::parse(r->body);
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content"), "Bonjour");
  EXPECT_EQ(v.at("usage").at("total_tokens"), 7);
  auto got = up_.received().at(0);
  EXPECT_EQ(got.target, "/v1/messages");
  EXPECT_EQ(got.headers["x-api-key"], kKey);
  EXPECT_EQ(got.headers["anthropic-version"], "2023-06-01");
  EXPECT_EQ(got.headers.count("authorization"), 0u);
  auto sent = json::parse(got.body);
  EXPECT_EQ(sent.at("system"), "S");
  EXPECT_EQ(sent.at("max_tokens"), 4096);
  EXPECT_EQ(sent.at("model"), "claude-x");
}

TEST_F(NativeTest, AnthropicStreamBecomesOpenAiChunks) {
  up_.push(sse_answer({
      R"({"type":"message_start","message":{"id":"msg_2","model":"claude-x","usage":{"input_tokens":3,"output_tokens":1}}})",
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hey"}})",
      R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}})",
      R"({"type":"message_stop"})"}));
  auto r = http(port(), "POST", "/v1/chat/completions",
                R"({"model":"claude/claude-x","stream":true,"messages":[{"role":"user","content":"Hi"}]})");
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->body.find(R"("delta":{"content":"Hey"})"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find(R"("finish_reason":"stop")"), std::string::npos);
  EXPECT_NE(r->body.find("data: [DONE]"), std::string::npos);
  EXPECT_EQ(json::parse(up_.received().at(0).body).at("stream"), true);
}

TEST_F(NativeTest, AnthropicErrorsKeepTheirMeaning) {
  Behavior overloaded;
  overloaded.status = 529;
  overloaded.body = R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})";
  up_.push(overloaded);
  auto r = http(port(), "POST", "/v1/chat/completions", R"({"model":"claude/claude-x","messages":[{"role":"user","content":"Hi"}]})");
  EXPECT_EQ(r->status, 502);
  EXPECT_NE(r->body.find("Overloaded"), std::string::npos);
  // What Anthropic cannot express is refused before any call.
  r = http(port(), "POST", "/v1/chat/completions", R"({"model":"claude/claude-x","n":3,"messages":[{"role":"user","content":"Hi"}]})");
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body).at("error").at("param"), "n");
  EXPECT_EQ(up_.received().size(), 1u);
}

TEST_F(NativeTest, GeminiWholeAndStreamed) {
  up_.push(json_answer(R"({"candidates":[{"content":{"role":"model","parts":[{"text":"Hallo"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":1,"totalTokenCount":3}})"));
  auto r = http(port(), "POST", "/v1/chat/completions", R"({"model":"gem/gemini-2.5-flash","messages":[{"role":"user","content":"Hi"}]})");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body).at("choices").at(0).at("message").at("content"), "Hallo");
  auto got = up_.received().at(0);
  EXPECT_EQ(got.target, "/v1beta/models/gemini-2.5-flash:generateContent");
  EXPECT_EQ(got.headers["x-goog-api-key"], kKey);
  EXPECT_EQ(json::parse(got.body).at("contents").at(0).at("parts").at(0).at("text"), "Hi");

  up_.push(sse_answer({R"({"candidates":[{"content":{"role":"model","parts":[{"text":"A"}]},"index":0}]})",
                       R"({"candidates":[{"content":{"role":"model","parts":[{"text":"B"}]},"finishReason":"STOP","index":0}]})"}));
  r = http(port(), "POST", "/v1/chat/completions", R"({"model":"gem/gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"Hi"}]})");
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->body.find(R"("delta":{"content":"B"})"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("data: [DONE]"), std::string::npos);
  EXPECT_EQ(up_.received().at(1).target, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
}

TEST_F(NativeTest, AStreamThatEndsEarlyEndsWithAnErrorEvent) {
  up_.push(sse_answer({R"({"candidates":[{"content":{"role":"model","parts":[{"text":"A"}]},"index":0}]})"}));
  auto r = http(port(), "POST", "/v1/chat/completions", R"({"model":"gem/g","stream":true,"messages":[{"role":"user","content":"Hi"}]})");
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("ended before the answer was complete"), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("[DONE]"), std::string::npos);
}

}  // namespace
}  // namespace sbtest
