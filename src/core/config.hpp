#pragma once
// Configuration: defaults <- TOML file <- SWITCHBOARD_<SECTION>_<KEY> environment <- flags.
// Every key is declared once in config.cpp's schema; the loader, the env overrides, the example
// file (`switchboard config example`) and the reference table (`switchboard config reference`)
// all come from that schema. Invalid input throws ConfigError naming the key.

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sb::core {

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";
  int io_threads = 0;  // 0 = number of cores
  int spin_us = 100;   // adaptive busy-poll window of an idle I/O thread; 0 = sleep at once
  int max_connections = 10000;
  std::int64_t max_header_bytes = 16 * 1024;
  std::int64_t max_body_bytes = 10 * 1024 * 1024;
  std::int64_t max_response_bytes = 64 * 1024 * 1024;  // a whole (not streamed) answer
  int header_timeout_ms = 10000;
  int body_timeout_ms = 30000;
  int idle_timeout_ms = 60000;
  int write_timeout_ms = 30000;
  int shutdown_grace_ms = 30000;
};

struct StorageConfig {
  std::string data_dir = "./switchboard-data";
  std::string synchronous = "normal";  // normal | full
  int blocking_threads = 4;
  int blocking_queue = 4096;
  int busy_timeout_ms = 5000;
  int mmap_mb = 0;
  int cache_mb = 16;
};

struct LogConfig {
  std::string level = "info";
  bool access_log = true;
};

struct AuthConfig {
  std::vector<std::string> api_keys;
  bool protect_health = false;
  bool protect_metrics = false;
};

// [limits]: defaults for every key (a key's own rpm/tpm/max_parallel override them) and the
// per-IP limit of traffic without a key. 0 = no limit.
struct LimitsConfig {
  std::int64_t rpm = 0;
  std::int64_t tpm = 0;
  std::int64_t max_parallel = 0;
  std::int64_t ip_rpm = 0;
  std::vector<std::string> trusted_proxies;  // addresses or CIDRs whose X-Forwarded-For is believed
  std::int64_t default_max_tokens = 4096;    // completion tokens reserved when a request names none
  int usage_flush_ms = 1000;                 // usage rows are written in batches this often
  int metrics_max_keys = 50;                 // keys with their own metrics label; the rest are "other"
};

// [audit]
struct AuditConfig {
  int retention_days = 365;
};

// [[prices]]: USD per million tokens for models matching `model` ("provider/model", `*` globs).
struct ChatConfig {
  int retention_days = 30;        // conversations not updated for this long are soft-deleted
  int purge_after_days = 30;      // ... and removed this long after they were deleted
  std::string apology;            // "" = off; else the answer (200) to an unexpected failure
  std::string no_sources_reply = "I could not find anything about that in the documents.";
  int max_question_chars = 16000;
};

// [workflows]: the pipeline job.
struct WorkflowsConfig {
  std::string pipeline_route;       // "" = the first intent route, else the first routable model
  int pipeline_memory_turns = 10;   // stored exchanges of the conversation sent with the message
  std::string generate_model;       // POST /api/v1/generate's default; "" = the first routable model
};

// [events]: live event subscribers' mailboxes.
struct EventsConfig {
  int max_pending_events = 1024;           // waiting for one subscriber; more and it is dropped
  std::int64_t max_pending_bytes = 1 << 20;
};

struct CacheConfig {
  bool enabled = true;                         // the response cache (assistants' answers)
  std::int64_t max_bytes = 64LL * 1024 * 1024;  // least recently used out first beyond this
  int ttl_s = 600;                              // an answer's life unless the request sets cache_ttl_s
};

// An assistant: a model answering from collections with citations ([[assistants]]).
struct AssistantConfig {
  std::string name;
  std::vector<std::string> collections;
  std::string model;                 // a route or provider/model
  std::string system_prompt;         // "" = the default grounding prompt
  std::string mode = "hybrid";       // hybrid | semantic | keyword
  int top_k = 5;
  std::string filters = "{}";        // JSON: {tags, document_ids, metadata}
  std::optional<double> score_threshold;
  int memory_turns = 20;
  int max_context_tokens = 4000;     // memory turns kept within this many tokens
  bool rewrite_followups = true;
  std::optional<double> temperature;
  std::optional<std::int64_t> max_tokens;
  std::string no_sources_reply;      // "" = chat.no_sources_reply
  bool cache = true;                 // answers go through the response cache
};

// A tool agents may call ([[tools]]): an HTTP endpoint, or an MCP server whose tools all come
// with it (named "<name>__<tool>").
struct ToolConfig {
  std::string name;
  std::string type = "http";  // http | mcp
  std::string description;
  std::string url;
  std::string method = "POST";  // http: POST (arguments as the JSON body) | GET (as the query)
  std::string parameters = R"({"type":"object"})";  // http: the JSON schema of the arguments
  std::vector<std::pair<std::string, std::string>> headers;  // from headers_env; values never printed
  int timeout_ms = 10000;
  bool allow_private = false;  // loopback and private addresses (refused by default)
};

// An agent ([[agents]]): a model calling tools in a loop until it answers.
struct AgentConfig {
  std::string name;
  std::string model;                    // a route or provider/model
  std::string system_prompt;
  std::vector<std::string> tools;       // knowledge_search, get_document, or [[tools]] names
  std::vector<std::string> collections;  // what knowledge_search may search ([] = every one)
  int max_iterations = 10;
  int timeout_s = 300;
  std::int64_t max_tokens_total = 0;    // 0 = no budget
  std::optional<double> temperature;
};

struct PriceConfig {
  std::string model;
  double input_per_mtok = 0;
  double output_per_mtok = 0;
  double cached_input_per_mtok = -1;  // -1: as input_per_mtok
};

struct CorsConfig {
  std::vector<std::string> allowed_origins;
  std::vector<std::string> allowed_headers = {"authorization", "content-type", "x-request-id",
                                              "x-switchboard-processing-mode"};
  int max_age_s = 600;
};

// [gateway]: retries, deadlines and circuit breakers, for every route.
struct GatewayConfig {
  int request_timeout_ms = 300000;   // one client request, all attempts included
  int max_retries = 2;               // extra attempts on the same target before falling back
  int retry_backoff_ms = 200;        // first backoff; doubles per retry, full jitter
  int retry_backoff_max_ms = 5000;   // longest wait (a longer Retry-After falls back instead)
  bool retry_on_auth_errors = false; // also fall back on upstream 401/403
  int breaker_failure_percent = 50;
  int breaker_min_calls = 5;
  int breaker_window_ms = 60000;
  int breaker_open_ms = 30000;
  std::string record_dir;  // "" = off; else every upstream exchange is written there as JSON
};

// [jobs]: the durable asynchronous job queue.
struct JobsConfig {
  bool enabled = true;
  int concurrency = 16;                 // jobs running at once
  int max_attempts = 3;                 // default per job
  std::int64_t ttl_s = 4 * 3600;        // default per job: unfinished after this -> expired
  std::int64_t retention_s = 7 * 24 * 3600;  // finished jobs are purged after this
  std::int64_t max_queued = 100000;     // unfinished jobs
  std::int64_t max_queued_bytes = 1LL << 30;  // their request bytes
  int high_watermark_percent = 80;      // admission stops here...
  int low_watermark_percent = 60;       // ...and reopens below here
  int lease_ms = 60000;                 // a worker's hold on a job, renewed while it runs
  int retry_backoff_ms = 1000;          // first backoff between attempts; doubles, jittered
  int retry_backoff_max_ms = 60000;
  int sweep_interval_ms = 1000;         // leases, TTLs, retention, gauges
  std::string webhook_secret;           // HMAC-SHA256 key for webhook signatures; never printed
  int webhook_max_attempts = 5;
  int webhook_timeout_ms = 10000;
  bool webhook_allow_private = false;   // allow loopback/private/link-local webhook targets
};

// [knowledge]: collections, ingestion and search.
struct KnowledgeConfig {
  int chunk_tokens = 512;          // token budget per chunk
  int chunk_overlap_tokens = 0;    // tokens repeated from the previous chunk
  std::int64_t max_document_bytes = 10 * 1024 * 1024;  // an uploaded file
  std::int64_t async_ingest_bytes = 1024 * 1024;       // larger uploads are processed in the background
  int embed_batch = 64;            // texts per embeddings call
  int hnsw_m = 16;
  int hnsw_ef_construction = 200;
  int hnsw_ef_search = 128;
  bool hnsw_int8 = true;           // graph on int8 codes, candidates re-scored in float32
  int exact_search_below = 20000;  // filtered vector searches over fewer chunks are exact
  int url_timeout_ms = 15000;      // fetching a document URL (connect, first byte, each read)
  bool url_allow_private = false;  // allow document URLs on loopback/private/link-local addresses
  // Extraction runs in sandboxed worker processes (knowledge/extract_sandbox.hpp).
  int extract_workers = 2;              // worker processes (documents parsed at once)
  int extract_timeout_ms = 60000;       // wall-clock bound of one document's extraction
  int extract_memory_mb = 1024;         // a worker's address space (RLIMIT_AS)
  std::int64_t max_extracted_chars = 32 * 1024 * 1024;  // text taken from one document
};

// [[providers]]: an upstream the gateway can call.
struct ProviderConfig {
  std::string name;         // used in "name/model" and in metrics; [a-z0-9_.-]+
  std::string type;         // openai | mock
  std::string base_url;     // default per type (openai: https://api.openai.com/v1)
  std::string api_key_env;  // environment variable holding the key ("" = no key)
  std::string api_key;      // read from api_key_env at load; never printed
  int timeout_ms = 60000;   // connect + first byte
  std::string record_dir;   // gateway.record_dir, copied here by the gateway (not a config key)
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers on every call
  std::vector<std::string> models;  // allow-list; empty = any model
  int job_concurrency = 0;  // jobs whose first target is this provider running at once; 0 = any
  // mock only
  int latency_ms = 0;
  double fail_rate = 0;
  int fail_status = 500;
  // 0: embeddings hash words into all dimensions; N > 0: each word is a fixed random direction
  // in an N-dimensional subspace (vectors with the low intrinsic dimension of a real model's).
  int embedding_rank = 0;
};

struct RouteTarget {
  std::string provider;
  std::string model;
  int weight = 1;
};

// One intent of an intent route: what it is (name, description, examples) and what serves it.
struct IntentConfig {
  std::string name;
  std::string description;
  std::vector<std::string> examples;
  std::string target;  // a route (not an intent route) or provider/model
};

// [[routes]]: a model alias clients can name, served by targets in order; or, with strategy
// "intent", by the target of the intent its classifier picks for the request.
struct RouteConfig {
  std::string name;
  std::string strategy = "priority";  // priority | weighted | least_latency | intent
  std::vector<RouteTarget> targets;
  // strategy = "intent" only
  std::vector<IntentConfig> intents;
  std::string classifier;       // route or provider/model; "" = the local classifier only
  std::string fallback_intent;  // when nothing matches; "" = the first intent
  std::string embedding_model;  // the local classifier adds embeddings' similarity; "" = BM25 only
  int classifier_timeout_ms = 10000;
  int classifier_failure_percent = 50;  // the classifier's own breaker
  int classifier_min_calls = 5;
  int classifier_window_ms = 60000;
  int classifier_open_ms = 30000;
  int max_text_chars = 20000;  // POST /api/v1/intent refuses longer; chat classifies the start
};

struct Config {
  ServerConfig server;
  StorageConfig storage;
  LogConfig log;
  AuthConfig auth;
  CorsConfig cors;
  GatewayConfig gateway;
  JobsConfig jobs;
  KnowledgeConfig knowledge;
  LimitsConfig limits;
  AuditConfig audit;
  ChatConfig chat;
  WorkflowsConfig workflows;
  EventsConfig events;
  CacheConfig cache;
  std::vector<ProviderConfig> providers;
  std::vector<RouteConfig> routes;
  std::vector<PriceConfig> prices;
  std::vector<AssistantConfig> assistants;
  std::vector<AgentConfig> agents;
  std::vector<ToolConfig> tools;
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ConfigSources {
  std::optional<std::string> file;                 // --config
  std::map<std::string, std::string> env;          // the process environment (or a test's)
  std::map<std::string, std::string> overrides;    // "section.key" -> value, from flags
};

// Loads and validates. Throws ConfigError("<section>.<key>: <what is wrong>").
Config load_config(const ConfigSources& sources);

// The environment of this process as a map (only SWITCHBOARD_* variables).
std::map<std::string, std::string> process_env();

struct KeyDoc {
  std::string section, key, type, default_value, env, help;
};
// Every key, in declaration order.
std::vector<KeyDoc> config_reference();
// A commented TOML file with every key at its default.
std::string config_example();
// A Markdown table: key | type | default | env | description.
std::string config_reference_markdown();

struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
};
// Parses "HOST:PORT" or "[v6]:PORT". Returns nullopt when malformed.
std::optional<ListenAddress> parse_listen(const std::string& s);

}  // namespace sb::core
