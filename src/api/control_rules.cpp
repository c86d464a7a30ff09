#include "api/control_rules.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>

#include "control/keys.hpp"

namespace sb::api {

namespace json = boost::json;
namespace ip = boost::asio::ip;

namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::optional<ip::address> parse_ip(std::string_view s) {
  boost::system::error_code ec;
  auto a = ip::make_address(std::string(s), ec);
  if (ec) return std::nullopt;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

// Where the value of `"key":` starts (after whitespace), npos when the key is not there.
std::size_t value_at(std::string_view body, std::string_view key, std::size_t from, std::size_t& next) {
  std::string needle;
  needle.reserve(key.size() + 2);
  needle.append("\"").append(key).append("\"");
  for (std::size_t at = body.find(needle, from); at != std::string_view::npos; at = body.find(needle, at + 1)) {
    std::size_t i = at + needle.size();
    while (i < body.size() && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t')) ++i;
    if (i < body.size() && body[i] == ':') {
      ++i;
      while (i < body.size() && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t')) ++i;
      next = at + 1;
      return i;
    }
  }
  return std::string_view::npos;
}

}  // namespace

std::optional<std::string_view> scan_string(std::string_view body, std::string_view key) {
  std::size_t from = 0, next = 0;
  for (;;) {
    std::size_t i = value_at(body, key, from, next);
    if (i == std::string_view::npos) return std::nullopt;
    if (i < body.size() && body[i] == '"') {
      std::size_t end = i + 1;
      while (end < body.size() && body[end] != '"') {
        if (body[end] == '\\') return std::nullopt;  // escapes: not a name we match on
        ++end;
      }
      if (end >= body.size()) return std::nullopt;
      return body.substr(i + 1, end - i - 1);
    }
    from = next;
  }
}

std::optional<long long> scan_integer(std::string_view body, std::string_view key) {
  std::size_t from = 0, next = 0;
  for (;;) {
    std::size_t i = value_at(body, key, from, next);
    if (i == std::string_view::npos) return std::nullopt;
    long long v = 0;
    auto [p, ec] = std::from_chars(body.data() + i, body.data() + body.size(), v);
    if (ec == std::errc() && v >= 0) return v;
    from = next;
  }
}

std::optional<long long> scan_max_tokens(std::string_view body) {
  // One pass over the "max_ keys; the first of max_completion_tokens, max_tokens, max_output_tokens
  // in that order of preference.
  std::optional<long long> found[3];
  constexpr std::string_view kKeys[3] = {"max_completion_tokens\"", "max_tokens\"", "max_output_tokens\""};
  for (std::size_t at = body.find("\"max_"); at != std::string_view::npos; at = body.find("\"max_", at + 1)) {
    std::string_view rest = body.substr(at + 1);
    for (int k = 0; k < 3; ++k) {
      if (found[k] || rest.substr(0, kKeys[k].size()) != kKeys[k]) continue;
      std::size_t i = at + 1 + kKeys[k].size();
      while (i < body.size() && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t')) ++i;
      if (i >= body.size() || body[i] != ':') continue;
      ++i;
      while (i < body.size() && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t')) ++i;
      long long v = 0;
      auto [p, ec] = std::from_chars(body.data() + i, body.data() + body.size(), v);
      if (ec == std::errc() && v >= 0) found[k] = v;
    }
  }
  for (const auto& f : found) {
    if (f) return f;
  }
  return std::nullopt;
}

std::vector<std::string> models_of(std::string_view body) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return out;
  auto add = [&out](const json::value* m) {
    if (m && m->is_string()) out.emplace_back(m->get_string());
  };
  auto add_request = [&add](const json::value* r) {
    if (r && r->is_object()) add(r->get_object().if_contains("model"));
  };
  const json::object& o = v.get_object();
  add(o.if_contains("model"));
  if (const auto* ms = o.if_contains("models"); ms && ms->is_array()) {  // fan-out, comparison
    for (const auto& m : ms->get_array()) add(&m);
  }
  add(o.if_contains("route"));       // /api/v1/intent
  add(o.if_contains("classifier"));  // (its inline intents' classifier)
  if (const auto* a = o.if_contains("assistant"); a && a->is_string()) {  // /api/v1/chat
    out.push_back("assistant/" + std::string(a->get_string()));
  }
  add_request(o.if_contains("request"));
  if (const auto* jobs = o.if_contains("jobs"); jobs && jobs->is_array()) {
    for (const auto& j : jobs->get_array()) {
      if (j.is_object()) add_request(j.get_object().if_contains("request"));
    }
  }
  return out;
}

std::optional<std::string> top_level_string(std::string_view body, std::string_view key) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto* f = v.get_object().if_contains(key);
  if (!f || !f->is_string()) return std::nullopt;
  return std::string(f->get_string());
}

bool TrustedProxies::Network::contains(const ip::address& a) const {
    if (a.is_v4() != address.is_v4()) return false;
    if (a.is_v4()) {
      const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
      return (a.to_v4().to_uint() & mask) == (address.to_v4().to_uint() & mask);
    }
    auto x = a.to_v6().to_bytes(), y = address.to_v6().to_bytes();
    unsigned bits = prefix;
    for (std::size_t i = 0; i < 16 && bits > 0; ++i, bits = bits >= 8 ? bits - 8 : 0) {
      const unsigned char m = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
      if ((x[i] & m) != (y[i] & m)) return false;
    }
    return true;
}

TrustedProxies::TrustedProxies(const std::vector<std::string>& list) {
  auto& out = nets_;
  for (const auto& item : list) {
    auto slash = item.find('/');
    auto a = parse_ip(std::string_view(item).substr(0, slash));
    if (!a) continue;
    unsigned max = a->is_v4() ? 32 : 128, prefix = max;
    if (slash != std::string::npos) {
      auto [p, ec] = std::from_chars(item.data() + slash + 1, item.data() + item.size(), prefix);
      if (ec != std::errc() || prefix > max) continue;
    }
    out.push_back({*a, prefix});
  }
}

TrustedProxies::~TrustedProxies() = default;

std::string TrustedProxies::client_of(std::string_view peer, std::string_view xff) const {
  const auto& trusted = nets_;
  auto trusted_addr = [&](std::string_view s) {
    auto a = parse_ip(s);
    return a && std::any_of(trusted.begin(), trusted.end(), [&](const Network& n) { return n.contains(*a); });
  };
  if (trusted.empty() || xff.empty() || !trusted_addr(peer)) return std::string(peer);
  // Rightmost first: each trusted proxy appended the address it saw.
  while (!xff.empty()) {
    auto comma = xff.rfind(',');
    std::string_view item = comma == std::string_view::npos ? xff : xff.substr(comma + 1);
    xff = comma == std::string_view::npos ? std::string_view{} : xff.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    auto a = parse_ip(item);
    if (!a) return std::string(peer);  // garbage: believe only the peer
    if (!trusted_addr(item)) return a->to_string();
  }
  return std::string(peer);
}

std::string client_ip(std::string_view peer, std::string_view forwarded_for, const std::vector<std::string>& trusted) {
  return TrustedProxies(trusted).client_of(peer, forwarded_for);
}

RouteRule route_rule(std::string_view method, std::string_view p) {
  using namespace control;
  const bool get = method == "GET" || method == "HEAD";
  if (p == "/v1/chat/completions" || p == "/v1/completions" || p == "/v1/responses" || p == "/v1/messages") {
    return {kChat, true, ""};
  }
  if (p == "/v1/embeddings") return {kEmbeddings, true, ""};
  if (starts_with(p, "/v1/models")) return {0, false, ""};
  if (p == "/mcp") return {kChat, false, ""};  // (its tools search, read and run agents)
  if (!starts_with(p, "/api/") && !starts_with(p, "/v1")) return {0, false, ""};  // /health, /metrics...
  if (p == "/api/v1/jobs/{id}" && method == "DELETE") return {kJobs, false, "job.cancelled"};
  if (starts_with(p, "/api/v1/jobs") || starts_with(p, "/api/v1/status/") || starts_with(p, "/api/v1/results/")) {
    return {kJobs, false, ""};
  }
  if (starts_with(p, "/api/v1/keys")) {
    if (method == "POST" && p == "/api/v1/keys") return {kAdmin, false, "key.created"};
    if (method == "POST") return {kAdmin, false, "key.rotated"};
    if (method == "PATCH") return {kAdmin, false, "key.updated"};
    if (method == "DELETE") return {kAdmin, false, "key.revoked"};
    return {kAdmin, false, ""};
  }
  if (p == "/api/v1/chat" || p == "/api/v1/intent" || p == "/api/v1/intent-router-resilient") return {kChat, true, ""};
  if (p == "/api/v1/fanout" || p == "/api/v1/comparison") return {kChat, false, "", true};
  if (p == "/api/v1/comparison/batch") return {kJobs, false, ""};  // (jobs: the allow-list checks its models)
  if (starts_with(p, "/api/v1/assistants")) {
    if (get) return {kChat, false, ""};
    if (method == "POST") return {kAdmin, false, "assistant.created"};
    if (method == "PATCH") return {kAdmin, false, "assistant.updated"};
    return {kAdmin, false, "assistant.deleted"};
  }
  if (starts_with(p, "/api/v1/conversations")) {
    if (method == "DELETE") return {kChat, false, "conversation.deleted"};
    if (p.ends_with("/restore")) return {kChat, false, "conversation.restored"};
    return {kChat, false, ""};
  }
  if (p == "/api/v1/events" || p == "/api/v1/ws") return {0, false, ""};
  if (p == "/api/v1/workflows/analyze-log" || p == "/api/v1/generate") return {kChat, true, ""};
  if (p == "/api/v1/model/info") return {kChat, false, ""};
  if (p == "/api/v1/workflows/execute") return {kChat, true, ""};
  if (starts_with(p, "/api/v1/agents")) {
    if (get) return {kChat, false, ""};
    if (method == "POST") return {kAdmin, false, "agent.created"};
    if (method == "PATCH") return {kAdmin, false, "agent.updated"};
    return {kAdmin, false, "agent.deleted"};
  }
  if (starts_with(p, "/api/v1/workflows/")) return {kChat, false, ""};  // runs, types  // (filtered by the key's own)
  if (p == "/api/v1/audit") return {kAdmin, false, ""};
  if (p == "/api/v1/config/reload") return {kAdmin, false, "config.reloaded"};
  if (p == "/api/v1/providers/{name}/test") return {kAdmin, false, "provider.tested"};
  if (p == "/api/v1/providers" || p == "/api/v1/usage" || p == "/api/v1/rate-limit/status" || p == "/api/v1/echo") {
    return {0, false, ""};
  }
  const bool collections = starts_with(p, "/api/v1/collections");
  const bool documents = starts_with(p, "/api/v1/documents") || starts_with(p, "/api/v1/docs");
  if (collections || documents || starts_with(p, "/api/v1/index") || p == "/api/v1/stats" || p == "/api/v1/search") {
    if (get || p == "/api/v1/search") return {kKnowledgeRead, false, ""};
    std::string_view what = collections ? "collection" : "document";
    if (p == "/api/v1/collections" || p == "/api/v1/documents" || p == "/api/v1/docs" || starts_with(p, "/api/v1/index")) {
      return {kKnowledgeWrite, false, collections ? "collection.created" : "document.created"};
    }
    if (method == "DELETE") return {kKnowledgeWrite, false, collections ? "collection.deleted" : "document.deleted"};
    if (p.ends_with("/restore")) return {kKnowledgeWrite, false, collections ? "collection.restored" : "document.restored"};
    (void)what;
    return {kKnowledgeWrite, false, collections ? "collection.updated" : "document.updated"};
  }
  return {kAdmin, false, ""};  // an /api route no rule names: admins only
}

}  // namespace sb::api
