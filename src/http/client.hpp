#pragma once
// Outbound HTTP/1.1 client for providers, webhooks and URL ingestion: async on the caller's
// io_context, TLS with certificate and host-name verification (system CA store, or an extra CA
// file), a keep-alive pool per scheme/host/port, connect / first-byte / idle timeouts, responses
// bounded in size, and bodies that can be consumed as they arrive (for SSE).
// Beast and OpenSSL stay inside client.cpp.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/cancel.hpp"
#include "core/error.hpp"
#include "http/address.hpp"

namespace sb::http {

struct Url {
  std::string scheme;  // "http" | "https"
  std::string host;
  std::uint16_t port = 0;
  std::string target;  // path and query, at least "/"
};
// Accepts http:// and https:// URLs with an optional port; anything else is invalid_field.
core::Result<Url> parse_url(std::string_view url);

struct ClientTimeouts {
  std::chrono::milliseconds connect{10000};     // DNS + TCP + TLS handshake
  std::chrono::milliseconds first_byte{60000};  // request sent -> response headers
  std::chrono::milliseconds idle{60000};        // longest silence while reading the body
  // When the whole answer must have arrived (a fetch) or its first body bytes (a stream):
  // a request's deadline, so an upstream dripping its body cannot hold it past that.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

struct ClientRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  ClientTimeouts timeouts;
  // When it fires, the exchange stops and its connection is dropped (error: upstream_error,
  // "cancelled").
  std::shared_ptr<core::CancelSignal> cancel;
  // Refuse to connect to loopback, private, link-local and other non-public addresses (checked
  // on the resolved addresses, so a name pointing inside is refused too): for URLs that users
  // supply (webhooks, documents). Error: forbidden.
  bool public_only = false;
};


struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // empty when the body was streamed to a sink
  // Case-insensitive; empty when absent.
  std::string_view header(std::string_view name) const;
};

struct ClientOptions {
  std::size_t max_response_bytes = 64 * 1024 * 1024;
  std::size_t max_idle_per_host = 512;
  std::chrono::milliseconds pool_idle_timeout{30000};  // pooled connections older are dropped
  std::string ca_file;  // extra trusted CAs (PEM); the system store is always used
  std::string user_agent = "switchboard";
  // https:// requests go through this HTTP proxy with CONNECT ("http://[user:pass@]host:port"),
  // except for hosts matching no_proxy (comma-separated names, ".suffix" or "*"). Empty = direct.
  std::string https_proxy;
  std::string no_proxy;
};

// The request as it goes on the wire: request line, headers and body in one buffer, so it
// leaves in one write. Host (with the port unless it is the scheme's default) and User-Agent
// come first; a later header replaces an earlier one of the same name, case-insensitively (so
// the caller's Host or User-Agent wins); Content-Length is the client's own, sent when there is
// a body or the method carries one; Connection and Transfer-Encoding from the caller are
// dropped (HTTP/1.1 keep-alive). A header name that is not a token, or a value holding CR, LF
// or NUL, is refused (invalid_field, naming the header but never its value).
core::Result<std::string> format_request(const ClientRequest& request, const Url& url,
                                         std::string_view user_agent);

// The proxy settings of the environment: HTTPS_PROXY / https_proxy and NO_PROXY / no_proxy.
void proxy_from_environment(ClientOptions& options);
// Whether `host` is exempt from the proxy by a NO_PROXY-style list.
bool proxy_exempt(std::string_view host, std::string_view no_proxy);

class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends the request and reads the whole response (bounded by max_response_bytes).
  // Errors: upstream_error (connect, TLS, reset, malformed, too large), upstream_timeout.
  // An HTTP error status is not an error here: it is returned as a response.
  boost::asio::awaitable<core::Result<ClientResponse>> fetch(ClientRequest request);

  // Like fetch, but hands the body over as it arrives: on_head once with status and headers,
  // then on_data per piece, awaited before reading more (backpressure). on_data returning false
  // stops reading and drops the connection (e.g. because our own client went away).
  using HeadSink = std::function<void(const ClientResponse&)>;
  using DataSink = std::function<boost::asio::awaitable<bool>(std::string_view)>;
  boost::asio::awaitable<core::Result<ClientResponse>> stream(ClientRequest request,
                                                              HeadSink on_head,
                                                              DataSink on_data);

  // Idle pooled connections now (for tests and metrics).
  std::size_t idle_connections() const;
  // Closes every idle pooled connection. Call before the io_contexts they belong to are
  // destroyed (a socket must not outlive its context).
  void close_idle();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sb::http
