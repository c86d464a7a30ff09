#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

extern char** environ;

namespace sbtest {

namespace fs = std::filesystem;

TempDir::TempDir() {
  char tmpl[] = "/tmp/sb_it_XXXXXX";
  char* p = mkdtemp(tmpl);
  if (!p) throw std::runtime_error("mkdtemp failed");
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

Server::Server(ServerOptions options) {
  temp_ = std::make_unique<TempDir>();
  data_dir_ = options.data_dir.empty() ? temp_->path() + "/data" : options.data_dir;
  std::vector<std::string> args = {SB_BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                                   data_dir_};
  if (!options.config_toml.empty()) {
    config_path_ = temp_->path() + "/switchboard.toml";
    std::ofstream(config_path_) << options.config_toml;
    args.push_back("--config");
    args.push_back(config_path_);
  }
  for (auto& a : options.args) args.push_back(a);

  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "SWITCHBOARD_", 12) != 0) env_strings.emplace_back(*e);
  }
  for (auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);

  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(out[1]);
    close(err[0]);
    close(err[1]);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  out_thread_ = std::thread([this, fd = out[0]] { reader(fd, true); });
  err_thread_ = std::thread([this, fd = err[0]] { reader(fd, false); });

  if (!options.expect_start) return;
  std::unique_lock lock(mu_);
  bool ok = cv_.wait_for(lock, 10s, [this] { return !out_lines_.empty() || exit_code_; });
  if (!ok || out_lines_.empty()) {
    throw std::runtime_error("switchboard did not start: " + err_text_);
  }
  // The first log line announces the bound address.
  auto first = boost::json::parse(out_lines_.front()).as_object();
  if (first["msg"] != "listening") throw std::runtime_error("first line: " + out_lines_.front());
  std::string addr(first["address"].as_string());
  port_ = std::stoi(addr.substr(addr.rfind(':') + 1));
}

Server::~Server() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    wait_exit(5s);
  }
  if (out_thread_.joinable()) out_thread_.join();
  if (err_thread_.joinable()) err_thread_.join();
}

void Server::reader(int fd, bool is_stdout) {
  std::string partial;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    std::lock_guard lock(mu_);
    if (!is_stdout) {
      err_text_.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    partial.append(buf, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = partial.find('\n')) != std::string::npos) {
      out_lines_.push_back(partial.substr(0, nl));
      partial.erase(0, nl + 1);
    }
    cv_.notify_all();
  }
  close(fd);
  std::lock_guard lock(mu_);
  --open_pipes_;
  cv_.notify_all();
}

std::optional<int> Server::wait_exit(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      std::unique_lock lock(mu_);
      exit_code_ = code;
      cv_.notify_all();
      // The process is gone, but its last output may still sit in the pipes:
      // wait for both readers to reach end of file before anyone reads it.
      cv_.wait_for(lock, 2s, [&] { return open_pipes_ == 0; });
      return code;
    }
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
}

int Server::stop(int sig, std::chrono::milliseconds timeout) {
  if (exit_code_) return *exit_code_;
  ::kill(pid_, sig);
  auto code = wait_exit(timeout);
  if (!code) {
    ::kill(pid_, SIGKILL);
    return wait_exit(5s).value_or(-1) + 1000;  // marks "did not stop in time"
  }
  return *code;
}

void Server::kill9() {
  ::kill(pid_, SIGKILL);
  wait_exit(5s);
}

std::vector<std::string> Server::stdout_lines() {
  std::lock_guard lock(mu_);
  return out_lines_;
}

std::string Server::stderr_text() {
  std::lock_guard lock(mu_);
  return err_text_;
}

bool Server::wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] {
    for (const auto& l : out_lines_) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  });
}

Client::Client(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

Client::~Client() {
  if (fd_ >= 0) ::close(fd_);
}

bool Client::send(const std::string& raw) {
  std::size_t off = 0;
  while (off < raw.size()) {
    ssize_t n = ::send(fd_, raw.data() + off, raw.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

bool Client::fill(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char buf[65536];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) return false;
  buf_.append(buf, static_cast<std::size_t>(n));
  return true;
}

std::optional<HttpResponse> Client::read_response(std::chrono::milliseconds timeout, bool head) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill(deadline)) return std::nullopt;
  }
  HttpResponse r;
  std::string head_block = buf_.substr(0, end);
  buf_.erase(0, end + 4);
  std::size_t line_end = head_block.find("\r\n");
  std::string status_line = head_block.substr(0, line_end);
  r.status = std::stoi(status_line.substr(9, 3));
  std::size_t pos = line_end == std::string::npos ? head_block.size() : line_end + 2;
  while (pos < head_block.size()) {
    std::size_t e = head_block.find("\r\n", pos);
    if (e == std::string::npos) e = head_block.size();
    std::string line = head_block.substr(pos, e - pos);
    auto colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    r.headers[name] = value;
    pos = e + 2;
  }
  if (head || r.status == 204 || r.status == 304 || r.status / 100 == 1) return r;
  if (r.header("transfer-encoding") == "chunked") {
    for (;;) {
      std::size_t le;
      while ((le = buf_.find("\r\n")) == std::string::npos) {
        if (!fill(deadline)) return std::nullopt;
      }
      std::size_t size = std::stoul(buf_.substr(0, le), nullptr, 16);
      while (buf_.size() < le + 2 + size + 2) {
        if (!fill(deadline)) return std::nullopt;
      }
      r.body += buf_.substr(le + 2, size);
      buf_.erase(0, le + 2 + size + 2);
      if (size == 0) break;
    }
    return r;
  }
  if (r.headers.count("content-length")) {
    std::size_t len = std::stoul(r.header("content-length"));
    while (buf_.size() < len) {
      if (!fill(deadline)) return std::nullopt;
    }
    r.body = buf_.substr(0, len);
    buf_.erase(0, len);
    return r;
  }
  while (fill(deadline)) {
  }
  r.body = std::move(buf_);
  buf_.clear();
  return r;
}

bool Client::wait_closed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
}

std::string raw_request(const std::string& method, const std::string& path,
                        const std::string& body,
                        const std::map<std::string, std::string>& headers) {
  std::string r = method + " " + path + " HTTP/1.1\r\nHost: test\r\n";
  for (auto& [k, v] : headers) r += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return r + "\r\n" + body;
}

std::optional<HttpResponse> Client::request(const std::string& method, const std::string& path,
                                            const std::string& body,
                                            const std::map<std::string, std::string>& headers) {
  if (!send(raw_request(method, path, body, headers))) return std::nullopt;
  return read_response(10s, method == "HEAD");
}

std::optional<HttpResponse> http(int port, const std::string& method, const std::string& path,
                                 const std::string& body,
                                 const std::map<std::string, std::string>& headers) {
  Client c(port);
  auto h = headers;
  h["Connection"] = "close";
  return c.request(method, path, body, h);
}

double metric(int port, const std::string& prefix) {
  auto r = http(port, "GET", "/metrics");
  if (!r) return -1;
  std::size_t pos = 0;
  const std::string& b = r->body;
  while (pos < b.size()) {
    std::size_t e = b.find('\n', pos);
    if (e == std::string::npos) e = b.size();
    std::string line = b.substr(pos, e - pos);
    if (line.rfind(prefix + " ", 0) == 0) return std::stod(line.substr(prefix.size() + 1));
    pos = e + 1;
  }
  return -1;
}

std::string multipart_form(const std::map<std::string, std::string>& fields, const std::string& filename,
                           const std::string& type, const std::string& file) {
  std::string b;
  for (const auto& [k, v] : fields) {
    b += "--BoUnDaRy\r\nContent-Disposition: form-data; name=\"" + k + "\"\r\n\r\n" + v + "\r\n";
  }
  b += "--BoUnDaRy\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + filename + "\"\r\n";
  if (!type.empty()) b += "Content-Type: " + type + "\r\n";
  return b + "\r\n" + file + "\r\n--BoUnDaRy--\r\n";
}

const std::map<std::string, std::string> kMultipart = {{"Content-Type", "multipart/form-data; boundary=BoUnDaRy"}};

std::string code_of(const HttpResponse& r) {
  return std::string(boost::json::parse(r.body).at("error").at("code").as_string());
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

std::vector<pid_t> child_pids(pid_t pid) {
  std::vector<pid_t> out;
  const std::string task = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& t : std::filesystem::directory_iterator(task)) {
    std::ifstream in(t.path() / "children");
    pid_t child;
    while (in >> child) out.push_back(child);
  }
  return out;
}

Run run_in(const std::string& dir, const std::string& args, bool keep_stderr, const std::string& env) {
  std::string cmd = "cd '" + dir + "' && " + (env.empty() ? "" : env + " ") + std::string(SB_BINARY) + " " + args +
                    (keep_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  Run r{-1, ""};
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace sbtest
