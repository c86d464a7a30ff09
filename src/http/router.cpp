#include "http/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace sb::http {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  // "/a/b" -> {"a","b"}; "/" -> {""}; "/a/" -> {"a",""}
  std::size_t start = 1;
  for (std::size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      out.push_back(path.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

bool is_capture(const std::string& seg) {
  return seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + pattern);
  }
  for (const auto& r : routes_) {
    if (r.method == method && r.pattern == pattern) {
      throw std::invalid_argument("duplicate route " + method + " " + pattern);
    }
  }
  Route r;
  r.method = std::move(method);
  for (auto seg : split_path(pattern)) r.segments.emplace_back(seg);
  r.pattern = std::move(pattern);
  r.handler = std::move(handler);
  routes_.push_back(std::move(r));
}

Match Router::match(std::string_view method, std::string_view path) const {
  Match out;
  if (path.empty() || path.front() != '/') return out;
  auto segs = split_path(path);
  std::string_view want = method == "HEAD" ? std::string_view("GET") : method;
  std::vector<std::string_view> allowed;
  for (const auto& r : routes_) {
    if (r.segments.size() != segs.size()) continue;
    bool ok = true;
    for (std::size_t i = 0; i < segs.size() && ok; ++i) {
      if (is_capture(r.segments[i])) {
        ok = !segs[i].empty();
      } else {
        ok = r.segments[i] == segs[i];
      }
    }
    if (!ok) continue;
    if (out.pattern.empty()) out.pattern = r.pattern;
    allowed.push_back(r.method);
    if (r.method == want && out.kind != Match::Kind::found) {
      out.kind = Match::Kind::found;
      out.route = &r;
      out.pattern = r.pattern;
      for (std::size_t i = 0; i < segs.size(); ++i) {
        if (is_capture(r.segments[i])) {
          std::string_view name(r.segments[i]);
          out.params.emplace_back(name.substr(1, name.size() - 2), segs[i]);
        }
      }
    }
  }
  if (allowed.empty()) return out;
  if (std::find(allowed.begin(), allowed.end(), "GET") != allowed.end()) allowed.push_back("HEAD");
  allowed.push_back("OPTIONS");
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  for (auto m : allowed) {
    if (!out.allow.empty()) out.allow += ", ";
    out.allow += m;
  }
  if (out.kind != Match::Kind::found) out.kind = Match::Kind::method_not_allowed;
  return out;
}

}  // namespace sb::http
