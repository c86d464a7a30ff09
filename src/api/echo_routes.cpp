// POST /api/v1/echo — a diagnostic route that answers the JSON it received. It lets clients,
// proxies and load balancers check the whole path, and exercises timeouts and streaming:
//   delay_ms  (integer, 0..60000)  wait this long before answering
//   events    (integer, 1..10000)  answer as text/event-stream: that many `data: <body>` events,
//                                  delay_ms apart, then `data: [DONE]`

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>

#include "api/json.hpp"
#include "api/routes.hpp"
#include "api/schema.hpp"
#include "http/message.hpp"

namespace sb::api {

namespace asio = boost::asio;
using asio::awaitable;
using http::Request;
using http::Response;

namespace {

awaitable<void> sleep_for(std::chrono::milliseconds d) {
  if (d.count() <= 0) co_return;
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

awaitable<Response> echo(Request& req) {
  auto body = parse_json(req.body);
  if (!body) co_return Response::error(body.error());
  std::int64_t delay_ms = 0;
  std::int64_t events = 0;
  if (body->is_object()) {
    const auto& o = body->as_object();
    auto d = get_int(o, "delay_ms", 0, 60000);
    if (!d) co_return Response::error(d.error());
    auto e = get_int(o, "events", 1, 10000);
    if (!e) co_return Response::error(e.error());
    delay_ms = d->value_or(0);
    events = e->value_or(0);
  }
  std::string text = to_string(*body);
  if (events == 0) {
    co_await sleep_for(std::chrono::milliseconds(delay_ms));
    co_return Response::json(200, std::move(text));
  }
  Response r;
  r.content_type = "text/event-stream";
  r.header("Cache-Control", "no-cache");
  r.stream = [text = std::move(text), events, delay_ms](http::StreamWriter& w) -> awaitable<void> {
    for (std::int64_t i = 0; i < events; ++i) {
      if (i > 0) co_await sleep_for(std::chrono::milliseconds(delay_ms));
      if (!co_await w.write("data: " + text + "\n\n")) co_return;
    }
    co_await w.write("data: [DONE]\n\n");
  };
  co_return r;
}

}  // namespace

void register_echo_routes(http::Router& router) {
  add(router, "POST", "/api/v1/echo", Schema{{}, {}, /*any_body=*/true}, echo);
}

}  // namespace sb::api
