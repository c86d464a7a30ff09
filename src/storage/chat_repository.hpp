#pragma once
// The RAG chat's tables: conversations (one per session, soft-deleted, purged later) and their
// turns (a question, what retrieval searched and found, the answer with its citations, usage,
// latency). Functions take the Connection they run on (Database::write for changes,
// Database::run for reads). Times are Unix seconds.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/page.hpp"
#include "storage/sqlite.hpp"

namespace sb::storage {

struct ConversationRow {
  std::string id;          // conv_<hex>
  std::string session_id;  // the client's, or the id; unique among a key's live conversations
  std::string assistant;   // "" when the request named collections and a model
  std::optional<std::string> user;
  std::string key_id;      // "" without a key
  std::string title;       // the first question, cut
  std::int64_t turns = 0;
  std::int64_t created_at = 0, updated_at = 0;
  std::optional<std::int64_t> deleted_at;
};

struct TurnRow {
  std::string id;  // msg_<hex>
  std::string conversation_id;
  std::string question, query;
  std::string chunk_ids = "[]";  // JSON array, in source order ([n] = n-th)
  std::string answer;
  std::string citations = "[]";  // JSON array
  std::string model;
  std::int64_t prompt_tokens = 0, completion_tokens = 0, latency_ms = 0;
  std::string finish_reason;
  std::int64_t created_at = 0;
};

struct AssistantRow {
  std::string id;  // asst_<hex>
  std::string name;
  std::string spec;  // JSON
  std::int64_t created_at = 0, updated_at = 0;
};

struct ConversationQuery {
  std::optional<std::string> key_id;  // nullopt: every key's (admin)
  std::optional<std::string> assistant, user;
  bool deleted = false;  // list the soft-deleted ones instead of the live ones
};

class ChatRepository {
 public:
  // Errors: conflict when the key already has a live conversation with that session id.
  static Status insert(Connection& c, const ConversationRow& row);
  static Result<std::optional<ConversationRow>> get(Connection& c, std::string_view id);
  // The key's live conversation with this session id.
  static Result<std::optional<ConversationRow>> by_session(Connection& c, std::string_view key_id,
                                                           std::string_view session_id);
  static Result<Page<ConversationRow>> list(Connection& c, const ConversationQuery& q, const PageRequest& page);
  // The conversation's last `last` turns (all when last <= 0), oldest first.
  static Result<std::vector<TurnRow>> turns(Connection& c, std::string_view conversation_id, int last);
  // Appends a turn and counts it on its conversation (updated_at = the turn's created_at).
  static Status add_turn(Connection& c, const TurnRow& turn);
  // The conversation a turn with this id belongs to, when there is one.
  static Result<std::optional<std::string>> turn_conversation(Connection& c, std::string_view turn_id);
  // Sets or clears deleted_at; false when there is no such conversation. Errors: conflict when
  // restoring would give the key two live conversations with one session id.
  static Result<bool> set_deleted(Connection& c, std::string_view id, std::optional<std::int64_t> at);
  // Retention: soft-deletes live conversations not updated since `before`; returns how many.
  static Result<std::int64_t> expire(Connection& c, std::int64_t before, std::int64_t now);
  // Removes conversations (and their turns) soft-deleted before `before`; returns how many.
  static Result<std::int64_t> purge(Connection& c, std::int64_t before);

  // Assistants made through the API, oldest first.
  static Result<std::vector<AssistantRow>> assistants(Connection& c);
  // Errors: conflict when the name is taken.
  static Status insert_assistant(Connection& c, const AssistantRow& row);
  // By id: name, spec, updated_at. Errors: conflict when the new name is taken.
  static Status update_assistant(Connection& c, const AssistantRow& row);
  static Status delete_assistant(Connection& c, std::string_view id);
};

}  // namespace sb::storage
