// The control plane's readers of hostile input on the request path: the body scan for
// "model" / "max_tokens", the X-Forwarded-For walk behind trusted proxies, and the limiter's
// arithmetic with whatever limits and costs the bytes make. None may crash, loop or overflow.
#include <cstddef>
#include <cstdint>
#include <climits>
#include <cstring>
#include <string>
#include <string_view>

#include "api/control_gate.hpp"
#include "control/limiter.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto m = sb::api::scan_string(in, "model")) {
    if (m->data() < in.data() || m->data() + m->size() > in.data() + in.size()) __builtin_trap();
  }
  if (auto n = sb::api::scan_integer(in, "max_tokens"); n && *n < 0) __builtin_trap();
  if (auto n = sb::api::scan_max_tokens(in); n && *n < 0) __builtin_trap();
  (void)sb::api::client_ip("10.0.0.1", in, {"10.0.0.0/8", "::1", "bad/99", "192.168.0.1/33"});
  (void)sb::api::client_ip(in.substr(0, 64), in, {"0.0.0.0/0"});

  static auto limiter = sb::control::make_local_limiter(16);
  long long per_minute = 1, cost = 0, delta = 0;
  std::int64_t now = 1'700'000'000'000;
  if (size >= 24) {
    std::memcpy(&per_minute, data, 8);
    std::memcpy(&cost, data + 8, 8);
    std::memcpy(&delta, data + 16, 8);
    per_minute = per_minute == LLONG_MIN ? 1 : (per_minute < 0 ? -per_minute : per_minute);
    per_minute = per_minute % 10'000'000'001LL + 1;  // what the API and config allow
    cost = cost % 2'000'000'000'000LL;
    if (size >= 28) now += data[24] * 997LL;
  }
  std::string bucket(in.substr(0, 16));
  auto t = limiter->take(bucket, per_minute, cost < 0 ? -cost : cost, now);
  if (t.window.remaining < 0 || t.window.remaining > per_minute || t.retry_after_ms < 0) __builtin_trap();
  limiter->adjust(bucket, per_minute, delta, now);
  auto w = limiter->peek(bucket, per_minute, now);
  if (w.remaining < 0 || w.remaining > per_minute || w.reset_ms < 0) __builtin_trap();
  if (limiter->enter(bucket, 2)) limiter->leave(bucket);
  return 0;
}
