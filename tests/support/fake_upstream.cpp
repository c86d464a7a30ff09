#include "fake_upstream.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace sbtest {

namespace {

bool send_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Sleeps in small steps; false when the peer closed meanwhile.
bool sleep_watching(int fd, std::chrono::milliseconds d, const std::atomic<bool>& stop) {
  auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until && !stop) {
    pollfd p{fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 10) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) return false;
  }
  return true;
}

std::string reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

}  // namespace

FakeUpstream::FakeUpstream() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 128) != 0) {
    throw std::runtime_error("fake upstream: bind/listen failed");
  }
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

FakeUpstream::~FakeUpstream() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  acceptor_.join();
  {
    std::lock_guard lock(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : workers_) t.join();
}

void FakeUpstream::push(Behavior b) {
  std::lock_guard lock(mu_);
  script_.push_back(std::move(b));
}

void FakeUpstream::set_default(Behavior b) {
  std::lock_guard lock(mu_);
  default_ = std::move(b);
}

std::vector<ReceivedRequest> FakeUpstream::received() {
  std::lock_guard lock(mu_);
  return received_;
}

void FakeUpstream::finish(int fd, bool reset) {
  std::lock_guard lock(mu_);  // the destructor shuts down only fds still listed
  std::erase(fds_, fd);
  if (reset) {
    linger lg{1, 0};  // RST instead of FIN
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  ::close(fd);
}

Behavior FakeUpstream::next() {
  std::lock_guard lock(mu_);
  if (script_.empty()) return default_;
  Behavior b = std::move(script_.front());
  script_.pop_front();
  return b;
}

void FakeUpstream::accept_loop() {
  while (!stop_) {
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) {
      if (stop_) return;
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    connections_++;
    std::lock_guard lock(mu_);
    fds_.push_back(fd);
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

void FakeUpstream::serve(int fd) {
  std::string buf;
  char tmp[65536];
  for (;;) {
    // Read one request: headers, then Content-Length bytes.
    std::size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n <= 0) {
        finish(fd, false);
        return;
      }
      buf.append(tmp, static_cast<std::size_t>(n));
    }
    ReceivedRequest req;
    std::string head = buf.substr(0, end);
    buf.erase(0, end + 4);
    std::size_t sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
    req.method = head.substr(0, sp1);
    req.target = head.substr(sp1 + 1, sp2 - sp1 - 1);
    std::size_t pos = head.find("\r\n");
    while (pos != std::string::npos && pos + 2 < head.size()) {
      std::size_t e = head.find("\r\n", pos + 2);
      std::string line = head.substr(pos + 2, e == std::string::npos ? std::string::npos : e - pos - 2);
      auto colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      req.headers[name] = value;
      pos = e;
    }
    std::size_t len = req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
    while (buf.size() < len) {
      ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n <= 0) {
        finish(fd, false);
        return;
      }
      buf.append(tmp, static_cast<std::size_t>(n));
    }
    req.body = buf.substr(0, len);
    buf.erase(0, len);
    {
      std::lock_guard lock(mu_);
      received_.push_back(req);
    }

    Behavior b = next();
    if (b.delay_before_headers.count() > 0 && !sleep_watching(fd, b.delay_before_headers, stop_)) {
      abandoned_++;
      finish(fd, false);
      return;
    }
    if (b.fault == Behavior::Fault::close_before_headers) {
      finish(fd, false);
      return;
    }
    std::string out = "HTTP/1.1 " + std::to_string(b.status) + " " + reason(b.status) + "\r\n";
    for (auto& [k, v] : b.headers) out += k + ": " + v + "\r\n";
    if (b.close_after) out += "Connection: close\r\n";
    bool chunked = !b.chunks.empty();
    if (chunked) {
      out += "Transfer-Encoding: chunked\r\n\r\n";
    } else {
      out += "Content-Length: " + std::to_string(b.body.size()) + "\r\n\r\n" + b.body;
    }
    if (!send_all(fd, out)) {
      finish(fd, false);
      return;
    }
    if (chunked) {
      for (std::size_t i = 0; i < b.chunks.size(); ++i) {
        if (i == b.fault_after_chunks && b.fault == Behavior::Fault::reset_mid_body) {
          finish(fd, true);
          return;
        }
        if (i == b.fault_after_chunks && b.fault == Behavior::Fault::hang_mid_body) {
          if (!sleep_watching(fd, std::chrono::hours(1), stop_)) abandoned_++;
          finish(fd, false);
          return;
        }
        if (i > 0 && b.delay_between_chunks.count() > 0 &&
            !sleep_watching(fd, b.delay_between_chunks, stop_)) {
          abandoned_++;
          finish(fd, false);
          return;
        }
        char size[20];
        std::snprintf(size, sizeof size, "%zx\r\n", b.chunks[i].size());
        if (!send_all(fd, size + b.chunks[i] + "\r\n")) {
          abandoned_++;
          finish(fd, false);
          return;
        }
      }
      if (!send_all(fd, "0\r\n\r\n")) {
        finish(fd, false);
        return;
      }
    }
    if (b.close_after || b.drop_after) {
      finish(fd, false);
      return;
    }
  }
}

Behavior completion(const std::string& content) {
  Behavior b;
  b.body = R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":")" +
           content + R"("},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}})";
  return b;
}

Behavior failing(int status, const std::string& message) {
  Behavior b;
  b.status = status;
  b.body = R"({"error":{"message":")" + message + R"(","type":"server_error"}})";
  return b;
}

}  // namespace sbtest
