#pragma once
// Internal to core: the [[providers]] and [[routes]] arrays of the config file.

#include <map>
#include <string>

#include <toml++/toml.h>

#include "core/config.hpp"

namespace sb::core {

// Reads [[providers]] and [[routes]] from the parsed file. Throws ConfigError naming the entry,
// e.g. "providers[1].base_url: ...". Provider keys are read from `env` (the process environment).
void load_gateway_tables(const toml::table& file, Config& c,
                         const std::map<std::string, std::string>& env);

// Cross-checks providers and routes (unique names, routes naming known providers).
void validate_gateway(const Config& c);

}  // namespace sb::core
