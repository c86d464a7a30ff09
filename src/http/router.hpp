#pragma once
// Maps (method, path) to a handler. Patterns are literal segments and {name} captures, and
// may end with a {name...} capture of the rest of the path (slashes included):
//   router.add("GET", "/api/v1/jobs/{id}", handler);
//   router.add("GET", "/v1/models/{id...}", handler);   // /v1/models/openrouter/openai/gpt-4o
// HEAD is served by the GET handler. The matched pattern (never the raw path) labels metrics.

#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace sb::http {

struct Route {
  std::string method;
  std::string pattern;
  std::vector<std::string> segments;  // "{name}" for a capture
  Handler handler;
  bool checked = false;  // registered behind a request schema (api::add)
};

struct Match {
  enum class Kind { found, method_not_allowed, not_found };
  Kind kind = Kind::not_found;
  const Route* route = nullptr;    // when found
  std::string_view pattern;        // the matched path pattern, when the path exists
  std::vector<std::pair<std::string_view, std::string_view>> params;
  // "GET, HEAD, POST": set when the method is not allowed, or for OPTIONS.
  std::string allow;
};

class Router {
 public:
  // REQUIRES: pattern starts with '/'; no two routes with the same method and pattern.
  // `checked`: the handler checks the request against a declared schema (see api/schema.hpp).
  void add(std::string method, std::string pattern, Handler handler, bool checked = false);
  // params in the result view into `path`.
  Match match(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace sb::http
