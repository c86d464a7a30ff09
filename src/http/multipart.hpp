#pragma once
// multipart/form-data request bodies (RFC 7578): the parts, each with its field name, file name
// and content type. Part bodies are views into the request body.

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace sb::http {

struct FormPart {
  std::string name;
  std::string filename;      // "" when the part is not a file
  std::string content_type;  // "" when the part did not say
  std::string_view body;
};

// Whether a content type is multipart/form-data (with or without its boundary parameter).
bool is_multipart_form(std::string_view content_type);
// The boundary of a "multipart/form-data; boundary=..." content type, or "" when it has none.
std::string multipart_boundary(std::string_view content_type);

// Errors: bad_request naming what is malformed (no boundary, unterminated body or part headers).
core::Result<std::vector<FormPart>> parse_multipart(std::string_view body, std::string_view boundary);

}  // namespace sb::http
