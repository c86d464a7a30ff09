#include "chat/assistant.hpp"

#include <boost/json/parse.hpp>

#include "core/json_text.hpp"
#include "knowledge/filters.hpp"

namespace sb::chat {

core::Result<Assistant> make_assistant(const core::AssistantConfig& c) {
  Assistant a;
  a.id = c.name;
  a.name = c.name;
  a.collections = c.collections;
  a.model = c.model;
  a.system_prompt = c.system_prompt;
  a.mode = c.mode == "semantic"  ? knowledge::SearchMode::semantic
           : c.mode == "keyword" ? knowledge::SearchMode::keyword
                                 : knowledge::SearchMode::hybrid;
  a.top_k = c.top_k;
  boost::system::error_code ec;
  boost::json::value filters = boost::json::parse(c.filters, ec);
  if (ec) return core::Error(core::ErrorKind::invalid_field, "'filters' is not valid JSON", "filters");
  auto f = knowledge::parse_filters(&filters);
  if (!f) return std::move(f).error();
  a.filters = std::move(*f);
  a.filters_json = c.filters;
  a.score_threshold = c.score_threshold;
  a.memory_turns = c.memory_turns;
  a.max_context_tokens = c.max_context_tokens;
  a.rewrite_followups = c.rewrite_followups;
  a.temperature = c.temperature;
  a.max_tokens = c.max_tokens;
  a.no_sources_reply = c.no_sources_reply;
  a.cache = c.cache;
  return a;
}

const char* mode_name(knowledge::SearchMode mode) {
  switch (mode) {
    case knowledge::SearchMode::semantic:
      return "semantic";
    case knowledge::SearchMode::keyword:
      return "keyword";
    case knowledge::SearchMode::hybrid:
      break;
  }
  return "hybrid";
}

namespace json = boost::json;

json::object assistant_spec(const Assistant& a) {
  json::array cols;
  for (const auto& c : a.collections) cols.push_back(json::string(c));
  boost::system::error_code ec;
  json::value filters = json::parse(a.filters_json, ec);
  if (ec) filters = json::object();
  json::object retrieval;
  retrieval["mode"] = mode_name(a.mode);
  retrieval["top_k"] = a.top_k;
  retrieval["filters"] = std::move(filters);
  retrieval["score_threshold"] = a.score_threshold ? json::value(*a.score_threshold) : json::value(nullptr);
  json::object o;
  o["name"] = a.name;
  o["collections"] = std::move(cols);
  o["model"] = a.model;
  o["system_prompt"] = a.system_prompt.empty() ? json::value(nullptr) : json::value(a.system_prompt);
  o["retrieval"] = std::move(retrieval);
  o["memory_turns"] = a.memory_turns;
  o["max_context_tokens"] = a.max_context_tokens;
  o["rewrite_followups"] = a.rewrite_followups;
  o["temperature"] = a.temperature ? json::value(*a.temperature) : json::value(nullptr);
  o["max_tokens"] = a.max_tokens ? json::value(*a.max_tokens) : json::value(nullptr);
  o["no_sources_reply"] = a.no_sources_reply.empty() ? json::value(nullptr) : json::value(a.no_sources_reply);
  o["cache"] = a.cache;
  return o;
}

namespace {

using core::Error;
using core::ErrorKind;

Error bad(const std::string& field, const std::string& what) {
  return Error(ErrorKind::invalid_field, "'" + field + "' " + what, field);
}

bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) return false;
  }
  return true;
}

const json::value* field(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  return v && !v->is_null() ? v : nullptr;
}

core::Result<std::optional<std::string>> text(const json::object& o, std::string_view name, const std::string& path,
                                             std::size_t max) {
  const json::value* v = field(o, name);
  if (!v) return std::optional<std::string>();
  if (!v->is_string()) return bad(path, "must be a string");
  if (v->as_string().size() > max) return bad(path, "is longer than " + std::to_string(max) + " characters");
  return std::optional<std::string>(std::string(v->as_string()));
}

core::Result<std::optional<std::int64_t>> integer(const json::object& o, std::string_view name, const std::string& path,
                                                 std::int64_t lo, std::int64_t hi) {
  const json::value* v = field(o, name);
  if (!v) return std::optional<std::int64_t>();
  if (!v->is_int64() || v->as_int64() < lo || v->as_int64() > hi) {
    return bad(path, "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  }
  return std::optional<std::int64_t>(v->as_int64());
}

core::Result<std::optional<double>> number(const json::object& o, std::string_view name, const std::string& path,
                                           double lo, double hi, const char* range) {
  const json::value* v = field(o, name);
  if (!v) return std::optional<double>();
  if (!v->is_number() || v->to_number<double>() < lo || v->to_number<double>() > hi) {
    return bad(path, std::string("must be a number from ") + range);
  }
  return std::optional<double>(v->to_number<double>());
}

core::Result<std::optional<bool>> boolean(const json::object& o, std::string_view name, const std::string& path) {
  const json::value* v = field(o, name);
  if (!v) return std::optional<bool>();
  if (!v->is_bool()) return bad(path, "must be true or false");
  return std::optional<bool>(v->as_bool());
}

}  // namespace

core::Result<Assistant> assistant_from_spec(const json::object& spec) {
  core::AssistantConfig c;
  auto name = text(spec, "name", "name", 64);
  if (!name) return std::move(name).error();
  if (!*name || !valid_name(**name)) return bad("name", "must be 1-64 characters from a-z 0-9 _ . -");
  c.name = **name;
  auto cols = knowledge::string_array(spec, "collections");
  if (!cols) return std::move(cols).error();
  if (cols->empty() || cols->size() > 16) return bad("collections", "must name 1 to 16 collections");
  c.collections = std::move(*cols);
  auto model = text(spec, "model", "model", 256);
  if (!model) return std::move(model).error();
  if (!*model || (*model)->empty()) return bad("model", "is required (a route or provider/model)");
  c.model = **model;
  auto prompt = text(spec, "system_prompt", "system_prompt", 32768);
  if (!prompt) return std::move(prompt).error();
  c.system_prompt = prompt->value_or("");
  if (const json::value* r = field(spec, "retrieval")) {
    if (!r->is_object()) return bad("retrieval", "must be an object");
    const json::object& ro = r->as_object();
    auto mode = text(ro, "mode", "retrieval.mode", 16);
    if (!mode) return std::move(mode).error();
    c.mode = mode->value_or("hybrid");
    if (c.mode != "hybrid" && c.mode != "semantic" && c.mode != "keyword") {
      return bad("retrieval.mode", "must be \"hybrid\", \"semantic\" or \"keyword\"");
    }
    auto top_k = integer(ro, "top_k", "retrieval.top_k", 1, 100);
    if (!top_k) return std::move(top_k).error();
    c.top_k = static_cast<int>(top_k->value_or(5));
    if (const json::value* f = field(ro, "filters")) {
      auto parsed = knowledge::parse_filters(f);
      if (!parsed) {
        Error e = std::move(parsed).error();
        e.param = "retrieval." + e.param;
        return e;
      }
      c.filters = core::to_json(*f);
    }
    auto threshold = number(ro, "score_threshold", "retrieval.score_threshold", 0, 1e9, "0 up");
    if (!threshold) return std::move(threshold).error();
    c.score_threshold = *threshold;
  }
  auto turns = integer(spec, "memory_turns", "memory_turns", 0, 1000);
  if (!turns) return std::move(turns).error();
  c.memory_turns = static_cast<int>(turns->value_or(20));
  auto budget = integer(spec, "max_context_tokens", "max_context_tokens", 0, 10'000'000);
  if (!budget) return std::move(budget).error();
  c.max_context_tokens = static_cast<int>(budget->value_or(4000));
  auto rewrite = boolean(spec, "rewrite_followups", "rewrite_followups");
  if (!rewrite) return std::move(rewrite).error();
  c.rewrite_followups = rewrite->value_or(true);
  auto temperature = number(spec, "temperature", "temperature", 0, 2, "0 to 2");
  if (!temperature) return std::move(temperature).error();
  c.temperature = *temperature;
  auto max_tokens = integer(spec, "max_tokens", "max_tokens", 1, 1'000'000);
  if (!max_tokens) return std::move(max_tokens).error();
  c.max_tokens = *max_tokens;
  auto reply = text(spec, "no_sources_reply", "no_sources_reply", 4096);
  if (!reply) return std::move(reply).error();
  c.no_sources_reply = reply->value_or("");
  auto cache = boolean(spec, "cache", "cache");
  if (!cache) return std::move(cache).error();
  c.cache = cache->value_or(true);
  return make_assistant(c);
}

json::object merge_spec(json::object spec, const json::object& patch) {
  for (const auto& kv : patch) {
    if (kv.key() == "retrieval" && kv.value().is_object() && spec.contains("retrieval") &&
        spec.at("retrieval").is_object()) {
      json::object& r = spec.at("retrieval").as_object();
      for (const auto& rk : kv.value().as_object()) r[rk.key()] = rk.value();
    } else {
      spec[kv.key()] = kv.value();
    }
  }
  return spec;
}

}  // namespace sb::chat
