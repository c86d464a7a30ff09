#pragma once
// What the model is sent for a RAG turn: the system prompt with the numbered sources, the
// conversation's memory (the last turns, within a token budget), and the question; and the
// short prompt that rewrites a follow-up question into a standalone search query.

#include <boost/json/array.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "knowledge/store.hpp"

namespace sb::chat {

// A retrieved chunk with its number in the prompt ([n]).
struct Source {
  int n = 0;
  knowledge::Hit hit;
};

// One earlier exchange of the conversation.
struct Exchange {
  std::string question, answer;
};

// The grounding prompt used when an assistant sets none.
extern const char* const kDefaultSystemPrompt;

// The numbered sources as the prompt lists them: "[n] title (page p, heading)\ntext".
std::string sources_block(const std::vector<Source>& sources);

// The system prompt with the sources: in place of "{sources}" when the prompt has it, else after it.
std::string system_message(std::string_view system_prompt, const std::vector<Source>& sources);

// The last `turns` exchanges that fit in `max_tokens` (estimated), dropping the oldest first. A
// single exchange larger than the budget is cut (answer first, then question) with a marker
// rather than dropped when it is the newest one. max_tokens 0 = no memory.
std::vector<Exchange> fit_memory(std::vector<Exchange> all, int turns, int max_tokens);

// The messages of the answer call: system (with sources), memory as user/assistant pairs, question.
boost::json::array answer_messages(std::string_view system_prompt, const std::vector<Source>& sources,
                                   const std::vector<Exchange>& memory, std::string_view question);

// The messages of the rewrite call (the conversation so far, then the follow-up).
boost::json::array rewrite_messages(const std::vector<Exchange>& memory, std::string_view question);

// Marks where a remembered message was cut.
extern const char* const kTruncated;

}  // namespace sb::chat
