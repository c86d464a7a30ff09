#pragma once
// What the inbound translations (anthropic_inbound, responses_inbound) share: their errors, and
// the parts of OpenAI chat requests and answers both read and write the same way.

#include <boost/json/object.hpp>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace sb::gateway::inbound {

inline core::Error bad_field(const std::string& param, const std::string& what) {
  return core::Error(core::ErrorKind::invalid_field, "'" + param + "' " + what, param);
}

inline core::Error wrong_type(const std::string& param, const std::string& what) {
  return core::Error(core::ErrorKind::invalid_type, "'" + param + "' must be " + what, param);
}

// Copies the numeric fields `names` (temperature, top_p) from a request to the chat request.
inline core::Status copy_numbers(const boost::json::object& in, boost::json::object& out,
                                 std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (const boost::json::value* v = in.if_contains(name); v && !v->is_null()) {
      if (!v->is_number()) return wrong_type(name, "a number");
      out[name] = *v;
    }
  }
  return {};
}

// "stream": true becomes a chat stream with its usage at the end.
inline core::Status copy_stream(const boost::json::object& in, boost::json::object& out) {
  if (const boost::json::value* stream = in.if_contains("stream"); stream && !stream->is_null()) {
    if (!stream->is_bool()) return wrong_type("stream", "a boolean");
    if (stream->get_bool()) {
      out["stream"] = true;
      out["stream_options"] = boost::json::object{{"include_usage", true}};
    }
  }
  return {};
}

// The token counts of a chat answer's or chunk's "usage", where it has them.
inline void read_usage(const boost::json::object& o, long long& prompt, long long& completion) {
  const boost::json::value* u = o.if_contains("usage");
  if (!u || !u->is_object()) return;
  if (const auto* p = u->get_object().if_contains("prompt_tokens"); p && p->is_int64()) prompt = p->get_int64();
  if (const auto* c = u->get_object().if_contains("completion_tokens"); c && c->is_int64()) completion = c->get_int64();
}

// A whole chat.completion, read once for the formats that rebuild it.
struct ChatAnswer {
  std::string id;      // the upstream's, "" when it gave none
  std::string text;    // the message's content, "" when none
  struct ToolCall {
    std::string id, name, arguments;  // arguments as the JSON text the model wrote
  };
  std::vector<ToolCall> tool_calls;
  std::string finish_reason = "stop";
  long long prompt_tokens = 0, completion_tokens = 0;
};
// upstream_error when the body is not a chat completion with a choice.
core::Result<ChatAnswer> read_answer(std::string_view chat_completion);

// The first choice of a chat answer or chunk, or null.
inline const boost::json::object* first_choice(const boost::json::object& o) {
  const boost::json::value* choices = o.if_contains("choices");
  if (!choices || !choices->is_array() || choices->get_array().empty()) return nullptr;
  return choices->get_array()[0].if_object();
}

}  // namespace sb::gateway::inbound
