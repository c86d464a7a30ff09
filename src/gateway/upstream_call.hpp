#pragma once
// The HTTP exchange every provider adapter makes: a whole JSON answer, or a stream of
// server-sent events parsed as they arrive. Non-2xx answers become upstream_http_error;
// transport errors are prefixed with the provider's name and stripped of secrets.

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <string>
#include <string_view>

#include "core/config.hpp"
#include "core/error.hpp"
#include "http/client.hpp"

namespace sb::gateway {

// What fetch_json makes sure of before it returns a 2xx body.
enum class Answer {
  relayed,     // passed to the client as it is: must be a JSON object (else upstream_error)
  translated,  // parsed by the adapter, which judges it
};

// The body of a 2xx answer.
boost::asio::awaitable<core::Result<std::string>> fetch_json(http::Client& client,
                                                             const core::ProviderConfig& provider,
                                                             http::ClientRequest request, Answer answer);

// Calls on_event with each event's data, in order; an error from on_event stops the stream.
// `more` = another event from the same read follows.
using EventSink = std::function<boost::asio::awaitable<core::Status>(std::string_view data, bool more)>;
boost::asio::awaitable<core::Status> stream_events(http::Client& client,
                                                   const core::ProviderConfig& provider,
                                                   http::ClientRequest request,
                                                   const EventSink& on_event);

}  // namespace sb::gateway
