// The server's request head and body parsing: Beast's parser fed as the server feeds it (the
// head in pieces, bounded), then the framing rules of http/framing.hpp on what it produced.
#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "http/framing.hpp"

namespace bhttp = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  bhttp::request_parser<bhttp::string_body> p;
  p.header_limit(16 * 1024);
  p.body_limit(64 * 1024);
  p.eager(true);
  // Pieces of 1..64 bytes, their sizes taken from the input itself.
  std::size_t at = 0, step = 1 + (size ? data[0] % 64 : 0);
  std::string buffered;
  bool line_start = false;
  while (at < size && !p.is_done()) {
    buffered.append(in.substr(at, step));
    at += step;
    boost::system::error_code ec;
    const std::size_t used = p.put(boost::asio::buffer(buffered), ec);
    const std::string_view taken(buffered.data(), used);
    if (!p.is_header_done()) (void)sb::http::has_obs_fold(taken, line_start);
    if (used) line_start = taken.back() == '\n';
    buffered.erase(0, used);
    if (ec && ec != bhttp::error::need_more) break;
    if (buffered.size() > 32 * 1024) break;  // the server's bounded buffer
  }
  if (p.is_header_done()) {
    auto& msg = p.get();
    std::vector<std::string_view> codings;
    for (const auto& f : msg) {
      if (f.name() == bhttp::field::transfer_encoding) codings.emplace_back(f.value().data(), f.value().size());
    }
    (void)sb::http::check_transfer_encoding(codings, msg.find(bhttp::field::content_length) != msg.end());
    (void)sb::http::origin_form(std::string_view(msg.target().data(), msg.target().size()));
  }
  return 0;
}
