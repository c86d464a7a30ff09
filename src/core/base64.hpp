#pragma once
// Standard base64 (RFC 4648, with padding).

#include <string>
#include <string_view>

namespace sb::core {

std::string base64_encode(std::string_view bytes);

}  // namespace sb::core
