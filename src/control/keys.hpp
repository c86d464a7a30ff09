#pragma once
// API keys: created through the API, shown once, stored as SHA-256(pepper || secret) with a
// per-installation pepper in the data dir. The server holds every key in memory by its hash (a
// lookup per request, no database on the request path) and writes each change through to the
// database before it answers; a revoked key's hashes leave the map at once, so the next request
// with it is refused on every thread.

#include <boost/asio/awaitable.hpp>
#include <openssl/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "storage/control_repository.hpp"
#include "storage/database.hpp"

namespace sb::control {

enum Scope : unsigned {
  kChat = 1,
  kEmbeddings = 2,
  kJobs = 4,
  kKnowledgeRead = 8,
  kKnowledgeWrite = 16,
  kAdmin = 32,
};
// "chat" -> kChat ...; nullopt for an unknown name.
std::optional<unsigned> parse_scope(std::string_view name);
std::string_view scope_name(unsigned scope);  // one bit
std::vector<std::string> scope_names(unsigned scopes);
inline constexpr unsigned kAllScopes = kChat | kEmbeddings | kJobs | kKnowledgeRead | kKnowledgeWrite | kAdmin;

struct Budget {
  double amount_usd = 0;
  std::string period = "total";  // day | month | total (UTC)
};

// The start of the budget period containing now_ms (Unix ms): midnight UTC, the first of the
// month UTC, or 0 for "total".
std::int64_t period_start_ms(std::string_view period, std::int64_t now_ms);
// When that period ends (Unix ms); 0 for "total".
std::int64_t period_end_ms(std::string_view period, std::int64_t now_ms);

// One key as the server holds it; a change makes a new one.
struct Key {
  std::string id, name, prefix;
  unsigned scopes = 0;
  std::vector<std::string> models, collections;  // allow-lists; empty = all
  std::optional<long long> rpm, tpm, max_parallel;  // unset: the [limits] default; 0: none
  std::optional<Budget> budget;
  std::optional<std::int64_t> expires_at;  // Unix s
  std::string metadata = "{}";
  std::int64_t created_at = 0, updated_at = 0;
  std::optional<std::int64_t> revoked_at;
  std::optional<std::int64_t> previous_until_ms;  // the secret before the last rotation works until
  std::shared_ptr<std::atomic<std::int64_t>> last_used = std::make_shared<std::atomic<std::int64_t>>(0);

  // `models` entries may end in '*' (a prefix: "openai/*").
  bool allows_model(std::string_view model) const;
  bool allows_collection(std::string_view name) const;
};

// A create or a change; absent fields are kept (a change) or take their defaults (a create).
struct KeySpec {
  std::optional<std::string> name;
  std::optional<unsigned> scopes;
  std::optional<std::vector<std::string>> models, collections;
  std::optional<long long> rpm, tpm, max_parallel;
  std::optional<std::optional<Budget>> budget;  // {nullopt}: remove the budget
  std::optional<std::int64_t> expires_at;       // 0: never
  std::optional<std::string> metadata;          // a JSON object's text
};

struct Lookup {
  enum class Status { ok, unknown, revoked, expired };
  Status status = Status::unknown;
  std::shared_ptr<const Key> key;
};

struct Issued {
  std::shared_ptr<const Key> key;
  std::string secret;  // shown once
};

class KeyStore {
 public:
  // Reads (or creates, 0600) <data_dir>/pepper: 32 random bytes, hex.
  static core::Result<std::string> load_pepper(const std::string& data_dir);
  // "sb-" + 32 random bytes in base62 (43 characters).
  static std::string new_secret();

  KeyStore(storage::Database& db, const core::Clock& clock, std::string pepper);
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  // Reads every key (at start, on the calling thread).
  core::Status load();

  // The request path: the key whose secret this is. The hash is looked up and then compared
  // with CRYPTO_memcmp (constant time).
  Lookup lookup(std::string_view secret) const;
  // Keys exist (revoked or not): the server is no longer open.
  bool empty() const;
  std::shared_ptr<const Key> find(std::string_view id_or_name) const;
  std::vector<std::shared_ptr<const Key>> all() const;  // newest first

  boost::asio::awaitable<core::Result<Issued>> create(KeySpec spec);
  boost::asio::awaitable<core::Result<std::shared_ptr<const Key>>> update(std::string_view id_or_name, KeySpec spec);
  boost::asio::awaitable<core::Result<std::shared_ptr<const Key>>> revoke(std::string_view id_or_name);
  // A new secret; the old one keeps working for grace_ms (0: refused at once).
  boost::asio::awaitable<core::Result<Issued>> rotate(std::string_view id_or_name, std::int64_t grace_ms);

  // last_used_at values changed since the last call by a minute or more, or set for the first
  // time (for a batched write; the API shows the exact value from memory).
  std::vector<std::pair<std::string, std::int64_t>> take_touched();

  std::string digest(std::string_view secret) const;

 private:
  struct Slot {
    std::shared_ptr<const Key> key;
    storage::ApiKeyRow row;
    std::int64_t flushed_used = 0;
  };
  struct Entry {
    std::shared_ptr<const Key> key;
    std::string digest;
    bool previous = false;
  };
  static std::shared_ptr<const Key> to_key(const storage::ApiKeyRow& row,
                                           std::shared_ptr<std::atomic<std::int64_t>> used);
  // REQUIRES: mu_ held exclusively.
  void install(const storage::ApiKeyRow& row);
  const Slot* slot(std::string_view id_or_name) const;  // REQUIRES: mu_ held
  core::Status validate(const storage::ApiKeyRow& row, std::string_view self_id) const;
  core::Result<storage::ApiKeyRow> row_of(std::string_view id_or_name) const;  // a copy; not_found
  // Writes the row (a name taken is a conflict).
  boost::asio::awaitable<core::Status> persist(storage::ApiKeyRow row, bool insert);
  static core::Status apply(storage::ApiKeyRow& row, const KeySpec& spec);

  storage::Database& db_;
  const core::Clock& clock_;
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> base_;  // SHA-256 with the pepper absorbed
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Entry> by_hash_;  // digest -> key (also the previous secret's)
  std::unordered_map<std::string, Slot> by_id_;
  std::vector<std::string> order_;  // ids, oldest first
};

}  // namespace sb::control
