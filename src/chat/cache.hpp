#pragma once
// The response cache: exact answers by key (the SHA-256 of a canonical request), bounded by
// bytes, least recently used out first, each with a time to live. In process here; a Redis one
// will implement the same interface.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/fwd.hpp>

#include "core/clock.hpp"
#include "core/metrics.hpp"

namespace sb::chat {

class Cache {
 public:
  virtual ~Cache() = default;
  virtual std::optional<std::string> get(const std::string& key) = 0;
  // A value larger than the whole cache is not kept.
  virtual void put(const std::string& key, std::string value, std::chrono::seconds ttl) = 0;
  virtual std::size_t bytes() const = 0;
  virtual std::size_t entries() const = 0;
};

// Thread-safe. Counts hits, misses, evictions (by size or age) and bytes in `metrics`.
std::unique_ptr<Cache> make_memory_cache(std::size_t max_bytes, const core::Clock& clock,
                                         core::metrics::Registry& metrics);

// JSON with every object's keys sorted (recursively) and numbers printed as the product prints
// them: two requests that differ only in key order have the same text (and so the same key).
std::string canonical_json(const boost::json::value& v);

// Lowercase hex SHA-256.
std::string sha256_hex(std::string_view text);

}  // namespace sb::chat
