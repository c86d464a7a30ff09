// An agent's spec as JSON: read from an inline agent or the API (checked like [[agents]]), and
// written back for the API, the runs and jobs.

#include "workflows/agent.hpp"

namespace sb::workflows {

namespace json = boost::json;
using core::Error;
using core::ErrorKind;

core::Result<core::AgentConfig> agent_from_json(const json::object& o, const std::vector<core::ToolConfig>* tools) {
  core::AgentConfig a;
  auto bad = [](const std::string& field, const std::string& what) {
    return Error(ErrorKind::invalid_field, "'agent." + field + "' " + what, "agent." + field);
  };
  for (const auto& [k, v] : o) {
    const std::string key(k);
    if (key == "name" || key == "model" || key == "system_prompt") {
      if (!v.is_string()) return bad(key, "must be a string");
      (key == "name" ? a.name : key == "model" ? a.model : a.system_prompt) = std::string(v.get_string());
    } else if (key == "tools" || key == "collections") {
      if (!v.is_array()) return bad(key, "must be an array of strings");
      for (const auto& x : v.get_array()) {
        if (!x.is_string()) return bad(key, "must be an array of strings");
        (key == "tools" ? a.tools : a.collections).emplace_back(x.get_string());
      }
    } else if (key == "max_iterations" || key == "timeout_s" || key == "max_tokens_total") {
      const std::int64_t hi = key == "max_iterations" ? 100 : key == "timeout_s" ? 3600 : 1'000'000'000;
      const std::int64_t lo = key == "max_tokens_total" ? 0 : 1;
      if (!v.is_int64() || v.get_int64() < lo || v.get_int64() > hi) {
        return bad(key, "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
      }
      if (key == "max_iterations") a.max_iterations = static_cast<int>(v.get_int64());
      else if (key == "timeout_s") a.timeout_s = static_cast<int>(v.get_int64());
      else a.max_tokens_total = v.get_int64();
    } else if (key == "temperature") {
      if (v.is_null()) continue;
      if (!v.is_number() || v.to_number<double>() < 0 || v.to_number<double>() > 2) return bad(key, "must be a number from 0 to 2");
      a.temperature = v.to_number<double>();
    } else {
      return Error(ErrorKind::unknown_parameter, "Unrecognized request argument supplied: agent." + key, "agent." + key);
    }
  }
  if (a.model.empty()) return bad("model", "is required: a route or provider/model");
  if (a.name.empty()) a.name = "(inline)";
  for (const auto& t : a.tools) {
    bool known = t == "knowledge_search" || t == "get_document" || t == "http_get";
    if (tools) {
      for (const auto& x : *tools) known = known || x.name == t || t.rfind(x.name + "__", 0) == 0;
    }
    if (!known) return bad("tools", "names an unknown tool '" + t + "' (built in: knowledge_search, get_document, http_get; or a [[tools]] name)");
  }
  if (a.system_prompt.size() > 100000) return bad("system_prompt", "is longer than 100000 characters");
  return a;
}

json::object agent_json(const core::AgentConfig& a) {
  json::object o;
  o["name"] = a.name;
  o["model"] = a.model;
  o["system_prompt"] = a.system_prompt;
  json::array tools, collections;
  for (const auto& t : a.tools) tools.push_back(json::string(t));
  for (const auto& c : a.collections) collections.push_back(json::string(c));
  o["tools"] = std::move(tools);
  o["collections"] = std::move(collections);
  o["max_iterations"] = a.max_iterations;
  o["timeout_s"] = a.timeout_s;
  o["max_tokens_total"] = a.max_tokens_total;
  o["temperature"] = a.temperature ? json::value(*a.temperature) : json::value(nullptr);
  return o;
}

}  // namespace sb::workflows
