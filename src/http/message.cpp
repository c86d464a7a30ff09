#include "http/message.hpp"

#include <strings.h>

#include "core/log.hpp"

namespace sb::http {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view Request::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return {};
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

std::optional<std::string> Request::query(std::string_view name) const {
  std::string_view q = query_string;
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    auto eq = pair.find('=');
    std::string key = percent_decode(pair.substr(0, eq));
    if (key == name) {
      return eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    }
  }
  return std::nullopt;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < s.size() &&
               hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string error_body(const core::Error& e) {
  const auto& info = core::error_info(e.kind);
  std::string out = "{\"error\":{\"message\":";
  core::log::append_json_string(out, e.message);
  out += ",\"type\":";
  core::log::append_json_string(out, info.type);
  out += ",\"param\":";
  if (e.param.empty()) {
    out += "null";
  } else {
    core::log::append_json_string(out, e.param);
  }
  out += ",\"code\":";
  core::log::append_json_string(out, info.code);
  if (!e.attempts.empty()) out += ",\"attempts\":" + e.attempts;
  out += "}}";
  return out;
}

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::error(const core::Error& e) {
  Response r;
  r.status = e.status();
  r.body = error_body(e);
  if (e.retry_after_ms >= 0) {
    r.headers.emplace_back("Retry-After", std::to_string((e.retry_after_ms + 999) / 1000));
  } else if (e.kind == core::ErrorKind::busy || e.kind == core::ErrorKind::too_many_connections ||
             e.kind == core::ErrorKind::unavailable || e.kind == core::ErrorKind::rate_limited) {
    r.headers.emplace_back("Retry-After", "1");
  }
  if (e.should_not_retry) r.headers.emplace_back("x-should-retry", "false");
  return r;
}

}  // namespace sb::http
