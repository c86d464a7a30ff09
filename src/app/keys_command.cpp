#include "app/keys_command.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdio>

#include "http/message.hpp"

namespace sb::app {

namespace json = boost::json;

namespace {

json::array split_list(const std::string& s) {
  json::array out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto comma = s.find(',', start);
    std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

bool to_int(const std::string& s, std::int64_t& out) {
  try {
    std::size_t used = 0;
    out = std::stoll(s, &used);
    return used == s.size();
  } catch (const std::exception&) {
    return false;
  }
}

// Prints the answer (JSON on stdout) or its error; the exit code.
int report(const std::optional<ServerAnswer>& r) {
  if (!r) return 2;
  if (r->status >= 300) {
    std::fprintf(stderr, "switchboard: error %d: %s\n", r->status, r->error_message().c_str());
    return 1;
  }
  std::printf("%s\n", r->body.c_str());
  return 0;
}

std::string query(const std::map<std::string, std::string>& flags,
                  const std::vector<std::pair<std::string, std::string>>& names) {
  std::string q;
  for (const auto& [flag, param] : names) {
    auto it = flags.find(flag);
    if (it == flags.end()) continue;
    q += (q.empty() ? "?" : "&") + param + "=" + it->second;
  }
  return q;
}

}  // namespace

int keys_command(const KbOptions& o, const std::vector<std::string>& args, const std::map<std::string, std::string>& flags) {
  const std::string sub = args.empty() ? "" : args[0];
  if (sub == "create") {
    json::object body;
    if (auto it = flags.find("--name"); it != flags.end()) body["name"] = it->second;
    for (const auto& [flag, field] : std::vector<std::pair<std::string, std::string>>{
             {"--scopes", "scopes"}, {"--models", "models"}, {"--collections", "collections"}}) {
      if (auto it = flags.find(flag); it != flags.end()) body[field] = split_list(it->second);
    }
    for (const auto& [flag, field] : std::vector<std::pair<std::string, std::string>>{
             {"--rpm", "rpm"}, {"--tpm", "tpm"}, {"--max-parallel", "max_parallel"}, {"--expires-at", "expires_at"}}) {
      if (auto it = flags.find(flag); it != flags.end()) {
        std::int64_t v = 0;
        if (!to_int(it->second, v)) {
          std::fprintf(stderr, "switchboard: %s needs an integer\n", flag.c_str());
          return 2;
        }
        body[field] = v;
      }
    }
    if (auto it = flags.find("--budget"); it != flags.end()) {
      double amount = 0;
      try {
        amount = std::stod(it->second);
      } catch (const std::exception&) {
        std::fputs("switchboard: --budget needs an amount in USD\n", stderr);
        return 2;
      }
      json::object budget{{"amount_usd", amount}};
      if (auto p = flags.find("--budget-period"); p != flags.end()) budget["period"] = p->second;
      body["budget"] = std::move(budget);
    }
    return report(call_server(o, "POST", "/api/v1/keys", json::serialize(body)));
  }
  if (sub == "list") {
    // Every page, one line per key.
    std::string after;
    for (;;) {
      auto r = call_server(o, "GET", "/api/v1/keys?limit=100" + (after.empty() ? "" : "&after=" + after));
      if (!r || r->status >= 300) return report(r);
      boost::system::error_code ec;
      json::value v = json::parse(r->body, ec);
      if (ec || !v.is_object()) return report(r);
      for (const auto& k : v.at("data").as_array()) {
        std::string scopes;
        for (const auto& s : k.at("scopes").as_array()) scopes += (scopes.empty() ? "" : ",") + std::string(s.as_string());
        std::printf("%s\t%s\t%s…\t%s\t%s\n", std::string(k.at("id").as_string()).c_str(),
                    std::string(k.at("name").as_string()).c_str(), std::string(k.at("prefix").as_string()).c_str(),
                    scopes.c_str(), k.at("revoked_at").is_null() ? "active" : "revoked");
      }
      if (!v.at("has_more").as_bool() || v.at("last_id").is_null()) return 0;
      after = std::string(v.at("last_id").as_string());
    }
  }
  if ((sub == "revoke" || sub == "rotate") && args.size() == 2) {
    const std::string id = http::percent_decode(args[1]);
    if (sub == "revoke") return report(call_server(o, "DELETE", "/api/v1/keys/" + id));
    json::object body;
    if (auto it = flags.find("--grace-ms"); it != flags.end()) {
      std::int64_t v = 0;
      if (!to_int(it->second, v)) {
        std::fputs("switchboard: --grace-ms needs an integer\n", stderr);
        return 2;
      }
      body["grace_period_ms"] = v;
    }
    return report(call_server(o, "POST", "/api/v1/keys/" + id + "/rotate", json::serialize(body)));
  }
  return -1;  // usage
}

int usage_command(const KbOptions& o, const std::map<std::string, std::string>& flags) {
  return report(call_server(o, "GET", "/api/v1/usage" + query(flags, {{"--from", "from"}, {"--to", "to"},
                                                                       {"--group-by", "group_by"}, {"--key", "key"}})));
}

}  // namespace sb::app
