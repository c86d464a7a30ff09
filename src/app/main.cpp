// switchboard — one binary between applications and language models.

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "app/cli.hpp"
#include "app/eval_command.hpp"
#include "app/ask_command.hpp"
#include "app/kb_commands.hpp"
#include "app/keys_command.hpp"
#include "app/serve.hpp"
#include "core/config.hpp"
#include "core/version.hpp"
#include "knowledge/extract_sandbox.hpp"

namespace {

constexpr const char* kUsage = R"(switchboard — an LLM gateway, job queue and knowledge base in one binary

Usage: switchboard [COMMAND] [FLAGS]

Commands:
  serve      Run the HTTP server (the default command)
  config     Print the example config or the configuration reference
  ingest     Upload files and directories into a collection of a running server
  search     Search a collection of a running server
  ask        Ask an assistant of a running server (RAG chat)
  keys       Create, list, revoke and rotate API keys of a running server
  usage      Tokens and cost per key, model, provider or day, from a running server
  eval       Measure retrieval quality on a BEIR-format dataset
  version    Print the version

Run 'switchboard <command> --help' for the flags of a command.
)";

constexpr const char* kServeUsage = R"(Usage: switchboard serve [FLAGS]

Runs the HTTP server until SIGTERM or SIGINT, then drains in-flight requests.

Flags:
  --config FILE       TOML config file (also $SWITCHBOARD_CONFIG)
  --listen HOST:PORT  Overrides server.listen (default 127.0.0.1:8080; port 0 = any free port)
  --data-dir DIR      Overrides storage.data_dir (default ./switchboard-data)
  --log-level LEVEL   Overrides log.level (trace, debug, info, warn, error, off)

Every config key can also be set by an environment variable SWITCHBOARD_<SECTION>_<KEY>,
e.g. SWITCHBOARD_SERVER_LISTEN; see 'switchboard config reference'.
)";

constexpr const char* kConfigUsage = R"(Usage: switchboard config SUBCOMMAND [FLAGS]

Subcommands:
  example     Print a commented switchboard.toml with every key at its default
  reference   Print the configuration reference as a Markdown table
  check [FILE]  Load the config (FILE or --config, environment, flags) and report the first error

Flags (for check): --config FILE, --listen HOST:PORT, --data-dir DIR, --log-level LEVEL
)";

constexpr const char* kEvalUsage = R"(Usage: switchboard eval --dataset DIR [--split NAME] [--embedding-model MODEL [--dimensions N]]
                        [--config FILE] [--data-dir DIR]

Ingests DIR/corpus.jsonl (BEIR format: {"_id", "title", "text"} per line) into a fresh
collection, runs every query of DIR/qrels/NAME.tsv (default split: test) with its text from
DIR/queries.jsonl, and prints nDCG@10, Recall@100 and MRR@10 per search mode (keyword, FTS5's
own ranking for comparison, and semantic and hybrid with --embedding-model: a route or
provider/model from --config's providers, or mock/embed without any), the ingestion time and
the query latency p50/p99. The data goes to a temporary directory that is removed afterwards,
unless --data-dir names one. Progress and logs (--log-level, default warn) go to stderr, the
report to stdout.
)";

constexpr const char* kIngestUsage = R"(Usage: switchboard ingest --collection NAME [--exclude GLOB]... [--server URL] PATH...

Uploads each file to a running server (POST /api/v1/documents); a directory is walked for
.txt .md .markdown .html .htm .pdf .docx files, skipping hidden files and directories. The
document's external_id is the file's path below the directory given (a file given alone: its
name), however the path is spelled, so ingesting again makes new versions of changed files
only. Prints one line per file (a large file is "accepted", processed in the background);
progress on stderr. A missing path is reported and the others are still sent. Exit codes: 0 all
accepted, 1 some failed or missing, 2 server unreachable or bad usage.

Flags:
  --collection NAME  The collection (must exist: POST /api/v1/collections)
  --exclude GLOB     Skip files and directories whose path below the directory, or whose
                     name, matches (fnmatch: "*.draft.md", "archive/*"); repeatable
  --server URL       The server (default $SWITCHBOARD_URL or http://127.0.0.1:8080);
                     $SWITCHBOARD_API_KEY is sent as the bearer token when set
)";

constexpr const char* kSearchUsage = R"(Usage: switchboard search --collection NAME [--mode MODE] [--top-k N] [--server URL] QUERY

Searches a collection of a running server (POST /api/v1/search) and prints the results.

Flags:
  --collection NAME  The collection
  --mode MODE        hybrid (default), semantic or keyword
  --top-k N          Results (default 10)
  --server URL       As for ingest
)";

constexpr const char* kAskUsage = R"(Usage: switchboard ask (--assistant NAME | --collection NAME --model MODEL) [--conversation ID] [--server URL] QUESTION

Asks an assistant of a running server (POST /api/v1/chat) and prints the answer, the sources it
cites and the conversation's id; --conversation ID continues that conversation (its memory).

Flags:
  --assistant NAME   An assistant of the server's [[assistants]]
  --collection NAME  Instead of an assistant: the collection to answer from...
  --model MODEL      ...and the model (a route or provider/model)
  --conversation ID  Continue this conversation (conv_...)
  --server URL       As for ingest
)";

constexpr const char* kKeysUsage = R"(Usage: switchboard keys SUBCOMMAND [FLAGS] [--server URL]

Manages the API keys of a running server (the /api/v1/keys endpoints) with an admin key:
$SWITCHBOARD_API_KEY is sent as the bearer token.

Subcommands:
  create [--name NAME] [--scopes chat,embeddings,...] [--models m1,m2] [--collections c1,c2]
         [--rpm N] [--tpm N] [--max-parallel N] [--budget USD [--budget-period day|month|total]]
         [--expires-at UNIX_SECONDS]
                       Prints the new key as JSON, with its secret (shown this once)
  list                 One line per key: id, name, prefix, scopes, active or revoked
  revoke ID_OR_NAME    Refused from the next request on
  rotate ID_OR_NAME [--grace-ms N]
                       A new secret; the old one keeps working for N ms (default 0)

Exit codes: 0 done, 1 the server refused (its message on stderr), 2 bad usage or unreachable.
)";

constexpr const char* kUsageUsage = R"(Usage: switchboard usage [--from UNIX] [--to UNIX] [--group-by key|model|provider|day] [--key ID] [--server URL]

Prints the usage rows (or, with --group-by, their sums) of a running server as JSON: the
caller's own with a non-admin key, everyone's with an admin key ($SWITCHBOARD_API_KEY).
)";

constexpr const char* kVersionUsage = "Usage: switchboard version\n\nPrints the version.\n";

sb::core::Config load(const sb::app::CommandLine& cl) {
  sb::core::ConfigSources src;
  src.env = sb::core::process_env();
  if (auto it = cl.flags.find("--config"); it != cl.flags.end()) {
    src.file = it->second;
  } else if (auto env = src.env.find("SWITCHBOARD_CONFIG"); env != src.env.end()) {
    src.file = env->second;
  }
  if (auto it = cl.flags.find("--listen"); it != cl.flags.end()) {
    src.overrides["server.listen"] = it->second;
  }
  if (auto it = cl.flags.find("--data-dir"); it != cl.flags.end()) {
    src.overrides["storage.data_dir"] = it->second;
  }
  if (auto it = cl.flags.find("--log-level"); it != cl.flags.end()) {
    src.overrides["log.level"] = it->second;
  }
  return sb::core::load_config(src);
}

}  // namespace

const char* usage_of(const std::string& command) {
  if (command == "serve") return kServeUsage;
  if (command == "eval") return kEvalUsage;
  if (command == "ingest") return kIngestUsage;
  if (command == "search") return kSearchUsage;
  if (command == "ask") return kAskUsage;
  if (command == "config") return kConfigUsage;
  if (command == "version") return kVersionUsage;
  if (command == "keys") return kKeysUsage;
  if (command == "usage") return kUsageUsage;
  return kUsage;
}

int main(int argc, char** argv) {
  // Internal: the server starts its document parsers as `switchboard extract-worker MEMORY_MB`.
  if (argc == 3 && std::string_view(argv[1]) == "extract-worker") {
    return sb::knowledge::run_extract_worker(std::atoi(argv[2]));
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  sb::app::CommandLine cl;
  try {
    cl = sb::app::parse_command_line(args);
  } catch (const std::exception& e) {
    // The usage of the command named (the first word that is not a flag), or the overview.
    std::string command = "serve";
    for (const auto& a : args) {
      if (a.rfind("-", 0) != 0) {
        command = a;
        break;
      }
    }
    std::string what = e.what();
    if (what == "unknown flag --port") what += " (the address and port are one flag: --listen 127.0.0.1:8080)";
    std::fprintf(stderr, "switchboard: %s\n\n%s", what.c_str(), usage_of(command));
    return 2;
  }
  const std::string& cmd = cl.command;
  if (cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "version") {
    if (cl.help) {
      std::fputs(kVersionUsage, stdout);
      return 0;
    }
    std::printf("switchboard %s (commit %s)\n", std::string(sb::core::version()).c_str(),
                std::string(sb::core::git_commit()).c_str());
    return 0;
  }
  if (cmd == "serve") {
    if (cl.help) {
      // Plain `switchboard --help` shows the overview; `switchboard serve --help` the flags.
      std::fputs(args.empty() || args[0] != "serve" ? kUsage : kServeUsage, stdout);
      return 0;
    }
    try {
      return sb::app::serve(load(cl), [cl] { return load(cl); });
    } catch (const sb::core::ConfigError& e) {
      std::fprintf(stderr, "switchboard: config error: %s\n", e.what());
      return 2;
    }
  }
  if (cmd == "eval") {
    auto dataset = cl.flags.find("--dataset");
    if (cl.help || dataset == cl.flags.end()) {
      std::fputs(kEvalUsage, cl.help ? stdout : stderr);
      return cl.help ? 0 : 2;
    }
    auto split = cl.flags.find("--split");
    std::optional<std::string> model;
    if (auto it = cl.flags.find("--embedding-model"); it != cl.flags.end()) model = it->second;
    std::optional<std::int64_t> dims;
    if (auto it = cl.flags.find("--dimensions"); it != cl.flags.end()) {
      try {
        dims = std::stoll(it->second);
      } catch (const std::exception&) {
        dims = 0;
      }
      if (*dims < 1 || !model) {
        std::fputs("switchboard: --dimensions must be a positive integer, with --embedding-model\n", stderr);
        return 2;
      }
    }
    // A command's logs are for trouble: warn unless asked otherwise.
    if (!cl.flags.count("--log-level") && !sb::core::process_env().count("SWITCHBOARD_LOG_LEVEL")) {
      cl.flags["--log-level"] = "warn";
    }
    try {
      return sb::app::eval(load(cl), dataset->second, split == cl.flags.end() ? "test" : split->second, model, dims,
                           cl.flags.count("--data-dir") > 0);
    } catch (const sb::core::ConfigError& e) {
      std::fprintf(stderr, "switchboard: config error: %s\n", e.what());
      return 2;
    }
  }
  if (cmd == "ingest" || cmd == "search") {
    const bool ingest = cmd == "ingest";
    auto collection = cl.flags.find("--collection");
    if (cl.help || collection == cl.flags.end() || cl.args.empty() || (!ingest && cl.args.size() != 1)) {
      std::fputs(ingest ? kIngestUsage : kSearchUsage, cl.help ? stdout : stderr);
      return cl.help ? 0 : 2;
    }
    sb::app::KbOptions o;
    o.collection = collection->second;
    if (auto it = cl.repeated.find("--exclude"); it != cl.repeated.end()) o.exclude = it->second;
    auto env = sb::core::process_env();
    if (auto it = env.find("SWITCHBOARD_URL"); it != env.end() && !it->second.empty()) o.server = it->second;
    if (auto it = cl.flags.find("--server"); it != cl.flags.end()) o.server = it->second;
    while (!o.server.empty() && o.server.back() == '/') o.server.pop_back();
    if (auto it = env.find("SWITCHBOARD_API_KEY"); it != env.end()) o.api_key = it->second;
    if (ingest) return sb::app::ingest(o, cl.args);
    int top_k = 10;
    if (auto it = cl.flags.find("--top-k"); it != cl.flags.end()) {
      try {
        top_k = std::stoi(it->second);
      } catch (const std::exception&) {
        top_k = 0;
      }
      if (top_k < 1 || top_k > 1000) {
        std::fputs("switchboard: --top-k must be 1 to 1000\n", stderr);
        return 2;
      }
    }
    auto mode = cl.flags.find("--mode");
    return sb::app::search(o, cl.args[0], mode == cl.flags.end() ? "" : mode->second, top_k);
  }
  if (cmd == "ask") {
    sb::app::AskOptions a;
    if (auto it = cl.flags.find("--assistant"); it != cl.flags.end()) a.assistant = it->second;
    if (auto it = cl.flags.find("--collection"); it != cl.flags.end()) a.collection = it->second;
    if (auto it = cl.flags.find("--model"); it != cl.flags.end()) a.model = it->second;
    if (auto it = cl.flags.find("--conversation"); it != cl.flags.end()) a.conversation = it->second;
    const bool named = !a.assistant.empty() != (!a.collection.empty() && !a.model.empty());
    if (cl.help || cl.args.size() != 1 || !named) {
      std::fputs(kAskUsage, cl.help ? stdout : stderr);
      return cl.help ? 0 : 2;
    }
    sb::app::KbOptions o;
    auto env = sb::core::process_env();
    if (auto it = env.find("SWITCHBOARD_URL"); it != env.end() && !it->second.empty()) o.server = it->second;
    if (auto it = cl.flags.find("--server"); it != cl.flags.end()) o.server = it->second;
    while (!o.server.empty() && o.server.back() == '/') o.server.pop_back();
    if (auto it = env.find("SWITCHBOARD_API_KEY"); it != env.end()) o.api_key = it->second;
    return sb::app::ask_command(o, a, cl.args[0]);
  }
  if (cmd == "keys" || cmd == "usage") {
    if (cl.help) {
      std::fputs(cmd == "keys" ? kKeysUsage : kUsageUsage, stdout);
      return 0;
    }
    sb::app::KbOptions o;
    auto env = sb::core::process_env();
    if (auto it = env.find("SWITCHBOARD_URL"); it != env.end() && !it->second.empty()) o.server = it->second;
    if (auto it = cl.flags.find("--server"); it != cl.flags.end()) o.server = it->second;
    while (!o.server.empty() && o.server.back() == '/') o.server.pop_back();
    if (auto it = env.find("SWITCHBOARD_API_KEY"); it != env.end()) o.api_key = it->second;
    if (cmd == "usage") return sb::app::usage_command(o, cl.flags);
    int rc = sb::app::keys_command(o, cl.args, cl.flags);
    if (rc < 0) {
      std::fputs(kKeysUsage, stderr);
      return 2;
    }
    return rc;
  }
  if (cmd == "config") {
    std::string sub = cl.args.empty() ? "" : cl.args[0];
    if (cl.help || sub.empty()) {
      std::fputs(kConfigUsage, cl.help ? stdout : stderr);
      return cl.help ? 0 : 2;
    }
    if (sub == "example") {
      std::fputs(sb::core::config_example().c_str(), stdout);
      return 0;
    }
    if (sub == "reference") {
      std::fputs(sb::core::config_reference_markdown().c_str(), stdout);
      return 0;
    }
    if (sub == "check") {
      // `config check FILE` checks FILE (as --config FILE would).
      if (cl.args.size() > 2) {
        std::fputs(kConfigUsage, stderr);
        return 2;
      }
      if (cl.args.size() == 2) cl.flags["--config"] = cl.args[1];
      try {
        load(cl);
      } catch (const sb::core::ConfigError& e) {
        std::fprintf(stderr, "switchboard: config error: %s\n", e.what());
        return 2;
      }
      std::puts("config ok");
      return 0;
    }
    std::fprintf(stderr, "switchboard: unknown config subcommand '%s'\n\n%s", sub.c_str(),
                 kConfigUsage);
    return 2;
  }
  std::fprintf(stderr, "switchboard: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
  return 2;
}
