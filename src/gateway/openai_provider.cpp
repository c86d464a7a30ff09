// type = "openai": any OpenAI-compatible API (OpenAI, OpenRouter, Groq, Together, Ollama, vLLM,
// llama.cpp server, LM Studio). The client's body is forwarded as is — unknown fields included —
// with the upstream model name; POST {base_url}/chat/completions, Authorization: Bearer <key>.

#include <boost/asio/awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <vector>

#include "gateway/provider.hpp"
#include "http/client.hpp"
#include "http/sse.hpp"

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
    json::object body = call.body;
    body["model"] = call.model;
    if (body.contains("stream")) body["stream"] = false;
    auto res = co_await client_.fetch(request(body, call));
    if (!res) co_return tag(std::move(res).error());
    if (res->status / 100 != 2) {
      co_return upstream_http_error(config_, res->status, res->body, res->header("retry-after"));
    }
    co_return ChatResult{std::move(res->body)};
  }

  awaitable<core::Status> chat_stream(const ChatCall& call, const ChunkSink& sink) override {
    json::object body = call.body;
    body["model"] = call.model;
    body["stream"] = true;
    int status = 0;
    std::string retry_after;
    std::string error_body;
    http::SseParser parser;
    core::Status failure;
    std::vector<std::string> events;
    auto res = co_await client_.stream(
        request(body, call),
        [&](const http::ClientResponse& head) {
          status = head.status;
          retry_after = std::string(head.header("retry-after"));
        },
        [&](std::string_view data) -> awaitable<bool> {
          if (status / 100 != 2) {
            if (error_body.size() < 65536) error_body.append(data);
            co_return true;
          }
          events.clear();
          auto st = parser.feed(data, [&](http::SseEvent&& e) { events.push_back(std::move(e.data)); });
          if (!st) {
            failure = tag(std::move(st).error());
            co_return false;
          }
          for (const auto& e : events) {
            if (e == "[DONE]") continue;
            if (!co_await sink(e)) {
              failure = Error(ErrorKind::unavailable, "the client went away", {}, "gateway");
              co_return false;
            }
          }
          co_return true;
        });
    if (!failure) co_return failure;
    if (!res) co_return tag(std::move(res).error());
    if (status / 100 != 2) co_return upstream_http_error(config_, status, error_body, retry_after);
    co_return core::Status{};
  }

  awaitable<core::Result<EmbedResult>> embeddings(const EmbedCall& call) override {
    json::object body = call.body;
    body["model"] = call.model;
    auto res = co_await client_.fetch(request(body, call, "/embeddings"));
    if (!res) co_return tag(std::move(res).error());
    if (res->status / 100 != 2) {
      co_return upstream_http_error(config_, res->status, res->body, res->header("retry-after"));
    }
    co_return EmbedResult{std::move(res->body)};
  }

 private:
  http::ClientRequest request(const json::object& body, const ChatCall& call,
                              const char* path = "/chat/completions") const {
    http::ClientRequest r;
    r.method = "POST";
    r.url = config_.base_url + path;
    r.headers.emplace_back("Content-Type", "application/json");
    r.headers.emplace_back("Accept", "application/json, text/event-stream");
    if (!config_.api_key.empty()) r.headers.emplace_back("Authorization", "Bearer " + config_.api_key);
    r.headers.emplace_back("X-Request-Id", call.request_id);
    for (const auto& h : config_.headers) r.headers.push_back(h);
    r.body = json::serialize(body);
    auto t = attempt_timeouts(config_, call.deadline);
    r.timeouts.connect = t.connect;
    r.timeouts.first_byte = t.first_byte;
    r.timeouts.idle = t.idle;
    return r;
  }

  Error tag(Error e) const {
    e.message = "upstream " + config_.name + ": " + strip_secrets(e.message, config_.api_key);
    return e;
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
