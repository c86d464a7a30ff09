#pragma once

#include <string>

namespace sb::app {

// `switchboard eval`: evaluates retrieval on a BEIR dataset; returns the process exit code.
// data_dir empty = a temporary directory, removed afterwards.
int eval(const std::string& dataset_dir, const std::string& split, const std::string& data_dir);

}  // namespace sb::app
