// POST /api/v1/fanout: one chat completion request sent to 2-8 models at once. Each leg is
// routed, limited, charged and recorded on its own (RequestContext::leg); a failing leg is
// reported in its slot and never fails the others. Whole: one "fanout" object when every leg
// has ended. Streamed: the legs' chunks multiplexed as SSE events tagged with the leg's index
// and model, each leg's end as a `result` event, then `done`.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <chrono>
#include <memory>

#include "api/json.hpp"
#include "api/openai_validate.hpp"
#include "api/routes.hpp"
#include "api/schema.hpp"
#include "core/json_text.hpp"
#include "gateway/json_splice.hpp"
#include "workflows/parallel.hpp"

namespace sb::api {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::awaitable;
using core::Error;
using core::ErrorKind;
using http::Request;
using http::Response;

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMinLegs = 2, kMaxLegs = 8;
constexpr std::size_t kMaxPending = 1 << 20;  // stream bytes held for a slow client before the legs wait
constexpr auto kKeepAlive = std::chrono::seconds(15);

struct Leg {
  std::size_t index = 0;
  std::string model;
  json::object body;  // the request with this leg's model
  std::string raw;    // as sent to OpenAI-compatible upstreams
  std::shared_ptr<core::RequestContext> meter;
  // The outcome
  int status = 0;
  std::optional<Error> error;
  std::string answer;  // whole: the chat.completion
  json::value usage;   // null until known
  gateway::Outcome outcome;
  Clock::duration took{};
};

// The request's legs, or why the whole request is refused (400: the same for every leg).
core::Result<std::vector<std::shared_ptr<Leg>>> parse_legs(const json::object& body, bool& stream) {
  const json::value* models = body.if_contains("models");
  if (!models || !models->is_array()) {
    return Error(ErrorKind::invalid_field, "'models' is required: an array of 2 to 8 model names", "models");
  }
  const auto& list = models->get_array();
  if (list.size() < kMinLegs || list.size() > kMaxLegs) {
    return Error(ErrorKind::invalid_field,
                 "'models' must name 2 to 8 models (it names " + std::to_string(list.size()) + ")", "models");
  }
  const json::value* request = body.if_contains("request");
  if (!request || !request->is_object()) {
    return Error(ErrorKind::invalid_field, "'request' is required: a chat completion request without 'model'",
                 "request");
  }
  if (request->get_object().contains("model")) {
    return Error(ErrorKind::invalid_field, "'request.model' must not be set: each leg's model comes from 'models'",
                 "request.model");
  }
  stream = false;
  if (auto s = get_bool(body, "stream"); !s) {
    return std::move(s).error();
  } else if (*s) {
    stream = **s;
  }
  if (const auto* s = request->get_object().if_contains("stream"); s && s->is_bool() && s->get_bool()) stream = true;
  std::vector<std::shared_ptr<Leg>> legs;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_string() || list[i].get_string().empty()) {
      return Error(ErrorKind::invalid_field, "'models[" + std::to_string(i) + "]' must be a model name",
                   "models[" + std::to_string(i) + "]");
    }
    auto leg = std::make_shared<Leg>();
    leg->index = i;
    leg->model = std::string(list[i].get_string());
    leg->body = request->get_object();
    leg->body["model"] = leg->model;
    if (stream) {
      leg->body["stream"] = true;
      if (!leg->body.contains("stream_options")) leg->body["stream_options"] = json::object{{"include_usage", true}};
    } else {
      leg->body.erase("stream");
      leg->body.erase("stream_options");
    }
    if (i == 0) {
      if (auto st = validate_chat_request(leg->body); !st) {
        Error e = std::move(st).error();
        if (!e.param.empty()) {
          e.message += " (in 'request')";
          e.param = "request." + e.param;
        }
        return e;
      }
    }
    leg->raw = core::to_json(leg->body);
    legs.push_back(std::move(leg));
  }
  return legs;
}

// Routes and admits a leg; false (with its error set) when it cannot be called.
bool admit(Leg& leg, gateway::Gateway& gw, const std::shared_ptr<core::RequestContext>& context,
           gateway::Resolved& targets) {
  auto r = gw.resolve(leg.model);
  if (!r) {
    leg.error = std::move(r).error();
    return false;
  }
  targets = std::move(*r);
  if (context) {
    auto m = context->leg(leg.model, leg.raw);
    if (!m) {
      leg.error = std::move(m).error();
      return false;
    }
    leg.meter = std::move(*m);
  }
  return true;
}

void end(Leg& leg, Clock::time_point start) {
  leg.took = Clock::now() - start;
  leg.status = leg.error ? leg.error->status() : 200;
  if (leg.meter) leg.meter->finish(leg.status);
}

// A leg's slot: model, status, timing, usage and cost, and its choices or its error.
json::object slot(const Leg& leg, bool with_choices) {
  json::object o;
  o["index"] = leg.index;
  o["model"] = leg.model;
  o["status"] = leg.status;
  o["latency_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(leg.took).count();
  if (!leg.outcome.provider.empty()) o["provider"] = leg.outcome.provider + "/" + leg.outcome.model;
  o["usage"] = leg.usage;
  std::optional<double> cost = leg.meter ? leg.meter->cost() : std::nullopt;
  o["cost_usd"] = cost ? json::value(*cost) : json::value(nullptr);
  if (leg.error) {
    boost::system::error_code ec;
    json::value e = json::parse(http::error_body(*leg.error), ec);
    o["error"] = ec ? json::value(nullptr) : e.at("error");
    return o;
  }
  if (with_choices) {
    boost::system::error_code ec;
    json::value a = json::parse(leg.answer, ec);
    const json::object* ao = ec ? nullptr : a.if_object();
    if (ao && ao->contains("id")) o["id"] = ao->at("id");
    o["choices"] = ao && ao->contains("choices") ? ao->at("choices") : json::value(json::array());
  }
  return o;
}

json::value usage_of(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return nullptr;
  const json::value* u = v.get_object().if_contains("usage");
  return u && u->is_object() ? *u : json::value(nullptr);
}

std::string whole_answer(const std::vector<std::shared_ptr<Leg>>& legs) {
  json::array results;
  for (const auto& l : legs) results.push_back(slot(*l, true));
  json::object out;
  out["object"] = "fanout";
  out["results"] = std::move(results);
  return core::to_json(out);
}

awaitable<void> run_whole(std::shared_ptr<Leg> leg, gateway::Gateway& gw, Request& req) {
  const auto start = Clock::now();
  gateway::Resolved targets;
  if (admit(*leg, gw, req.context, targets)) {
    gateway::ChatCall call{leg->body, "", req.request_id};
    call.raw = leg->raw;
    call.meter = leg->meter;
    call.cancel = req.cancel;
    auto r = co_await gw.chat(std::move(call), std::move(targets), leg->outcome);
    if (r) {
      leg->answer = std::move(r->body);
      leg->usage = usage_of(leg->answer);
    } else {
      leg->error = std::move(r).error();
    }
  }
  end(*leg, start);
}

// The stream's multiplexer: legs append events; one writer sends them.
struct Mux {
  explicit Mux(asio::any_io_executor ex) : wake(ex), drained(ex) {}
  asio::steady_timer wake;     // cancelled when there is something to write, or a leg ended
  asio::steady_timer drained;  // cancelled after each write (legs waiting for room)
  std::string pending;
  std::size_t running = 0;
  bool gone = false;  // the client went away
  std::shared_ptr<core::CancelSignal> cancel = std::make_shared<core::CancelSignal>();

  void post(std::string_view event, const std::string& data) {
    pending.append("event: ").append(event).append("\ndata: ").append(data).append("\n\n");
    wake.cancel();
  }
};

std::string chunk_event(const Leg& leg, std::string_view chunk) {
  std::string out = "{\"index\":" + std::to_string(leg.index) + ",\"model\":";
  core::append_json(out, json::string(leg.model));
  out.append(",\"chunk\":");
  gateway::append_renamed(out, chunk, leg.model);  // (named as asked, as /v1 streams are)
  out.append("}");
  return out;
}

awaitable<void> run_stream(std::shared_ptr<Leg> leg, std::shared_ptr<Mux> mux, gateway::Gateway& gw,
                           std::shared_ptr<core::RequestContext> context, std::string request_id) {
  const auto start = Clock::now();
  gateway::Resolved targets;
  if (admit(*leg, gw, context, targets)) {
    gateway::ChatCall call{leg->body, "", request_id};
    call.raw = leg->raw;
    call.meter = leg->meter;
    call.cancel = mux->cancel;
    gateway::ChunkSink sink = [leg, mux](std::string_view chunk, bool) -> awaitable<bool> {
      if (mux->gone) co_return false;
      if (chunk.empty()) co_return true;
      if (chunk.find("\"usage\":{") != std::string_view::npos) {
        json::value u = usage_of(chunk);
        if (!u.is_null()) leg->usage = std::move(u);
      }
      mux->post("chunk", chunk_event(*leg, chunk));
      while (mux->pending.size() > kMaxPending && !mux->gone) {
        mux->drained.expires_at(asio::steady_timer::time_point::max());
        co_await mux->drained.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      co_return !mux->gone;
    };
    auto st = co_await gw.chat_stream(std::move(call), std::move(targets), std::move(sink), leg->outcome);
    if (!st) leg->error = std::move(st).error();
  }
  end(*leg, start);
  if (!mux->gone) mux->post("result", core::to_json(slot(*leg, false)));
}

awaitable<Response> fanout(Request& req, gateway::Gateway& gw) {
  auto body = parse_json_object(req.body);
  if (!body) co_return Response::error(body.error());
  bool stream = false;
  auto parsed = parse_legs(*body, stream);
  if (!parsed) co_return Response::error(parsed.error());
  std::vector<std::shared_ptr<Leg>> legs = std::move(*parsed);

  if (!stream) {
    std::vector<workflows::Task> tasks;
    for (auto& l : legs) {
      tasks.push_back([l, &gw, &req]() -> awaitable<void> { co_await run_whole(l, gw, req); });
    }
    co_await workflows::run_all(std::move(tasks));
    co_return Response::json(200, whole_answer(legs));
  }

  Response res;
  res.content_type = "text/event-stream";
  res.header("Cache-Control", "no-cache");
  res.stream = [legs = std::move(legs), &gw, context = req.context, request_id = req.request_id](
                   http::StreamWriter& w) mutable -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto mux = std::make_shared<Mux>(ex);
    mux->running = legs.size();
    for (auto& l : legs) {
      auto ended = [mux](std::exception_ptr) {
        --mux->running;
        mux->wake.cancel();
      };
      asio::co_spawn(ex, run_stream(l, mux, gw, context, request_id), std::move(ended));
    }
    for (;;) {
      if (!mux->pending.empty()) {
        std::string out = std::move(mux->pending);
        mux->pending.clear();
        const bool ok = co_await w.write(out);
        mux->drained.cancel();
        if (!ok) {
          mux->gone = true;  // the legs stop at their next chunk; their calls are dropped
          mux->cancel->fire();
          co_return;
        }
        continue;
      }
      if (mux->running == 0) break;
      mux->wake.expires_after(kKeepAlive);
      auto [ec] = co_await mux->wake.async_wait(asio::as_tuple(asio::use_awaitable));
      if (!ec && mux->pending.empty()) mux->pending = ": keep-alive\n\n";
    }
    json::array results;
    for (const auto& l : legs) results.push_back(slot(*l, false));
    json::object done;
    done["object"] = "fanout";
    done["results"] = std::move(results);
    co_await w.write("event: done\ndata: " + core::to_json(done) + "\n\n");
  };
  co_return res;
}

}  // namespace

void register_fanout_routes(http::Router& router, gateway::Gateway& gw) {
  Schema schema{{}, {{"models", Type::array}, {"models[]", Type::any}, {"request", Type::any}, {"stream", Type::boolean}}};
  add(router, "POST", "/api/v1/fanout", schema, [&gw](Request& req) -> awaitable<Response> {
    co_return co_await fanout(req, gw);
  });
}

}  // namespace sb::api
