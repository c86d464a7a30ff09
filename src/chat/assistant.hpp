#pragma once
// An assistant: a model answering from collections with citations, as [[assistants]] declares it.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"
#include "knowledge/store.hpp"

namespace sb::chat {

struct Assistant {
  std::string name;  // "" for a request naming collections and a model itself
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

}  // namespace sb::chat
