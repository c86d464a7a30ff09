// The Embedder that calls the gateway's embeddings path in process (routing, retries, fallback
// and circuit breakers included).

#include <boost/json/parse.hpp>

#include "core/ids.hpp"
#include "gateway/gateway.hpp"
#include "knowledge/embedder.hpp"
#include "knowledge/vectors.hpp"

namespace sb::knowledge {

namespace json = boost::json;
using boost::asio::awaitable;
using core::Error;
using core::ErrorKind;

namespace {

class GatewayEmbedder final : public Embedder {
 public:
  GatewayEmbedder(gateway::Gateway& gw, int batch) : gw_(gw), batch_(std::max(1, batch)) {}

  core::Status check(std::string_view model) override {
    auto r = gw_.resolve(model);
    if (!r) return std::move(r).error();
    return {};
  }

  awaitable<core::Result<std::vector<std::vector<float>>>> embed(std::string model,
                                                                 std::optional<std::int64_t> dimensions,
                                                                 std::vector<std::string> texts,
                                                                 std::shared_ptr<core::RequestContext> meter) override {
    std::vector<std::vector<float>> out;
    out.reserve(texts.size());
    for (std::size_t start = 0; start < texts.size(); start += static_cast<std::size_t>(batch_)) {
      const std::size_t end = std::min(texts.size(), start + static_cast<std::size_t>(batch_));
      auto targets = gw_.resolve(model);
      if (!targets) co_return std::move(targets).error();
      json::array input;
      for (std::size_t i = start; i < end; ++i) input.emplace_back(texts[i]);
      json::object body{{"model", model}, {"input", std::move(input)}};
      if (dimensions) body["dimensions"] = *dimensions;
      gateway::EmbedCall call{std::move(body), "", core::new_request_id()};
      call.meter = meter;
      gateway::Outcome outcome;
      auto r = co_await gw_.embeddings(std::move(call), std::move(*targets), outcome);
      if (!r) {
        Error e = std::move(r).error();
        e.message = "embedding model '" + model + "': " + e.message;
        co_return e;
      }
      auto vectors = parse(r->body, end - start);
      if (!vectors) {
        co_return Error(ErrorKind::upstream_error,
                        "embedding model '" + model + "': " + vectors.error().message);
      }
      for (auto& v : *vectors) out.push_back(std::move(v));
    }
    co_return out;
  }

 private:
  // {"data":[{"index":i,"embedding":[...]}, ...]} -> vectors by index, normalised.
  static core::Result<std::vector<std::vector<float>>> parse(const std::string& body, std::size_t n) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    const json::array* data = nullptr;
    if (!ec && v.is_object()) {
      if (const auto* d = v.as_object().if_contains("data"); d && d->is_array()) data = &d->as_array();
    }
    if (!data) return Error(ErrorKind::upstream_error, "answer has no data list");
    if (data->size() != n) {
      return Error(ErrorKind::upstream_error, "answer has " + std::to_string(data->size()) + " vectors for " +
                                                  std::to_string(n) + " inputs");
    }
    std::vector<std::vector<float>> out(n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& item = (*data)[i];
      const json::object* o = item.if_object();
      const json::value* emb = o ? o->if_contains("embedding") : nullptr;
      if (!emb || !emb->is_array() || emb->as_array().empty()) {
        return Error(ErrorKind::upstream_error, "answer item " + std::to_string(i) + " has no embedding");
      }
      std::size_t index = i;
      if (const auto* idx = o->if_contains("index"); idx && idx->is_int64()) {
        index = static_cast<std::size_t>(idx->as_int64());
      }
      if (index >= n || !out[index].empty()) {
        return Error(ErrorKind::upstream_error, "answer item " + std::to_string(i) + " has a bad index");
      }
      auto& vec = out[index];
      vec.reserve(emb->as_array().size());
      for (const auto& x : emb->as_array()) {
        if (!x.is_number()) return Error(ErrorKind::upstream_error, "embedding values must be numbers");
        vec.push_back(static_cast<float>(x.to_number<double>()));
      }
      normalize(vec);
    }
    const std::size_t dim = out.front().size();
    for (const auto& vec : out) {
      if (vec.size() != dim) return Error(ErrorKind::upstream_error, "vectors of different sizes in one answer");
    }
    return out;
  }

  gateway::Gateway& gw_;
  int batch_;
};

}  // namespace

std::unique_ptr<Embedder> make_gateway_embedder(gateway::Gateway& gateway, int batch) {
  return std::make_unique<GatewayEmbedder>(gateway, batch);
}

}  // namespace sb::knowledge
