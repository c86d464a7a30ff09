#pragma once
// The gateway: resolves a client's model name to targets, orders them by the route's strategy,
// and calls them: retries a target with exponential backoff (full jitter, honouring Retry-After)
// on a retryable failure, then falls back to the next target, all within the request's deadline.
// A stream retries or falls back only before its first chunk reached the client. Each target
// (provider + model) has a circuit breaker; an open one is skipped without a call, and when
// every target is open the answer is 503 with Retry-After.
//
// Model names: a [[routes]] alias ("fast"), or "provider/model" ("openai/gpt-4o-mini").

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/swappable.hpp"
#include "core/metrics.hpp"
#include "gateway/provider.hpp"
#include "gateway/target_health.hpp"

namespace sb::gateway {

struct Target {
  Provider* provider;
  std::string model;
  int weight = 1;
  TargetHealth* health = nullptr;
};

struct Resolved {
  std::vector<Target> targets;
  std::string strategy = "priority";  // priority | weighted | least_latency
  // Keeps the targets' providers alive while the call runs, whatever a config reload does.
  std::shared_ptr<const void> keep;
};

// One target as the loop left it, for error.attempts.
// Which OpenAI call a request is: the answer's shape differs, the routing does not.
enum class Kind { chat, completions };

struct TriedTarget {
  std::string provider, model;
  int calls = 0;        // 0: skipped, its circuit was open
  int status = 0;       // the last call's: the upstream's HTTP status, 0 when it never answered
  std::string code, message;
  long long retry_in_ms = 0;  // a skipped target: until its probe
};

struct Outcome {
  std::string provider;  // the target that answered (or the last one tried)
  std::string model;
  int attempts = 0;
  std::chrono::steady_clock::duration upstream{};  // time spent in upstream calls
  std::chrono::steady_clock::duration waited{};    // time spent in backoff
  std::chrono::steady_clock::duration first_chunk{};  // stream: attempt start -> first chunk
};

struct ModelInfo {
  std::string id;
  std::string owned_by;
};

struct TargetStatus {
  std::string model;  // shared by every route naming this provider + model
  TargetHealth::Snapshot health;
};

struct ProviderStatus {
  std::string name, type, base_url;
  std::vector<std::string> models;
  std::vector<TargetStatus> targets;
};

class Gateway {
 public:
  // The client and registry must outlive the gateway.
  Gateway(const core::Config& config, http::Client& client, core::metrics::Registry& registry);
  ~Gateway();

  // model_not_found (404) for a name that is neither a route nor provider/model of a known
  // provider (or outside the provider's models allow-list).
  core::Result<Resolved> resolve(std::string_view model);
  // Every routable name: route aliases, then provider/model for allow-listed models.
  std::vector<ModelInfo> models() const;

  boost::asio::awaitable<core::Result<ChatResult>> chat(ChatCall call, Resolved targets,
                                                        Outcome& outcome);
  // `sink` receives chunks from the one target that started streaming.
  boost::asio::awaitable<core::Status> chat_stream(ChatCall call, Resolved targets,
                                                   ChunkSink sink, Outcome& outcome);
  boost::asio::awaitable<core::Result<EmbedResult>> embeddings(EmbedCall call, Resolved targets,
                                                               Outcome& outcome);
  // /v1/completions, whole and streamed (retries, fallback and breakers as for chat).
  boost::asio::awaitable<core::Result<ChatResult>> completions(ChatCall call, Resolved targets, Outcome& outcome);
  boost::asio::awaitable<core::Status> completions_stream(ChatCall call, Resolved targets, ChunkSink sink,
                                                          Outcome& outcome);

  // True when every target's circuit is open right now (nothing would be called).
  bool all_open(const Resolved& targets);

  std::vector<ProviderStatus> providers();
  // The provider, kept alive for as long as the caller holds it; null when there is none.
  std::shared_ptr<Provider> find_provider(std::string_view name) const;

  // A config reload (SIGHUP): providers, routes and the [gateway] settings are replaced for the
  // requests that start from now on; those in flight finish on what they started with. Breakers
  // are kept by provider/model (new breaker settings apply to targets first seen after it).
  void reload(const core::Config& config);

  // The gateway's own share of a request (total minus upstream time and backoff).
  void observe_overhead(std::chrono::steady_clock::duration d);

 private:
  struct Metrics;
  using Attempt = std::function<boost::asio::awaitable<core::Status>(const Target&, ChatCall&)>;
  using WholeCall = boost::asio::awaitable<core::Result<ChatResult>> (Provider::*)(const ChatCall&);
  using StreamCall = boost::asio::awaitable<core::Status> (Provider::*)(const ChatCall&, const ChunkSink&);
  boost::asio::awaitable<core::Status> stream(ChatCall call, Resolved resolved, ChunkSink sink, Outcome& outcome,
                                              StreamCall method);
  // chat and embeddings: one answer, from the first target that gives one.
  boost::asio::awaitable<core::Result<ChatResult>> whole(ChatCall call, Resolved resolved,
                                                         Outcome& outcome, WholeCall method);
  // The retry / fallback / breaker loop shared by every call type. `started`, when given, says
  // whether output already reached the client (then nothing is retried).
  boost::asio::awaitable<core::Status> run(ChatCall& call, Resolved resolved, Outcome& outcome,
                                           const Attempt& attempt, const bool* started);
  boost::asio::awaitable<core::Status> run_targets(ChatCall& call, Resolved resolved, Outcome& outcome,
                                                   const Attempt& attempt, const bool* started,
                                                   std::vector<TriedTarget>& tried);
  std::vector<Target> order(Resolved& resolved);
  TargetHealth* health(const std::string& provider, const std::string& model);
  std::chrono::milliseconds backoff(int retry, const core::GatewayConfig& settings);
  void record(const ChatCall& call, const Target& t, int attempt, const core::Error* error,
              std::chrono::steady_clock::duration took);
  // switchboard_tokens_total from counts, or from the "usage" of an OpenAI answer.
  void add_tokens(const Outcome& o, long long prompt, long long completion);
  void count_tokens(const Outcome& o, std::string_view body);

  struct Table {
    std::vector<std::shared_ptr<Provider>> providers;
    std::vector<core::RouteConfig> routes;
    Provider* find(std::string_view name) const;
  };
  std::shared_ptr<const Table> make_table(const core::Config& config);

  http::Client& client_;
  core::Swappable<core::GatewayConfig> settings_;
  core::Swappable<Table> table_;
  std::unique_ptr<Metrics> metrics_;
  std::mutex mu_;  // guards health_ and rng_
  std::map<std::string, std::unique_ptr<TargetHealth>> health_;  // "provider/model"
  std::mt19937_64 rng_;
};

}  // namespace sb::gateway
