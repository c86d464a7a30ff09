#include "gateway/responses_inbound.hpp"

#include <boost/json/parse.hpp>

#include <chrono>

#include "core/ids.hpp"
#include "core/json_text.hpp"
#include "gateway/inbound_common.hpp"

namespace sb::gateway::responses_inbound {

namespace json = boost::json;
using core::Error;
using core::ErrorKind;

namespace {

using inbound::wrong_type;
const auto& bad = inbound::bad_field;

std::string new_id(std::string_view prefix) { return std::string(prefix) + core::new_request_id().substr(0, 24); }

long long now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A message item's content (a string or input_text / input_image / output_text parts) -> chat
// content (a string, or parts when there is an image).
core::Result<json::value> content_of(const json::value& content, const std::string& where) {
  if (content.is_string()) return json::value(content.get_string());
  if (!content.is_array()) return wrong_type(where, "a string or an array of content parts");
  json::array parts;
  std::string text;
  bool image = false;
  const auto& list = content.get_array();
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    const auto* p = list[i].if_object();
    const json::value* type = p ? p->if_contains("type") : nullptr;
    if (!type || !type->is_string()) return wrong_type(at + ".type", "a string");
    const std::string_view t = type->get_string();
    if (t == "input_text" || t == "output_text" || t == "text") {
      const json::value* s = p->if_contains("text");
      if (!s || !s->is_string()) return wrong_type(at + ".text", "a string");
      text += std::string(s->get_string());
      parts.push_back(json::object{{"type", "text"}, {"text", s->get_string()}});
    } else if (t == "input_image") {
      const json::value* url = p->if_contains("image_url");
      if (!url || !url->is_string()) return wrong_type(at + ".image_url", "a string (a URL or data: URL)");
      image = true;
      parts.push_back(json::object{{"type", "image_url"}, {"image_url", json::object{{"url", url->get_string()}}}});
    } else {
      return bad(at + ".type", "is not a content part this endpoint reads (input_text, input_image, output_text)");
    }
  }
  if (!image) return json::value(text);
  return json::value(std::move(parts));
}

}  // namespace

core::Result<json::object> to_chat_request(const json::object& in) {
  json::object out;
  const json::value* model = in.if_contains("model");
  if (!model || !model->is_string() || model->get_string().empty()) return bad("model", "is required (a string)");
  out["model"] = model->get_string();
  if (const json::value* prev = in.if_contains("previous_response_id"); prev && !prev->is_null()) {
    return bad("previous_response_id", "is not supported: responses are not stored; send the whole conversation in 'input'");
  }
  json::array messages;
  if (const json::value* ins = in.if_contains("instructions"); ins && !ins->is_null()) {
    if (!ins->is_string()) return wrong_type("instructions", "a string");
    messages.push_back(json::object{{"role", "system"}, {"content", ins->get_string()}});
  }
  const json::value* input = in.if_contains("input");
  if (!input || input->is_null()) return bad("input", "is required (a string or an array of items)");
  if (input->is_string()) {
    messages.push_back(json::object{{"role", "user"}, {"content", input->get_string()}});
  } else if (input->is_array()) {
    const auto& items = input->get_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
      const std::string at = "input[" + std::to_string(i) + "]";
      const auto* it = items[i].if_object();
      if (!it) return wrong_type(at, "an object");
      const json::value* type = it->if_contains("type");
      const std::string_view t = type && type->is_string() ? std::string_view(type->get_string()) : "message";
      if (t == "message") {
        const json::value* role = it->if_contains("role");
        if (!role || !role->is_string()) return wrong_type(at + ".role", "a string");
        std::string r(role->get_string());
        if (r == "developer") r = "system";
        if (r != "user" && r != "assistant" && r != "system") {
          return bad(at + ".role", "must be \"user\", \"assistant\", \"system\" or \"developer\"");
        }
        const json::value* content = it->if_contains("content");
        if (!content) return bad(at + ".content", "is required");
        auto c = content_of(*content, at + ".content");
        if (!c) return std::move(c).error();
        // Consecutive assistant text and function calls are one chat message.
        messages.push_back(json::object{{"role", r}, {"content", std::move(*c)}});
      } else if (t == "function_call") {
        const json::value* call_id = it->if_contains("call_id");
        const json::value* name = it->if_contains("name");
        const json::value* args = it->if_contains("arguments");
        if (!call_id || !call_id->is_string()) return wrong_type(at + ".call_id", "a string");
        if (!name || !name->is_string()) return wrong_type(at + ".name", "a string");
        if (!args || !args->is_string()) return wrong_type(at + ".arguments", "a string (JSON)");
        json::object call{{"id", call_id->get_string()},
                          {"type", "function"},
                          {"function", json::object{{"name", name->get_string()}, {"arguments", args->get_string()}}}};
        json::object* last = messages.empty() ? nullptr : &messages.back().as_object();
        if (last && last->at("role") == "assistant") {
          if (!last->contains("tool_calls")) (*last)["tool_calls"] = json::array{};
          (*last)["tool_calls"].as_array().push_back(std::move(call));
        } else {
          messages.push_back(json::object{{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array{std::move(call)}}});
        }
      } else if (t == "function_call_output") {
        const json::value* call_id = it->if_contains("call_id");
        const json::value* output = it->if_contains("output");
        if (!call_id || !call_id->is_string()) return wrong_type(at + ".call_id", "a string");
        if (!output || !output->is_string()) return wrong_type(at + ".output", "a string");
        messages.push_back(json::object{{"role", "tool"}, {"tool_call_id", call_id->get_string()}, {"content", output->get_string()}});
      } else {
        return bad(at + ".type", "is not an input item this endpoint reads (message, function_call, function_call_output)");
      }
    }
  } else {
    return wrong_type("input", "a string or an array of items");
  }
  if (messages.empty()) return bad("input", "must not be empty");
  out["messages"] = std::move(messages);
  if (const json::value* m = in.if_contains("max_output_tokens"); m && !m->is_null()) {
    if (!m->is_int64() && !m->is_uint64()) return wrong_type("max_output_tokens", "an integer");
    out["max_tokens"] = *m;
  }
  if (auto st = inbound::copy_numbers(in, out, {"temperature", "top_p"}); !st) return std::move(st).error();
  for (const char* name : {"parallel_tool_calls"}) {
    if (const json::value* v = in.if_contains(name); v && v->is_bool()) out[name] = *v;
  }
  if (const json::value* u = in.if_contains("user"); u && u->is_string()) out["user"] = *u;
  if (auto st = inbound::copy_stream(in, out); !st) return std::move(st).error();
  if (const json::value* tools = in.if_contains("tools"); tools && !tools->is_null()) {
    if (!tools->is_array()) return wrong_type("tools", "an array");
    json::array fns;
    for (std::size_t i = 0; i < tools->get_array().size(); ++i) {
      const std::string at = "tools[" + std::to_string(i) + "]";
      const auto* t = tools->get_array()[i].if_object();
      const json::value* type = t ? t->if_contains("type") : nullptr;
      if (!type || !type->is_string() || type->get_string() != "function") {
        return bad(at + ".type", "must be \"function\" (built-in tools are not available through this endpoint)");
      }
      const json::value* name = t->if_contains("name");
      if (!name || !name->is_string()) return wrong_type(at + ".name", "a string");
      json::object fn{{"name", name->get_string()}};
      if (const json::value* d = t->if_contains("description"); d && d->is_string()) fn["description"] = *d;
      if (const json::value* p = t->if_contains("parameters"); p && p->is_object()) fn["parameters"] = *p;
      if (const json::value* s = t->if_contains("strict"); s && s->is_bool()) fn["strict"] = *s;
      fns.push_back(json::object{{"type", "function"}, {"function", std::move(fn)}});
    }
    out["tools"] = std::move(fns);
  }
  if (const json::value* choice = in.if_contains("tool_choice"); choice && !choice->is_null()) {
    if (choice->is_string()) {
      out["tool_choice"] = *choice;
    } else if (const auto* c = choice->if_object(); c && c->contains("name") && c->at("name").is_string()) {
      out["tool_choice"] = json::object{{"type", "function"}, {"function", json::object{{"name", c->at("name")}}}};
    } else {
      return wrong_type("tool_choice", "\"auto\", \"none\", \"required\" or {\"type\":\"function\",\"name\":...}");
    }
  }
  return out;
}

core::Result<std::string> to_response(std::string_view chat_completion, std::string_view model) {
  auto a = inbound::read_answer(chat_completion);
  if (!a) return std::move(a).error();
  json::array output;
  if (!a->text.empty()) {
    output.push_back(json::object{
        {"type", "message"},
        {"id", new_id("msg_")},
        {"status", "completed"},
        {"role", "assistant"},
        {"content", json::array{json::object{{"type", "output_text"}, {"text", a->text}, {"annotations", json::array{}}}}}});
  }
  for (const auto& call : a->tool_calls) {
    output.push_back(json::object{{"type", "function_call"},
                                  {"id", new_id("fc_")},
                                  {"call_id", call.id.empty() ? new_id("call_") : call.id},
                                  {"name", call.name},
                                  {"arguments", call.arguments.empty() ? std::string("{}") : call.arguments},
                                  {"status", "completed"}});
  }
  const bool truncated = a->finish_reason == "length";
  const long long in_tokens = a->prompt_tokens, out_tokens = a->completion_tokens;
  json::object r{{"id", new_id("resp_")},
                 {"object", "response"},
                 {"created_at", now_s()},
                 {"status", truncated ? "incomplete" : "completed"},
                 {"incomplete_details", truncated ? json::value(json::object{{"reason", "max_output_tokens"}}) : json::value(nullptr)},
                 {"error", nullptr},
                 {"model", model},
                 {"output", std::move(output)},
                 {"parallel_tool_calls", true},
                 {"tool_choice", "auto"},
                 {"tools", json::array{}},
                 {"usage", json::object{{"input_tokens", in_tokens},
                                        {"output_tokens", out_tokens},
                                        {"total_tokens", in_tokens + out_tokens}}}};
  return core::to_json(r);
}

StreamTranslator::StreamTranslator(std::string model)
    : model_(std::move(model)), id_(new_id("resp_")), created_(now_s()) {}

void StreamTranslator::event(std::string& out, std::string_view type, json::object data) {
  data["type"] = type;
  data["sequence_number"] = sequence_++;
  out += "event: ";
  out += type;
  out += "\ndata: ";
  core::append_json(out, data);
  out += "\n\n";
}

json::object StreamTranslator::response_object(std::string_view status) const {
  json::array output;
  for (const auto& it : items_) output.push_back(item_object(it, true));
  json::object r{{"id", id_}, {"object", "response"}, {"created_at", created_}, {"status", status},
                 {"error", nullptr}, {"incomplete_details", nullptr}, {"model", model_},
                 {"output", status == "in_progress" ? json::array{} : std::move(output)},
                 {"parallel_tool_calls", true}, {"tool_choice", "auto"}, {"tools", json::array{}}};
  if (status != "in_progress") {
    r["usage"] = json::object{{"input_tokens", input_tokens_},
                              {"output_tokens", output_tokens_},
                              {"total_tokens", input_tokens_ + output_tokens_}};
    if (status == "incomplete") r["incomplete_details"] = json::object{{"reason", "max_output_tokens"}};
  }
  return r;
}

json::object StreamTranslator::item_object(const Item& it, bool done) const {
  if (it.type == "message") {
    json::array content;
    if (done) content.push_back(json::object{{"type", "output_text"}, {"text", it.text}, {"annotations", json::array{}}});
    return json::object{{"type", "message"}, {"id", it.id}, {"status", done ? "completed" : "in_progress"},
                        {"role", "assistant"}, {"content", std::move(content)}};
  }
  return json::object{{"type", "function_call"}, {"id", it.id}, {"call_id", it.call_id}, {"name", it.name},
                      {"arguments", done ? it.text : std::string()}, {"status", done ? "completed" : "in_progress"}};
}

void StreamTranslator::open(std::string& out, Item item) {
  close(out);
  items_.push_back(std::move(item));
  open_ = true;
  const auto index = static_cast<long long>(items_.size() - 1);
  event(out, "response.output_item.added", json::object{{"output_index", index}, {"item", item_object(items_.back(), false)}});
  if (items_.back().type == "message") {
    event(out, "response.content_part.added",
          json::object{{"item_id", items_.back().id}, {"output_index", index}, {"content_index", 0},
                       {"part", json::object{{"type", "output_text"}, {"text", ""}, {"annotations", json::array{}}}}});
  }
}

void StreamTranslator::close(std::string& out) {
  if (!open_) return;
  open_ = false;
  const auto& it = items_.back();
  const auto index = static_cast<long long>(items_.size() - 1);
  if (it.type == "message") {
    event(out, "response.output_text.done",
          json::object{{"item_id", it.id}, {"output_index", index}, {"content_index", 0}, {"text", it.text}});
    event(out, "response.content_part.done",
          json::object{{"item_id", it.id}, {"output_index", index}, {"content_index", 0},
                       {"part", json::object{{"type", "output_text"}, {"text", it.text}, {"annotations", json::array{}}}}});
  } else {
    event(out, "response.function_call_arguments.done",
          json::object{{"item_id", it.id}, {"output_index", index}, {"arguments", it.text}});
  }
  event(out, "response.output_item.done", json::object{{"output_index", index}, {"item", item_object(it, true)}});
}

void StreamTranslator::chunk(std::string_view text, std::string& out) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  const auto* o = v.if_object();
  if (ec || !o) return;
  if (!started_) {
    started_ = true;
    event(out, "response.created", json::object{{"response", response_object("in_progress")}});
    event(out, "response.in_progress", json::object{{"response", response_object("in_progress")}});
  }
  inbound::read_usage(*o, input_tokens_, output_tokens_);
  const json::object* choice = inbound::first_choice(*o);
  if (!choice) return;
  if (const json::value* delta = choice->if_contains("delta"); delta && delta->is_object()) {
    const auto& d = delta->get_object();
    if (const json::value* c = d.if_contains("content"); c && c->is_string() && !c->get_string().empty()) {
      if (!open_ || items_.back().type != "message") open(out, Item{"message", new_id("msg_"), "", "", "", -1});
      items_.back().text += std::string(c->get_string());
      event(out, "response.output_text.delta",
            json::object{{"item_id", items_.back().id}, {"output_index", static_cast<long long>(items_.size() - 1)},
                         {"content_index", 0}, {"delta", c->get_string()}});
    }
    if (const json::value* calls = d.if_contains("tool_calls"); calls && calls->is_array()) {
      for (const auto& call : calls->get_array()) {
        const auto* c = call.if_object();
        if (!c) continue;
        const json::value* idx = c->if_contains("index");
        const int n = idx && idx->is_int64() ? static_cast<int>(idx->get_int64()) : 0;
        const auto* f = c->contains("function") ? c->at("function").if_object() : nullptr;
        if (!open_ || items_.back().type != "function_call" || items_.back().tool_index != n) {
          const json::value* cid = c->if_contains("id");
          const json::value* name = f ? f->if_contains("name") : nullptr;
          open(out, Item{"function_call", new_id("fc_"),
                         cid && cid->is_string() ? std::string(cid->get_string()) : new_id("call_"),
                         name && name->is_string() ? std::string(name->get_string()) : std::string(), "", n});
        }
        const json::value* args = f ? f->if_contains("arguments") : nullptr;
        if (args && args->is_string() && !args->get_string().empty()) {
          items_.back().text += std::string(args->get_string());
          event(out, "response.function_call_arguments.delta",
                json::object{{"item_id", items_.back().id}, {"output_index", static_cast<long long>(items_.size() - 1)},
                             {"delta", args->get_string()}});
        }
      }
    }
  }
  if (const json::value* f = choice->if_contains("finish_reason"); f && f->is_string()) finish_ = std::string(f->get_string());
}

void StreamTranslator::finish(std::string& out) {
  if (!started_) {
    started_ = true;
    event(out, "response.created", json::object{{"response", response_object("in_progress")}});
  }
  close(out);
  const bool truncated = finish_ == "length";
  event(out, truncated ? "response.incomplete" : "response.completed",
        json::object{{"response", response_object(truncated ? "incomplete" : "completed")}});
}

}  // namespace sb::gateway::responses_inbound
