#pragma once
// Intent routes ([[routes]] strategy = "intent"): a request is classified into one of the
// route's intents and served by that intent's target. The LLM classifier (any route or
// provider/model) is asked for {"intent": <enum of the names>, "confidence": 0-1} through
// structured output, its answer validated and retried once when invalid; it sits behind its own
// circuit breaker. When it is open, fails, times out or answers nonsense twice, or when the route
// names no classifier, the local BM25 classifier answers (no network, microseconds).

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/metrics.hpp"
#include "core/request_context.hpp"
#include "core/swappable.hpp"
#include "gateway/gateway.hpp"

namespace sb::knowledge {
class Embedder;
}

namespace sb::workflows {

struct IntentDecision {
  std::string route;
  std::string intent;
  double confidence = 0;  // 0-1
  std::string target;     // the route or provider/model that serves the intent
  std::string classifier;  // "llm" or "local"
  // The local classifier's method: "bm25", or "bm25+embeddings" when the route names an
  // embedding model and it answered; "" when the LLM classifier answered.
  std::string local_method;
  // Why the local classifier answered although the route names an LLM one: "breaker_open",
  // "upstream_error", "invalid_output"; "" otherwise.
  std::string fallback_reason;
  std::chrono::steady_clock::duration took{};
  int llm_attempts = 0;  // classifier calls made (0, 1 or 2)
};

class IntentRouter {
 public:
  // The gateway and registry must outlive the router.
  IntentRouter(const core::Config& config, gateway::Gateway& gateway, core::metrics::Registry& registry);
  ~IntentRouter();

  // Routes are replaced for the requests that start from now on; a classifier's breaker is kept
  // when its route, classifier and breaker settings are unchanged.
  void reload(const core::Config& config);

  // Whether `model` names an intent route (now).
  bool has(std::string_view model) const;
  // The route's bound on the text classified (max_text_chars); 0 = not an intent route.
  std::size_t max_text(std::string_view route) const;

  // Classifies `text` for `route`. Errors: not_found for an unknown route (the API says which).
  // The classifier's tokens are reported to `meter` (the caller's request).
  boost::asio::awaitable<core::Result<IntentDecision>> classify(std::string route, std::string text,
                                                                std::string request_id,
                                                                std::shared_ptr<core::RequestContext> meter,
                                                                std::shared_ptr<core::CancelSignal> cancel);

  // The same for intents given with the request (POST /api/v1/intent without a route): the
  // config's name, intents, classifier and fallback_intent are read; a classifier's breaker is
  // shared by the inline requests naming it (default thresholds).
  boost::asio::awaitable<core::Result<IntentDecision>> classify_inline(core::RouteConfig config, std::string text,
                                                                       std::string request_id,
                                                                       std::shared_ptr<core::RequestContext> meter,
                                                                       std::shared_ptr<core::CancelSignal> cancel);

 private:
  struct Route;
  struct Table;
  struct Metrics;
  std::shared_ptr<const Table> make_table(const core::Config& config, const Table* previous);
  // Each intent's best similarity with the text (its embedding model's); nullopt when the
  // model cannot answer.
  boost::asio::awaitable<std::optional<std::vector<double>>> similarity(const Route& route, const std::string& text,
                                                                        const std::string& request_id,
                                                                        std::shared_ptr<core::RequestContext> meter);
  boost::asio::awaitable<core::Result<IntentDecision>> decide(std::shared_ptr<const Route> route, std::string text,
                                                              std::string request_id,
                                                              std::shared_ptr<core::RequestContext> meter,
                                                              std::shared_ptr<core::CancelSignal> cancel);

  gateway::Gateway& gateway_;
  core::Swappable<Table> table_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<knowledge::Embedder> embedder_;
  std::mutex inline_mu_;
  std::map<std::string, std::shared_ptr<gateway::TargetHealth>> inline_breakers_;
};

// The chat completion request (without model) that asks the LLM classifier for an intent.
boost::json::object intent_request(const std::vector<core::IntentConfig>& intents, std::string_view text);

// The intent in a chat.completion answer (content as JSON; a ```json fence tolerated; the name
// matched without regard to case; confidence a number or numeric string in 0-1). Errors say
// what was wrong.
struct LlmIntent {
  std::size_t intent = 0;
  double confidence = 0;
};
core::Result<LlmIntent> parse_intent(std::string_view completion, const std::vector<core::IntentConfig>& intents);

// The text of a chat request to classify: the last user message's content (a string, or its text
// parts joined by newlines), at most `max_chars` bytes (cut at a UTF-8 boundary); "" when none.
std::string classification_text(const boost::json::object& chat_request, std::size_t max_chars);

}  // namespace sb::workflows
