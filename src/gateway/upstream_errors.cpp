#include <boost/json/parse.hpp>

#include <algorithm>
#include <cctype>

#include "gateway/provider.hpp"

namespace sb::gateway {

namespace json = boost::json;
using core::Error;
using core::ErrorKind;

std::string strip_secrets(std::string text, std::string_view api_key) {
  if (api_key.size() >= 4) {
    for (std::size_t p; (p = text.find(api_key)) != std::string::npos;) text.replace(p, api_key.size(), "***");
  }
  // sk-..., sk-ant-..., AIza... style keys and bearer tokens.
  auto token_end = [&](std::size_t from) {
    while (from < text.size() &&
           (std::isalnum(static_cast<unsigned char>(text[from])) || text[from] == '-' || text[from] == '_')) {
      ++from;
    }
    return from;
  };
  for (std::string_view prefix : {"sk-", "AIza", "Bearer "}) {
    std::size_t p = 0;
    while ((p = text.find(prefix, p)) != std::string::npos) {
      std::size_t start = p + prefix.size();
      std::size_t end = token_end(start);
      if (end - start >= 8) {
        text.replace(start, end - start, "***");
        p = start + 3;
      } else {
        p = end;
      }
    }
  }
  return text;
}

Error upstream_http_error(const core::ProviderConfig& provider, int status, std::string_view body,
                          std::string_view retry_after) {
  std::string message;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec) {
    // OpenAI {"error":{"message"}}, Anthropic {"error":{"message"}}, Gemini {"error":{"message"}},
    // some servers {"error":"text"} or {"message":"text"}.
    if (auto* o = v.if_object()) {
      if (auto* e = o->if_contains("error")) {
        if (e->is_string()) message = std::string(e->get_string());
        if (auto* eo = e->if_object()) {
          if (auto* m = eo->if_contains("message"); m && m->is_string()) message = std::string(m->get_string());
        }
      } else if (auto* m = o->if_contains("message"); m && m->is_string()) {
        message = std::string(m->get_string());
      }
    }
  }
  if (message.empty()) message = std::string(body.substr(0, 300));
  message = strip_secrets(message, provider.api_key);
  std::string text = "upstream " + provider.name + " answered " + std::to_string(status) +
                     (message.empty() ? "" : ": " + message);
  Error e;
  e.message = std::move(text);
  e.where = "gateway";
  e.upstream_status = status;
  if (status == 401 || status == 403) {
    e.kind = ErrorKind::forbidden;  // not retryable: another try gets the same answer
    e.http_status = 502;
    e.message += " (check the provider's API key)";
  } else if (status == 429) {
    e.kind = ErrorKind::rate_limited;
  } else if (status == 408) {
    e.kind = ErrorKind::upstream_timeout;
  } else if (status == 409 || status >= 500) {
    e.kind = ErrorKind::upstream_error;
  } else {
    e.kind = ErrorKind::unprocessable;
    e.http_status = status >= 400 && status < 500 ? status : 502;
  }
  if (!retry_after.empty()) {
    try {
      double secs = std::stod(std::string(retry_after));
      if (secs >= 0 && secs < 86400) e.retry_after_ms = static_cast<int>(secs * 1000);
    } catch (...) {
      // An HTTP date: not honoured (rare from LLM APIs).
    }
  }
  return e;
}

bool counts_as_failure(const Error& e) {
  return e.kind == ErrorKind::upstream_error || e.kind == ErrorKind::upstream_timeout ||
         e.kind == ErrorKind::rate_limited || e.kind == ErrorKind::busy ||
         e.kind == ErrorKind::unavailable;
}

bool retryable(const Error& e, bool auth_errors) {
  if (auth_errors && (e.upstream_status == 401 || e.upstream_status == 403)) return true;
  return counts_as_failure(e);
}

AttemptTimeouts attempt_timeouts(const core::ProviderConfig& provider,
                                 std::chrono::steady_clock::time_point deadline) {
  using std::chrono::milliseconds;
  milliseconds timeout(provider.timeout_ms);
  milliseconds left = timeout;
  if (deadline != std::chrono::steady_clock::time_point::max()) {
    left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    left = std::clamp(left, milliseconds(1), timeout);
  }
  return {std::min(left, milliseconds(10000)), left, timeout, deadline};
}

boost::asio::awaitable<core::Result<EmbedResult>> Provider::embeddings(const EmbedCall& call) {
  co_return Error(ErrorKind::invalid_field,
                  "provider " + config().name + " (type " + config().type +
                      ") does not serve embeddings; model " + call.model,
                  "model");
}

namespace {
core::Error no_completions(const core::ProviderConfig& p) {
  return Error(ErrorKind::invalid_field,
               "provider " + p.name + " (type " + p.type +
                   ") has no legacy completions API: send the prompt as a message to /v1/chat/completions",
               "model");
}
}  // namespace

boost::asio::awaitable<core::Result<ChatResult>> Provider::completions(const ChatCall&) {
  co_return no_completions(config());
}

boost::asio::awaitable<core::Status> Provider::completions_stream(const ChatCall&, const ChunkSink&) {
  co_return no_completions(config());
}

}  // namespace sb::gateway
