#include "http/router.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace sb::http {
namespace {

// Splits "/a/b" into {"a","b"} ("/" -> {""}, "/a/" -> {"a",""}) into `out`; false when there
// are more than kMaxSegments segments.
constexpr std::size_t kMaxSegments = 16;
struct Segments {
  std::array<std::string_view, kMaxSegments> items;
  std::size_t size = 0;
};

bool split_path(std::string_view path, Segments& out) {
  std::size_t start = 1;
  for (std::size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (out.size == kMaxSegments) return false;
      out.items[out.size++] = path.substr(start, i - start);
      start = i + 1;
    }
  }
  return true;
}

bool is_capture(const std::string& seg) {
  return seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
}

// "{name...}": a last segment that captures the rest of the path, slashes included.
bool is_rest_capture(const std::string& seg) { return is_capture(seg) && seg.ends_with("...}"); }

bool path_matches(const Route& r, const Segments& segs) {
  const bool rest = !r.segments.empty() && is_rest_capture(r.segments.back());
  if (rest ? segs.size < r.segments.size() : r.segments.size() != segs.size) return false;
  for (std::size_t i = 0; i < r.segments.size(); ++i) {
    if (is_capture(r.segments[i])) {
      if (segs.items[i].empty()) return false;
    } else if (r.segments[i] != segs.items[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler, bool checked) {
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
  Segments segs;
  if (!split_path(pattern, segs)) throw std::invalid_argument("route pattern too deep: " + pattern);
  for (std::size_t i = 0; i < segs.size; ++i) r.segments.emplace_back(segs.items[i]);
  r.pattern = std::move(pattern);
  r.handler = std::move(handler);
  r.checked = checked;
  routes_.push_back(std::move(r));
}

Match Router::match(std::string_view method, std::string_view path) const {
  Match out;
  if (path.empty() || path.front() != '/') return out;
  Segments segs;
  if (!split_path(path, segs)) return out;
  std::string_view want = method == "HEAD" ? std::string_view("GET") : method;
  // First pass: find the route; the Allow list is built only when it is needed.
  bool path_exists = false;
  for (const auto& r : routes_) {
    if (!path_matches(r, segs)) continue;
    path_exists = true;
    if (out.pattern.empty()) out.pattern = r.pattern;
    if (r.method == want) {
      out.kind = Match::Kind::found;
      out.route = &r;
      out.pattern = r.pattern;
      for (std::size_t i = 0; i < r.segments.size(); ++i) {
        if (!is_capture(r.segments[i])) continue;
        std::string_view name(r.segments[i]);
        std::string_view value = segs.items[i];
        if (is_rest_capture(r.segments[i])) {
          name.remove_suffix(3);
          const std::string_view last = segs.items[segs.size - 1];
          value = std::string_view(value.data(), static_cast<std::size_t>(last.data() + last.size() - value.data()));
        }
        out.params.emplace_back(name.substr(1, name.size() - 2), value);
      }
      break;
    }
  }
  if (!path_exists) return out;
  if (out.kind == Match::Kind::found && method != "OPTIONS") return out;
  std::vector<std::string_view> allowed;
  for (const auto& r : routes_) {
    if (path_matches(r, segs)) allowed.push_back(r.method);
  }
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
