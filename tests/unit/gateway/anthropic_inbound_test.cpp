#include "gateway/anthropic_inbound.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace sb::gateway::anthropic_inbound {
namespace {

namespace json = boost::json;

json::object chat_of(const std::string& anthropic) {
  auto r = to_chat_request(json::parse(anthropic).as_object());
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? *r : json::object{};
}

TEST(AnthropicInbound, RequestsBecomeOpenAiChat) {
  auto c = chat_of(R"({"model":"m","max_tokens":9,"system":"Be brief.","temperature":0.2,"top_k":5,
    "stop_sequences":["END"],"messages":[{"role":"user","content":"Hi"}],
    "tools":[{"name":"f","description":"d","input_schema":{"type":"object","properties":{}}}],
    "tool_choice":{"type":"any","disable_parallel_tool_use":true}})");
  EXPECT_EQ(c.at("model"), "m");
  EXPECT_EQ(c.at("max_tokens"), 9);
  EXPECT_EQ(c.at("messages").at(0).at("role"), "system");
  EXPECT_EQ(c.at("messages").at(0).at("content"), "Be brief.");
  EXPECT_EQ(c.at("messages").at(1).at("content"), "Hi");
  EXPECT_EQ(c.at("stop").at(0), "END");
  EXPECT_FALSE(c.contains("top_k")) << "no OpenAI equivalent: dropped";
  EXPECT_EQ(c.at("tools").at(0).at("function").at("parameters").at("type"), "object");
  EXPECT_EQ(c.at("tool_choice"), "required");
  EXPECT_EQ(c.at("parallel_tool_calls"), false);
}

TEST(AnthropicInbound, ToolUseAndToolResultsBecomeToolCallsAndToolMessages) {
  auto c = chat_of(R"({"model":"m","max_tokens":9,"stream":true,"messages":[
    {"role":"user","content":"Weather?"},
    {"role":"assistant","content":[{"type":"text","text":"Looking."},{"type":"tool_use","id":"t1","name":"w","input":{"city":"Oslo"}}]},
    {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"sunny"},{"type":"text","text":"And?"}]}]})");
  const auto& m = c.at("messages").as_array();
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[1].at("content"), "Looking.");
  EXPECT_EQ(m[1].at("tool_calls").at(0).at("function").at("arguments"), R"({"city":"Oslo"})");
  EXPECT_EQ(m[2].at("role"), "tool");
  EXPECT_EQ(m[2].at("tool_call_id"), "t1");
  EXPECT_EQ(m[3].at("content"), "And?");
  EXPECT_EQ(c.at("stream_options").at("include_usage"), true);
}

TEST(AnthropicInbound, BadRequestsNameTheField) {
  auto param = [](const std::string& body) {
    auto r = to_chat_request(json::parse(body).as_object());
    return r ? std::string("ok") : r.error().param;
  };
  EXPECT_EQ(param(R"({"max_tokens":1,"messages":[{"role":"user","content":"x"}]})"), "model");
  EXPECT_EQ(param(R"({"model":"m","messages":[{"role":"user","content":"x"}]})"), "max_tokens");
  EXPECT_EQ(param(R"({"model":"m","max_tokens":1,"messages":[]})"), "messages");
  EXPECT_EQ(param(R"({"model":"m","max_tokens":1,"messages":[{"role":"system","content":"x"}]})"), "messages[0].role");
  EXPECT_EQ(param(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"video"}]}]})"),
            "messages[0].content[0].type");
  EXPECT_EQ(param(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"some"}})"),
            "tool_choice.type");
}

TEST(AnthropicInbound, AWholeAnswerBecomesAMessage) {
  auto m = to_message(R"({"id":"chatcmpl-abc","choices":[{"index":0,"finish_reason":"length","message":{"role":"assistant","content":"Hi","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]}}],"usage":{"prompt_tokens":3,"completion_tokens":4}})",
                      "route");
  ASSERT_TRUE(m);
  auto v = json::parse(*m);
  EXPECT_EQ(v.at("id"), "msg_abc");
  EXPECT_EQ(v.at("model"), "route");
  EXPECT_EQ(v.at("stop_reason"), "max_tokens");
  EXPECT_EQ(v.at("content").at(0).at("text"), "Hi");
  EXPECT_EQ(v.at("content").at(1).at("type"), "tool_use");
  EXPECT_EQ(v.at("content").at(1).at("input").at("a"), 1);
  EXPECT_EQ(v.at("usage").at("input_tokens"), 3);
  EXPECT_FALSE(to_message("[]", "m"));
}

TEST(AnthropicInbound, StreamsBecomeAnthropicEventsInOrder) {
  StreamTranslator t("m");
  std::string out;
  t.chunk(R"({"id":"chatcmpl-1","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})", out);
  t.chunk(R"({"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"Hi"}}]})", out);
  t.chunk(R"({"id":"chatcmpl-1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{\"a\""}}]}}]})", out);
  t.chunk(R"({"id":"chatcmpl-1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]},"finish_reason":"tool_calls"}]})", out);
  t.chunk(R"({"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":6}})", out);
  t.finish(out);
  std::vector<std::string> names;
  for (std::size_t at = out.find("event: "); at != std::string::npos; at = out.find("event: ", at + 1)) {
    names.push_back(out.substr(at + 7, out.find('\n', at) - at - 7));
  }
  const std::vector<std::string> want = {"message_start", "content_block_start", "content_block_delta",
                                         "content_block_stop", "content_block_start", "content_block_delta",
                                         "content_block_delta", "content_block_stop", "message_delta", "message_stop"};
  EXPECT_EQ(names, want) << out;
  EXPECT_NE(out.find(R"("stop_reason":"tool_use")"), std::string::npos);
  EXPECT_NE(out.find(R"("output_tokens":6)"), std::string::npos);
  EXPECT_NE(out.find(R"("index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\""})"), std::string::npos) << out;
}

TEST(AnthropicInbound, ErrorsUseAnthropicsTypes) {
  EXPECT_EQ(error_body(core::Error(core::ErrorKind::invalid_field, "bad", "x")),
            R"({"type":"error","error":{"type":"invalid_request_error","message":"bad"}})");
  EXPECT_NE(error_body(core::Error(core::ErrorKind::model_not_found, "no")).find("not_found_error"), std::string::npos);
  EXPECT_NE(error_body(core::Error(core::ErrorKind::rate_limited, "slow")).find("rate_limit_error"), std::string::npos);
  EXPECT_NE(error_body(core::Error(core::ErrorKind::unavailable, "down")).find("overloaded_error"), std::string::npos);
}

}  // namespace
}  // namespace sb::gateway::anthropic_inbound
