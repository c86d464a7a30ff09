#pragma once
// A fake upstream provider that tests control: an HTTP/1.1 server on 127.0.0.1:0 (raw sockets,
// a thread per connection) that answers each request with the next scripted Behavior and can
// fail in every way a real provider does: an error status, a slow first byte, a connection
// closed before the headers, a reset or a stall in the middle of a streamed body, a huge body.

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sbtest {

struct Behavior {
  enum class Fault { none, close_before_headers, reset_mid_body, hang_mid_body };

  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "application/json"}};
  std::string body = R"({"ok":true})";
  // When non-empty: sent with chunked encoding, one chunk per element, delay_between_chunks apart.
  std::vector<std::string> chunks;
  std::chrono::milliseconds delay_before_headers{0};
  std::chrono::milliseconds delay_between_chunks{0};
  Fault fault = Fault::none;
  std::size_t fault_after_chunks = 0;  // chunks sent before the fault (reset/hang)
  bool close_after = false;             // Connection: close
  bool drop_after = false;              // close after answering, without saying so (stale pool)
};

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
};

// An OpenAI chat.completion answer with `content` (usage: 3 prompt, 4 completion tokens).
Behavior completion(const std::string& content);
// An error answer in the OpenAI envelope.
Behavior failing(int status, const std::string& message = "upstream broke");

class FakeUpstream {
 public:
  FakeUpstream();
  ~FakeUpstream();
  FakeUpstream(const FakeUpstream&) = delete;
  FakeUpstream& operator=(const FakeUpstream&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Scripts the next responses, in order; when the script is empty, the default answers.
  void push(Behavior b);
  void set_default(Behavior b);

  std::vector<ReceivedRequest> received();
  int connections() const { return connections_.load(); }
  // Connections whose peer went away while a response was being held back or streamed.
  int abandoned() const { return abandoned_.load(); }

 private:
  void accept_loop();
  void serve(int fd);
  Behavior next();
  void finish(int fd, bool reset);

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> abandoned_{0};
  std::mutex mu_;  // guards script_, default_, received_, fds_
  std::deque<Behavior> script_;
  Behavior default_;
  std::vector<ReceivedRequest> received_;
  std::vector<int> fds_;
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

}  // namespace sbtest
