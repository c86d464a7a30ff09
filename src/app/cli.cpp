#include "app/cli.hpp"

#include <set>
#include <stdexcept>

namespace sb::app {

CommandLine parse_command_line(const std::vector<std::string>& argv) {
  static const std::set<std::string> kValueFlags = {"--config",  "--listen",     "--data-dir", "--log-level",
                                                    "--dataset", "--split",      "--collection", "--server",
                                                    "--mode",    "--top-k",      "--embedding-model", "--dimensions",
                                                    "--exclude", "--name", "--scopes", "--models", "--collections",
                                                    "--rpm", "--tpm", "--max-parallel", "--budget", "--budget-period",
                                                    "--expires-at", "--grace-ms", "--from", "--to", "--group-by", "--key",
                                                    "--assistant", "--model", "--conversation"};
  CommandLine out;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      out.help = true;
    } else if (a == "-v" || a == "--version") {
      if (out.command.empty()) out.command = "version";
    } else if (a.rfind("--", 0) == 0) {
      std::string value;
      auto eq = a.find('=');
      if (eq != std::string::npos) {
        value = a.substr(eq + 1);
        a = a.substr(0, eq);
      }
      if (!kValueFlags.count(a)) throw std::invalid_argument("unknown flag " + a);
      if (eq == std::string::npos) {
        if (i + 1 >= argv.size()) throw std::invalid_argument(a + " needs a value");
        value = argv[++i];
      }
      out.flags[a] = value;
      out.repeated[a].push_back(value);
    } else if (out.command.empty()) {
      out.command = a;
    } else {
      out.args.push_back(a);
    }
  }
  if (out.command.empty()) out.command = "serve";
  return out;
}

}  // namespace sb::app
