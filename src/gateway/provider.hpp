#pragma once
// The provider interface: one upstream (OpenAI-compatible API, mock, ...) that can answer chat
// completions, whole or streamed. Requests and results are in the OpenAI wire format, which is
// also what clients speak; adapters for other wire formats translate at this edge.

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/config.hpp"
#include "core/error.hpp"

namespace sb::http {
class Client;
}

namespace sb::gateway {

struct ChatCall {
  boost::json::object body;  // the client's request; the adapter sets the upstream model
  std::string model;         // upstream model name
  std::string request_id;
};

struct ChatResult {
  std::string body;  // an OpenAI chat.completion object
};

// Receives each OpenAI chat.completion.chunk object (JSON text); false = stop (client gone).
using ChunkSink = std::function<boost::asio::awaitable<bool>(std::string_view chunk)>;

class Provider {
 public:
  virtual ~Provider() = default;
  virtual const core::ProviderConfig& config() const = 0;
  virtual boost::asio::awaitable<core::Result<ChatResult>> chat(const ChatCall& call) = 0;
  // Streams chunks to sink; ok when the upstream finished the stream.
  virtual boost::asio::awaitable<core::Status> chat_stream(const ChatCall& call,
                                                           const ChunkSink& sink) = 0;
};

std::unique_ptr<Provider> make_openai_provider(const core::ProviderConfig& config,
                                               http::Client& client);
std::unique_ptr<Provider> make_mock_provider(const core::ProviderConfig& config);

// The error for a non-2xx upstream answer: 4xx keep their status (401/403 become 502: they are
// our credentials, not the client's), 429 stays 429, 5xx become 502. The upstream's message is
// kept with anything that looks like a key removed.
core::Error upstream_http_error(const core::ProviderConfig& provider, int status,
                                std::string_view body, std::string_view retry_after);

// Whether another attempt (or target) may succeed: no response at all, 408, 409, 429, 5xx.
bool retryable(const core::Error& e);

// Replaces the provider's key and sk-... / Bearer tokens in text with "***".
std::string strip_secrets(std::string text, std::string_view api_key);

}  // namespace sb::gateway
