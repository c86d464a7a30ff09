// type = "anthropic" and type = "gemini": providers with their own wire format. The client's
// OpenAI request is translated (translate.hpp), sent, and the answer or stream translated back.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <span>

#include "core/log.hpp"
#include "gateway/provider.hpp"
#include "gateway/translate.hpp"
#include "gateway/upstream_call.hpp"
#include "core/json_text.hpp"

namespace sb::gateway {
namespace {

namespace json = boost::json;
using boost::asio::awaitable;
using core::Error;
using core::ErrorKind;

long long now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class NativeProvider : public Provider {
 public:
  NativeProvider(const core::ProviderConfig& config, http::Client& client) : config_(config), client_(client) {}

  // The top-level OpenAI request fields this provider's translation reads (or refuses); the
  // others are dropped, and a log line says which (../shared/API.md).
  virtual std::span<const std::string_view> known_fields() const = 0;

  void log_dropped(const ChatCall& call) const {
    std::string dropped;
    const auto known = known_fields();
    for (const auto& kv : call.body) {
      const std::string_view key(kv.key().data(), kv.key().size());
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      if (!dropped.empty()) dropped += ", ";
      dropped += std::string(kv.key());
    }
    if (dropped.empty()) return;
    core::log::info("fields dropped", {{"request_id", call.request_id},
                                       {"provider", config_.name},
                                       {"type", config_.type},
                                       {"fields", dropped}});
  }

  const core::ProviderConfig& config() const override { return config_; }

  awaitable<core::Result<ChatResult>> chat(const ChatCall& call) override {
    log_dropped(call);
    auto req = request(call, false);
    if (!req) co_return std::move(req).error();
    auto body = co_await fetch_json(client_, config_, std::move(*req), Answer::translated);
    if (!body) co_return std::move(body).error();
    auto v = parse_answer(*body);
    if (!v) co_return std::move(v).error();
    auto out = translate(*v, context(call));
    if (!out) co_return std::move(out).error();
    co_return ChatResult{core::to_json(*out)};
  }

  awaitable<core::Status> chat_stream(const ChatCall& call, const ChunkSink& sink) override {
    log_dropped(call);
    auto req = request(call, true);
    if (!req) co_return std::move(req).error();
    auto translator = stream_translator(context(call));
    std::vector<std::string> chunks;
    auto st = co_await stream_events(
        client_, config_, std::move(*req), [&](std::string_view data, bool more) -> awaitable<core::Status> {
          chunks.clear();
          auto r = translator->feed(data, chunks);
          if (!r) {
            Error e = std::move(r).error();
            e.message = "upstream " + config_.name + ": " + strip_secrets(e.message, config_.api_key);
            co_return e;
          }
          if (chunks.empty() && !more && !co_await sink({}, false)) {
            co_return Error(ErrorKind::unavailable, "the client went away", {}, "client");
          }
          for (std::size_t i = 0; i < chunks.size(); ++i) {
            if (!co_await sink(chunks[i], more || i + 1 < chunks.size())) {
              co_return Error(ErrorKind::unavailable, "the client went away", {}, "client");
            }
          }
          co_return core::Status{};
        });
    if (!st) co_return st;
    if (!translator->complete()) {
      co_return Error(ErrorKind::upstream_error, "upstream " + config_.name + ": the stream ended before the answer was complete",
                      {}, "gateway");
    }
    co_return core::Status{};
  }

 protected:
  virtual core::Result<http::ClientRequest> request(const ChatCall& call, bool stream) const = 0;
  virtual core::Result<json::object> translate(const json::value& upstream, const TranslateContext& ctx) const = 0;
  virtual std::unique_ptr<StreamTranslator> stream_translator(TranslateContext ctx) const = 0;

  core::Result<json::value> parse_answer(const std::string& body) const {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec) return Error(ErrorKind::upstream_error, "upstream " + config_.name + " answered invalid JSON", {}, "gateway");
    return v;
  }

  TranslateContext context(const ChatCall& call) {
    return translate_context(call.body, call.model, now_seconds(),
                             "chatcmpl-" + config_.name + "-" + std::to_string(++counter_));
  }

  http::ClientRequest base_request(const ChatCall& call, std::string url, const json::object& body) const {
    http::ClientRequest r;
    r.method = "POST";
    r.url = std::move(url);
    r.headers.emplace_back("Content-Type", "application/json");
    r.headers.emplace_back("X-Request-Id", call.request_id);
    r.body = core::to_json(body);
    auto t = attempt_timeouts(config_, call.deadline);
    r.timeouts = {t.connect, t.first_byte, t.idle, t.deadline};
    r.cancel = call.cancel;
    return r;
  }

  core::ProviderConfig config_;
  http::Client& client_;
  std::atomic<long long> counter_{0};
};

class AnthropicProvider final : public NativeProvider {
 public:
  using NativeProvider::NativeProvider;

 public:
  std::span<const std::string_view> known_fields() const override {
    static constexpr std::string_view kFields[] = {
        "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "stream",
        "stream_options", "tools", "tool_choice", "parallel_tool_calls", "response_format", "user", "n", "logprobs"};
    return kFields;
  }

 protected:
  core::Result<http::ClientRequest> request(const ChatCall& call, bool stream) const override {
    auto body = anthropic::request(call.body, call.model, stream);
    if (!body) return std::move(body).error();
    http::ClientRequest r = base_request(call, config_.base_url + "/messages", *body);
    r.headers.emplace_back("anthropic-version", "2023-06-01");
    if (!config_.api_key.empty()) r.headers.emplace_back("x-api-key", config_.api_key);
    for (const auto& h : config_.headers) r.headers.push_back(h);  // may override the version
    return r;
  }
  core::Result<json::object> translate(const json::value& v, const TranslateContext& ctx) const override {
    return anthropic::response(v, ctx);
  }
  std::unique_ptr<StreamTranslator> stream_translator(TranslateContext ctx) const override {
    return anthropic::stream_translator(std::move(ctx));
  }
};

class GeminiProvider final : public NativeProvider {
 public:
  using NativeProvider::NativeProvider;

 public:
  std::span<const std::string_view> known_fields() const override {
    static constexpr std::string_view kFields[] = {
        "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "stream",
        "stream_options", "tools", "tool_choice", "response_format", "n", "logprobs", "frequency_penalty",
        "presence_penalty", "seed"};
    return kFields;
  }

 protected:
  core::Result<http::ClientRequest> request(const ChatCall& call, bool stream) const override {
    auto body = gemini::request(call.body);
    if (!body) return std::move(body).error();
    return gemini_request(call, stream ? ":streamGenerateContent?alt=sse" : ":generateContent", *body);
  }
  core::Result<json::object> translate(const json::value& v, const TranslateContext& ctx) const override {
    return gemini::response(v, ctx);
  }
  std::unique_ptr<StreamTranslator> stream_translator(TranslateContext ctx) const override {
    return gemini::stream_translator(std::move(ctx));
  }

  // POST {base_url}/models/{model}{method} with the API key header.
  http::ClientRequest gemini_request(const ChatCall& call, const char* method, const json::object& body) const {
    http::ClientRequest r = base_request(call, config_.base_url + "/models/" + call.model + method, body);
    if (!config_.api_key.empty()) r.headers.emplace_back("x-goog-api-key", config_.api_key);
    for (const auto& h : config_.headers) r.headers.push_back(h);
    return r;
  }

 public:
  awaitable<core::Result<EmbedResult>> embeddings(const EmbedCall& call) override {
    auto body = gemini::embed_request(call.body, call.model);
    if (!body) co_return std::move(body).error();
    auto answer = co_await fetch_json(client_, config_, gemini_request(call, ":batchEmbedContents", *body), Answer::translated);
    if (!answer) co_return std::move(answer).error();
    auto v = parse_answer(*answer);
    if (!v) co_return std::move(v).error();
    const auto* fmt = call.body.if_contains("encoding_format");
    auto out = gemini::embed_response(*v, call.model, fmt && fmt->is_string() && fmt->get_string() == "base64");
    if (!out) co_return std::move(out).error();
    co_return EmbedResult{core::to_json(*out)};
  }
};

}  // namespace

std::unique_ptr<Provider> make_anthropic_provider(const core::ProviderConfig& config, http::Client& client) {
  return std::make_unique<AnthropicProvider>(config, client);
}

std::unique_ptr<Provider> make_gemini_provider(const core::ProviderConfig& config, http::Client& client) {
  return std::make_unique<GeminiProvider>(config, client);
}

}  // namespace sb::gateway
