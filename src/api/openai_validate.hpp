#pragma once
// Checks of OpenAI request bodies: what the gateway itself relies on (model, messages and
// roles, stream's type; embeddings' input shapes, dimensions, encoding_format). Everything
// else is the upstream's to judge. Errors name the field (400).

#include <boost/json/object.hpp>

#include <cstddef>

#include "core/error.hpp"

namespace sb::api {

// A model string: 1 to 256 bytes, no control characters (it is echoed in a response header).
inline constexpr std::size_t kMaxModelBytes = 256;

core::Status validate_chat_request(const boost::json::object& body);
// model, and prompt: a string, an array of strings, token ids or token-id arrays.
core::Status validate_completions_request(const boost::json::object& body);
// max_response_bytes: inputs x dimensions whose answer would be larger (estimated at 12 bytes
// a value as JSON floats, 16/3 as base64) are refused (413) before any work.
core::Status validate_embeddings_request(const boost::json::object& body, std::size_t max_response_bytes);

}  // namespace sb::api
