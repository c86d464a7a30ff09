#pragma once
// Request and Response as handlers see them: plain types, no Beast.

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/cancel.hpp"
#include "core/error.hpp"
#include "core/request_context.hpp"

namespace sb::http {

struct Header {
  std::string_view name;
  std::string_view value;
};

// A parsed request. The views point into the connection's buffers and stay valid until the
// handler's response has been written.
struct Request {
  std::string_view method;  // as sent, e.g. "GET"
  std::string_view target;  // path + query, as sent
  std::string_view path;    // before '?', not decoded
  std::string_view query_string;
  std::vector<Header> headers;
  std::string body;
  std::string request_id;
  std::vector<std::pair<std::string_view, std::string_view>> params;  // from {name} segments
  // Fired when the client disconnects before the response (not for streams: their writes fail).
  std::shared_ptr<core::CancelSignal> cancel;
  std::string_view remote_ip;  // the peer's address (a proxy's, behind one)
  // The caller as the gate admitted it (null: nobody in particular), and the meter the gateway
  // reports the request's tokens to.
  std::shared_ptr<core::RequestContext> context;

  // Case-insensitive; empty when absent.
  std::string_view header(std::string_view name) const;
  std::string_view param(std::string_view name) const;
  // Percent-decoded value of a query parameter, if present.
  std::optional<std::string> query(std::string_view name) const;
};

struct Response;

// Writes the chunks of a streamed response. The response head is held back until the first
// write, so until then the producer may still add headers, or replace the whole answer (e.g.
// with an error status when no upstream could start the stream).
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Sends data to the client now (the head first, if not sent yet). Returns false when the
  // client is gone or too slow; the producer should stop then.
  virtual boost::asio::awaitable<bool> write(std::string_view data) = 0;
  // True once anything has been sent.
  virtual bool started() const = 0;
  // Before the first write: adds a response header.
  virtual void add_header(std::string name, std::string value) = 0;
  // Before the first write: answer with `replacement` (a complete, non-streamed response)
  // instead of the stream. Ignored once started.
  virtual void replace(Response replacement) = 0;
};

using StreamProducer = std::function<boost::asio::awaitable<void>(StreamWriter&)>;

// A WebSocket connection (RFC 6455) after the upgrade; text messages. One read and one write
// (or close) may be pending at a time. Pings are answered and sent by the server.
class WebSocket {
 public:
  virtual ~WebSocket() = default;
  // The next text message; nullopt when the peer closed, the connection failed or a message was
  // over the size limit (then the connection is closed with 1009).
  virtual boost::asio::awaitable<std::optional<std::string>> read() = 0;
  // false: the connection is gone.
  virtual boost::asio::awaitable<bool> write(std::string_view text) = 0;
  // Sends a close frame (code, reason) and waits for the peer's, at most a few seconds.
  virtual boost::asio::awaitable<void> close(int code, std::string_view reason) = 0;
  // Ends the connection now, whatever is pending (call on the connection's executor).
  virtual void abort() = 0;
};

using WebSocketHandler = std::function<boost::asio::awaitable<void>(WebSocket&)>;

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is ignored: headers are sent at once, then whatever the producer writes,
  // with chunked transfer encoding.
  StreamProducer stream;
  // Close the connection after this response.
  bool close = false;
  // When set (with status 101): a WebSocket upgrade request is accepted and the handler runs on
  // the connection; a request that is not an upgrade gets 426.
  WebSocketHandler websocket;

  static Response json(int status, std::string body);
  static Response error(const core::Error& e);
  Response& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// {"error":{"message","type","param","code"}} for e.
std::string error_body(const core::Error& e);

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

// Decodes %XX and '+' (as space). Invalid escapes are kept verbatim.
std::string percent_decode(std::string_view s);

}  // namespace sb::http
