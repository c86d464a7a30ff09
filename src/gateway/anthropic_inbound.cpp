#include "gateway/anthropic_inbound.hpp"

#include <boost/json/parse.hpp>

#include "core/ids.hpp"
#include "core/json_text.hpp"
#include "gateway/inbound_common.hpp"

namespace sb::gateway::anthropic_inbound {

namespace json = boost::json;
using core::Error;
using core::ErrorKind;

namespace {

using inbound::wrong_type;
const auto& bad = inbound::bad_field;

// A text or content-block list -> OpenAI content parts (text and images); tool blocks are
// handled by the caller. `where` names the field in errors.
core::Result<json::value> user_content(const json::value& content, const std::string& where, json::array* tool_results,
                                       json::array* tool_uses) {
  if (content.is_string()) return json::value(content.get_string());
  if (!content.is_array()) return wrong_type(where, "a string or an array of content blocks");
  json::array parts;
  const auto& blocks = content.get_array();
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    const auto* b = blocks[i].if_object();
    const json::value* type = b ? b->if_contains("type") : nullptr;
    if (!type || !type->is_string()) return wrong_type(at + ".type", "a string");
    const std::string_view t = type->get_string();
    if (t == "text") {
      const json::value* text = b->if_contains("text");
      if (!text || !text->is_string()) return wrong_type(at + ".text", "a string");
      parts.push_back(json::object{{"type", "text"}, {"text", text->get_string()}});
    } else if (t == "image") {
      const json::value* src = b->if_contains("source");
      const auto* so = src ? src->if_object() : nullptr;
      const json::value* st = so ? so->if_contains("type") : nullptr;
      if (!st || !st->is_string()) return wrong_type(at + ".source.type", "a string");
      std::string url;
      if (st->get_string() == "base64") {
        const json::value* mt = so->if_contains("media_type");
        const json::value* data = so->if_contains("data");
        if (!mt || !mt->is_string() || !data || !data->is_string()) {
          return bad(at + ".source", "needs media_type and data (strings)");
        }
        url = "data:" + std::string(mt->get_string()) + ";base64," + std::string(data->get_string());
      } else if (st->get_string() == "url") {
        const json::value* u = so->if_contains("url");
        if (!u || !u->is_string()) return wrong_type(at + ".source.url", "a string");
        url = std::string(u->get_string());
      } else {
        return bad(at + ".source.type", "must be \"base64\" or \"url\"");
      }
      parts.push_back(json::object{{"type", "image_url"}, {"image_url", json::object{{"url", url}}}});
    } else if (t == "tool_result" && tool_results) {
      const json::value* id = b->if_contains("tool_use_id");
      if (!id || !id->is_string()) return wrong_type(at + ".tool_use_id", "a string");
      std::string text;
      if (const json::value* c = b->if_contains("content")) {
        if (c->is_string()) {
          text = std::string(c->get_string());
        } else if (c->is_array()) {
          for (const auto& part : c->get_array()) {
            const auto* po = part.if_object();
            const json::value* pt = po ? po->if_contains("text") : nullptr;
            if (pt && pt->is_string()) text += std::string(pt->get_string());
          }
        } else if (!c->is_null()) {
          return wrong_type(at + ".content", "a string or an array of content blocks");
        }
      }
      const json::value* err = b->if_contains("is_error");
      if (err && err->is_bool() && err->get_bool()) text = "Error: " + text;
      tool_results->push_back(json::object{{"role", "tool"}, {"tool_call_id", id->get_string()}, {"content", text}});
    } else if (t == "tool_use" && tool_uses) {
      const json::value* id = b->if_contains("id");
      const json::value* name = b->if_contains("name");
      if (!id || !id->is_string()) return wrong_type(at + ".id", "a string");
      if (!name || !name->is_string()) return wrong_type(at + ".name", "a string");
      const json::value* input = b->if_contains("input");
      tool_uses->push_back(json::object{
          {"id", id->get_string()},
          {"type", "function"},
          {"function", json::object{{"name", name->get_string()},
                                    {"arguments", core::to_json(input ? *input : json::value(json::object{}))}}}});
    } else if (t == "thinking" || t == "redacted_thinking") {
      // an earlier answer's reasoning: not something another provider can take back
    } else {
      return bad(at + ".type", "is not a content block this endpoint reads (text, image, tool_use, tool_result)");
    }
  }
  // One text part is sent as a plain string (every provider takes that).
  if (parts.size() == 1 && parts[0].as_object().at("type") == "text") return parts[0].as_object().at("text");
  if (parts.empty()) return json::value(nullptr);
  return json::value(std::move(parts));
}

std::string finish_to_stop(std::string_view finish) {
  if (finish == "length") return "max_tokens";
  if (finish == "tool_calls" || finish == "function_call") return "tool_use";
  if (finish == "content_filter") return "refusal";
  return "end_turn";
}

std::string message_id(std::string_view from) {
  // A stable id when the upstream gave one (chatcmpl-abc -> msg_abc), else a new one.
  if (auto dash = from.find('-'); dash != std::string_view::npos && dash + 1 < from.size()) {
    return "msg_" + std::string(from.substr(dash + 1));
  }
  return "msg_" + core::new_request_id().substr(0, 24);
}

void event(std::string& out, std::string_view name, const json::object& data) {
  out += "event: ";
  out += name;
  out += "\ndata: ";
  core::append_json(out, data);
  out += "\n\n";
}

}  // namespace

core::Result<json::object> to_chat_request(const json::object& in) {
  json::object out;
  const json::value* model = in.if_contains("model");
  if (!model || !model->is_string() || model->get_string().empty()) return bad("model", "is required (a string)");
  out["model"] = model->get_string();
  const json::value* max_tokens = in.if_contains("max_tokens");
  if (!max_tokens || !(max_tokens->is_int64() || max_tokens->is_uint64())) {
    return bad("max_tokens", "is required (an integer)");
  }
  if (max_tokens->is_int64() && max_tokens->get_int64() < 1) return bad("max_tokens", "must be at least 1");
  out["max_tokens"] = *max_tokens;
  json::array messages;
  if (const json::value* system = in.if_contains("system"); system && !system->is_null()) {
    auto text = user_content(*system, "system", nullptr, nullptr);
    if (!text) return std::move(text).error();
    messages.push_back(json::object{{"role", "system"}, {"content", std::move(*text)}});
  }
  const json::value* msgs = in.if_contains("messages");
  if (!msgs || !msgs->is_array() || msgs->get_array().empty()) return bad("messages", "must be a non-empty array");
  const auto& list = msgs->get_array();
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string at = "messages[" + std::to_string(i) + "]";
    const auto* m = list[i].if_object();
    if (!m) return wrong_type(at, "an object");
    const json::value* role = m->if_contains("role");
    if (!role || !role->is_string() || (role->get_string() != "user" && role->get_string() != "assistant")) {
      return bad(at + ".role", "must be \"user\" or \"assistant\"");
    }
    const json::value* content = m->if_contains("content");
    if (!content) return bad(at + ".content", "is required");
    if (role->get_string() == "user") {
      json::array tool_results;
      auto c = user_content(*content, at + ".content", &tool_results, nullptr);
      if (!c) return std::move(c).error();
      for (auto& r : tool_results) messages.push_back(std::move(r));  // answers to the calls first
      if (!c->is_null()) messages.push_back(json::object{{"role", "user"}, {"content", std::move(*c)}});
    } else {
      json::array tool_uses;
      auto c = user_content(*content, at + ".content", nullptr, &tool_uses);
      if (!c) return std::move(c).error();
      json::object a{{"role", "assistant"}, {"content", c->is_array() ? json::value(nullptr) : std::move(*c)}};
      if (c->is_array()) {  // (assistant content is text only in OpenAI's format)
        std::string text;
        for (const auto& p : c->get_array()) {
          if (const auto* t = p.as_object().if_contains("text"); t && t->is_string()) text += std::string(t->get_string());
        }
        a["content"] = text;
      }
      if (!tool_uses.empty()) a["tool_calls"] = std::move(tool_uses);
      messages.push_back(std::move(a));
    }
  }
  out["messages"] = std::move(messages);
  if (auto st = inbound::copy_numbers(in, out, {"temperature", "top_p"}); !st) return std::move(st).error();
  if (const json::value* stop = in.if_contains("stop_sequences"); stop && !stop->is_null()) {
    if (!stop->is_array()) return wrong_type("stop_sequences", "an array of strings");
    out["stop"] = *stop;
  }
  if (auto st = inbound::copy_stream(in, out); !st) return std::move(st).error();
  if (const json::value* tools = in.if_contains("tools"); tools && !tools->is_null()) {
    if (!tools->is_array()) return wrong_type("tools", "an array");
    json::array fns;
    for (std::size_t i = 0; i < tools->get_array().size(); ++i) {
      const std::string at = "tools[" + std::to_string(i) + "]";
      const auto* t = tools->get_array()[i].if_object();
      const json::value* name = t ? t->if_contains("name") : nullptr;
      if (!name || !name->is_string()) return wrong_type(at + ".name", "a string");
      json::object fn{{"name", name->get_string()}};
      if (const json::value* d = t->if_contains("description"); d && d->is_string()) fn["description"] = *d;
      const json::value* schema = t->if_contains("input_schema");
      fn["parameters"] = schema && schema->is_object() ? *schema : json::value(json::object{{"type", "object"}});
      fns.push_back(json::object{{"type", "function"}, {"function", std::move(fn)}});
    }
    out["tools"] = std::move(fns);
  }
  if (const json::value* choice = in.if_contains("tool_choice"); choice && !choice->is_null()) {
    const auto* c = choice->if_object();
    const json::value* type = c ? c->if_contains("type") : nullptr;
    if (!type || !type->is_string()) return wrong_type("tool_choice.type", "a string");
    const std::string_view t = type->get_string();
    if (t == "auto") {
      out["tool_choice"] = "auto";
    } else if (t == "any") {
      out["tool_choice"] = "required";
    } else if (t == "none") {
      out["tool_choice"] = "none";
    } else if (t == "tool") {
      const json::value* name = c->if_contains("name");
      if (!name || !name->is_string()) return wrong_type("tool_choice.name", "a string");
      out["tool_choice"] = json::object{{"type", "function"}, {"function", json::object{{"name", name->get_string()}}}};
    } else {
      return bad("tool_choice.type", "must be \"auto\", \"any\", \"tool\" or \"none\"");
    }
    if (const json::value* p = c->if_contains("disable_parallel_tool_use"); p && p->is_bool() && p->get_bool()) {
      out["parallel_tool_calls"] = false;
    }
  }
  return out;
}

core::Result<std::string> to_message(std::string_view chat_completion, std::string_view model) {
  auto a = inbound::read_answer(chat_completion);
  if (!a) return std::move(a).error();
  json::array content;
  if (!a->text.empty()) content.push_back(json::object{{"type", "text"}, {"text", a->text}});
  for (const auto& call : a->tool_calls) {
    json::value input = json::object{};
    boost::system::error_code ec;
    json::value parsed = json::parse(call.arguments, ec);
    if (!ec && parsed.is_object()) input = std::move(parsed);
    content.push_back(json::object{{"type", "tool_use"},
                                   {"id", call.id.empty() ? std::string("toolu_0") : call.id},
                                   {"name", call.name},
                                   {"input", std::move(input)}});
  }
  json::object msg{{"id", message_id(a->id)},
                   {"type", "message"},
                   {"role", "assistant"},
                   {"model", model},
                   {"content", std::move(content)},
                   {"stop_reason", finish_to_stop(a->finish_reason)},
                   {"stop_sequence", nullptr},
                   {"usage", json::object{{"input_tokens", a->prompt_tokens}, {"output_tokens", a->completion_tokens}}}};
  return core::to_json(msg);
}

std::string error_body(const core::Error& e) {
  // Anthropic's error types by status (https://docs.anthropic.com/en/api/errors).
  const int s = e.status();
  const char* type = s == 400 || s == 413 || s == 422 ? "invalid_request_error"
                     : s == 401                         ? "authentication_error"
                     : s == 403                         ? "permission_error"
                     : s == 404                         ? "not_found_error"
                     : s == 429                         ? "rate_limit_error"
                     : s == 503 || s == 529             ? "overloaded_error"
                     : s == 504                         ? "timeout_error"
                                                        : "api_error";
  if (s == 413) type = "request_too_large";
  return core::to_json(json::object{{"type", "error"}, {"error", json::object{{"type", type}, {"message", e.message}}}});
}

void StreamTranslator::start(std::string& out, std::string_view id) {
  started_ = true;
  event(out, "message_start",
        json::object{{"type", "message_start"},
                     {"message", json::object{{"id", message_id(id)},
                                              {"type", "message"},
                                              {"role", "assistant"},
                                              {"model", model_},
                                              {"content", json::array{}},
                                              {"stop_reason", nullptr},
                                              {"stop_sequence", nullptr},
                                              {"usage", json::object{{"input_tokens", 0}, {"output_tokens", 0}}}}}});
}

void StreamTranslator::open(std::string& out, const json::object& block) {
  close(out);
  ++index_;
  open_ = true;
  event(out, "content_block_start", json::object{{"type", "content_block_start"}, {"index", index_}, {"content_block", block}});
}

void StreamTranslator::close(std::string& out) {
  if (!open_) return;
  open_ = false;
  event(out, "content_block_stop", json::object{{"type", "content_block_stop"}, {"index", index_}});
}

void StreamTranslator::chunk(std::string_view text, std::string& out) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  const auto* o = v.if_object();
  if (ec || !o) return;
  const json::value* id = o->if_contains("id");
  if (!started_) start(out, id && id->is_string() ? std::string_view(id->get_string()) : std::string_view());
  inbound::read_usage(*o, input_tokens_, output_tokens_);
  const json::object* choice = inbound::first_choice(*o);
  if (!choice) return;
  if (const json::value* delta = choice->if_contains("delta"); delta && delta->is_object()) {
    const auto& d = delta->get_object();
    if (const json::value* c = d.if_contains("content"); c && c->is_string() && !c->get_string().empty()) {
      if (!open_ || tool_call_ != -1) {
        open(out, json::object{{"type", "text"}, {"text", ""}});
        tool_call_ = -1;
      }
      event(out, "content_block_delta",
            json::object{{"type", "content_block_delta"},
                         {"index", index_},
                         {"delta", json::object{{"type", "text_delta"}, {"text", c->get_string()}}}});
    }
    if (const json::value* calls = d.if_contains("tool_calls"); calls && calls->is_array()) {
      for (const auto& call : calls->get_array()) {
        const auto* c = call.if_object();
        if (!c) continue;
        const json::value* idx = c->if_contains("index");
        const int n = idx && idx->is_int64() ? static_cast<int>(idx->get_int64()) : 0;
        const auto* f = c->if_contains("function") ? c->at("function").if_object() : nullptr;
        if (!open_ || n != tool_call_) {
          const json::value* cid = c->if_contains("id");
          const json::value* name = f ? f->if_contains("name") : nullptr;
          open(out, json::object{{"type", "tool_use"},
                                 {"id", cid && cid->is_string() ? json::value(cid->get_string()) : json::value("toolu_" + std::to_string(n))},
                                 {"name", name && name->is_string() ? json::value(name->get_string()) : json::value("")},
                                 {"input", json::object{}}});
          tool_call_ = n;
        }
        const json::value* args = f ? f->if_contains("arguments") : nullptr;
        if (args && args->is_string() && !args->get_string().empty()) {
          event(out, "content_block_delta",
                json::object{{"type", "content_block_delta"},
                             {"index", index_},
                             {"delta", json::object{{"type", "input_json_delta"}, {"partial_json", args->get_string()}}}});
        }
      }
    }
  }
  if (const json::value* f = choice->if_contains("finish_reason"); f && f->is_string()) {
    stop_reason_ = finish_to_stop(f->get_string());
  }
}

void StreamTranslator::finish(std::string& out) {
  if (!started_) start(out, {});
  close(out);
  event(out, "message_delta",
        json::object{{"type", "message_delta"},
                     {"delta", json::object{{"stop_reason", stop_reason_}, {"stop_sequence", nullptr}}},
                     {"usage", json::object{{"input_tokens", input_tokens_}, {"output_tokens", output_tokens_}}}});
  event(out, "message_stop", json::object{{"type", "message_stop"}});
}

}  // namespace sb::gateway::anthropic_inbound
