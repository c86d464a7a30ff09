// POST /api/v1/comparison: which of two texts is better, judged by one model or several in
// parallel (each a leg: limited and charged on its own). The model's answer is forced into
// {winner, justification, confidence} by structured output, validated, retried once when
// invalid, and otherwise answered 502 with the raw output. Never cached.

#include <boost/json/parse.hpp>

#include <chrono>
#include <map>
#include <memory>

#include "api/json.hpp"
#include "api/routes.hpp"
#include "api/schema.hpp"
#include "core/json_text.hpp"
#include "workflows/comparison.hpp"
#include "workflows/parallel.hpp"

namespace sb::api {

namespace json = boost::json;
using boost::asio::awaitable;
using core::Error;
using core::ErrorKind;
using http::Request;
using http::Response;

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxText = 100000;  // characters (bytes) of each text
constexpr std::size_t kMaxModels = 8;
constexpr int kAttempts = 2;  // the first answer, and one retry when it is invalid

struct Judge {
  std::string model;
  std::shared_ptr<core::RequestContext> meter;
  std::optional<workflows::Judgment> judgment;
  std::optional<Error> error;
  std::string raw;  // the last invalid output
  gateway::Outcome outcome;
  long long prompt = 0, completion = 0;
  int attempts = 0;
  Clock::duration took{};
};

core::Result<workflows::Comparison> parse(const json::object& body, std::vector<std::string>& models) {
  workflows::Comparison c;
  for (const char* f : {"a", "b"}) {
    const auto* v = body.if_contains(f);
    if (!v || !v->is_string() || v->get_string().empty()) {
      return Error(ErrorKind::invalid_field, std::string("'") + f + "' is required: a non-empty text", f);
    }
    if (v->get_string().size() > kMaxText) {
      return Error(ErrorKind::invalid_field, std::string("'") + f + "' is longer than 100000 characters", f);
    }
    (f[0] == 'a' ? c.a : c.b) = std::string(v->get_string());
  }
  auto ins = get_string(body, "instructions");
  if (!ins) return std::move(ins).error();
  if (*ins) {
    if ((*ins)->size() > kMaxText) {
      return Error(ErrorKind::invalid_field, "'instructions' is longer than 100000 characters", "instructions");
    }
    c.instructions = **ins;
  }
  if (const auto* l = body.if_contains("labels")) {
    const auto* arr = l->if_array();
    if (!arr || arr->size() != 2 || !(*arr)[0].is_string() || !(*arr)[1].is_string() ||
        (*arr)[0].get_string().empty() || (*arr)[0].get_string().size() > 100 || (*arr)[1].get_string().empty() ||
        (*arr)[1].get_string().size() > 100 || (*arr)[0].get_string() == (*arr)[1].get_string()) {
      return Error(ErrorKind::invalid_field, "'labels' must be two different non-empty names (at most 100 characters)",
                   "labels");
    }
    c.labels = {std::string((*arr)[0].get_string()), std::string((*arr)[1].get_string())};
  }
  if (const auto* t = body.if_contains("temperature"); t && !t->is_null()) {
    if (!t->is_number() || t->to_number<double>() < 0 || t->to_number<double>() > 2) {
      return Error(ErrorKind::invalid_field, "'temperature' must be a number from 0 to 2", "temperature");
    }
    c.temperature = t->to_number<double>();
  }
  auto mode = get_string(body, "processing_mode");
  if (!mode) return std::move(mode).error();
  if (*mode && **mode != "immediate") {
    return Error(ErrorKind::invalid_field,
                 **mode == "queue_if_unavailable"
                     ? "'processing_mode': queue_if_unavailable is not available for comparisons yet; use immediate"
                     : "'processing_mode' must be \"immediate\"",
                 "processing_mode");
  }
  const auto* m = body.if_contains("model");
  const auto* ms = body.if_contains("models");
  if ((m != nullptr) == (ms != nullptr)) {
    return Error(ErrorKind::invalid_field, "name exactly one of 'model' (one judge) or 'models' (several)", "model");
  }
  if (m) {
    if (!m->is_string() || m->get_string().empty()) return Error(ErrorKind::invalid_field, "'model' must be a model name", "model");
    models.emplace_back(m->get_string());
  } else {
    const auto* arr = ms->if_array();
    if (!arr || arr->empty() || arr->size() > kMaxModels) {
      return Error(ErrorKind::invalid_field, "'models' must name 1 to 8 models", "models");
    }
    for (std::size_t i = 0; i < arr->size(); ++i) {
      if (!(*arr)[i].is_string() || (*arr)[i].get_string().empty()) {
        return Error(ErrorKind::invalid_field, "'models[" + std::to_string(i) + "]' must be a model name",
                     "models[" + std::to_string(i) + "]");
      }
      models.emplace_back((*arr)[i].get_string());
    }
  }
  return c;
}

awaitable<void> judge(std::shared_ptr<Judge> j, const workflows::Comparison& c, gateway::Gateway& gw, Request& req) {
  const auto start = Clock::now();
  json::object body = workflows::comparison_request(c);
  body["model"] = j->model;
  const std::string raw_body = core::to_json(body);
  auto targets = gw.resolve(j->model);
  if (!targets) {
    j->error = std::move(targets).error();
  } else if (req.context) {
    auto m = req.context->leg(j->model, raw_body);
    if (!m) j->error = std::move(m).error();
    else j->meter = std::move(*m);
  }
  while (!j->error && j->attempts < kAttempts) {
    ++j->attempts;
    gateway::ChatCall call{body, "", req.request_id};
    call.raw = raw_body;
    call.meter = j->meter;
    call.cancel = req.cancel;
    gateway::Outcome outcome;
    auto r = co_await gw.chat(std::move(call), *targets, outcome);
    j->outcome = outcome;
    if (!r) {
      j->error = std::move(r).error();
      break;
    }
    boost::system::error_code ec;
    json::value answer = json::parse(r->body, ec);
    if (!ec && answer.is_object()) {
      if (const auto* u = answer.get_object().if_contains("usage"); u && u->is_object()) {
        if (const auto* p = u->get_object().if_contains("prompt_tokens"); p && p->is_int64()) j->prompt += p->get_int64();
        if (const auto* p = u->get_object().if_contains("completion_tokens"); p && p->is_int64()) j->completion += p->get_int64();
      }
    }
    auto parsed = workflows::parse_judgment(r->body, c.labels, j->raw);
    if (parsed) {
      j->judgment = std::move(*parsed);
      break;
    }
    if (j->attempts == kAttempts) {
      Error e(ErrorKind::upstream_error,
              parsed.error().message + " (after " + std::to_string(kAttempts) + " attempts)", {}, "comparison");
      j->error = std::move(e);
    }
  }
  j->took = Clock::now() - start;
  if (j->meter) j->meter->finish(j->error ? j->error->status() : 200);
}

json::object result_of(const Judge& j) {
  json::object o;
  o["model"] = j.model;
  if (!j.outcome.provider.empty()) o["provider"] = j.outcome.provider + "/" + j.outcome.model;
  if (j.judgment) {
    o["winner"] = j.judgment->winner;
    o["justification"] = j.judgment->justification;
    o["confidence"] = j.judgment->confidence;
    o["confidence_normalized"] = j.judgment->normalized();
    o["confidence_scale"] = "1.0-5.0";
  } else if (j.error) {
    boost::system::error_code ec;
    json::value e = json::parse(http::error_body(*j.error), ec);
    json::value err = ec ? json::value(nullptr) : e.at("error");
    if (err.is_object() && !j.raw.empty()) err.as_object()["raw"] = j.raw;
    o["error"] = std::move(err);
  }
  json::object usage;
  usage["prompt_tokens"] = j.prompt;
  usage["completion_tokens"] = j.completion;
  usage["total_tokens"] = j.prompt + j.completion;
  o["usage"] = std::move(usage);
  std::optional<double> cost = j.meter ? j.meter->cost() : std::nullopt;
  o["cost_usd"] = cost ? json::value(*cost) : json::value(nullptr);
  o["attempts"] = j.attempts;
  o["latency_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(j.took).count();
  return o;
}

std::string error_answer(const Judge& j) {
  json::object e;
  e["error"] = result_of(j).at("error");
  return core::to_json(e);
}

awaitable<Response> compare(Request& req, gateway::Gateway& gw) {
  auto body = parse_json_object(req.body);
  if (!body) co_return Response::error(body.error());
  std::vector<std::string> models;
  auto c = parse(*body, models);
  if (!c) co_return Response::error(c.error());
  const bool several = body->contains("models");
  std::vector<std::shared_ptr<Judge>> judges;
  std::vector<workflows::Task> tasks;
  for (auto& m : models) {
    auto j = std::make_shared<Judge>();
    j->model = m;
    judges.push_back(j);
    tasks.push_back([j, &c, &gw, &req]() -> awaitable<void> { co_await judge(j, *c, gw, req); });
  }
  co_await workflows::run_all(std::move(tasks));

  if (!several) {
    const Judge& j = *judges.front();
    if (!j.judgment) {
      Response r = Response::error(*j.error);
      r.body = error_answer(j);
      co_return r;
    }
    json::object o = result_of(j);
    o["object"] = "comparison";
    co_return Response::json(200, core::to_json(o));
  }
  json::array results;
  std::map<std::string, int> votes;
  int judged = 0;
  for (const auto& j : judges) {
    results.push_back(result_of(*j));
    if (j->judgment) {
      ++votes[j->judgment->winner];
      ++judged;
    }
  }
  json::object agreement;
  agreement["judged"] = judged;
  std::string top;
  int best = 0;
  for (const auto& label : c->labels) {
    if (votes[label] > best) {
      best = votes[label];
      top = label;
    }
  }
  const bool tie = judged > 0 && votes[c->labels[0]] == votes[c->labels[1]];
  agreement["winner"] = judged == 0 || tie ? json::value(nullptr) : json::value(top);
  agreement["share"] = judged ? static_cast<double>(best) / judged : 0.0;
  agreement["unanimous"] = judged > 0 && best == judged;
  json::object out;
  out["object"] = "comparison.list";
  out["results"] = std::move(results);
  out["agreement"] = std::move(agreement);
  co_return Response::json(200, core::to_json(out));
}

}  // namespace

void register_comparison_routes(http::Router& router, gateway::Gateway& gw) {
  Schema schema{{},
                {{"a", Type::string},
                 {"b", Type::string},
                 {"instructions", Type::string},
                 {"labels", Type::array},
                 {"labels[]", Type::any},
                 {"model", Type::string},
                 {"models", Type::array},
                 {"models[]", Type::any},
                 {"temperature", Type::number},
                 {"processing_mode", Type::string}}};
  add(router, "POST", "/api/v1/comparison", schema, [&gw](Request& req) -> awaitable<Response> {
    co_return co_await compare(req, gw);
  });
}

}  // namespace sb::api
