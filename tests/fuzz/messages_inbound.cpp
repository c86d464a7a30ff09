// The inbound translations of POST /v1/messages (Anthropic) and POST /v1/responses (OpenAI
// Responses): a request to an OpenAI chat one, and chat answers (whole, and each stream chunk)
// back to the format.
#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/anthropic_inbound.hpp"
#include "gateway/responses_inbound.hpp"

namespace {

// The input as one chunk, then split on newlines as several, then the end of the stream.
template <class Translator>
void stream(std::string_view text) {
  Translator t("m");
  std::string out;
  t.chunk(text, out);
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    t.chunk(text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start), out);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  t.finish(out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace in = sb::gateway::anthropic_inbound;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (!ec && v.is_object()) (void)in::to_chat_request(v.get_object());
  (void)in::to_message(text, "m");
  stream<in::StreamTranslator>(text);
  namespace re = sb::gateway::responses_inbound;
  if (!ec && v.is_object()) (void)re::to_chat_request(v.get_object());
  (void)re::to_response(text, "m");
  stream<re::StreamTranslator>(text);
  return 0;
}
