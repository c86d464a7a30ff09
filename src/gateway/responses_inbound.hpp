#pragma once
// The OpenAI Responses API as an inbound format (POST /v1/responses) for providers that only
// have chat completions (every provider here: vLLM, Ollama, Anthropic, Gemini, the mock). Text
// in and out, streaming and function tools; the request becomes a chat request, the answer (whole
// or streamed) a Response object again. Stateless: `previous_response_id` and stored responses
// are refused. Pure functions of JSON, unit-tested and fuzzed.

#include <boost/json/object.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace sb::gateway::responses_inbound {

// {model, input, instructions?, tools?, tool_choice?, temperature?, top_p?,
// max_output_tokens?, stream?, parallel_tool_calls?, user?, store?, metadata?} -> an OpenAI chat
// request. Errors (400) name the field.
core::Result<boost::json::object> to_chat_request(const boost::json::object& request);

// An OpenAI chat.completion -> a Response object naming `model`.
core::Result<std::string> to_response(std::string_view chat_completion, std::string_view model);

// Chat completion chunks in, Responses stream events out (response.created, output items,
// text and function-call argument deltas, response.completed).
class StreamTranslator {
 public:
  explicit StreamTranslator(std::string model);
  void chunk(std::string_view openai_chunk, std::string& out);
  // REQUIRES: called once, after the last chunk.
  void finish(std::string& out);

 private:
  struct Item {
    std::string type;  // "message" or "function_call"
    std::string id, call_id, name, text;
    int tool_index = -1;
  };
  void event(std::string& out, std::string_view type, boost::json::object data);
  boost::json::object response_object(std::string_view status) const;
  boost::json::object item_object(const Item& item, bool done) const;
  void open(std::string& out, Item item);
  void close(std::string& out);

  std::string model_, id_;
  long long created_ = 0;
  long long sequence_ = 0;
  bool started_ = false, open_ = false;
  std::vector<Item> items_;
  std::string finish_ = "stop";
  long long input_tokens_ = 0, output_tokens_ = 0;
};

}  // namespace sb::gateway::responses_inbound
