// The control plane's API: /api/v1/keys (create, list, get, change, revoke, rotate),
// /api/v1/usage, /api/v1/audit, /api/v1/rate-limit/status and POST /api/v1/config/reload.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>
#include <cmath>

#include "api/control_gate.hpp"
#include "api/json.hpp"
#include "api/lists.hpp"
#include "api/routes.hpp"
#include "api/schema.hpp"
#include "core/json_text.hpp"

namespace sb::api {

namespace json = boost::json;
using boost::asio::awaitable;
using core::Error;
using core::ErrorKind;
using http::Request;
using http::Response;

namespace {

using T = Type;
const Schema kKeyBody{{},
                      {{"name", T::string}, {"scopes", T::array}, {"scopes[]", T::string}, {"models", T::array},
                       {"models[]", T::string}, {"collections", T::array}, {"collections[]", T::string},
                       {"rpm", T::integer}, {"tpm", T::integer}, {"max_parallel", T::integer}, {"budget", T::object},
                       {"budget.amount_usd", T::number}, {"budget.period", T::string}, {"expires_at", T::integer},
                       {"metadata", T::map}}};
const Schema kRotate{{}, {{"grace_period_ms", T::integer}}};
const Schema kListKeys{list_query({"revoked"}), {}};
const Schema kUsage{list_query({"from", "to", "group_by", "key"}), {}};
const Schema kAudit{list_query({"actor", "action", "target", "from", "to"}), {}};
const Schema kNone{};

constexpr std::size_t kMaxList = 100, kMaxItem = 256, kMaxMetadata = 16 * 1024;

json::value opt(const std::optional<long long>& v) { return v ? json::value(*v) : json::value(nullptr); }
json::value opt_time(const std::optional<std::int64_t>& v) { return v ? json::value(*v) : json::value(nullptr); }

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

json::object key_object(const control::Key& k) {
  json::object o;
  o["id"] = k.id;
  o["object"] = "api_key";
  o["name"] = k.name;
  o["prefix"] = k.prefix;
  o["scopes"] = strings(control::scope_names(k.scopes));
  o["models"] = strings(k.models);
  o["collections"] = strings(k.collections);
  o["rpm"] = opt(k.rpm);
  o["tpm"] = opt(k.tpm);
  o["max_parallel"] = opt(k.max_parallel);
  if (k.budget) {
    o["budget"] = json::object{{"amount_usd", k.budget->amount_usd}, {"period", k.budget->period}};
  } else {
    o["budget"] = nullptr;
  }
  o["expires_at"] = opt_time(k.expires_at);
  boost::system::error_code ec;
  json::value meta = json::parse(k.metadata, ec);
  o["metadata"] = ec ? json::value(json::object{}) : meta;
  o["created_at"] = k.created_at;
  o["updated_at"] = k.updated_at;
  const std::int64_t used = k.last_used->load(std::memory_order_relaxed);
  o["last_used_at"] = used > 0 ? json::value(used) : json::value(nullptr);
  o["revoked_at"] = opt_time(k.revoked_at);
  if (k.previous_until_ms) o["previous_secret_expires_at"] = *k.previous_until_ms / 1000;
  return o;
}

core::Result<std::vector<std::string>> string_list(const json::object& body, std::string_view field) {
  std::vector<std::string> out;
  const json::array& a = body.at(field).as_array();
  if (a.size() > kMaxList) {
    return Error(ErrorKind::invalid_field, "'" + std::string(field) + "' takes at most 100 entries", std::string(field));
  }
  for (const auto& v : a) {
    const auto& s = v.as_string();
    if (s.empty() || s.size() > kMaxItem) {
      return Error(ErrorKind::invalid_field, "'" + std::string(field) + "' entries must be 1 to 256 characters",
                   std::string(field));
    }
    out.emplace_back(s);
  }
  return out;
}

bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

// The body of a create or a change, as a KeySpec.
core::Result<control::KeySpec> key_spec(const json::object& body, std::int64_t now_s) {
  control::KeySpec spec;
  auto name = get_string(body, "name");
  if (!name) return std::move(name).error();
  if (*name) {
    if (!valid_name(**name)) {
      return Error(ErrorKind::invalid_field, "'name' must be 1 to 64 characters from A-Z a-z 0-9 - _ .", "name");
    }
    spec.name = **name;
  }
  if (const auto* s = body.if_contains("scopes"); s && !s->is_null()) {
    unsigned bits = 0;
    for (const auto& v : s->as_array()) {
      auto bit = control::parse_scope(v.as_string());
      if (!bit) {
        return Error(ErrorKind::invalid_field,
                     "unknown scope '" + std::string(v.as_string()) +
                         "': expected chat, embeddings, jobs, knowledge:read, knowledge:write, admin",
                     "scopes");
      }
      bits |= *bit;
    }
    if (bits == 0) return Error(ErrorKind::invalid_field, "'scopes' must name at least one scope", "scopes");
    spec.scopes = bits;
  }
  for (std::string_view f : {"models", "collections"}) {
    if (const auto* v = body.if_contains(f); v && !v->is_null()) {
      auto list = string_list(body, f);
      if (!list) return std::move(list).error();
      (f == "models" ? spec.models : spec.collections) = std::move(*list);
    }
  }
  for (std::string_view f : {"rpm", "tpm", "max_parallel"}) {
    auto v = get_int(body, f, 0, 10'000'000'000LL);
    if (!v) return std::move(v).error();
    if (*v) (f == "rpm" ? spec.rpm : f == "tpm" ? spec.tpm : spec.max_parallel) = **v;
  }
  if (const auto* b = body.if_contains("budget"); b && !b->is_null()) {
    const json::object& o = b->as_object();
    if (o.empty()) {
      spec.budget = std::optional<control::Budget>{};
    } else {
      control::Budget budget;
      const auto* amount = o.if_contains("amount_usd");
      if (!amount || amount->is_null()) {
        return Error(ErrorKind::invalid_field, "'budget.amount_usd' is required (send \"budget\": {} to remove it)",
                     "budget.amount_usd");
      }
      double v = amount->is_double() ? amount->as_double()
                 : amount->is_int64() ? static_cast<double>(amount->as_int64())
                                      : static_cast<double>(amount->as_uint64());
      if (!std::isfinite(v) || v < 0 || v > 1e9) {
        return Error(ErrorKind::invalid_field, "'budget.amount_usd' must be between 0 and 1e9", "budget.amount_usd");
      }
      budget.amount_usd = v;
      if (const auto* p = o.if_contains("period"); p && !p->is_null()) {
        budget.period = std::string(p->as_string());
        if (budget.period != "day" && budget.period != "month" && budget.period != "total") {
          return Error(ErrorKind::invalid_field, "'budget.period' must be day, month or total", "budget.period");
        }
      }
      spec.budget = std::optional<control::Budget>(std::move(budget));
    }
  }
  auto expires = get_int(body, "expires_at", 0, 1LL << 40);
  if (!expires) return std::move(expires).error();
  if (*expires) {
    if (**expires != 0 && **expires <= now_s) {
      return Error(ErrorKind::invalid_field, "'expires_at' is in the past (Unix seconds; 0 = never)", "expires_at");
    }
    spec.expires_at = **expires;
  }
  if (const auto* m = body.if_contains("metadata"); m && !m->is_null()) {
    std::string text = core::to_json(*m);
    if (text.size() > kMaxMetadata) {
      return Error(ErrorKind::invalid_field, "'metadata' must be at most 16384 bytes as JSON", "metadata");
    }
    spec.metadata = std::move(text);
  }
  return spec;
}

core::Result<std::int64_t> time_query(const Request& req, std::string_view name) {
  auto v = req.query(name);
  if (!v || v->empty()) return std::int64_t{0};
  std::int64_t out = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || p != v->data() + v->size() || out < 0) {
    return Error(ErrorKind::invalid_field, "'" + std::string(name) + "' must be a time in Unix seconds", std::string(name));
  }
  return out;
}

bool is_admin(const Request& req) { return req.context && req.context->admin; }

}  // namespace

void register_control_routes(http::Router& router, const ControlDeps& d) {
  auto& keys = *d.keys;
  auto& budgets = *d.budgets;
  auto& db = *d.db;
  auto& gate = *d.gate;
  auto& ledger = *d.ledger;
  const core::Clock& clock = *d.clock;

  // A key just given a budget (or a new period) starts from what it spent in the period.
  auto refresh_budget = [&db, &budgets, &clock](std::shared_ptr<const control::Key> k) -> awaitable<void> {
    if (!k->budget) co_return;
    const std::int64_t since = control::period_start_ms(k->budget->period, clock.now_ms());
    std::string id = k->id;
    auto task = [id, since](storage::Connection& c) { return storage::ControlRepository::spent(c, id, since); };  // named (GCC 12)
    auto spent = co_await db.run(std::move(task));
    if (spent) budgets.set_spent(*k, *spent);
  };

  add(router, "POST", "/api/v1/keys", kKeyBody, [&keys, &gate, &clock, refresh_budget](Request& req) -> awaitable<Response> {
    auto body = parse_json_object(req.body);
    if (!body) co_return Response::error(body.error());
    auto spec = key_spec(*body, clock.now_ms() / 1000);
    if (!spec) co_return Response::error(spec.error());
    if (gate.open() && !(spec->scopes.value_or(0) & control::kAdmin)) {
      co_return Response::error(Error(ErrorKind::invalid_field,
                                      "the first key of an open server must have the 'admin' scope: creating it makes "
                                      "every /v1 and /api request need a key, and someone must be able to manage them",
                                      "scopes"));
    }
    auto issued = co_await keys.create(std::move(*spec));
    if (!issued) co_return Response::error(issued.error());
    co_await refresh_budget(issued->key);
    json::object o = key_object(*issued->key);
    o["secret"] = issued->secret;
    Response res = Response::json(201, core::to_json(o));
    res.header("Location", "/api/v1/keys/" + issued->key->id);
    res.header("Cache-Control", "no-store");
    co_return res;
  });

  add(router, "GET", "/api/v1/keys", kListKeys, [&keys](Request& req) -> awaitable<Response> {
    auto page = page_request(req);
    if (!page) co_return Response::error(page.error());
    auto revoked = req.query("revoked");
    if (revoked && *revoked != "true" && *revoked != "false") {
      co_return Response::error(Error(ErrorKind::invalid_field, "'revoked' must be true or false", "revoked"));
    }
    json::array all;
    for (const auto& k : keys.all()) {
      if (revoked && (*revoked == "true") != k->revoked_at.has_value()) continue;
      all.push_back(key_object(*k));
    }
    auto out = page_in_memory(std::move(all), *page);
    if (!out) co_return Response::error(out.error());
    co_return Response::json(200, core::to_json(*out));
  });

  add(router, "GET", "/api/v1/keys/{id}", kNone, [&keys](Request& req) -> awaitable<Response> {
    auto k = keys.find(req.param("id"));
    if (!k) co_return Response::error(Error(ErrorKind::not_found, "no key '" + std::string(req.param("id")) + "'"));
    co_return Response::json(200, core::to_json(key_object(*k)));
  });

  add(router, "PATCH", "/api/v1/keys/{id}", kKeyBody, [&keys, &clock, refresh_budget](Request& req) -> awaitable<Response> {
    auto body = parse_json_object(req.body);
    if (!body) co_return Response::error(body.error());
    auto spec = key_spec(*body, clock.now_ms() / 1000);
    if (!spec) co_return Response::error(spec.error());
    auto k = co_await keys.update(req.param("id"), std::move(*spec));
    if (!k) co_return Response::error(k.error());
    co_await refresh_budget(*k);
    co_return Response::json(200, core::to_json(key_object(**k)));
  });

  add(router, "DELETE", "/api/v1/keys/{id}", kNone, [&keys](Request& req) -> awaitable<Response> {
    auto k = co_await keys.revoke(req.param("id"));
    if (!k) co_return Response::error(k.error());
    co_return Response::json(200, core::to_json(key_object(**k)));
  });

  add(router, "POST", "/api/v1/keys/{id}/rotate", kRotate, [&keys](Request& req) -> awaitable<Response> {
    std::int64_t grace = 0;
    if (!req.body.empty()) {
      auto body = parse_json_object(req.body);
      if (!body) co_return Response::error(body.error());
      auto g = get_int(*body, "grace_period_ms", 0, 30LL * 86400 * 1000);
      if (!g) co_return Response::error(g.error());
      grace = g->value_or(0);
    }
    auto issued = co_await keys.rotate(req.param("id"), grace);
    if (!issued) co_return Response::error(issued.error());
    json::object o = key_object(*issued->key);
    o["secret"] = issued->secret;
    Response res = Response::json(200, core::to_json(o));
    res.header("Cache-Control", "no-store");
    co_return res;
  });

  add(router, "GET", "/api/v1/rate-limit/status", kNone, [&gate](Request& req) -> awaitable<Response> {
    co_return Response::json(200, core::to_json(gate.status(req)));
  });

  add(router, "GET", "/api/v1/usage", kUsage, [&db, &ledger](Request& req) -> awaitable<Response> {
    auto from = time_query(req, "from");
    if (!from) co_return Response::error(from.error());
    auto to = time_query(req, "to");
    if (!to) co_return Response::error(to.error());
    storage::UsageQuery q;
    q.from_ms = *from * 1000;
    q.to_ms = *to * 1000;
    q.key_id = req.query("key").value_or("");
    if (req.context && !is_admin(req)) {  // (no context: an open server, where nobody is told apart)
      const std::string own = req.context->key_id;
      if (own.empty()) {
        q.key_id = "-";  // traffic without a key has no usage of its own
      } else if (!q.key_id.empty() && q.key_id != own) {
        co_return Response::error(Error(ErrorKind::forbidden, "only an admin key reads another key's usage", "key"));
      } else {
        q.key_id = own;
      }
    }
    co_await ledger.flush();  // the caller's last requests are in what it reads
    if (auto g = req.query("group_by")) {
      std::string group = *g;
      auto task = [q, group](storage::Connection& c) {
        return storage::ControlRepository::usage_groups(c, q, group);
      };  // named (GCC 12)
      auto groups = co_await db.run(std::move(task));
      if (!groups) co_return Response::error(groups.error());
      json::array data;
      for (const auto& r : *groups) {
        data.push_back(json::object{{"object", "usage.group"}, {group, r.group}, {"requests", r.requests},
                                    {"prompt_tokens", r.prompt_tokens}, {"completion_tokens", r.completion_tokens},
                                    {"cached_tokens", r.cached_tokens}, {"total_tokens", r.prompt_tokens + r.completion_tokens},
                                    {"cost_usd", r.cost_usd}});
      }
      co_return Response::json(200, core::to_json(json::object{{"object", "list"}, {"group_by", group}, {"data", std::move(data)},
                                                               {"has_more", false}}));
    }
    auto page = page_request(req);
    if (!page) co_return Response::error(page.error());
    auto task = [q, p = *page](storage::Connection& c) { return storage::ControlRepository::usage(c, q, p); };  // named (GCC 12)
    auto rows = co_await db.run(std::move(task));
    if (!rows) co_return Response::error(rows.error());
    json::array data;
    for (const auto& r : rows->rows) {
      data.push_back(json::object{{"id", r.id}, {"object", "usage"}, {"created_at", r.at_ms / 1000},
                                  {"key_id", r.key_id.empty() ? json::value(nullptr) : json::value(r.key_id)},
                                  {"route", r.route}, {"model", r.model}, {"provider", r.provider}, {"target", r.target},
                                  {"prompt_tokens", r.prompt_tokens}, {"completion_tokens", r.completion_tokens},
                                  {"cached_tokens", r.cached_tokens}, {"cost_usd", r.cost_usd},
                                  {"latency_ms", r.latency_ms}, {"status", r.status}, {"request_id", r.request_id}});
    }
    co_return Response::json(200, core::to_json(list_object(std::move(data), rows->has_more)));
  });

  add(router, "GET", "/api/v1/audit", kAudit, [&db, &ledger](Request& req) -> awaitable<Response> {
    storage::AuditQuery q;
    q.actor = req.query("actor").value_or("");
    q.action = req.query("action").value_or("");
    q.target = req.query("target").value_or("");
    auto from = time_query(req, "from");
    if (!from) co_return Response::error(from.error());
    auto to = time_query(req, "to");
    if (!to) co_return Response::error(to.error());
    q.from = *from;
    q.to = *to;
    auto page = page_request(req);
    if (!page) co_return Response::error(page.error());
    co_await ledger.flush();
    auto task = [q, p = *page](storage::Connection& c) { return storage::ControlRepository::audit(c, q, p); };  // named (GCC 12)
    auto rows = co_await db.run(std::move(task));
    if (!rows) co_return Response::error(rows.error());
    json::array data;
    for (const auto& r : rows->rows) {
      data.push_back(json::object{{"id", r.id}, {"object", "audit.entry"}, {"created_at", r.at}, {"actor", r.actor},
                                  {"client_ip", r.client_ip}, {"action", r.action}, {"target", r.target},
                                  {"outcome", r.outcome}, {"status", r.status}, {"request_id", r.request_id}});
    }
    co_return Response::json(200, core::to_json(list_object(std::move(data), rows->has_more)));
  });

  add(router, "POST", "/api/v1/config/reload", kNone, [reload = d.reload](Request&) -> awaitable<Response> {
    if (!reload) {
      co_return Response::error(Error(ErrorKind::unavailable, "this server was started without a config to reload"));
    }
    auto r = reload();
    if (!r) co_return Response::error(r.error());
    co_return Response::json(200, core::to_json(json::object{{"object", "config.reload"}, {"reloaded", true}, {"detail", *r}}));
  });
}

}  // namespace sb::api
