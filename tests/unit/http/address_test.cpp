// Which addresses user-supplied URLs may reach, in every spelling of a private address.

#include <gtest/gtest.h>

#include "http/address.hpp"

namespace sb::http {
namespace {

TEST(AddressPolicy, OnlyPublicAddressesArePublic) {
  for (const char* ip : {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                         "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "::1", "::",
                         "fe80::1", "fc00::1", "fd12::3", "::ffff:127.0.0.1", "[::1]", "not-an-ip", "",
                         "192.0.2.1", "198.51.100.7", "203.0.113.9", "2001:db8::1", "100::1"}) {
    EXPECT_FALSE(is_public_address(ip)) << ip;
  }
  for (const char* ip : {"8.8.8.8", "172.32.0.1", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8",
                         "64:ff9b::808:808", "2002:808:808::1"}) {
    EXPECT_TRUE(is_public_address(ip)) << ip;
  }
}

TEST(AddressPolicy, IPv6FormsCarryingAPrivateIPv4AddressAreJudgedByIt) {
  for (const char* ip : {"::127.0.0.1", "::7f00:1",                 // IPv4-compatible
                         "::ffff:0:7f00:1", "::ffff:0:a00:1",        // SIIT
                         "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",     // NAT64 (the metadata service)
                         "64:ff9b:1::1",                             // local-use NAT64
                         "2002:7f00:1::", "2002:a9fe:a9fe::1",        // 6to4
                         "2001:0:7f00:1::",                          // Teredo, private server
                         "::ffff:169.254.169.254", "::ffff:a9fe:a9fe"}) {
    EXPECT_FALSE(is_public_address(ip)) << ip;
    EXPECT_TRUE(names_private_host(std::string("[") + ip + "]")) << ip;
  }
}

TEST(AddressPolicy, HostNamesAreReadAsTheResolverReadsThem) {
  for (const char* host : {"localhost", "API.LOCALHOST", "localhost.", "LocalHost..", "a.localhost.",
                           "10.0.0.8", "[fe80::1]", "0x7f.1", "2130706433", "0177.0.0.1", "127.1",
                           "0x7f000001", "017700000001", "127.0.0.1.", "0", "0x0", "169.254.43518",
                           "0xa9.0xfe.0xa9.0xfe", "[::ffff:7f00:1]"}) {
    EXPECT_TRUE(names_private_host(host)) << host;
  }
  EXPECT_FALSE(names_private_host("example.com")) << "names are judged when resolved";
  EXPECT_FALSE(names_private_host("93.184.216.34"));
  EXPECT_FALSE(names_private_host("0x8.8.8.8")) << "8.8.8.8 in hex is public";
  EXPECT_FALSE(names_private_host("127.example.com"));
}

}  // namespace
}  // namespace sb::http
