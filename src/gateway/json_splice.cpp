#include "gateway/json_splice.hpp"

#include <boost/json/parse.hpp>

#include <cstring>

#include "core/log.hpp"

namespace sb::gateway {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_space(std::string_view s, std::size_t i) {
  while (i < s.size() && is_space(s[i])) ++i;
  return i;
}

// REQUIRES: s[i] == '"'. The index just past the closing quote: the next quote not escaped
// (preceded by an even number of backslashes), found with memchr (most of a body is strings).
std::size_t skip_string(std::string_view s, std::size_t i) {
  ++i;
  while (i < s.size()) {
    const void* q = std::memchr(s.data() + i, '"', s.size() - i);
    if (!q) return s.size();
    const std::size_t at = static_cast<std::size_t>(static_cast<const char*>(q) - s.data());
    std::size_t b = at;
    while (b > i && s[b - 1] == '\\') --b;
    if ((at - b) % 2 == 0) return at + 1;
    i = at + 1;  // an escaped quote
  }
  return s.size();
}

// The index just past the value that starts at i (valid JSON).
std::size_t skip_value(std::string_view s, std::size_t i) {
  if (i >= s.size()) return i;
  if (s[i] == '"') return skip_string(s, i);
  if (s[i] == '{' || s[i] == '[') {
    int depth = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '"') {
        i = skip_string(s, i);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return i;
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && !is_space(s[i])) ++i;
  return i;
}

// Whether the key token (quotes included) spells "model", escapes decoded.
bool is_model_key(std::string_view token) {
  if (token == "\"model\"") return true;
  if (token.find('\\') == std::string_view::npos) return false;
  boost::system::error_code ec;
  auto v = boost::json::parse(token, ec);
  return !ec && v.is_string() && v.get_string() == "model";
}

// Every top-level "model" value's span, in order: at most `limit` (the scan stops there).
// found = how many were seen.
std::optional<Span> find_model(std::string_view s, int limit, int& found) {
  found = 0;
  std::optional<Span> span;
  std::size_t i = skip_space(s, 0);
  if (i >= s.size() || s[i] != '{') return std::nullopt;
  i = skip_space(s, i + 1);
  while (i < s.size() && s[i] == '"') {
    const std::size_t key_end = skip_string(s, i);
    const bool is_model = is_model_key(s.substr(i, key_end - i));
    i = skip_space(s, key_end);
    if (i >= s.size() || s[i] != ':') return std::nullopt;
    const std::size_t value = skip_space(s, i + 1);
    i = skip_value(s, value);
    if (is_model) {
      span = Span{value, i};
      if (++found == limit) break;
    }
    i = skip_space(s, i);
    if (i < s.size() && s[i] == ',') i = skip_space(s, i + 1);
  }
  return span;
}

}  // namespace

std::optional<std::string> splice_model(std::string_view s, std::string_view model) {
  int found = 0;
  auto span = find_model(s, 2, found);
  if (!span || found != 1) return std::nullopt;
  std::string out;
  out.reserve(s.size() + model.size());
  out.append(s.substr(0, span->begin));
  core::log::append_json_string(out, model);
  out.append(s.substr(span->end));
  return out;
}

std::optional<Span> first_model(std::string_view json) {
  int found = 0;
  return find_model(json, 1, found);
}

bool rename_model(std::string& json, std::string_view model) {
  auto span = first_model(json);
  if (!span) return false;
  std::string quoted;
  core::log::append_json_string(quoted, model);
  json.replace(span->begin, span->end - span->begin, quoted);
  return true;
}

void append_renamed(std::string& out, std::string_view json, std::string_view model) {
  auto span = first_model(json);
  if (!span) {
    out.append(json);
    return;
  }
  out.append(json.substr(0, span->begin));
  core::log::append_json_string(out, model);
  out.append(json.substr(span->end));
}

}  // namespace sb::gateway
