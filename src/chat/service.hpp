#pragma once
// RAG chat: a question answered by a model from an assistant's collections. A turn reads the
// conversation's memory, rewrites a follow-up into a standalone query (one short model call),
// searches every collection, numbers the sources once, asks the model (whole or streamed),
// removes the citation markers naming no source, and stores the turn before it is answered as
// done. When nothing relevant is found the model is not called.

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "chat/assistant.hpp"
#include "chat/cache.hpp"
#include "chat/prompt.hpp"
#include "core/cancel.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/request_context.hpp"
#include "gateway/gateway.hpp"
#include "knowledge/store.hpp"
#include "storage/chat_repository.hpp"
#include "storage/database.hpp"

namespace sb::chat {

template <class T>
using Task = boost::asio::awaitable<core::Result<T>>;

// x-switchboard-cache: what a request lets the response cache do.
enum class CacheMode {
  normal,    // read and write when the answer may be cached (temperature unset or 0)
  no_cache,  // do not read; write the fresh answer
  no_store,  // neither
  force,     // read and write even with a temperature above 0
};

struct Ask {
  std::shared_ptr<core::RequestContext> meter;  // the caller (its key owns the conversation)
  std::shared_ptr<const Assistant> assistant;
  std::string question;
  std::optional<std::string> conversation_id;  // continue this one
  std::optional<std::string> session_id;       // or the caller's session (created when new)
  std::optional<std::string> user;             // an OpenAI `user`: the session "user:<user>"
  // Earlier exchanges the client sent itself (the OpenAI form without a conversation).
  std::vector<Exchange> history;
  // Per request, over the assistant's.
  std::optional<storage::SearchFilters> filters;
  std::optional<int> top_k;
  std::optional<double> temperature;
  std::optional<std::int64_t> max_tokens;
  CacheMode cache = CacheMode::normal;
  std::optional<std::int64_t> cache_ttl_s;  // over cache.ttl_s
  std::string request_id;
  std::shared_ptr<core::CancelSignal> cancel;
};

// What a streamed turn tells its client as it goes; a false return stops it (client gone).
struct Events {
  // Before anything else: hit, miss or bypass (for the x-switchboard-cache header).
  std::function<void(std::string_view)> cache;
  std::function<boost::asio::awaitable<bool>(const std::vector<Source>&)> retrieval;
  std::function<boost::asio::awaitable<bool>(std::string_view text)> delta;
  std::function<boost::asio::awaitable<bool>(const Source&)> citation;  // cited for the first time
};

struct Reply {
  std::string answer;         // with the [n] markers that name sources
  std::vector<int> cited;     // source numbers, in order of first citation
  std::vector<Source> sources;  // everything retrieved, numbered
  std::string conversation_id, session_id, message_id;
  std::string query;          // what retrieval searched
  std::string model;          // the target that answered ("provider/model"), "" when not called
  std::string finish_reason = "stop";
  long long prompt_tokens = 0, completion_tokens = 0;
  int invented = 0;           // markers removed
  bool model_called = false;
  std::string cache = "bypass";  // hit | miss | bypass (x-switchboard-cache)
  double retrieval_ms = 0, upstream_ms = 0, total_ms = 0;
};

// A source as the API and the stored turn show it: {n, document_id, external_id, title,
// chunk_id, page, heading, source, tags, score, snippet}.
boost::json::object citation_json(const Source& s);

// A turn written by something other than ask() (the pipeline job). The conversation: the one
// named, else the key's live one with the session id, else a new one (session_id, else
// "user:<user>", else its own id). turn_id makes it idempotent: a turn with that id already
// stored is not stored again (a job that ran twice).
struct ExternalTurn {
  std::optional<std::string> conversation_id, session_id, user;
  std::string key_id;  // the owner ("" without a key)
  std::string turn_id;  // msg_...
  std::string question, answer, model, finish_reason = "stop";
  long long prompt_tokens = 0, completion_tokens = 0, latency_ms = 0;
};

struct StoredTurn {
  std::string conversation_id, message_id;
  bool existed = false;  // stored by an earlier run
};

struct ConversationView {
  storage::ConversationRow row;
  std::vector<storage::TurnRow> turns;
};

class Service {
 public:
  // cache may be null (no response cache); ttl: an answer's life in it unless a request says.
  Service(storage::Database& db, knowledge::Store& store, gateway::Gateway& gateway, const core::Clock& clock,
          core::ChatConfig config, std::vector<Assistant> assistants, core::metrics::Registry& metrics,
          Cache* cache = nullptr, std::chrono::seconds ttl = std::chrono::seconds(600));
  ~Service();

  // By name (or, for one made through the API, its id).
  std::shared_ptr<const Assistant> assistant(std::string_view name) const;
  // The config's, then those made through the API, oldest first.
  std::vector<std::shared_ptr<const Assistant>> assistants() const;

  // Assistants made through the API (stored; the config's cannot be changed here). At start,
  // before serving: reads the stored ones (one with a config assistant's name is skipped, logged).
  core::Status load();
  // Errors: invalid_field, conflict (name taken), model_not_found.
  Task<std::shared_ptr<const Assistant>> create_assistant(boost::json::object spec);
  // `patch` over the assistant's spec. Errors: not_found, conflict (a config assistant, or the
  // new name taken), invalid_field, model_not_found.
  Task<std::shared_ptr<const Assistant>> update_assistant(std::string id_or_name, boost::json::object patch);
  Task<std::shared_ptr<const Assistant>> delete_assistant(std::string id_or_name);
  const core::ChatConfig& config() const { return config_; }

  // One turn, whole (events null) or streamed. Errors: not_found (conversation), invalid_field,
  // the search's and the model's errors.
  Task<Reply> ask(Ask ask, const Events* events = nullptr);

  // `key`: the caller's key id, or nullopt for an admin (any conversation). Errors: not_found.
  Task<ConversationView> conversation(std::string id, std::optional<std::string> key);
  Task<storage::Page<storage::ConversationRow>> conversations(storage::ConversationQuery q, storage::PageRequest page);
  // Soft delete (deleted = true) or restore. Errors: not_found; conflict (already so, or the
  // session id is taken again).
  Task<storage::ConversationRow> set_deleted(std::string id, bool deleted, std::optional<std::string> key);

  // The conversation an ExternalTurn with these fields goes to, and its last `last` exchanges
  // (oldest first); nullopt conversation: it would be new. Errors: not_found for a named
  // conversation that is not the key's or is deleted.
  struct Memory {
    std::optional<storage::ConversationRow> conversation;
    std::vector<Exchange> exchanges;
  };
  Task<Memory> memory(const ExternalTurn& where, int last);
  Task<StoredTurn> record_turn(ExternalTurn turn);

  // Before serving: told each turn stored (by a chat or record_turn), for live events
  // (message.created): the conversation, its owner key, and the message.
  using OnMessage = std::function<void(const std::string& conversation_id, const std::string& owner,
                                       boost::json::object message)>;
  void on_message(OnMessage f) { on_message_ = std::move(f); }

  // Retention (chat.retention_days, chat.purge_after_days): one pass. Returns (expired, purged).
  Task<std::pair<std::int64_t, std::int64_t>> sweep();

 private:
  struct Metrics;
  Task<storage::ConversationRow> find(const std::string& id, const std::optional<std::string>& key, bool live);
  Task<std::string> rewrite(const Ask& ask, const std::vector<Exchange>& memory, double& upstream_ms);
  Task<std::vector<Source>> retrieve(const Ask& ask, const std::string& query, double& ms);
  // A fresh answer: the rewrite, retrieval, the model (whole or streamed), the markers.
  boost::asio::awaitable<core::Status> answer(const Ask& ask, const std::vector<Exchange>& memory, const Events* events,
                                              Reply& reply);
  // The answer's cache key, or "" when it may not be cached (no cache, no_store, temperature).
  std::string cache_key(const Ask& ask, const std::vector<Exchange>& memory) const;

  void notify(const storage::TurnRow& turn, const std::string& owner);
  OnMessage on_message_;
  storage::Database& db_;
  knowledge::Store& store_;
  gateway::Gateway& gateway_;
  const core::Clock& clock_;
  core::ChatConfig config_;
  mutable std::shared_mutex mu_;  // guards assistants_ (each one is immutable; replaced whole)
  std::vector<std::shared_ptr<const Assistant>> assistants_;
  std::unique_ptr<Metrics> metrics_;
  Cache* cache_;
  std::chrono::seconds ttl_;
};

}  // namespace sb::chat
