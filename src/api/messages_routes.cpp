// POST /v1/messages: the Anthropic Messages API in front of every provider. The request is
// translated to an OpenAI chat request (gateway/anthropic_inbound), routed like any other (routes,
// retries, fallback, breakers), and the answer translated back, whole or as Anthropic's stream
// events. Errors come in Anthropic's envelope, so the Anthropic SDKs raise their own classes.

#include "api/json.hpp"
#include "api/routes.hpp"
#include "gateway/anthropic_inbound.hpp"
#include "http/message.hpp"

namespace sb::api {

using boost::asio::awaitable;
using core::Error;
using http::Request;
using http::Response;
namespace inbound = gateway::anthropic_inbound;

namespace {

Response anthropic_error(const Error& e) {
  Response r = Response::error(e);  // the status and headers (Retry-After, x-should-retry)
  r.body = inbound::error_body(e);
  return r;
}

void add_outcome(Response& r, const gateway::Outcome& o) {
  if (!o.provider.empty()) r.header("x-switchboard-provider", o.provider);
  if (!o.model.empty()) r.header("x-switchboard-model", o.model);
  r.header("x-switchboard-attempts", std::to_string(o.attempts));
}

}  // namespace

void register_messages_routes(http::Router& router, gateway::Gateway& gw) {
  router.add("POST", "/v1/messages", [&gw](Request& req) -> awaitable<Response> {
    auto body = parse_json_object(req.body);
    if (!body) co_return anthropic_error(body.error());
    auto chat = inbound::to_chat_request(*body);
    if (!chat) co_return anthropic_error(chat.error());
    std::string asked(chat->at("model").get_string());
    auto targets = gw.resolve(asked);
    if (!targets) co_return anthropic_error(targets.error());
    const bool streaming = chat->contains("stream");
    gateway::ChatCall call{std::move(*chat), "", req.request_id};

    if (!streaming) {
      call.cancel = req.cancel;
      gateway::Outcome outcome;
      auto r = co_await gw.chat(std::move(call), std::move(*targets), outcome);
      if (!r) {
        Response e = anthropic_error(r.error());
        add_outcome(e, outcome);
        co_return e;
      }
      auto message = inbound::to_message(r->body, asked);
      Response res = message ? Response::json(200, std::move(*message)) : anthropic_error(message.error());
      add_outcome(res, outcome);
      co_return res;
    }

    Response res;
    res.content_type = "text/event-stream";
    res.header("Cache-Control", "no-cache");
    res.stream = [&gw, call = std::move(call), targets = std::move(*targets),
                  asked = std::move(asked)](http::StreamWriter& w) mutable -> awaitable<void> {
      gateway::Outcome outcome;
      inbound::StreamTranslator translator(asked);
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
          Response e = anthropic_error(st.error());
          add_outcome(e, outcome);
          w.replace(std::move(e));
          co_return;
        }
        pending += "event: error\ndata: " + inbound::error_body(st.error()) + "\n\n";
        co_await w.write(pending);
        co_return;
      }
      translator.finish(pending);
      co_await w.write(pending);
    };
    co_return res;
  });
}

}  // namespace sb::api
