// POST /api/v1/intent {route, text}: which intent of an intent route a text is, and the target
// that would serve it; /api/v1/intent-router-resilient is the same (the seed service's path).

#include <chrono>

#include "api/json.hpp"
#include "api/routes.hpp"
#include "api/schema.hpp"
#include "core/json_text.hpp"
#include "workflows/intent_router.hpp"

namespace sb::api {

namespace json = boost::json;
using boost::asio::awaitable;
using core::Error;
using core::ErrorKind;
using http::Request;
using http::Response;

namespace {

std::string decision_json(const workflows::IntentDecision& d) {
  json::object out;
  if (d.route.empty()) {
    out["route"] = nullptr;  // inline intents
  } else {
    out["route"] = d.route;
  }
  out["intent"] = d.intent;
  out["confidence"] = d.confidence;
  if (d.target.empty()) {
    out["target"] = nullptr;
  } else {
    out["target"] = d.target;
  }
  out["classifier"] = d.classifier;
  if (!d.local_method.empty()) out["local_method"] = d.local_method;
  if (!d.fallback_reason.empty()) out["fallback_reason"] = d.fallback_reason;
  out["latency_ms"] = std::chrono::duration<double, std::milli>(d.took).count();
  return core::to_json(out);
}

constexpr std::size_t kMaxInlineIntents = 50, kMaxInlineExamples = 50, kMaxInlineText = 4000;
constexpr std::size_t kMaxInlineInput = 20000;  // bytes of `text` with inline intents

Error field(std::string param, std::string what) { return Error(ErrorKind::invalid_field, "'" + param + "' " + what, param); }

// {text, intents: [{name, description?, examples?, target?}], classifier?, fallback_intent?}
core::Result<core::RouteConfig> parse_inline(const json::object& body, gateway::Gateway& gw) {
  core::RouteConfig rc;
  const auto* arr = body.at("intents").if_array();
  if (!arr || arr->empty() || arr->size() > kMaxInlineIntents) return field("intents", "must hold 1 to 50 intents");
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const std::string at = "intents[" + std::to_string(i) + "]";
    const auto* o = (*arr)[i].if_object();
    if (!o) return field(at, "must be {name, description, examples, target}");
    core::IntentConfig x;
    for (const auto& [k, v] : *o) {
      if (k == "name" || k == "description" || k == "target") {
        if (!v.is_string()) return field(at + "." + std::string(k), "must be a string");
        std::string value(v.get_string());
        if (value.size() > kMaxInlineText) return field(at + "." + std::string(k), "is longer than 4000 characters");
        (k == "name" ? x.name : k == "description" ? x.description : x.target) = std::move(value);
      } else if (k == "examples") {
        const auto* ex = v.if_array();
        if (!ex || ex->size() > kMaxInlineExamples) return field(at + ".examples", "must be at most 50 strings");
        for (const auto& e : *ex) {
          if (!e.is_string() || e.get_string().size() > kMaxInlineText) {
            return field(at + ".examples", "must be strings of at most 4000 characters");
          }
          x.examples.emplace_back(e.get_string());
        }
      } else {
        return unknown_parameter(at + "." + std::string(k));
      }
    }
    if (x.name.empty() || x.name.size() > 64) return field(at + ".name", "must be 1 to 64 characters");
    for (const auto& y : rc.intents) {
      if (y.name == x.name) return field(at + ".name", "repeats the intent '" + x.name + "'");
    }
    rc.intents.push_back(std::move(x));
  }
  auto classifier = get_string(body, "classifier");
  if (!classifier) return std::move(classifier).error();
  if (*classifier) {
    if (auto r = gw.resolve(**classifier); !r) {
      auto e = std::move(r).error();
      e.param = "classifier";
      return e;
    }
    rc.classifier = **classifier;
  }
  auto fallback = get_string(body, "fallback_intent");
  if (!fallback) return std::move(fallback).error();
  if (*fallback) {
    bool known = false;
    for (const auto& y : rc.intents) known = known || y.name == **fallback;
    if (!known) return field("fallback_intent", "is not one of the intents");
    rc.fallback_intent = **fallback;
  }
  rc.strategy = "intent";
  return rc;
}

struct Input {
  std::string route;  // "" = inline
  core::RouteConfig inline_route;
  std::string text;
};

core::Result<Input> parse(const Request& req, const workflows::IntentRouter& intents, gateway::Gateway& gw) {
  auto body = parse_json_object(req.body);
  if (!body) return std::move(body).error();
  Input in;
  const auto* route = body->if_contains("route");
  std::size_t bound = kMaxInlineInput;
  if (body->contains("intents")) {
    if (route) return Error(ErrorKind::invalid_field, "name a 'route' or send 'intents', not both", "intents");
    auto rc = parse_inline(*body, gw);
    if (!rc) return std::move(rc).error();
    in.inline_route = std::move(*rc);
  } else {
    if (body->contains("classifier") || body->contains("fallback_intent")) {
      return Error(ErrorKind::invalid_field, "'classifier' and 'fallback_intent' go with inline 'intents'; a route has its own",
                   body->contains("classifier") ? "classifier" : "fallback_intent");
    }
    if (!route || !route->is_string() || route->get_string().empty()) {
      return Error(ErrorKind::invalid_field, "'route' is required (the name of an intent route), or send 'intents'", "route");
    }
    bound = intents.max_text(route->get_string());
    if (bound == 0) {
      return Error(ErrorKind::not_found,
                   "no intent route named '" + std::string(route->get_string()) +
                       "' ([[routes]] with strategy = \"intent\"; GET /v1/models lists the routes)",
                   "route");
    }
    in.route = std::string(route->get_string());
  }
  const auto* text = body->if_contains("text");
  if (!text || !text->is_string() || text->get_string().empty()) {
    return Error(ErrorKind::invalid_field, "'text' is required: the non-empty text to classify", "text");
  }
  if (text->get_string().size() > bound) {
    return Error(ErrorKind::invalid_field,
                 in.route.empty() ? "'text' is longer than 20000 bytes"
                                  : "'text' is longer than this route's max_text_chars (" + std::to_string(bound) + " bytes)",
                 "text");
  }
  in.text = std::string(text->get_string());
  return in;
}

awaitable<Response> classify(Request& req, workflows::IntentRouter& intents, gateway::Gateway& gw) {
  auto in = parse(req, intents, gw);
  if (!in) co_return Response::error(in.error());
  core::Result<workflows::IntentDecision> d = Error(ErrorKind::internal, "not classified");
  // (if/else, not ?: — GCC 12 and a co_await in each arm)
  if (in->route.empty()) {
    d = co_await intents.classify_inline(std::move(in->inline_route), std::move(in->text), req.request_id,
                                         req.context, req.cancel);
  } else {
    d = co_await intents.classify(std::move(in->route), std::move(in->text), req.request_id, req.context, req.cancel);
  }
  if (!d) co_return Response::error(d.error());
  Response res = Response::json(200, decision_json(*d));
  res.header("x-switchboard-intent", d->intent);
  res.header("x-switchboard-intent-classifier", d->classifier);
  co_return res;
}

}  // namespace

void register_intent_routes(http::Router& router, workflows::IntentRouter& intents, gateway::Gateway& gw) {
  // (inline intents' keys are checked by parse_inline, naming the unknown one)
  Schema schema{{},
                {{"route", Type::string},
                 {"text", Type::string},
                 {"intents", Type::any},
                 {"classifier", Type::string},
                 {"fallback_intent", Type::string}}};
  for (const char* path : {"/api/v1/intent", "/api/v1/intent-router-resilient"}) {
    add(router, "POST", path, schema, [&intents, &gw](Request& req) -> awaitable<Response> {
      co_return co_await classify(req, intents, gw);
    });
  }
}

}  // namespace sb::api
