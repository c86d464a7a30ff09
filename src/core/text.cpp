#include "core/text.hpp"

#include <cstdint>
#include <cstring>

namespace sb::core {

namespace {

// What a lead byte allows: the sequence length and the range of the byte after it (0 when c
// cannot start a sequence).
struct Lead {
  std::size_t length;
  unsigned char lo, hi;
};

Lead lead_of(unsigned char c) {
  if (c < 0x80) return {1, 0, 0};
  if (c >= 0xc2 && c <= 0xdf) return {2, 0x80, 0xbf};
  if (c == 0xe0) return {3, 0xa0, 0xbf};  // no overlong forms
  if (c == 0xed) return {3, 0x80, 0x9f};  // no surrogates
  if (c >= 0xe1 && c <= 0xef) return {3, 0x80, 0xbf};
  if (c == 0xf0) return {4, 0x90, 0xbf};
  if (c >= 0xf1 && c <= 0xf3) return {4, 0x80, 0xbf};
  if (c == 0xf4) return {4, 0x80, 0x8f};  // nothing above U+10FFFF
  return {0, 0, 0};
}

// How many bytes from s[i] on fit the sequence its lead byte starts: its whole length when the
// sequence is valid; for an invalid one, the maximal subpart that one U+FFFD replaces.
std::size_t matched(std::string_view s, std::size_t i, const Lead& lead) {
  std::size_t k = 1;
  while (k < lead.length && i + k < s.size()) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    const unsigned char lo = k == 1 ? lead.lo : 0x80, hi = k == 1 ? lead.hi : 0xbf;
    if (d < lo || d > hi) break;
    ++k;
  }
  return k;
}

// The length of the valid UTF-8 sequence at s[i], or 0 when there is none.
std::size_t sequence_at(std::string_view s, std::size_t i) {
  const Lead lead = lead_of(static_cast<unsigned char>(s[i]));
  if (lead.length <= 1) return lead.length;
  return matched(s, i, lead) == lead.length ? lead.length : 0;
}

// The bytes one U+FFFD replaces at an invalid sequence starting at s[i].
std::size_t invalid_length(std::string_view s, std::size_t i) {
  const Lead lead = lead_of(static_cast<unsigned char>(s[i]));
  return lead.length == 0 ? 1 : matched(s, i, lead);
}

}  // namespace

std::size_t valid_utf8_prefix(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    // Eight ASCII bytes at a time.
    while (i + 8 <= s.size()) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= s.size()) break;
    const std::size_t n = sequence_at(s, i);
    if (n == 0) return i;
    i += n;
  }
  return s.size();
}

std::size_t repair_utf8(std::string& s) {
  std::size_t first = valid_utf8_prefix(s);
  if (first == s.size()) return 0;
  std::string out(s.substr(0, first));
  out.reserve(s.size() + 16);
  std::size_t replaced = 0;
  std::size_t i = first;
  while (i < s.size()) {
    const std::size_t n = sequence_at(s, i);
    if (n > 0) {
      out.append(s, i, n);
      i += n;
      continue;
    }
    out += "\xef\xbf\xbd";
    ++replaced;
    i += invalid_length(s, i);
  }
  s = std::move(out);
  return replaced;
}

std::string_view utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t end = max;
  // Back up over continuation bytes to the start of the sequence cut by max.
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xc0) == 0x80) --end;
  return s.substr(0, end);
}

bool has_control_chars(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return true;
    // C1 controls U+0080..U+009F are encoded as C2 80..C2 9F.
    if (c == 0xc2 && i + 1 < s.size()) {
      const auto d = static_cast<unsigned char>(s[i + 1]);
      if (d >= 0x80 && d <= 0x9f) return true;
    }
  }
  return false;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

std::string_view trim_space(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::size_t utf8_chars(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace sb::core
