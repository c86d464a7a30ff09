#pragma once
// The provider interface: one upstream (OpenAI-compatible API, mock, ...) that can answer chat
// completions, whole or streamed. Requests and results are in the OpenAI wire format, which is
// also what clients speak; adapters for other wire formats translate at this edge.

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/cancel.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/request_context.hpp"

namespace sb::http {
class Client;
}

namespace sb::gateway {

struct ChatCall {
  boost::json::object body;  // the client's request, with "model" set to the upstream model
  std::string model;         // upstream model name
  std::string request_id;
  // No attempt may run past this (the request's overall deadline); set by the gateway.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // Fires when the client goes away: the attempt in flight is dropped and nothing is retried.
  std::shared_ptr<core::CancelSignal> cancel;
  // The client's body as it arrived, when it is the request as is (not rebuilt, e.g. by a
  // job): OpenAI-compatible upstreams get these bytes with only the "model" value replaced.
  std::string raw;
  // Told the tokens of the answer (the provider's usage; for a stream without one, an estimate
  // of one token per content chunk): the caller's rate limits, budget and usage row.
  std::shared_ptr<core::RequestContext> meter;
};

struct ChatResult {
  std::string body;  // an OpenAI chat.completion object (or a list of embeddings)
};

// /v1/embeddings has the same shape: the client's body in, an OpenAI object out.
using EmbedCall = ChatCall;
using EmbedResult = ChatResult;

// Receives each OpenAI chat.completion.chunk object (JSON text); false = stop (client gone).
// `more` = another chunk follows at once (same upstream read): the receiver may hold this one
// back and send both in one write. An empty chunk with more = false only flushes.
using ChunkSink = std::function<boost::asio::awaitable<bool>(std::string_view chunk, bool more)>;

class Provider {
 public:
  virtual ~Provider() = default;
  virtual const core::ProviderConfig& config() const = 0;
  virtual boost::asio::awaitable<core::Result<ChatResult>> chat(const ChatCall& call) = 0;
  // Streams chunks to sink; ok when the upstream finished the stream.
  virtual boost::asio::awaitable<core::Status> chat_stream(const ChatCall& call,
                                                           const ChunkSink& sink) = 0;
  // An OpenAI "list" of embeddings. Providers without embeddings answer invalid_field (400).
  virtual boost::asio::awaitable<core::Result<EmbedResult>> embeddings(const EmbedCall& call);
  // The legacy Completions API (/v1/completions: a `prompt`, a "text_completion" answer), whole
  // and streamed. Providers without it (Anthropic, Gemini) answer invalid_field (400).
  virtual boost::asio::awaitable<core::Result<ChatResult>> completions(const ChatCall& call);
  virtual boost::asio::awaitable<core::Status> completions_stream(const ChatCall& call, const ChunkSink& sink);
};

std::unique_ptr<Provider> make_openai_provider(const core::ProviderConfig& config,
                                               http::Client& client);
std::unique_ptr<Provider> make_anthropic_provider(const core::ProviderConfig& config,
                                                  http::Client& client);
std::unique_ptr<Provider> make_gemini_provider(const core::ProviderConfig& config,
                                               http::Client& client);
std::unique_ptr<Provider> make_mock_provider(const core::ProviderConfig& config);

// The error for a non-2xx upstream answer: 4xx keep their status (401/403 become 502: they are
// our credentials, not the client's), 429 stays 429, 5xx become 502. The upstream's message is
// kept with anything that looks like a key removed.
core::Error upstream_http_error(const core::ProviderConfig& provider, int status,
                                std::string_view body, std::string_view retry_after);

// Whether another attempt (or target) may succeed: no response at all, 408, 409, 429, 5xx,
// and (with auth_errors) an upstream 401/403.
bool retryable(const core::Error& e, bool auth_errors = false);
// Whether the error counts against the upstream's health (circuit breaker): the retryable ones
// without auth errors. A 400 the upstream answered is its client's fault, not its own.
bool counts_as_failure(const core::Error& e);

// Client timeouts for one attempt: the provider's timeout, never past the call's deadline.
struct AttemptTimeouts {
  std::chrono::milliseconds connect, first_byte, idle;
  std::chrono::steady_clock::time_point deadline;  // the request's: bounds the whole answer
};
AttemptTimeouts attempt_timeouts(const core::ProviderConfig& provider,
                                 std::chrono::steady_clock::time_point deadline);

// Replaces the provider's key and sk-... / Bearer tokens in text with "***".
std::string strip_secrets(std::string text, std::string_view api_key);

}  // namespace sb::gateway
