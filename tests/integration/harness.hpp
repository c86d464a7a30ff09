#pragma once
// Integration harness: starts the real build/switchboard on port 0 with a temp data dir, and
// speaks raw HTTP/1.1 to it over loopback sockets, so tests control every byte and timing.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sbtest {

using namespace std::chrono_literals;

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;                            // de-chunked
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct ServerOptions {
  std::vector<std::string> args;             // extra CLI args after "serve"
  std::map<std::string, std::string> env;    // extra environment
  std::string config_toml;                   // written to a file and passed with --config
  std::string data_dir;                      // default: a fresh temp dir
  bool expect_start = true;                  // false: the process is expected to exit
};

class Server {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();

  int port() const { return port_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& config_path() const { return config_path_; }  // "" without config_toml
  pid_t pid() const { return pid_; }

  // Sends a signal and waits for exit; returns the exit code (or 128+signal).
  int stop(int sig, std::chrono::milliseconds timeout = 15s);
  void kill9();
  // Waits for exit without signalling.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  std::vector<std::string> stdout_lines();
  std::string stderr_text();
  // Waits until a stdout line contains `needle`.
  bool wait_for_log(const std::string& needle, std::chrono::milliseconds timeout = 5s);

 private:
  void reader(int fd, bool is_stdout);

  std::unique_ptr<TempDir> temp_;
  std::string data_dir_;
  std::string config_path_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::optional<int> exit_code_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> out_lines_;
  std::string err_text_;
  int open_pipes_ = 2;  // readers still before end of file
  std::thread out_thread_, err_thread_;
};

class Client {
 public:
  explicit Client(int port);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Sends raw bytes; false if the peer is gone.
  bool send(const std::string& raw);
  // Reads one response (Content-Length, chunked, or until close). nullopt on close/timeout.
  std::optional<HttpResponse> read_response(std::chrono::milliseconds timeout = 10s,
                                            bool head = false);
  // True when the server closes the connection within the timeout (after any pending data).
  bool wait_closed(std::chrono::milliseconds timeout);

  std::optional<HttpResponse> request(const std::string& method, const std::string& path,
                                      const std::string& body = "",
                                      const std::map<std::string, std::string>& headers = {});

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  std::string buf_;
};

// One request on a fresh connection with Connection: close.
std::optional<HttpResponse> http(int port, const std::string& method, const std::string& path,
                                 const std::string& body = "",
                                 const std::map<std::string, std::string>& headers = {});

// "GET /x HTTP/1.1\r\nHost: t\r\n..." with Content-Length when body is non-empty.
std::string raw_request(const std::string& method, const std::string& path,
                        const std::string& body = "",
                        const std::map<std::string, std::string>& headers = {});

// The error envelope's code of a response.
std::string code_of(const HttpResponse& r);

// Value of a metric sample line that starts with `prefix` in /metrics, or -1.
double metric(int port, const std::string& prefix);

// A multipart/form-data body with text fields and one file part, sent with kMultipart.
std::string multipart_form(const std::map<std::string, std::string>& fields, const std::string& filename,
                           const std::string& type, const std::string& file);
extern const std::map<std::string, std::string> kMultipart;

// The binary run to completion: `cd dir && [env] switchboard args` in a shell (args may hold
// quoted words; env is "NAME='value' ..."). stdout, with stderr when keep_stderr.
struct Run {
  int code;  // the exit code, -1 when it did not exit
  std::string out;
};
Run run_in(const std::string& dir, const std::string& args, bool keep_stderr = true, const std::string& env = "");

// The resident set size of a process in KiB (VmRSS), or -1.
long rss_kib(pid_t pid);
// The child processes of a process (its extraction workers).
std::vector<pid_t> child_pids(pid_t pid);

}  // namespace sbtest
