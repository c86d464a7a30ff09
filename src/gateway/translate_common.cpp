#include <boost/json/serialize.hpp>

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

std::string content_text(const json::value& content) {
  if (content.is_string()) return std::string(content.get_string());
  std::string out;
  if (const auto* parts = content.if_array()) {
    for (const auto& p : *parts) {
      const auto* o = p.if_object();
      if (!o) continue;
      const auto* type = o->if_contains("type");
      const auto* text = o->if_contains("text");
      if (type && type->is_string() && type->get_string() == "text" && text && text->is_string()) {
        out += std::string(text->get_string());
      }
    }
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

}  // namespace translate_detail
}  // namespace sb::gateway
