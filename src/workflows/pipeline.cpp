#include "workflows/pipeline.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <chrono>
#include <set>

#include "core/json_text.hpp"

namespace sb::workflows {

namespace json = boost::json;
using boost::asio::awaitable;
using core::Error;
using core::ErrorKind;
using Clock = std::chrono::steady_clock;

namespace {

const char* const kSteps[] = {"classify", "compress", "generate", "store"};

Error bad(const std::string& param, const std::string& what) {
  return Error(ErrorKind::invalid_field, "'" + param + "' " + what, param);
}

core::Result<std::optional<std::string>> opt_string(const json::object& o, const char* key, std::size_t max) {
  const auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::optional<std::string>();
  if (!v->is_string() || v->get_string().empty() || v->get_string().size() > max) {
    return bad(key, "must be a non-empty string of at most " + std::to_string(max) + " characters");
  }
  return std::optional<std::string>(std::string(v->get_string()));
}

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// The steps' record, built outside the coroutine (GCC 12 and braced temporaries there).
struct Steps {
  json::array list;
  json::object& add(const char* name, const char* status, double ms) {
    json::object s;
    s["name"] = name;
    s["status"] = status;
    s["latency_ms"] = ms;
    list.push_back(std::move(s));
    return list.back().as_object();
  }
  void skipped(const char* name, std::string reason) { add(name, "skipped", 0)["reason"] = std::move(reason); }
};

json::array chat_messages(const json::object& req, const std::vector<chat::Exchange>& memory, const std::string& text) {
  json::array messages;
  auto push = [&messages](const char* role, std::string content) {
    json::object m;
    m["role"] = role;
    m["content"] = std::move(content);
    messages.push_back(std::move(m));
  };
  if (const auto* sp = req.if_contains("system_prompt"); sp && sp->is_string()) push("system", std::string(sp->get_string()));
  for (const auto& e : memory) {
    push("user", e.question);
    push("assistant", e.answer);
  }
  push("user", text);
  return messages;
}

json::object generation_body(const json::object& req, json::array messages) {
  const auto& g = req.at("generation").as_object();
  json::object body;
  body["model"] = req.at("route");
  body["messages"] = std::move(messages);
  body["temperature"] = g.at("temperature");
  body["max_tokens"] = g.at("max_tokens");
  return body;
}

struct Answer {
  std::string content, finish_reason = "stop";
  long long prompt = 0, completion = 0;
};

Answer read_answer(std::string_view body) {
  Answer a;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return a;
  const auto& o = v.get_object();
  if (const auto* ch = o.if_contains("choices"); ch && ch->is_array() && !ch->get_array().empty()) {
    const auto& c0 = ch->get_array()[0];
    if (c0.is_object()) {
      if (const auto* m = c0.get_object().if_contains("message"); m && m->is_object()) {
        if (const auto* t = m->get_object().if_contains("content"); t && t->is_string()) a.content = t->get_string();
      }
      if (const auto* f = c0.get_object().if_contains("finish_reason"); f && f->is_string()) {
        a.finish_reason = f->get_string();
      }
    }
  }
  if (const auto* u = o.if_contains("usage"); u && u->is_object()) {
    if (const auto* p = u->get_object().if_contains("prompt_tokens"); p && p->is_int64()) a.prompt = p->get_int64();
    if (const auto* p = u->get_object().if_contains("completion_tokens"); p && p->is_int64()) a.completion = p->get_int64();
  }
  return a;
}

bool has_step(const json::object& req, std::string_view step) {
  for (const auto& s : req.at("steps").as_array()) {
    if (s.as_string() == step) return true;
  }
  return false;
}

void put_optional(json::object& o, const char* key, const json::object& req) {
  if (const auto* v = req.if_contains(key)) o[key] = *v;
}

}  // namespace

core::Result<json::object> check_pipeline(const json::object& request, gateway::Gateway& gateway,
                                          const IntentRouter& intents, const std::string& default_route) {
  static const std::set<std::string_view> known = {"message",  "conversation_id",     "session_id",
                                                   "user",     "route",               "model",
                                                   "steps",    "compress_over_chars", "compress_rate",
                                                   "generation", "system_prompt"};
  for (const auto& [k, v] : request) {
    if (!known.count(k)) {
      return Error(ErrorKind::unknown_parameter, "Unrecognized request argument supplied: " + std::string(k),
                   std::string(k));
    }
  }
  json::object out;
  const auto* msg = request.if_contains("message");
  if (!msg || !msg->is_string() || msg->get_string().empty()) return bad("message", "is required: a non-empty string");
  if (msg->get_string().size() > kMaxPipelineMessage) return bad("message", "is longer than 100000 characters");
  out["message"] = *msg;
  for (const char* k : {"conversation_id", "session_id", "user"}) {
    auto v = opt_string(request, k, 256);
    if (!v) return std::move(v).error();
    if (*v) out[k] = **v;
  }
  auto sp = opt_string(request, "system_prompt", kMaxPipelineMessage);
  if (!sp) return std::move(sp).error();
  if (*sp) out["system_prompt"] = **sp;

  const bool has_route = request.contains("route"), has_model = request.contains("model");
  if (has_route && has_model) return bad("model", "goes without 'route': name one of them");
  const char* which = has_model ? "model" : "route";
  auto named = opt_string(request, which, 256);
  if (!named) return std::move(named).error();
  std::string route = named->value_or(default_route);
  if (route.empty()) return bad("route", "is required: no default route is configured (workflows.pipeline_route)");
  if (!intents.has(route)) {
    if (auto r = gateway.resolve(route); !r) {
      auto e = std::move(r).error();
      e.param = which;
      return e;
    }
  }
  out["route"] = route;

  json::array steps;
  if (const auto* s = request.if_contains("steps")) {
    const auto* arr = s->if_array();
    if (!arr || arr->empty()) return bad("steps", "must be a non-empty array of classify, compress, generate, store");
    std::size_t last = 0;
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const auto* name = (*arr)[i].if_string();
      std::size_t at = 4;
      for (std::size_t j = 0; j < 4 && name; ++j) {
        if (*name == kSteps[j]) at = j;
      }
      if (at == 4) return bad("steps[" + std::to_string(i) + "]", "must be classify, compress, generate or store");
      if (i > 0 && at <= last) return bad("steps", "must be in the order classify, compress, generate, store, each once");
      last = at;
      steps.push_back(json::string(kSteps[at]));
    }
  } else {
    for (const char* s : kSteps) steps.push_back(json::string(s));
  }
  bool generate = false, store = false;
  for (const auto& s : steps) {
    generate = generate || s.as_string() == "generate";
    store = store || s.as_string() == "store";
  }
  if (store && !generate) return bad("steps", "must hold 'generate' with 'store' (it stores the generated answer)");
  out["steps"] = std::move(steps);

  auto over = request.if_contains("compress_over_chars");
  if (over && (!over->is_int64() || over->get_int64() < 0 || over->get_int64() > 10000000)) {
    return bad("compress_over_chars", "must be an integer from 0 to 10000000");
  }
  out["compress_over_chars"] = over ? over->get_int64() : 500;
  auto rate = request.if_contains("compress_rate");
  if (rate && (!rate->is_number() || rate->to_number<double>() <= 0 || rate->to_number<double>() > 1)) {
    return bad("compress_rate", "must be a number in (0, 1]");
  }
  out["compress_rate"] = rate ? rate->to_number<double>() : 0.5;

  json::object gen;
  gen["temperature"] = 0.7;
  gen["max_tokens"] = 1000;
  if (const auto* g = request.if_contains("generation")) {
    const auto* go = g->if_object();
    if (!go) return bad("generation", "must be {temperature, max_tokens}");
    for (const auto& [k, v] : *go) {
      if (k == "temperature") {
        if (!v.is_number() || v.to_number<double>() < 0 || v.to_number<double>() > 2) {
          return bad("generation.temperature", "must be a number from 0 to 2");
        }
        gen["temperature"] = v.to_number<double>();
      } else if (k == "max_tokens") {
        if (!v.is_int64() || v.get_int64() < 1 || v.get_int64() > 1000000) {
          return bad("generation.max_tokens", "must be an integer from 1 to 1000000");
        }
        gen["max_tokens"] = v.get_int64();
      } else {
        return Error(ErrorKind::unknown_parameter,
                     "Unrecognized request argument supplied: generation." + std::string(k),
                     "generation." + std::string(k));
      }
    }
  }
  out["generation"] = std::move(gen);
  return out;
}

std::string default_pipeline_route(const core::Config& config, gateway::Gateway& gateway) {
  if (!config.workflows.pipeline_route.empty()) return config.workflows.pipeline_route;
  for (const auto& r : config.routes) {
    if (r.strategy == "intent") return r.name;
  }
  auto models = gateway.models();
  return models.empty() ? "" : models.front().id;
}

Pipeline::Pipeline(gateway::Gateway& gateway, IntentRouter& intents, chat::Service& chat, Compressor* compressor,
                   int memory_turns)
    : gateway_(gateway), intents_(intents), chat_(chat), compressor_(compressor), memory_turns_(memory_turns) {}

awaitable<core::Result<jobs::Service::Handled>> Pipeline::run(const jobs::Job& job,
                                                              std::shared_ptr<core::CancelSignal> cancel,
                                                              std::shared_ptr<core::RequestContext> meter) {
  const auto t0 = Clock::now();
  boost::system::error_code ec;
  json::value parsed = json::parse(job.request, ec);
  if (ec || !parsed.is_object() || !parsed.as_object().contains("message") || !parsed.as_object().contains("steps")) {
    co_return Error(ErrorKind::invalid_field, "the stored pipeline request is not valid", "request");
  }
  json::object& req = parsed.as_object();
  const std::string message(req.at("message").as_string());
  std::string text = message;  // what generation sees (compressed, perhaps)
  std::string target(req.at("route").as_string());
  Steps steps;
  json::object result;
  result["object"] = "pipeline.result";
  result["job_id"] = job.id;

  // classify
  if (has_step(req, "classify")) {
    if (!intents_.has(target)) {
      steps.skipped("classify", "'" + target + "' is not an intent route");
    } else {
      const auto s0 = Clock::now();
      std::string head = message.substr(0, intents_.max_text(target));
      std::string route = target;
      std::string request_id = job.id;
      auto d = co_await intents_.classify(std::move(route), std::move(head), std::move(request_id), meter, cancel);
      if (!d) co_return std::move(d).error();
      auto& s = steps.add("classify", "ok", ms_since(s0));
      s["intent"] = d->intent;
      s["confidence"] = d->confidence;
      s["classifier"] = d->classifier;
      s["target"] = d->target;
      if (!d->fallback_reason.empty()) s["fallback_reason"] = d->fallback_reason;
      result["intent"] = d->intent;
      target = d->target;
    }
  } else if (intents_.has(target)) {
    co_return Error(ErrorKind::invalid_field,
                    "'" + target + "' is an intent route: the pipeline needs its 'classify' step to pick a target",
                    "steps");
  }
  result["target"] = target;

  // compress
  if (has_step(req, "compress")) {
    const auto over = static_cast<std::size_t>(req.at("compress_over_chars").as_int64());
    if (message.size() <= over) {
      steps.skipped("compress", "the message is not over compress_over_chars (" + std::to_string(over) + ")");
    } else if (!compressor_) {
      steps.skipped("compress", "no compression model");
    } else {
      const auto s0 = Clock::now();
      const double rate = req.at("compress_rate").to_number<double>();
      std::string original = message;
      auto c = co_await compressor_->compress(std::move(original), rate);
      if (!c) co_return std::move(c).error();
      auto& s = steps.add("compress", "ok", ms_since(s0));
      s["origin_tokens"] = c->origin_tokens;
      s["compressed_tokens"] = c->compressed_tokens;
      text = std::move(c->text);
    }
  }

  // generate
  Answer answer;
  const bool store = has_step(req, "store");
  chat::ExternalTurn where;
  if (const auto* v = req.if_contains("conversation_id")) where.conversation_id = std::string(v->as_string());
  if (const auto* v = req.if_contains("session_id")) where.session_id = std::string(v->as_string());
  if (const auto* v = req.if_contains("user")) where.user = std::string(v->as_string());
  where.key_id = job.key_id.value_or("");
  if (has_step(req, "generate")) {
    const auto s0 = Clock::now();
    std::vector<chat::Exchange> memory;
    if (memory_turns_ > 0 && (store || where.conversation_id)) {
      auto m = co_await chat_.memory(where, memory_turns_);
      if (!m) co_return std::move(m).error();
      memory = std::move(m->exchanges);
    }
    auto targets = gateway_.resolve(target);
    if (!targets) co_return std::move(targets).error();
    req["route"] = target;
    gateway::ChatCall call;
    call.body = generation_body(req, chat_messages(req, memory, text));
    call.request_id = job.id;
    call.cancel = cancel;
    call.meter = meter;
    gateway::Outcome outcome;
    auto r = co_await gateway_.chat(std::move(call), std::move(*targets), outcome);
    if (!r) co_return std::move(r).error();
    answer = read_answer(r->body);
    auto& s = steps.add("generate", "ok", ms_since(s0));
    s["provider"] = outcome.provider;
    s["model"] = outcome.model;
    s["memory_turns"] = static_cast<std::int64_t>(memory.size());
    s["prompt_tokens"] = answer.prompt;
    s["completion_tokens"] = answer.completion;
    s["finish_reason"] = answer.finish_reason;
    result["answer"] = answer.content;
    json::object usage;
    usage["prompt_tokens"] = answer.prompt;
    usage["completion_tokens"] = answer.completion;
    usage["total_tokens"] = answer.prompt + answer.completion;
    result["usage"] = std::move(usage);
    result["provider"] = outcome.provider;
    result["model"] = outcome.model;
  }

  // store
  if (store) {
    const auto s0 = Clock::now();
    where.turn_id = "msg_" + (job.id.size() > 4 ? job.id.substr(4) : job.id);  // one turn per job, however often it runs
    where.question = message;
    where.answer = answer.content;
    where.model = target;
    where.finish_reason = answer.finish_reason;
    where.prompt_tokens = answer.prompt;
    where.completion_tokens = answer.completion;
    where.latency_ms = static_cast<long long>(ms_since(t0));
    auto stored = co_await chat_.record_turn(where);
    if (!stored) co_return std::move(stored).error();
    auto& s = steps.add("store", "ok", ms_since(s0));
    s["conversation_id"] = stored->conversation_id;
    s["message_id"] = stored->message_id;
    if (stored->existed) s["existed"] = true;
    result["conversation_id"] = stored->conversation_id;
    result["message_id"] = stored->message_id;
  }
  put_optional(result, "session_id", req);
  put_optional(result, "user", req);
  result["steps"] = std::move(steps.list);
  result["latency_ms"] = ms_since(t0);
  jobs::Service::Handled out;
  out.body = core::to_json(result);
  if (const auto* p = result.if_contains("provider"); p && p->is_string()) out.provider = std::string(p->get_string());
  if (const auto* m = result.if_contains("model"); m && m->is_string()) out.model = std::string(m->get_string());
  co_return out;
}

}  // namespace sb::workflows
