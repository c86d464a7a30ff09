// The Gemini translation: request, whole answer, stream events and embeddings.
#include "translate.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace g = sb::gateway::gemini;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  sbfuzz::translate(
      in, [](const boost::json::object& o) { return g::request(o); },
      [](const boost::json::value& v, const sb::gateway::TranslateContext& c) { return g::response(v, c); },
      [](sb::gateway::TranslateContext c) { return g::stream_translator(std::move(c)); });
  auto parts = sbfuzz::sections(in);
  auto openai = sbfuzz::parse(parts[0]);
  if (auto* o = openai.if_object(); o && sb::api::validate_embeddings_request(*o, 64 << 20)) {
    (void)g::embed_request(*o, "m");
  }
  if (parts.size() > 1) (void)g::embed_response(sbfuzz::parse(parts[1]), "m", size % 2 == 0);
  return 0;
}
