// The job API: POST /api/v1/jobs (202 + job), GET /api/v1/jobs (list), GET/DELETE
// /api/v1/jobs/{id}, GET /api/v1/jobs/{id}/result, GET /api/v1/jobs/{id}/events (SSE), and the
// aliases GET /api/v1/status/{id}, GET /api/v1/results/{id}.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>

#include "api/json.hpp"
#include "api/lists.hpp"
#include "api/openai_validate.hpp"
#include "api/routes.hpp"
#include "api/schema.hpp"
#include "http/message.hpp"
#include "core/json_text.hpp"
#include "workflows/pipeline.hpp"

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
constexpr std::size_t kMaxBatch = 1000;

Error job_not_found(std::string_view id) {
  return Error(ErrorKind::not_found, "no job with id '" + std::string(id) + "'");
}

// A status (or an error) read from the queue, as a response.
Response status_response(const core::Result<std::optional<jobs::Job>>& r, std::string_view id) {
  if (!r) return Response::error(r.error());
  if (!*r) return Response::error(job_not_found(id));
  return Response::json(200, jobs::status_json(**r, false));
}

awaitable<Response> get_status(jobs::Service& svc, Request& req) {
  std::string id(req.param("id"));
  co_return status_response(co_await svc.get(id), id);
}

awaitable<Response> get_result(jobs::Service& svc, Request& req) {
  std::string id(req.param("id"));
  auto r = co_await svc.get(id);
  if (!r) co_return Response::error(r.error());
  if (!*r) co_return Response::error(job_not_found(id));
  const jobs::Job& j = **r;
  if (j.status == "completed" && j.result) {
    Response res = Response::json(200, *j.result);
    res.header("x-switchboard-job-id", j.id);
    if (j.provider) res.header("x-switchboard-provider", *j.provider);
    if (j.model) res.header("x-switchboard-model", *j.model);
    co_return res;
  }
  if (j.status == "queued" || j.status == "processing") {
    Response res = Response::json(202, jobs::status_json(j, false));
    res.header("Retry-After", "1");
    co_return res;
  }
  if (j.status == "expired") {
    Response res = Response::json(410, j.error.value_or(http::error_body(Error(
                                           ErrorKind::not_found, "job " + j.id + " expired before it finished"))));
    co_return res;
  }
  if (j.status == "cancelled") {
    co_return Response::error(Error(ErrorKind::conflict, "job " + j.id + " was cancelled"));
  }
  // failed: the stored error, with its status.
  Response res;
  res.status = j.result_status && *j.result_status >= 400 ? static_cast<int>(*j.result_status) : 500;
  res.body = j.error.value_or(http::error_body(Error(ErrorKind::internal, "job failed")));
  co_return res;
}

// One submission ({type, request, priority?, webhook_url?, idempotency_key?, ttl_ms?,
// max_attempts?}) checked and turned into a Submit. `prefix` names the fields in errors.
core::Result<jobs::Submit> parse_submission(const json::object& body, gateway::Gateway& gw,
                                            bool allow_private_webhooks, std::size_t max_response_bytes,
                                            const std::string& prefix, const PipelineDeps& pipeline) {
  auto named = [&](Error e) {
    if (!e.param.empty()) e.param = prefix + e.param;
    return e;
  };
  auto type = get_string(body, "type");
  if (!type) return named(type.error());
  const bool is_pipeline = *type && **type == "pipeline" && pipeline.intents;
  if (!*type || (**type != "chat.completion" && **type != "embeddings" && !is_pipeline)) {
    return named(Error(ErrorKind::invalid_field,
                       pipeline.intents ? "'type' must be \"chat.completion\", \"embeddings\" or \"pipeline\""
                                        : "'type' must be \"chat.completion\" or \"embeddings\"",
                       "type"));
  }
  const json::value* request = body.if_contains("request");
  if (!request || !request->is_object()) {
    return named(Error(ErrorKind::invalid_field,
                       is_pipeline ? "'request' must be an object: {message, route | model, steps, ...}"
                                   : "'request' must be an object: the body of the synchronous endpoint",
                       "request"));
  }
  const json::object& inner = request->get_object();
  jobs::Submit s;
  if (is_pipeline) {
    auto checked = workflows::check_pipeline(inner, gw, *pipeline.intents, pipeline.default_route());
    if (!checked) {
      Error e = checked.error();
      if (!e.param.empty()) e.param = "request." + e.param;
      return named(e);
    }
    s.request = core::to_json(*checked);
  } else {
    auto st = **type == "embeddings" ? validate_embeddings_request(inner, max_response_bytes) : validate_chat_request(inner);
    if (!st) {
      Error e = st.error();
      if (!e.param.empty()) e.param = "request." + e.param;
      return named(e);
    }
    if (auto targets = gw.resolve(std::string(inner.at("model").get_string())); !targets) {
      return named(targets.error());
    }
    s.request = core::to_json(inner);
  }
  s.type = **type;
  auto priority = get_int(body, "priority", -1000000, 1000000);
  if (!priority) return named(priority.error());
  s.priority = static_cast<int>(priority->value_or(0));
  auto webhook = get_string(body, "webhook_url");
  if (!webhook) return named(webhook.error());
  if (*webhook) {
    if (auto ok = jobs::check_webhook_url(**webhook, allow_private_webhooks); !ok) return named(ok.error());
    s.webhook_url = **webhook;
  }
  auto key = get_string(body, "idempotency_key");
  if (!key) return named(key.error());
  s.idempotency_key = *key;
  if (s.idempotency_key && (s.idempotency_key->empty() || s.idempotency_key->size() > 256)) {
    return named(Error(ErrorKind::invalid_field, "'idempotency_key' must be 1 to 256 characters", "idempotency_key"));
  }
  auto ttl = get_int(body, "ttl_ms", 1000, 365LL * 86400 * 1000);
  if (!ttl) return named(ttl.error());
  s.ttl_ms = *ttl;
  auto attempts = get_int(body, "max_attempts", 1, 100);
  if (!attempts) return named(attempts.error());
  if (*attempts) s.max_attempts = static_cast<int>(**attempts);
  return s;
}

// POST /api/v1/jobs/process-ai-job's body as a pipeline job.
core::Result<jobs::Submit> process_ai_job(const json::object& body, gateway::Gateway& gw, const PipelineDeps& pipeline) {
  json::object request;
  for (auto [from, to] : {std::pair{"message", "message"}, std::pair{"sessionId", "session_id"}, std::pair{"userId", "user"}}) {
    if (const auto* v = body.if_contains(from)) request[to] = *v;
  }
  auto checked = workflows::check_pipeline(request, gw, *pipeline.intents, pipeline.default_route());
  if (!checked) {
    Error e = checked.error();
    if (e.param == "session_id") e.param = "sessionId";
    if (e.param == "user") e.param = "userId";
    return e;
  }
  jobs::Submit s;
  s.type = "pipeline";
  s.request = core::to_json(*checked);
  auto id = get_string(body, "messageId");
  if (!id) return std::move(id).error();
  if (*id) {
    if ((*id)->empty() || (*id)->size() > 200) {
      return Error(ErrorKind::invalid_field, "'messageId' must be 1 to 200 characters", "messageId");
    }
    s.idempotency_key = "process-ai-job:" + **id;
  }
  return s;
}

std::optional<std::string> header_value(const Request& req, std::string_view name) {
  std::string_view v = req.header(name);
  if (v.empty()) return std::nullopt;
  return std::string(v);
}

using T = Type;
const Schema kSubmit{{},
                     {{"type", T::string}, {"request", T::any}, {"priority", T::integer},
                      {"webhook_url", T::string}, {"idempotency_key", T::string}, {"ttl_ms", T::integer},
                      {"max_attempts", T::integer}}};
const Schema kSubmitBatch{{},
                          {{"jobs", T::array}, {"jobs[]", T::object}, {"jobs[].type", T::string},
                           {"jobs[].request", T::any}, {"jobs[].priority", T::integer},
                           {"jobs[].webhook_url", T::string}, {"jobs[].idempotency_key", T::string},
                           {"jobs[].ttl_ms", T::integer}, {"jobs[].max_attempts", T::integer}}};
const Schema kListJobs{list_query({"status"}), {}};
const Schema kNone{};

}  // namespace

awaitable<Response> enqueue_job(jobs::Service& svc, jobs::Submit submit) {
  auto r = co_await svc.submit(std::move(submit));
  if (!r) co_return Response::error(r.error());
  Response res = Response::json(202, jobs::status_json(r->job, false));
  res.header("Location", "/api/v1/jobs/" + r->job.id);
  if (r->existed) res.header("x-switchboard-idempotent-replay", "true");
  co_return res;
}

void register_job_routes(http::Router& router, jobs::Service& svc, gateway::Gateway& gw,
                         bool allow_private_webhooks, std::size_t max_response_bytes, PipelineDeps pipeline) {
  add(router, "POST", "/api/v1/jobs", kSubmit, [&svc, &gw, allow_private_webhooks, max_response_bytes, pipeline](Request& req) -> awaitable<Response> {
    auto body = parse_json_object(req.body);
    if (!body) co_return Response::error(body.error());
    auto s = parse_submission(*body, gw, allow_private_webhooks, max_response_bytes, "", pipeline);
    if (!s) co_return Response::error(s.error());
    if (!s->idempotency_key) s->idempotency_key = header_value(req, "Idempotency-Key");
    if (req.context && !req.context->key_id.empty()) s->key_id = req.context->key_id;
    co_return co_await enqueue_job(svc, std::move(*s));
  });

  // The seed's webhook entry point: {message, messageId, sessionId, userId} -> a pipeline job
  // (messageId is its idempotency key: a webhook delivered twice makes one job).
  if (pipeline.intents) {
    const Schema seed{{},
                      {{"message", T::string}, {"messageId", T::string}, {"sessionId", T::string}, {"userId", T::string}}};
    add(router, "POST", "/api/v1/jobs/process-ai-job", seed, [&svc, &gw, pipeline](Request& req) -> awaitable<Response> {
      auto body = parse_json_object(req.body);
      if (!body) co_return Response::error(body.error());
      auto s = process_ai_job(*body, gw, pipeline);
      if (!s) co_return Response::error(s.error());
      if (req.context && !req.context->key_id.empty()) s->key_id = req.context->key_id;
      co_return co_await enqueue_job(svc, std::move(*s));
    });
  }

  add(router, "POST", "/api/v1/jobs/batch", kSubmitBatch, [&svc, &gw, allow_private_webhooks, max_response_bytes, pipeline](Request& req) -> awaitable<Response> {
    auto body = parse_json_object(req.body);
    if (!body) co_return Response::error(body.error());
    const json::value* list = body->if_contains("jobs");
    if (!list || !list->is_array() || list->get_array().empty() || list->get_array().size() > kMaxBatch) {
      co_return Response::error(Error(ErrorKind::invalid_field,
                                      "'jobs' must be an array of 1 to " + std::to_string(kMaxBatch) + " jobs",
                                      "jobs"));
    }
    std::vector<jobs::Submit> batch;
    batch.reserve(list->get_array().size());
    for (std::size_t i = 0; i < list->get_array().size(); ++i) {
      const std::string prefix = "jobs[" + std::to_string(i) + "].";
      const auto* one = list->get_array()[i].if_object();
      if (!one) {
        co_return Response::error(Error(ErrorKind::invalid_field, "'" + prefix.substr(0, prefix.size() - 1) +
                                        "' must be an object", prefix.substr(0, prefix.size() - 1)));
      }
      auto s = parse_submission(*one, gw, allow_private_webhooks, max_response_bytes, prefix, pipeline);
      if (!s) co_return Response::error(s.error());
      if (req.context && !req.context->key_id.empty()) s->key_id = req.context->key_id;
      batch.push_back(std::move(*s));
    }
    auto r = co_await svc.submit_many(std::move(batch));
    if (!r) co_return Response::error(r.error());
    json::array data;
    for (const auto& e : *r) data.push_back(jobs::status_object(e.job, false));
    co_return Response::json(202, core::to_json(json::object{{"object", "list"}, {"data", std::move(data)}}));
  });

  add(router, "GET", "/api/v1/jobs", kListJobs, [&svc](Request& req) -> awaitable<Response> {
    std::string status = req.query("status").value_or("");
    static const std::vector<std::string> kStatuses = {"", "queued", "processing", "completed",
                                                      "failed", "expired", "cancelled"};
    if (std::find(kStatuses.begin(), kStatuses.end(), status) == kStatuses.end()) {
      co_return Response::error(Error(ErrorKind::invalid_field,
                                      "'status' must be one of queued, processing, completed, "
                                      "failed, expired, cancelled", "status"));
    }
    auto page = page_request(req);
    if (!page) co_return Response::error(page.error());
    auto rows = co_await svc.list(status, std::move(*page));
    if (!rows) co_return Response::error(rows.error());
    json::array data;
    for (const auto& j : rows->rows) data.push_back(jobs::status_object(j, false));
    co_return Response::json(200, core::to_json(list_object(std::move(data), rows->has_more)));
  });

  auto status = [&svc](Request& req) { return get_status(svc, req); };
  add(router, "GET", "/api/v1/jobs/{id}", kNone, status);
  add(router, "GET", "/api/v1/status/{id}", kNone, status);
  auto result = [&svc](Request& req) { return get_result(svc, req); };
  add(router, "GET", "/api/v1/jobs/{id}/result", kNone, result);
  add(router, "GET", "/api/v1/results/{id}", kNone, result);

  add(router, "DELETE", "/api/v1/jobs/{id}", kNone, [&svc](Request& req) -> awaitable<Response> {
    std::string id(req.param("id"));
    auto r = co_await svc.cancel(id);
    if (!r) co_return Response::error(r.error());
    if (!r->job) co_return Response::error(job_not_found(id));
    if (!r->applied) {
      co_return Response::error(Error(ErrorKind::conflict, "job " + id + " already finished: " + r->job->status));
    }
    co_return Response::json(200, jobs::status_json(*r->job, false));
  });

  add(router, "GET", "/api/v1/jobs/{id}/events", kNone, [&svc](Request& req) -> awaitable<Response> {
    std::string id(req.param("id"));
    auto w = svc.watch(id, co_await asio::this_coro::executor);
    auto first = co_await svc.get(id);
    if (!first || !*first) {
      svc.unwatch(id, w);
      co_return first ? Response::error(job_not_found(id)) : Response::error(first.error());
    }
    Response res;
    res.content_type = "text/event-stream";
    res.header("Cache-Control", "no-cache");
    res.stream = [&svc, id, w, job = std::move(**first)](http::StreamWriter& out) -> awaitable<void> {
      std::string last = jobs::status_json(job, true);
      bool terminal = job.terminal();
      bool ok = co_await out.write("event: status\ndata: " + last + "\n\n");
      while (ok && !terminal) {
        bool beat = false;
        if (w->events.empty()) {  // (events posted while writing are already here)
          w->wake.expires_after(kHeartbeat);
          auto [ec] = co_await w->wake.async_wait(kTuple);
          beat = !ec && w->events.empty();  // the timer ran out: nothing happened
        }
        std::string chunk;
        while (!w->events.empty()) {
          std::string ev = std::move(w->events.front());
          w->events.pop_front();
          if (ev == last) continue;
          last = ev;
          chunk += "event: status\ndata: " + ev + "\n\n";
        }
        terminal = w->terminal;
        if (beat) chunk = ": keep-alive\n\n";
        if (!chunk.empty()) ok = co_await out.write(chunk);
      }
      svc.unwatch(id, w);
    };
    co_return res;
  });
}

}  // namespace sb::api
