#pragma once
// Who sent a request, as the control plane admitted it, and the meter the gateway reports the
// request's token usage to. Set on http::Request by the gate before the handler runs; handlers
// pass it on to the gateway (ChatCall::meter) and to the jobs they submit.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace sb::core {

struct TokenUsage {
  long long prompt = 0;
  long long completion = 0;
  long long cached = 0;  // of the prompt tokens, those the provider read from its cache
  bool estimated = false;  // no usage from the provider: completion counted from the chunks, prompt unknown
};

class RequestContext {
 public:
  virtual ~RequestContext() = default;
  // One upstream answer's usage (called once per answered call, streams at their end).
  virtual void add_usage(std::string_view provider, std::string_view model, const TokenUsage& usage) = 0;

  // One of several model calls a request makes for its caller (a fan-out leg), admitted on its
  // own: the model allow-list, rpm, tpm and budget, as if it were a request of its own, and its
  // usage recorded as its own row when finish() is called. nullptr: nothing limits or records
  // it. Errors: the leg's refusal (403, 429, budget_exceeded).
  virtual Result<std::shared_ptr<RequestContext>> leg(std::string_view model, std::string_view body) {
    return std::shared_ptr<RequestContext>();
  }
  // A leg's end, with the status it ended with: settles and records it. Once.
  virtual void finish(int status) {}
  // What the answers reported so far cost in USD; nullopt when nothing was reported.
  virtual std::optional<double> cost() { return std::nullopt; }

  std::string key_id;    // "key_…", "config:<n>" for an admin key from the config, "" for none
  std::string key_name;
  bool admin = false;                    // may act on everyone's resources
  std::vector<std::string> collections;  // allow-list; empty = all
  bool allows_collection(std::string_view name) const {
    if (collections.empty()) return true;
    for (const auto& c : collections) {
      if (c == name) return true;
    }
    return false;
  }
};

}  // namespace sb::core
