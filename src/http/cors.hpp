#pragma once
// CORS: which browser origins may call the API, and the answers to preflight requests.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.hpp"

namespace sb::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

class CorsPolicy {
 public:
  explicit CorsPolicy(const core::CorsConfig& config);

  bool enabled() const { return !origins_.empty(); }
  bool origin_allowed(std::string_view origin) const;

  // Headers to add to an ordinary response to a request with this Origin (empty if not allowed).
  HeaderList response_headers(std::string_view origin) const;
  // Headers answering a preflight for a path whose methods are `allow`.
  // REQUIRES: origin_allowed(origin).
  HeaderList preflight_headers(std::string_view origin, std::string_view allow) const;

 private:
  std::string allow_origin_value(std::string_view origin) const;

  std::vector<std::string> origins_;
  bool any_ = false;
  std::string allowed_headers_;
  std::string max_age_;
};

}  // namespace sb::http
