#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/config.hpp"

namespace sb::app {

// `switchboard eval`: evaluates retrieval on a BEIR dataset; returns the process exit code.
// The data goes to a temporary directory (removed afterwards) unless keep_data, when it goes
// to config.storage.data_dir. Semantic and hybrid modes run when embedding_model is given
// (a route or provider/model of config's providers, or mock/embed with none).
int eval(const core::Config& config, const std::string& dataset_dir, const std::string& split,
         const std::optional<std::string>& embedding_model, std::optional<std::int64_t> dimensions, bool keep_data);

}  // namespace sb::app
