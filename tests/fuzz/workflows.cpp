// The workflows' readers of untrusted text: a model's answer to the intent classifier and to the
// comparison judge (any bytes a provider sends back), a pipeline job's request, the chat text an
// intent route classifies, and the local classifier's query. None may crash, loop or accept
// what is out of range.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/config.hpp"
#include "core/metrics.hpp"
#include "gateway/gateway.hpp"
#include "http/client.hpp"
#include "workflows/comparison.hpp"
#include "workflows/intent.hpp"
#include "workflows/intent_router.hpp"
#include "workflows/log_analyzer.hpp"
#include "workflows/log_evidence.hpp"
#include "workflows/pipeline.hpp"

namespace {

namespace json = boost::json;

struct World {
  World() {
    config.providers.push_back(sb::core::ProviderConfig{.name = "mock", .type = "mock"});
    sb::core::RouteConfig r;
    r.name = "support";
    r.strategy = "intent";
    r.intents = {{"billing", "Invoices", {"I was charged twice"}, "mock/echo"}, {"tech", "Broken", {"crash"}, "mock/echo"}};
    config.routes.push_back(r);
    gateway = std::make_unique<sb::gateway::Gateway>(config, client, registry);
    router = std::make_unique<sb::workflows::IntentRouter>(config, *gateway, registry);
    local = std::make_unique<sb::workflows::LocalClassifier>(
        std::vector<sb::workflows::Intent>{{"billing", "Invoices", {"charged twice"}, "a"}, {"tech", "", {"crash"}, "b"}}, 0);
  }
  sb::core::Config config;
  sb::http::Client client;
  sb::core::metrics::Registry registry;
  std::unique_ptr<sb::gateway::Gateway> gateway;
  std::unique_ptr<sb::workflows::IntentRouter> router;
  std::unique_ptr<sb::workflows::LocalClassifier> local;
};

std::string as_completion(std::string_view content) {
  return R"({"choices":[{"index":0,"message":{"role":"assistant","content":)" +
         json::serialize(json::string(std::string(content))) + "}}]}";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World w;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto& intents = w.config.routes[0].intents;
  for (const std::string& answer : {std::string(in), as_completion(in)}) {
    if (auto r = sb::workflows::parse_intent(answer, intents)) {
      if (r->intent >= intents.size() || !(r->confidence >= 0 && r->confidence <= 1)) __builtin_trap();
    }
    std::string raw;
    const std::vector<std::string> labels = {"Essay A", "Essay B"};
    if (auto j = sb::workflows::parse_judgment(answer, labels, raw)) {
      if (j->winner != labels[0] && j->winner != labels[1]) __builtin_trap();
      if (!(j->confidence >= 1 && j->confidence <= 5)) __builtin_trap();
    }
  }
  boost::system::error_code ec;
  json::value v = json::parse(in, ec);
  if (!ec && v.is_object()) {
    std::string text = sb::workflows::classification_text(v.as_object(), 64);
    if (text.size() > 64) __builtin_trap();
    (void)sb::workflows::check_pipeline(v.as_object(), *w.gateway, *w.router, "mock/echo");
  }
  // A CI log: any bytes.
  auto e = sb::workflows::extract_evidence(in, size % 2 ? "test" : "build");
  if (e.evidence.size() > 200) __builtin_trap();
  for (const auto& l : e.evidence) {
    if (l.line == 0 || l.line > e.lines) __builtin_trap();
  }
  (void)sb::workflows::analyze_by_rules(e);
  for (const std::string& answer : {std::string(in), as_completion(in)}) {
    if (auto a = sb::workflows::parse_analysis(answer, 3)) {
      if (!(a->confidence >= 0 && a->confidence <= 1)) __builtin_trap();
      for (int n : a->cited) {
        if (n < 1 || n > 3) __builtin_trap();
      }
    }
  }
  auto c = w.local->classify(in.substr(0, 4096));
  if (c.intent > 1 || !(c.confidence >= 0 && c.confidence <= 1)) __builtin_trap();
  return 0;
}
