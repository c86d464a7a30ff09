// type = "mock": deterministic replies for development and tests, with no network. The reply
// echoes the last user message; token counts are word counts; latency_ms delays each answer (and
// each streamed chunk); fail_rate of calls (a seeded, repeatable sequence) fail with fail_status.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <chrono>
#include <mutex>
#include <random>
#include <sstream>

#include "gateway/translate.hpp"
#include "core/text.hpp"
#include "gateway/provider.hpp"
#include "core/json_text.hpp"

namespace sb::gateway {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::awaitable;

std::string message_text(const json::value& content) {
  if (content.is_string()) return std::string(content.get_string());
  std::string out;
  if (const auto* parts = content.if_array()) {
    for (const auto& p : *parts) {
      const auto* o = p.if_object();
      if (!o) continue;
      auto* type = o->if_contains("type");
      auto* text = o->if_contains("text");
      if (type && type->is_string() && type->get_string() == "text" && text && text->is_string()) {
        if (!out.empty()) out += " ";
        out += std::string(text->get_string());
      }
    }
  }
  return out;
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// A repeatable pseudo-random value in [-1, 1) from a 64-bit seed (splitmix64).
float unit(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return static_cast<float>(static_cast<double>(x >> 11) / 4503599627370496.0 - 1.0);
}

// rank 0: signed feature hashing into all dims. rank N: each feature adds a fixed random
// N-vector; the sum is mapped to dims by a fixed random N x dims matrix (so every vector lies in
// one N-dimensional subspace, like a real model's on its low-dimensional manifold).
std::vector<float> hashed_embedding(std::string_view text, std::size_t dims, std::size_t rank = 0) {
  std::vector<float> v(rank ? rank : dims, 0.0f);
  std::vector<std::string> tokens;
  std::string cur;
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c >= 0x80) {
      cur.push_back(static_cast<char>(std::tolower(c)));
    } else if (!cur.empty()) {
      tokens.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) tokens.push_back(std::move(cur));
  auto add = [&](std::string_view feature, float weight) {
    std::uint64_t h = fnv1a(feature);
    if (rank) {
      for (std::size_t j = 0; j < rank; ++j) v[j] += weight * unit(h + j * 0x632be59bd9b4e019ULL);
    } else {
      v[h % dims] += (h >> 63) ? weight : -weight;
    }
  };
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    add(tokens[i], 1.0f);
    if (i + 1 < tokens.size()) add(tokens[i] + " " + tokens[i + 1], 0.5f);
  }
  if (rank) {
    std::vector<float> out(dims, 0.0f);
    for (std::size_t j = 0; j < rank; ++j) {
      if (v[j] == 0.0f) continue;
      for (std::size_t d = 0; d < dims; ++d) out[d] += v[j] * unit((j << 32) ^ d ^ 0x5bd1e995ULL);
    }
    v = std::move(out);
  }
  double norm = 0;
  for (float f : v) norm += static_cast<double>(f) * f;
  if (norm == 0) {
    v[0] = 1.0f;  // empty text: a fixed unit vector, never NaN
    return v;
  }
  const float inv = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& f : v) f *= inv;
  return v;
}

int words(std::string_view s) {
  int n = 0;
  bool in = false;
  for (char c : s) {
    bool space = c == ' ' || c == '\n' || c == '\t';
    if (!space && !in) ++n;
    in = !space;
  }
  return n;
}

class MockProvider final : public Provider {
 public:
  explicit MockProvider(const core::ProviderConfig& config) : config_(config), rng_(42) {}

  const core::ProviderConfig& config() const override { return config_; }

  awaitable<core::Result<ChatResult>> chat(const ChatCall& call) override {
    co_await sleep(config_.latency_ms);
    if (should_fail()) co_return failure();
    Reply r = reply(call);
    json::object o;
    o["id"] = r.id;
    o["object"] = "chat.completion";
    o["created"] = r.created;
    o["model"] = call.model;
    o["choices"] = json::array{json::object{
        {"index", 0},
        {"message", json::object{{"role", "assistant"}, {"content", r.text}}},
        {"logprobs", nullptr},
        {"finish_reason", "stop"}}};
    o["usage"] = usage(r);
    co_return ChatResult{core::to_json(o)};
  }

  // The legacy Completions API: the same reply to the prompt, as a "text_completion".
  awaitable<core::Result<ChatResult>> completions(const ChatCall& call) override {
    co_await sleep(config_.latency_ms);
    if (should_fail()) co_return failure();
    Reply r = reply(call);
    json::object o{{"id", "cmpl-mock-" + r.id.substr(r.id.rfind('-') + 1)},
                   {"object", "text_completion"},
                   {"created", r.created},
                   {"model", call.model},
                   {"choices", json::array{json::object{
                                   {"text", r.text}, {"index", 0}, {"logprobs", nullptr}, {"finish_reason", "stop"}}}},
                   {"usage", usage(r)}};
    co_return ChatResult{core::to_json(o)};
  }

  awaitable<core::Status> completions_stream(const ChatCall& call, const ChunkSink& sink) override {
    co_await sleep(config_.latency_ms);
    if (should_fail()) co_return failure();
    Reply r = reply(call);
    const std::string id = "cmpl-mock-" + r.id.substr(r.id.rfind('-') + 1);
    auto chunk = [&](const std::string& text, json::value finish) {
      return core::to_json(json::object{
          {"id", id},
          {"object", "text_completion"},
          {"created", r.created},
          {"model", call.model},
          {"choices", json::array{json::object{{"text", text}, {"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish}}}}});
    };
    std::vector<std::string> pieces;
    std::istringstream in(r.text);
    std::string word;
    while (in >> word) pieces.push_back(chunk(pieces.empty() ? word : " " + word, nullptr));
    pieces.push_back(chunk("", json::string("stop")));
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      if (i > 0) co_await sleep(config_.latency_ms / 10);
      if (!co_await sink(pieces[i], false)) break;
    }
    co_return core::Status{};
  }

  // Deterministic embeddings: hashed bag of words (and word bigrams), L2-normalised, so texts
  // sharing words are near each other, as with a real model. `dimensions` (default 256) sets
  // the size; encoding_format "base64" packs little-endian float32 like OpenAI.
  awaitable<core::Result<EmbedResult>> embeddings(const EmbedCall& call) override {
    co_await sleep(config_.latency_ms);
    if (should_fail()) co_return failure();
    std::size_t dims = 256;
    if (const auto* d = call.body.if_contains("dimensions"); d && d->is_int64()) {
      dims = static_cast<std::size_t>(d->get_int64());
    }
    const auto* fmt = call.body.if_contains("encoding_format");
    const bool base64 = fmt && fmt->is_string() && fmt->get_string() == "base64";
    // The mock takes text, as Gemini does: token ids have no meaning without a vocabulary.
    std::vector<std::string> inputs;
    const json::value& in = call.body.at("input");
    if (in.is_string()) {
      inputs.emplace_back(in.get_string());
    } else {
      for (const auto& v : in.get_array()) {
        if (!v.is_string()) {
          co_return core::Error(core::ErrorKind::invalid_field,
                          "mock embeddings take text: 'input' must be a string or an array of strings (not token ids)",
                          "input");
        }
        inputs.emplace_back(v.get_string());
      }
    }
    json::array data;
    long long tokens = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      std::vector<float> vec = hashed_embedding(inputs[i], dims, static_cast<std::size_t>(config_.embedding_rank));
      tokens += words(inputs[i]);
      data.push_back(translate_detail::embedding_item(i, vec, base64));
    }
    json::object o{{"object", "list"},
                   {"data", std::move(data)},
                   {"model", call.model},
                   {"usage", json::object{{"prompt_tokens", tokens}, {"total_tokens", tokens}}}};
    co_return EmbedResult{core::to_json(o)};
  }

  awaitable<core::Status> chat_stream(const ChatCall& call, const ChunkSink& sink) override {
    co_await sleep(config_.latency_ms);
    if (should_fail()) co_return failure();
    Reply r = reply(call);
    // With stream_options.include_usage, every chunk carries "usage": null and one last chunk
    // with empty choices carries the totals (OpenAI API reference, ChatCompletionStreamOptions).
    const json::value* opts = call.body.if_contains("stream_options");
    const json::value* include =
        opts && opts->is_object() ? opts->as_object().if_contains("include_usage") : nullptr;
    const bool include_usage = include && include->is_bool() && include->get_bool();
    auto chunk = [&](json::object delta, json::value finish) {
      json::object o;
      o["id"] = r.id;
      o["object"] = "chat.completion.chunk";
      o["created"] = r.created;
      o["model"] = call.model;
      o["choices"] = json::array{json::object{
          {"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", finish}}};
      if (include_usage) o["usage"] = nullptr;
      return o;
    };
    // (Chunks are built before each co_await: GCC 12 mishandles literal temporaries in them.)
    std::vector<std::string> pieces;
    pieces.push_back(core::to_json(chunk({{"role", "assistant"}, {"content", ""}}, nullptr)));
    std::istringstream in(r.text);
    std::string word;
    while (in >> word) {
      std::string piece = pieces.size() == 1 ? word : " " + word;
      pieces.push_back(core::to_json(chunk({{"content", piece}}, nullptr)));
    }
    pieces.push_back(core::to_json(chunk({}, json::string("stop"))));
    if (include_usage) {
      json::object o = chunk({}, nullptr);
      o["choices"] = json::array{};
      o["usage"] = usage(r);
      pieces.push_back(core::to_json(o));
    }
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      if (i > 1) co_await sleep(config_.latency_ms / 10);
      if (!co_await sink(pieces[i], false)) break;
    }
    co_return core::Status{};
  }

 private:
  struct Reply {
    std::string id;
    long long created;
    std::string text;
    int prompt_tokens;
    int completion_tokens;
  };

  Reply reply(const ChatCall& call) {
    Reply r;
    r.id = "chatcmpl-mock-" + std::to_string(++counter_);
    r.created = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    std::string last_user;
    int prompt = 0;
    if (const auto* msgs = call.body.if_contains("messages"); msgs && msgs->is_array()) {
      for (const auto& m : msgs->get_array()) {
        const auto* o = m.if_object();
        if (!o) continue;
        const auto* content = o->if_contains("content");
        std::string text = content ? message_text(*content) : "";
        prompt += words(text);
        const auto* role = o->if_contains("role");
        if (role && role->is_string() && role->get_string() == "user") last_user = text;
      }
    }
    if (const auto* p = call.body.if_contains("prompt")) {  // /v1/completions
      const json::value* first = p->is_array() && !p->get_array().empty() ? &p->get_array()[0] : p;
      if (first->is_string()) last_user = std::string(first->get_string());
      prompt += words(last_user);
    }
    last_user.resize(core::utf8_prefix(last_user, 200).size());  // never inside a character
    r.text = "Mock reply to: " + last_user;
    r.prompt_tokens = prompt;
    r.completion_tokens = words(r.text);
    return r;
  }

  static json::object usage(const Reply& r) {
    return {{"prompt_tokens", r.prompt_tokens},
            {"completion_tokens", r.completion_tokens},
            {"total_tokens", r.prompt_tokens + r.completion_tokens}};
  }

  bool should_fail() {
    if (config_.fail_rate <= 0) return false;
    std::lock_guard lock(mu_);
    return std::uniform_real_distribution<double>(0, 1)(rng_) < config_.fail_rate;
  }

  core::Error failure() const {
    std::string body = R"J({"error":{"message":"mock failure (fail_rate)"}})J";
    return upstream_http_error(config_, config_.fail_status, body, "");
  }

  static awaitable<void> sleep(int ms) {
    if (ms <= 0) co_return;
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }

  core::ProviderConfig config_;
  std::atomic<long long> counter_{0};
  std::mutex mu_;  // guards rng_
  std::mt19937 rng_;
};

}  // namespace

std::unique_ptr<Provider> make_mock_provider(const core::ProviderConfig& config) {
  return std::make_unique<MockProvider>(config);
}

}  // namespace sb::gateway
