#pragma once

#include "core/config.hpp"

namespace sb::app {

// Runs the server until SIGTERM/SIGINT; returns the process exit code.
int serve(const core::Config& config);

}  // namespace sb::app
