#include "gateway/inbound_common.hpp"

#include <boost/json/parse.hpp>

namespace sb::gateway::inbound {

namespace json = boost::json;

core::Result<ChatAnswer> read_answer(std::string_view chat_completion) {
  boost::system::error_code ec;
  json::value v = json::parse(chat_completion, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  const json::object* choice = o ? first_choice(*o) : nullptr;
  if (!choice) {
    return core::Error(core::ErrorKind::upstream_error, "the upstream's answer is not a chat completion", {}, "gateway");
  }
  ChatAnswer a;
  auto str = [](const json::object& from, std::string_view key) {
    const json::value* x = from.if_contains(key);
    return x && x->is_string() ? std::string(x->get_string()) : std::string();
  };
  a.id = str(*o, "id");
  if (const json::value* f = choice->if_contains("finish_reason"); f && f->is_string()) {
    a.finish_reason = std::string(f->get_string());
  }
  read_usage(*o, a.prompt_tokens, a.completion_tokens);
  const json::value* message = choice->if_contains("message");
  const json::object* m = message ? message->if_object() : nullptr;
  if (!m) return a;
  a.text = str(*m, "content");
  if (const json::value* calls = m->if_contains("tool_calls"); calls && calls->is_array()) {
    for (const auto& call : calls->get_array()) {
      const json::object* c = call.if_object();
      const json::value* fn = c ? c->if_contains("function") : nullptr;
      const json::object* f = fn ? fn->if_object() : nullptr;
      if (!f) continue;
      a.tool_calls.push_back({str(*c, "id"), str(*f, "name"), str(*f, "arguments")});
    }
  }
  return a;
}

}  // namespace sb::gateway::inbound
