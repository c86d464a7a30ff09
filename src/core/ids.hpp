#pragma once
// Identifiers: random request ids, and validation of ids supplied by clients.

#include <string>
#include <string_view>

namespace sb::core {

// 32 lowercase hex characters (128 random bits). Thread-safe; does not block.
std::string new_request_id();

// True when a client-supplied X-Request-Id may be echoed and logged as is:
// 1..128 characters from [A-Za-z0-9._:/+=-].
bool valid_request_id(std::string_view id);

}  // namespace sb::core
