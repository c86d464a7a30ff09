#include "http/cors.hpp"

#include <algorithm>

namespace sb::http {

namespace {
constexpr const char* kExposed =
    "X-Request-Id, Retry-After, Server-Timing, x-switchboard-provider, x-switchboard-model, "
    "x-switchboard-attempts, x-switchboard-intent, x-switchboard-intent-classifier, x-should-retry";
}

CorsPolicy::CorsPolicy(const core::CorsConfig& config)
    : origins_(config.allowed_origins), max_age_(std::to_string(config.max_age_s)) {
  any_ = std::find(origins_.begin(), origins_.end(), "*") != origins_.end();
  for (const auto& h : config.allowed_headers) {
    if (!allowed_headers_.empty()) allowed_headers_ += ", ";
    allowed_headers_ += h;
  }
}

bool CorsPolicy::origin_allowed(std::string_view origin) const {
  if (origin.empty()) return false;
  return any_ || std::find(origins_.begin(), origins_.end(), origin) != origins_.end();
}

std::string CorsPolicy::allow_origin_value(std::string_view origin) const {
  return any_ ? std::string("*") : std::string(origin);
}

HeaderList CorsPolicy::response_headers(std::string_view origin) const {
  if (!origin_allowed(origin)) return {};
  HeaderList out;
  out.emplace_back("Access-Control-Allow-Origin", allow_origin_value(origin));
  out.emplace_back("Access-Control-Expose-Headers", kExposed);
  if (!any_) out.emplace_back("Vary", "Origin");
  return out;
}

HeaderList CorsPolicy::preflight_headers(std::string_view origin, std::string_view allow) const {
  HeaderList out;
  out.emplace_back("Access-Control-Allow-Origin", allow_origin_value(origin));
  out.emplace_back("Access-Control-Allow-Methods", std::string(allow));
  out.emplace_back("Access-Control-Allow-Headers", allowed_headers_);
  out.emplace_back("Access-Control-Max-Age", max_age_);
  out.emplace_back("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  return out;
}

}  // namespace sb::http
