#include "chat/citations.hpp"

#include <algorithm>
#include <charconv>

namespace sb::chat {
namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }

// Whether `s` (starting with '[') can still grow into "[d+(, *d+)*]".
bool may_be_marker(std::string_view s) {
  bool want_digit = true;  // after '[' or ','
  for (std::size_t i = 1; i < s.size(); ++i) {
    const char c = s[i];
    if (digit(c)) {
      want_digit = false;
    } else if (c == ',' && !want_digit) {
      want_digit = true;
    } else if (c == ' ' && want_digit && s[i - 1] == ',') {
      // ", " between numbers
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

void MarkerFilter::close(std::string& out, std::vector<int>& newly) {
  // held_ is a complete "[...]" of numbers.
  std::vector<int> keep;
  std::string_view body(held_);
  body = body.substr(1, body.size() - 2);
  while (!body.empty()) {
    while (!body.empty() && (body.front() == ',' || body.front() == ' ')) body.remove_prefix(1);
    std::size_t len = 0;
    while (len < body.size() && digit(body[len])) ++len;
    int n = 0;
    auto [end, ec] = std::from_chars(body.data(), body.data() + len, n);
    if (ec == std::errc() && n >= 1 && n <= sources_) {
      if (std::find(keep.begin(), keep.end(), n) == keep.end()) keep.push_back(n);
    } else {
      ++invented_;
    }
    body.remove_prefix(len);
  }
  held_.clear();
  if (keep.empty()) return;  // every number invented: the marker goes
  out += '[';
  for (std::size_t i = 0; i < keep.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(keep[i]);
    if (std::find(cited_.begin(), cited_.end(), keep[i]) == cited_.end()) {
      cited_.push_back(keep[i]);
      newly.push_back(keep[i]);
    }
  }
  out += ']';
}

std::string MarkerFilter::feed(std::string_view piece, std::vector<int>& newly) {
  std::string out;
  out.reserve(piece.size() + held_.size());
  for (char c : piece) {
    if (held_.empty()) {
      if (c == '[') {
        held_ = "[";
      } else {
        out += c;
      }
      continue;
    }
    if (c == ']' && held_.size() > 1 && digit(held_.back())) {
      held_ += ']';
      close(out, newly);
      continue;
    }
    held_ += c;
    if (!may_be_marker(held_) || held_.size() > kMaxMarker) {
      // Not a marker: the text as it came; a '[' in it may start one.
      std::string text = std::move(held_);
      held_.clear();
      out += text[0];
      std::string rest = feed(std::string_view(text).substr(1), newly);
      out += rest;
    }
  }
  return out;
}

std::string MarkerFilter::finish(std::vector<int>&) {
  std::string out = std::move(held_);
  held_.clear();
  return out;
}

Cleaned clean_markers(std::string_view text, int sources) {
  MarkerFilter f(sources);
  std::vector<int> newly;
  Cleaned c;
  c.text = f.feed(text, newly);
  c.text += f.finish(newly);
  c.cited = f.cited();
  c.invented = f.invented();
  return c;
}

}  // namespace sb::chat
