#pragma once
// An assistant: a model answering from collections with citations, as [[assistants]] declares it.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "core/config.hpp"
#include "core/error.hpp"
#include "knowledge/store.hpp"

namespace sb::chat {

struct Assistant {
  std::string id;    // the name for a config assistant; asst_<hex> for one made through the API
  std::string name;  // "" for a request naming collections and a model itself
  bool from_config = true;
  std::int64_t created_at = 0, updated_at = 0;
  std::vector<std::string> collections;
  std::string model;          // a route or provider/model
  std::string system_prompt;  // "" = kDefaultSystemPrompt
  knowledge::SearchMode mode = knowledge::SearchMode::hybrid;
  int top_k = 5;
  storage::SearchFilters filters;
  std::string filters_json = "{}";
  std::optional<double> score_threshold;
  int memory_turns = 20;
  int max_context_tokens = 4000;
  bool rewrite_followups = true;
  std::optional<double> temperature;
  std::optional<std::int64_t> max_tokens;
  std::string no_sources_reply;  // "" = chat.no_sources_reply
  bool cache = true;
};

// Errors: invalid_field naming the field (assistants[i].filters...).
core::Result<Assistant> make_assistant(const core::AssistantConfig& config);

const char* mode_name(knowledge::SearchMode mode);

// The assistant as the API takes and shows it: {name, collections, model, system_prompt,
// retrieval: {mode, top_k, filters, score_threshold}, memory_turns, max_context_tokens,
// rewrite_followups, temperature, max_tokens, no_sources_reply, cache}.
boost::json::object assistant_spec(const Assistant& a);

// An assistant from that shape (unset fields at their defaults). Errors: invalid_field naming
// the field ("retrieval.top_k").
core::Result<Assistant> assistant_from_spec(const boost::json::object& spec);

// `patch` over `spec`: its top-level fields replace, `retrieval` is merged one level down.
boost::json::object merge_spec(boost::json::object spec, const boost::json::object& patch);

}  // namespace sb::chat
