#include "chat/service.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <chrono>

#include "chat/citations.hpp"
#include "core/ids.hpp"
#include "core/json_text.hpp"
#include "core/log.hpp"

namespace sb::chat {

namespace json = boost::json;
using boost::asio::awaitable;
using core::Error;
using core::ErrorKind;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::string snippet(const std::string& text) {
  constexpr std::size_t kMax = 240;
  if (text.size() <= kMax) return text;
  std::size_t cut = text.rfind(' ', kMax);
  if (cut == std::string::npos || cut < kMax / 2) cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
  return text.substr(0, cut) + "…";
}

json::value opt(const std::optional<std::string>& s) { return s ? json::value(*s) : json::value(nullptr); }

// The text of an OpenAI answer's first choice, its finish_reason and usage.
struct Parsed {
  std::string content, finish_reason = "stop";
  long long prompt = 0, completion = 0;
};

core::Result<Parsed> parse_answer(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return Error(ErrorKind::upstream_error, "the model's answer is not JSON");
  Parsed p;
  const json::object& o = v.as_object();
  if (const auto* choices = o.if_contains("choices"); choices && choices->is_array() && !choices->as_array().empty()) {
    const json::value& c = choices->as_array().front();
    if (c.is_object()) {
      if (const auto* m = c.as_object().if_contains("message"); m && m->is_object()) {
        if (const auto* t = m->as_object().if_contains("content"); t && t->is_string()) p.content = t->as_string();
      }
      if (const auto* f = c.as_object().if_contains("finish_reason"); f && f->is_string()) {
        p.finish_reason = f->as_string();
      }
    }
  } else {
    return Error(ErrorKind::upstream_error, "the model's answer has no choices");
  }
  if (const auto* u = o.if_contains("usage"); u && u->is_object()) {
    if (const auto* n = u->as_object().if_contains("prompt_tokens"); n && n->is_int64()) p.prompt = n->as_int64();
    if (const auto* n = u->as_object().if_contains("completion_tokens"); n && n->is_int64()) p.completion = n->as_int64();
  }
  return p;
}

// The request bodies, built outside the coroutines (GCC 12 destroys the temporaries of a braced
// initializer twice in a coroutine frame).
json::object rewrite_body(const std::string& model, const std::vector<Exchange>& memory, const std::string& question) {
  json::object body;
  body["model"] = model;
  body["messages"] = rewrite_messages(memory, question);
  body["temperature"] = 0;
  body["max_tokens"] = 100;
  return body;
}

json::object answer_body(const Assistant& a, const Ask& ask, const std::vector<Source>& sources,
                         const std::vector<Exchange>& memory, bool stream) {
  json::object body;
  body["model"] = a.model;
  body["messages"] = answer_messages(a.system_prompt, sources, memory, ask.question);
  if (auto t = ask.temperature ? ask.temperature : a.temperature) body["temperature"] = *t;
  if (auto m = ask.max_tokens ? ask.max_tokens : a.max_tokens) body["max_tokens"] = *m;
  if (stream) {
    body["stream"] = true;
    json::object options;
    options["include_usage"] = true;
    body["stream_options"] = std::move(options);
  }
  return body;
}

// A reply as the cache keeps it, and back.
std::string encode(const Reply& r) {
  json::array sources;
  for (const auto& s : r.sources) {
    const auto& c = s.hit.chunk;
    json::object o;
    o["n"] = s.n;
    o["chunk_id"] = c.chunk_id;
    o["document_id"] = c.document_id;
    o["external_id"] = opt(c.external_id);
    o["title"] = c.title;
    o["source"] = opt(c.source);
    o["tags"] = c.tags;
    o["heading"] = c.heading;
    o["page"] = c.page ? json::value(*c.page) : json::value(nullptr);
    o["text"] = c.text;
    o["score"] = s.hit.score;
    sources.push_back(std::move(o));
  }
  json::array cited;
  for (int n : r.cited) cited.push_back(n);
  json::object o;
  o["answer"] = r.answer;
  o["cited"] = std::move(cited);
  o["sources"] = std::move(sources);
  o["query"] = r.query;
  o["model"] = r.model;
  o["finish_reason"] = r.finish_reason;
  o["model_called"] = r.model_called;
  return core::to_json(o);
}

std::optional<Reply> decode(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  try {
    const json::object& o = v.as_object();
    Reply r;
    r.answer = o.at("answer").as_string();
    for (const auto& n : o.at("cited").as_array()) r.cited.push_back(static_cast<int>(n.as_int64()));
    for (const auto& sv : o.at("sources").as_array()) {
      const json::object& so = sv.as_object();
      Source s;
      s.n = static_cast<int>(so.at("n").as_int64());
      auto& c = s.hit.chunk;
      c.chunk_id = so.at("chunk_id").as_int64();
      c.document_id = so.at("document_id").as_string();
      if (so.at("external_id").is_string()) c.external_id = std::string(so.at("external_id").as_string());
      c.title = so.at("title").as_string();
      if (so.at("source").is_string()) c.source = std::string(so.at("source").as_string());
      c.tags = so.at("tags").as_string();
      c.heading = so.at("heading").as_string();
      if (so.at("page").is_int64()) c.page = so.at("page").as_int64();
      c.text = so.at("text").as_string();
      s.hit.score = so.at("score").to_number<double>();
      r.sources.push_back(std::move(s));
    }
    r.query = o.at("query").as_string();
    r.model = o.at("model").as_string();
    r.finish_reason = o.at("finish_reason").as_string();
    r.model_called = o.at("model_called").as_bool();
    for (int n : r.cited) {
      if (n < 1 || n > static_cast<int>(r.sources.size())) return std::nullopt;
    }
    return r;
  } catch (const std::exception&) {
    return std::nullopt;  // (not what this version wrote: a miss)
  }
}

}  // namespace

json::object citation_json(const Source& s) {
  const auto& c = s.hit.chunk;
  boost::system::error_code ec;
  json::value tags = json::parse(c.tags, ec);
  if (ec || !tags.is_array()) tags = json::array();
  return json::object{{"n", s.n},
                      {"document_id", c.document_id},
                      {"external_id", opt(c.external_id)},
                      {"title", c.title},
                      {"chunk_id", c.chunk_id},
                      {"page", c.page ? json::value(*c.page) : json::value(nullptr)},
                      {"heading", c.heading},
                      {"source", opt(c.source)},
                      {"tags", std::move(tags)},
                      {"score", s.hit.score},
                      {"snippet", snippet(c.text)}};
}

struct Service::Metrics {
  explicit Metrics(core::metrics::Registry& r)
      : turns(r.counter("switchboard_chat_turns_total", "RAG chat turns by assistant and outcome",
                        {"assistant", "outcome"})),
        invented(r.counter("switchboard_chat_invented_citations_total",
                           "Citation markers naming no source, removed from answers", {"assistant"})),
        own(r.histogram("switchboard_chat_own_seconds",
                        "Switchboard's own time per RAG turn (total minus the model's calls)", {"assistant"})) {}
  core::metrics::Family<core::metrics::Counter>& turns;
  core::metrics::Family<core::metrics::Counter>& invented;
  core::metrics::Family<core::metrics::Histogram>& own;
};

Service::Service(storage::Database& db, knowledge::Store& store, gateway::Gateway& gateway, const core::Clock& clock,
                 core::ChatConfig config, std::vector<Assistant> assistants, core::metrics::Registry& metrics,
                 Cache* cache, std::chrono::seconds ttl)
    : db_(db), store_(store), gateway_(gateway), clock_(clock), config_(std::move(config)),
      metrics_(std::make_unique<Metrics>(metrics)), cache_(cache), ttl_(ttl) {
  for (auto& a : assistants) assistants_.push_back(std::make_shared<const Assistant>(std::move(a)));
}

Service::~Service() = default;

std::shared_ptr<const Assistant> Service::assistant(std::string_view name) const {
  std::shared_lock lock(mu_);
  for (const auto& a : assistants_) {
    if (a->name == name || a->id == name) return a;
  }
  return nullptr;
}

std::vector<std::shared_ptr<const Assistant>> Service::assistants() const {
  std::shared_lock lock(mu_);
  return assistants_;
}

core::Status Service::load() {
  auto rows = db_.run_sync([](storage::Connection& c) { return storage::ChatRepository::assistants(c); });
  if (!rows) return std::move(rows).error();
  for (const auto& row : *rows) {
    boost::system::error_code ec;
    json::value spec = json::parse(row.spec, ec);
    auto a = ec || !spec.is_object() ? core::Result<Assistant>(Error(ErrorKind::internal, "its spec is not JSON"))
                                     : assistant_from_spec(spec.as_object());
    if (!a || assistant(row.name)) {
      core::log::warn("stored assistant skipped", {{"assistant", row.name},
                                                   {"reason", a ? "a config assistant has its name" : a.error().message}});
      continue;
    }
    a->id = row.id;
    a->from_config = false;
    a->created_at = row.created_at;
    a->updated_at = row.updated_at;
    std::unique_lock lock(mu_);
    assistants_.push_back(std::make_shared<const Assistant>(std::move(*a)));
  }
  return {};
}

Task<std::shared_ptr<const Assistant>> Service::create_assistant(json::object spec) {
  auto a = assistant_from_spec(spec);
  if (!a) co_return std::move(a).error();
  if (auto t = gateway_.resolve(a->model); !t) co_return std::move(t).error();
  if (assistant(a->name)) {
    co_return Error(ErrorKind::conflict, "an assistant named '" + a->name + "' already exists", "name");
  }
  a->id = "asst_" + core::new_request_id().substr(0, 24);
  a->from_config = false;
  a->created_at = a->updated_at = clock_.now_ms() / 1000;
  storage::AssistantRow row{a->id, a->name, core::to_json(assistant_spec(*a)), a->created_at, a->updated_at};
  auto insert = [row](storage::Connection& c) { return storage::ChatRepository::insert_assistant(c, row); };
  if (auto st = co_await db_.write(std::move(insert)); !st) co_return std::move(st).error();
  auto made = std::make_shared<const Assistant>(std::move(*a));
  std::unique_lock lock(mu_);
  assistants_.push_back(made);
  co_return made;
}

Task<std::shared_ptr<const Assistant>> Service::update_assistant(std::string id_or_name, json::object patch) {
  auto old = assistant(id_or_name);
  if (!old) co_return Error(ErrorKind::not_found, "no assistant '" + id_or_name + "'");
  if (old->from_config) {
    co_return Error(ErrorKind::conflict, "the assistant '" + old->name + "' is declared in the config file: change it there");
  }
  auto a = assistant_from_spec(merge_spec(assistant_spec(*old), patch));
  if (!a) co_return std::move(a).error();
  if (auto t = gateway_.resolve(a->model); !t) co_return std::move(t).error();
  if (auto other = assistant(a->name); other && other->id != old->id) {
    co_return Error(ErrorKind::conflict, "an assistant named '" + a->name + "' already exists", "name");
  }
  a->id = old->id;
  a->from_config = false;
  a->created_at = old->created_at;
  a->updated_at = clock_.now_ms() / 1000;
  storage::AssistantRow row{a->id, a->name, core::to_json(assistant_spec(*a)), a->created_at, a->updated_at};
  auto update = [row](storage::Connection& c) { return storage::ChatRepository::update_assistant(c, row); };
  if (auto st = co_await db_.write(std::move(update)); !st) co_return std::move(st).error();
  auto made = std::make_shared<const Assistant>(std::move(*a));
  std::unique_lock lock(mu_);
  for (auto& x : assistants_) {
    if (x->id == made->id) x = made;
  }
  co_return made;
}

Task<std::shared_ptr<const Assistant>> Service::delete_assistant(std::string id_or_name) {
  auto old = assistant(id_or_name);
  if (!old) co_return Error(ErrorKind::not_found, "no assistant '" + id_or_name + "'");
  if (old->from_config) {
    co_return Error(ErrorKind::conflict, "the assistant '" + old->name + "' is declared in the config file: remove it there");
  }
  auto remove = [id = old->id](storage::Connection& c) { return storage::ChatRepository::delete_assistant(c, id); };
  if (auto st = co_await db_.write(std::move(remove)); !st) co_return std::move(st).error();
  std::unique_lock lock(mu_);
  std::erase_if(assistants_, [&](const auto& x) { return x->id == old->id; });
  co_return old;
}

Task<storage::ConversationRow> Service::find(const std::string& id, const std::optional<std::string>& key, bool live) {
  auto read = [id](storage::Connection& c) { return storage::ChatRepository::get(c, id); };
  auto row = co_await db_.run(std::move(read));
  if (!row) co_return std::move(row).error();
  if (!*row || (key && (*row)->key_id != *key) || (live && (*row)->deleted_at)) {
    co_return Error(ErrorKind::not_found, "no conversation '" + id + "'", "conversation_id");
  }
  co_return std::move(**row);
}

Task<std::string> Service::rewrite(const Ask& ask, const std::vector<Exchange>& memory, double& upstream_ms) {
  auto targets = gateway_.resolve(ask.assistant->model);
  if (!targets) co_return std::move(targets).error();
  gateway::ChatCall call;
  call.body = rewrite_body(ask.assistant->model, memory, ask.question);
  call.request_id = ask.request_id;
  call.meter = ask.meter;
  call.cancel = ask.cancel;
  gateway::Outcome outcome;
  const auto t0 = Clock::now();
  auto r = co_await gateway_.chat(std::move(call), std::move(*targets), outcome);
  upstream_ms += ms_since(t0);
  if (!r) co_return std::move(r).error();
  auto p = parse_answer(r->body);
  if (!p) co_return std::move(p).error();
  std::string q = p->content;
  while (!q.empty() && (q.back() == '\n' || q.back() == ' ' || q.back() == '"')) q.pop_back();
  std::size_t b = 0;
  while (b < q.size() && (q[b] == ' ' || q[b] == '"' || q[b] == '\n')) ++b;
  q.erase(0, b);
  if (q.empty() || q.size() > 2000) co_return ask.question;  // not a usable query: search the question
  co_return q;
}

Task<std::vector<Source>> Service::retrieve(const Ask& ask, const std::string& query, double& ms) {
  const Assistant& a = *ask.assistant;
  const int top_k = ask.top_k.value_or(a.top_k);
  std::vector<knowledge::Hit> hits;
  const auto t0 = Clock::now();
  for (const auto& collection : a.collections) {
    knowledge::SearchRequest in;
    in.meter = ask.meter;
    in.collection = collection;
    in.query = query;
    in.top_k = top_k;
    in.mode = a.mode;
    in.filters = ask.filters ? *ask.filters : a.filters;
    in.score_threshold = a.score_threshold;
    auto r = co_await store_.search(std::move(in));
    if (!r) co_return std::move(r).error();
    for (auto& h : r->hits) hits.push_back(std::move(h));
  }
  ms += ms_since(t0);
  // One list over every collection, best first; numbered once, after the cut.
  std::stable_sort(hits.begin(), hits.end(), [](const auto& x, const auto& y) { return x.score > y.score; });
  if (static_cast<int>(hits.size()) > top_k) hits.resize(static_cast<std::size_t>(top_k));
  std::vector<Source> sources;
  for (auto& h : hits) sources.push_back(Source{static_cast<int>(sources.size()) + 1, std::move(h)});
  co_return sources;
}

std::string Service::cache_key(const Ask& ask, const std::vector<Exchange>& memory) const {
  const Assistant& a = *ask.assistant;
  if (!cache_ || !a.cache || ask.cache == CacheMode::no_store) return "";
  const std::optional<double> temperature = ask.temperature ? ask.temperature : a.temperature;
  if (temperature && *temperature > 0 && ask.cache != CacheMode::force) return "";
  // Everything the answer depends on, and each collection's content version.
  json::object k;
  k["v"] = 1;
  k["assistant"] = a.name;
  k["model"] = a.model;
  k["system_prompt"] = a.system_prompt;
  k["mode"] = mode_name(a.mode);
  k["top_k"] = ask.top_k.value_or(a.top_k);
  boost::system::error_code ec;
  k["filters"] = json::parse(a.filters_json, ec);
  if (ask.filters) {  // (per request: its parsed form)
    json::object f;
    json::array tags, ids, meta;
    for (const auto& t : ask.filters->tags) tags.push_back(json::string(t));
    for (const auto& d : ask.filters->document_ids) ids.push_back(json::string(d));
    for (const auto& m : ask.filters->metadata) {
      meta.push_back(json::array{json::string(m.key), static_cast<int>(m.kind), json::string(m.text), m.number, m.boolean});
    }
    f["tags"] = std::move(tags);
    f["document_ids"] = std::move(ids);
    f["metadata"] = std::move(meta);
    k["request_filters"] = std::move(f);
  }
  k["score_threshold"] = a.score_threshold ? json::value(*a.score_threshold) : json::value(nullptr);
  k["temperature"] = temperature ? json::value(*temperature) : json::value(nullptr);
  const auto max_tokens = ask.max_tokens ? ask.max_tokens : a.max_tokens;
  k["max_tokens"] = max_tokens ? json::value(*max_tokens) : json::value(nullptr);
  k["no_sources_reply"] = a.no_sources_reply.empty() ? config_.no_sources_reply : a.no_sources_reply;
  k["rewrite"] = a.rewrite_followups;
  k["question"] = ask.question;
  json::array mem;
  for (const auto& e : memory) mem.push_back(json::array{json::string(e.question), json::string(e.answer)});
  k["memory"] = std::move(mem);
  json::array versions;
  for (const auto& c : a.collections) {
    versions.push_back(json::array{json::string(c), store_.content_version(c)});
  }
  k["collections"] = std::move(versions);
  return "chat:" + sha256_hex(canonical_json(k));
}

boost::asio::awaitable<core::Status> Service::answer(const Ask& ask, const std::vector<Exchange>& memory,
                                                    const Events* events, Reply& reply) {
  const Assistant& a = *ask.assistant;
  const std::string label = a.name.empty() ? "(inline)" : a.name;
  // The search query: the question, or a follow-up rewritten to stand alone.
  if (a.rewrite_followups && !memory.empty()) {
    auto q = co_await rewrite(ask, memory, reply.upstream_ms);
    if (q) {
      reply.query = std::move(*q);
    } else {
      core::log::warn("chat: follow-up not rewritten, searching the question",
                      {{"request_id", ask.request_id}, {"error", q.error().message}});
    }
  }
  auto sources = co_await retrieve(ask, reply.query, reply.retrieval_ms);
  if (!sources) co_return std::move(sources).error();
  reply.sources = std::move(*sources);
  if (events && events->retrieval && !co_await events->retrieval(reply.sources)) {
    co_return Error(ErrorKind::internal, "the client went away");
  }

  if (reply.sources.empty()) {
    // Nothing relevant: an honest reply without a model call.
    reply.answer = a.no_sources_reply.empty() ? config_.no_sources_reply : a.no_sources_reply;
    if (events && events->delta) co_await events->delta(reply.answer);
  } else {
    auto targets = gateway_.resolve(a.model);
    if (!targets) co_return std::move(targets).error();
    MarkerFilter filter(static_cast<int>(reply.sources.size()));
    gateway::Outcome outcome;
    const auto m0 = Clock::now();
    reply.model_called = true;
    if (!events) {
      gateway::ChatCall call;
      call.body = answer_body(a, ask, reply.sources, memory, false);
      call.request_id = ask.request_id;
      call.meter = ask.meter;
      call.cancel = ask.cancel;
      auto r = co_await gateway_.chat(std::move(call), std::move(*targets), outcome);
      reply.upstream_ms += ms_since(m0);
      if (!r) co_return std::move(r).error();
      auto p = parse_answer(r->body);
      if (!p) co_return std::move(p).error();
      std::vector<int> newly;
      reply.answer = filter.feed(p->content, newly);
      reply.answer += filter.finish(newly);
      reply.finish_reason = p->finish_reason;
      reply.prompt_tokens = p->prompt;
      reply.completion_tokens = p->completion;
    } else {
      gateway::ChatCall call;
      call.body = answer_body(a, ask, reply.sources, memory, true);
      call.request_id = ask.request_id;
      call.meter = ask.meter;
      bool gone = false;
      gateway::ChunkSink sink = [&](std::string_view chunk, bool) -> awaitable<bool> {
        if (chunk.empty()) co_return true;
        boost::system::error_code ec;
        json::value v = json::parse(chunk, ec);
        if (ec || !v.is_object()) co_return true;
        const json::object& o = v.as_object();
        std::string text;
        if (const auto* choices = o.if_contains("choices"); choices && choices->is_array()) {
          for (const auto& c : choices->as_array()) {
            if (!c.is_object()) continue;
            if (const auto* d = c.as_object().if_contains("delta"); d && d->is_object()) {
              if (const auto* t = d->as_object().if_contains("content"); t && t->is_string()) text += t->as_string();
            }
            if (const auto* f = c.as_object().if_contains("finish_reason"); f && f->is_string()) {
              reply.finish_reason = f->as_string();
            }
          }
        }
        if (const auto* u = o.if_contains("usage"); u && u->is_object()) {
          if (const auto* n = u->as_object().if_contains("prompt_tokens"); n && n->is_int64()) {
            reply.prompt_tokens = n->as_int64();
          }
          if (const auto* n = u->as_object().if_contains("completion_tokens"); n && n->is_int64()) {
            reply.completion_tokens = n->as_int64();
          }
        }
        if (text.empty()) co_return true;
        std::vector<int> newly;
        std::string out = filter.feed(text, newly);
        reply.answer += out;
        if (!out.empty() && !co_await events->delta(out)) {
          gone = true;
          co_return false;
        }
        for (int n : newly) {
          if (events->citation && !co_await events->citation(reply.sources[static_cast<std::size_t>(n - 1)])) {
            gone = true;
            co_return false;
          }
        }
        co_return true;
      };
      auto st = co_await gateway_.chat_stream(std::move(call), std::move(*targets), std::move(sink), outcome);
      reply.upstream_ms += ms_since(m0);
      if (gone) co_return Error(ErrorKind::internal, "the client went away");
      if (!st) co_return std::move(st).error();
      std::vector<int> newly;
      std::string rest = filter.finish(newly);
      reply.answer += rest;
      if (!rest.empty()) co_await events->delta(rest);
    }
    reply.cited = filter.cited();
    reply.invented = filter.invented();
    reply.model = outcome.provider.empty() ? a.model : outcome.provider + "/" + outcome.model;
    if (reply.invented) metrics_->invented.with({label}).inc(static_cast<std::uint64_t>(reply.invented));
  }

  co_return core::Status{};
}

Task<Reply> Service::ask(Ask ask, const Events* events) {
  const auto t0 = Clock::now();
  const Assistant& a = *ask.assistant;
  const std::string label = a.name.empty() ? "(inline)" : a.name;
  if (ask.question.empty()) co_return Error(ErrorKind::invalid_field, "'question' must not be empty", "question");
  if (static_cast<int>(ask.question.size()) > config_.max_question_chars) {
    co_return Error(ErrorKind::invalid_field,
                    "the question is over chat.max_question_chars (" + std::to_string(config_.max_question_chars) +
                        " characters)",
                    "question");
  }
  const std::string owner = ask.meter ? ask.meter->key_id : std::string();
  Reply reply;

  // The conversation: named, found by session, or new (written with the turn).
  std::optional<storage::ConversationRow> conversation;
  std::optional<std::string> session = ask.session_id;
  if (!session && ask.user) session = "user:" + *ask.user;
  if (ask.conversation_id) {
    auto c = co_await find(*ask.conversation_id, owner, true);
    if (!c) co_return std::move(c).error();
    conversation = std::move(*c);
  } else if (session) {
    auto read = [owner, s = *session](storage::Connection& conn) {
      return storage::ChatRepository::by_session(conn, owner, s);
    };
    auto c = co_await db_.run(std::move(read));
    if (!c) co_return std::move(c).error();
    conversation = std::move(*c);
  }
  const bool is_new = !conversation;
  if (is_new) {
    storage::ConversationRow row;
    row.id = "conv_" + core::new_request_id().substr(0, 24);
    row.session_id = session.value_or(row.id);
    row.assistant = a.name;
    row.user = ask.user;
    row.key_id = owner;
    row.title = ask.question.substr(0, 80);
    conversation = std::move(row);
  }
  reply.conversation_id = conversation->id;
  reply.session_id = conversation->session_id;

  // Memory: the stored turns, else what the client sent.
  std::vector<Exchange> memory;
  if (!is_new && a.memory_turns > 0) {
    auto read = [id = conversation->id, n = a.memory_turns](storage::Connection& c) {
      return storage::ChatRepository::turns(c, id, n);
    };
    auto turns = co_await db_.run(std::move(read));
    if (!turns) co_return std::move(turns).error();
    for (auto& t : *turns) memory.push_back(Exchange{std::move(t.question), std::move(t.answer)});
  } else if (is_new) {
    memory = ask.history;
  }
  memory = fit_memory(std::move(memory), a.memory_turns, a.max_context_tokens);

  // The response cache, keyed before retrieval (a write meanwhile changes the key of later turns).
  const std::string key = cache_key(ask, memory);
  if (!key.empty() && ask.cache != CacheMode::no_cache) {
    if (auto value = cache_->get(key)) {
      if (auto hit = decode(*value)) {
        hit->conversation_id = std::move(reply.conversation_id);
        hit->session_id = std::move(reply.session_id);
        reply = std::move(*hit);
        reply.cache = "hit";
        if (events && events->cache) events->cache("hit");
        if (events) {
          if (events->retrieval && !co_await events->retrieval(reply.sources)) {
            co_return Error(ErrorKind::internal, "the client went away");
          }
          if (events->delta && !co_await events->delta(reply.answer)) {
            co_return Error(ErrorKind::internal, "the client went away");
          }
          for (int n : reply.cited) {
            if (events->citation && !co_await events->citation(reply.sources[static_cast<std::size_t>(n - 1)])) {
              co_return Error(ErrorKind::internal, "the client went away");
            }
          }
        }
      }
    }
  }
  const bool cached = reply.cache == "hit";
  if (events && events->cache && !cached) events->cache(key.empty() ? "bypass" : "miss");

  // The search query: the question, or a follow-up rewritten to stand alone.
  if (!cached) {
    reply.query = ask.question;
    if (auto st = co_await answer(ask, memory, events, reply); !st) co_return std::move(st).error();
    if (!key.empty()) {
      cache_->put(key, encode(reply), std::chrono::seconds(ask.cache_ttl_s.value_or(ttl_.count())));
      reply.cache = "miss";
    }
  }

  // The turn is stored before the answer is acknowledged as done.
  reply.total_ms = ms_since(t0);
  storage::TurnRow turn;
  turn.id = "msg_" + core::new_request_id().substr(0, 24);
  turn.conversation_id = conversation->id;
  turn.question = ask.question;
  turn.query = reply.query;
  json::array chunk_ids, citations;
  for (const auto& s : reply.sources) chunk_ids.push_back(s.hit.chunk.chunk_id);
  for (int n : reply.cited) citations.push_back(citation_json(reply.sources[static_cast<std::size_t>(n - 1)]));
  turn.chunk_ids = core::to_json(chunk_ids);
  turn.citations = core::to_json(citations);
  turn.answer = reply.answer;
  turn.model = reply.model;
  if (cached) reply.prompt_tokens = reply.completion_tokens = 0;  // a cache hit costs nothing
  turn.prompt_tokens = reply.prompt_tokens;
  turn.completion_tokens = reply.completion_tokens;
  turn.latency_ms = static_cast<std::int64_t>(reply.total_ms);
  turn.finish_reason = reply.finish_reason;
  turn.created_at = clock_.now_ms() / 1000;
  reply.message_id = turn.id;
  std::optional<storage::ConversationRow> fresh;
  if (is_new) {
    fresh = std::move(*conversation);
    fresh->created_at = fresh->updated_at = turn.created_at;
  }
  const storage::TurnRow written = turn;
  auto store_turn = [turn = std::move(turn), fresh = std::move(fresh)](storage::Connection& c) mutable
      -> core::Result<std::pair<std::string, std::string>> {
    if (fresh) {
      if (auto st = storage::ChatRepository::insert(c, *fresh); !st) {
        // Another turn of the same new session got there first: join it.
        if (st.error().kind != ErrorKind::conflict) return std::move(st).error();
        auto again = storage::ChatRepository::by_session(c, fresh->key_id, fresh->session_id);
        if (!again) return std::move(again).error();
        if (!*again) return std::move(st).error();
        turn.conversation_id = (*again)->id;
      }
    }
    if (auto st = storage::ChatRepository::add_turn(c, turn); !st) return std::move(st).error();
    return std::make_pair(turn.conversation_id, turn.id);
  };
  auto stored = co_await db_.write(std::move(store_turn));
  if (!stored) co_return std::move(stored).error();
  reply.conversation_id = stored->first;
  {
    storage::TurnRow row = written;
    row.conversation_id = stored->first;
    notify(row, owner);
  }
  reply.total_ms = ms_since(t0);  // (with the turn's write: Server-Timing counts it)
  metrics_->turns.with({label, reply.sources.empty() ? "no_sources" : "answered"}).inc();
  metrics_->own.with({label}).observe(std::max(0.0, reply.total_ms - reply.upstream_ms) / 1000.0);
  co_return reply;
}

Task<ConversationView> Service::conversation(std::string id, std::optional<std::string> key) {
  auto row = co_await find(id, key, false);
  if (!row) co_return std::move(row).error();
  auto read = [id](storage::Connection& c) { return storage::ChatRepository::turns(c, id, 0); };
  auto turns = co_await db_.run(std::move(read));
  if (!turns) co_return std::move(turns).error();
  co_return ConversationView{std::move(*row), std::move(*turns)};
}

Task<storage::Page<storage::ConversationRow>> Service::conversations(storage::ConversationQuery q,
                                                                    storage::PageRequest page) {
  auto read = [q = std::move(q), page = std::move(page)](storage::Connection& c) {
    return storage::ChatRepository::list(c, q, page);
  };
  co_return co_await db_.run(std::move(read));
}

Task<storage::ConversationRow> Service::set_deleted(std::string id, bool deleted, std::optional<std::string> key) {
  auto row = co_await find(id, key, false);
  if (!row) co_return std::move(row).error();
  if (deleted == row->deleted_at.has_value()) {
    co_return Error(ErrorKind::conflict,
                    "the conversation '" + id + "' is " + (deleted ? "already deleted" : "not deleted"));
  }
  const std::optional<std::int64_t> at = deleted ? std::optional<std::int64_t>(clock_.now_ms() / 1000) : std::nullopt;
  auto change = [id, at](storage::Connection& c) { return storage::ChatRepository::set_deleted(c, id, at); };
  auto r = co_await db_.write(std::move(change));
  if (!r) co_return std::move(r).error();
  row->deleted_at = at;
  co_return std::move(*row);
}

Task<std::pair<std::int64_t, std::int64_t>> Service::sweep() {
  const std::int64_t now = clock_.now_ms() / 1000;
  const std::int64_t expire_before = now - static_cast<std::int64_t>(config_.retention_days) * 86400;
  const std::int64_t purge_before = now - static_cast<std::int64_t>(config_.purge_after_days) * 86400;
  auto pass = [now, expire_before, purge_before](storage::Connection& c)
      -> core::Result<std::pair<std::int64_t, std::int64_t>> {
    auto expired = storage::ChatRepository::expire(c, expire_before, now);
    if (!expired) return std::move(expired).error();
    auto purged = storage::ChatRepository::purge(c, purge_before);
    if (!purged) return std::move(purged).error();
    return std::make_pair(*expired, *purged);
  };
  co_return co_await db_.write(std::move(pass));
}

}  // namespace sb::chat
