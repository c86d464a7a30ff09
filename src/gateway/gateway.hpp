#pragma once
// The gateway: resolves a client's model name to targets and calls them in order, falling back
// to the next target on a retryable failure (a stream only before its first chunk was sent).
//
// Model names: a [[routes]] alias ("fast"), or "provider/model" ("openai/gpt-4o-mini").

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/metrics.hpp"
#include "gateway/provider.hpp"

namespace sb::gateway {

struct Target {
  Provider* provider;
  std::string model;
};

struct Outcome {
  std::string provider;  // the target that answered (or the last one tried)
  std::string model;
  int attempts = 0;
};

struct ModelInfo {
  std::string id;
  std::string owned_by;
};

class Gateway {
 public:
  // The client and registry must outlive the gateway.
  Gateway(const core::Config& config, http::Client& client, core::metrics::Registry& registry);
  ~Gateway();

  // model_not_found (404) for a name that is neither a route nor provider/model of a known
  // provider (or outside the provider's models allow-list).
  core::Result<std::vector<Target>> resolve(std::string_view model) const;
  // Every routable name: route aliases, then provider/model for allow-listed models.
  std::vector<ModelInfo> models() const;

  boost::asio::awaitable<core::Result<ChatResult>> chat(ChatCall call, std::vector<Target> targets,
                                                        Outcome& outcome);
  // `sink` receives chunks from the one target that started streaming.
  boost::asio::awaitable<core::Status> chat_stream(ChatCall call, std::vector<Target> targets,
                                                   ChunkSink sink, Outcome& outcome);

 private:
  struct Metrics;
  // Points call and outcome at the next target; counts a fallback after the first.
  void begin_attempt(const Target& t, ChatCall& call, Outcome& outcome);
  void record(const ChatCall& call, const Target& t, int attempt, const core::Error* error,
              std::chrono::steady_clock::time_point t0);

  std::vector<std::unique_ptr<Provider>> providers_;
  std::vector<core::RouteConfig> routes_;
  std::unique_ptr<Metrics> metrics_;
};

}  // namespace sb::gateway
