#pragma once
// Bearer-token protection for /v1/* and /api/*. Keys are kept only as SHA-256 digests and
// compared in constant time; the key itself is never stored after construction nor logged.

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"

namespace sb::http {

class BearerAuth {
 public:
  explicit BearerAuth(const core::AuthConfig& config);

  bool enabled() const { return !digests_.empty(); }
  // Whether a request to `path` must carry a key.
  bool required_for(std::string_view path) const;

  enum class Outcome { ok, missing, invalid };
  // `authorization` is the Authorization header value, `api_key` the x-api-key header value
  // (what Anthropic clients send); either may be empty. With both, Authorization decides.
  Outcome check(std::string_view authorization, std::string_view api_key = {}) const;
  // The key a request carries: "Bearer <key>" (any case), else x-api-key; "" when none, and
  // `malformed` set when Authorization holds something that is not a bearer token.
  static std::string_view token(std::string_view authorization, std::string_view api_key, bool& malformed);
  // 1 + the index of the configured key equal to `token`, 0 when none. Compares against every
  // key without early exit (constant time).
  std::size_t find(std::string_view token) const;

 private:
  using Digest = std::array<unsigned char, 32>;
  static Digest digest(std::string_view key);

  std::vector<Digest> digests_;
  bool protect_health_;
  bool protect_metrics_;
};

}  // namespace sb::http
