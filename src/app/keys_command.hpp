#pragma once
// `switchboard keys create|list|revoke|rotate` and `switchboard usage`: the control API of a
// running server (--server, $SWITCHBOARD_URL) with an admin key ($SWITCHBOARD_API_KEY).

#include <map>
#include <string>
#include <vector>

#include "app/kb_commands.hpp"

namespace sb::app {

// args: the subcommand and its operand; flags: --name, --scopes, ... as given. Exit code 0, 1
// on an error answer (its message on stderr), 2 on bad usage or an unreachable server.
int keys_command(const KbOptions& server, const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& flags);
int usage_command(const KbOptions& server, const std::map<std::string, std::string>& flags);

}  // namespace sb::app
