// The Anthropic translation: request, whole answer and stream events.
#include "translate.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace a = sb::gateway::anthropic;
  sbfuzz::translate(
      std::string_view(reinterpret_cast<const char*>(data), size),
      [](const boost::json::object& o) { return a::request(o, "m", true); },
      [](const boost::json::value& v, const sb::gateway::TranslateContext& c) { return a::response(v, c); },
      [](sb::gateway::TranslateContext c) { return a::stream_translator(std::move(c)); });
  return 0;
}
