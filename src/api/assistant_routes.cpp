// RAG chat over HTTP: GET /api/v1/assistants[/{name}], POST /api/v1/chat (whole, or SSE events
// retrieval -> delta/citation -> done), the conversations (/api/v1/conversations: list, get
// with its turns, DELETE = soft delete, POST …/restore), and `model: "assistant/<name>"` on
// /v1/chat/completions answered in OpenAI's shape (assistant_completion).

#include <boost/json/parse.hpp>

#include <chrono>
#include <cstdio>

#include "api/json.hpp"
#include "api/lists.hpp"
#include "api/routes.hpp"
#include "api/schema.hpp"
#include "chat/service.hpp"
#include "core/json_text.hpp"
#include "core/log.hpp"
#include "http/message.hpp"
#include "knowledge/filters.hpp"

namespace sb::api {

namespace json = boost::json;
using boost::asio::awaitable;
using core::Error;
using core::ErrorKind;
using http::Request;
using http::Response;

namespace {

json::value opt(const std::optional<std::string>& s) { return s ? json::value(*s) : json::value(nullptr); }

json::object assistant_json(const chat::Assistant& a) {
  json::object o = chat::assistant_spec(a);
  o["id"] = a.id;
  o["object"] = "assistant";
  o["source"] = a.from_config ? "config" : "api";
  o["created_at"] = a.from_config ? json::value(nullptr) : json::value(a.created_at);
  o["updated_at"] = a.from_config ? json::value(nullptr) : json::value(a.updated_at);
  return o;
}

json::array sources_json(const chat::Reply& r) {
  json::array out;
  for (const auto& s : r.sources) out.push_back(chat::citation_json(s));
  return out;
}

// The cited sources, by number.
json::array citations_json(const chat::Reply& r) {
  std::vector<int> ns = r.cited;
  std::sort(ns.begin(), ns.end());
  json::array out;
  for (int n : ns) out.push_back(chat::citation_json(r.sources[static_cast<std::size_t>(n - 1)]));
  return out;
}

json::object usage_json(const chat::Reply& r) {
  return json::object{{"prompt_tokens", r.prompt_tokens},
                      {"completion_tokens", r.completion_tokens},
                      {"total_tokens", r.prompt_tokens + r.completion_tokens}};
}

std::string three(double ms) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", ms < 0 ? 0 : ms);
  return b;
}

std::string server_timing(const chat::Reply& r) {
  return "chat;dur=" + three(r.total_ms - r.upstream_ms) + ", retrieval;dur=" + three(r.retrieval_ms) +
         ", upstream;dur=" + three(r.upstream_ms);
}

// Whose conversations the caller sees: its key's, or everyone's (an admin; an open server).
std::optional<std::string> key_scope(const Request& req) {
  if (!req.context || req.context->admin) return std::nullopt;
  return req.context->key_id;
}

// A key limited to some collections may use an assistant only within them.
core::Status allowed(const Request& req, const chat::Assistant& a) {
  if (!req.context) return {};
  for (const auto& c : a.collections) {
    if (!req.context->allows_collection(c)) {
      return Error(ErrorKind::forbidden, "this key may not read the collection '" + c + "'", "collections");
    }
  }
  return {};
}

// chat.apology: an unexpected failure (5xx) answered as a reply (finish_reason "error").
bool apologise(const chat::Service& svc, const Error& e) {
  return !svc.config().apology.empty() && core::error_info(e.kind).status >= 500;
}

core::Result<std::optional<double>> get_number(const json::object& o, std::string_view field, double lo, double hi,
                                               std::string_view range) {
  const json::value* v = o.if_contains(field);
  if (!v || v->is_null()) return std::optional<double>();
  if (!v->is_number() || v->to_number<double>() < lo || v->to_number<double>() > hi) {
    return Error(ErrorKind::invalid_field, "'" + std::string(field) + "' must be a number from " + std::string(range),
                 std::string(field));
  }
  return std::optional<double>(v->to_number<double>());
}

// x-switchboard-cache and the body's cache_ttl_s.
core::Status cache_controls(const Request& req, const json::object& body, chat::Ask& ask) {
  const std::string_view h = req.header("x-switchboard-cache");
  if (h == "no-cache") ask.cache = chat::CacheMode::no_cache;
  else if (h == "no-store") ask.cache = chat::CacheMode::no_store;
  else if (h == "force") ask.cache = chat::CacheMode::force;
  else if (!h.empty()) {
    return Error(ErrorKind::invalid_field, "x-switchboard-cache must be no-cache, no-store or force",
                 "x-switchboard-cache");
  }
  auto ttl = get_int(body, "cache_ttl_s", 1, 30LL * 86400);
  if (!ttl) return std::move(ttl).error();
  ask.cache_ttl_s = *ttl;
  return {};
}

// The /api/v1/chat body as a turn to ask.
core::Result<chat::Ask> native_ask(const chat::Service& svc, const Request& req, const json::object& body) {
  chat::Ask ask;
  auto question = get_string(body, "question");
  if (!question) return std::move(question).error();
  if (!*question || (*question)->empty()) return Error(ErrorKind::invalid_field, "'question' is required", "question");
  ask.question = std::move(**question);
  auto name = get_string(body, "assistant");
  if (!name) return std::move(name).error();
  auto model = get_string(body, "model");
  if (!model) return std::move(model).error();
  auto cols = knowledge::string_array(body, "collections");
  if (!cols) return std::move(cols).error();
  if (*name) {
    if (*model || !cols->empty()) {
      return Error(ErrorKind::invalid_field, "give either 'assistant' or 'collections' and 'model', not both",
                   "assistant");
    }
    ask.assistant = svc.assistant(**name);
    if (!ask.assistant) return Error(ErrorKind::not_found, "no assistant '" + **name + "'", "assistant");
  } else {
    if (!*model || (*model)->empty() || cols->empty()) {
      return Error(ErrorKind::invalid_field, "name an 'assistant', or 'collections' and a 'model'", "assistant");
    }
    if (cols->size() > 16) return Error(ErrorKind::invalid_field, "'collections' takes at most 16", "collections");
    auto inline_assistant = std::make_shared<chat::Assistant>();
    inline_assistant->collections = std::move(*cols);
    inline_assistant->model = std::move(**model);
    ask.assistant = std::move(inline_assistant);
  }
  for (const char* f : {"session_id", "conversation_id", "user"}) {
    auto v = get_string(body, f);
    if (!v) return std::move(v).error();
    if (*v && ((*v)->empty() || (*v)->size() > 256)) {
      return Error(ErrorKind::invalid_field, "'" + std::string(f) + "' must be 1 to 256 characters", f);
    }
    if (!*v) continue;
    if (f[0] == 's') ask.session_id = std::move(**v);
    else if (f[0] == 'c') ask.conversation_id = std::move(**v);
    else ask.user = std::move(**v);
  }
  if (body.contains("filters")) {
    auto f = knowledge::parse_filters(body.if_contains("filters"));
    if (!f) return std::move(f).error();
    ask.filters = std::move(*f);
  }
  auto top_k = get_int(body, "top_k", 1, 100);
  if (!top_k) return std::move(top_k).error();
  if (*top_k) ask.top_k = static_cast<int>(**top_k);
  auto temperature = get_number(body, "temperature", 0, 2, "0 to 2");
  if (!temperature) return std::move(temperature).error();
  ask.temperature = *temperature;
  auto max_tokens = get_int(body, "max_tokens", 1, 1'000'000);
  if (!max_tokens) return std::move(max_tokens).error();
  ask.max_tokens = *max_tokens;
  if (auto st = cache_controls(req, body, ask); !st) return std::move(st).error();
  ask.meter = req.context;
  ask.request_id = req.request_id;
  ask.cancel = req.cancel;
  return ask;
}

json::object answer_json(const chat::Reply& r, const std::string& request_id) {
  return json::object{{"object", "chat.answer"},
                      {"answer", r.answer},
                      {"citations", citations_json(r)},
                      {"sources", sources_json(r)},
                      {"session_id", r.session_id},
                      {"conversation_id", r.conversation_id},
                      {"message_id", r.message_id},
                      {"query", r.query},
                      {"model", r.model.empty() ? json::value(nullptr) : json::value(r.model)},
                      {"finish_reason", r.finish_reason},
                      {"usage", usage_json(r)},
                      {"request_id", request_id}};
}

std::string event(std::string_view name, const json::object& data) {
  return "event: " + std::string(name) + "\ndata: " + core::to_json(data) + "\n\n";
}

// (The JSON of the events is built in these plain functions: GCC 12 destroys the temporaries of
// a braced initializer twice inside a coroutine.)
std::string retrieval_event(const std::vector<chat::Source>& sources) {
  json::array list;
  for (const auto& s : sources) list.push_back(chat::citation_json(s));
  json::object o;
  o["sources"] = std::move(list);
  return event("retrieval", o);
}

std::string delta_event(std::string_view text) {
  json::object o;
  o["text"] = text;
  return event("delta", o);
}

std::string apology_events(std::string_view text, const std::string& request_id) {
  json::object done;
  done["finish_reason"] = "error";
  done["request_id"] = request_id;
  return delta_event(text) + event("done", done);
}

json::object apology_answer(std::string_view text, const std::string& request_id) {
  return json::object{{"object", "chat.answer"}, {"answer", text},          {"citations", json::array()},
                      {"sources", json::array()}, {"finish_reason", "error"}, {"request_id", request_id}};
}

json::object turn_json(const storage::TurnRow& t) {
  boost::system::error_code ec;
  json::value citations = json::parse(t.citations, ec);
  if (ec) citations = json::array();
  json::value chunks = json::parse(t.chunk_ids, ec);
  if (ec) chunks = json::array();
  return json::object{{"id", t.id},
                      {"object", "conversation.turn"},
                      {"created_at", t.created_at},
                      {"question", t.question},
                      {"query", t.query},
                      {"answer", t.answer},
                      {"citations", std::move(citations)},
                      {"chunk_ids", std::move(chunks)},
                      {"model", t.model.empty() ? json::value(nullptr) : json::value(t.model)},
                      {"finish_reason", t.finish_reason},
                      {"usage", json::object{{"prompt_tokens", t.prompt_tokens},
                                             {"completion_tokens", t.completion_tokens},
                                             {"total_tokens", t.prompt_tokens + t.completion_tokens}}},
                      {"latency_ms", t.latency_ms}};
}

json::object conversation_json(const storage::ConversationRow& c) {
  return json::object{{"id", c.id},
                      {"object", "conversation"},
                      {"session_id", c.session_id},
                      {"assistant", c.assistant.empty() ? json::value(nullptr) : json::value(c.assistant)},
                      {"user", opt(c.user)},
                      {"title", c.title},
                      {"turns", c.turns},
                      {"created_at", c.created_at},
                      {"updated_at", c.updated_at},
                      {"deleted_at", c.deleted_at ? json::value(*c.deleted_at) : json::value(nullptr)}};
}

using T = Type;
const Schema kNone{};
const Schema kAssistant{{},
                        {{"name", T::string}, {"collections", T::array}, {"collections[]", T::string},
                         {"model", T::string}, {"system_prompt", T::string}, {"retrieval", T::object},
                         {"retrieval.mode", T::string}, {"retrieval.top_k", T::integer},
                         {"retrieval.filters", T::object}, {"retrieval.filters.tags", T::array},
                         {"retrieval.filters.tags[]", T::string}, {"retrieval.filters.document_ids", T::array},
                         {"retrieval.filters.document_ids[]", T::string}, {"retrieval.filters.metadata", T::map},
                         {"retrieval.score_threshold", T::number}, {"memory_turns", T::integer},
                         {"max_context_tokens", T::integer}, {"rewrite_followups", T::boolean},
                         {"temperature", T::number}, {"max_tokens", T::integer}, {"no_sources_reply", T::string},
                         {"cache", T::boolean}}};
const Schema kChat{{},
                   {{"question", T::string}, {"assistant", T::string}, {"collections", T::array},
                    {"collections[]", T::string}, {"model", T::string}, {"session_id", T::string},
                    {"conversation_id", T::string}, {"user", T::string}, {"filters", T::object},
                    {"filters.tags", T::array}, {"filters.tags[]", T::string}, {"filters.document_ids", T::array},
                    {"filters.document_ids[]", T::string}, {"filters.metadata", T::map}, {"top_k", T::integer},
                    {"temperature", T::number}, {"max_tokens", T::integer}, {"stream", T::boolean},
                    {"cache_ttl_s", T::integer}}};
const Schema kConversations{list_query({"assistant", "user", "deleted"}), {}};

// POST /api/v1/chat, streamed: retrieval, delta…, citation…, done (or error).
Response native_stream(chat::Service& svc, chat::Ask ask, std::string request_id) {
  Response res;
  res.content_type = "text/event-stream";
  res.header("Cache-Control", "no-cache");
  res.stream = [&svc, ask = std::move(ask), request_id = std::move(request_id)](
                   http::StreamWriter& w) mutable -> awaitable<void> {
    chat::Events ev;
    ev.cache = [&w](std::string_view c) { w.add_header("x-switchboard-cache", std::string(c)); };
    ev.retrieval = [&w](const std::vector<chat::Source>& sources) -> awaitable<bool> {
      const std::string out = retrieval_event(sources);
      co_return co_await w.write(out);
    };
    ev.delta = [&w](std::string_view text) -> awaitable<bool> {
      const std::string out = delta_event(text);
      co_return co_await w.write(out);
    };
    ev.citation = [&w](const chat::Source& s) -> awaitable<bool> {
      const std::string out = event("citation", chat::citation_json(s));
      co_return co_await w.write(out);
    };
    auto r = co_await svc.ask(std::move(ask), &ev);
    if (!r) {
      if (apologise(svc, r.error())) {
        core::log::error("chat failed; answered with chat.apology",
                         {{"request_id", request_id}, {"error", r.error().message}});
        const std::string out = apology_events(svc.config().apology, request_id);
        co_await w.write(out);
        co_return;
      }
      if (!w.started()) {
        w.replace(Response::error(r.error()));
        co_return;
      }
      co_await w.write("event: error\ndata: " + http::error_body(r.error()) + "\n\n");
      co_return;
    }
    json::object done = answer_json(*r, request_id);
    done.erase("object");
    done.erase("answer");
    done.erase("sources");
    const std::string out = event("done", done);
    co_await w.write(out);
  };
  return res;
}

}  // namespace

void register_assistant_routes(http::Router& router, chat::Service& svc) {
  add(router, "GET", "/api/v1/assistants", Schema{list_query(), {}}, [&svc](Request& req) -> awaitable<Response> {
    auto page = page_request(req);
    if (!page) co_return Response::error(page.error());
    json::array all;
    const auto list = svc.assistants();
    for (auto it = list.rbegin(); it != list.rend(); ++it) all.push_back(assistant_json(**it));
    auto out = page_in_memory(std::move(all), *page);
    if (!out) co_return Response::error(out.error());
    co_return Response::json(200, core::to_json(*out));
  });

  add(router, "POST", "/api/v1/assistants", kAssistant, [&svc](Request& req) -> awaitable<Response> {
    auto body = parse_json_object(req.body);
    if (!body) co_return Response::error(body.error());
    auto a = co_await svc.create_assistant(std::move(*body));
    if (!a) co_return Response::error(a.error());
    Response res = Response::json(201, core::to_json(assistant_json(**a)));
    res.header("Location", "/api/v1/assistants/" + (*a)->id);
    co_return res;
  });

  add(router, "PATCH", "/api/v1/assistants/{name}", kAssistant, [&svc](Request& req) -> awaitable<Response> {
    auto body = parse_json_object(req.body);
    if (!body) co_return Response::error(body.error());
    auto a = co_await svc.update_assistant(std::string(req.param("name")), std::move(*body));
    if (!a) co_return Response::error(a.error());
    co_return Response::json(200, core::to_json(assistant_json(**a)));
  });

  add(router, "DELETE", "/api/v1/assistants/{name}", kNone, [&svc](Request& req) -> awaitable<Response> {
    auto a = co_await svc.delete_assistant(std::string(req.param("name")));
    if (!a) co_return Response::error(a.error());
    json::object out;
    out["id"] = (*a)->id;
    out["object"] = "assistant.deleted";
    out["deleted"] = true;
    co_return Response::json(200, core::to_json(out));
  });

  add(router, "GET", "/api/v1/assistants/{name}", kNone, [&svc](Request& req) -> awaitable<Response> {
    auto a = svc.assistant(req.param("name"));
    if (!a) co_return Response::error(Error(ErrorKind::not_found, "no assistant '" + std::string(req.param("name")) + "'"));
    co_return Response::json(200, core::to_json(assistant_json(*a)));
  });

  add(router, "POST", "/api/v1/chat", kChat, [&svc](Request& req) -> awaitable<Response> {
    auto body = parse_json_object(req.body);
    if (!body) co_return Response::error(body.error());
    auto ask = native_ask(svc, req, *body);
    if (!ask) co_return Response::error(ask.error());
    if (auto st = allowed(req, *ask->assistant); !st) co_return Response::error(st.error());
    auto stream = get_bool(*body, "stream");
    if (!stream) co_return Response::error(stream.error());
    if (stream->value_or(false)) co_return native_stream(svc, std::move(*ask), req.request_id);
    auto r = co_await svc.ask(std::move(*ask));
    if (!r) {
      if (!apologise(svc, r.error())) co_return Response::error(r.error());
      core::log::error("chat failed; answered with chat.apology",
                       {{"request_id", req.request_id}, {"error", r.error().message}});
      co_return Response::json(200, core::to_json(apology_answer(svc.config().apology, req.request_id)));
    }
    Response res = Response::json(200, core::to_json(answer_json(*r, req.request_id)));
    res.header("Server-Timing", server_timing(*r));
    res.header("x-switchboard-cache", r->cache);
    co_return res;
  });

  add(router, "GET", "/api/v1/conversations", kConversations, [&svc](Request& req) -> awaitable<Response> {
    auto page = page_request(req);
    if (!page) co_return Response::error(page.error());
    storage::ConversationQuery q;
    q.key_id = key_scope(req);
    q.assistant = req.query("assistant");
    q.user = req.query("user");
    auto deleted = req.query("deleted");
    if (deleted && *deleted != "true" && *deleted != "false") {
      co_return Response::error(Error(ErrorKind::invalid_field, "'deleted' must be true or false", "deleted"));
    }
    q.deleted = deleted && *deleted == "true";
    auto r = co_await svc.conversations(std::move(q), *page);
    if (!r) co_return Response::error(r.error());
    json::array data;
    for (const auto& c : r->rows) data.push_back(conversation_json(c));
    co_return Response::json(200, core::to_json(list_object(std::move(data), r->has_more)));
  });

  add(router, "GET", "/api/v1/conversations/{id}", kNone, [&svc](Request& req) -> awaitable<Response> {
    auto r = co_await svc.conversation(std::string(req.param("id")), key_scope(req));
    if (!r) co_return Response::error(r.error());
    json::object out = conversation_json(r->row);
    json::array turns;
    for (const auto& t : r->turns) turns.push_back(turn_json(t));
    out["messages"] = std::move(turns);
    co_return Response::json(200, core::to_json(out));
  });

  add(router, "DELETE", "/api/v1/conversations/{id}", kNone, [&svc](Request& req) -> awaitable<Response> {
    auto r = co_await svc.set_deleted(std::string(req.param("id")), true, key_scope(req));
    if (!r) co_return Response::error(r.error());
    co_return Response::json(200, core::to_json(conversation_json(*r)));
  });

  add(router, "POST", "/api/v1/conversations/{id}/restore", kNone, [&svc](Request& req) -> awaitable<Response> {
    auto r = co_await svc.set_deleted(std::string(req.param("id")), false, key_scope(req));
    if (!r) co_return Response::error(r.error());
    co_return Response::json(200, core::to_json(conversation_json(*r)));
  });
}

// ---- model: "assistant/<name>" on /v1/chat/completions ----

namespace {

// The text of an OpenAI message's content: a string, or the text parts of an array.
std::optional<std::string> content_text(const json::value* content) {
  if (!content) return std::nullopt;
  if (content->is_string()) return std::string(content->as_string());
  if (!content->is_array()) return std::nullopt;
  std::string out;
  for (const auto& part : content->as_array()) {
    const auto* o = part.if_object();
    if (!o) return std::nullopt;
    const auto* type = o->if_contains("type");
    const auto* text = o->if_contains("text");
    if (type && type->is_string() && type->as_string() == "text" && text && text->is_string()) {
      out += (out.empty() ? "" : "\n") + std::string(text->as_string());
    }
  }
  return out;
}

core::Result<chat::Ask> openai_ask(chat::Service& svc, const Request& req, const json::object& body,
                                   std::string_view name) {
  chat::Ask ask;
  ask.assistant = svc.assistant(name);
  if (!ask.assistant) {
    return Error(ErrorKind::model_not_found, "The model 'assistant/" + std::string(name) + "' does not exist", "model");
  }
  const json::array& messages = body.at("messages").as_array();  // (validated: an array of objects with roles)
  const json::object& last = messages.back().as_object();
  if (last.at("role").as_string() != "user") {
    return Error(ErrorKind::invalid_field, "the last message must be the user's question", "messages");
  }
  auto q = content_text(last.if_contains("content"));
  if (!q || q->empty()) {
    return Error(ErrorKind::invalid_field, "the last message must have text content", "messages");
  }
  ask.question = std::move(*q);
  // Earlier user/assistant pairs are the memory when no conversation is named.
  std::optional<std::string> pending;
  for (std::size_t i = 0; i + 1 < messages.size(); ++i) {
    const json::object& m = messages[i].as_object();
    const auto role = m.at("role").as_string();
    auto text = content_text(m.if_contains("content"));
    if (role == "user" && text) {
      pending = std::move(*text);
    } else if (role == "assistant" && text && pending) {
      ask.history.push_back(chat::Exchange{std::move(*pending), std::move(*text)});
      pending.reset();
    }
  }
  for (const char* f : {"conversation", "user"}) {
    auto v = get_string(body, f);
    if (!v) return std::move(v).error();
    if (*v && ((*v)->empty() || (*v)->size() > 256)) {
      return Error(ErrorKind::invalid_field, "'" + std::string(f) + "' must be 1 to 256 characters", f);
    }
    if (*v && f[0] == 'c') ask.conversation_id = std::move(**v);
    if (*v && f[0] == 'u') ask.user = std::move(**v);
  }
  auto temperature = get_number(body, "temperature", 0, 2, "0 to 2");
  if (!temperature) return std::move(temperature).error();
  ask.temperature = *temperature;
  for (const char* f : {"max_completion_tokens", "max_tokens"}) {
    auto m = get_int(body, f, 1, 1'000'000);
    if (!m) return std::move(m).error();
    if (*m && !ask.max_tokens) ask.max_tokens = *m;
  }
  if (auto st = cache_controls(req, body, ask); !st) return std::move(st).error();
  ask.meter = req.context;
  ask.request_id = req.request_id;
  ask.cancel = req.cancel;
  return ask;
}

json::object chunk(const std::string& id, std::int64_t created, const std::string& model, json::object delta,
                   json::value finish_reason) {
  json::object choice;
  choice["index"] = 0;
  choice["delta"] = std::move(delta);
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = std::move(finish_reason);
  json::object o;
  o["id"] = id;
  o["object"] = "chat.completion.chunk";
  o["created"] = created;
  o["model"] = model;
  o["choices"] = json::array{std::move(choice)};
  return o;
}

std::string data(const json::object& o) { return "data: " + core::to_json(o) + "\n\n"; }

struct Ids {
  std::string id, model;
  std::int64_t created = 0;
};

std::string role_chunk(const Ids& i) {
  json::object d;
  d["role"] = "assistant";
  d["content"] = "";
  return data(chunk(i.id, i.created, i.model, std::move(d), nullptr));
}

std::string text_chunk(const Ids& i, std::string_view text) {
  json::object d;
  d["content"] = text;
  return data(chunk(i.id, i.created, i.model, std::move(d), nullptr));
}

// The final chunk carries the citations (and every source retrieved); then usage if asked.
std::string final_chunks(const Ids& i, const chat::Reply& r, bool include_usage) {
  json::object last = chunk(i.id, i.created, i.model, json::object(), json::value(r.finish_reason));
  last["citations"] = citations_json(r);
  last["sources"] = sources_json(r);
  last["conversation_id"] = r.conversation_id;
  std::string out = data(last);
  if (include_usage) {
    json::object u;
    u["id"] = i.id;
    u["object"] = "chat.completion.chunk";
    u["created"] = i.created;
    u["model"] = i.model;
    u["choices"] = json::array();
    u["usage"] = usage_json(r);
    out += data(u);
  }
  return out + "data: [DONE]\n\n";
}

std::string apology_chunks(const Ids& i, std::string_view apology) {
  return text_chunk(i, apology) + data(chunk(i.id, i.created, i.model, json::object(), "error")) + "data: [DONE]\n\n";
}

// The whole answer: the reply, or the apology (r null).
json::object completion_json(const Ids& i, const chat::Reply* r, std::string_view apology) {
  json::object message;
  message["role"] = "assistant";
  message["content"] = r ? std::string_view(r->answer) : apology;
  message["refusal"] = nullptr;
  if (r) {
    message["citations"] = citations_json(*r);
    message["sources"] = sources_json(*r);
  }
  json::object choice;
  choice["index"] = 0;
  choice["message"] = std::move(message);
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = r ? std::string_view(r->finish_reason) : std::string_view("error");
  json::object out;
  out["id"] = i.id;
  out["object"] = "chat.completion";
  out["created"] = i.created;
  out["model"] = i.model;
  out["choices"] = json::array{std::move(choice)};
  if (r) {
    out["usage"] = usage_json(*r);
    out["conversation_id"] = r->conversation_id;
  } else {
    json::object u;
    u["prompt_tokens"] = 0;
    u["completion_tokens"] = 0;
    u["total_tokens"] = 0;
    out["usage"] = std::move(u);
  }
  return out;
}

}  // namespace

awaitable<Response> assistant_completion(Request& req, chat::Service& svc, json::object body, std::string_view name) {
  auto ask = openai_ask(svc, req, body, name);
  if (!ask) co_return Response::error(ask.error());
  if (auto st = allowed(req, *ask->assistant); !st) co_return Response::error(st.error());
  Ids ids;
  ids.model = "assistant/" + std::string(name);
  ids.id = "chatcmpl-" + req.request_id;
  ids.created =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const json::value* stream = body.if_contains("stream");
  if (!(stream && stream->is_bool() && stream->as_bool())) {
    auto r = co_await svc.ask(std::move(*ask));
    if (!r) {
      if (!apologise(svc, r.error())) co_return Response::error(r.error());
      core::log::error("chat failed; answered with chat.apology",
                       {{"request_id", req.request_id}, {"error", r.error().message}});
      co_return Response::json(200, core::to_json(completion_json(ids, nullptr, svc.config().apology)));
    }
    Response res = Response::json(200, core::to_json(completion_json(ids, &*r, "")));
    res.header("Server-Timing", server_timing(*r));
    res.header("x-switchboard-cache", r->cache);
    co_return res;
  }
  bool include_usage = false;
  if (const auto* so = body.if_contains("stream_options"); so && so->is_object()) {
    if (const auto* u = so->as_object().if_contains("include_usage"); u && u->is_bool()) include_usage = u->as_bool();
  }
  Response res;
  res.content_type = "text/event-stream";
  res.header("Cache-Control", "no-cache");
  res.stream = [&svc, ask = std::move(*ask), ids = std::move(ids), include_usage](
                   http::StreamWriter& w) mutable -> awaitable<void> {
    bool headed = false;
    chat::Events ev;
    ev.cache = [&w](std::string_view c) { w.add_header("x-switchboard-cache", std::string(c)); };
    ev.delta = [&](std::string_view text) -> awaitable<bool> {
      std::string out;
      if (!headed) {
        headed = true;
        out += role_chunk(ids);
      }
      out += text_chunk(ids, text);
      co_return co_await w.write(out);
    };
    const std::string request_id = ask.request_id;
    auto r = co_await svc.ask(std::move(ask), &ev);
    std::string out;
    if (!headed) out += role_chunk(ids);
    if (!r) {
      if (apologise(svc, r.error())) {
        core::log::error("chat failed; answered with chat.apology", {{"request_id", request_id}, {"error", r.error().message}});
        out += apology_chunks(ids, svc.config().apology);
        co_await w.write(out);
        co_return;
      }
      if (!w.started()) {
        w.replace(Response::error(r.error()));
        co_return;
      }
      const std::string err = "data: " + http::error_body(r.error()) + "\n\n";
      co_await w.write(err);
      co_return;
    }
    out += final_chunks(ids, *r, include_usage);
    co_await w.write(out);
  };
  co_return res;
}

}  // namespace sb::api
