// OpenAI Chat Completions <-> Anthropic Messages API (POST /v1/messages, anthropic-version
// 2023-06-01): top-level `system`, required `max_tokens`, content blocks (text, image,
// tool_use, tool_result), tools with `input_schema`, `tool_choice` auto/any/tool/none, JSON
// output through a forced tool, and the streaming events message_start, content_block_start,
// content_block_delta (text_delta, input_json_delta), content_block_stop, message_delta,
// message_stop, ping and error.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <map>

#include "gateway/translate.hpp"
#include "core/json_text.hpp"

namespace sb::gateway::anthropic {
namespace {

namespace json = boost::json;
using core::Error;
using core::ErrorKind;
using namespace translate_detail;

std::string finish_reason(std::string_view stop_reason, bool json_mode) {
  if (stop_reason == "max_tokens") return "length";
  if (stop_reason == "tool_use") return json_mode ? "stop" : "tool_calls";
  if (stop_reason == "refusal") return "content_filter";
  return "stop";  // end_turn, stop_sequence, pause_turn
}

core::Result<json::array> user_blocks(const json::value& content, const std::string& param) {
  json::array blocks;
  if (content.is_string()) {
    blocks.push_back(json::object{{"type", "text"}, {"text", content.get_string()}});
    return blocks;
  }
  if (!content.is_array()) return bad("'" + param + "' must be a string or an array of parts", param);
  const auto& parts = content.get_array();
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::string p = param + "[" + std::to_string(i) + "]";
    const auto* part = parts[i].if_object();
    if (!part) return bad("'" + p + "' must be an object", p);
    std::string type = str(*part, "type");
    if (type == "text") {
      const auto* text = part->if_contains("text");
      if (!text || !text->is_string()) return bad("'" + p + ".text' must be a string", p + ".text");
      blocks.push_back(json::object{{"type", "text"}, {"text", text->get_string()}});
    } else if (type == "image_url") {
      auto url = image_url(*part, p);
      if (!url) return std::move(url).error();
      std::string media, data;
      if (parse_data_url(*url, media, data)) {
        blocks.push_back(json::object{
            {"type", "image"},
            {"source", json::object{{"type", "base64"}, {"media_type", media}, {"data", data}}}});
      } else {
        blocks.push_back(json::object{{"type", "image"}, {"source", json::object{{"type", "url"}, {"url", *url}}}});
      }
    } else {
      return bad("content part type '" + type + "' is not supported by Anthropic", p + ".type");
    }
  }
  return blocks;
}

// Tool results travel in user turns; consecutive same-role turns are merged.
void push(json::array& messages, std::string_view role, json::array blocks) {
  append_turn(messages, role, "content", std::move(blocks));
}

}  // namespace

core::Result<json::object> request(const json::object& openai, const std::string& model, bool stream) {
  json::object out;
  out["model"] = model;
  std::string system;
  json::array messages;
  const auto& msgs = openai.at("messages").as_array();
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const std::string p = "messages[" + std::to_string(i) + "]";
    const auto& m = msgs[i].as_object();
    std::string role = str(m, "role");
    const json::value* content = m.if_contains("content");
    if (role == "system" || role == "developer") {
      if (!system.empty()) system += "\n\n";
      if (content) {
        auto text = content_text(*content, p + ".content");
        if (!text) return std::move(text).error();
        system += *text;
      }
    } else if (role == "user") {
      if (!content) return bad("'" + p + ".content' is required", p + ".content");
      auto blocks = user_blocks(*content, p + ".content");
      if (!blocks) return std::move(blocks).error();
      push(messages, "user", std::move(*blocks));
    } else if (role == "assistant") {
      json::array blocks;
      auto said = content ? content_text(*content, p + ".content") : core::Result<std::string>(std::string());
      if (!said) return std::move(said).error();
      const std::string text = std::move(*said);
      if (!text.empty()) blocks.push_back(json::object{{"type", "text"}, {"text", text}});
      auto calls = tool_calls(m, p);
      if (!calls) return std::move(calls).error();
      for (auto& c : *calls) {
        blocks.push_back(json::object{{"type", "tool_use"}, {"id", c.id}, {"name", c.name}, {"input", std::move(c.arguments)}});
      }
      if (blocks.empty()) continue;  // nothing the API would accept
      push(messages, "assistant", std::move(blocks));
    } else if (role == "tool") {
      auto said = content ? content_text(*content, p + ".content") : core::Result<std::string>(std::string());
      if (!said) return std::move(said).error();
      json::array blocks{json::object{{"type", "tool_result"},
                                      {"tool_use_id", str(m, "tool_call_id")},
                                      {"content", std::move(*said)}}};
      push(messages, "user", std::move(blocks));
    } else {
      return bad("role '" + role + "' is not supported by Anthropic", p + ".role");
    }
  }
  if (!system.empty()) out["system"] = system;
  out["messages"] = std::move(messages);

  long long max_tokens = 4096;
  for (const char* k : {"max_tokens", "max_completion_tokens"}) {
    if (const auto* v = openai.if_contains(k); v && !v->is_null()) {
      if (!v->is_int64() || v->get_int64() < 1) return bad(std::string("'") + k + "' must be a positive integer", k);
      max_tokens = v->get_int64();
    }
  }
  out["max_tokens"] = max_tokens;
  if (const auto* n = openai.if_contains("n"); n && n->is_int64() && n->get_int64() > 1) {
    return bad("Anthropic returns one choice per request: 'n' must be 1", "n");
  }
  for (const char* k : {"temperature", "top_p"}) {
    if (const auto* v = openai.if_contains(k); v && v->is_number()) out[k] = *v;
  }
  if (const auto* stop = openai.if_contains("stop"); stop && !stop->is_null()) {
    if (stop->is_string()) {
      out["stop_sequences"] = json::array{stop->get_string()};
    } else if (stop->is_array() && std::all_of(stop->get_array().begin(), stop->get_array().end(),
                                               [](const json::value& v) { return v.is_string(); })) {
      out["stop_sequences"] = *stop;
    } else {
      return bad("'stop' must be a string or an array of strings", "stop");
    }
  }
  if (const auto* user = openai.if_contains("user"); user && user->is_string()) {
    out["metadata"] = json::object{{"user_id", user->get_string()}};
  }

  json::array tools;
  if (const auto* t = openai.if_contains("tools"); t && !t->is_null() && !t->is_array()) {
    return bad("'tools' must be an array", "tools");
  }
  if (const auto* t = openai.if_contains("tools"); t && t->is_array()) {
    for (std::size_t i = 0; i < t->get_array().size(); ++i) {
      std::string p = "tools[" + std::to_string(i) + "]";
      const auto* tool = t->get_array()[i].if_object();
      const auto* fn = tool ? tool->if_contains("function") : nullptr;
      if (!fn || !fn->is_object()) return bad("'" + p + ".function' is required", p + ".function");
      const auto& f = fn->get_object();
      const auto* name = f.if_contains("name");
      if (!name || !name->is_string() || name->get_string().empty()) {
        return bad("'" + p + ".function.name' must be a non-empty string", p + ".function.name");
      }
      json::object at{{"name", name->get_string()}};
      if (const auto* d = f.if_contains("description"); d && !d->is_null()) {
        if (!d->is_string()) return bad("'" + p + ".function.description' must be a string", p + ".function.description");
        at["description"] = *d;
      }
      const auto* params = f.if_contains("parameters");
      if (params && !params->is_null() && !params->is_object()) {
        return bad("'" + p + ".function.parameters' must be a JSON schema object", p + ".function.parameters");
      }
      at["input_schema"] = params && params->is_object() ? *params
                                                         : json::value(json::object{{"type", "object"}, {"properties", json::object{}}});
      tools.push_back(std::move(at));
    }
  }
  json::object choice;
  if (const auto* tc = openai.if_contains("tool_choice"); tc && !tc->is_null()) {
    if (tc->is_string() && tc->get_string() == "auto") {
      choice = {{"type", "auto"}};
    } else if (tc->is_string() && tc->get_string() == "required") {
      choice = {{"type", "any"}};
    } else if (tc->is_string() && tc->get_string() == "none") {
      choice = {{"type", "none"}};
    } else if (const auto* fn = tc->is_object() ? tc->get_object().if_contains("function") : nullptr;
               fn && fn->is_object() && fn->get_object().if_contains("name") &&
               fn->get_object().at("name").is_string()) {
      choice = {{"type", "tool"}, {"name", fn->get_object().at("name").get_string()}};
    } else {
      return bad("'tool_choice' must be auto, required, none or {type: function, function: {name}}", "tool_choice");
    }
  }
  // JSON output: a tool whose input is the answer, forced.
  TranslateContext ctx = translate_context(openai, model, 0, "");
  if (!ctx.json_tool.empty()) {
    const auto& rf = openai.at("response_format").as_object();
    json::value schema = json::object{{"type", "object"}};
    std::string description = "Respond with a JSON object.";
    if (const auto* js = rf.if_contains("json_schema"); js && js->is_object()) {
      if (const auto* s = js->get_object().if_contains("schema"); s && s->is_object()) schema = *s;
      if (const auto* d = js->get_object().if_contains("description"); d && d->is_string()) description = std::string(d->get_string());
    }
    tools.push_back(json::object{{"name", ctx.json_tool}, {"description", description}, {"input_schema", std::move(schema)}});
    choice = {{"type", "tool"}, {"name", ctx.json_tool}};
  }
  if (const auto* ptc = openai.if_contains("parallel_tool_calls"); ptc && ptc->is_bool() && !ptc->get_bool() && !tools.empty()) {
    if (choice.empty()) choice = {{"type", "auto"}};
    if (choice["type"] != "none") choice["disable_parallel_tool_use"] = true;
  }
  if (!tools.empty()) out["tools"] = std::move(tools);
  if (!choice.empty()) out["tool_choice"] = std::move(choice);
  if (stream) out["stream"] = true;
  return out;
}

namespace {

json::object usage_of(const json::object* usage, long long& prompt, long long& completion) {
  auto num = [&](const char* k) -> long long {
    const auto* v = usage ? usage->if_contains(k) : nullptr;
    return v && v->is_int64() ? v->get_int64() : 0;
  };
  prompt = num("input_tokens") + num("cache_creation_input_tokens") + num("cache_read_input_tokens");
  completion = num("output_tokens");
  return {{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
}

Error upstream_bad(const std::string& what) {
  return Error(ErrorKind::upstream_error, "upstream answered an unexpected Anthropic message: " + what, {}, "gateway");
}

}  // namespace

core::Result<json::object> response(const json::value& upstream, const TranslateContext& ctx) {
  const auto* o = upstream.if_object();
  const auto* content = o ? o->if_contains("content") : nullptr;
  if (!content || !content->is_array()) return upstream_bad("no content array");
  std::string text;
  json::array tool_calls;
  bool json_mode = false;
  for (const auto& b : content->get_array()) {
    const auto* block = b.if_object();
    if (!block) continue;
    std::string type = str(*block, "type");
    if (type == "text") {
      text += str(*block, "text");
    } else if (type == "tool_use") {
      const json::value* input = block->if_contains("input");
      std::string args = input ? core::to_json(*input) : "{}";
      if (!ctx.json_tool.empty() && str(*block, "name") == ctx.json_tool) {
        json_mode = true;
        text += args;
      } else {
        tool_calls.push_back(json::object{{"id", str(*block, "id")},
                                          {"type", "function"},
                                          {"function", json::object{{"name", str(*block, "name")}, {"arguments", args}}}});
      }
    }
  }
  json::object message{{"role", "assistant"}};
  message["content"] = text.empty() && !tool_calls.empty() ? json::value(nullptr) : json::value(json::string(text));
  message["refusal"] = nullptr;
  if (!tool_calls.empty()) message["tool_calls"] = std::move(tool_calls);
  long long prompt = 0, completion = 0;
  const auto* usage = o->if_contains("usage");
  json::object out;
  out["id"] = o->contains("id") ? str(*o, "id") : ctx.id;
  out["object"] = "chat.completion";
  out["created"] = ctx.created;
  out["model"] = o->contains("model") ? str(*o, "model") : ctx.model;
  out["choices"] = json::array{json::object{{"index", 0},
                                            {"message", std::move(message)},
                                            {"logprobs", nullptr},
                                            {"finish_reason", finish_reason(str(*o, "stop_reason"), json_mode)}}};
  out["usage"] = usage_of(usage && usage->is_object() ? &usage->get_object() : nullptr, prompt, completion);
  return out;
}

namespace {

class AnthropicStream final : public StreamTranslator {
 public:
  explicit AnthropicStream(TranslateContext ctx) : ctx_(std::move(ctx)) {}

  core::Status feed(std::string_view data, std::vector<std::string>& chunks) override {
    boost::system::error_code ec;
    json::value v = json::parse(data, ec);
    if (ec || !v.is_object()) return upstream_bad("an event that is not a JSON object");
    const auto& e = v.get_object();
    std::string type = str(e, "type");
    auto emit = [&](json::object delta, json::value finish = nullptr) {
      chunks.push_back(core::to_json(chunk(ctx_, std::move(delta), std::move(finish))));
    };
    if (type == "message_start") {
      const auto* m = e.if_contains("message");
      if (m && m->is_object()) {
        const auto& msg = m->get_object();
        if (msg.contains("id")) ctx_.id = str(msg, "id");
        if (msg.contains("model")) ctx_.model = str(msg, "model");
        const auto* u = msg.if_contains("usage");
        usage_of(u && u->is_object() ? &u->get_object() : nullptr, prompt_, completion_);
      }
      emit({{"role", "assistant"}, {"content", ""}});
    } else if (type == "content_block_start") {
      long long index = e.contains("index") && e.at("index").is_int64() ? e.at("index").get_int64() : -1;
      const auto* b = e.if_contains("content_block");
      if (!b || !b->is_object()) return upstream_bad("content_block_start without a block");
      const auto& block = b->get_object();
      std::string btype = str(block, "type");
      if (btype == "tool_use") {
        if (!ctx_.json_tool.empty() && str(block, "name") == ctx_.json_tool) {
          blocks_[index] = kJson;
          json_mode_ = true;
        } else {
          int k = next_tool_++;
          blocks_[index] = k;
          emit({{"tool_calls", json::array{json::object{
                    {"index", k},
                    {"id", str(block, "id")},
                    {"type", "function"},
                    {"function", json::object{{"name", str(block, "name")}, {"arguments", ""}}}}}}});
        }
      } else if (btype == "text") {
        blocks_[index] = kText;
        if (std::string t = str(block, "text"); !t.empty()) emit({{"content", t}});
      } else {
        blocks_[index] = kIgnored;  // thinking, server tools...
      }
    } else if (type == "content_block_delta") {
      long long index = e.contains("index") && e.at("index").is_int64() ? e.at("index").get_int64() : -1;
      const auto* d = e.if_contains("delta");
      if (!d || !d->is_object()) return upstream_bad("content_block_delta without a delta");
      const auto& delta = d->get_object();
      std::string dtype = str(delta, "type");
      auto it = blocks_.find(index);
      int kind = it == blocks_.end() ? kText : it->second;
      if (dtype == "text_delta") {
        emit({{"content", str(delta, "text")}});
      } else if (dtype == "input_json_delta") {
        std::string part = str(delta, "partial_json");
        if (part.empty()) return {};
        if (kind == kJson) {
          emit({{"content", part}});
        } else if (kind >= 0) {
          json::object call{{"index", kind}, {"function", json::object{{"arguments", part}}}};
          emit({{"tool_calls", json::array{std::move(call)}}});
        }
      }
    } else if (type == "message_delta") {
      const auto* d = e.if_contains("delta");
      std::string stop = d && d->is_object() ? str(d->get_object(), "stop_reason") : "";
      if (const auto* u = e.if_contains("usage"); u && u->is_object()) {
        const auto& usage = u->get_object();
        if (const auto* ot = usage.if_contains("output_tokens"); ot && ot->is_int64()) completion_ = ot->get_int64();
        if (const auto* it = usage.if_contains("input_tokens"); it && it->is_int64() && it->get_int64() > 0) {
          long long ignored = 0;
          long long c = completion_;
          usage_of(&usage, prompt_, ignored);
          completion_ = c;
        }
      }
      emit({}, json::string(finish_reason(stop, json_mode_)));
    } else if (type == "message_stop") {
      complete_ = true;
      if (ctx_.include_usage) {
        json::object last = chunk(ctx_, {}, nullptr);
        last["choices"] = json::array{};
        last["usage"] = json::object{{"prompt_tokens", prompt_}, {"completion_tokens", completion_}, {"total_tokens", prompt_ + completion_}};
        chunks.push_back(core::to_json(last));
      }
    } else if (type == "error") {
      const auto* err = e.if_contains("error");
      std::string etype = err && err->is_object() ? str(err->get_object(), "type") : "";
      std::string msg = err && err->is_object() ? str(err->get_object(), "message") : "";
      Error out(etype == "rate_limit_error" ? ErrorKind::rate_limited : ErrorKind::upstream_error,
                "upstream stream error (" + etype + "): " + msg, {}, "gateway");
      return out;
    }
    // ping, content_block_stop and unknown event types (the API may add some) yield nothing.
    return {};
  }

  bool complete() const override { return complete_; }

 private:
  static constexpr int kText = -1, kJson = -2, kIgnored = -3;
  TranslateContext ctx_;
  std::map<long long, int> blocks_;  // Anthropic block index -> tool index, or a kind above
  int next_tool_ = 0;
  bool json_mode_ = false;
  bool complete_ = false;
  long long prompt_ = 0, completion_ = 0;
};

}  // namespace

std::unique_ptr<StreamTranslator> stream_translator(TranslateContext ctx) {
  return std::make_unique<AnthropicStream>(std::move(ctx));
}

}  // namespace sb::gateway::anthropic
