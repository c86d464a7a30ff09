#include "core/config_gateway.hpp"

#include <boost/json/parse.hpp>

#include <cstdlib>
#include <set>
#include <sstream>

#include "core/http_syntax.hpp"

namespace sb::core {
namespace {

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

class Entry {
 public:
  Entry(const toml::table& t, std::string label) : t_(t), label_(std::move(label)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw ConfigError(label_ + "." + key + ": " + what);
  }
  void check_keys(const std::set<std::string>& known) const {
    for (const auto& [k, v] : t_) {
      if (!known.count(std::string(k.str()))) fail(std::string(k.str()), "unknown key");
    }
  }
  std::string str(const std::string& key, const std::string& dflt, bool required = false) const {
    const toml::node* n = t_.get(key);
    if (!n) {
      if (required) fail(key, "is required");
      return dflt;
    }
    auto v = n->value_exact<std::string>();
    if (!v) fail(key, "expected a string");
    return *v;
  }
  std::int64_t integer(const std::string& key, std::int64_t dflt, std::int64_t lo,
                       std::int64_t hi) const {
    const toml::node* n = t_.get(key);
    if (!n) return dflt;
    auto v = n->value_exact<std::int64_t>();
    if (!v) fail(key, "expected an integer");
    if (*v < lo || *v > hi) {
      fail(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    }
    return *v;
  }
  double number(const std::string& key, double dflt, double lo, double hi) const {
    const toml::node* n = t_.get(key);
    if (!n) return dflt;
    auto v = n->value<double>();
    if (!v) fail(key, "expected a number");
    if (*v < lo || *v > hi) fail(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    return *v;
  }
  std::vector<std::string> strings(const std::string& key) const {
    std::vector<std::string> out;
    const toml::node* n = t_.get(key);
    if (!n) return out;
    const toml::array* a = n->as_array();
    if (!a) fail(key, "expected an array of strings");
    for (const auto& el : *a) {
      auto s = el.value_exact<std::string>();
      if (!s) fail(key, "expected an array of strings");
      out.push_back(*s);
    }
    return out;
  }
  const toml::table& table() const { return t_; }
  const std::string& label() const { return label_; }

 private:
  const toml::table& t_;
  std::string label_;
};

const toml::array* array_of_tables(const toml::table& file, const std::string& name) {
  const toml::node* n = file.get(name);
  if (!n) return nullptr;
  const toml::array* a = n->as_array();
  if (!a) throw ConfigError(name + ": expected [[" + name + "]] entries");
  for (const auto& el : *a) {
    if (!el.is_table()) throw ConfigError(name + ": expected [[" + name + "]] entries");
  }
  return a;
}


constexpr std::size_t kMaxIntents = 200, kMaxExamples = 200, kMaxIntentText = 4000;

// strategy = "intent": the intents, the classifier and its breaker; no targets of its own.
void parse_intent_route(const Entry& e, RouteConfig& r) {
  if (e.table().get("targets")) e.fail("targets", "an intent route has no targets: each intent names its target");
  r.classifier = e.str("classifier", "");
  r.fallback_intent = e.str("fallback_intent", "");
  r.embedding_model = e.str("embedding_model", "");
  r.classifier_timeout_ms = static_cast<int>(e.integer("classifier_timeout_ms", 10000, 100, 600000));
  r.classifier_failure_percent = static_cast<int>(e.integer("classifier_failure_percent", 50, 1, 100));
  r.classifier_min_calls = static_cast<int>(e.integer("classifier_min_calls", 5, 1, 100000));
  r.classifier_window_ms = static_cast<int>(e.integer("classifier_window_ms", 60000, 1000, 86400000));
  r.classifier_open_ms = static_cast<int>(e.integer("classifier_open_ms", 30000, 100, 86400000));
  r.max_text_chars = static_cast<int>(e.integer("max_text_chars", 20000, 1, 1000000));
  const toml::node* in = e.table().get("intents");
  const toml::array* ia = in ? in->as_array() : nullptr;
  if (!ia || ia->empty()) e.fail("intents", "expected a non-empty array of {name, description, examples, target}");
  if (ia->size() > kMaxIntents) e.fail("intents", "at most 200 intents");
  std::set<std::string> names;
  for (std::size_t j = 0; j < ia->size(); ++j) {
    const std::string at = "intents[" + std::to_string(j) + "]";
    const toml::table* it = ia->get(j)->as_table();
    if (!it) e.fail(at, "expected {name, description, examples, target}");
    Entry ie(*it, e.label() + "." + at);
    ie.check_keys({"name", "description", "examples", "target"});
    IntentConfig i;
    i.name = ie.str("name", "", true);
    if (i.name.empty() || i.name.size() > 64) ie.fail("name", "must be 1 to 64 characters");
    if (!names.insert(i.name).second) ie.fail("name", "duplicate intent \"" + i.name + "\"");
    i.description = ie.str("description", "");
    i.examples = ie.strings("examples");
    i.target = ie.str("target", "", true);
    if (i.target.empty()) ie.fail("target", "must name a route or provider/model");
    if (i.description.size() > kMaxIntentText) ie.fail("description", "at most 4000 characters");
    if (i.examples.size() > kMaxExamples) ie.fail("examples", "at most 200 examples");
    for (const auto& x : i.examples) {
      if (x.size() > kMaxIntentText) ie.fail("examples", "each example at most 4000 characters");
    }
    r.intents.push_back(std::move(i));
  }
  if (!r.fallback_intent.empty() && !names.count(r.fallback_intent)) {
    e.fail("fallback_intent", "is not one of the route's intents");
  }
}

}  // namespace

void load_gateway_tables(const toml::table& file, Config& c,
                         const std::map<std::string, std::string>& env) {
  if (const toml::array* providers = array_of_tables(file, "providers")) {
    for (std::size_t i = 0; i < providers->size(); ++i) {
      Entry e(*providers->get(i)->as_table(), "providers[" + std::to_string(i) + "]");
      e.check_keys({"name", "type", "base_url", "api_key_env", "timeout_ms", "headers", "models",
                    "latency_ms", "fail_rate", "fail_status", "job_concurrency", "embedding_rank"});
      ProviderConfig p;
      p.name = e.str("name", "", true);
      if (!valid_name(p.name)) e.fail("name", "use 1-64 characters from a-z 0-9 _ . -");
      p.type = e.str("type", "", true);
      if (p.type != "openai" && p.type != "anthropic" && p.type != "gemini" && p.type != "mock") {
        e.fail("type", "must be one of openai, anthropic, gemini, mock");
      }
      std::string default_url = p.type == "openai"      ? "https://api.openai.com/v1"
                                : p.type == "anthropic" ? "https://api.anthropic.com/v1"
                                : p.type == "gemini"    ? "https://generativelanguage.googleapis.com/v1beta"
                                                        : "";
      p.base_url = e.str("base_url", default_url);
      while (!p.base_url.empty() && p.base_url.back() == '/') p.base_url.pop_back();
      if (p.type != "mock" && p.base_url.rfind("http://", 0) != 0 &&
          p.base_url.rfind("https://", 0) != 0) {
        e.fail("base_url", "must start with http:// or https://");
      }
      p.api_key_env = e.str("api_key_env", "");
      if (!p.api_key_env.empty()) {
        auto it = env.find(p.api_key_env);
        const char* from_process = std::getenv(p.api_key_env.c_str());
        if (it != env.end()) {
          p.api_key = it->second;
        } else if (from_process) {
          p.api_key = from_process;
        }
        if (p.api_key.empty()) {
          e.fail("api_key_env", "environment variable " + p.api_key_env + " is not set");
        }
      }
      p.timeout_ms = static_cast<int>(e.integer("timeout_ms", 60000, 100, 3600000));
      if (const toml::node* h = e.table().get("headers")) {
        const toml::table* ht = h->as_table();
        if (!ht) e.fail("headers", "expected a table of strings");
        for (const auto& [k, v] : *ht) {
          auto s = v.value_exact<std::string>();
          const std::string key = "headers." + std::string(k.str());
          if (!s) e.fail(key, "expected a string");
          if (!is_http_token(k.str())) e.fail(key, "is not a valid HTTP header name");
          if (breaks_header(*s)) e.fail(key, "must not contain a line break or NUL");  // (value not echoed)
          p.headers.emplace_back(std::string(k.str()), *s);
        }
      }
      p.models = e.strings("models");
      p.latency_ms = static_cast<int>(e.integer("latency_ms", 0, 0, 600000));
      p.fail_rate = e.number("fail_rate", 0, 0, 1);
      p.fail_status = static_cast<int>(e.integer("fail_status", 500, 400, 599));
      p.embedding_rank = static_cast<int>(e.integer("embedding_rank", 0, 0, 4096));
      p.job_concurrency = static_cast<int>(e.integer("job_concurrency", 0, 0, 100000));
      c.providers.push_back(std::move(p));
    }
  }
  if (const toml::array* routes = array_of_tables(file, "routes")) {
    for (std::size_t i = 0; i < routes->size(); ++i) {
      Entry e(*routes->get(i)->as_table(), "routes[" + std::to_string(i) + "]");
      e.check_keys({"name", "strategy", "targets", "intents", "classifier", "fallback_intent", "classifier_timeout_ms",
                    "classifier_failure_percent", "classifier_min_calls", "classifier_window_ms",
                    "classifier_open_ms", "max_text_chars", "embedding_model"});
      RouteConfig r;
      r.name = e.str("name", "", true);
      if (r.name.empty() || r.name.find('/') != std::string::npos) {
        e.fail("name", "must be non-empty and contain no '/'");
      }
      r.strategy = e.str("strategy", "priority");
      if (r.strategy != "priority" && r.strategy != "weighted" && r.strategy != "least_latency" &&
          r.strategy != "intent") {
        e.fail("strategy", "must be one of priority, weighted, least_latency, intent");
      }
      if (r.strategy == "intent") {
        parse_intent_route(e, r);
        c.routes.push_back(std::move(r));
        continue;
      }
      for (const char* k : {"intents", "classifier", "fallback_intent", "embedding_model"}) {
        if (e.table().get(k)) e.fail(k, "is only for strategy = \"intent\"");
      }
      const toml::node* tn = e.table().get("targets");
      const toml::array* ta = tn ? tn->as_array() : nullptr;
      if (!ta || ta->empty()) e.fail("targets", "expected a non-empty array of {provider, model}");
      for (std::size_t j = 0; j < ta->size(); ++j) {
        const toml::table* tt = ta->get(j)->as_table();
        if (!tt) e.fail("targets[" + std::to_string(j) + "]", "expected {provider, model, weight}");
        Entry te(*tt, e.label() + ".targets[" + std::to_string(j) + "]");
        te.check_keys({"provider", "model", "weight"});
        RouteTarget t;
        t.provider = te.str("provider", "", true);
        t.model = te.str("model", "", true);
        t.weight = static_cast<int>(te.integer("weight", 1, 0, 1000000));
        r.targets.push_back(std::move(t));
      }
      c.routes.push_back(std::move(r));
    }
  }
  if (const toml::array* prices = array_of_tables(file, "prices")) {
    for (std::size_t i = 0; i < prices->size(); ++i) {
      Entry e(*prices->get(i)->as_table(), "prices[" + std::to_string(i) + "]");
      e.check_keys({"model", "input_per_mtok", "output_per_mtok", "cached_input_per_mtok"});
      PriceConfig p;
      p.model = e.str("model", "", true);
      if (p.model.empty()) e.fail("model", "must not be empty");
      p.input_per_mtok = e.number("input_per_mtok", 0, 0, 1e6);
      p.output_per_mtok = e.number("output_per_mtok", 0, 0, 1e6);
      p.cached_input_per_mtok = e.number("cached_input_per_mtok", -1, 0, 1e6);
      c.prices.push_back(std::move(p));
    }
  }
  if (const toml::array* tools = array_of_tables(file, "tools")) {
    for (std::size_t i = 0; i < tools->size(); ++i) {
      Entry e(*tools->get(i)->as_table(), "tools[" + std::to_string(i) + "]");
      e.check_keys({"name", "type", "description", "url", "method", "parameters", "headers_env", "timeout_ms",
                    "allow_private"});
      ToolConfig t;
      t.name = e.str("name", "", true);
      if (!valid_name(t.name) || t.name.find("__") != std::string::npos) {
        e.fail("name", "use 1-64 characters from a-z 0-9 _ . - (no \"__\")");
      }
      if (t.name == "knowledge_search" || t.name == "get_document" || t.name == "http_get") {
        e.fail("name", "is a built-in tool's name");
      }
      t.type = e.str("type", "http");
      if (t.type != "http" && t.type != "mcp") e.fail("type", "must be http or mcp");
      t.description = e.str("description", "");
      t.url = e.str("url", "", true);
      if (t.url.rfind("http://", 0) != 0 && t.url.rfind("https://", 0) != 0) e.fail("url", "must be an http:// or https:// URL");
      t.method = e.str("method", "POST");
      if (t.method != "POST" && t.method != "GET") e.fail("method", "must be POST or GET");
      t.parameters = e.str("parameters", R"({"type":"object"})");
      {
        boost::system::error_code ec;
        auto v = boost::json::parse(t.parameters, ec);
        if (ec || !v.is_object()) e.fail("parameters", "must be a JSON schema object (a JSON string)");
      }
      if (const toml::node* h = e.table().get("headers_env")) {
        const toml::table* ht = h->as_table();
        if (!ht) e.fail("headers_env", "expected a table of header = \"ENV_VAR\"");
        for (const auto& [k, v] : *ht) {
          const std::string key = "headers_env." + std::string(k.str());
          auto var = v.value_exact<std::string>();
          if (!var) e.fail(key, "expected the name of an environment variable");
          if (!is_http_token(k.str())) e.fail(key, "is not a valid HTTP header name");
          auto it = env.find(*var);
          const char* from_process = std::getenv(var->c_str());
          std::string value = it != env.end() ? it->second : from_process ? std::string(from_process) : std::string();
          if (value.empty()) e.fail(key, "environment variable " + *var + " is not set");
          if (breaks_header(value)) e.fail(key, "must not contain a line break or NUL");
          t.headers.emplace_back(std::string(k.str()), value);
        }
      }
      t.timeout_ms = static_cast<int>(e.integer("timeout_ms", 10000, 100, 600000));
      if (const toml::node* ap = e.table().get("allow_private")) {
        auto b = ap->value_exact<bool>();
        if (!b) e.fail("allow_private", "expected true or false");
        t.allow_private = *b;
      }
      c.tools.push_back(std::move(t));
    }
  }
  if (const toml::array* agents = array_of_tables(file, "agents")) {
    for (std::size_t i = 0; i < agents->size(); ++i) {
      Entry e(*agents->get(i)->as_table(), "agents[" + std::to_string(i) + "]");
      e.check_keys({"name", "model", "system_prompt", "tools", "collections", "max_iterations", "timeout_s",
                    "max_tokens_total", "temperature"});
      AgentConfig a;
      a.name = e.str("name", "", true);
      if (!valid_name(a.name)) e.fail("name", "use 1-64 characters from a-z 0-9 _ . -");
      a.model = e.str("model", "", true);
      a.system_prompt = e.str("system_prompt", "");
      a.tools = e.strings("tools");
      for (const auto& t : a.tools) {
        bool known = t == "knowledge_search" || t == "get_document" || t == "http_get";
        for (const auto& x : c.tools) known = known || x.name == t || t.rfind(x.name + "__", 0) == 0;
        if (!known) e.fail("tools", "unknown tool \"" + t + "\" (built in: knowledge_search, get_document, http_get; or a [[tools]] name)");
      }
      a.collections = e.strings("collections");
      a.max_iterations = static_cast<int>(e.integer("max_iterations", 10, 1, 100));
      a.timeout_s = static_cast<int>(e.integer("timeout_s", 300, 1, 3600));
      a.max_tokens_total = e.integer("max_tokens_total", 0, 0, 1'000'000'000);
      if (e.table().get("temperature")) a.temperature = e.number("temperature", 0, 0, 2);
      c.agents.push_back(std::move(a));
    }
  }
  if (const toml::array* assistants = array_of_tables(file, "assistants")) {
    for (std::size_t i = 0; i < assistants->size(); ++i) {
      Entry e(*assistants->get(i)->as_table(), "assistants[" + std::to_string(i) + "]");
      e.check_keys({"name", "collections", "model", "system_prompt", "mode", "top_k", "filters", "score_threshold",
                    "memory_turns", "max_context_tokens", "rewrite_followups", "temperature", "max_tokens",
                    "no_sources_reply", "cache"});
      AssistantConfig a;
      a.name = e.str("name", "", true);
      if (!valid_name(a.name)) e.fail("name", "use 1-64 characters from a-z 0-9 _ . -");
      a.collections = e.strings("collections");
      if (a.collections.empty()) e.fail("collections", "name at least one collection");
      a.model = e.str("model", "", true);
      if (a.model.empty()) e.fail("model", "must not be empty");
      a.system_prompt = e.str("system_prompt", "");
      a.mode = e.str("mode", "hybrid");
      if (a.mode != "hybrid" && a.mode != "semantic" && a.mode != "keyword") {
        e.fail("mode", "must be one of hybrid, semantic, keyword");
      }
      a.top_k = static_cast<int>(e.integer("top_k", 5, 1, 100));
      if (const toml::node* f = e.table().get("filters")) {
        const toml::table* ft = f->as_table();
        if (!ft) e.fail("filters", "expected a table {tags, document_ids, metadata}");
        std::ostringstream json;
        json << toml::json_formatter{*ft};
        a.filters = json.str();
      }
      if (e.table().get("score_threshold")) a.score_threshold = e.number("score_threshold", 0, 0, 1e9);
      a.memory_turns = static_cast<int>(e.integer("memory_turns", 20, 0, 1000));
      a.max_context_tokens = static_cast<int>(e.integer("max_context_tokens", 4000, 0, 10'000'000));
      if (const toml::node* r = e.table().get("rewrite_followups")) {
        auto b = r->value_exact<bool>();
        if (!b) e.fail("rewrite_followups", "expected true or false");
        a.rewrite_followups = *b;
      }
      if (e.table().get("temperature")) a.temperature = e.number("temperature", 0, 0, 2);
      if (e.table().get("max_tokens")) a.max_tokens = e.integer("max_tokens", 0, 1, 1'000'000);
      a.no_sources_reply = e.str("no_sources_reply", "");
      if (const toml::node* cn = e.table().get("cache")) {
        auto b = cn->value_exact<bool>();
        if (!b) e.fail("cache", "expected true or false");
        a.cache = *b;
      }
      c.assistants.push_back(std::move(a));
    }
  }
}

void validate_gateway(const Config& c) {
  std::set<std::string> providers;
  for (std::size_t i = 0; i < c.providers.size(); ++i) {
    if (!providers.insert(c.providers[i].name).second) {
      throw ConfigError("providers[" + std::to_string(i) + "].name: duplicate provider \"" +
                        c.providers[i].name + "\"");
    }
  }
  std::set<std::string> assistants;
  for (std::size_t i = 0; i < c.assistants.size(); ++i) {
    if (!assistants.insert(c.assistants[i].name).second) {
      throw ConfigError("assistants[" + std::to_string(i) + "].name: duplicate assistant \"" + c.assistants[i].name +
                        "\"");
    }
  }
  std::set<std::string> tools;
  for (std::size_t i = 0; i < c.tools.size(); ++i) {
    if (!tools.insert(c.tools[i].name).second) {
      throw ConfigError("tools[" + std::to_string(i) + "].name: duplicate tool \"" + c.tools[i].name + "\"");
    }
  }
  std::set<std::string> agents;
  for (std::size_t i = 0; i < c.agents.size(); ++i) {
    if (!agents.insert(c.agents[i].name).second) {
      throw ConfigError("agents[" + std::to_string(i) + "].name: duplicate agent \"" + c.agents[i].name + "\"");
    }
  }
  std::set<std::string> routes;
  for (std::size_t i = 0; i < c.routes.size(); ++i) {
    const auto& r = c.routes[i];
    std::string label = "routes[" + std::to_string(i) + "]";
    if (!routes.insert(r.name).second) {
      throw ConfigError(label + ".name: duplicate route \"" + r.name + "\"");
    }
    // An intent's target and the classifier: a route that is not an intent route (no loops),
    // or provider/model of a known provider.
    auto check_model = [&](const std::string& field, const std::string& model) {
      for (const auto& other : c.routes) {
        if (other.name != model) continue;
        if (other.strategy == "intent") {
          throw ConfigError(label + "." + field + ": \"" + model + "\" is an intent route; name a plain route or provider/model");
        }
        return;
      }
      auto slash = model.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == model.size()) {
        throw ConfigError(label + "." + field + ": \"" + model + "\" is neither a route nor provider/model");
      }
      if (!providers.count(model.substr(0, slash))) {
        throw ConfigError(label + "." + field + ": unknown provider \"" + model.substr(0, slash) + "\"");
      }
    };
    for (std::size_t j = 0; j < r.intents.size(); ++j) {
      check_model("intents[" + std::to_string(j) + "].target", r.intents[j].target);
    }
    if (!r.classifier.empty()) check_model("classifier", r.classifier);
    if (!r.embedding_model.empty()) check_model("embedding_model", r.embedding_model);
    for (std::size_t j = 0; j < r.targets.size(); ++j) {
      if (!providers.count(r.targets[j].provider)) {
        throw ConfigError(label + ".targets[" + std::to_string(j) + "].provider: unknown provider \"" +
                          r.targets[j].provider + "\"");
      }
    }
  }
  for (auto [key, pr] : {std::pair{"workflows.pipeline_route", &c.workflows.pipeline_route},
                         std::pair{"workflows.generate_model", &c.workflows.generate_model}}) {
    if (pr->empty()) continue;
    bool known = routes.count(*pr) > 0;
    if (auto slash = pr->find('/'); !known && slash != std::string::npos && slash > 0 && slash + 1 < pr->size()) {
      known = providers.count(pr->substr(0, slash)) > 0 || (c.providers.empty() && pr->substr(0, slash) == "mock");
    }
    if (!known) {
      throw ConfigError(std::string(key) + ": \"" + *pr + "\" is neither a route nor provider/model of a provider");
    }
  }
}

}  // namespace sb::core
