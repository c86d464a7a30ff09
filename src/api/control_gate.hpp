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

// What a route needs: the scope a key must hold (0 = any key), whether it is metered (its
// tokens count against tpm and budgets), and its audit action ("" = none).
struct RouteRule {
  unsigned scope = control::kAdmin;
  bool metered = false;
  std::string_view action;
};
RouteRule route_rule(std::string_view method, std::string_view pattern);

// A cheap look into a JSON body without parsing it: the first string value of `"key"` (any
// depth), or the first integer value.
std::optional<std::string_view> scan_string(std::string_view body, std::string_view key);
std::optional<long long> scan_integer(std::string_view body, std::string_view key);
// Exactly, by parsing: the models a body names (top-level "model", a job's "request.model", a
// batch's "jobs[].request.model"); a top-level string field.
std::vector<std::string> models_of(std::string_view body);
std::optional<std::string> top_level_string(std::string_view body, std::string_view key);
// The completion limit a chat body asks for: max_completion_tokens, else max_tokens, else
// max_output_tokens (one pass).
std::optional<long long> scan_max_tokens(std::string_view body);

// The client's address: the peer, or, when the peer is a trusted proxy, the rightmost address
// of X-Forwarded-For that is not a trusted proxy.
std::string client_ip(std::string_view peer, std::string_view forwarded_for,
                      const std::vector<std::string>& trusted_proxies);

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

  control::KeyStore& keys_;
  control::Limiter& limiter_;
  control::Budgets& budgets_;
  control::Ledger& ledger_;
  gateway::Gateway* gateway_;
  const core::Clock& clock_;
  core::Swappable<Settings> settings_;
};

}  // namespace sb::api
