#pragma once
// What the control gate reads from a request, without trusting it: the scope, metering and audit
// action of a route; a cheap look into a body for its model and max_tokens (and an exact parse
// where an allow-list depends on it); the client's address behind trusted proxies.

#include <boost/asio/ip/address.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/keys.hpp"

namespace sb::api {

// What a route needs: the scope a key must hold (0 = any key), whether it is metered (its
// tokens count against tpm and budgets), and its audit action ("" = none). A route with legs
// (fan-out) is not limited as one request: each of its model calls is (RequestContext::leg).
struct RouteRule {
  unsigned scope = control::kAdmin;
  bool metered = false;
  std::string_view action;
  bool legs = false;
};
RouteRule route_rule(std::string_view method, std::string_view pattern);

// A cheap look into a JSON body without parsing it: the first string value of `"key"` (any
// depth), or the first integer value.
std::optional<std::string_view> scan_string(std::string_view body, std::string_view key);
std::optional<long long> scan_integer(std::string_view body, std::string_view key);
// Exactly, by parsing: the models a body names (top-level "model" and "models[]", a job's
// "request.model", a batch's "jobs[].request.model"); a top-level string field.
std::vector<std::string> models_of(std::string_view body);
std::optional<std::string> top_level_string(std::string_view body, std::string_view key);
// The completion limit a chat body asks for: max_completion_tokens, else max_tokens, else
// max_output_tokens (one pass).
std::optional<long long> scan_max_tokens(std::string_view body);

// limits.trusted_proxies, parsed (addresses and CIDRs; malformed entries are skipped).
class TrustedProxies {
 public:
  explicit TrustedProxies(const std::vector<std::string>& list);
  ~TrustedProxies();
  // The client's address: the peer, or, when the peer is a trusted proxy, the rightmost address
  // of X-Forwarded-For that is not a trusted proxy (garbage in it: the peer).
  std::string client_of(std::string_view peer, std::string_view forwarded_for) const;

 private:
  struct Network {
    boost::asio::ip::address address;
    unsigned prefix = 0;
    bool contains(const boost::asio::ip::address& a) const;
  };
  std::vector<Network> nets_;
};
std::string client_ip(std::string_view peer, std::string_view forwarded_for,
                      const std::vector<std::string>& trusted_proxies);

}  // namespace sb::api
