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
  if (*mode && **mode != "immediate" && **mode != "queue_if_unavailable") {
    return Error(ErrorKind::invalid_field, "'processing_mode' must be \"immediate\" or \"queue_if_unavailable\"",
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

// Who asks: a request (its context makes each judge a leg) or a job (its meter is told the usage).
struct Caller {
  std::string request_id;
  std::shared_ptr<core::RequestContext> context;
  std::shared_ptr<core::CancelSignal> cancel;
  bool job = false;
};

awaitable<void> judge(std::shared_ptr<Judge> j, const workflows::Comparison& c, gateway::Gateway& gw, const Caller& who) {
  const auto start = Clock::now();
  json::object body = workflows::comparison_request(c);
  body["model"] = j->model;
  const std::string raw_body = core::to_json(body);
  auto targets = gw.resolve(j->model);
  std::shared_ptr<core::RequestContext> usage_to;  // a job's meter: told the usage, not settled here
  if (!targets) {
    j->error = std::move(targets).error();
  } else if (who.job) {
    usage_to = who.context;
  } else if (who.context) {
    auto m = who.context->leg(j->model, raw_body);
    if (!m) j->error = std::move(m).error();
    else j->meter = std::move(*m);
  }
  while (!j->error && j->attempts < kAttempts) {
    ++j->attempts;
    gateway::ChatCall call{body, "", who.request_id};
    call.raw = raw_body;
    call.meter = j->meter ? j->meter : usage_to;
    call.cancel = who.cancel;
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

// The comparison a body asks for, run: the answer's status and body.
awaitable<Response> run_comparison(const json::object& body, const workflows::Comparison& c,
                                   const std::vector<std::string>& models, gateway::Gateway& gw, const Caller& who) {
  const bool several = body.contains("models");
  std::vector<std::shared_ptr<Judge>> judges;
  std::vector<workflows::Task> tasks;
  for (auto& m : models) {
    auto j = std::make_shared<Judge>();
    j->model = m;
    judges.push_back(j);
    tasks.push_back([j, &c, &gw, &who]() -> awaitable<void> { co_await judge(j, c, gw, who); });
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
  for (const auto& label : c.labels) {
    if (votes[label] > best) {
      best = votes[label];
      top = label;
    }
  }
  const bool tie = judged > 0 && votes[c.labels[0]] == votes[c.labels[1]];
  agreement["winner"] = judged == 0 || tie ? json::value(nullptr) : json::value(top);
  agreement["share"] = judged ? static_cast<double>(best) / judged : 0.0;
  agreement["unanimous"] = judged > 0 && best == judged;
  json::object out;
  out["object"] = "comparison.list";
  out["results"] = std::move(results);
  out["agreement"] = std::move(agreement);
  co_return Response::json(200, core::to_json(out));
}

// A comparison as a job: the body without processing_mode.
jobs::Submit comparison_job(json::object body, const Request& req) {
  body.erase("processing_mode");
  jobs::Submit s;
  s.type = "comparison";
  s.request = core::to_json(body);
  if (req.context && !req.context->key_id.empty()) s.key_id = req.context->key_id;
  return s;
}

bool all_open(gateway::Gateway& gw, const std::vector<std::string>& models) {
  for (const auto& m : models) {
    auto t = gw.resolve(m);
    if (!t || !gw.all_open(*t)) return false;
  }
  return true;
}

awaitable<Response> compare(Request& req, gateway::Gateway& gw, jobs::Service* jobs) {
  auto body = parse_json_object(req.body);
  if (!body) co_return Response::error(body.error());
  std::vector<std::string> models;
  auto c = parse(*body, models);
  if (!c) co_return Response::error(c.error());
  const auto* mode = body->if_contains("processing_mode");
  const bool queue = mode && mode->is_string() && mode->get_string() == "queue_if_unavailable";
  if (queue && !jobs) {
    co_return Response::error(Error(ErrorKind::invalid_field,
                                    "'processing_mode': queue_if_unavailable needs the job queue (jobs.enabled)",
                                    "processing_mode"));
  }
  // Every judge's targets are open-circuited: queued (202 + job), or 503 at once (immediate).
  if (queue && all_open(gw, models)) co_return co_await enqueue_job(*jobs, comparison_job(std::move(*body), req));
  Caller who{req.request_id, req.context, req.cancel, false};
  co_return co_await run_comparison(*body, *c, models, gw, who);
}

constexpr std::size_t kMaxPairs = 1000;

// POST /api/v1/comparison/batch {pairs: [{a, b, instructions?, labels?}], model | models,
// instructions?, labels?, temperature?}: one job per pair.
awaitable<Response> compare_batch(Request& req, gateway::Gateway& gw, jobs::Service& jobs) {
  auto body = parse_json_object(req.body);
  if (!body) co_return Response::error(body.error());
  const auto* pairs = body->if_contains("pairs");
  if (!pairs || !pairs->is_array() || pairs->get_array().empty() || pairs->get_array().size() > kMaxPairs) {
    co_return Response::error(Error(ErrorKind::invalid_field, "'pairs' must be an array of 1 to 1000 {a, b}", "pairs"));
  }
  std::vector<jobs::Submit> batch;
  for (std::size_t i = 0; i < pairs->get_array().size(); ++i) {
    const std::string at = "pairs[" + std::to_string(i) + "]";
    const auto* pair = pairs->get_array()[i].if_object();
    if (!pair) co_return Response::error(Error(ErrorKind::invalid_field, "'" + at + "' must be {a, b}", at));
    json::object one;
    for (const char* k : {"model", "models", "instructions", "labels", "temperature"}) {
      if (const auto* v = body->if_contains(k)) one[k] = *v;
    }
    for (const auto& [k, v] : *pair) one[k] = v;  // a pair's own instructions or labels win
    std::vector<std::string> models;
    auto c = parse(one, models);
    if (!c) {
      Error e = c.error();
      if (!e.param.empty() && e.param != "model" && e.param != "models" && e.param != "temperature") e.param = at + "." + e.param;
      co_return Response::error(e);
    }
    batch.push_back(comparison_job(std::move(one), req));
  }
  auto r = co_await jobs.submit_many(std::move(batch));
  if (!r) co_return Response::error(r.error());
  json::array data;
  for (const auto& e : *r) data.push_back(jobs::status_object(e.job, false));
  json::object out;
  out["object"] = "list";
  out["data"] = std::move(data);
  co_return Response::json(202, core::to_json(out));
}

}  // namespace

awaitable<core::Result<jobs::Service::Handled>> run_comparison_job(gateway::Gateway& gw, const jobs::Job& job,
                                                                   std::shared_ptr<core::CancelSignal> cancel,
                                                                   std::shared_ptr<core::RequestContext> meter) {
  auto body = parse_json_object(job.request);
  if (!body) co_return std::move(body).error();
  std::vector<std::string> models;
  auto c = parse(*body, models);
  if (!c) co_return std::move(c).error();
  Caller who{job.id, std::move(meter), std::move(cancel), true};
  Response r = co_await run_comparison(*body, *c, models, gw, who);
  if (r.status != 200) {
    // The job fails (or is retried) with the answer's error, its raw output kept.
    Error e(r.status == 502 ? ErrorKind::upstream_error : ErrorKind::unavailable, "the comparison failed", {}, "comparison");
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (!ec && v.is_object() && v.as_object().contains("error") && v.as_object()["error"].is_object()) {
      if (const auto* m = v.as_object()["error"].as_object().if_contains("message"); m && m->is_string()) {
        e.message = std::string(m->get_string());
      }
    }
    e.http_status = r.status;
    co_return e;
  }
  jobs::Service::Handled out;
  out.body = std::move(r.body);
  co_return out;
}

void register_comparison_routes(http::Router& router, gateway::Gateway& gw, jobs::Service* jobs) {
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
  add(router, "POST", "/api/v1/comparison", schema, [&gw, jobs](Request& req) -> awaitable<Response> {
    co_return co_await compare(req, gw, jobs);
  });
  if (jobs) {
    Schema batch{{},
                 {{"pairs", Type::array},
                  {"pairs[]", Type::object},
                  {"pairs[].a", Type::string},
                  {"pairs[].b", Type::string},
                  {"pairs[].instructions", Type::string},
                  {"pairs[].labels", Type::array},
                  {"pairs[].labels[]", Type::any},
                  {"instructions", Type::string},
                  {"labels", Type::array},
                  {"labels[]", Type::any},
                  {"model", Type::string},
                  {"models", Type::array},
                  {"models[]", Type::any},
                  {"temperature", Type::number}}};
    add(router, "POST", "/api/v1/comparison/batch", batch, [&gw, jobs](Request& req) -> awaitable<Response> {
      co_return co_await compare_batch(req, gw, *jobs);
    });
  }
}

}  // namespace sb::api
