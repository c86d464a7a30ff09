#pragma once
// The Anthropic Messages API as an inbound format (POST /v1/messages): Anthropic SDK users and
// tools built on it reach any provider. The request becomes an OpenAI chat request, which the
// gateway routes as usual; the answer (whole or streamed) becomes an Anthropic message again.
// Pure functions of JSON, so each part is unit-tested and fuzzed.

#include <boost/json/object.hpp>

#include <string>
#include <string_view>

#include "core/error.hpp"

namespace sb::gateway::anthropic_inbound {

// {model, max_tokens, messages, system?, tools?, tool_choice?, temperature?, top_p?,
// stop_sequences?, stream?, metadata?} -> an OpenAI chat request. Errors (400) name the field.
// Fields OpenAI has no equivalent for (top_k, metadata) are dropped.
core::Result<boost::json::object> to_chat_request(const boost::json::object& request);

// An OpenAI chat.completion -> an Anthropic message naming `model`. A body that is not a chat
// completion is an upstream_error.
core::Result<std::string> to_message(std::string_view chat_completion, std::string_view model);

// The Anthropic error envelope: {"type":"error","error":{"type","message"}}.
std::string error_body(const core::Error& e);

// OpenAI chat.completion.chunk objects in, Anthropic stream events out (message_start,
// content_block_start/delta/stop for text and tool_use blocks, message_delta, message_stop).
class StreamTranslator {
 public:
  explicit StreamTranslator(std::string model) : model_(std::move(model)) {}
  // Appends the SSE events one chunk yields; a chunk that is not JSON is skipped.
  void chunk(std::string_view openai_chunk, std::string& out);
  // The closing events. REQUIRES: called once, after the last chunk.
  void finish(std::string& out);

 private:
  void start(std::string& out, std::string_view id);
  void open(std::string& out, const boost::json::object& block);
  void close(std::string& out);

  std::string model_;
  bool started_ = false;
  int index_ = -1;      // the last content block's index
  bool open_ = false;   // whether it is still open
  int tool_call_ = -1;  // which OpenAI tool call it is, -1 for text
  std::string stop_reason_ = "end_turn";
  long long input_tokens_ = 0, output_tokens_ = 0;
};

}  // namespace sb::gateway::anthropic_inbound
