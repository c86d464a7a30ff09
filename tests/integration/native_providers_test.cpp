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

// /v1/embeddings through the gemini type: models/{model}:batchEmbedContents, one request per
// input with outputDimensionality from `dimensions`, answered as an OpenAI list.
TEST_F(NativeTest, GeminiEmbeddings) {
  up_.push(json_answer(R"({"embeddings":[{"values":[0.25,-0.5]},{"values":[1.0,0.125]}]})"));
  auto r = http(port(), "POST", "/v1/embeddings",
                R"({"model":"gem/text-embedding-004","input":["first","second"],"dimensions":2})");
  ASSERT_EQ(r->status, 200) << r->body;
  auto out = json::parse(r->body);
  EXPECT_EQ(out.at("object"), "list");
  EXPECT_EQ(out.at("data").as_array().size(), 2u);
  EXPECT_EQ(out.at("data").at(1).at("index"), 1);
  EXPECT_EQ(out.at("data").at(1).at("embedding"), json::parse("[1.0,0.125]"));
  EXPECT_EQ(out.at("data").at(0).at("embedding"), json::parse("[0.25,-0.5]"));
  auto got = up_.received().at(0);
  EXPECT_EQ(got.target, "/v1beta/models/text-embedding-004:batchEmbedContents");
  EXPECT_EQ(got.headers["x-goog-api-key"], kKey);
  auto sent = json::parse(got.body);
  EXPECT_EQ(sent.at("requests").as_array().size(), 2u);
  EXPECT_EQ(sent.at("requests").at(0).at("model"), "models/text-embedding-004");
  EXPECT_EQ(sent.at("requests").at(1).at("content").at("parts").at(0).at("text"), "second");
  EXPECT_EQ(sent.at("requests").at(0).at("outputDimensionality"), 2);

  // base64: little-endian float32, like OpenAI ([0.25, -0.5] -> 00 00 80 3e 00 00 00 bf).
  up_.push(json_answer(R"({"embeddings":[{"values":[0.25,-0.5]}]})"));
  r = http(port(), "POST", "/v1/embeddings", R"({"model":"gem/text-embedding-004","input":"one","encoding_format":"base64"})");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body).at("data").at(0).at("embedding"), "AACAPgAAAL8=");
  EXPECT_FALSE(json::parse(up_.received().at(1).body).at("requests").at(0).as_object().contains("outputDimensionality"));

  // Token ids cannot be sent to Gemini: 400 naming the field, nothing sent upstream.
  r = http(port(), "POST", "/v1/embeddings", R"({"model":"gem/text-embedding-004","input":[[1,2,3]]})");
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(json::parse(r->body).at("error").at("param"), "input");
  EXPECT_EQ(up_.received().size(), 2u);

  // An answer without embeddings is the upstream's fault.
  up_.push(json_answer(R"({"unexpected":true})"));
  r = http(port(), "POST", "/v1/embeddings", R"({"model":"gem/text-embedding-004","input":"x"})");
  EXPECT_EQ(r->status, 502) << r->body;
  EXPECT_NE(json::parse(r->body).at("error").at("message").as_string().find("no embeddings"), std::string::npos) << r->body;

  // Anthropic has no embeddings API.
  r = http(port(), "POST", "/v1/embeddings", R"({"model":"claude/any","input":"x"})");
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(up_.received().size(), 3u);
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

namespace sbtest {
namespace {

TEST_F(NativeTest, LegacyCompletionsAreRefusedClearlyByProvidersWithoutThem) {
  for (const std::string model : {"claude/claude-3-5-haiku", "gem/gemini-2.0-flash"}) {
    auto r = http(port(), "POST", "/v1/completions", R"({"model":")" + model + R"(","prompt":"hi"})");
    ASSERT_EQ(r->status, 400) << model << " " << r->body;
    EXPECT_NE(r->body.find("no legacy completions API"), std::string::npos) << r->body;
    EXPECT_EQ(code_of(*r), "invalid_value");
  }
  EXPECT_TRUE(up_.received().empty()) << "nothing was sent";
}

}  // namespace
}  // namespace sbtest

namespace sbtest {
namespace {

// ../shared/API.md: fields a translated provider has no place for are dropped with a log line.
TEST_F(NativeTest, FieldsATranslationDropsAreLogged) {
  up_.push(json_answer(R"({"candidates":[{"content":{"role":"model","parts":[{"text":"ok"}]},"finishReason":"STOP","index":0}]})"));
  auto r = http(port(), "POST", "/v1/chat/completions",
                R"({"model":"gem/gemini-2.5-flash","messages":[{"role":"user","content":"Hi"}],"temperature":0.5,"x_vendor":1,"user":"u1"})");
  ASSERT_EQ(r->status, 200) << r->body;
  ASSERT_TRUE(server_->wait_for_log(R"("msg":"fields dropped")"));
  bool seen = false;
  for (const auto& line : server_->stdout_lines()) {
    if (line.find(R"("msg":"fields dropped")") == std::string::npos) continue;
    auto v = json::parse(line).as_object();
    EXPECT_EQ(v.at("provider"), "gem");
    EXPECT_EQ(v.at("fields"), "x_vendor, user") << line;
    seen = true;
  }
  EXPECT_TRUE(seen);
  EXPECT_FALSE(json::parse(up_.received().back().body).as_object().contains("x_vendor"));
}

}  // namespace
}  // namespace sbtest
