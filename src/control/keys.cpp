#include "control/keys.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>

#include "core/ids.hpp"

namespace sb::control {

namespace json = boost::json;
using core::Error;
using core::ErrorKind;

namespace {

constexpr std::string_view kScopeNames[] = {"chat", "embeddings", "jobs", "knowledge:read", "knowledge:write", "admin"};

std::string to_json(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return json::serialize(a);
}

std::vector<std::string> from_json(const std::string& text) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& e : v.as_array()) {
    if (e.is_string()) out.emplace_back(e.as_string());
  }
  return out;
}

std::string to_hex(const unsigned char* p, std::size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 15]);
  }
  return out;
}

bool is_unique_violation(const Error& e) { return e.message.find("UNIQUE") != std::string::npos; }

}  // namespace

std::optional<unsigned> parse_scope(std::string_view name) {
  for (unsigned i = 0; i < std::size(kScopeNames); ++i) {
    if (kScopeNames[i] == name) return 1u << i;
  }
  return std::nullopt;
}

std::string_view scope_name(unsigned scope) {
  for (unsigned i = 0; i < std::size(kScopeNames); ++i) {
    if (scope == (1u << i)) return kScopeNames[i];
  }
  return "";
}

std::vector<std::string> scope_names(unsigned scopes) {
  std::vector<std::string> out;
  for (unsigned i = 0; i < std::size(kScopeNames); ++i) {
    if (scopes & (1u << i)) out.emplace_back(kScopeNames[i]);
  }
  return out;
}

std::int64_t period_start_ms(std::string_view period, std::int64_t now_ms) {
  if (period == "total") return 0;
  std::time_t t = static_cast<std::time_t>(now_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  if (period == "month") tm.tm_mday = 1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

std::int64_t period_end_ms(std::string_view period, std::int64_t now_ms) {
  if (period == "total") return 0;
  std::time_t t = static_cast<std::time_t>(period_start_ms(period, now_ms) / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  if (period == "month") tm.tm_mon += 1;
  else tm.tm_mday += 1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

bool Key::allows_model(std::string_view model) const {
  if (models.empty()) return true;
  for (const auto& m : models) {
    if (!m.empty() && m.back() == '*') {
      if (model.substr(0, m.size() - 1) == std::string_view(m).substr(0, m.size() - 1)) return true;
    } else if (m == model) {
      return true;
    }
  }
  return false;
}

bool Key::allows_collection(std::string_view name) const {
  return collections.empty() || std::find(collections.begin(), collections.end(), name) != collections.end();
}

core::Result<std::string> KeyStore::load_pepper(const std::string& data_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  const std::string path = (fs::path(data_dir) / "pepper").string();
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::ifstream in(path);
    if (in) {
      std::string hex;
      std::getline(in, hex);
      if (hex.size() != 64) {
        return Error(ErrorKind::unavailable, path + " is not a pepper (64 hex characters): keys cannot be checked");
      }
      return hex;
    }
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1) return Error(ErrorKind::internal, "no randomness for the key pepper");
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
      if (errno == EEXIST) continue;  // another process made it first: read that one
      return Error(ErrorKind::unavailable, "cannot create " + path + ": " + std::strerror(errno));
    }
    std::string hex = to_hex(raw, sizeof raw) + "\n";
    bool ok = ::write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) return Error(ErrorKind::unavailable, "cannot write " + path);
  }
  return Error(ErrorKind::unavailable, "cannot read " + path);
}

std::string KeyStore::new_secret() {
  std::array<unsigned char, 32> raw{};
  RAND_bytes(raw.data(), static_cast<int>(raw.size()));
  static const char* kAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  // The 256-bit number in base 62, most significant digit first: 43 digits.
  std::string digits;
  std::array<unsigned char, 32> n = raw;
  for (int d = 0; d < 43; ++d) {
    unsigned rem = 0;
    for (auto& byte : n) {
      unsigned cur = (rem << 8) | byte;
      byte = static_cast<unsigned char>(cur / 62);
      rem = cur % 62;
    }
    digits.push_back(kAlphabet[rem]);
  }
  std::reverse(digits.begin(), digits.end());
  OPENSSL_cleanse(raw.data(), raw.size());
  return "sb-" + digits;
}

KeyStore::KeyStore(storage::Database& db, const core::Clock& clock, std::string pepper)
    : db_(db), clock_(clock), base_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
  static EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (!base_ || !sha256 || EVP_DigestInit_ex(base_.get(), sha256, nullptr) != 1 ||
      EVP_DigestUpdate(base_.get(), pepper.data(), pepper.size()) != 1) {
    throw std::runtime_error("SHA-256 is not available from OpenSSL");
  }
}

std::string KeyStore::digest(std::string_view secret) const {
  // The pepper is hashed once into base_; each digest continues a copy of that state (no
  // algorithm fetch, no allocation but the context of the thread).
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> work(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!work || EVP_MD_CTX_copy_ex(work.get(), base_.get()) != 1 ||
      EVP_DigestUpdate(work.get(), secret.data(), secret.size()) != 1 ||
      EVP_DigestFinal_ex(work.get(), out, &len) != 1) {
    return {};  // (out of memory) matches no key
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::shared_ptr<const Key> KeyStore::to_key(const storage::ApiKeyRow& r, std::shared_ptr<std::atomic<std::int64_t>> used) {
  auto k = std::make_shared<Key>();
  k->id = r.id;
  k->name = r.name;
  k->prefix = r.prefix;
  for (const auto& s : from_json(r.scopes)) {
    if (auto bit = parse_scope(s)) k->scopes |= *bit;
  }
  k->models = from_json(r.models);
  k->collections = from_json(r.collections);
  k->rpm = r.rpm;
  k->tpm = r.tpm;
  k->max_parallel = r.max_parallel;
  if (r.budget_usd) k->budget = Budget{*r.budget_usd, r.budget_period.value_or("total")};
  k->expires_at = r.expires_at;
  k->metadata = r.metadata;
  k->created_at = r.created_at;
  k->updated_at = r.updated_at;
  k->revoked_at = r.revoked_at;
  if (r.previous_hash) k->previous_until_ms = r.previous_until;
  k->last_used = used ? std::move(used) : std::make_shared<std::atomic<std::int64_t>>(r.last_used_at.value_or(0));
  return k;
}

void KeyStore::install(const storage::ApiKeyRow& row) {
  std::shared_ptr<std::atomic<std::int64_t>> used;
  std::int64_t flushed = row.last_used_at.value_or(0);
  if (auto it = by_id_.find(row.id); it != by_id_.end()) {
    used = it->second.key->last_used;
    flushed = it->second.flushed_used;
    std::erase_if(by_hash_, [&](const auto& kv) { return kv.second.key->id == row.id; });
  } else {
    order_.push_back(row.id);
  }
  auto key = to_key(row, used);
  by_id_[row.id] = Slot{key, row, flushed};
  by_hash_[row.hash] = Entry{key, row.hash, false};  // (a revoked key's: to say so when it is used)
  if (row.revoked_at) return;
  if (row.previous_hash && row.previous_until && *row.previous_until > clock_.now_ms()) {
    by_hash_[*row.previous_hash] = Entry{key, *row.previous_hash, true};
  }
}

core::Status KeyStore::load() {
  auto rows = db_.run_sync([](storage::Connection& c) { return storage::ControlRepository::keys(c); });
  if (!rows) return std::move(rows).error();
  std::unique_lock lock(mu_);
  for (const auto& r : *rows) install(r);
  return {};
}

Lookup KeyStore::lookup(std::string_view secret) const {
  const std::string d = digest(secret);
  std::shared_lock lock(mu_);
  auto it = by_hash_.find(d);
  Lookup out;
  if (it == by_hash_.end() || it->second.digest.size() != d.size() ||
      CRYPTO_memcmp(it->second.digest.data(), d.data(), d.size()) != 0) {
    return out;
  }
  out.key = it->second.key;
  const std::int64_t now = clock_.now_ms();
  if (out.key->revoked_at) {
    out.status = Lookup::Status::revoked;
  } else if (out.key->expires_at && *out.key->expires_at * 1000 <= now) {
    out.status = Lookup::Status::expired;
  } else if (it->second.previous && (!out.key->previous_until_ms || *out.key->previous_until_ms <= now)) {
    out.status = Lookup::Status::unknown;  // a rotated-out secret after its grace period
    out.key.reset();
  } else {
    out.status = Lookup::Status::ok;
  }
  return out;
}

bool KeyStore::empty() const {
  std::shared_lock lock(mu_);
  return by_id_.empty();
}

const KeyStore::Slot* KeyStore::slot(std::string_view id_or_name) const {
  if (auto it = by_id_.find(std::string(id_or_name)); it != by_id_.end()) return &it->second;
  for (const auto& [id, s] : by_id_) {
    if (s.row.name == id_or_name) return &s;
  }
  return nullptr;
}

std::shared_ptr<const Key> KeyStore::find(std::string_view id_or_name) const {
  std::shared_lock lock(mu_);
  const Slot* s = slot(id_or_name);
  return s ? s->key : nullptr;
}

std::vector<std::shared_ptr<const Key>> KeyStore::all() const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<const Key>> out;
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) out.push_back(by_id_.at(*it).key);
  return out;
}

core::Status KeyStore::apply(storage::ApiKeyRow& row, const KeySpec& spec) {
  if (spec.name) row.name = *spec.name;
  if (spec.scopes) row.scopes = to_json(scope_names(*spec.scopes));
  if (spec.models) row.models = to_json(*spec.models);
  if (spec.collections) row.collections = to_json(*spec.collections);
  if (spec.rpm) row.rpm = *spec.rpm;
  if (spec.tpm) row.tpm = *spec.tpm;
  if (spec.max_parallel) row.max_parallel = *spec.max_parallel;
  if (spec.budget) {
    if (*spec.budget) {
      row.budget_usd = (*spec.budget)->amount_usd;
      row.budget_period = (*spec.budget)->period;
    } else {
      row.budget_usd.reset();
      row.budget_period.reset();
    }
  }
  if (spec.expires_at) {
    if (*spec.expires_at == 0) row.expires_at.reset();
    else row.expires_at = *spec.expires_at;
  }
  if (spec.metadata) row.metadata = *spec.metadata;
  return {};
}

core::Status KeyStore::validate(const storage::ApiKeyRow& row, std::string_view self_id) const {
  std::shared_lock lock(mu_);
  for (const auto& [id, s] : by_id_) {
    if (id != self_id && s.row.name == row.name) {
      return Error(ErrorKind::conflict, "a key named '" + row.name + "' exists (" + id + ")", "name");
    }
    if (id != self_id && id == row.name) {
      return Error(ErrorKind::conflict, "a key's name cannot be another key's id", "name");
    }
  }
  return {};
}

core::Result<storage::ApiKeyRow> KeyStore::row_of(std::string_view id_or_name) const {
  std::shared_lock lock(mu_);
  const Slot* s = slot(id_or_name);
  if (!s) return Error(ErrorKind::not_found, "no key '" + std::string(id_or_name) + "'");
  return s->row;
}

boost::asio::awaitable<core::Status> KeyStore::persist(storage::ApiKeyRow row, bool insert) {
  auto task = [row, insert](storage::Connection& c) {  // named (GCC 12)
    return insert ? storage::ControlRepository::insert_key(c, row) : storage::ControlRepository::update_key(c, row);
  };
  auto written = co_await db_.write(std::move(task));
  if (!written && is_unique_violation(written.error())) {
    co_return Error(ErrorKind::conflict, "a key named '" + row.name + "' exists", "name");
  }
  co_return written;
}

boost::asio::awaitable<core::Result<Issued>> KeyStore::create(KeySpec spec) {
  storage::ApiKeyRow row;
  row.id = "key_" + core::new_request_id().substr(0, 24);
  std::string secret = new_secret();
  row.prefix = secret.substr(0, 8);
  row.hash = digest(secret);
  row.name = row.id;
  row.scopes = to_json(scope_names(kChat | kEmbeddings));
  row.created_at = row.updated_at = clock_.now_ms() / 1000;
  if (auto st = apply(row, spec); !st) co_return std::move(st).error();
  if (auto st = validate(row, row.id); !st) co_return std::move(st).error();
  if (auto st = co_await persist(row, true); !st) co_return std::move(st).error();
  std::unique_lock lock(mu_);
  install(row);
  co_return Issued{by_id_.at(row.id).key, std::move(secret)};
}

boost::asio::awaitable<core::Result<std::shared_ptr<const Key>>> KeyStore::update(std::string_view id_or_name, KeySpec spec) {
  auto current = row_of(id_or_name);
  if (!current) co_return std::move(current).error();
  storage::ApiKeyRow row = std::move(*current);
  if (auto st = apply(row, spec); !st) co_return std::move(st).error();
  row.updated_at = clock_.now_ms() / 1000;
  if (auto st = validate(row, row.id); !st) co_return std::move(st).error();
  if (auto st = co_await persist(row, false); !st) co_return std::move(st).error();
  std::unique_lock lock(mu_);
  install(row);
  co_return by_id_.at(row.id).key;
}

boost::asio::awaitable<core::Result<std::shared_ptr<const Key>>> KeyStore::revoke(std::string_view id_or_name) {
  auto current = row_of(id_or_name);
  if (!current) co_return std::move(current).error();
  storage::ApiKeyRow row = std::move(*current);
  if (row.revoked_at) co_return find(row.id);  // revoking again changes nothing
  row.revoked_at = row.updated_at = clock_.now_ms() / 1000;
  {
    // Refused from this moment, before the write lands.
    std::unique_lock lock(mu_);
    std::erase_if(by_hash_, [&](const auto& kv) { return kv.second.key->id == row.id; });
  }
  auto written = co_await persist(row, false);
  std::unique_lock lock(mu_);
  if (!written) {
    install(by_id_.at(row.id).row);  // not revoked after all: its secrets work again
    co_return std::move(written).error();
  }
  install(row);
  co_return by_id_.at(row.id).key;
}

boost::asio::awaitable<core::Result<Issued>> KeyStore::rotate(std::string_view id_or_name, std::int64_t grace_ms) {
  auto current = row_of(id_or_name);
  if (!current) co_return std::move(current).error();
  storage::ApiKeyRow row = std::move(*current);
  if (row.revoked_at) co_return Error(ErrorKind::conflict, "the key " + row.id + " is revoked");
  std::string secret = new_secret();
  const std::int64_t now = clock_.now_ms();
  if (grace_ms > 0) {
    row.previous_hash = row.hash;
    row.previous_until = now + grace_ms;
  } else {
    row.previous_hash.reset();
    row.previous_until.reset();
  }
  row.hash = digest(secret);
  row.prefix = secret.substr(0, 8);
  row.updated_at = now / 1000;
  if (grace_ms <= 0) {
    std::unique_lock lock(mu_);
    std::erase_if(by_hash_, [&](const auto& kv) { return kv.second.key->id == row.id; });
  }
  auto written = co_await persist(row, false);
  std::unique_lock lock(mu_);
  if (!written) {
    install(by_id_.at(row.id).row);
    co_return std::move(written).error();
  }
  install(row);
  co_return Issued{by_id_.at(row.id).key, std::move(secret)};
}

std::vector<std::pair<std::string, std::int64_t>> KeyStore::take_touched() {
  std::vector<std::pair<std::string, std::int64_t>> out;
  std::unique_lock lock(mu_);
  for (auto& [id, s] : by_id_) {
    const std::int64_t used = s.key->last_used->load(std::memory_order_relaxed);
    // To the minute: a key in use is written once a minute, not at every flush (a row update
    // per key and second cost more than the usage rows themselves).
    if (used >= s.flushed_used + 60 || (used > s.flushed_used && s.flushed_used == 0)) {
      out.emplace_back(id, used);
      s.flushed_used = used;
      s.row.last_used_at = used;
    }
  }
  return out;
}

}  // namespace sb::control
