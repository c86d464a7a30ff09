#pragma once
// Command-line parsing shared by the subcommands.

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sb::app {

struct CommandLine {
  std::string command;                       // "serve" when none is given
  std::map<std::string, std::string> flags;  // "--listen" -> "127.0.0.1:0" (the last, if repeated)
  std::map<std::string, std::vector<std::string>> repeated;  // every value of each flag, in order
  std::vector<std::string> args;             // positional arguments after the command
  bool help = false;
};

// Flags that take a value: --config, --listen, --data-dir, --log-level, --dataset, --split,
// --collection, --server, --mode, --top-k, --embedding-model, --dimensions, --exclude.
// Throws std::invalid_argument on an unknown flag or a missing value.
CommandLine parse_command_line(const std::vector<std::string>& argv);

}  // namespace sb::app
