// The OpenAI-compatible surface: GET /v1/models, POST /v1/chat/completions (whole or streamed
// as server-sent events ending with `data: [DONE]`), POST /v1/embeddings; and the providers'
// status: GET /api/v1/providers, POST /api/v1/providers/{name}/test.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>

#include "api/json.hpp"
#include "api/openai_validate.hpp"
#include "api/routes.hpp"
#include "api/schema.hpp"
#include "gateway/json_splice.hpp"
#include "http/message.hpp"
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

using Clock = std::chrono::steady_clock;

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Milliseconds with three decimals, without printf.
std::string fixed(Clock::duration d) {
  long long us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  if (us < 0) us = 0;
  std::string frac = std::to_string(us % 1000);
  return std::to_string(us / 1000) + "." + std::string(3 - frac.size(), '0') + frac;
}

// Server-Timing: the gateway's own time (total minus upstream calls and backoff) and the
// upstream's; records the overhead histogram too.
std::string server_timing(gateway::Gateway& gw, const gateway::Outcome& o, Clock::duration total,
                          Clock::duration upstream) {
  Clock::duration own = total - upstream - o.waited;
  if (own < Clock::duration::zero()) own = Clock::duration::zero();
  gw.observe_overhead(own);
  return "gateway;dur=" + fixed(own) + ", upstream;dur=" + fixed(upstream);
}

void add_outcome_headers(Response& r, const gateway::Outcome& o) {
  if (!o.provider.empty()) r.header("x-switchboard-provider", o.provider);
  if (!o.model.empty()) r.header("x-switchboard-model", o.model);
  r.header("x-switchboard-attempts", std::to_string(o.attempts));
}

json::object health_json(const gateway::TargetStatus& t) {
  const auto& h = t.health;
  return {{"model", t.model},
          {"breaker", gateway::to_string(h.state)},
          {"retry_in_ms", h.retry_in.count()},
          {"calls", h.calls},
          {"failures", h.failures},
          {"error_rate", h.calls ? static_cast<double>(h.failures) / h.calls : 0.0},
          {"latency_ms", h.latency_ms}};
}

// X-Switchboard-Processing-Mode: immediate (default) or queue_if_unavailable.
core::Result<bool> queue_if_unavailable(const Request& req) {
  std::string_view mode = req.header("X-Switchboard-Processing-Mode");
  if (mode.empty() || mode == "immediate") return false;
  if (mode == "queue_if_unavailable") return true;
  return Error(ErrorKind::invalid_field,
               "X-Switchboard-Processing-Mode must be \"immediate\" or \"queue_if_unavailable\"",
               "X-Switchboard-Processing-Mode");
}

// A chat or embeddings request checked and routed, and whether it should become a job
// (queue_if_unavailable while every target's circuit is open).
struct Prepared {
  json::object body;
  gateway::Resolved targets;
  bool queue = false;
  bool queue_asked = false;     // queue_if_unavailable was asked for
  std::size_t intent_text = 0;  // an intent route: the bound on the text it classifies (targets unset)
};

core::Result<Prepared> prepare(const Request& req, gateway::Gateway& gw, jobs::Service* jobs,
                               const std::function<core::Status(const json::object&)>& validate,
                               const workflows::IntentRouter* intents = nullptr) {
  auto body = parse_json_object(req.body);
  if (!body) return std::move(body).error();
  if (auto st = validate(*body); !st) return std::move(st).error();
  auto queue = queue_if_unavailable(req);
  if (!queue) return std::move(queue).error();
  if (intents) {
    if (std::size_t bound = intents->max_text(body->at("model").get_string()); bound > 0) {
      Prepared p{std::move(*body), {}, false, *queue && jobs};
      p.intent_text = bound;
      return p;
    }
  }
  auto targets = gw.resolve(std::string(body->at("model").get_string()));
  if (!targets) return std::move(targets).error();
  const bool as_job = *queue && jobs && gw.all_open(*targets);
  return Prepared{std::move(*body), std::move(*targets), as_job, *queue && jobs};
}

// An intent route's request classified: its targets are the intent's target's, and a job made
// of it (queue_if_unavailable) asks for that target by name.
awaitable<core::Result<workflows::IntentDecision>> classify(Prepared& p, Request& req, gateway::Gateway& gw,
                                                            workflows::IntentRouter& intents) {
  std::string route(p.body.at("model").get_string());
  std::string text = workflows::classification_text(p.body, p.intent_text);
  auto d = co_await intents.classify(std::move(route), std::move(text), req.request_id, req.context, req.cancel);
  if (!d) co_return d;
  auto targets = gw.resolve(d->target);
  if (!targets) co_return std::move(targets).error();
  p.targets = std::move(*targets);
  if (p.queue_asked && gw.all_open(p.targets)) {
    p.queue = true;
    json::object job = p.body;
    job["model"] = d->target;
    req.body = core::to_json(job);
  }
  co_return d;
}

void add_intent_headers(Response& r, const workflows::IntentDecision& d) {
  r.header("x-switchboard-intent", d.intent);
  r.header("x-switchboard-intent-classifier", d.classifier);
}

// An answer names the model the client asked for (a route, "provider/model"), which it can send
// again; the upstream's own name is in x-switchboard-model.
std::string with_model(std::string body, std::string_view asked) {
  gateway::rename_model(body, asked);
  return body;
}

// (type is a const char*: a std::string temporary in a co_await expression is what GCC 12
// mishandles.)
awaitable<Response> enqueue_request(jobs::Service& jobs, const char* type, Request& req) {
  jobs::Submit s;
  s.type = type;
  s.request = std::move(req.body);
  if (req.context && !req.context->key_id.empty()) s.key_id = req.context->key_id;
  co_return co_await enqueue_job(jobs, std::move(s));
}

// A /v1 call answered whole or streamed as the provider's SSE (chat completions, legacy
// completions): validated, routed, forwarded, its answer naming the model the client asked for.
// `job_type`: what queue_if_unavailable turns it into (nullptr: no job type; answered at once).
awaitable<Response> proxy(Request& req, gateway::Gateway& gw, jobs::Service* jobs,
                          core::Status (*validate)(const json::object&), const char* job_type,
                          gateway::Kind kind, workflows::IntentRouter* intents = nullptr) {
    auto p = prepare(req, gw, job_type ? jobs : nullptr, validate, intents);
    if (!p) co_return Response::error(p.error());
    std::optional<workflows::IntentDecision> decision;
    if (p->intent_text > 0) {
      auto d = co_await classify(*p, req, gw, *intents);
      if (!d) co_return Response::error(d.error());
      decision = std::move(*d);
    }
    if (p->queue) co_return co_await enqueue_request(*jobs, job_type, req);
    const json::value* stream = p->body.if_contains("stream");
    const bool streaming = stream && stream->is_bool() && stream->get_bool();
    std::string asked(p->body.at("model").get_string());  // answered as `model`
    gateway::ChatCall call{std::move(p->body), "", req.request_id};
    call.raw = std::move(req.body);  // forwarded as sent (OpenAI-compatible upstreams)
    call.meter = req.context;
    const auto start = Clock::now();

    if (!streaming) {
      call.cancel = req.cancel;  // (a stream notices a gone client when its writes fail)
      gateway::Outcome outcome;
      // (if/else, not ?: — GCC 12 miscompiles a co_await in each arm of a conditional)
      core::Result<gateway::ChatResult> r = Error(ErrorKind::internal, "not called");
      if (kind == gateway::Kind::completions) {
        r = co_await gw.completions(std::move(call), std::move(p->targets), outcome);
      } else {
        r = co_await gw.chat(std::move(call), std::move(p->targets), outcome);
      }
      Response res = r ? Response::json(200, with_model(std::move(r->body), asked)) : Response::error(r.error());
      add_outcome_headers(res, outcome);
      res.header("Server-Timing", server_timing(gw, outcome, Clock::now() - start, outcome.upstream));
      if (decision) {
        add_intent_headers(res, *decision);
        res.header("Server-Timing", "intent;dur=" + fixed(decision->took));
      }
      co_return res;
    }

    Response res;
    res.content_type = "text/event-stream";
    res.header("Cache-Control", "no-cache");
    if (decision) add_intent_headers(res, *decision);
    res.stream = [&gw, kind, call = std::move(call), targets = std::move(p->targets), start, asked = std::move(asked),
                  decision](http::StreamWriter& w) mutable -> awaitable<void> {
      gateway::Outcome outcome;
      std::string pending;  // events held back while more follow from the same upstream read
      bool headed = false;
      gateway::ChunkSink sink = [&](std::string_view chunk, bool more) -> awaitable<bool> {
            if (!chunk.empty()) {
              if (!headed) {
                headed = true;
                w.add_header("x-switchboard-provider", outcome.provider);
                w.add_header("x-switchboard-model", outcome.model);
                w.add_header("x-switchboard-attempts", std::to_string(outcome.attempts));
                // Until the first chunk: upstream = earlier attempts + this one's time to it.
                w.add_header("Server-Timing", server_timing(gw, outcome, Clock::now() - start,
                                                            outcome.upstream + outcome.first_chunk));
                if (decision) w.add_header("Server-Timing", "intent;dur=" + fixed(decision->took));
              }
              pending += "data: ";
              gateway::append_renamed(pending, chunk, asked);
              pending += "\n\n";
            }
            if (more || pending.empty()) co_return true;
            std::string out = std::move(pending);
            pending.clear();
            co_return co_await w.write(out);
          };
      core::Status st;
      if (kind == gateway::Kind::completions) {
        st = co_await gw.completions_stream(std::move(call), std::move(targets), std::move(sink), outcome);
      } else {
        st = co_await gw.chat_stream(std::move(call), std::move(targets), std::move(sink), outcome);
      }
      if (!st) {
        if (!w.started() && pending.empty()) {
          // Nothing was sent: answer with the error's own status instead of a stream.
          Response e = Response::error(st.error());
          add_outcome_headers(e, outcome);
          if (decision) add_intent_headers(e, *decision);
          w.replace(std::move(e));
          co_return;
        }
        // Mid-stream: an error event in the OpenAI envelope, and no [DONE].
        pending += "data: " + http::error_body(st.error()) + "\n\n";
        co_await w.write(pending);
        co_return;
      }
      pending += "data: [DONE]\n\n";
      co_await w.write(pending);
    };
    co_return res;
}


}  // namespace

void register_chat_routes(http::Router& router, gateway::Gateway& gw, jobs::Service* jobs,
                          std::size_t max_response_bytes, chat::Service* chat, workflows::IntentRouter* intents) {
  router.add("GET", "/v1/models", [&gw, chat](Request&) -> awaitable<Response> {
    json::array data;
    for (const auto& m : gw.models()) {
      data.push_back(json::object{{"id", m.id}, {"object", "model"}, {"created", 0}, {"owned_by", m.owned_by}});
    }
    if (chat) {
      for (const auto& a : chat->assistants()) {
        data.push_back(json::object{
            {"id", "assistant/" + a->name}, {"object", "model"}, {"created", 0}, {"owned_by", "switchboard"}});
      }
    }
    co_return Response::json(200, core::to_json(json::object{{"object", "list"}, {"data", std::move(data)}}));
  });

  // The SDKs' models.retrieve; ids hold slashes ("a/gpt-4o"), sent as is or as %2F.
  router.add("GET", "/v1/models/{id...}", [&gw, chat](Request& req) -> awaitable<Response> {
    const std::string id = http::percent_decode(req.param("id"));
    if (chat && id.rfind("assistant/", 0) == 0 && chat->assistant(std::string_view(id).substr(10))) {
      co_return Response::json(200, core::to_json(json::object{
                                        {"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", "switchboard"}}));
    }
    for (const auto& m : gw.models()) {
      if (m.id == id) {
        co_return Response::json(200, core::to_json(json::object{
                                          {"id", m.id}, {"object", "model"}, {"created", 0}, {"owned_by", m.owned_by}}));
      }
    }
    auto r = gw.resolve(id);  // a provider/model of a provider without an allow-list
    if (!r || r->targets.empty() || id.find('/') == std::string::npos) {
      co_return Response::error(Error(ErrorKind::model_not_found, "The model '" + id + "' does not exist", "model"));
    }
    co_return Response::json(200, core::to_json(json::object{{"id", id},
                                                             {"object", "model"},
                                                             {"created", 0},
                                                             {"owned_by", r->targets.front().provider->config().name}}));
  });

  router.add("POST", "/v1/chat/completions", [&gw, jobs, chat, intents](Request& req) -> awaitable<Response> {
    // "assistant/<name>": answered by the assistant (the substring test keeps other bodies unparsed)
    if (chat && req.body.find("assistant/") != std::string::npos) {
      auto body = parse_json_object(req.body);
      if (!body) co_return Response::error(body.error());
      const json::value* model = body->if_contains("model");
      if (model && model->is_string() && model->as_string().starts_with("assistant/")) {
        if (auto st = validate_chat_request(*body); !st) co_return Response::error(st.error());
        const std::string name(model->as_string().subview().substr(10));
        co_return co_await assistant_completion(req, *chat, std::move(*body), name);
      }
    }
    co_return co_await proxy(req, gw, jobs, &validate_chat_request, "chat.completion", gateway::Kind::chat, intents);
  });
  // The legacy Completions API: passed through to OpenAI-compatible providers, answered by the
  // mock, refused (400) by providers without it.
  router.add("POST", "/v1/completions", [&gw, jobs](Request& req) -> awaitable<Response> {
    co_return co_await proxy(req, gw, jobs, &validate_completions_request, nullptr, gateway::Kind::completions);
  });

  router.add("POST", "/v1/embeddings", [&gw, jobs, max_response_bytes](Request& req) -> awaitable<Response> {
    auto p = prepare(req, gw, jobs, [max_response_bytes](const json::object& body) {
      return validate_embeddings_request(body, max_response_bytes);
    });
    if (!p) co_return Response::error(p.error());
    if (p->queue) co_return co_await enqueue_request(*jobs, "embeddings", req);
    const auto start = Clock::now();
    gateway::Outcome outcome;
    std::string asked(p->body.at("model").get_string());
    gateway::EmbedCall call{std::move(p->body), "", req.request_id};
    call.raw = std::move(req.body);
    call.meter = req.context;
    call.cancel = req.cancel;
    auto r = co_await gw.embeddings(std::move(call), std::move(p->targets), outcome);
    Response res = r ? Response::json(200, with_model(std::move(r->body), asked)) : Response::error(r.error());
    add_outcome_headers(res, outcome);
    res.header("Server-Timing", server_timing(gw, outcome, Clock::now() - start, outcome.upstream));
    co_return res;
  });

  add(router, "GET", "/api/v1/providers", Schema{}, [&gw](Request&) -> awaitable<Response> {
    json::array data;
    for (const auto& p : gw.providers()) {
      json::array models, targets;
      for (const auto& m : p.models) models.push_back(json::string(m));
      for (const auto& t : p.targets) targets.push_back(health_json(t));
      data.push_back(json::object{{"name", p.name},
                                  {"type", p.type},
                                  {"base_url", p.base_url},
                                  {"models", std::move(models)},
                                  {"targets", std::move(targets)}});
    }
    co_return Response::json(200, core::to_json(json::object{{"object", "list"}, {"data", std::move(data)}}));
  });

  // A live call to one provider, bypassing routes and breakers: a one-token chat completion.
  add(router, "POST", "/api/v1/providers/{name}/test", Schema{{}, {{"model", Type::string}}}, [&gw](Request& req) -> awaitable<Response> {
    std::shared_ptr<gateway::Provider> p = gw.find_provider(req.param("name"));
    if (!p) {
      co_return Response::error(Error(ErrorKind::not_found,
                                      "no provider named '" + std::string(req.param("name")) + "'"));
    }
    std::string model = p->config().models.empty() ? "" : p->config().models.front();
    if (!req.body.empty()) {
      auto body = parse_json_object(req.body);
      if (!body) co_return Response::error(body.error());
      auto m = get_string(*body, "model");
      if (!m) co_return Response::error(m.error());
      if (*m) model = **m;
    }
    if (model.empty()) {
      co_return Response::error(Error(ErrorKind::invalid_field,
                                      "this provider has no models allow-list: name one with {\"model\": ...}",
                                      "model"));
    }
    json::object chat{{"model", model},
                      {"messages", json::array{json::object{{"role", "user"}, {"content", "ping"}}}},
                      {"max_tokens", 1}};
    gateway::ChatCall call{std::move(chat), model, req.request_id,
                           Clock::now() + std::chrono::milliseconds(p->config().timeout_ms)};
    const auto start = Clock::now();
    auto r = co_await p->chat(call);
    json::object out{{"provider", p->config().name},
                      {"model", model},
                      {"ok", r.ok()},
                      {"latency_ms", ms(Clock::now() - start)}};
    if (!r) {
      out["status"] = r.error().upstream_status;
      out["error"] = json::parse(http::error_body(r.error())).at("error");
    } else {
      out["status"] = 200;
    }
    co_return Response::json(200, core::to_json(out));
  });
}

}  // namespace sb::api
