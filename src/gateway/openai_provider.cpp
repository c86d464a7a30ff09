// type = "openai": any OpenAI-compatible API (OpenAI, OpenRouter, Groq, Together, Ollama, vLLM,
// llama.cpp server, LM Studio). The client's body is forwarded byte for byte — unknown fields
// included — with only the model value replaced by the upstream model name (json_splice.hpp); POST {base_url}/chat/completions (or /embeddings),
// Authorization: Bearer <key>.

#include <boost/json/serialize.hpp>

#include "gateway/json_splice.hpp"
#include "gateway/provider.hpp"
#include "gateway/upstream_call.hpp"
#include "core/json_text.hpp"

namespace sb::gateway {
namespace {

namespace json = boost::json;
using boost::asio::awaitable;
using core::Error;
using core::ErrorKind;

class OpenAiProvider final : public Provider {
 public:
  OpenAiProvider(const core::ProviderConfig& config, http::Client& client)
      : config_(config), client_(client) {}

  const core::ProviderConfig& config() const override { return config_; }

  awaitable<core::Result<ChatResult>> chat(const ChatCall& call) override {
    co_return co_await whole(call, "/chat/completions");
  }

  awaitable<core::Status> chat_stream(const ChatCall& call, const ChunkSink& sink) override {
    co_return co_await stream(call, sink, "/chat/completions");
  }

  awaitable<core::Result<ChatResult>> completions(const ChatCall& call) override {
    co_return co_await whole(call, "/completions");
  }

  awaitable<core::Status> completions_stream(const ChatCall& call, const ChunkSink& sink) override {
    co_return co_await stream(call, sink, "/completions");
  }

  awaitable<core::Result<EmbedResult>> embeddings(const EmbedCall& call) override {
    co_return co_await whole(call, "/embeddings");
  }

 private:
  // POST {base_url}{path}: the answer relayed as it is (once checked to be a JSON object).
  awaitable<core::Result<ChatResult>> whole(const ChatCall& call, const char* path) {
    // call.body already names the upstream model (the gateway sets it for each attempt).
    auto r = co_await fetch_json(client_, config_, request(call.body, call, path), Answer::relayed);
    if (!r) co_return std::move(r).error();
    co_return ChatResult{std::move(*r)};
  }

  // The same, streamed: each event's data to the sink ([DONE] only flushes what was held back).
  awaitable<core::Status> stream(const ChatCall& call, const ChunkSink& sink, const char* path) {
    co_return co_await stream_events(
        client_, config_, request(call.body, call, path),
        [&](std::string_view data, bool more) -> awaitable<core::Status> {
          if (data == "[DONE]") data = {};
          if (!co_await sink(data, more)) {
            co_return Error(ErrorKind::unavailable, "the client went away", {}, "client");
          }
          co_return core::Status{};
        });
  }

  http::ClientRequest request(const json::object& body, const ChatCall& call, const char* path) const {
    http::ClientRequest r;
    r.method = "POST";
    r.url = config_.base_url + path;
    r.headers.emplace_back("Content-Type", "application/json");
    r.headers.emplace_back("Accept", "application/json, text/event-stream");
    if (!config_.api_key.empty()) r.headers.emplace_back("Authorization", "Bearer " + config_.api_key);
    r.headers.emplace_back("X-Request-Id", call.request_id);
    for (const auto& h : config_.headers) r.headers.push_back(h);
    std::optional<std::string> spliced;
    if (!call.raw.empty()) spliced = splice_model(call.raw, call.model);
    r.body = spliced ? std::move(*spliced) : core::to_json(body);
    auto t = attempt_timeouts(config_, call.deadline);
    r.timeouts = {t.connect, t.first_byte, t.idle, t.deadline};
    r.cancel = call.cancel;
    return r;
  }

  core::ProviderConfig config_;
  http::Client& client_;
};

}  // namespace

std::unique_ptr<Provider> make_openai_provider(const core::ProviderConfig& config,
                                               http::Client& client) {
  return std::make_unique<OpenAiProvider>(config, client);
}

}  // namespace sb::gateway
