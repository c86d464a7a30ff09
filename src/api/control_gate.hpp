#pragma once
// The control plane in front of every route (an http::Gate): who is calling (configured admin
// keys, API keys, or an address), whether they may (scopes, model and collection allow-lists),
// their rate limits (rpm, tpm reserved at admission and corrected with the provider's usage,
// max_parallel, ip_rpm for traffic without a key), their budget (the worst case reserved,
// the real cost settled), the x-ratelimit-* and cost headers, and at the end the usage row and
// the audit entry.

#include <boost/json/object.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/control_rules.hpp"
#include "control/keys.hpp"
#include "control/ledger.hpp"
#include "control/limiter.hpp"
#include "control/prices.hpp"
#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/swappable.hpp"
#include "gateway/gateway.hpp"
#include "http/auth.hpp"
#include "http/gate.hpp"

namespace sb::api {

class ControlGate final : public http::Gate {
 public:
  ControlGate(const core::Config& config, control::KeyStore& keys, control::Limiter& limiter,
              control::Budgets& budgets, control::Ledger& ledger, gateway::Gateway* gateway,
              const core::Clock& clock);
  ~ControlGate() override;

  // A config reload: admin keys, [limits], [[prices]], auth.protect_*.
  void reload(const core::Config& config);
  // Nobody needs a key: no admin keys configured and no key created.
  bool open() const;

  std::optional<http::Response> admit(http::Request& req, const http::Match& match) override;
  void respond(http::Request& req, http::Response& res) override;
  void finish(http::Request& req, int status) override;

  // GET /api/v1/rate-limit/status for this request's caller.
  boost::json::object status(const http::Request& req);
  // The meter of one job attempt: its tokens count against the key it was submitted with (tpm
  // and budget after the fact: a queued job reserved nothing) and make a usage row.
  std::shared_ptr<core::RequestContext> job_meter(std::string_view key_id, std::string_view job_id,
                                                  std::string_view request);
  // The worst cost of a request to `model` (for budgets), and the real one of an answer.
  double worst_cost(std::string_view model, long long prompt_tokens, long long completion_tokens);

  struct Settings;
  class Admission;

 private:
  std::optional<http::Response> admit_key(http::Request& req, const http::Match& match, const RouteRule& rule,
                                          std::shared_ptr<const control::Key> key);
  // rpm, then for a metered call tpm and the budget, of an admission holding a key; the refusal
  // (nothing kept) or nothing.
  std::optional<core::Error> charge(Admission& a, bool metered, bool chat, std::string model, std::string_view body);
  static http::Response refusal(const core::Error& e);

  control::KeyStore& keys_;
  control::Limiter& limiter_;
  control::Budgets& budgets_;
  control::Ledger& ledger_;
  gateway::Gateway* gateway_;
  const core::Clock& clock_;
  core::Swappable<Settings> settings_;
};

}  // namespace sb::api
