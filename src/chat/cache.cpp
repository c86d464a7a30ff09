#include "chat/cache.hpp"

#include <boost/json/value.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/json_text.hpp"

namespace sb::chat {

namespace json = boost::json;

namespace {

class MemoryCache final : public Cache {
 public:
  MemoryCache(std::size_t max_bytes, const core::Clock& clock, core::metrics::Registry& m)
      : max_bytes_(max_bytes),
        clock_(clock),
        hits_(m.counter("switchboard_cache_hits_total", "Response cache lookups that found a fresh answer").with({})),
        misses_(m.counter("switchboard_cache_misses_total", "Response cache lookups that found none").with({})),
        evictions_(m.counter("switchboard_cache_evictions_total",
                             "Answers dropped from the response cache to make room, or expired")
                       .with({})),
        bytes_(m.gauge("switchboard_cache_bytes", "Bytes held by the response cache (keys and values)").with({})),
        entries_(m.gauge("switchboard_cache_entries", "Answers held by the response cache").with({})) {}

  std::optional<std::string> get(const std::string& key) override {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) {
      misses_.inc();
      return std::nullopt;
    }
    if (it->second->expires_ms <= clock_.now_ms()) {
      drop(it->second);
      evictions_.inc();
      misses_.inc();
      return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, it->second);  // most recently used first
    hits_.inc();
    return it->second->value;
  }

  void put(const std::string& key, std::string value, std::chrono::seconds ttl) override {
    const std::size_t size = key.size() * 2 + value.size() + kOverhead;
    std::lock_guard lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) drop(it->second);
    if (size > max_bytes_ || ttl.count() <= 0) return;
    while (used_ + size > max_bytes_ && !lru_.empty()) {
      drop(std::prev(lru_.end()));
      evictions_.inc();
    }
    lru_.push_front(Entry{key, std::move(value), clock_.now_ms() + ttl.count() * 1000, size});
    index_.emplace(key, lru_.begin());
    used_ += size;
    publish();
  }

  std::size_t bytes() const override {
    std::lock_guard lock(mu_);
    return used_;
  }
  std::size_t entries() const override {
    std::lock_guard lock(mu_);
    return index_.size();
  }

 private:
  struct Entry {
    std::string key, value;
    std::int64_t expires_ms;
    std::size_t size;
  };
  static constexpr std::size_t kOverhead = 96;  // list node, map node, bookkeeping

  // REQUIRES: mu_ held.
  void drop(std::list<Entry>::iterator it) {
    used_ -= it->size;
    index_.erase(it->key);
    lru_.erase(it);
    publish();
  }
  void publish() {
    bytes_.set(static_cast<double>(used_));
    entries_.set(static_cast<double>(index_.size()));
  }

  const std::size_t max_bytes_;
  const core::Clock& clock_;
  core::metrics::Counter& hits_;
  core::metrics::Counter& misses_;
  core::metrics::Counter& evictions_;
  core::metrics::Gauge& bytes_;
  core::metrics::Gauge& entries_;
  mutable std::mutex mu_;  // guards lru_, index_, used_
  std::list<Entry> lru_;
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  std::size_t used_ = 0;
};

void append_canonical(std::string& out, const json::value& v) {
  if (v.is_object()) {
    const json::object& o = v.as_object();
    std::vector<const json::key_value_pair*> kvs;
    for (const auto& kv : o) kvs.push_back(&kv);
    std::sort(kvs.begin(), kvs.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
    out += '{';
    for (std::size_t i = 0; i < kvs.size(); ++i) {
      if (i) out += ',';
      core::append_json(out, json::value(kvs[i]->key()));
      out += ':';
      append_canonical(out, kvs[i]->value());
    }
    out += '}';
  } else if (v.is_array()) {
    out += '[';
    bool first = true;
    for (const auto& item : v.as_array()) {
      if (!first) out += ',';
      first = false;
      append_canonical(out, item);
    }
    out += ']';
  } else {
    core::append_json(out, v);
  }
}

}  // namespace

std::unique_ptr<Cache> make_memory_cache(std::size_t max_bytes, const core::Clock& clock,
                                         core::metrics::Registry& metrics) {
  return std::make_unique<MemoryCache>(max_bytes, clock, metrics);
}

std::string canonical_json(const json::value& v) {
  std::string out;
  append_canonical(out, v);
  return out;
}

std::string sha256_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(text.data(), text.size(), digest, &n, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (unsigned int i = 0; i < n; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

}  // namespace sb::chat
