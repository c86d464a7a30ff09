// The OpenAI-compatible surface: GET /v1/models and POST /v1/chat/completions (whole or streamed
// as server-sent events ending with `data: [DONE]`).

#include <boost/json/serialize.hpp>

#include "api/json.hpp"
#include "api/routes.hpp"
#include "http/message.hpp"

namespace sb::api {

namespace json = boost::json;
using boost::asio::awaitable;
using core::Error;
using core::ErrorKind;
using http::Request;
using http::Response;

namespace {

void add_outcome_headers(Response& r, const gateway::Outcome& o) {
  if (!o.provider.empty()) r.header("x-switchboard-provider", o.provider);
  if (!o.model.empty()) r.header("x-switchboard-model", o.model);
  r.header("x-switchboard-attempts", std::to_string(o.attempts));
}

// Checks what the gateway itself relies on; everything else is the upstream's to judge.
core::Status validate(const json::object& body) {
  auto model = get_string(body, "model");
  if (!model) return std::move(model).error();
  if (!*model || (*model)->empty()) {
    return Error(ErrorKind::invalid_field, "'model' is required", "model");
  }
  const json::value* messages = body.if_contains("messages");
  if (!messages || !messages->is_array()) {
    return Error(ErrorKind::invalid_field, "'messages' must be an array", "messages");
  }
  if (messages->get_array().empty()) {
    return Error(ErrorKind::invalid_field, "'messages' must not be empty", "messages");
  }
  for (std::size_t i = 0; i < messages->get_array().size(); ++i) {
    const auto* m = messages->get_array()[i].if_object();
    const json::value* role = m ? m->if_contains("role") : nullptr;
    if (!role || !role->is_string()) {
      std::string p = "messages[" + std::to_string(i) + "].role";
      return Error(ErrorKind::invalid_field, "'" + p + "' must be a string", p);
    }
  }
  auto stream = get_bool(body, "stream");
  if (!stream) return std::move(stream).error();
  return {};
}

}  // namespace

void register_chat_routes(http::Router& router, gateway::Gateway& gw) {
  router.add("GET", "/v1/models", [&gw](Request&) -> awaitable<Response> {
    json::array data;
    for (const auto& m : gw.models()) {
      data.push_back(json::object{{"id", m.id}, {"object", "model"}, {"created", 0}, {"owned_by", m.owned_by}});
    }
    co_return Response::json(200, json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}}));
  });

  router.add("POST", "/v1/chat/completions", [&gw](Request& req) -> awaitable<Response> {
    auto body = parse_json_object(req.body);
    if (!body) co_return Response::error(body.error());
    if (auto st = validate(*body); !st) co_return Response::error(st.error());
    std::string model(body->at("model").get_string());
    auto targets = gw.resolve(model);
    if (!targets) co_return Response::error(targets.error());
    const json::value* stream = body->if_contains("stream");
    gateway::ChatCall call{std::move(*body), "", req.request_id};

    if (!stream || !stream->is_bool() || !stream->get_bool()) {
      gateway::Outcome outcome;
      auto r = co_await gw.chat(std::move(call), std::move(*targets), outcome);
      Response res = r ? Response::json(200, std::move(r->body)) : Response::error(r.error());
      add_outcome_headers(res, outcome);
      co_return res;
    }

    Response res;
    res.content_type = "text/event-stream";
    res.header("Cache-Control", "no-cache");
    res.stream = [&gw, call = std::move(call), targets = std::move(*targets)](
                     http::StreamWriter& w) mutable -> awaitable<void> {
      gateway::Outcome outcome;
      auto st = co_await gw.chat_stream(
          std::move(call), std::move(targets),
          [&](std::string_view chunk) -> awaitable<bool> {
            if (!w.started()) {
              w.add_header("x-switchboard-provider", outcome.provider);
              w.add_header("x-switchboard-model", outcome.model);
              w.add_header("x-switchboard-attempts", std::to_string(outcome.attempts));
            }
            std::string event = "data: ";
            event.append(chunk);
            event += "\n\n";
            co_return co_await w.write(event);
          },
          outcome);
      if (!st) {
        if (!w.started()) {
          // Nothing was sent: answer with the error's own status instead of a stream.
          Response e = Response::error(st.error());
          add_outcome_headers(e, outcome);
          w.replace(std::move(e));
          co_return;
        }
        // Mid-stream: an error event in the OpenAI envelope, and no [DONE].
        co_await w.write("data: " + http::error_body(st.error()) + "\n\n");
        co_return;
      }
      co_await w.write("data: [DONE]\n\n");
    };
    co_return res;
  });
}

}  // namespace sb::api
