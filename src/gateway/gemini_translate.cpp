// OpenAI Chat Completions <-> Google Gemini API (POST {base}/models/{model}:generateContent and
// :streamGenerateContent?alt=sse): `contents` with `parts` (text, inlineData, fileData,
// functionCall, functionResponse), `systemInstruction`, `generationConfig` (temperature, topP,
// maxOutputTokens, stopSequences, candidateCount, seed, responseMimeType, responseSchema),
// `tools[].functionDeclarations`, `toolConfig.functionCallingConfig`; answers with
// `candidates`, `finishReason` and `usageMetadata`. A stream is a sequence of partial
// GenerateContentResponse objects.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <map>
#include <set>

#include "gateway/translate.hpp"
#include "core/json_text.hpp"

namespace sb::gateway::gemini {
namespace {

namespace json = boost::json;
using core::Error;
using core::ErrorKind;
using namespace translate_detail;

// Gemini's Schema is an OpenAPI subset: keys it does not know (additionalProperties, $schema,
// strict...) are refused by the API, so they are dropped here.
json::value schema(const json::value& in) {
  static const std::set<std::string_view> kKeep = {
      "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
      "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
      "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum"};
  const auto* o = in.if_object();
  if (!o) return in;
  json::object out;
  for (const auto& [k, v] : *o) {
    if (!kKeep.count(k)) continue;
    if (k == "properties" && v.is_object()) {
      json::object props;
      for (const auto& [pk, pv] : v.get_object()) props[pk] = schema(pv);
      out[k] = std::move(props);
    } else if (k == "items") {
      out[k] = schema(v);
    } else if (k == "anyOf" && v.is_array()) {
      json::array alts;
      for (const auto& a : v.get_array()) alts.push_back(schema(a));
      out[k] = std::move(alts);
    } else {
      out[k] = v;
    }
  }
  return out;
}

std::string guess_mime(std::string_view url) {
  auto ends = [&](std::string_view ext) {
    return url.size() >= ext.size() && url.substr(url.size() - ext.size()) == ext;
  };
  if (ends(".png")) return "image/png";
  if (ends(".gif")) return "image/gif";
  if (ends(".webp")) return "image/webp";
  if (ends(".pdf")) return "application/pdf";
  return "image/jpeg";
}

core::Result<json::array> user_parts(const json::value& content, const std::string& param) {
  json::array parts;
  if (content.is_string()) {
    parts.push_back(json::object{{"text", content.get_string()}});
    return parts;
  }
  if (!content.is_array()) return bad("'" + param + "' must be a string or an array of parts", param);
  const auto& in = content.get_array();
  for (std::size_t i = 0; i < in.size(); ++i) {
    std::string p = param + "[" + std::to_string(i) + "]";
    const auto* part = in[i].if_object();
    if (!part) return bad("'" + p + "' must be an object", p);
    std::string type = str(*part, "type");
    if (type == "text") {
      parts.push_back(json::object{{"text", str(*part, "text")}});
    } else if (type == "image_url") {
      auto url = image_url(*part, p);
      if (!url) return std::move(url).error();
      std::string media, data;
      if (parse_data_url(*url, media, data)) {
        parts.push_back(json::object{{"inlineData", json::object{{"mimeType", media}, {"data", data}}}});
      } else {
        parts.push_back(json::object{{"fileData", json::object{{"mimeType", guess_mime(*url)}, {"fileUri", *url}}}});
      }
    } else {
      return bad("content part type '" + type + "' is not supported by Gemini", p + ".type");
    }
  }
  return parts;
}

void push(json::array& contents, std::string_view role, json::array parts) {
  append_turn(contents, role, "parts", std::move(parts));
}

}  // namespace

core::Result<json::object> request(const json::object& openai) {
  json::object out;
  std::string system;
  json::array contents;
  std::map<std::string, std::string> call_names;  // tool_call id -> function name
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
      auto parts = user_parts(*content, p + ".content");
      if (!parts) return std::move(parts).error();
      push(contents, "user", std::move(*parts));
    } else if (role == "assistant") {
      json::array parts;
      auto said = content ? content_text(*content, p + ".content") : core::Result<std::string>(std::string());
      if (!said) return std::move(said).error();
      const std::string text = std::move(*said);
      if (!text.empty()) parts.push_back(json::object{{"text", text}});
      auto calls = tool_calls(m, p);
      if (!calls) return std::move(calls).error();
      for (auto& c : *calls) {
        call_names[c.id] = c.name;
        parts.push_back(json::object{{"functionCall", json::object{{"name", c.name}, {"args", std::move(c.arguments)}}}});
      }
      if (parts.empty()) continue;
      push(contents, "model", std::move(parts));
    } else if (role == "tool") {
      std::string id = str(m, "tool_call_id");
      auto it = call_names.find(id);
      if (it == call_names.end()) {
        return bad("'" + p + ".tool_call_id' does not match a tool call of an earlier assistant message",
                   p + ".tool_call_id");
      }
      auto said = content ? content_text(*content, p + ".content") : core::Result<std::string>(std::string());
      if (!said) return std::move(said).error();
      const std::string text = std::move(*said);
      boost::system::error_code ec;
      json::value parsed = json::parse(text, ec);
      json::value response = !ec && parsed.is_object() ? parsed : json::value(json::object{{"content", text}});
      push(contents, "user",
           json::array{json::object{{"functionResponse", json::object{{"name", it->second}, {"response", std::move(response)}}}}});
    } else {
      return bad("role '" + role + "' is not supported by Gemini", p + ".role");
    }
  }
  out["contents"] = std::move(contents);
  if (!system.empty()) out["systemInstruction"] = json::object{{"parts", json::array{json::object{{"text", system}}}}};

  json::object gen;
  if (const auto* v = openai.if_contains("temperature"); v && v->is_number()) gen["temperature"] = *v;
  if (const auto* v = openai.if_contains("top_p"); v && v->is_number()) gen["topP"] = *v;
  for (const char* k : {"max_tokens", "max_completion_tokens"}) {
    if (const auto* v = openai.if_contains(k); v && !v->is_null()) {
      if (!v->is_int64() || v->get_int64() < 1) return bad(std::string("'") + k + "' must be a positive integer", k);
      gen["maxOutputTokens"] = v->get_int64();
    }
  }
  if (const auto* stop = openai.if_contains("stop"); stop && !stop->is_null()) {
    if (stop->is_string()) {
      gen["stopSequences"] = json::array{stop->get_string()};
    } else if (stop->is_array()) {
      gen["stopSequences"] = *stop;
    } else {
      return bad("'stop' must be a string or an array of strings", "stop");
    }
  }
  if (const auto* n = openai.if_contains("n"); n && n->is_int64() && n->get_int64() != 1) gen["candidateCount"] = *n;
  if (const auto* s = openai.if_contains("seed"); s && s->is_int64()) gen["seed"] = *s;
  if (const auto* v = openai.if_contains("presence_penalty"); v && v->is_number()) gen["presencePenalty"] = *v;
  if (const auto* v = openai.if_contains("frequency_penalty"); v && v->is_number()) gen["frequencyPenalty"] = *v;
  if (const auto* rf = openai.if_contains("response_format"); rf && rf->is_object()) {
    std::string type = str(rf->get_object(), "type");
    if (type == "json_object" || type == "json_schema") gen["responseMimeType"] = "application/json";
    if (const auto* js = rf->get_object().if_contains("json_schema"); type == "json_schema" && js && js->is_object()) {
      if (const auto* s = js->get_object().if_contains("schema"); s && s->is_object()) gen["responseSchema"] = schema(*s);
    }
  }
  if (!gen.empty()) out["generationConfig"] = std::move(gen);

  if (const auto* t = openai.if_contains("tools"); t && t->is_array() && !t->get_array().empty()) {
    json::array decls;
    for (std::size_t i = 0; i < t->get_array().size(); ++i) {
      std::string p = "tools[" + std::to_string(i) + "]";
      const auto* tool = t->get_array()[i].if_object();
      const auto* fn = tool ? tool->if_contains("function") : nullptr;
      if (!fn || !fn->is_object()) return bad("'" + p + ".function' is required", p + ".function");
      const auto& f = fn->get_object();
      json::object d{{"name", str(f, "name")}};
      if (f.contains("description")) d["description"] = f.at("description");
      if (const auto* params = f.if_contains("parameters"); params && params->is_object()) d["parameters"] = schema(*params);
      decls.push_back(std::move(d));
    }
    out["tools"] = json::array{json::object{{"functionDeclarations", std::move(decls)}}};
  }
  if (const auto* tc = openai.if_contains("tool_choice"); tc && !tc->is_null()) {
    json::object cfg;
    if (tc->is_string() && tc->get_string() == "auto") {
      cfg = {{"mode", "AUTO"}};
    } else if (tc->is_string() && tc->get_string() == "required") {
      cfg = {{"mode", "ANY"}};
    } else if (tc->is_string() && tc->get_string() == "none") {
      cfg = {{"mode", "NONE"}};
    } else if (tc->is_object() && tc->get_object().if_contains("function")) {
      cfg = {{"mode", "ANY"},
             {"allowedFunctionNames", json::array{json::string(str(tc->get_object().at("function").as_object(), "name"))}}};
    } else {
      return bad("'tool_choice' must be auto, required, none or {type: function, function: {name}}", "tool_choice");
    }
    out["toolConfig"] = json::object{{"functionCallingConfig", std::move(cfg)}};
  }
  return out;
}

namespace {

std::string finish_reason(std::string_view r, bool tool_calls) {
  if (tool_calls) return "tool_calls";
  if (r == "MAX_TOKENS") return "length";
  if (r == "SAFETY" || r == "RECITATION" || r == "BLOCKLIST" || r == "PROHIBITED_CONTENT" ||
      r == "SPII" || r == "IMAGE_SAFETY" || r == "LANGUAGE") {
    return "content_filter";
  }
  return "stop";
}

json::object usage_of(const json::value* meta) {
  auto num = [&](const char* k) -> long long {
    const auto* o = meta ? meta->if_object() : nullptr;
    const auto* v = o ? o->if_contains(k) : nullptr;
    return v && v->is_int64() ? v->get_int64() : 0;
  };
  long long prompt = num("promptTokenCount");
  long long completion = num("candidatesTokenCount") + num("thoughtsTokenCount");
  return {{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
}

Error upstream_bad(const std::string& what) {
  return Error(ErrorKind::upstream_error, "upstream answered an unexpected Gemini response: " + what, {}, "gateway");
}

// Text and function calls of one candidate's parts (thought parts are skipped).
void read_parts(const json::object& candidate, std::string& text, json::array& calls, int& next_call,
                const std::string& id_prefix) {
  const auto* c = candidate.if_contains("content");
  const auto* parts = c && c->is_object() ? c->get_object().if_contains("parts") : nullptr;
  if (!parts || !parts->is_array()) return;
  for (const auto& pv : parts->get_array()) {
    const auto* part = pv.if_object();
    if (!part) continue;
    if (const auto* th = part->if_contains("thought"); th && th->is_bool() && th->get_bool()) continue;
    if (const auto* t = part->if_contains("text"); t && t->is_string()) text += std::string(t->get_string());
    if (const auto* fc = part->if_contains("functionCall"); fc && fc->is_object()) {
      const auto& f = fc->get_object();
      const json::value* args = f.if_contains("args");
      std::string id = str(f, "id");
      if (id.empty()) id = id_prefix + std::to_string(next_call);
      calls.push_back(json::object{{"index", next_call},
                                   {"id", id},
                                   {"type", "function"},
                                   {"function", json::object{{"name", str(f, "name")},
                                                             {"arguments", args ? core::to_json(*args) : "{}"}}}});
      ++next_call;
    }
  }
}

}  // namespace

core::Result<json::object> response(const json::value& upstream, const TranslateContext& ctx) {
  const auto* o = upstream.if_object();
  if (!o) return upstream_bad("not a JSON object");
  const auto* cands = o->if_contains("candidates");
  json::array choices;
  if (cands && cands->is_array()) {
    for (std::size_t i = 0; i < cands->get_array().size(); ++i) {
      const auto* cand = cands->get_array()[i].if_object();
      if (!cand) continue;
      std::string text;
      json::array calls;
      int next = 0;
      read_parts(*cand, text, calls, next, "call_" + std::to_string(i) + "_");
      for (auto& c : calls) c.as_object().erase("index");
      json::object message{{"role", "assistant"}};
      message["content"] = text.empty() && !calls.empty() ? json::value(nullptr) : json::value(json::string(text));
      message["refusal"] = nullptr;
      bool has_calls = !calls.empty();
      if (has_calls) message["tool_calls"] = std::move(calls);
      const auto* idx = cand->if_contains("index");
      choices.push_back(json::object{{"index", idx && idx->is_int64() ? idx->get_int64() : static_cast<long long>(i)},
                                     {"message", std::move(message)},
                                     {"logprobs", nullptr},
                                     {"finish_reason", finish_reason(str(*cand, "finishReason"), has_calls)}});
    }
  }
  if (choices.empty()) {
    // A prompt blocked before any candidate: promptFeedback.blockReason.
    const auto* fb = o->if_contains("promptFeedback");
    if (!fb || !fb->is_object() || str(fb->get_object(), "blockReason").empty()) return upstream_bad("no candidates");
    choices.push_back(json::object{{"index", 0},
                                   {"message", json::object{{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}}},
                                   {"logprobs", nullptr},
                                   {"finish_reason", "content_filter"}});
  }
  json::object out;
  out["id"] = o->contains("responseId") ? str(*o, "responseId") : ctx.id;
  out["object"] = "chat.completion";
  out["created"] = ctx.created;
  out["model"] = o->contains("modelVersion") ? str(*o, "modelVersion") : ctx.model;
  out["choices"] = std::move(choices);
  out["usage"] = usage_of(o->if_contains("usageMetadata"));
  return out;
}

namespace {

class GeminiStream final : public StreamTranslator {
 public:
  explicit GeminiStream(TranslateContext ctx) : ctx_(std::move(ctx)) {}

  core::Status feed(std::string_view data, std::vector<std::string>& chunks) override {
    boost::system::error_code ec;
    json::value v = json::parse(data, ec);
    if (ec || !v.is_object()) return upstream_bad("an event that is not a JSON object");
    const auto& o = v.get_object();
    if (const auto* err = o.if_contains("error"); err && err->is_object()) {
      return Error(ErrorKind::upstream_error, "upstream stream error: " + str(err->get_object(), "message"), {}, "gateway");
    }
    if (!started_) {
      if (o.contains("responseId")) ctx_.id = str(o, "responseId");
      if (o.contains("modelVersion")) ctx_.model = str(o, "modelVersion");
    }
    if (const auto* u = o.if_contains("usageMetadata")) usage_ = usage_of(u);
    auto emit = [&](long long index, json::object delta, json::value finish = nullptr) {
      json::object c = chunk(ctx_, std::move(delta), std::move(finish));
      c["choices"].as_array()[0].as_object()["index"] = index;
      chunks.push_back(core::to_json(c));
    };
    bool finished = false;
    if (const auto* cands = o.if_contains("candidates"); cands && cands->is_array()) {
      for (std::size_t i = 0; i < cands->get_array().size(); ++i) {
        const auto* cand = cands->get_array()[i].if_object();
        if (!cand) continue;
        const auto* idx = cand->if_contains("index");
        long long index = idx && idx->is_int64() ? idx->get_int64() : static_cast<long long>(i);
        auto& state = choices_[index];
        if (!state.started) {
          state.started = true;
          emit(index, {{"role", "assistant"}, {"content", ""}});
        }
        std::string text;
        json::array calls;
        read_parts(*cand, text, calls, state.next_call, "call_" + std::to_string(index) + "_");
        if (!text.empty()) emit(index, {{"content", text}});
        if (!calls.empty()) {
          state.tool_calls = true;
          emit(index, {{"tool_calls", std::move(calls)}});
        }
        if (std::string r = str(*cand, "finishReason"); !r.empty()) {
          emit(index, {}, json::string(finish_reason(r, state.tool_calls)));
          finished = true;
        }
      }
    } else if (const auto* fb = o.if_contains("promptFeedback"); fb && fb->is_object() && !str(fb->get_object(), "blockReason").empty()) {
      emit(0, {{"role", "assistant"}, {"content", ""}});
      emit(0, {}, json::string("content_filter"));
      finished = true;
    }
    started_ = true;
    if (finished && !complete_) {
      complete_ = true;
      if (ctx_.include_usage) {
        json::object last = chunk(ctx_, {}, nullptr);
        last["choices"] = json::array{};
        last["usage"] = usage_;
        chunks.push_back(core::to_json(last));
      }
    }
    return {};
  }

  bool complete() const override { return complete_; }

 private:
  struct Choice {
    bool started = false;
    bool tool_calls = false;
    int next_call = 0;
  };
  TranslateContext ctx_;
  std::map<long long, Choice> choices_;
  json::object usage_{{"prompt_tokens", 0}, {"completion_tokens", 0}, {"total_tokens", 0}};
  bool started_ = false;
  bool complete_ = false;
};

}  // namespace

std::unique_ptr<StreamTranslator> stream_translator(TranslateContext ctx) {
  return std::make_unique<GeminiStream>(std::move(ctx));
}


core::Result<json::object> embed_request(const json::object& openai, const std::string& model) {
  const auto* input = openai.if_contains("input");
  std::vector<std::string_view> texts;
  if (input && input->is_string()) {
    texts.push_back(input->get_string());
  } else if (input && input->is_array() && !input->get_array().empty()) {
    for (const auto& v : input->get_array()) {
      if (!v.is_string()) return bad("Gemini embeddings take text: 'input' must be a string or an array of strings", "input");
      texts.push_back(v.get_string());
    }
  } else {
    return bad("'input' must be a string or an array of strings", "input");
  }
  const auto* dims = openai.if_contains("dimensions");
  if (dims && (!dims->is_int64() || dims->get_int64() < 1)) return bad("'dimensions' must be a positive integer", "dimensions");
  json::array requests;
  for (auto text : texts) {
    json::object r{{"model", "models/" + model},
                   {"content", json::object{{"parts", json::array{json::object{{"text", text}}}}}}};
    if (dims) r["outputDimensionality"] = dims->get_int64();
    requests.push_back(std::move(r));
  }
  return json::object{{"requests", std::move(requests)}};
}

core::Result<json::object> embed_response(const json::value& upstream, const std::string& model, bool base64) {
  const auto* o = upstream.if_object();
  const auto* list = o ? o->if_contains("embeddings") : nullptr;
  if (!list || !list->is_array()) return upstream_bad("no embeddings");
  json::array data;
  for (const auto& e : list->get_array()) {
    const auto* values = e.is_object() ? e.get_object().if_contains("values") : nullptr;
    if (!values || !values->is_array()) return upstream_bad("an embedding without values");
    std::vector<float> vector;
    vector.reserve(values->get_array().size());
    for (const auto& x : values->get_array()) {
      if (!x.is_number()) return upstream_bad("an embedding value that is not a number");
      vector.push_back(static_cast<float>(x.to_number<double>()));
    }
    data.push_back(embedding_item(data.size(), vector, base64));
  }
  // batchEmbedContents reports no token counts; newer answers may carry usageMetadata.
  long long tokens = 0;
  if (const auto* u = o->if_contains("usageMetadata"); u && u->is_object()) {
    if (const auto* n = u->get_object().if_contains("promptTokenCount"); n && n->is_int64()) tokens = n->get_int64();
  }
  return json::object{{"object", "list"},
                      {"data", std::move(data)},
                      {"model", model},
                      {"usage", json::object{{"prompt_tokens", tokens}, {"total_tokens", tokens}}}};
}

}  // namespace sb::gateway::gemini
