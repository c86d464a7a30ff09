#pragma once
// `switchboard ingest` and `switchboard search`: the knowledge API of a running server from the
// command line (so the server's indexes see every change).

#include <optional>
#include <string>
#include <vector>

namespace sb::app {

struct KbOptions {
  std::string server = "http://127.0.0.1:8080";  // --server, or $SWITCHBOARD_URL
  std::string api_key;                           // $SWITCHBOARD_API_KEY
  std::string collection;
  std::vector<std::string> exclude;  // --exclude GLOB (repeatable)
};

// Uploads each file (directories: every .txt .md .markdown .html .htm .pdf .docx below them,
// hidden files and directories skipped, --exclude globs matched against the path below the
// directory and the file name) with an external id that does not depend on how the path was
// spelled: the path below the directory given (a file given by itself: its name). Ingesting
// again makes a new version only for changed files. One line per file on stdout, progress on
// stderr; a 202 (a large file, processed in the background) counts as accepted. Exit code 0
// when every file was accepted, 1 when any failed or a path does not exist (the others are
// still sent), 2 when the server cannot be reached.
int ingest(const KbOptions& options, const std::vector<std::string>& paths);

// Prints the results of one search; exit code 0, 1 on an error answer, 2 when unreachable.
int search(const KbOptions& options, const std::string& query, const std::string& mode, int top_k);

// One JSON request to the server of `options` (with its key); nullopt when it cannot be reached
// (said on stderr).
struct ServerAnswer {
  int status = 0;
  std::string body;
  std::string error_message() const;  // the error envelope's message, or the start of the body
};
std::optional<ServerAnswer> call_server(const KbOptions& options, const std::string& method, const std::string& path,
                                        std::string body = "");

}  // namespace sb::app
