// Server-sent events split at every place the input's first byte picks.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/sse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  sb::http::SseParser p(4096);
  const std::size_t step = 1 + (size ? data[0] % 97 : 0);
  std::size_t events = 0;
  for (std::size_t at = 0; at < size; at += step) {
    auto st = p.feed(in.substr(at, step), [&](sb::http::SseEvent&& e) {
      if (e.data.size() > 4096) __builtin_trap();  // the bound held
      ++events;
    });
    if (!st) break;
  }
  return 0;
}
