#include "http/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <strings.h>

#include <memory>
#include <new>

namespace sb::http {

BearerAuth::BearerAuth(const core::AuthConfig& config)
    : protect_health_(config.protect_health), protect_metrics_(config.protect_metrics) {
  for (const auto& key : config.api_keys) digests_.push_back(digest(key));
}

BearerAuth::Digest BearerAuth::digest(std::string_view key) {
  // The algorithm fetched once and a context per thread: EVP_Digest would fetch on every call.
  static EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  Digest d{};
  unsigned int len = 0;
  if (!sha256 || !ctx || EVP_DigestInit_ex(ctx.get(), sha256, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), key.data(), key.size()) != 1 || EVP_DigestFinal_ex(ctx.get(), d.data(), &len) != 1) {
    throw std::bad_alloc();  // (no context: out of memory)
  }
  return d;
}

bool BearerAuth::required_for(std::string_view path) const {
  if (!enabled()) return false;
  if (path.rfind("/v1/", 0) == 0 || path == "/v1" || path.rfind("/api/", 0) == 0) return true;
  if (path == "/metrics") return protect_metrics_;
  if (path == "/health" || path == "/ready" || path == "/live" || path == "/version") {
    return protect_health_;
  }
  return false;
}

std::string_view BearerAuth::token(std::string_view authorization, std::string_view api_key, bool& malformed) {
  constexpr std::string_view kScheme = "bearer";
  std::string_view token;
  malformed = false;
  if (authorization.size() > kScheme.size() &&
      strncasecmp(authorization.data(), kScheme.data(), kScheme.size()) == 0 &&
      authorization[kScheme.size()] == ' ') {
    token = authorization.substr(kScheme.size());
  } else if (authorization.empty()) {
    token = api_key;
  } else {
    malformed = true;
    return {};
  }
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

std::size_t BearerAuth::find(std::string_view token) const {
  if (token.empty() || digests_.empty()) return 0;
  Digest d = digest(token);
  // Compare against every key, without early exit, so timing reveals neither the key nor which
  // key matched.
  std::size_t found = 0;
  for (std::size_t i = 0; i < digests_.size(); ++i) {
    const bool eq = CRYPTO_memcmp(d.data(), digests_[i].data(), d.size()) == 0;
    found |= eq ? i + 1 : 0;
  }
  return found;
}

BearerAuth::Outcome BearerAuth::check(std::string_view authorization, std::string_view api_key) const {
  bool malformed = false;
  std::string_view t = token(authorization, api_key, malformed);
  if (t.empty()) return Outcome::missing;
  return find(t) ? Outcome::ok : Outcome::invalid;
}

}  // namespace sb::http
