#include "gateway/upstream_call.hpp"

#include <vector>

#include "core/log.hpp"
#include "core/text.hpp"
#include "gateway/json_check.hpp"
#include "gateway/provider.hpp"
#include "gateway/recorder.hpp"
#include "http/sse.hpp"

namespace sb::gateway {

using boost::asio::awaitable;

namespace {

core::Error tag(const core::ProviderConfig& provider, core::Error e) {
  e.message = "upstream " + provider.name + ": " + strip_secrets(e.message, provider.api_key);
  return e;
}

}  // namespace

awaitable<core::Result<std::string>> fetch_json(http::Client& client, const core::ProviderConfig& provider,
                                                http::ClientRequest request, Answer answer) {
  Recording rec = start_recording(provider, request);
  auto res = co_await client.fetch(std::move(request));
  if (rec.provider) {
    if (res) {
      record_response(rec, *res);
      record_body(rec, res->body);
    } else {
      rec.error = res.error().message;
    }
    finish_recording(rec);
  }
  if (!res) co_return tag(provider, std::move(res).error());
  if (res->status / 100 != 2) {
    co_return upstream_http_error(provider, res->status, res->body, res->header("retry-after"));
  }
  if (answer == Answer::relayed && !is_json_object(res->body)) {
    // Never relayed: it is not the provider's format, and it may hold anything (an echoed key).
    core::log::warn("upstream answer is not a JSON object",
                    {{"provider", provider.name},
                     {"status", res->status},
                     {"bytes", static_cast<long long>(res->body.size())},
                     {"body", strip_secrets(std::string(core::utf8_prefix(res->body, 200)), provider.api_key)}});
    core::Error e(core::ErrorKind::upstream_error,
                  "upstream " + provider.name + " answered " + std::to_string(res->status) +
                      " with a body that is not a JSON object",
                  {}, "gateway");
    e.upstream_status = res->status;
    co_return e;
  }
  co_return std::move(res->body);
}

awaitable<core::Status> stream_events(http::Client& client, const core::ProviderConfig& provider,
                                      http::ClientRequest request, const EventSink& on_event) {
  int status = 0;
  std::string retry_after;
  std::string error_body;
  http::SseParser parser;
  core::Status failure;
  std::vector<std::string> events;
  std::size_t chunks = 0;  // events other than [DONE]
  Recording rec = start_recording(provider, request);
  auto res = co_await client.stream(
      std::move(request),
      [&](const http::ClientResponse& head) {
        status = head.status;
        retry_after = std::string(head.header("retry-after"));
        record_response(rec, head);
      },
      [&](std::string_view data) -> awaitable<bool> {
        if (status / 100 != 2) {
          if (error_body.size() < 65536) error_body.append(data);
          co_return true;
        }
        events.clear();
        auto st = parser.feed(data, [&](http::SseEvent&& e) {
          add_event(rec, e.data);
          events.push_back(std::move(e.data));
        });
        if (!st) {
          failure = tag(provider, std::move(st).error());
          co_return false;
        }
        for (std::size_t i = 0; i < events.size(); ++i) {
          if (events[i] != "[DONE]") ++chunks;
          auto r = co_await on_event(events[i], i + 1 < events.size());
          if (!r) {
            failure = std::move(r).error();
            co_return false;
          }
        }
        co_return true;
      });
  if (rec.provider) {
    if (!res) rec.error = res.error().message;
    if (!failure) rec.error = failure.error().message;
    if (status / 100 != 2) record_body(rec, error_body);
    finish_recording(rec);
  }
  if (!failure) co_return failure;
  if (!res) co_return tag(provider, std::move(res).error());
  if (status / 100 != 2) co_return upstream_http_error(provider, status, error_body, retry_after);
  if (chunks == 0) {
    core::Error e(core::ErrorKind::upstream_error,
                  "upstream " + provider.name + " answered " + std::to_string(status) +
                      " with a stream that carried no events",
                  {}, "gateway");
    e.upstream_status = status;
    co_return e;
  }
  co_return core::Status{};
}

}  // namespace sb::gateway
