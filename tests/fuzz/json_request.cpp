// JSON request bodies: parsed (nesting limit) and checked as /v1/chat/completions and
// /v1/embeddings check them.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/json.hpp"
#include "api/openai_validate.hpp"
#include "gateway/json_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)sb::gateway::is_json_object(in);
  auto body = sb::api::parse_json_object(in);
  if (!body) return 0;
  (void)sb::api::validate_chat_request(*body);
  (void)sb::api::validate_embeddings_request(*body, 64 * 1024 * 1024);
  return 0;
}
