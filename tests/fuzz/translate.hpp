#pragma once
// Shared by the Anthropic and Gemini targets: the input is an OpenAI request, a provider answer
// and provider stream events, separated by lines "\n--\n".
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "api/openai_validate.hpp"
#include "gateway/translate.hpp"

namespace sbfuzz {

inline std::vector<std::string_view> sections(std::string_view in) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto at = in.find("\n--\n");
    out.push_back(in.substr(0, at));
    if (at == std::string_view::npos) return out;
    in.remove_prefix(at + 4);
  }
}

inline boost::json::value parse(std::string_view s) {
  boost::system::error_code ec;
  boost::json::parse_options opt;
  opt.max_depth = 32;
  auto v = boost::json::parse(s, ec, {}, opt);
  return ec ? boost::json::value() : v;
}

template <class Request, class Response, class Stream>
void translate(std::string_view in, Request request, Response response, Stream stream) {
  auto parts = sections(in);
  auto openai = parse(parts[0]);
  // As the gateway does: a request is translated once it passed the chat request checks.
  if (auto* o = openai.if_object(); o && sb::api::validate_chat_request(*o)) (void)request(*o);
  sb::gateway::TranslateContext ctx;
  ctx.model = "m";
  if (auto* o = openai.if_object()) ctx = sb::gateway::translate_context(*o, "m", 0, "id");
  if (parts.size() > 1) (void)response(parse(parts[1]), ctx);
  auto t = stream(ctx);
  std::vector<std::string> chunks;
  for (std::size_t i = 2; i < parts.size(); ++i) {
    if (!t->feed(parts[i], chunks)) break;
  }
  for (const auto& c : chunks) {
    boost::system::error_code ec;
    (void)boost::json::parse(c, ec);
    if (ec) __builtin_trap();  // every chunk is JSON
  }
}

}  // namespace sbfuzz
