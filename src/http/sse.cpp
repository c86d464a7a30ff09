#include "http/sse.hpp"

#include <charconv>

namespace sb::http {

core::Status SseParser::feed(std::string_view bytes, const Sink& sink) {
  if (failed_) return core::Error(core::ErrorKind::upstream_error, "SSE stream already failed");
  if (!bom_checked_ && !bytes.empty()) {
    // A UTF-8 BOM may start the stream; it can itself arrive split.
    static constexpr std::string_view kBom = "\xEF\xBB\xBF";
    std::size_t have = line_.size();
    std::size_t take = std::min(bytes.size(), kBom.size() - have);
    if (kBom.substr(have, take) == bytes.substr(0, take)) {
      if (have + take == kBom.size()) {
        line_.clear();
        bytes.remove_prefix(take);
        bom_checked_ = true;
      } else {
        line_.append(bytes.substr(0, take));  // keep the partial BOM until it is complete
        return {};
      }
    } else {
      bom_checked_ = true;  // not a BOM: whatever was held is ordinary line content
    }
  }
  std::size_t start = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (c != '\n' && c != '\r') {
      pending_cr_ = false;
      continue;
    }
    if (c == '\n' && pending_cr_ && i == start) {
      // The LF of a CRLF whose CR ended the previous piece (or line).
      pending_cr_ = false;
      start = i + 1;
      continue;
    }
    pending_cr_ = c == '\r';
    if (line_.empty()) {
      process_line(bytes.substr(start, i - start), sink);
    } else {
      line_.append(bytes.substr(start, i - start));
      process_line(line_, sink);
      line_.clear();
    }
    start = i + 1;
  }
  line_.append(bytes.substr(start));
  if (line_.size() + data_.size() > max_event_bytes_) {
    failed_ = true;
    return core::Error(core::ErrorKind::upstream_error,
                       "SSE event exceeds " + std::to_string(max_event_bytes_) + " bytes");
  }
  return {};
}

void SseParser::process_line(std::string_view line, const Sink& sink) {
  if (line.empty()) {
    if (has_data_) {
      SseEvent ev{std::move(event_), std::move(data_), id_, retry_};
      retry_.reset();
      sink(std::move(ev));
    }
    event_.clear();
    data_.clear();
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;  // comment
  auto colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) id_.assign(value);
  } else if (field == "retry") {
    long v = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec == std::errc() && p == value.data() + value.size()) retry_ = v;
  }
}

}  // namespace sb::http
