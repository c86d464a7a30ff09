#pragma once
// Incremental Server-Sent Events parser (WHATWG HTML "event stream interpretation"): bytes are
// fed as they arrive, split anywhere, and complete events come out; nothing but the current
// event is buffered. Lines end with CRLF, LF or CR; a line starting with ':' is a comment; a
// blank line dispatches the event (events with no data are dropped, as the spec says).

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace sb::http {

struct SseEvent {
  std::string event;  // "" = the default type, "message"
  std::string data;   // data lines joined with '\n'
  std::string id;
  std::optional<long> retry_ms;
};

class SseParser {
 public:
  using Sink = std::function<void(SseEvent&&)>;

  // An event (or a single line) larger than max_event_bytes is an error, so a hostile or broken
  // upstream cannot make the parser buffer without bound.
  explicit SseParser(std::size_t max_event_bytes = 4 * 1024 * 1024)
      : max_event_bytes_(max_event_bytes) {}

  // Feeds the next bytes; calls sink for each event they complete. After an error the parser
  // stays failed.
  core::Status feed(std::string_view bytes, const Sink& sink);

  // True when no partial line or event is pending (a clean end of stream).
  bool idle() const { return line_.empty() && data_.empty() && !has_data_ && !pending_cr_; }

 private:
  void process_line(std::string_view line, const Sink& sink);

  std::size_t max_event_bytes_;
  std::string line_;  // the current, incomplete line
  bool pending_cr_ = false;  // the last byte was CR; a following LF belongs to it
  bool bom_checked_ = false;
  bool failed_ = false;
  std::string event_;
  std::string data_;
  bool has_data_ = false;
  std::string id_;
  std::optional<long> retry_;
};

}  // namespace sb::http
