#include "knowledge/extract_sandbox.hpp"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <new>

namespace sb::knowledge {

using core::Error;
using core::ErrorKind;
using Clock = std::chrono::steady_clock;

namespace {

// A worker that ran out of memory exits with this code (after std::bad_alloc).
constexpr int kExitMemory = 3;
constexpr std::uint32_t kMagic = 0x53425831;  // "SBX1"
// The most a worker may answer beyond the text limit (title, type, page framing).
constexpr std::uint64_t kAnswerSlack = 1 << 20;

// ---- framing: little-endian integers and length-prefixed strings -------------------------------

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_str(std::string& out, std::string_view s) {
  put_u64(out, s.size());
  out.append(s);
}

struct Reader {
  std::string_view in;
  bool ok = true;
  std::uint64_t u64() {
    if (in.size() < 8) {
      ok = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
    in.remove_prefix(8);
    return v;
  }
  std::string str() {
    const std::uint64_t n = u64();
    if (!ok || n > in.size()) {
      ok = false;
      return {};
    }
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
};

// ---- blocking I/O with a deadline on a non-blocking socket --------------------------------------

enum class Io { ok, eof, timeout, error };

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 1 << 30));
}

Io wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const int left = remaining_ms(deadline);
    if (left == 0) return Io::timeout;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Io::error;
    if (n == 0) return Io::timeout;
    return Io::ok;
  }
}

Io send_all(int fd, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (auto w = wait_fd(fd, POLLOUT, deadline); w != Io::ok) return w;
      continue;
    }
    return n < 0 && errno == EPIPE ? Io::eof : Io::error;
  }
  return Io::ok;
}

Io recv_exact(int fd, char* out, std::size_t size, Clock::time_point deadline) {
  while (size > 0) {
    const ssize_t n = ::recv(fd, out, size, MSG_DONTWAIT);
    if (n > 0) {
      out += n;
      size -= static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) return Io::eof;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (auto w = wait_fd(fd, POLLIN, deadline); w != Io::ok) return w;
      continue;
    }
    return errno == ECONNRESET ? Io::eof : Io::error;
  }
  return Io::ok;
}

// One frame: u64 length, then the payload. A frame longer than `max` is an error.
Io recv_frame(int fd, std::string& out, std::uint64_t max, Clock::time_point deadline) {
  char len[8];
  if (auto r = recv_exact(fd, len, sizeof len, deadline); r != Io::ok) return r;
  Reader rd{std::string_view(len, sizeof len)};
  const std::uint64_t n = rd.u64();
  if (n > max) return Io::error;
  out.resize(n);
  return recv_exact(fd, out.data(), n, deadline);
}

// ---- the worker's confinement --------------------------------------------------------------------

// No network, no new programs, no debugging of others: what a parser never needs. Threads and
// file reads (fonts, locale data) stay allowed. x86-64 only; elsewhere the rlimits remain.
void install_seccomp() {
#if defined(__x86_64__)
  const int denied[] = {SYS_socket, SYS_connect, SYS_bind,     SYS_listen, SYS_accept,
                        SYS_accept4, SYS_execve, SYS_execveat, SYS_ptrace, SYS_fork,
                        SYS_vfork,  SYS_kill,    SYS_process_vm_writev};
  std::vector<sock_filter> f;
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  for (int nr : denied) {
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<unsigned>(nr), 0, 1));
    f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)));
  }
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  sock_fprog prog{static_cast<unsigned short>(f.size()), f.data()};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) {
    (void)::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
  }
#endif
}

void set_limit(int resource, rlim_t soft, rlim_t hard) {
  rlimit r{soft, hard};
  (void)::setrlimit(resource, &r);
}

long cpu_seconds_used() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1;
}

std::string encode_answer(const core::Result<Extracted>& r) {
  std::string body;
  if (r) {
    body.push_back('\0');
    put_str(body, r->content_type);
    put_str(body, r->title);
    put_str(body, r->text);
    put_u64(body, r->pages.size());
    for (const auto& p : r->pages) put_str(body, p);
  } else {
    body.push_back('\1');
    put_u64(body, static_cast<std::uint64_t>(r.error().kind));
    put_str(body, r.error().message);
  }
  std::string frame;
  put_str(frame, body);
  return frame;
}

Error worker_error(std::string reason, std::string what) {
  return Error(ErrorKind::unprocessable, "the document could not be extracted (" + reason + "): " + what, "file",
               "extract");
}

}  // namespace

// ---- the worker --------------------------------------------------------------------------------

namespace {

void* serve_requests(void* code);

}  // namespace

int run_extract_worker(int memory_mb) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() == 1) return 1;  // the server has gone already
  ::close_range(3, ~0U, 0);
  set_limit(RLIMIT_CORE, 0, 0);
  set_limit(RLIMIT_FSIZE, 0, 0);  // writes no files
  set_limit(RLIMIT_NOFILE, 32, 32);
#if !defined(__SANITIZE_ADDRESS__)
  // (Not under AddressSanitizer, whose shadow memory reserves terabytes of address space.)
  const rlim_t as = static_cast<rlim_t>(memory_mb) << 20;
  set_limit(RLIMIT_AS, as, as);
#endif
  install_seccomp();
  // The parsers' own recursion (gumbo frees its tree recursively) gets a deep stack: a thread
  // with 256 MiB of it (reserved, counted in RLIMIT_AS, touched only as deep as it goes).
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, std::size_t(256) << 20);
  pthread_t thread;
  int code = 0;
  if (pthread_create(&thread, &attr, serve_requests, &code) != 0) {
    serve_requests(&code);
  } else {
    pthread_join(thread, nullptr);
  }
  pthread_attr_destroy(&attr);
  return code;
}

namespace {

void* serve_requests(void* code_out) {
  int& code = *static_cast<int*>(code_out);
  for (;;) {
    std::string frame;
    // A request: the whole document, so bounded only by the server's own limits.
    if (recv_frame(0, frame, std::uint64_t(1) << 34, Clock::time_point::max()) != Io::ok) return nullptr;
    Reader rd{frame};
    const std::uint64_t magic = rd.u64();
    ExtractLimits limits;
    limits.max_unpacked_bytes = rd.u64();
    limits.max_text_bytes = rd.u64();
    const std::uint64_t cpu_s = rd.u64();
    const std::string type = rd.str(), name = rd.str();
    const std::uint64_t n = rd.u64();
    if (!rd.ok || magic != kMagic || n != rd.in.size()) {
      code = 2;
      return nullptr;
    }
    // CPU time is counted over the worker's life: each document gets its own allowance on top.
    set_limit(RLIMIT_CPU, static_cast<rlim_t>(cpu_seconds_used()) + cpu_s, RLIM_INFINITY);
    core::Result<Extracted> r = Error(ErrorKind::internal, "not run");
    try {
      r = extract(rd.in, type, name, limits);
    } catch (const std::bad_alloc&) {
      ::_exit(kExitMemory);
    } catch (const std::exception& e) {
      r = Error(ErrorKind::unprocessable, std::string("the document could not be read: ") + e.what(), "file");
    }
    frame.clear();
    frame.shrink_to_fit();
    if (send_all(1, encode_answer(r), Clock::time_point::max()) != Io::ok) return nullptr;
  }
}

}  // namespace

// ---- the server's side ---------------------------------------------------------------------------

ExtractSandbox::ExtractSandbox(SandboxOptions options) : options_(std::move(options)) {}

ExtractSandbox::~ExtractSandbox() {
  shutdown();
  std::lock_guard lock(mu_);
  for (auto& w : idle_) {
    ::close(w.to);
    ::waitpid(w.pid, nullptr, 0);
  }
  idle_.clear();
}

void ExtractSandbox::shutdown() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  for (auto& w : idle_) ::kill(w.pid, SIGKILL);
  for (pid_t pid : running_) ::kill(pid, SIGKILL);
  free_.notify_all();
}

core::Result<ExtractSandbox::Worker> ExtractSandbox::spawn() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return Error(ErrorKind::unavailable, std::string("extraction worker: socketpair: ") + std::strerror(errno), {},
                 "extract");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  const std::string memory = std::to_string(options_.memory_mb);
  char* argv[] = {const_cast<char*>("switchboard"), const_cast<char*>("extract-worker"),
                  const_cast<char*>(memory.c_str()), nullptr};
  char* envp[] = {nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, options_.executable.c_str(), &fa, nullptr, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return Error(ErrorKind::unavailable,
                 "extraction worker " + options_.executable + " did not start: " + std::strerror(rc), {}, "extract");
  }
  return Worker{pid, fds[0], fds[0]};
}

void ExtractSandbox::end(Worker w, int* status, long* peak_kib) {
  {
    // Out of running_ before it is reaped: shutdown() must never signal a pid that was reused.
    std::lock_guard lock(mu_);
    running_.erase(std::remove(running_.begin(), running_.end(), w.pid), running_.end());
  }
  ::kill(w.pid, SIGKILL);
  ::close(w.to);
  rusage usage{};
  ::wait4(w.pid, status, 0, &usage);
  if (peak_kib) *peak_kib = usage.ru_maxrss;
  std::lock_guard lock(mu_);
  --live_;
  free_.notify_one();
}

void ExtractSandbox::give_back(Worker w) {
  std::unique_lock lock(mu_);
  if (stopped_) {
    lock.unlock();
    end(w, nullptr, nullptr);
    return;
  }
  running_.erase(std::remove(running_.begin(), running_.end(), w.pid), running_.end());
  idle_.push_back(w);
  free_.notify_one();
}

core::Result<Extracted> ExtractSandbox::extract(std::string_view bytes, std::string_view content_type,
                                                std::string_view filename) {
  Worker w;
  {
    std::unique_lock lock(mu_);
    free_.wait(lock, [&] { return stopped_ || !idle_.empty() || live_ < options_.workers; });
    if (stopped_) return Error(ErrorKind::unavailable, "the server is shutting down", {}, std::string(kShutdownWhere));
    if (!idle_.empty()) {
      w = idle_.back();
      idle_.pop_back();
    } else {
      ++live_;
      lock.unlock();
      auto spawned = spawn();
      lock.lock();
      if (!spawned) {
        --live_;
        free_.notify_one();
        return std::move(spawned).error();
      }
      w = *spawned;
    }
    running_.push_back(w.pid);
  }
  const auto timeout = std::chrono::milliseconds(options_.timeout_ms);
  const auto deadline = Clock::now() + timeout;
  std::string request;
  request.reserve(bytes.size() + content_type.size() + filename.size() + 64);
  put_u64(request, kMagic);
  put_u64(request, options_.limits.max_unpacked_bytes);
  put_u64(request, options_.limits.max_text_bytes);
  put_u64(request, static_cast<std::uint64_t>(options_.timeout_ms / 1000 + 1));
  put_str(request, content_type);
  put_str(request, filename);
  put_u64(request, bytes.size());
  std::string length;
  put_u64(length, request.size() + bytes.size());
  Io io = send_all(w.to, length, deadline);
  if (io == Io::ok) io = send_all(w.to, request, deadline);
  if (io == Io::ok) io = send_all(w.to, bytes, deadline);
  std::string answer;
  if (io == Io::ok) io = recv_frame(w.from, answer, options_.limits.max_text_bytes * 2 + kAnswerSlack, deadline);
  if (io == Io::ok) {
    Reader rd{answer};
    const char status = rd.in.empty() ? '\2' : rd.in.front();
    rd.in.remove_prefix(rd.in.empty() ? 0 : 1);
    core::Result<Extracted> out = Error(ErrorKind::internal, "extraction worker: malformed answer", {}, "extract");
    if (status == '\0') {
      Extracted e;
      e.content_type = rd.str();
      e.title = rd.str();
      e.text = rd.str();
      const std::uint64_t pages = rd.u64();
      for (std::uint64_t i = 0; rd.ok && i < pages; ++i) e.pages.push_back(rd.str());
      if (rd.ok) out = std::move(e);
    } else if (status == '\1') {
      const auto kind = static_cast<ErrorKind>(rd.u64());
      std::string message = rd.str();
      if (rd.ok && static_cast<int>(kind) >= 0 && kind <= ErrorKind::internal) {
        out = Error(kind, std::move(message), "file", "extract");
      }
    }
    if (out.ok() || out.error().kind != ErrorKind::internal) {
      give_back(w);
    } else {
      end(w, nullptr, nullptr);
    }
    return out;
  }
  // The worker is to end: out of time, or dead already. Its exit status says which.
  const bool timed_out = io == Io::timeout;
  int status = 0;
  long peak_kib = 0;
  end(w, &status, &peak_kib);
  bool stopping;
  {
    std::lock_guard lock(mu_);
    stopping = stopped_;
  }
  if (stopping) return Error(ErrorKind::unavailable, "the server is shutting down", {}, std::string(kShutdownWhere));
  if (timed_out || (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU)) {
    return worker_error("timeout", "it took longer than " + std::to_string(options_.timeout_ms) +
                                       " ms (knowledge.extract_timeout_ms)");
  }
  // Parsers written in C abort or fault when an allocation fails: a worker that died that way
  // with its memory near the limit ran out of it.
  const bool near_limit = peak_kib * 1024 > (static_cast<long>(options_.memory_mb) << 20) / 2;
  const bool fault = WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGABRT ||
                                             WTERMSIG(status) == SIGBUS);
  if ((WIFEXITED(status) && WEXITSTATUS(status) == kExitMemory) || (fault && near_limit)) {
    return worker_error("memory", "it needs more than " + std::to_string(options_.memory_mb) +
                                      " MiB (knowledge.extract_memory_mb)");
  }
  if (WIFSIGNALED(status)) {
    return worker_error("crashed", std::string("the parser died with signal ") + std::to_string(WTERMSIG(status)) +
                                       " (" + ::strsignal(WTERMSIG(status)) + ")");
  }
  return worker_error("crashed", "the parser exited with status " + std::to_string(WEXITSTATUS(status)));
}

}  // namespace sb::knowledge
