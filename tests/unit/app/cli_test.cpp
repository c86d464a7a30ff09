#include "app/cli.hpp"

#include <gtest/gtest.h>

namespace sb::app {
namespace {

TEST(Cli, DefaultsToServe) {
  auto cl = parse_command_line({});
  EXPECT_EQ(cl.command, "serve");
  EXPECT_FALSE(cl.help);
}

TEST(Cli, ParsesFlagsInBothForms) {
  auto cl = parse_command_line({"serve", "--listen", "127.0.0.1:0", "--data-dir=/tmp/x"});
  EXPECT_EQ(cl.flags["--listen"], "127.0.0.1:0");
  EXPECT_EQ(cl.flags["--data-dir"], "/tmp/x");
}

TEST(Cli, HelpAndVersion) {
  EXPECT_TRUE(parse_command_line({"--help"}).help);
  EXPECT_TRUE(parse_command_line({"serve", "-h"}).help);
  EXPECT_EQ(parse_command_line({"--version"}).command, "version");
  EXPECT_EQ(parse_command_line({"config", "example"}).args, std::vector<std::string>{"example"});
}

TEST(Cli, RejectsUnknownFlagsAndMissingValues) {
  EXPECT_THROW(parse_command_line({"--bogus"}), std::invalid_argument);
  EXPECT_THROW(parse_command_line({"serve", "--listen"}), std::invalid_argument);
}

}  // namespace
}  // namespace sb::app
