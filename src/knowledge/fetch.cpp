#include "knowledge/fetch.hpp"

#include <memory>

#include "http/client.hpp"

namespace sb::knowledge {

using boost::asio::awaitable;
using core::Error;
using core::ErrorKind;

namespace {

Error bad_url(const std::string& why) { return Error(ErrorKind::invalid_field, why, "url"); }
Error unfetchable(const std::string& why) { return Error(ErrorKind::unprocessable, why, "url"); }

// Resolves a Location header against the URL it came from.
std::string resolve(const http::Url& base, const std::string& location) {
  if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0) return location;
  std::string origin = base.scheme + "://" + base.host;
  const bool default_port = (base.scheme == "http" && base.port == 80) || (base.scheme == "https" && base.port == 443);
  if (!default_port) origin += ":" + std::to_string(base.port);
  if (location.rfind("//", 0) == 0) return base.scheme + ":" + location;
  if (!location.empty() && location[0] == '/') return origin + location;
  const auto slash = base.target.rfind('/', base.target.find('?'));
  return origin + base.target.substr(0, slash == std::string::npos ? 0 : slash + 1) + location;
}

}  // namespace

awaitable<core::Result<Fetched>> fetch_url(http::Client& client, std::string url, const UrlOptions& options) {
  for (int hop = 0; hop <= 5; ++hop) {
    auto parsed = http::parse_url(url);
    if (!parsed) co_return bad_url("'url' must be an http:// or https:// URL");
    if (!options.allow_private && http::names_private_host(parsed->host)) {
      co_return bad_url("'url' points to a loopback or private address, which is refused (knowledge.url_allow_private)");
    }
    http::ClientRequest req;
    req.url = url;
    req.public_only = !options.allow_private;
    req.timeouts.connect = options.timeout;
    req.timeouts.first_byte = options.timeout;
    req.timeouts.idle = options.timeout;
    req.headers.emplace_back("Accept", "text/html, text/markdown, text/plain, application/pdf, */*;q=0.5");
    auto body = std::make_shared<std::string>();
    auto too_big = std::make_shared<bool>(false);
    const auto limit = static_cast<std::size_t>(options.max_bytes);
    auto on_head = [](const http::ClientResponse&) {};
    auto on_data = [body, too_big, limit](std::string_view piece) -> awaitable<bool> {
      if (body->size() + piece.size() > limit) {
        *too_big = true;
        co_return false;
      }
      body->append(piece);
      co_return true;
    };
    auto r = co_await client.stream(std::move(req), std::move(on_head), std::move(on_data));
    if (*too_big) {
      co_return Error(ErrorKind::payload_too_large,
                      "the document at 'url' is larger than " + std::to_string(limit) +
                          " bytes (knowledge.max_document_bytes)",
                      "url");
    }
    if (!r) {
      const Error& e = r.error();
      if (e.kind == ErrorKind::forbidden) {
        co_return bad_url("'url' resolves to a loopback or private address, which is refused (knowledge.url_allow_private)");
      }
      co_return unfetchable("could not fetch 'url': " + e.message);
    }
    if (r->status >= 300 && r->status < 400) {
      const std::string location(r->header("location"));
      if (location.empty()) co_return unfetchable("'url' answered " + std::to_string(r->status) + " without a Location");
      url = resolve(*parsed, location);
      continue;
    }
    if (r->status < 200 || r->status >= 300) {
      co_return unfetchable("'url' answered HTTP " + std::to_string(r->status));
    }
    Fetched out;
    out.content_type = std::string(r->header("content-type"));
    std::string path = parsed->target.substr(0, parsed->target.find('?'));
    out.filename = path.substr(path.rfind('/') + 1);
    out.body = std::move(*body);
    co_return out;
  }
  co_return unfetchable("'url' redirected more than 5 times");
}

}  // namespace sb::knowledge
