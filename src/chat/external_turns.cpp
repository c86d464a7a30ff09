// Turns written by other workflows than a chat (the pipeline job): the conversation they go to,
// its memory, and the idempotent write of the exchange.

#include "chat/service.hpp"

#include "core/ids.hpp"

namespace sb::chat {

using core::Error;
using core::ErrorKind;

namespace {

std::optional<std::string> session_of(const ExternalTurn& t) {
  if (t.session_id) return t.session_id;
  if (t.user) return "user:" + *t.user;
  return std::nullopt;
}

}  // namespace

Task<Service::Memory> Service::memory(const ExternalTurn& where, int last) {
  Memory out;
  if (where.conversation_id) {
    auto c = co_await find(*where.conversation_id, where.key_id, true);
    if (!c) co_return std::move(c).error();
    out.conversation = std::move(*c);
  } else if (auto session = session_of(where)) {
    auto read = [owner = where.key_id, s = *session](storage::Connection& conn) {
      return storage::ChatRepository::by_session(conn, owner, s);
    };
    auto c = co_await db_.run(std::move(read));
    if (!c) co_return std::move(c).error();
    out.conversation = std::move(*c);
  }
  if (out.conversation && last > 0) {
    auto read = [id = out.conversation->id, last](storage::Connection& c) {
      return storage::ChatRepository::turns(c, id, last);
    };
    auto turns = co_await db_.run(std::move(read));
    if (!turns) co_return std::move(turns).error();
    for (auto& t : *turns) out.exchanges.push_back(Exchange{std::move(t.question), std::move(t.answer)});
  }
  co_return out;
}

Task<StoredTurn> Service::record_turn(ExternalTurn t) {
  auto where = co_await memory(t, 0);
  if (!where) co_return std::move(where).error();
  std::optional<storage::ConversationRow> fresh;
  storage::TurnRow turn;
  turn.id = t.turn_id.empty() ? "msg_" + core::new_request_id().substr(0, 24) : t.turn_id;
  turn.question = t.question;
  turn.query = t.question;
  turn.answer = t.answer;
  turn.model = t.model;
  turn.prompt_tokens = t.prompt_tokens;
  turn.completion_tokens = t.completion_tokens;
  turn.latency_ms = t.latency_ms;
  turn.finish_reason = t.finish_reason;
  turn.created_at = clock_.now_ms() / 1000;
  if (where->conversation) {
    turn.conversation_id = where->conversation->id;
  } else {
    storage::ConversationRow row;
    row.id = "conv_" + core::new_request_id().substr(0, 24);
    row.session_id = session_of(t).value_or(row.id);
    row.user = t.user;
    row.key_id = t.key_id;
    row.title = t.question.substr(0, 80);
    row.created_at = row.updated_at = turn.created_at;
    turn.conversation_id = row.id;
    fresh = std::move(row);
  }
  const storage::TurnRow written = turn;
  auto write = [turn = std::move(turn), fresh = std::move(fresh)](storage::Connection& c) mutable
      -> core::Result<StoredTurn> {
    auto earlier = storage::ChatRepository::turn_conversation(c, turn.id);
    if (!earlier) return std::move(earlier).error();
    if (*earlier) return StoredTurn{**earlier, turn.id, true};
    if (fresh) {
      if (auto st = storage::ChatRepository::insert(c, *fresh); !st) {
        // Another writer created the session's conversation meanwhile: join it.
        if (st.error().kind != ErrorKind::conflict) return std::move(st).error();
        auto again = storage::ChatRepository::by_session(c, fresh->key_id, fresh->session_id);
        if (!again) return std::move(again).error();
        if (!*again) return std::move(st).error();
        turn.conversation_id = (*again)->id;
      }
    }
    if (auto st = storage::ChatRepository::add_turn(c, turn); !st) return std::move(st).error();
    return StoredTurn{turn.conversation_id, turn.id, false};
  };
  auto stored = co_await db_.write(std::move(write));
  if (stored && !stored->existed) {
    storage::TurnRow row = written;
    row.conversation_id = stored->conversation_id;
    notify(row, t.key_id);
  }
  co_return stored;
}

void Service::notify(const storage::TurnRow& turn, const std::string& owner) {
  if (!on_message_) return;
  boost::json::object m;
  m["id"] = turn.id;
  m["conversation_id"] = turn.conversation_id;
  m["role"] = "assistant";
  m["question"] = turn.question;
  m["content"] = turn.answer;
  m["model"] = turn.model;
  m["finish_reason"] = turn.finish_reason;
  m["created_at"] = turn.created_at;
  on_message_(turn.conversation_id, owner, std::move(m));
}

}  // namespace sb::chat
