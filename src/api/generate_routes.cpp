// The model service's surface: POST /api/v1/generate {prompt, max_tokens, temperature, top_p,
// stop, model?, stream?} on /v1/completions of the named or default model, and
// GET /api/v1/model/info (what generate would use).

#include <boost/json/parse.hpp>

#include <chrono>

#include "api/json.hpp"
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

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxPrompt = 1 << 20;

Error bad(const char* param, const std::string& what) {
  return Error(ErrorKind::invalid_field, "'" + std::string(param) + "' " + what, param);
}

std::string default_model(const GenerateDeps& d) {
  if (d.default_model) {
    std::string m = d.default_model();
    if (!m.empty()) return m;
  }
  auto models = d.gateway->models();
  return models.empty() ? "" : models.front().id;
}

// The /v1/completions body a generate request makes.
core::Result<json::object> completion_body(const json::object& body, const std::string& model) {
  json::object out;
  out["model"] = model;
  const auto* prompt = body.if_contains("prompt");
  if (!prompt || !prompt->is_string() || prompt->get_string().empty()) return bad("prompt", "is required: a non-empty string");
  if (prompt->get_string().size() > kMaxPrompt) return bad("prompt", "is longer than 1048576 bytes");
  out["prompt"] = *prompt;
  std::int64_t max_tokens = 512;
  if (const auto* m = body.if_contains("max_tokens"); m && !m->is_null()) {
    if (!m->is_int64() || m->get_int64() < 1 || m->get_int64() > 1000000) return bad("max_tokens", "must be an integer from 1 to 1000000");
    max_tokens = m->get_int64();
  }
  out["max_tokens"] = max_tokens;
  double temperature = 0.7, top_p = 0.9;
  if (const auto* t = body.if_contains("temperature"); t && !t->is_null()) {
    if (!t->is_number() || t->to_number<double>() < 0 || t->to_number<double>() > 2) return bad("temperature", "must be a number from 0 to 2");
    temperature = t->to_number<double>();
  }
  if (const auto* p = body.if_contains("top_p"); p && !p->is_null()) {
    if (!p->is_number() || p->to_number<double>() <= 0 || p->to_number<double>() > 1) return bad("top_p", "must be a number in (0, 1]");
    top_p = p->to_number<double>();
  }
  out["temperature"] = temperature;
  out["top_p"] = top_p;
  if (const auto* s = body.if_contains("stop"); s && !s->is_null()) {
    if (s->is_string()) {
      if (s->get_string().empty() || s->get_string().size() > 256) return bad("stop", "must be 1 to 256 characters");
      out["stop"] = *s;
    } else if (s->is_array() && !s->get_array().empty() && s->get_array().size() <= 4) {
      for (const auto& x : s->get_array()) {
        if (!x.is_string() || x.get_string().empty() || x.get_string().size() > 256) {
          return bad("stop", "must be a string or up to 4 strings of 1 to 256 characters");
        }
      }
      out["stop"] = *s;
    } else {
      return bad("stop", "must be a string or up to 4 strings of 1 to 256 characters");
    }
  }
  return out;
}

// {text, finish_reason, usage, model} from a text_completion.
std::string generated(const std::string& completion, const std::string& model, Clock::duration took) {
  json::object out;
  out["object"] = "generation";
  out["model"] = model;
  out["text"] = "";
  out["finish_reason"] = nullptr;
  out["usage"] = nullptr;
  boost::system::error_code ec;
  json::value v = json::parse(completion, ec);
  if (!ec && v.is_object()) {
    const auto& o = v.get_object();
    if (const auto* ch = o.if_contains("choices"); ch && ch->is_array() && !ch->get_array().empty() && ch->get_array()[0].is_object()) {
      const auto& c0 = ch->get_array()[0].get_object();
      if (const auto* t = c0.if_contains("text"); t && t->is_string()) out["text"] = *t;
      if (const auto* f = c0.if_contains("finish_reason")) out["finish_reason"] = *f;
    }
    if (const auto* u = o.if_contains("usage")) out["usage"] = *u;
  }
  out["latency_ms"] = std::chrono::duration<double, std::milli>(took).count();
  return core::to_json(out);
}

// One streamed chunk's text ("" when it has none) and finish_reason.
std::pair<std::string, std::string> chunk_text(std::string_view chunk) {
  boost::system::error_code ec;
  json::value v = json::parse(chunk, ec);
  std::pair<std::string, std::string> out;
  if (ec || !v.is_object()) return out;
  const auto* ch = v.get_object().if_contains("choices");
  if (!ch || !ch->is_array() || ch->get_array().empty() || !ch->get_array()[0].is_object()) return out;
  const auto& c0 = ch->get_array()[0].get_object();
  if (const auto* t = c0.if_contains("text"); t && t->is_string()) out.first = std::string(t->get_string());
  if (const auto* f = c0.if_contains("finish_reason"); f && f->is_string()) out.second = std::string(f->get_string());
  return out;
}

std::string token_event(const std::string& text) {
  json::object o;
  o["text"] = text;
  return "event: token\ndata: " + core::to_json(o) + "\n\n";
}

std::string done_event(const std::string& text, const std::string& finish, const std::string& model) {
  json::object o;
  o["object"] = "generation";
  o["model"] = model;
  o["text"] = text;
  o["finish_reason"] = finish.empty() ? json::value(nullptr) : json::value(finish);
  return "event: done\ndata: " + core::to_json(o) + "\n\n";
}

awaitable<Response> generate(Request& req, const GenerateDeps& d) {
  auto body = parse_json_object(req.body);
  if (!body) co_return Response::error(body.error());
  auto named = get_string(*body, "model");
  if (!named) co_return Response::error(named.error());
  const std::string model = named->value_or(default_model(d));
  if (model.empty()) co_return Response::error(bad("model", "is required: no model is configured"));
  auto call_body = completion_body(*body, model);
  if (!call_body) co_return Response::error(call_body.error());
  auto targets = d.gateway->resolve(model);
  if (!targets) co_return Response::error(targets.error());
  const auto* s = body->if_contains("stream");
  if (s && !s->is_bool()) co_return Response::error(bad("stream", "must be a boolean"));
  const bool stream = s && s->get_bool();
  if (stream) (*call_body)["stream"] = true;
  const std::string raw = core::to_json(*call_body);
  gateway::ChatCall call{std::move(*call_body), "", req.request_id};
  call.raw = raw;
  call.meter = req.context;
  const auto start = Clock::now();
  if (!stream) {
    call.cancel = req.cancel;
    gateway::Outcome outcome;
    auto r = co_await d.gateway->completions(std::move(call), std::move(*targets), outcome);
    if (!r) co_return Response::error(r.error());
    Response res = Response::json(200, generated(r->body, model, Clock::now() - start));
    res.header("x-switchboard-provider", outcome.provider);
    res.header("x-switchboard-model", outcome.model);
    co_return res;
  }
  Response res;
  res.content_type = "text/event-stream";
  res.header("Cache-Control", "no-cache");
  res.stream = [gw = d.gateway, call = std::move(call), targets = std::move(*targets), model](
                   http::StreamWriter& w) mutable -> awaitable<void> {
    gateway::Outcome outcome;
    std::string all, finish;
    gateway::ChunkSink sink = [&](std::string_view chunk, bool more) -> awaitable<bool> {
      if (chunk.empty()) co_return true;
      const std::pair<std::string, std::string> piece = chunk_text(chunk);
      if (!piece.second.empty()) finish = piece.second;
      if (piece.first.empty()) co_return true;
      all += piece.first;
      const std::string event = token_event(piece.first);
      co_return co_await w.write(event);
    };
    auto st = co_await gw->completions_stream(std::move(call), std::move(targets), std::move(sink), outcome);
    if (!st) {
      if (!w.started()) {
        w.replace(Response::error(st.error()));
        co_return;
      }
      const std::string error = "event: error\ndata: " + http::error_body(st.error()) + "\n\n";
      co_await w.write(error);
      co_return;
    }
    const std::string done = done_event(all, finish, model);
    co_await w.write(done);
  };
  co_return res;
}

}  // namespace

void register_generate_routes(http::Router& router, GenerateDeps deps) {
  Schema schema{{},
                {{"prompt", Type::string},
                 {"max_tokens", Type::integer},
                 {"temperature", Type::number},
                 {"top_p", Type::number},
                 {"stop", Type::any},
                 {"model", Type::string},
                 {"stream", Type::boolean}}};
  add(router, "POST", "/api/v1/generate", schema, [deps](Request& req) -> awaitable<Response> {
    co_return co_await generate(req, deps);
  });
  add(router, "GET", "/api/v1/model/info", Schema{}, [deps](Request&) -> awaitable<Response> {
    const std::string model = default_model(deps);
    json::object out;
    out["object"] = "model_info";
    out["model"] = model.empty() ? json::value(nullptr) : json::value(model);
    json::array targets;
    if (auto r = deps.gateway->resolve(model); r && !model.empty()) {
      for (const auto& t : r->targets) {
        json::object o;
        o["provider"] = t.provider->config().name;
        o["type"] = t.provider->config().type;
        o["model"] = t.model;
        o["base_url"] = t.provider->config().base_url;
        targets.push_back(std::move(o));
      }
    }
    out["targets"] = std::move(targets);
    json::object defaults;
    defaults["max_tokens"] = 512;
    defaults["temperature"] = 0.7;
    defaults["top_p"] = 0.9;
    out["defaults"] = std::move(defaults);
    out["endpoint"] = "/v1/completions";
    co_return Response::json(200, core::to_json(out));
  });
}

}  // namespace sb::api
