#pragma once

#include <functional>

#include "core/config.hpp"

namespace sb::app {

// The config the gateway runs with: with no [[providers]], a mock provider named "mock" serves
// "mock/echo" (chat) and "mock/embed" (hashed embeddings), so the embedded default answers
// out of the box.
core::Config with_default_provider(core::Config config);

// Runs the server until SIGTERM/SIGINT; returns the process exit code.
// `reload` reads the config again (SIGHUP); it throws core::ConfigError for one that does not
// validate.
int serve(const core::Config& config, std::function<core::Config()> reload = {});

}  // namespace sb::app
