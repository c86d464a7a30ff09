#pragma once
// `switchboard ask`: one question to an assistant of a running server (POST /api/v1/chat); prints
// the answer, its cited sources and the conversation id to continue with.

#include <optional>
#include <string>

#include "app/kb_commands.hpp"

namespace sb::app {

struct AskOptions {
  std::string assistant;                    // or collection + model
  std::string collection, model;
  std::optional<std::string> conversation;  // continue this conversation
};

// Exit code 0, 1 on an error answer, 2 when the server cannot be reached.
int ask_command(const KbOptions& server, const AskOptions& options, const std::string& question);

}  // namespace sb::app
