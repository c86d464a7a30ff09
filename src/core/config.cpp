#include "core/config.hpp"

#include <toml++/toml.h>

#include "core/config_gateway.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <sstream>

extern char** environ;

namespace sb::core {
namespace {

// A value from any source: TOML gives typed nodes, env and flags give strings.
struct Input {
  const toml::node* node = nullptr;
  const std::string* text = nullptr;
};

using Setter = std::function<void(Config&, const Input&)>;  // throws std::string on bad input
using Shower = std::function<std::string(const Config&)>;   // default as TOML literal

struct KeyDef {
  std::string section, key, type, help;
  Setter set;
  Shower show;
};

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::int64_t read_int(const Input& in, std::int64_t lo, std::int64_t hi) {
  std::int64_t v = 0;
  if (in.node) {
    auto iv = in.node->value_exact<std::int64_t>();
    if (!iv) throw std::string("expected an integer");
    v = *iv;
  } else {
    const std::string& s = *in.text;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) {
      throw std::string("expected an integer, got \"" + s + "\"");
    }
  }
  if (v < lo || v > hi) {
    throw std::string("must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                      ", got " + std::to_string(v));
  }
  return v;
}

bool read_bool(const Input& in) {
  if (in.node) {
    auto b = in.node->value_exact<bool>();
    if (!b) throw std::string("expected true or false");
    return *b;
  }
  std::string s = *in.text;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  throw std::string("expected true or false, got \"" + *in.text + "\"");
}

std::string read_string(const Input& in, const std::vector<std::string>& choices) {
  std::string v;
  if (in.node) {
    auto s = in.node->value_exact<std::string>();
    if (!s) throw std::string("expected a string");
    v = *s;
  } else {
    v = *in.text;
  }
  if (!choices.empty() && std::find(choices.begin(), choices.end(), v) == choices.end()) {
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
    throw std::string("must be one of " + list + ", got \"" + v + "\"");
  }
  return v;
}

std::vector<std::string> read_list(const Input& in) {
  std::vector<std::string> out;
  if (in.node) {
    const toml::array* arr = in.node->as_array();
    if (!arr) throw std::string("expected an array of strings");
    for (const auto& el : *arr) {
      auto s = el.value_exact<std::string>();
      if (!s) throw std::string("expected an array of strings");
      out.push_back(*s);
    }
    return out;
  }
  // From env/flags: comma-separated.
  std::stringstream ss(*in.text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto b = item.find_first_not_of(" \t");
    auto e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

template <class S>
using Section = S Config::*;

template <class S, class T>
KeyDef int_key(std::string section, std::string key, Section<S> sec, T S::*mem, std::int64_t lo,
               std::int64_t hi, std::string help) {
  return {std::move(section), std::move(key), "integer", std::move(help),
          [=](Config& c, const Input& in) { (c.*sec).*mem = static_cast<T>(read_int(in, lo, hi)); },
          [=](const Config& c) { return std::to_string((c.*sec).*mem); }};
}

template <class S>
KeyDef bool_key(std::string section, std::string key, Section<S> sec, bool S::*mem,
                std::string help) {
  return {std::move(section), std::move(key), "boolean", std::move(help),
          [=](Config& c, const Input& in) { (c.*sec).*mem = read_bool(in); },
          [=](const Config& c) { return std::string((c.*sec).*mem ? "true" : "false"); }};
}

template <class S>
KeyDef string_key(std::string section, std::string key, Section<S> sec, std::string S::*mem,
                  std::vector<std::string> choices, std::string help) {
  return {std::move(section), std::move(key), "string", std::move(help),
          [=](Config& c, const Input& in) { (c.*sec).*mem = read_string(in, choices); },
          [=](const Config& c) { return toml_string((c.*sec).*mem); }};
}

template <class S>
KeyDef list_key(std::string section, std::string key, Section<S> sec,
                std::vector<std::string> S::*mem, std::string help) {
  return {std::move(section), std::move(key), "list of strings", std::move(help),
          [=](Config& c, const Input& in) { (c.*sec).*mem = read_list(in); },
          [=](const Config& c) {
            std::string out = "[";
            for (const auto& s : (c.*sec).*mem) out += (out.size() > 1 ? ", " : "") + toml_string(s);
            return out + "]";
          }};
}

constexpr std::int64_t kMaxMs = 24LL * 3600 * 1000;

const std::vector<KeyDef>& schema() {
  static const std::vector<KeyDef> kSchema = {
      string_key("server", "listen", &Config::server, &ServerConfig::listen, {},
                 "Address to listen on, HOST:PORT. Port 0 picks a free port (printed on the "
                 "first log line)."),
      int_key("server", "io_threads", &Config::server, &ServerConfig::io_threads, 0, 256,
              "I/O threads running the event loop; 0 = one per CPU core."),
      int_key("server", "spin_us", &Config::server, &ServerConfig::spin_us, 0, 100000,
              "An I/O thread with nothing to do polls for up to this long before it sleeps, "
              "so the next event finds it awake (no wake-up per hop at low load). Adaptive: "
              "after a window passes with no event it sleeps at once until an event again "
              "follows within the window, so slow traffic wastes at most one window per short "
              "gap; 0 = always sleep at once."),
      int_key("server", "max_connections", &Config::server, &ServerConfig::max_connections, 1,
              1000000, "Concurrent connections; beyond it new connections get 503 and are closed."),
      int_key("server", "max_header_bytes", &Config::server, &ServerConfig::max_header_bytes, 1024,
              1 << 20, "Largest request line + header block; larger gets 431."),
      int_key("server", "max_body_bytes", &Config::server, &ServerConfig::max_body_bytes, 0,
              1LL << 34, "Largest request body; larger gets 413 (checked before reading)."),
      int_key("server", "max_response_bytes", &Config::server, &ServerConfig::max_response_bytes, 65536,
              1LL << 34, "Largest whole answer: requests whose answer would be larger are refused before "
              "work (413: embeddings inputs x dimensions), job results too; an answer that still "
              "comes out larger is replaced by a 500."),
      int_key("server", "header_timeout_ms", &Config::server, &ServerConfig::header_timeout_ms,
              100, kMaxMs, "A client must send its whole header block within this time."),
      int_key("server", "body_timeout_ms", &Config::server, &ServerConfig::body_timeout_ms, 100,
              kMaxMs, "A client must send its whole body within this time; else 408."),
      int_key("server", "idle_timeout_ms", &Config::server, &ServerConfig::idle_timeout_ms, 100,
              kMaxMs, "An idle keep-alive connection is closed after this time."),
      int_key("server", "write_timeout_ms", &Config::server, &ServerConfig::write_timeout_ms, 100,
              kMaxMs, "A client that does not read a response within this time is dropped."),
      int_key("server", "shutdown_grace_ms", &Config::server, &ServerConfig::shutdown_grace_ms, 0,
              kMaxMs, "On SIGTERM/SIGINT, in-flight requests and streams get this long to finish."),

      string_key("storage", "data_dir", &Config::storage, &StorageConfig::data_dir, {},
                 "Directory for the SQLite database and other state; created if missing."),
      string_key("storage", "synchronous", &Config::storage, &StorageConfig::synchronous,
                 {"normal", "full"},
                 "SQLite durability: normal (WAL, survives process crashes) or full (also "
                 "survives power loss, slower)."),
      int_key("storage", "blocking_threads", &Config::storage, &StorageConfig::blocking_threads, 1,
              256, "Threads for blocking work (database, parsing) so I/O threads never wait."),
      int_key("storage", "blocking_queue", &Config::storage, &StorageConfig::blocking_queue, 1,
              1000000, "Most blocking tasks waiting at once; beyond it requests get 503."),
      int_key("storage", "busy_timeout_ms", &Config::storage, &StorageConfig::busy_timeout_ms, 0,
              kMaxMs, "How long a database call waits for a lock held by another."),
      int_key("storage", "mmap_mb", &Config::storage, &StorageConfig::mmap_mb, 0, 1048576,
              "How much of the database file SQLite reads through a memory map instead of read "
              "calls (0 = off). Faster reads of large collections (hybrid search p99 -18% at 100k "
              "chunks); the mapped pages count in the process's RSS."),
      int_key("storage", "cache_mb", &Config::storage, &StorageConfig::cache_mb, 1, 65536,
              "SQLite page cache per database connection."),

      string_key("log", "level", &Config::log, &LogConfig::level,
                 {"trace", "debug", "info", "warn", "error", "off"}, "Least severe level written."),
      bool_key("log", "access_log", &Config::log, &LogConfig::access_log,
               "One line per request at level info."),

      list_key("auth", "api_keys", &Config::auth, &AuthConfig::api_keys,
               "Bearer tokens accepted on /v1/* and /api/*; empty = no authentication. "
               "SWITCHBOARD_API_KEY adds one more."),
      bool_key("auth", "protect_health", &Config::auth, &AuthConfig::protect_health,
               "Also require a key on /health, /ready, /live and /version."),
      bool_key("auth", "protect_metrics", &Config::auth, &AuthConfig::protect_metrics,
               "Also require a key on /metrics."),

      int_key("limits", "rpm", &Config::limits, &LimitsConfig::rpm, 0, 10'000'000'000LL,
              "Requests per minute of a key that sets none (0 = no limit)."),
      int_key("limits", "tpm", &Config::limits, &LimitsConfig::tpm, 0, 10'000'000'000LL,
              "Tokens (prompt + completion) per minute of a key that sets none (0 = no limit)."),
      int_key("limits", "max_parallel", &Config::limits, &LimitsConfig::max_parallel, 0, 1LL << 30,
              "Requests in flight at once of a key that sets none (0 = no limit)."),
      int_key("limits", "ip_rpm", &Config::limits, &LimitsConfig::ip_rpm, 0, 10'000'000'000LL,
              "Requests per minute per client IP for /v1 and /api traffic sent without a key (0 = no limit)."),
      list_key("limits", "trusted_proxies", &Config::limits, &LimitsConfig::trusted_proxies,
               "Addresses or CIDRs (10.0.0.0/8) of proxies whose X-Forwarded-For names the client; "
               "from anyone else it is ignored."),
      int_key("limits", "default_max_tokens", &Config::limits, &LimitsConfig::default_max_tokens, 1,
              1LL << 30, "Completion tokens reserved against tpm and budgets for a request that sets no max_tokens."),
      int_key("limits", "usage_flush_ms", &Config::limits, &LimitsConfig::usage_flush_ms, 10, 60000,
              "Usage rows are written in batches this often (a kill -9 loses at most this interval)."),
      int_key("limits", "metrics_max_keys", &Config::limits, &LimitsConfig::metrics_max_keys, 0, 10000,
              "Keys with their own label on the per-key token and cost metrics; later keys count as \"other\"."),
      int_key("chat", "retention_days", &Config::chat, &ChatConfig::retention_days, 1, 36500,
              "Conversations not updated for this long are soft-deleted (DELETE does it at once)."),
      int_key("chat", "purge_after_days", &Config::chat, &ChatConfig::purge_after_days, 0, 36500,
              "Soft-deleted conversations and their turns are removed this long after."),
      string_key("chat", "apology", &Config::chat, &ChatConfig::apology, {},
                 "When set, an unexpected failure of a chat answers 200 with this text and the request id "
                 "(finish_reason \"error\") instead of a 5xx. Empty = off."),
      string_key("chat", "no_sources_reply", &Config::chat, &ChatConfig::no_sources_reply, {},
                 "The answer when retrieval finds nothing above the score threshold (the model is not called)."),
      int_key("chat", "max_question_chars", &Config::chat, &ChatConfig::max_question_chars, 1, 1 << 20,
              "Longest question a chat takes."),
      string_key("workflows", "pipeline_route", &Config::workflows, &WorkflowsConfig::pipeline_route, {},
                 "The route or model of pipeline jobs that name none (POST /api/v1/jobs/process-ai-job). "
                 "Empty = the first intent route, else the first model GET /v1/models lists."),
      string_key("workflows", "generate_model", &Config::workflows, &WorkflowsConfig::generate_model, {},
                 "The model of POST /api/v1/generate requests that name none (on /v1/completions). Empty = the "
                 "first model GET /v1/models lists."),
      int_key("workflows", "pipeline_memory_turns", &Config::workflows, &WorkflowsConfig::pipeline_memory_turns, 0,
              100, "Earlier exchanges of the conversation a pipeline job sends with the message."),
      int_key("events", "max_pending_events", &Config::events, &EventsConfig::max_pending_events, 1, 1000000,
              "Events waiting for one live subscriber (SSE or WebSocket); one that falls further behind is "
              "dropped with the reason."),
      int_key("events", "max_pending_bytes", &Config::events, &EventsConfig::max_pending_bytes, 1024, 1LL << 32,
              "Bytes of events waiting for one live subscriber before it is dropped."),
      bool_key("cache", "enabled", &Config::cache, &CacheConfig::enabled,
               "The response cache for assistants' answers (off: every turn asks the model)."),
      int_key("cache", "max_bytes", &Config::cache, &CacheConfig::max_bytes, 0, 1LL << 40,
              "Bytes the response cache holds (keys and answers); the least recently used go first beyond it."),
      int_key("cache", "ttl_s", &Config::cache, &CacheConfig::ttl_s, 1, 30 * 86400,
              "How long a cached answer is served (a request's cache_ttl_s overrides it)."),
      int_key("audit", "retention_days", &Config::audit, &AuditConfig::retention_days, 1, 36500,
              "Audit entries older than this are deleted (the log is otherwise append-only)."),
      list_key("cors", "allowed_origins", &Config::cors, &CorsConfig::allowed_origins,
               "Origins allowed to call the API from a browser; \"*\" allows any. Empty = CORS off."),
      list_key("cors", "allowed_headers", &Config::cors, &CorsConfig::allowed_headers,
               "Request headers a browser may send (answered to preflights)."),
      int_key("cors", "max_age_s", &Config::cors, &CorsConfig::max_age_s, 0, 86400,
              "How long a browser may cache a preflight answer."),

      string_key("gateway", "record_dir", &Config::gateway, &GatewayConfig::record_dir, {},
                 "Development recorder: every upstream request and response (whole or streamed) is written "
                 "there as one JSON file, keys removed. Empty = off. Refused at start when others may write it."),
      int_key("gateway", "request_timeout_ms", &Config::gateway, &GatewayConfig::request_timeout_ms,
              100, kMaxMs,
              "Deadline for one client request across all attempts, backoffs and fallbacks (for "
              "a stream: until its first chunk)."),
      int_key("gateway", "max_retries", &Config::gateway, &GatewayConfig::max_retries, 0, 10,
              "Extra attempts on the same target after a retryable failure, before falling back "
              "to the next target."),
      int_key("gateway", "retry_backoff_ms", &Config::gateway, &GatewayConfig::retry_backoff_ms, 0,
              kMaxMs, "First backoff before a retry; doubles each retry, with full jitter."),
      int_key("gateway", "retry_backoff_max_ms", &Config::gateway,
              &GatewayConfig::retry_backoff_max_ms, 0, kMaxMs,
              "Longest backoff. An upstream Retry-After longer than this falls back to the next "
              "target instead of waiting."),
      bool_key("gateway", "retry_on_auth_errors", &Config::gateway,
               &GatewayConfig::retry_on_auth_errors,
               "Treat an upstream 401/403 as retryable (fall back to the next target)."),
      int_key("gateway", "breaker_failure_percent", &Config::gateway,
              &GatewayConfig::breaker_failure_percent, 1, 100,
              "A target's circuit opens when at least this share of its recent calls failed..."),
      int_key("gateway", "breaker_min_calls", &Config::gateway, &GatewayConfig::breaker_min_calls,
              1, 1000000, "...out of at least this many calls..."),
      int_key("gateway", "breaker_window_ms", &Config::gateway, &GatewayConfig::breaker_window_ms,
              1000, kMaxMs, "...within this sliding window."),
      int_key("gateway", "breaker_open_ms", &Config::gateway, &GatewayConfig::breaker_open_ms, 100,
              kMaxMs,
              "An open circuit skips its target for this long, then admits one probe call."),

      bool_key("jobs", "enabled", &Config::jobs, &JobsConfig::enabled,
               "Run the job queue: the /api/v1/jobs endpoints, workers and webhooks."),
      int_key("jobs", "concurrency", &Config::jobs, &JobsConfig::concurrency, 0, 100000,
              "Jobs running at once (each is one gateway request); 0 = this process only "
              "accepts jobs and runs none."),
      int_key("jobs", "max_attempts", &Config::jobs, &JobsConfig::max_attempts, 1, 100,
              "Attempts per job unless the job says otherwise (max_attempts in the request)."),
      int_key("jobs", "ttl_s", &Config::jobs, &JobsConfig::ttl_s, 1, 365LL * 86400,
              "A job not finished this long after it was created becomes expired (per-job ttl_ms "
              "overrides)."),
      int_key("jobs", "retention_s", &Config::jobs, &JobsConfig::retention_s, 1, 10LL * 365 * 86400,
              "Finished jobs and their results are deleted this long after they finished."),
      int_key("jobs", "max_queued", &Config::jobs, &JobsConfig::max_queued, 1, 1LL << 40,
              "Capacity in unfinished jobs; admission stops at the high watermark of it."),
      int_key("jobs", "max_queued_bytes", &Config::jobs, &JobsConfig::max_queued_bytes, 1024,
              1LL << 50, "Capacity in request bytes of unfinished jobs; watermarks apply too."),
      int_key("jobs", "high_watermark_percent", &Config::jobs, &JobsConfig::high_watermark_percent,
              1, 100, "New jobs get 503 once the queue is this full (of either capacity)..."),
      int_key("jobs", "low_watermark_percent", &Config::jobs, &JobsConfig::low_watermark_percent,
              0, 100, "...until it drains below this."),
      int_key("jobs", "lease_ms", &Config::jobs, &JobsConfig::lease_ms, 1000, kMaxMs,
              "A running job's lease, renewed while it runs; a lease that runs out (crashed "
              "worker) puts the job back in the queue."),
      int_key("jobs", "retry_backoff_ms", &Config::jobs, &JobsConfig::retry_backoff_ms, 0, kMaxMs,
              "Wait before a job's second attempt; doubles per attempt, with jitter."),
      int_key("jobs", "retry_backoff_max_ms", &Config::jobs, &JobsConfig::retry_backoff_max_ms, 0,
              kMaxMs, "Longest wait between attempts."),
      int_key("jobs", "sweep_interval_ms", &Config::jobs, &JobsConfig::sweep_interval_ms, 10,
              60000, "How often leases, TTLs, retention and the job gauges are checked."),
      string_key("jobs", "webhook_secret", &Config::jobs, &JobsConfig::webhook_secret, {},
                 "Key for the HMAC-SHA256 webhook signature (X-Switchboard-Signature). Empty = "
                 "webhooks are sent unsigned. Prefer the environment variable."),
      int_key("jobs", "webhook_max_attempts", &Config::jobs, &JobsConfig::webhook_max_attempts, 1,
              100, "Deliveries tried per webhook (backoff 1 s, doubling, up to 5 min)."),
      int_key("jobs", "webhook_timeout_ms", &Config::jobs, &JobsConfig::webhook_timeout_ms, 100,
              kMaxMs, "One delivery attempt must be answered within this time."),
      bool_key("jobs", "webhook_allow_private", &Config::jobs, &JobsConfig::webhook_allow_private,
               "Allow webhook URLs on loopback, private and link-local addresses."),

      int_key("knowledge", "chunk_tokens", &Config::knowledge, &KnowledgeConfig::chunk_tokens, 16, 8192,
              "Token budget of a chunk (tokens estimated as words x 4/3)."),
      int_key("knowledge", "chunk_overlap_tokens", &Config::knowledge,
              &KnowledgeConfig::chunk_overlap_tokens, 0, 4096,
              "Tokens from the end of a chunk repeated at the start of the next (within a section)."),
      int_key("knowledge", "max_document_bytes", &Config::knowledge, &KnowledgeConfig::max_document_bytes,
              1024, 1LL << 32, "Largest uploaded file; larger ones get 413 (server.max_body_bytes bounds the request too)."),
      int_key("knowledge", "async_ingest_bytes", &Config::knowledge, &KnowledgeConfig::async_ingest_bytes, 0,
              1LL << 32,
              "Uploads larger than this are answered 202 at once and processed in the background (the "
              "document's state shows progress); ?async=true|false decides per request."),
      int_key("knowledge", "embed_batch", &Config::knowledge, &KnowledgeConfig::embed_batch, 1, 2048,
              "Chunks per embeddings call while ingesting."),
      int_key("knowledge", "hnsw_m", &Config::knowledge, &KnowledgeConfig::hnsw_m, 4, 128,
              "HNSW graph degree (new indexes)."),
      int_key("knowledge", "hnsw_ef_construction", &Config::knowledge,
              &KnowledgeConfig::hnsw_ef_construction, 8, 4096, "HNSW candidate list while building."),
      int_key("knowledge", "hnsw_ef_search", &Config::knowledge, &KnowledgeConfig::hnsw_ef_search, 8,
              4096, "HNSW candidate list while searching (recall against speed)."),
      bool_key("knowledge", "hnsw_int8", &Config::knowledge, &KnowledgeConfig::hnsw_int8,
               "The HNSW graph holds vectors as 8-bit codes (a quarter of the memory read per "
               "step of a search) and the candidates it keeps are re-scored with the float32 "
               "vectors kept beside it; false: a float32 graph. A saved index of the other kind "
               "is rebuilt."),
      int_key("knowledge", "exact_search_below", &Config::knowledge,
              &KnowledgeConfig::exact_search_below, 0, 10000000,
              "A filtered vector search over fewer matching chunks than this scores them all exactly."),
      int_key("knowledge", "url_timeout_ms", &Config::knowledge, &KnowledgeConfig::url_timeout_ms, 100, kMaxMs,
              "Fetching a document URL: limit for connecting, the first byte and each silence."),
      bool_key("knowledge", "url_allow_private", &Config::knowledge, &KnowledgeConfig::url_allow_private,
               "Allow document URLs on loopback, private and link-local addresses (refused by default)."),
      int_key("knowledge", "extract_workers", &Config::knowledge, &KnowledgeConfig::extract_workers, 1, 64,
              "Sandboxed worker processes that parse uploaded and fetched documents (documents parsed at once)."),
      int_key("knowledge", "extract_timeout_ms", &Config::knowledge, &KnowledgeConfig::extract_timeout_ms, 100,
              kMaxMs, "Wall-clock bound of one document's extraction; past it the worker is killed and the "
              "document fails (422, reason timeout)."),
      int_key("knowledge", "extract_memory_mb", &Config::knowledge, &KnowledgeConfig::extract_memory_mb, 128,
              65536, "Address space of an extraction worker (RLIMIT_AS); a document needing more fails "
              "(reason memory)."),
      int_key("knowledge", "max_extracted_chars", &Config::knowledge, &KnowledgeConfig::max_extracted_chars,
              1024, 1LL << 32, "Most text (bytes of UTF-8) taken from one document; a document with more fails (422)."),
  };
  return kSchema;
}

std::string env_name(const KeyDef& k) {
  std::string out = "SWITCHBOARD_";
  for (char c : k.section + "_" + k.key) out.push_back(static_cast<char>(std::toupper(c)));
  return out;
}

const KeyDef* find_key(const std::string& section, const std::string& key) {
  for (const auto& k : schema()) {
    if (k.section == section && k.key == key) return &k;
  }
  return nullptr;
}

void apply(Config& c, const KeyDef& k, const Input& in, const std::string& origin) {
  try {
    k.set(c, in);
  } catch (const std::string& what) {
    throw ConfigError(k.section + "." + k.key + ": " + what + origin);
  }
}

void validate(const Config& c) {
  if (!parse_listen(c.server.listen)) {
    throw ConfigError("server.listen: expected HOST:PORT (port 0-65535), got \"" +
                      c.server.listen + "\"");
  }
  if (c.storage.data_dir.empty()) throw ConfigError("storage.data_dir: must not be empty");
  for (const auto& key : c.auth.api_keys) {
    if (key.empty()) throw ConfigError("auth.api_keys: keys must not be empty");
  }
  if (c.jobs.low_watermark_percent >= c.jobs.high_watermark_percent) {
    throw ConfigError("jobs.low_watermark_percent: must be below jobs.high_watermark_percent (" +
                      std::to_string(c.jobs.high_watermark_percent) + ")");
  }
}

}  // namespace

std::optional<ListenAddress> parse_listen(const std::string& s) {
  ListenAddress out;
  std::string port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return std::nullopt;
    }
    out.host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    out.host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (out.host.find(':') != std::string::npos) return std::nullopt;
  }
  if (out.host.empty() || port.empty()) return std::nullopt;
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || p != port.data() + port.size() || value > 65535) return std::nullopt;
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

Config load_config(const ConfigSources& sources) {
  Config c;
  if (sources.file) {
    toml::table tbl;
    try {
      tbl = toml::parse_file(*sources.file);
    } catch (const toml::parse_error& e) {
      std::ostringstream msg;
      msg << *sources.file << ":" << e.source().begin.line << ":" << e.source().begin.column
          << ": " << e.description();
      throw ConfigError(msg.str());
    } catch (const std::exception& e) {
      throw ConfigError(*sources.file + ": " + e.what());
    }
    for (const auto& [section_key, section_node] : tbl) {
      std::string section(section_key.str());
      if (section == "providers" || section == "routes" || section == "prices" || section == "assistants" ||
          section == "agents" || section == "tools") {
        continue;  // config_gateway.cpp
      }
      const toml::table* sec = section_node.as_table();
      bool known_section = std::any_of(schema().begin(), schema().end(),
                                       [&](const KeyDef& k) { return k.section == section; });
      if (!known_section) throw ConfigError(section + ": unknown section");
      if (!sec) throw ConfigError(section + ": expected a table [" + section + "]");
      for (const auto& [key_name, node] : *sec) {
        std::string key(key_name.str());
        const KeyDef* def = find_key(section, key);
        if (!def) throw ConfigError(section + "." + key + ": unknown key");
        apply(c, *def, Input{&node, nullptr}, "");
      }
    }
    load_gateway_tables(tbl, c, sources.env);
  }
  for (const auto& def : schema()) {
    auto it = sources.env.find(env_name(def));

    if (it != sources.env.end()) {
      apply(c, def, Input{nullptr, &it->second}, " (from " + env_name(def) + ")");
    }
  }
  if (auto it = sources.env.find("SWITCHBOARD_API_KEY"); it != sources.env.end() &&
                                                        !it->second.empty()) {
    c.auth.api_keys.push_back(it->second);
  }
  for (const auto& [name, value] : sources.overrides) {
    auto dot = name.find('.');
    const KeyDef* def = dot == std::string::npos ? nullptr
                                                 : find_key(name.substr(0, dot), name.substr(dot + 1));
    if (!def) throw ConfigError(name + ": unknown key");
    apply(c, *def, Input{nullptr, &value}, " (from the command line)");
  }
  validate(c);
  validate_gateway(c);
  return c;
}

std::map<std::string, std::string> process_env() {
  std::map<std::string, std::string> out;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (kv.rfind("SWITCHBOARD_", 0) != 0) continue;
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    out.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return out;
}

std::vector<KeyDoc> config_reference() {
  Config defaults;
  std::vector<KeyDoc> out;
  for (const auto& k : schema()) {
    out.push_back({k.section, k.key, k.type, k.show(defaults), env_name(k), k.help});
  }
  return out;
}

std::string config_example() {
  std::string out =
      "# switchboard.toml — every key with its default.\n"
      "# Each key can be overridden by the environment variable named next to it, and\n"
      "# server.listen / storage.data_dir by --listen / --data-dir.\n";
  std::string section;
  for (const auto& k : config_reference()) {
    if (k.section != section) {
      section = k.section;
      out += "\n[" + section + "]\n";
    }
    out += "# " + k.help + " (" + k.env + ")\n";
    out += k.key + " = " + k.default_value + "\n";
  }
  out += R"(
# Providers and routes are read from this file only (no environment overrides). With no
# [[providers]], a mock provider named "mock" serves the models "mock/echo" and "mock/embed".
#
# [[providers]]
# name = "openai"                        # required; a-z 0-9 _ . - ; clients use "openai/<model>"
# type = "openai"                        # required: openai (any OpenAI-compatible API) | anthropic | gemini | mock
# base_url = "https://api.openai.com/v1" # default per type; e.g. http://127.0.0.1:11434/v1 for Ollama
# api_key_env = "OPENAI_API_KEY"         # environment variable with the key; must be set if given
# timeout_ms = 60000                     # connect + first byte + longest silence in a stream
# headers = { "HTTP-Referer" = "https://app.example" }  # extra headers on every call
# models = ["gpt-4o-mini"]               # allow-list (also what GET /v1/models lists); [] = any
# job_concurrency = 0                    # jobs for this provider running at once; 0 = only jobs.concurrency
# latency_ms = 0                         # mock only: delay per answer
# fail_rate = 0.0                        # mock only: share of calls that fail (seeded, repeatable)
# fail_status = 500                      # mock only: the status of those failures
#
# [[routes]]
# name = "smart"                         # the model name clients send
# strategy = "priority"                  # priority (in order) | weighted (by weight) | least_latency | intent
# targets = [{ provider = "openai", model = "gpt-4o-mini", weight = 1 }, { provider = "local", model = "llama3" }]
#
# [[routes]]                             # an intent route: classified, then served by the intent's target
# name = "support"
# strategy = "intent"
# classifier = "openai/gpt-4o-mini"      # optional LLM classifier (route or provider/model); "" = local BM25 only
# fallback_intent = "billing"            # when nothing matches; default the first intent
# embedding_model = ""                   # optional: the local classifier adds embeddings' similarity
# intents = [{ name = "billing", description = "Invoices and refunds", examples = ["I was charged twice"], target = "smart" }]
# classifier_timeout_ms = 10000          # then the local classifier answers
# classifier_failure_percent = 50        # the classifier's own breaker: failure share over
# classifier_min_calls = 5               #   at least this many calls
# classifier_window_ms = 60000           #   in this window
# classifier_open_ms = 30000             #   opens it for this long
# max_text_chars = 20000                 # POST /api/v1/intent refuses longer text
#
# [[prices]]                             # USD per million tokens; before the built-in table
# model = "openai/gpt-4o-mini"           # "provider/model"; * matches anything ("local/*", "*/gpt-4o*")
# input_per_mtok = 0.15
# output_per_mtok = 0.60
# cached_input_per_mtok = 0.075          # default: input_per_mtok
#
# [[assistants]]                         # RAG chat: POST /api/v1/chat {"assistant": ...}, model "assistant/<name>"
# name = "handbook"                      # required; a-z 0-9 _ . -
# collections = ["handbook"]             # required: searched on every turn
# model = "openai/gpt-4o-mini"           # required: a route or provider/model
# system_prompt = ""                     # "" = the grounding prompt; "{sources}" places the sources
# mode = "hybrid"                        # hybrid | semantic | keyword
# top_k = 5                              # sources per turn (1-100)
# filters = { tags = ["public"] }        # {tags, document_ids, metadata}, as /api/v1/search takes them
# score_threshold = 0.3                  # sources below it are left out; none left = no_sources_reply
# memory_turns = 20                      # earlier exchanges sent with each question
# max_context_tokens = 4000              # ... cut to this many tokens, oldest first
# rewrite_followups = true               # one short model call makes a follow-up a standalone query
# temperature = 0.2                      # default: the model's
# max_tokens = 800                       # default: the model's
# no_sources_reply = ""                  # "" = chat.no_sources_reply
# cache = true                           # answers through the response cache ([cache])
)";
  return out;
}

std::string config_reference_markdown() {
  std::string out =
      "| key | type | default | environment variable | description |\n"
      "|---|---|---|---|---|\n";
  for (const auto& k : config_reference()) {
    std::string help = k.help;
    std::string dflt = k.default_value;
    for (auto* s : {&help, &dflt}) {
      std::string esc;
      for (char ch : *s) {
        if (ch == '|') esc += "\\";
        esc.push_back(ch);
      }
      *s = esc;
    }
    out += "| `" + k.section + "." + k.key + "` | " + k.type + " | `" + dflt + "` | `" + k.env +
           "` | " + help + " |\n";
  }
  return out;
}

}  // namespace sb::core
