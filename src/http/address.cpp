#include "http/address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <string>

#include <boost/asio/ip/address.hpp>

namespace sb::http {

namespace asio = boost::asio;

namespace {

using V4 = std::array<std::uint8_t, 4>;

bool public_v4(const V4& b) {
  if (b[0] == 0 || b[0] == 10 || b[0] == 127 || b[0] >= 224) return false;  // this, private, loop, mcast/reserved
  if (b[0] == 169 && b[1] == 254) return false;                             // link-local
  if (b[0] == 172 && (b[1] & 0xf0) == 16) return false;                     // 172.16/12
  if (b[0] == 192 && b[1] == 168) return false;                             // 192.168/16
  if (b[0] == 100 && (b[1] & 0xc0) == 64) return false;                     // 100.64/10 CGNAT
  if (b[0] == 192 && b[1] == 0 && (b[2] == 0 || b[2] == 2)) return false;   // 192.0.0/24, 192.0.2/24
  if (b[0] == 198 && (b[1] & 0xfe) == 18) return false;                     // 198.18/15 benchmarking
  if (b[0] == 198 && b[1] == 51 && b[2] == 100) return false;               // 198.51.100/24 documentation
  if (b[0] == 203 && b[1] == 0 && b[2] == 113) return false;                // 203.0.113/24 documentation
  return true;
}

V4 v4_at(const asio::ip::address_v6::bytes_type& b, std::size_t at, std::uint8_t mask = 0) {
  return V4{static_cast<std::uint8_t>(b[at] ^ mask), static_cast<std::uint8_t>(b[at + 1] ^ mask),
            static_cast<std::uint8_t>(b[at + 2] ^ mask), static_cast<std::uint8_t>(b[at + 3] ^ mask)};
}

bool zeros(const asio::ip::address_v6::bytes_type& b, std::size_t from, std::size_t to) {
  return std::all_of(b.begin() + from, b.begin() + to, [](std::uint8_t x) { return x == 0; });
}

bool public_v6(const asio::ip::address_v6& v6) {
  const auto b = v6.to_bytes();
  if (v6.is_loopback() || v6.is_unspecified() || v6.is_link_local() || v6.is_site_local() || v6.is_multicast()) {
    return false;
  }
  if ((b[0] & 0xfe) == 0xfc) return false;  // fc00::/7 unique local
  // Forms that carry an IPv4 address.
  if (zeros(b, 0, 10) && b[10] == 0xff && b[11] == 0xff) return public_v4(v4_at(b, 12));  // ::ffff:a.b.c.d mapped
  if (zeros(b, 0, 12)) return public_v4(v4_at(b, 12));                                   // ::a.b.c.d compatible
  if (zeros(b, 0, 8) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0) {
    return public_v4(v4_at(b, 12));  // ::ffff:0:a.b.c.d SIIT
  }
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) {
    if (zeros(b, 4, 12)) return public_v4(v4_at(b, 12));  // 64:ff9b::/96 NAT64
    return false;                                           // 64:ff9b:1::/48 local-use NAT64
  }
  if (b[0] == 0x20 && b[1] == 0x02) return public_v4(v4_at(b, 2));  // 2002::/16 6to4
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) {     // 2001::/32 Teredo
    return public_v4(v4_at(b, 4)) && public_v4(v4_at(b, 12, 0xff));
  }
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return false;  // 2001:db8::/32 documentation
  if (b[0] == 0x01 && b[1] == 0x00 && zeros(b, 2, 8)) return false;                // 100::/64 discard
  return true;
}

}  // namespace

bool is_public_address(std::string_view text) {
  boost::system::error_code ec;
  std::string host(text);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return false;
  if (addr.is_v6()) return public_v6(addr.to_v6());
  return public_v4(addr.to_v4().to_bytes());
}

bool names_private_host(std::string_view host) {
  std::string lower(host);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower.size() > 2 && lower.front() == '[' && lower.back() == ']') {
    return !is_public_address(lower.substr(1, lower.size() - 2));
  }
  while (!lower.empty() && lower.back() == '.') lower.pop_back();  // "localhost." is localhost
  if (lower.empty()) return true;
  if (lower == "localhost" || lower.ends_with(".localhost")) return true;
  boost::system::error_code not_literal;
  (void)asio::ip::make_address(lower, not_literal);
  if (!not_literal) return !is_public_address(lower);
  // The resolver takes inet_aton's forms too: 1 to 4 parts, each decimal, octal (0...) or hex (0x...).
  in_addr a{};
  if (::inet_aton(lower.c_str(), &a) != 0) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&a.s_addr);
    return !public_v4(V4{p[0], p[1], p[2], p[3]});
  }
  return false;
}

}  // namespace sb::http
