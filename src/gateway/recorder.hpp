#pragma once
// The development recorder (gateway.record_dir): one readable JSON file per upstream exchange —
// the request as sent and the response as received (a stream's events in order) — with the
// provider's key and credential headers removed, for checking a provider's contract by hand.
// Bounded: bodies over 4 MiB are cut (and say so). Writes are synchronous and meant for
// development, not for production traffic.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"
#include "http/client.hpp"

namespace sb::gateway {

// Checks (and creates, mode 0700) the directory: it must be a directory that only its owner
// can write. Errors name the problem.
core::Status check_record_dir(const std::string& dir);

struct Recording {
  const core::ProviderConfig* provider = nullptr;
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  std::string method, url;
  std::vector<std::pair<std::string, std::string>> request_headers;
  std::string request_body;
  int status = 0;
  std::vector<std::pair<std::string, std::string>> response_headers;
  std::string response_body;          // whole answers
  std::vector<std::string> events;    // streams: each event's data
  std::string error;                  // a transport error
  std::size_t bytes = 0;              // kept so far (bounded)
  bool cut = false;
};

// A recording of `request` when the provider records (record_dir set); else inactive.
Recording start_recording(const core::ProviderConfig& provider, const http::ClientRequest& request);
void add_event(Recording& r, std::string_view data);
void record_response(Recording& r, const http::ClientResponse& head);  // status and headers
void record_body(Recording& r, std::string_view body);                 // a whole answer (or an error body)
// Writes the file (when active); failures are logged, never raised.
void finish_recording(Recording& r);

// The JSON text of a recording (secrets removed): for tests.
std::string recording_json(const Recording& r);

}  // namespace sb::gateway
