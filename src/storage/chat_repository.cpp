#include "storage/chat_repository.hpp"

#include "storage/page_sql.hpp"

namespace sb::storage {
namespace {

using core::Error;

constexpr const char* kConversationColumns =
    "seq, id, session_id, assistant, user, key_id, title, turns, created_at, updated_at, deleted_at";

ConversationRow read_conversation(const Statement& s) {
  ConversationRow r;
  r.id = s.column_text(1);
  r.session_id = s.column_text(2);
  r.assistant = s.column_text(3);
  r.user = s.column_opt_text(4);
  r.key_id = s.column_text(5);
  r.title = s.column_text(6);
  r.turns = s.column_int64(7);
  r.created_at = s.column_int64(8);
  r.updated_at = s.column_int64(9);
  r.deleted_at = s.column_opt_int64(10);
  return r;
}

TurnRow read_turn(const Statement& s) {
  TurnRow t;
  t.id = s.column_text(0);
  t.conversation_id = s.column_text(1);
  t.question = s.column_text(2);
  t.query = s.column_text(3);
  t.chunk_ids = s.column_text(4);
  t.answer = s.column_text(5);
  t.citations = s.column_text(6);
  t.model = s.column_text(7);
  t.prompt_tokens = s.column_int64(8);
  t.completion_tokens = s.column_int64(9);
  t.latency_ms = s.column_int64(10);
  t.finish_reason = s.column_text(11);
  t.created_at = s.column_int64(12);
  return t;
}

Result<std::optional<ConversationRow>> one(Statement& st) {
  auto row = st.step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<ConversationRow>();
  return std::optional<ConversationRow>(read_conversation(st));
}

Error session_taken(std::string_view session_id) {
  return Error(core::ErrorKind::conflict,
               "a live conversation with the session id '" + std::string(session_id) + "' exists", "session_id",
               "storage");
}

}  // namespace

Status ChatRepository::insert(Connection& c, const ConversationRow& r) {
  if (auto taken = by_session(c, r.key_id, r.session_id); !taken) {
    return std::move(taken).error();
  } else if (*taken) {
    return session_taken(r.session_id);
  }
  auto st = c.cached(
      "INSERT INTO conversations (id, session_id, assistant, user, key_id, title, turns, created_at, updated_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!st) return std::move(st).error();
  st->bind(1, r.id).bind(2, r.session_id).bind(3, r.assistant).bind_opt(4, r.user).bind(5, r.key_id);
  st->bind(6, r.title).bind(7, r.turns).bind(8, r.created_at).bind(9, r.updated_at);
  return st->run();
}

Result<std::optional<ConversationRow>> ChatRepository::get(Connection& c, std::string_view id) {
  auto st = c.cached(std::string("SELECT ") + kConversationColumns + " FROM conversations WHERE id = ?1");
  if (!st) return std::move(st).error();
  st->bind(1, id);
  return one(*st);
}

Result<std::optional<ConversationRow>> ChatRepository::by_session(Connection& c, std::string_view key_id,
                                                                  std::string_view session_id) {
  auto st = c.cached(std::string("SELECT ") + kConversationColumns +
                     " FROM conversations WHERE key_id = ?1 AND session_id = ?2 AND deleted_at IS NULL");
  if (!st) return std::move(st).error();
  st->bind(1, key_id).bind(2, session_id);
  return one(*st);
}

Result<Page<ConversationRow>> ChatRepository::list(Connection& c, const ConversationQuery& q, const PageRequest& page) {
  auto pivot = page_pivot(c, "conversations", page, "a conversation");
  if (!pivot) return std::move(pivot).error();
  auto st = c.prepare(std::string("SELECT ") + kConversationColumns +
                      " FROM conversations WHERE (?1 IS NULL OR key_id = ?1) AND (?2 IS NULL OR assistant = ?2) "
                      "AND (?3 IS NULL OR user = ?3) AND ((deleted_at IS NULL) = (?4 = 0))" +
                      seq_clause(page, 5) + " LIMIT ?6");
  if (!st) return std::move(st).error();
  st->bind_opt(1, q.key_id).bind_opt(2, q.assistant).bind_opt(3, q.user).bind(4, std::int64_t{q.deleted});
  st->bind(5, *pivot).bind(6, static_cast<std::int64_t>(page.limit) + 1);
  auto rows = st->all(read_conversation);
  if (!rows) return std::move(rows).error();
  return make_page(std::move(*rows), page);
}

Result<std::vector<TurnRow>> ChatRepository::turns(Connection& c, std::string_view conversation_id, int last) {
  auto st = c.cached(
      "SELECT * FROM (SELECT id, conversation_id, question, query, chunk_ids, answer, citations, model, "
      "prompt_tokens, completion_tokens, latency_ms, finish_reason, created_at, seq FROM chat_turns "
      "WHERE conversation_id = ?1 ORDER BY seq DESC LIMIT ?2) ORDER BY seq ASC");
  if (!st) return std::move(st).error();
  st->bind(1, conversation_id).bind(2, static_cast<std::int64_t>(last > 0 ? last : -1));
  return st->all(read_turn);
}

Status ChatRepository::add_turn(Connection& c, const TurnRow& t) {
  auto st = c.cached(
      "INSERT INTO chat_turns (id, conversation_id, question, query, chunk_ids, answer, citations, model, "
      "prompt_tokens, completion_tokens, latency_ms, finish_reason, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
  if (!st) return std::move(st).error();
  st->bind(1, t.id).bind(2, t.conversation_id).bind(3, t.question).bind(4, t.query).bind(5, t.chunk_ids);
  st->bind(6, t.answer).bind(7, t.citations).bind(8, t.model).bind(9, t.prompt_tokens);
  st->bind(10, t.completion_tokens).bind(11, t.latency_ms).bind(12, t.finish_reason).bind(13, t.created_at);
  if (auto r = st->run(); !r) return r;
  auto up = c.cached("UPDATE conversations SET turns = turns + 1, updated_at = ?2 WHERE id = ?1");
  if (!up) return std::move(up).error();
  up->bind(1, t.conversation_id).bind(2, t.created_at);
  return up->run();
}

Result<std::optional<std::string>> ChatRepository::turn_conversation(Connection& c, std::string_view turn_id) {
  auto st = c.cached("SELECT conversation_id FROM chat_turns WHERE id = ?1");
  if (!st) return std::move(st).error();
  st->bind(1, turn_id);
  auto rows = st->all([](const Statement& s) { return s.column_text(0); });
  if (!rows) return std::move(rows).error();
  if (rows->empty()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(rows->front()));
}

Result<bool> ChatRepository::set_deleted(Connection& c, std::string_view id, std::optional<std::int64_t> at) {
  auto row = get(c, id);
  if (!row) return std::move(row).error();
  if (!*row) return false;
  if (!at && (*row)->deleted_at) {
    auto taken = by_session(c, (*row)->key_id, (*row)->session_id);
    if (!taken) return std::move(taken).error();
    if (*taken) return session_taken((*row)->session_id);
  }
  auto st = c.cached("UPDATE conversations SET deleted_at = ?2 WHERE id = ?1");
  if (!st) return std::move(st).error();
  st->bind(1, id).bind_opt(2, at);
  if (auto r = st->run(); !r) return std::move(r).error();
  return true;
}

Result<std::int64_t> ChatRepository::expire(Connection& c, std::int64_t before, std::int64_t now) {
  auto st = c.cached("UPDATE conversations SET deleted_at = ?2 WHERE deleted_at IS NULL AND updated_at < ?1");
  if (!st) return std::move(st).error();
  st->bind(1, before).bind(2, now);
  if (auto r = st->run(); !r) return std::move(r).error();
  return st->changes();
}

Result<std::int64_t> ChatRepository::purge(Connection& c, std::int64_t before) {
  auto turns = c.cached(
      "DELETE FROM chat_turns WHERE conversation_id IN "
      "(SELECT id FROM conversations WHERE deleted_at IS NOT NULL AND deleted_at < ?1)");
  if (!turns) return std::move(turns).error();
  turns->bind(1, before);
  if (auto r = turns->run(); !r) return std::move(r).error();
  auto st = c.cached("DELETE FROM conversations WHERE deleted_at IS NOT NULL AND deleted_at < ?1");
  if (!st) return std::move(st).error();
  st->bind(1, before);
  if (auto r = st->run(); !r) return std::move(r).error();
  return st->changes();
}

Result<std::vector<AssistantRow>> ChatRepository::assistants(Connection& c) {
  auto st = c.prepare("SELECT id, name, spec, created_at, updated_at FROM assistants ORDER BY seq");
  if (!st) return std::move(st).error();
  return st->all([](const Statement& s) {
    return AssistantRow{s.column_text(0), s.column_text(1), s.column_text(2), s.column_int64(3), s.column_int64(4)};
  });
}

namespace {

Result<bool> name_taken(Connection& c, const AssistantRow& r) {
  auto q = c.prepare("SELECT 1 FROM assistants WHERE name = ?1 AND id != ?2");
  if (!q) return std::move(q).error();
  q->bind(1, r.name).bind(2, r.id);
  return q->step();
}

Error assistant_taken(const std::string& name) {
  return Error(core::ErrorKind::conflict, "an assistant named '" + name + "' already exists", "name", "storage");
}

}  // namespace

Status ChatRepository::insert_assistant(Connection& c, const AssistantRow& r) {
  auto taken = name_taken(c, r);
  if (!taken) return std::move(taken).error();
  if (*taken) return assistant_taken(r.name);
  auto st = c.prepare("INSERT INTO assistants (id, name, spec, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!st) return std::move(st).error();
  st->bind(1, r.id).bind(2, r.name).bind(3, r.spec).bind(4, r.created_at).bind(5, r.updated_at);
  return st->run();
}

Status ChatRepository::update_assistant(Connection& c, const AssistantRow& r) {
  auto taken = name_taken(c, r);
  if (!taken) return std::move(taken).error();
  if (*taken) return assistant_taken(r.name);
  auto st = c.prepare("UPDATE assistants SET name = ?2, spec = ?3, updated_at = ?4 WHERE id = ?1");
  if (!st) return std::move(st).error();
  st->bind(1, r.id).bind(2, r.name).bind(3, r.spec).bind(4, r.updated_at);
  return st->run();
}

Status ChatRepository::delete_assistant(Connection& c, std::string_view id) {
  auto st = c.prepare("DELETE FROM assistants WHERE id = ?1");
  if (!st) return std::move(st).error();
  st->bind(1, id);
  return st->run();
}

}  // namespace sb::storage
