#include "chat/assistant.hpp"

#include <boost/json/parse.hpp>

#include "knowledge/filters.hpp"

namespace sb::chat {

core::Result<Assistant> make_assistant(const core::AssistantConfig& c) {
  Assistant a;
  a.name = c.name;
  a.collections = c.collections;
  a.model = c.model;
  a.system_prompt = c.system_prompt;
  a.mode = c.mode == "semantic"  ? knowledge::SearchMode::semantic
           : c.mode == "keyword" ? knowledge::SearchMode::keyword
                                 : knowledge::SearchMode::hybrid;
  a.top_k = c.top_k;
  boost::system::error_code ec;
  boost::json::value filters = boost::json::parse(c.filters, ec);
  if (ec) return core::Error(core::ErrorKind::invalid_field, "'filters' is not valid JSON", "filters");
  auto f = knowledge::parse_filters(&filters);
  if (!f) return std::move(f).error();
  a.filters = std::move(*f);
  a.filters_json = c.filters;
  a.score_threshold = c.score_threshold;
  a.memory_turns = c.memory_turns;
  a.max_context_tokens = c.max_context_tokens;
  a.rewrite_followups = c.rewrite_followups;
  a.temperature = c.temperature;
  a.max_tokens = c.max_tokens;
  a.no_sources_reply = c.no_sources_reply;
  a.cache = c.cache;
  return a;
}

const char* mode_name(knowledge::SearchMode mode) {
  switch (mode) {
    case knowledge::SearchMode::semantic:
      return "semantic";
    case knowledge::SearchMode::keyword:
      return "keyword";
    case knowledge::SearchMode::hybrid:
      break;
  }
  return "hybrid";
}

}  // namespace sb::chat
