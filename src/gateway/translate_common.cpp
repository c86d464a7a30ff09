#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/base64.hpp"
#include "gateway/translate.hpp"

namespace sb::gateway {

namespace json = boost::json;

TranslateContext translate_context(const json::object& openai, std::string model, long long created,
                                   std::string id) {
  TranslateContext ctx;
  ctx.model = std::move(model);
  ctx.created = created;
  ctx.id = std::move(id);
  if (const auto* so = openai.if_contains("stream_options"); so && so->is_object()) {
    const auto* iu = so->as_object().if_contains("include_usage");
    ctx.include_usage = iu && iu->is_bool() && iu->get_bool();
  }
  if (const auto* rf = openai.if_contains("response_format"); rf && rf->is_object()) {
    const auto* type = rf->as_object().if_contains("type");
    if (type && type->is_string() && (type->get_string() == "json_object" || type->get_string() == "json_schema")) {
      ctx.json_tool = "json_response";
      if (const auto* js = rf->as_object().if_contains("json_schema"); js && js->is_object()) {
        if (const auto* n = js->as_object().if_contains("name"); n && n->is_string() && !n->get_string().empty()) {
          ctx.json_tool = std::string(n->get_string());
        }
      }
    }
  }
  return ctx;
}

namespace translate_detail {

core::Result<std::string> content_text(const json::value& content, const std::string& param) {
  if (content.is_null()) return std::string();
  if (content.is_string()) return std::string(content.get_string());
  const auto* parts = content.if_array();
  if (!parts) return bad("'" + param + "' must be a string or an array of content parts", param);
  std::string out;
  for (std::size_t i = 0; i < parts->size(); ++i) {
    const std::string p = param + "[" + std::to_string(i) + "]";
    const auto* o = (*parts)[i].if_object();
    if (!o) return bad("'" + p + "' must be an object", p);
    const auto* type = o->if_contains("type");
    if (!type || !type->is_string()) return bad("'" + p + ".type' must be a string", p + ".type");
    if (type->get_string() != "text") continue;
    const auto* text = o->if_contains("text");
    if (!text || !text->is_string()) return bad("'" + p + ".text' must be a string", p + ".text");
    out += std::string(text->get_string());
  }
  return out;
}

bool parse_data_url(std::string_view url, std::string& media_type, std::string& data) {
  if (url.rfind("data:", 0) != 0) return false;
  auto comma = url.find(',');
  if (comma == std::string_view::npos) return false;
  std::string_view meta = url.substr(5, comma - 5);
  constexpr std::string_view kB64 = ";base64";
  if (meta.size() < kB64.size() || meta.substr(meta.size() - kB64.size()) != kB64) return false;
  media_type = std::string(meta.substr(0, meta.size() - kB64.size()));
  data = std::string(url.substr(comma + 1));
  return !media_type.empty();
}

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

core::Result<std::string> image_url(const json::object& part, const std::string& param) {
  std::string url;
  if (const auto* iu = part.if_contains("image_url")) {
    if (iu->is_string()) url = std::string(iu->get_string());
    if (iu->is_object()) url = str(iu->get_object(), "url");
  }
  if (url.empty()) return bad("'" + param + ".image_url.url' is required", param + ".image_url.url");
  return url;
}

core::Result<std::vector<ToolCall>> tool_calls(const json::object& message, const std::string& param) {
  std::vector<ToolCall> out;
  const auto* calls = message.if_contains("tool_calls");
  if (!calls || !calls->is_array()) return out;
  for (std::size_t j = 0; j < calls->get_array().size(); ++j) {
    std::string cp = param + ".tool_calls[" + std::to_string(j) + "]";
    const auto* call = calls->get_array()[j].if_object();
    const auto* fn = call ? call->if_contains("function") : nullptr;
    if (!fn || !fn->is_object()) return bad("'" + cp + ".function' is required", cp + ".function");
    std::string args = str(fn->get_object(), "arguments");
    json::value parsed = json::object{};
    if (!args.empty()) {
      boost::system::error_code ec;
      parsed = json::parse(args, ec);
      if (ec || !parsed.is_object()) {
        return bad("'" + cp + ".function.arguments' must be a JSON object", cp + ".function.arguments");
      }
    }
    out.push_back({str(*call, "id"), str(fn->get_object(), "name"), std::move(parsed)});
  }
  return out;
}

void append_turn(json::array& turns, std::string_view role, std::string_view key, json::array items) {
  if (!turns.empty()) {
    auto& last = turns.back().as_object();
    if (last["role"].as_string() == role) {
      auto& existing = last[key].as_array();
      for (auto& x : items) existing.push_back(std::move(x));
      return;
    }
  }
  turns.push_back(json::object{{"role", role}, {key, std::move(items)}});
}

core::Error bad(std::string message, std::string param) {
  return core::Error(core::ErrorKind::invalid_field, std::move(message), std::move(param), "gateway");
}

json::object chunk(const TranslateContext& ctx, json::object delta, json::value finish_reason) {
  json::object o;
  o["id"] = ctx.id;
  o["object"] = "chat.completion.chunk";
  o["created"] = ctx.created;
  o["model"] = ctx.model;
  o["choices"] = json::array{json::object{{"index", 0},
                                          {"delta", std::move(delta)},
                                          {"logprobs", nullptr},
                                          {"finish_reason", std::move(finish_reason)}}};
  if (ctx.include_usage) o["usage"] = nullptr;
  return o;
}

json::object embedding_item(std::size_t index, const std::vector<float>& vector, bool base64) {
  json::object item{{"object", "embedding"}, {"index", index}};
  if (base64) {
    item["embedding"] = core::base64_encode(
        std::string_view(reinterpret_cast<const char*>(vector.data()), vector.size() * sizeof(float)));
  } else {
    json::array values;
    values.reserve(vector.size());
    for (float f : vector) values.push_back(static_cast<double>(f));
    item["embedding"] = std::move(values);
  }
  return item;
}

}  // namespace translate_detail
}  // namespace sb::gateway
