#include "core/error.hpp"

namespace sb::core {

const ErrorInfo& error_info(ErrorKind kind) {
  static const ErrorInfo kBadRequest{400, "invalid_request_error", "bad_request"};
  static const ErrorInfo kInvalidJson{400, "invalid_request_error", "invalid_json"};
  static const ErrorInfo kInvalidField{400, "invalid_request_error", "invalid_value"};
  static const ErrorInfo kInvalidType{400, "invalid_request_error", "invalid_type"};
  static const ErrorInfo kUnknown{400, "invalid_request_error", "unknown_parameter"};
  static const ErrorInfo kUnauthorized{401, "authentication_error", "invalid_api_key"};
  static const ErrorInfo kForbidden{403, "permission_error", "forbidden"};
  static const ErrorInfo kNotFound{404, "invalid_request_error", "not_found"};
  static const ErrorInfo kModel{404, "invalid_request_error", "model_not_found"};
  static const ErrorInfo kMethod{405, "invalid_request_error", "method_not_allowed"};
  static const ErrorInfo kTimeout{408, "invalid_request_error", "request_timeout"};
  static const ErrorInfo kConflict{409, "invalid_request_error", "conflict"};
  static const ErrorInfo kTooLarge{413, "invalid_request_error", "payload_too_large"};
  static const ErrorInfo kMedia{415, "invalid_request_error", "unsupported_media_type"};
  static const ErrorInfo kUnprocessable{422, "invalid_request_error", "unprocessable_entity"};
  static const ErrorInfo kReused{422, "invalid_request_error", "idempotency_key_reused"};
  static const ErrorInfo kHeaders{431, "invalid_request_error", "headers_too_large"};
  static const ErrorInfo kRate{429, "rate_limit_error", "rate_limit_exceeded"};
  static const ErrorInfo kBudget{429, "insufficient_quota", "budget_exceeded"};
  static const ErrorInfo kConns{503, "server_error", "too_many_connections"};
  static const ErrorInfo kBusy{503, "server_error", "server_busy"};
  static const ErrorInfo kUnavailable{503, "server_error", "service_unavailable"};
  static const ErrorInfo kUpstream{502, "upstream_error", "upstream_error"};
  static const ErrorInfo kUpstreamTimeout{504, "timeout_error", "upstream_timeout"};
  static const ErrorInfo kNotImplemented{501, "invalid_request_error", "not_implemented"};
  static const ErrorInfo kInternal{500, "server_error", "internal_error"};
  switch (kind) {
    case ErrorKind::bad_request: return kBadRequest;
    case ErrorKind::invalid_json: return kInvalidJson;
    case ErrorKind::invalid_field: return kInvalidField;
    case ErrorKind::invalid_type: return kInvalidType;
    case ErrorKind::unknown_parameter: return kUnknown;
    case ErrorKind::unauthorized: return kUnauthorized;
    case ErrorKind::forbidden: return kForbidden;
    case ErrorKind::not_found: return kNotFound;
    case ErrorKind::model_not_found: return kModel;
    case ErrorKind::method_not_allowed: return kMethod;
    case ErrorKind::request_timeout: return kTimeout;
    case ErrorKind::conflict: return kConflict;
    case ErrorKind::payload_too_large: return kTooLarge;
    case ErrorKind::unsupported_media_type: return kMedia;
    case ErrorKind::unprocessable: return kUnprocessable;
    case ErrorKind::idempotency_key_reused: return kReused;
    case ErrorKind::headers_too_large: return kHeaders;
    case ErrorKind::rate_limited: return kRate;
    case ErrorKind::budget_exceeded: return kBudget;
    case ErrorKind::too_many_connections: return kConns;
    case ErrorKind::busy: return kBusy;
    case ErrorKind::unavailable: return kUnavailable;
    case ErrorKind::upstream_error: return kUpstream;
    case ErrorKind::upstream_timeout: return kUpstreamTimeout;
    case ErrorKind::not_implemented: return kNotImplemented;
    case ErrorKind::internal: return kInternal;
  }
  return kInternal;
}

}  // namespace sb::core
