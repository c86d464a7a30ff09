// Live events: GET /api/v1/events (server-sent events) and GET /api/v1/ws (WebSocket) carry job
// status changes (job.queued, job.processing, job.completed, job.failed, job.expired,
// job.cancelled) and stored messages (message.created), filtered by type and id, and by the
// caller's key: a key sees its own jobs and conversations, an admin key (or an open server)
// everyone's. A subscriber that falls behind (1024 events or 1 MiB waiting) is dropped with
// the reason; memory never grows with a slow client.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <chrono>
#include <deque>

#include "api/routes.hpp"
#include "api/schema.hpp"
#include "core/json_text.hpp"

namespace sb::api {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::awaitable;
using core::Error;
using core::ErrorKind;
using http::Request;
using http::Response;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds kHeartbeat(15);
constexpr std::chrono::seconds kDropGrace(2);  // a dropped WebSocket still writing: then cut

// Who may see what: nullopt = everyone's events.
std::optional<std::string> owner_of(const Request& req) {
  if (!req.context || req.context->admin || req.context->key_id.empty()) return std::nullopt;
  return req.context->key_id;
}

std::string event_json(const std::string& type, const std::string& topic, const std::string& id, json::object body,
                       const char* key) {
  json::object e;
  e["type"] = type;
  e["topic"] = topic;
  e["id"] = id;
  e[key] = std::move(body);
  return core::to_json(e);
}

std::string sse(const core::BusEvent& e) { return "event: " + e.type + "\ndata: " + e.data + "\n\n"; }

core::Error bad_topic() {
  return Error(ErrorKind::invalid_field, "'type' must be \"job\" or \"conversation\"", "type");
}

// A job's current status as an event, for a subscriber to one job (it may have finished already).
awaitable<std::optional<core::BusEvent>> snapshot(jobs::Service* jobs, const std::string& id,
                                                  const std::optional<std::string>& owner) {
  if (!jobs) co_return std::nullopt;
  auto row = co_await jobs->get(id);
  if (!row || !*row) co_return std::nullopt;
  const jobs::Job& j = **row;
  if (owner && j.key_id.value_or("") != *owner) co_return std::nullopt;
  co_return job_event(j);
}

std::string dropped_reason(const core::MailboxLimits& l) {
  return "too slow: more than " + std::to_string(l.max_events) + " events or " + std::to_string(l.max_bytes) +
         " bytes waiting";
}

// --- the WebSocket session ---------------------------------------------------------------

struct WsSession {
  WsSession(asio::any_io_executor ex) : done(ex) {}
  std::shared_ptr<core::Subscription> sub;
  std::deque<std::string> outbox;  // replies to the client's messages
  bool reader_done = false, writer_done = false, watchdog_done = false;
  asio::steady_timer done;  // cancelled when a helper coroutine ends
};

std::string reply(const char* type, const std::string& topic, const std::string& id, const std::string& message = "") {
  json::object o;
  o["type"] = type;
  if (!topic.empty()) o["topic"] = topic;
  if (!id.empty()) o["id"] = id;
  if (!message.empty()) o["message"] = message;
  return core::to_json(o);
}

// The client's message: {"action": "subscribe"|"unsubscribe", "type": "job"|"conversation", "id"?}.
// Returns the reply; `snapshot_id` is set when a job's current status should follow.
std::string handle_message(WsSession& s, const std::string& text, std::string& snapshot_id) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return reply("error", "", "", "send a JSON object: {\"action\":\"subscribe\",\"type\":\"job\",\"id\":\"job_...\"}");
  const auto& o = v.get_object();
  const auto* action = o.if_contains("action");
  const auto* type = o.if_contains("type");
  const auto* id = o.if_contains("id");
  if (!action || !action->is_string() || (action->get_string() != "subscribe" && action->get_string() != "unsubscribe")) {
    return reply("error", "", "", "'action' must be \"subscribe\" or \"unsubscribe\"");
  }
  if (!type || !type->is_string() || (type->get_string() != "job" && type->get_string() != "conversation")) {
    return reply("error", "", "", "'type' must be \"job\" or \"conversation\"");
  }
  if (id && (!id->is_string() || id->get_string().size() > 128)) {
    return reply("error", "", "", "'id' must be a string of at most 128 characters");
  }
  const std::string topic(type->get_string());
  const std::string which = id ? std::string(id->get_string()) : "";
  if (action->get_string() == "unsubscribe") {
    s.sub->unwatch(topic, which);
    return reply("unsubscribed", topic, which);
  }
  if (!s.sub->watch(topic, which)) return reply("error", topic, which, "at most 1000 subscriptions per connection");
  if (topic == "job" && !which.empty()) snapshot_id = which;
  return reply("subscribed", topic, which);
}

awaitable<void> ws_reader(std::shared_ptr<WsSession> s, http::WebSocket& ws, jobs::Service* jobs,
                          std::optional<std::string> owner) {
  for (;;) {
    auto text = co_await ws.read();
    if (!text) break;
    std::string snapshot_id;
    s->outbox.push_back(handle_message(*s, *text, snapshot_id));
    if (!snapshot_id.empty()) {
      auto e = co_await snapshot(jobs, snapshot_id, owner);
      if (e) s->outbox.push_back(e->data);
    }
    if (s->outbox.size() > 1000) break;  // a client sending without reading its replies
    s->sub->wake.cancel();
  }
  s->reader_done = true;
  s->sub->wake.cancel();
  s->done.cancel();
}

// Cuts a dropped connection whose writer is stuck (the client stopped reading).
awaitable<void> ws_watchdog(std::shared_ptr<WsSession> s, http::WebSocket& ws) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  std::optional<std::chrono::steady_clock::time_point> since;
  while (!s->writer_done) {
    t.expires_after(std::chrono::milliseconds(500));
    co_await t.async_wait(kTuple);
    if (s->writer_done) break;
    if (!s->sub->dropped()) continue;
    if (!since) since = std::chrono::steady_clock::now();
    if (std::chrono::steady_clock::now() - *since > kDropGrace) {
      ws.abort();
      break;
    }
  }
  s->watchdog_done = true;
  s->done.cancel();
}

awaitable<void> ws_session(http::WebSocket& ws, core::EventBus& bus, jobs::Service* jobs,
                           std::optional<std::string> owner, core::MailboxLimits limits,
                           std::vector<std::pair<std::string, std::string>> initial) {
  auto ex = co_await asio::this_coro::executor;
  auto s = std::make_shared<WsSession>(ex);
  s->sub = bus.subscribe(ex, owner, limits);
  s->sub->wake.expires_at(asio::steady_timer::time_point::max());
  for (const auto& [topic, id] : initial) s->sub->watch(topic, id);
  auto reader = ws_reader(s, ws, jobs, owner);
  asio::co_spawn(ex, std::move(reader), asio::detached);
  auto watchdog = ws_watchdog(s, ws);
  asio::co_spawn(ex, std::move(watchdog), asio::detached);

  bool ok = true;
  while (ok && !s->reader_done) {
    if (s->sub->closed()) {
      co_await ws.close(1001, "the server is shutting down");
      break;
    }
    if (s->sub->dropped()) {
      const std::string why = dropped_reason(limits);
      co_await ws.close(1008, why);
      break;
    }
    std::deque<std::string> replies;
    replies.swap(s->outbox);
    auto events = s->sub->take();
    if (replies.empty() && events.empty()) {
      s->sub->wake.expires_at(asio::steady_timer::time_point::max());
      co_await s->sub->wake.async_wait(kTuple);
      continue;
    }
    for (const auto& r : replies) {
      if (ok) ok = co_await ws.write(r);
    }
    for (const auto& e : events) {
      if (ok) ok = co_await ws.write(e->data);
    }
  }
  s->writer_done = true;
  if (!s->reader_done) ws.abort();
  bus.unsubscribe(s->sub);
  while (!s->reader_done || !s->watchdog_done) {
    s->done.expires_after(std::chrono::seconds(1));
    co_await s->done.async_wait(kTuple);
    if (!s->reader_done) ws.abort();
  }
}

// ?type=job|conversation (default both) &id=...: the filters of a subscription.
core::Result<std::vector<std::pair<std::string, std::string>>> filters_of(const Request& req) {
  std::vector<std::pair<std::string, std::string>> out;
  auto type = req.query("type");
  auto id = req.query("id");
  if (id && id->size() > 128) return Error(ErrorKind::invalid_field, "'id' is longer than 128 characters", "id");
  if (type && *type != "job" && *type != "conversation") return bad_topic();
  if (!type && id) return Error(ErrorKind::invalid_field, "'id' needs 'type' (job or conversation)", "type");
  for (const char* t : {"job", "conversation"}) {
    if (!type || *type == t) out.emplace_back(t, id.value_or(""));
  }
  return out;
}

}  // namespace

core::BusEvent job_event(const jobs::Job& job) {
  core::BusEvent e;
  e.topic = "job";
  e.id = job.id;
  e.type = "job." + job.status;
  e.owner = job.key_id.value_or("");
  e.data = event_json(e.type, e.topic, e.id, jobs::status_object(job, false), "job");
  return e;
}

core::BusEvent message_event(const std::string& conversation_id, const std::string& owner, json::object message) {
  core::BusEvent e;
  e.topic = "conversation";
  e.id = conversation_id;
  e.type = "message.created";
  e.owner = owner;
  e.data = event_json(e.type, e.topic, e.id, std::move(message), "message");
  return e;
}

void register_event_routes(http::Router& router, core::EventBus& bus, jobs::Service* jobs, core::MailboxLimits limits) {
  add(router, "GET", "/api/v1/events", Schema{{"type", "id"}, {}}, [&bus, jobs, limits](Request& req) -> awaitable<Response> {
    auto filters = filters_of(req);
    if (!filters) co_return Response::error(filters.error());
    const auto owner = owner_of(req);
    std::optional<core::BusEvent> first;
    auto sub = bus.subscribe(co_await asio::this_coro::executor, owner, limits);
    for (const auto& [topic, id] : *filters) sub->watch(topic, id);
    if (filters->size() == 1 && filters->front().first == "job" && !filters->front().second.empty()) {
      first = co_await snapshot(jobs, filters->front().second, owner);
      if (!first) {
        bus.unsubscribe(sub);
        co_return Response::error(Error(ErrorKind::not_found, "no job '" + filters->front().second + "'", "id"));
      }
    }
    Response res;
    res.content_type = "text/event-stream";
    res.header("Cache-Control", "no-cache");
    res.stream = [&bus, sub, first, limits](http::StreamWriter& out) -> awaitable<void> {
      const std::string hello = first ? sse(*first) : std::string(": subscribed\n\n");
      bool ok = co_await out.write(hello);
      while (ok && !sub->closed()) {
        if (sub->dropped()) {
          const std::string bye = "event: dropped\ndata: " + reply("dropped", "", "", dropped_reason(limits)) + "\n\n";
          co_await out.write(bye);
          break;
        }
        auto events = sub->take();
        if (events.empty()) {
          sub->wake.expires_after(kHeartbeat);
          auto [ec] = co_await sub->wake.async_wait(kTuple);
          if (!ec && sub->pending() == 0 && !sub->dropped()) ok = co_await out.write(": keep-alive\n\n");
          continue;
        }
        std::string chunk;
        for (const auto& e : events) chunk += sse(*e);
        ok = co_await out.write(chunk);
      }
      bus.unsubscribe(sub);
    };
    co_return res;
  });

  add(router, "GET", "/api/v1/ws", Schema{{"type", "id"}, {}}, [&bus, jobs, limits](Request& req) -> awaitable<Response> {
    auto filters = filters_of(req);
    if (!filters) co_return Response::error(filters.error());
    if (req.query("type") == std::nullopt) filters->clear();  // (subscribe by message instead)
    Response res;
    res.status = 101;
    res.websocket = [&bus, jobs, limits, owner = owner_of(req), initial = std::move(*filters)](
                        http::WebSocket& ws) -> awaitable<void> {
      co_await ws_session(ws, bus, jobs, owner, limits, initial);
    };
    co_return res;
  });
}

}  // namespace sb::api
