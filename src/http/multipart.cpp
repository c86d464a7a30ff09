#include "http/multipart.hpp"

#include <cctype>

namespace sb::http {

using core::Error;
using core::ErrorKind;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of `key` among "; key=value" parameters (quotes removed, \" unescaped).
std::string param(std::string_view header, std::string_view key) {
  std::size_t pos = 0;
  while ((pos = header.find(';', pos)) != std::string_view::npos) {
    ++pos;
    std::string_view rest = trim(header.substr(pos));
    auto eq = rest.find('=');
    if (eq == std::string_view::npos) continue;
    if (lower(trim(rest.substr(0, eq))) != key) continue;
    std::string_view v = trim(rest.substr(eq + 1));
    std::string out;
    if (!v.empty() && v.front() == '"') {
      for (std::size_t i = 1; i < v.size() && v[i] != '"'; ++i) {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        out += v[i];
      }
      return out;
    }
    auto end = v.find(';');
    return std::string(trim(v.substr(0, end)));
  }
  return {};
}

Error malformed(const std::string& what) {
  return Error(ErrorKind::bad_request, "malformed multipart body: " + what);
}

}  // namespace

bool is_multipart_form(std::string_view content_type) {
  return lower(trim(content_type.substr(0, content_type.find(';')))) == "multipart/form-data";
}

std::string multipart_boundary(std::string_view content_type) {
  if (!is_multipart_form(content_type)) return {};
  return param(content_type, "boundary");
}

core::Result<std::vector<FormPart>> parse_multipart(std::string_view body, std::string_view boundary) {
  if (boundary.empty() || boundary.size() > 200) return malformed("multipart/form-data needs a boundary parameter in the Content-Type (1 to 200 characters)");
  const std::string delim = "--" + std::string(boundary);
  std::size_t pos = body.find(delim);
  if (pos == std::string_view::npos) return malformed("the boundary never appears");
  pos += delim.size();
  std::vector<FormPart> parts;
  for (;;) {
    if (body.substr(pos, 2) == "--") return parts;  // the closing delimiter
    if (body.substr(pos, 2) != "\r\n") return malformed("expected CRLF after a boundary");
    pos += 2;
    const std::size_t headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string_view::npos) return malformed("part headers never end");
    FormPart part;
    std::string_view headers = body.substr(pos, headers_end - pos);
    while (!headers.empty()) {
      auto eol = headers.find("\r\n");
      std::string_view line = headers.substr(0, eol);
      headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
      auto colon = line.find(':');
      if (colon == std::string_view::npos) return malformed("a part header has no ':'");
      const std::string name = lower(trim(line.substr(0, colon)));
      std::string_view value = trim(line.substr(colon + 1));
      if (name == "content-disposition") {
        part.name = param(value, "name");
        part.filename = param(value, "filename");
      } else if (name == "content-type") {
        part.content_type = std::string(value);
      }
    }
    const std::size_t start = headers_end + 4;
    const std::size_t next = body.find("\r\n" + delim, start);
    if (next == std::string_view::npos) return malformed("a part is not terminated by the boundary");
    part.body = body.substr(start, next - start);
    if (part.name.empty()) return malformed("a part has no name");
    parts.push_back(std::move(part));
    pos = next + 2 + delim.size();
  }
}

}  // namespace sb::http
