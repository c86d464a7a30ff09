#pragma once
// A client of an MCP server over Streamable HTTP ([[tools]] type = "mcp"): initialize (then the
// initialized notification), tools/list, tools/call — JSON-RPC 2.0 POSTed to the server's URL,
// the answer read as JSON or as server-sent events carrying it; the session id and the
// negotiated protocol version sent back on every later request. Bounded in time and size by the
// outbound client; private addresses refused unless the tool allows them.

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>

#include "core/config.hpp"
#include "core/error.hpp"
#include "http/client.hpp"

namespace sb::workflows {

class McpSession {
 public:
  // The client and tool must outlive the session.
  McpSession(http::Client& client, const core::ToolConfig& tool) : client_(client), tool_(tool) {}

  boost::asio::awaitable<core::Status> open();
  // The server's tools: [{name, description, inputSchema}].
  boost::asio::awaitable<core::Result<boost::json::array>> list_tools();
  struct Called {
    std::string text;  // the text content, joined
    bool error = false;  // isError
  };
  boost::asio::awaitable<core::Result<Called>> call(std::string name, boost::json::object arguments);

 private:
  // (method: a literal; a std::string temporary in a co_await is what GCC 12 mishandles)
  boost::asio::awaitable<core::Result<boost::json::value>> rpc(const char* method, boost::json::object params,
                                                               bool notification);
  http::Client& client_;
  const core::ToolConfig& tool_;
  std::string session_id_, version_;
  long long next_id_ = 1;
  bool open_ = false;
};

// The JSON-RPC response with `id` in an HTTP answer (JSON, or SSE events); errors say why.
core::Result<boost::json::value> mcp_response(std::string_view content_type, std::string_view body, long long id);

}  // namespace sb::workflows
