#pragma once
// Request framing rules of RFC 9112 that Beast's parser leaves to us: which Transfer-Encoding
// values are accepted, obsolete line folding, and the absolute form of a request target.

#include <optional>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace sb::http {

// The body framing of a request whose head carried these Transfer-Encoding field values (one
// per field line) and, or not, a Content-Length. Accepted: no Transfer-Encoding, or exactly one
// coding, "chunked", without Content-Length. Otherwise an error: 400 when the final coding is
// not chunked, chunked is repeated or Content-Length is also present (RFC 9112 section 6.3:
// the framing cannot be trusted; the connection must close), 501 for a coding before chunked
// that we do not decode (section 6.1).
std::optional<core::Error> check_transfer_encoding(const std::vector<std::string_view>& values,
                                                   bool has_content_length);

// Whether raw bytes of a request head (request line, fields, blank line) continue a field line
// on the next line (obs-fold, RFC 9112 section 5.2), which a server must refuse or replace.
// at_line_start: the bytes before these ended a line (the head arrives in pieces).
bool has_obs_fold(std::string_view head, bool at_line_start = false);

// The origin form ("/path?query") of a request target in absolute form ("http://host/path"),
// which a server must accept (RFC 9112 section 3.2.2); other targets as they are.
std::string_view origin_form(std::string_view target);

}  // namespace sb::http
