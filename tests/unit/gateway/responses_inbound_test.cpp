#include "gateway/responses_inbound.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace sb::gateway::responses_inbound {
namespace {

namespace json = boost::json;

TEST(ResponsesInbound, InputItemsBecomeChatMessages) {
  auto r = to_chat_request(json::parse(R"({"model":"m","instructions":"Be brief.","max_output_tokens":7,"input":[
    {"role":"developer","content":"Rules."},
    {"role":"user","content":[{"type":"input_text","text":"Weather?"}]},
    {"type":"function_call","call_id":"c1","name":"w","arguments":"{\"city\":\"Oslo\"}"},
    {"type":"function_call_output","call_id":"c1","output":"sunny"}],
    "tools":[{"type":"function","name":"w","parameters":{"type":"object"}}],"tool_choice":"required"})").as_object());
  ASSERT_TRUE(r) << r.error().message;
  const auto& m = r->at("messages").as_array();
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[0].at("content"), "Be brief.");
  EXPECT_EQ(m[1].at("role"), "system") << "developer is system in chat";
  EXPECT_EQ(m[2].at("content"), "Weather?");
  EXPECT_EQ(m[3].at("tool_calls").at(0).at("id"), "c1");
  EXPECT_EQ(m[4].at("role"), "tool");
  EXPECT_EQ(r->at("max_tokens"), 7);
  EXPECT_EQ(r->at("tools").at(0).at("function").at("name"), "w");
  EXPECT_EQ(r->at("tool_choice"), "required");
}

TEST(ResponsesInbound, WhatIsNotSupportedIsSaid) {
  auto param = [](const std::string& body) {
    auto r = to_chat_request(json::parse(body).as_object());
    return r ? std::string("ok") : r.error().param;
  };
  EXPECT_EQ(param(R"({"model":"m","input":"x","previous_response_id":"resp_1"})"), "previous_response_id");
  EXPECT_EQ(param(R"({"model":"m","input":"x","tools":[{"type":"web_search"}]})"), "tools[0].type");
  EXPECT_EQ(param(R"({"model":"m"})"), "input");
  EXPECT_EQ(param(R"({"model":"m","input":[{"type":"reasoning"}]})"), "input[0].type");
  EXPECT_EQ(param(R"({"input":"x"})"), "model");
}

TEST(ResponsesInbound, AnswersAndStreamsBecomeResponses) {
  auto whole = to_response(R"({"choices":[{"index":0,"finish_reason":"length","message":{"role":"assistant","content":"Hi"}}],"usage":{"prompt_tokens":2,"completion_tokens":3}})", "route");
  ASSERT_TRUE(whole);
  auto v = json::parse(*whole);
  EXPECT_EQ(v.at("status"), "incomplete");
  EXPECT_EQ(v.at("incomplete_details").at("reason"), "max_output_tokens");
  EXPECT_EQ(v.at("output").at(0).at("content").at(0).at("text"), "Hi");
  EXPECT_EQ(v.at("usage").at("total_tokens"), 5);

  StreamTranslator t("m");
  std::string out;
  t.chunk(R"({"choices":[{"index":0,"delta":{"content":"A"}}]})", out);
  t.chunk(R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]})", out);
  t.finish(out);
  std::vector<std::string> names;
  for (std::size_t at = out.find("event: "); at != std::string::npos; at = out.find("event: ", at + 1)) {
    names.push_back(out.substr(at + 7, out.find('\n', at) - at - 7));
  }
  const std::vector<std::string> want = {
      "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
      "response.output_text.delta", "response.output_text.done", "response.content_part.done",
      "response.output_item.done", "response.output_item.added", "response.function_call_arguments.delta",
      "response.function_call_arguments.done", "response.output_item.done", "response.completed"};
  EXPECT_EQ(names, want) << out;
  EXPECT_NE(out.find(R"("sequence_number":12)"), std::string::npos);
}

}  // namespace
}  // namespace sb::gateway::responses_inbound
