#include "http/framing.hpp"

#include <cctype>

namespace sb::http {

using core::Error;
using core::ErrorKind;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<Error> check_transfer_encoding(const std::vector<std::string_view>& values,
                                             bool has_content_length) {
  if (values.empty()) return std::nullopt;
  std::vector<std::string_view> codings;
  for (std::string_view v : values) {
    for (;;) {
      const auto comma = v.find(',');
      std::string_view item = trim(v.substr(0, comma));
      if (!item.empty()) codings.push_back(item);
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  auto bad = [](std::string what) {
    return Error(ErrorKind::bad_request, "malformed request framing: " + what, "Transfer-Encoding");
  };
  if (has_content_length) return bad("both Transfer-Encoding and Content-Length are present");
  if (codings.empty()) return bad("an empty Transfer-Encoding");
  if (!iequals(codings.back(), "chunked")) {
    return bad("the final transfer coding is not chunked");
  }
  for (std::size_t i = 0; i + 1 < codings.size(); ++i) {
    if (iequals(codings[i], "chunked")) return bad("chunked is applied more than once");
  }
  if (codings.size() > 1) {
    return Error(ErrorKind::not_implemented,
                 "transfer coding '" + std::string(codings.front()) +
                     "' is not supported: send the body with Transfer-Encoding: chunked alone",
                 "Transfer-Encoding");
  }
  return std::nullopt;
}

bool has_obs_fold(std::string_view head, bool at_line_start) {
  if (at_line_start && !head.empty() && (head.front() == ' ' || head.front() == '\t')) return true;
  // Every line after the request line that starts with a space or tab, before the blank line.
  for (std::size_t pos = head.find('\n'); pos != std::string_view::npos && pos + 1 < head.size();
       pos = head.find('\n', pos + 1)) {
    const char next = head[pos + 1];
    if (next == ' ' || next == '\t') return true;
    if (next == '\r' || next == '\n') return false;  // the blank line: the fields are over
  }
  return false;
}

std::string_view origin_form(std::string_view target) {
  std::size_t scheme = 0;
  if (target.size() >= 7 && iequals(target.substr(0, 7), "http://")) {
    scheme = 7;
  } else if (target.size() >= 8 && iequals(target.substr(0, 8), "https://")) {
    scheme = 8;
  } else {
    return target;
  }
  const auto slash = target.find_first_of("/?", scheme);
  if (slash == std::string_view::npos) return "/";
  if (target[slash] == '?') return target.substr(slash);  // "http://h?q": the path is empty
  return target.substr(slash);
}

}  // namespace sb::http
