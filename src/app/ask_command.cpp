#include "app/ask_command.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include <cstdio>

#include "core/json_text.hpp"

namespace sb::app {

namespace json = boost::json;

int ask_command(const KbOptions& server, const AskOptions& o, const std::string& question) {
  json::object req;
  req["question"] = question;
  if (!o.assistant.empty()) {
    req["assistant"] = o.assistant;
  } else {
    req["collections"] = json::array{json::string(o.collection)};
    req["model"] = o.model;
  }
  if (o.conversation) req["conversation_id"] = *o.conversation;
  auto r = call_server(server, "POST", "/api/v1/chat", core::to_json(req));
  if (!r) return 2;
  if (r->status != 200) {
    std::fprintf(stderr, "error %d: %s\n", r->status, r->error_message().c_str());
    return 1;
  }
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec || !v.is_object()) {
    std::fprintf(stderr, "error: the answer is not JSON\n");
    return 1;
  }
  const json::object& a = v.as_object();
  std::printf("%s\n", std::string(a.at("answer").as_string()).c_str());
  const json::array& citations = a.at("citations").as_array();
  if (!citations.empty()) {
    std::printf("\nSources:\n");
    for (const auto& c : citations) {
      const json::object& s = c.as_object();
      std::string where = s.at("external_id").is_string() ? std::string(s.at("external_id").as_string())
                                                          : std::string(s.at("document_id").as_string());
      if (s.at("page").is_int64()) where += " p." + std::to_string(s.at("page").as_int64());
      std::printf("  [%lld] %s (%s)\n", static_cast<long long>(s.at("n").as_int64()),
                  std::string(s.at("title").as_string()).c_str(), where.c_str());
    }
  }
  std::printf("\nconversation: %s\n", std::string(a.at("conversation_id").as_string()).c_str());
  return 0;
}

}  // namespace sb::app
