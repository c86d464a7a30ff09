// POST /api/v1/workflows/analyze-log: a CI log (sent, or fetched from a URL with the URL
// ingestion's guards) reduced to evidence in C++, categorised by the rules, and — when a model
// is named — explained by it from the evidence and the runbook passages a collection holds for it.

#include <boost/json/parse.hpp>

#include <chrono>

#include "api/json.hpp"
#include "api/routes.hpp"
#include "api/schema.hpp"
#include "core/json_text.hpp"
#include "knowledge/fetch.hpp"
#include "workflows/log_analyzer.hpp"

namespace sb::api {

namespace json = boost::json;
using boost::asio::awaitable;
using core::Error;
using core::ErrorKind;
using http::Request;
using http::Response;

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxLog = 64 * 1024 * 1024;
constexpr int kAttempts = 2;
constexpr int kPassages = 4;

struct Input {
  std::string log;  // log_content
  std::optional<std::string> url;
  std::string log_type = "build";
  std::optional<std::string> collection;
  std::optional<std::string> model;  // null / absent: the rules alone
};

core::Result<Input> parse(const json::object& body) {
  Input in;
  const auto* content = body.if_contains("log_content");
  const auto* url = body.if_contains("log_url");
  if (body.contains("job_id")) {
    return Error(ErrorKind::invalid_field,
                 "'job_id' (a CI provider's job) is not supported: send the log as 'log_content' or its 'log_url'", "job_id");
  }
  if ((content != nullptr) == (url != nullptr)) {
    return Error(ErrorKind::invalid_field, "send exactly one of 'log_content' or 'log_url'", "log_content");
  }
  if (content) {
    if (!content->is_string() || content->get_string().empty()) {
      return Error(ErrorKind::invalid_field, "'log_content' must be a non-empty string", "log_content");
    }
    in.log = std::string(content->get_string());
  } else {
    if (!url->is_string() || url->get_string().empty()) return Error(ErrorKind::invalid_field, "'log_url' must be a URL", "log_url");
    in.url = std::string(url->get_string());
  }
  auto type = get_string(body, "log_type");
  if (!type) return std::move(type).error();
  if (*type) {
    if (**type != "build" && **type != "test" && **type != "deploy") {
      return Error(ErrorKind::invalid_field, "'log_type' must be build, test or deploy", "log_type");
    }
    in.log_type = **type;
  }
  auto collection = get_string(body, "collection");
  if (!collection) return std::move(collection).error();
  in.collection = *collection;
  if (const auto* m = body.if_contains("model"); m && !m->is_null()) {
    if (!m->is_string() || m->get_string().empty()) return Error(ErrorKind::invalid_field, "'model' must be a model name or null", "model");
    in.model = std::string(m->get_string());
  }
  return in;
}

json::object evidence_json(const workflows::LogEvidence& e) {
  json::array lines;
  for (const auto& l : e.evidence) {
    json::object o;
    o["line"] = static_cast<std::int64_t>(l.line);
    o["text"] = l.text;
    if (l.signal) o["signal"] = true;
    lines.push_back(std::move(o));
  }
  json::array steps;
  for (const auto& s : e.steps) {
    json::object o;
    o["name"] = s.name;
    o["first_line"] = static_cast<std::int64_t>(s.first_line);
    o["last_line"] = static_cast<std::int64_t>(s.last_line);
    o["failed"] = s.failed;
    steps.push_back(std::move(o));
  }
  json::array tests;
  for (const auto& t : e.failing_tests) tests.push_back(json::string(t));
  json::object out;
  out["evidence"] = std::move(lines);
  out["steps"] = std::move(steps);
  out["failing_tests"] = std::move(tests);
  out["exit_code"] = e.exit_code ? json::value(*e.exit_code) : json::value(nullptr);
  json::object stats;
  stats["bytes"] = static_cast<std::int64_t>(e.bytes);
  stats["lines"] = static_cast<std::int64_t>(e.lines);
  stats["signals"] = static_cast<std::int64_t>(e.signals);
  stats["duplicates"] = static_cast<std::int64_t>(e.duplicates);
  stats["evidence_lines"] = static_cast<std::int64_t>(e.evidence.size());
  out["stats"] = std::move(stats);
  return out;
}

void put_analysis(json::object& out, const workflows::LogAnalysis& a) {
  out["summary"] = a.summary;
  out["category"] = a.category;
  out["failing_step"] = a.failing_step.empty() ? json::value(nullptr) : json::value(a.failing_step);
  out["root_cause"] = a.root_cause.empty() ? json::value(nullptr) : json::value(a.root_cause);
  out["suggested_fix"] = a.suggested_fix;
  out["confidence"] = a.confidence;
}

json::object reference_json(int n, const knowledge::Hit& h) {
  json::object o;
  o["n"] = n;
  o["document_id"] = h.chunk.document_id;
  o["title"] = h.chunk.title;
  o["chunk_id"] = h.chunk.chunk_id;
  o["heading"] = h.chunk.heading;
  o["score"] = h.score;
  o["snippet"] = h.chunk.text.substr(0, 300);
  return o;
}

awaitable<Response> analyze(Request& req, const LogDeps& d) {
  const auto start = Clock::now();
  auto body = parse_json_object(req.body);
  if (!body) co_return Response::error(body.error());
  auto in = parse(*body);
  if (!in) co_return Response::error(in.error());
  if (in->model) {
    if (auto t = d.gateway->resolve(*in->model); !t) co_return Response::error(t.error());
  }
  if (in->collection && req.context && !req.context->allows_collection(*in->collection)) {
    co_return Response::error(Error(ErrorKind::forbidden, "the collection '" + *in->collection + "' is not allowed for this key"));
  }
  if (in->url) {
    knowledge::UrlOptions options = d.url_options;
    options.max_bytes = static_cast<std::int64_t>(kMaxLog);
    auto fetched = co_await knowledge::fetch_url(*d.client, *in->url, options);
    if (!fetched) {
      Error e = std::move(fetched).error();
      if (e.param == "url") e.param = "log_url";
      co_return Response::error(e);
    }
    in->log = std::move(fetched->body);
  }
  // The evidence, off the I/O thread (a 50 MB log takes a quarter of a second).
  std::string log = std::move(in->log);
  std::string log_type = in->log_type;
  auto reduce = [log = std::move(log), log_type]() -> core::Result<workflows::LogEvidence> {
    return workflows::extract_evidence(log, log_type);
  };
  auto evidence = co_await d.pool->run(std::move(reduce));
  if (!evidence) co_return Response::error(evidence.error());
  workflows::LogAnalysis analysis = workflows::analyze_by_rules(*evidence);
  std::string method = "rules";

  // Runbook passages for the strongest signal.
  std::vector<knowledge::Hit> passages;
  if (in->collection && d.store && !evidence->root_text.empty()) {
    knowledge::SearchRequest s;
    s.meter = req.context;
    s.collection = *in->collection;
    s.query = evidence->root_text.substr(0, 500);
    s.top_k = kPassages;
    auto found = co_await d.store->search(std::move(s));
    if (!found) co_return Response::error(found.error());
    passages = std::move(found->hits);
  }

  json::object out;
  std::optional<Error> model_error;
  if (in->model) {
    std::vector<std::string> texts;
    for (const auto& h : passages) texts.push_back(h.chunk.title + ": " + h.chunk.text.substr(0, 1500));
    json::object request = workflows::analysis_request(*evidence, in->log_type, texts);
    request["model"] = *in->model;
    const std::string raw = core::to_json(request);
    auto targets = d.gateway->resolve(*in->model);
    for (int attempt = 1; attempt <= kAttempts && targets; ++attempt) {
      gateway::ChatCall call{request, "", req.request_id};
      call.raw = raw;
      call.meter = req.context;
      call.cancel = req.cancel;
      gateway::Outcome outcome;
      auto r = co_await d.gateway->chat(std::move(call), *targets, outcome);
      if (!r) {
        model_error = std::move(r).error();
        break;
      }
      auto parsed = workflows::parse_analysis(r->body, texts.size());
      if (parsed) {
        analysis = std::move(*parsed);
        method = "model";
        model_error.reset();
        out["model"] = *in->model;
        break;
      }
      model_error = Error(ErrorKind::upstream_error, parsed.error().message + " (attempt " + std::to_string(attempt) + ")");
    }
  }
  put_analysis(out, analysis);
  json::object e = evidence_json(*evidence);
  for (auto& [k, v] : e) out[k] = std::move(v);
  json::array refs;
  if (method == "model") {
    for (int n : analysis.cited) refs.push_back(reference_json(n, passages[static_cast<std::size_t>(n - 1)]));
  } else {
    for (std::size_t i = 0; i < passages.size(); ++i) refs.push_back(reference_json(static_cast<int>(i + 1), passages[i]));
  }
  out["references"] = std::move(refs);
  out["method"] = method;
  if (model_error) {
    // The model could not answer in the structure: the rules' answer, and why.
    json::value err = json::parse(http::error_body(*model_error)).at("error");
    out["model_error"] = std::move(err);
  }
  out["object"] = "log_analysis";
  out["latency_ms"] = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  co_return Response::json(200, core::to_json(out));
}

}  // namespace

void register_log_routes(http::Router& router, LogDeps deps) {
  Schema schema{{},
                {{"log_content", Type::string},
                 {"log_url", Type::string},
                 {"job_id", Type::any},
                 {"log_type", Type::string},
                 {"collection", Type::string},
                 {"model", Type::any}}};
  add(router, "POST", "/api/v1/workflows/analyze-log", schema, [deps](Request& req) -> awaitable<Response> {
    co_return co_await analyze(req, deps);
  });
}

}  // namespace sb::api
