#pragma once

#include <string_view>

namespace sb::core {

std::string_view version();     // e.g. "0.1.0"
std::string_view git_commit();  // short hash, or "unknown"

}  // namespace sb::core
