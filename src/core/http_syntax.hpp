#pragma once
// HTTP/1.1 field syntax shared by the configuration, the server and the outbound client.

#include <cstring>
#include <string_view>

namespace sb::core {

// A token (RFC 9110, section 5.6.2): what header names and methods are made of.
inline bool is_http_token(std::string_view s) {
  if (s.empty()) return false;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    const bool alnum = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(ch) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// Whether a header value holds CR, LF or NUL, which would split or end the head.
// (memchr scans: find_first_of would call memchr once per character.)
inline bool breaks_header(std::string_view v) {
  return std::memchr(v.data(), '\r', v.size()) || std::memchr(v.data(), '\n', v.size()) ||
         std::memchr(v.data(), '\0', v.size());
}

}  // namespace sb::core
