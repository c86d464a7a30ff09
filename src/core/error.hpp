#pragma once
// Error values and Result<T>: expected failures travel as values, never as exceptions.
// One table (error.cpp) maps each ErrorKind to one HTTP status, one OpenAI error `type` and a
// stable `code` string that clients can rely on.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sb::core {

enum class ErrorKind {
  bad_request,            // malformed HTTP
  invalid_json,           // body is not valid JSON
  invalid_field,          // a field's value is out of range or not allowed (param names it)
  invalid_type,           // a field has the wrong JSON type (param names it)
  unknown_parameter,      // a field or query parameter the endpoint does not take
  unauthorized,           // missing or wrong credentials
  forbidden,              // e.g. CORS origin not allowed
  not_found,              // unknown route or resource
  model_not_found,        // the requested model is not routable
  method_not_allowed,     // route exists, method does not
  request_timeout,        // client too slow
  conflict,
  payload_too_large,      // body over the limit
  unsupported_media_type,
  unprocessable,
  idempotency_key_reused, // an Idempotency-Key replayed with a different request
  headers_too_large,      // header block over the limit
  rate_limited,
  budget_exceeded,        // a key's budget would be exceeded (429 insufficient_quota)
  too_many_connections,   // connection cap reached
  busy,                   // a bounded queue is full
  unavailable,            // a dependency (storage, upstream) is not usable
  upstream_error,
  upstream_timeout,
  not_implemented,        // a request feature we do not support (e.g. a transfer coding)
  internal,
};

struct ErrorInfo {
  int status;
  std::string_view type;  // OpenAI error `type`
  std::string_view code;  // stable machine-readable code
};

// The single mapping from kind to wire representation.
const ErrorInfo& error_info(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string message;
  std::string param;  // offending field, when there is one
  std::string where;  // module that produced it, for logs
  int http_status = 0;      // overrides the kind's status (e.g. an upstream 422 kept as 422)
  int retry_after_ms = -1;  // from an upstream Retry-After, when there was one
  int upstream_status = 0;  // the upstream's HTTP status, when the error is its answer
  bool circuits_open = false;  // nothing was called: every target's circuit breaker was open
  // A gateway error: the JSON array of every target tried, in order, with its outcome
  // (error.attempts in the envelope); empty otherwise.
  std::string attempts;
  // Tell clients not to retry on their own (x-should-retry: false): nothing will be back soon.
  bool should_not_retry = false;

  Error() = default;
  Error(ErrorKind k, std::string msg, std::string prm = {}, std::string wh = {})
      : kind(k), message(std::move(msg)), param(std::move(prm)), where(std::move(wh)) {}

  int status() const { return http_status ? http_status : error_info(kind).status; }
};

// Result<T>: either a T or an Error.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok()
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // REQUIRES: !ok()
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : e_(std::move(error)) {}  // NOLINT

  bool ok() const { return !e_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const& { return *e_; }
  Error&& error() && { return std::move(*e_); }

 private:
  std::optional<Error> e_;
};

using Status = Result<void>;

}  // namespace sb::core
