#include "chat/prompt.hpp"

#include <boost/json/object.hpp>

#include <algorithm>

#include "knowledge/text.hpp"

namespace sb::chat {

namespace json = boost::json;

const char* const kDefaultSystemPrompt =
    "You answer questions using only the numbered sources below. After each statement, cite the source it "
    "comes from by its number in square brackets, like [1] or [2][3]. Do not cite a number that is not "
    "listed. If the sources do not contain the answer, say \"I don't know\" and do not make one up.";

const char* const kTruncated = " […truncated]";

std::string sources_block(const std::vector<Source>& sources) {
  std::string out;
  for (const auto& s : sources) {
    const auto& c = s.hit.chunk;
    if (!out.empty()) out += "\n\n";
    out += "[" + std::to_string(s.n) + "] " + (c.title.empty() ? c.document_id : c.title);
    std::string where;
    if (c.page) where = "page " + std::to_string(*c.page);
    if (!c.heading.empty()) where += (where.empty() ? "" : ", ") + c.heading;
    if (!where.empty()) out += " (" + where + ")";
    out += "\n" + c.text;
  }
  return out;
}

std::string system_message(std::string_view system_prompt, const std::vector<Source>& sources) {
  const std::string block = sources_block(sources);
  std::string prompt(system_prompt.empty() ? std::string_view(kDefaultSystemPrompt) : system_prompt);
  if (auto at = prompt.find("{sources}"); at != std::string::npos) {
    prompt.replace(at, 9, block);
    return prompt;
  }
  return prompt + "\n\nSources:\n\n" + block;
}

namespace {

int tokens(const Exchange& e) {
  return knowledge::estimate_tokens(e.question) + knowledge::estimate_tokens(e.answer);
}

// The first words of `s` that fit in `budget` tokens, with the marker.
std::string cut(const std::string& s, int budget) {
  if (knowledge::estimate_tokens(s) <= budget) return s;
  // words × 4/3 tokens: keep budget × 3/4 words
  const int words = std::max(0, budget * 3 / 4);
  std::size_t pos = 0;
  int seen = 0;
  bool in_word = false;
  for (; pos < s.size(); ++pos) {
    const bool space = s[pos] == ' ' || s[pos] == '\n' || s[pos] == '\t' || s[pos] == '\r';
    if (!space && !in_word) {
      if (seen == words) break;
      ++seen;
    }
    in_word = !space;
  }
  std::string out = s.substr(0, pos);
  while (!out.empty() && (out.back() == ' ' || out.back() == '\n')) out.pop_back();
  return out + kTruncated;
}

}  // namespace

std::vector<Exchange> fit_memory(std::vector<Exchange> all, int turns, int max_tokens) {
  if (turns <= 0 || max_tokens <= 0 || all.empty()) return {};
  if (static_cast<int>(all.size()) > turns) all.erase(all.begin(), all.end() - turns);
  // Newest first, while they fit.
  std::vector<Exchange> kept;
  int used = 0;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const int t = tokens(*it);
    if (used + t <= max_tokens) {
      used += t;
      kept.push_back(std::move(*it));
      continue;
    }
    if (kept.empty()) {
      // The newest alone is over the budget: cut it (its answer first) rather than lose it.
      Exchange e = std::move(*it);
      const int q = knowledge::estimate_tokens(e.question);
      if (q >= max_tokens) {
        e.question = cut(e.question, max_tokens);
        e.answer = std::string(kTruncated).substr(1);
      } else {
        e.answer = cut(e.answer, max_tokens - q);
      }
      kept.push_back(std::move(e));
    }
    break;
  }
  std::reverse(kept.begin(), kept.end());
  return kept;
}

json::array answer_messages(std::string_view system_prompt, const std::vector<Source>& sources,
                            const std::vector<Exchange>& memory, std::string_view question) {
  json::array m;
  m.push_back(json::object{{"role", "system"}, {"content", system_message(system_prompt, sources)}});
  for (const auto& e : memory) {
    m.push_back(json::object{{"role", "user"}, {"content", e.question}});
    m.push_back(json::object{{"role", "assistant"}, {"content", e.answer}});
  }
  m.push_back(json::object{{"role", "user"}, {"content", question}});
  return m;
}

json::array rewrite_messages(const std::vector<Exchange>& memory, std::string_view question) {
  std::string history;
  for (const auto& e : memory) history += "User: " + e.question + "\nAssistant: " + e.answer + "\n";
  json::array m;
  m.push_back(json::object{
      {"role", "system"},
      {"content",
       "Rewrite the user's last question as one standalone search query that can be understood without the "
       "conversation. Answer with the query only, no quotes, no explanation."}});
  m.push_back(json::object{{"role", "user"},
                           {"content", "Conversation:\n" + history + "\nLast question: " + std::string(question)}});
  return m;
}

}  // namespace sb::chat
