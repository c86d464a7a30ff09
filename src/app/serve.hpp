#pragma once

#include "core/config.hpp"

namespace sb::app {

// The config the gateway runs with: with no [[providers]], a mock provider named "mock" serves
// "mock/echo" (chat) and "mock/embed" (hashed embeddings), so the embedded default answers
// out of the box.
core::Config with_default_provider(core::Config config);

// Runs the server until SIGTERM/SIGINT; returns the process exit code.
int serve(const core::Config& config);

}  // namespace sb::app
