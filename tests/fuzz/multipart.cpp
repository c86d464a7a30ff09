// multipart/form-data bodies; the first line of the input is the Content-Type.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/multipart.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto nl = in.find('\n');
  const std::string_view type = in.substr(0, nl);
  const std::string_view body = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  const std::string boundary = sb::http::multipart_boundary(type);
  auto parts = sb::http::parse_multipart(body, boundary);
  if (parts) {
    for (const auto& p : *parts) {
      if (p.body.data() < body.data() || p.body.data() + p.body.size() > body.data() + body.size()) __builtin_trap();
    }
  }
  return 0;
}
