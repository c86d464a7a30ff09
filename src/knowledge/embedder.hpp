#pragma once
// Where the knowledge base gets its vectors: an embedding model behind the gateway (any route or
// provider/model that answers /v1/embeddings), called in batches.

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/request_context.hpp"

namespace sb::gateway {
class Gateway;
}

namespace sb::knowledge {

class Embedder {
 public:
  virtual ~Embedder() = default;
  // Errors: model_not_found when the name is neither a route nor provider/model.
  virtual core::Status check(std::string_view model) = 0;
  // One L2-normalised vector per text, in order. `dimensions` is asked of the model when set.
  // Errors: the gateway's (upstream failures), or upstream_error for an answer without the
  // right number of vectors.
  // `meter`, when given, is told each call's tokens (the caller's key: usage, tpm, budget).
  virtual boost::asio::awaitable<core::Result<std::vector<std::vector<float>>>> embed(
      std::string model, std::optional<std::int64_t> dimensions, std::vector<std::string> texts,
      std::shared_ptr<core::RequestContext> meter = nullptr) = 0;
};

std::unique_ptr<Embedder> make_gateway_embedder(gateway::Gateway& gateway, int batch);

}  // namespace sb::knowledge
