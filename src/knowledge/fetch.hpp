#pragma once
// Fetching a document from a URL for ingestion: GET through the outbound client, at most 5
// redirects, bounded in size and time, and (unless allowed) refusing every address that is not
// public — loopback, private, link-local — for the first URL and each redirect, on the resolved
// addresses (so a public name pointing inside is refused too).

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <string>

#include "core/error.hpp"

namespace sb::http {
class Client;
}

namespace sb::knowledge {

struct UrlOptions {
  std::int64_t max_bytes = 10 * 1024 * 1024;
  std::chrono::milliseconds timeout{15000};
  bool allow_private = false;
};

struct Fetched {
  std::string content_type;  // as the server said
  std::string filename;      // the last path segment, for type detection
  std::string body;
};

// Errors: invalid_field (param "url": not http(s), or a refused address), payload_too_large,
// unprocessable (param "url": unreachable, timed out, or a non-2xx answer).
boost::asio::awaitable<core::Result<Fetched>> fetch_url(http::Client& client, std::string url,
                                                         const UrlOptions& options);

}  // namespace sb::knowledge
