// Inbound formats other than chat completions: POST /v1/messages (the Anthropic Messages API,
// errors in Anthropic's envelope so its SDKs raise their own classes) and POST /v1/responses
// (the OpenAI Responses API). Each request is translated to an OpenAI chat request
// (gateway/anthropic_inbound, gateway/responses_inbound), routed like any other (routes,
// retries, fallback, breakers), and the answer translated back, whole or as the format's stream
// events.

#include "api/json.hpp"
#include "api/routes.hpp"
#include "gateway/anthropic_inbound.hpp"
#include "gateway/responses_inbound.hpp"
#include "http/message.hpp"

namespace sb::api {

using boost::asio::awaitable;
using core::Error;
using http::Request;
using http::Response;
namespace inbound = gateway::anthropic_inbound;
namespace responses = gateway::responses_inbound;

namespace {

void add_outcome(Response& r, const gateway::Outcome& o) {
  if (!o.provider.empty()) r.header("x-switchboard-provider", o.provider);
  if (!o.model.empty()) r.header("x-switchboard-model", o.model);
  r.header("x-switchboard-attempts", std::to_string(o.attempts));
}

// One inbound format: its request translation, whole-answer translation, stream translator
// and error envelope.
struct Format {
  core::Result<boost::json::object> (*to_chat)(const boost::json::object&);
  core::Result<std::string> (*to_answer)(std::string_view, std::string_view);
  std::string (*error_body)(const Error&);
};

Response error_in(const Format& f, const Error& e) {
  Response r = Response::error(e);  // the status and headers (Retry-After, x-should-retry)
  r.body = f.error_body(e);
  return r;
}

// Translates the request to a chat request, routes it as usual, translates the answer back.
template <class Stream>
awaitable<Response> inbound_call(Request& req, gateway::Gateway& gw, Format f) {
  auto body = parse_json_object(req.body);
  if (!body) co_return error_in(f, body.error());
  auto chat = f.to_chat(*body);
  if (!chat) co_return error_in(f, chat.error());
  std::string asked(chat->at("model").get_string());
  auto targets = gw.resolve(asked);
  if (!targets) co_return error_in(f, targets.error());
  const bool streaming = chat->contains("stream");
  gateway::ChatCall call{std::move(*chat), "", req.request_id};
  call.meter = req.context;

  if (!streaming) {
    call.cancel = req.cancel;
    gateway::Outcome outcome;
    auto r = co_await gw.chat(std::move(call), std::move(*targets), outcome);
    if (!r) {
      Response e = error_in(f, r.error());
      add_outcome(e, outcome);
      co_return e;
    }
    auto answer = f.to_answer(r->body, asked);
    Response res = answer ? Response::json(200, std::move(*answer)) : error_in(f, answer.error());
    add_outcome(res, outcome);
    co_return res;
  }

  Response res;
  res.content_type = "text/event-stream";
  res.header("Cache-Control", "no-cache");
  res.stream = [&gw, f, call = std::move(call), targets = std::move(*targets),
                asked = std::move(asked)](http::StreamWriter& w) mutable -> awaitable<void> {
    gateway::Outcome outcome;
    Stream translator(asked);
    std::string pending;
    bool headed = false;
    gateway::ChunkSink sink = [&](std::string_view chunk, bool more) -> awaitable<bool> {
      if (!chunk.empty()) {
        if (!headed) {
          headed = true;
          w.add_header("x-switchboard-provider", outcome.provider);
          w.add_header("x-switchboard-model", outcome.model);
          w.add_header("x-switchboard-attempts", std::to_string(outcome.attempts));
        }
        translator.chunk(chunk, pending);
      }
      if (more || pending.empty()) co_return true;
      std::string out = std::move(pending);
      pending.clear();
      co_return co_await w.write(out);
    };
    core::Status st = co_await gw.chat_stream(std::move(call), std::move(targets), std::move(sink), outcome);
    if (!st) {
      if (!w.started() && pending.empty()) {
        Response e = error_in(f, st.error());
        add_outcome(e, outcome);
        w.replace(std::move(e));
        co_return;
      }
      pending += "event: error\ndata: " + f.error_body(st.error()) + "\n\n";
      co_await w.write(pending);
      co_return;
    }
    translator.finish(pending);
    co_await w.write(pending);
  };
  co_return res;
}

}  // namespace

void register_messages_routes(http::Router& router, gateway::Gateway& gw) {
  router.add("POST", "/v1/messages", [&gw](Request& req) -> awaitable<Response> {
    co_return co_await inbound_call<inbound::StreamTranslator>(
        req, gw, Format{&inbound::to_chat_request, &inbound::to_message, &inbound::error_body});
  });
  // The OpenAI Responses API, for providers that only have chat completions.
  router.add("POST", "/v1/responses", [&gw](Request& req) -> awaitable<Response> {
    co_return co_await inbound_call<responses::StreamTranslator>(
        req, gw, Format{&responses::to_chat_request, &responses::to_response, &http::error_body});
  });
}

}  // namespace sb::api
