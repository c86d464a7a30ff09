#pragma once
// Text hygiene: UTF-8 validation and repair, and the syntax of names and identifiers.

#include <cstddef>
#include <string>
#include <string_view>

namespace sb::core {

// The length of the longest valid UTF-8 prefix of s (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF).
std::size_t valid_utf8_prefix(std::string_view s);
inline bool is_valid_utf8(std::string_view s) { return valid_utf8_prefix(s) == s.size(); }

// Replaces each maximal invalid subsequence with U+FFFD (as the WHATWG decoder does) in place;
// returns how many were replaced.
std::size_t repair_utf8(std::string& s);

// s cut to at most max bytes, never inside a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view s, std::size_t max);

// ASCII letters lowered (other bytes as they are).
std::string ascii_lower(std::string_view s);
// s without leading and trailing ASCII white space.
std::string_view trim_space(std::string_view s);
// The number of UTF-8 code points in s (continuation bytes not counted).
std::size_t utf8_chars(std::string_view s);

// Whether s holds a control character (C0, DEL or C1), which no name, id or model may.
bool has_control_chars(std::string_view s);

}  // namespace sb::core
