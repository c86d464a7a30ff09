#pragma once
// Which addresses a URL that a user supplies (webhooks, document URLs, HTTP tools) may reach.

#include <string_view>

namespace sb::http {

// False for loopback, private (RFC 1918, unique-local), link-local, carrier-grade NAT,
// unspecified, multicast, documentation and reserved addresses, and for anything that is not
// an IP literal. An IPv6 address that carries an IPv4 one (IPv4-mapped, IPv4-compatible, SIIT,
// NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo) is judged by the IPv4 address it carries.
bool is_public_address(std::string_view ip);

// True for "localhost", "*.localhost" (trailing dots ignored) and for host names that are IP
// literals that are not public — read the way the resolver reads them, so "0x7f.1",
// "2130706433", "0177.0.0.1" and "127.1" are 127.0.0.1: what can be refused from the name
// alone, before any lookup (the resolved addresses are checked again when connecting).
bool names_private_host(std::string_view host);

}  // namespace sb::http
