// JSON request bodies: parsed (nesting limit) and checked as /v1/chat/completions and
// /v1/embeddings check them; and the model splice, whose result must be the same JSON with
// only "model" changed.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "api/json.hpp"
#include "api/openai_validate.hpp"
#include "gateway/json_check.hpp"
#include "gateway/json_splice.hpp"

#include <boost/json/parse.hpp>

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)sb::gateway::is_json_object(in);
  auto body = sb::api::parse_json_object(in);
  if (!body) return 0;
  (void)sb::api::validate_chat_request(*body);
  (void)sb::api::validate_embeddings_request(*body, 64 * 1024 * 1024);
  if (auto spliced = sb::gateway::splice_model(in, "spliced/model")) {
    auto again = sb::api::parse_json_object(*spliced);
    if (!again || again->size() != body->size() || again->at("model") != "spliced/model") std::abort();
    for (const auto& kv : *body) {
      if (kv.key() != "model" && again->at(kv.key()) != kv.value()) std::abort();
    }
  }
  (void)sb::gateway::rename_model(*std::make_unique<std::string>(in), "m");
  return 0;
}
