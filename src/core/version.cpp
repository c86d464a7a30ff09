#include "core/version.hpp"

#ifndef SB_VERSION
#define SB_VERSION "0.0.0"
#endif
#ifndef SB_GIT_COMMIT
#define SB_GIT_COMMIT "unknown"
#endif

namespace sb::core {

std::string_view version() { return SB_VERSION; }
std::string_view git_commit() { return SB_GIT_COMMIT; }

}  // namespace sb::core
