#include "core/config.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sb::core {
namespace {

std::string write_temp(const std::string& text) {
  static int n = 0;
  auto path = std::filesystem::temp_directory_path() /
              ("sb_config_test_" + std::to_string(getpid()) + "_" + std::to_string(n++) + ".toml");
  std::ofstream(path) << text;
  return path.string();
}

std::string error_of(const ConfigSources& src) {
  try {
    load_config(src);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, DefaultsMatchTheDocumentedValues) {
  Config c = load_config({});
  EXPECT_EQ(c.server.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.server.max_header_bytes, 16 * 1024);
  EXPECT_EQ(c.server.max_body_bytes, 10 * 1024 * 1024);
  EXPECT_EQ(c.server.header_timeout_ms, 10000);
  EXPECT_EQ(c.server.idle_timeout_ms, 60000);
  EXPECT_EQ(c.storage.data_dir, "./switchboard-data");
  EXPECT_EQ(c.log.level, "info");
  EXPECT_TRUE(c.auth.api_keys.empty());
  EXPECT_TRUE(c.cors.allowed_origins.empty());
}

TEST(Config, ReadsTomlFile) {
  ConfigSources src;
  src.file = write_temp(
      "[server]\nlisten = \"0.0.0.0:9000\"\nio_threads = 3\n"
      "[auth]\napi_keys = [\"a\", \"b\"]\nprotect_metrics = true\n"
      "[cors]\nallowed_origins = [\"https://app.example\"]\n");
  Config c = load_config(src);
  EXPECT_EQ(c.server.listen, "0.0.0.0:9000");
  EXPECT_EQ(c.server.io_threads, 3);
  EXPECT_EQ(c.auth.api_keys, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(c.auth.protect_metrics);
  EXPECT_EQ(c.cors.allowed_origins, (std::vector<std::string>{"https://app.example"}));
}

TEST(Config, EnvironmentOverridesFileAndFlagsOverrideEnvironment) {
  ConfigSources src;
  src.file = write_temp("[server]\nlisten = \"127.0.0.1:1000\"\nmax_connections = 5\n");
  src.env["SWITCHBOARD_SERVER_LISTEN"] = "127.0.0.1:2000";
  src.env["SWITCHBOARD_SERVER_MAX_CONNECTIONS"] = "7";
  src.env["SWITCHBOARD_CORS_ALLOWED_ORIGINS"] = "https://a.example, https://b.example";
  src.env["SWITCHBOARD_LOG_ACCESS_LOG"] = "false";
  Config c = load_config(src);
  EXPECT_EQ(c.server.listen, "127.0.0.1:2000");
  EXPECT_EQ(c.server.max_connections, 7);
  EXPECT_EQ(c.cors.allowed_origins,
            (std::vector<std::string>{"https://a.example", "https://b.example"}));
  EXPECT_FALSE(c.log.access_log);
  src.overrides["server.listen"] = "127.0.0.1:3000";
  EXPECT_EQ(load_config(src).server.listen, "127.0.0.1:3000");
}

TEST(Config, ApiKeyEnvironmentVariableAddsAKey) {
  ConfigSources src;
  src.env["SWITCHBOARD_API_KEY"] = "sk-test";
  EXPECT_EQ(load_config(src).auth.api_keys, (std::vector<std::string>{"sk-test"}));
}

TEST(Config, ErrorsNameTheKey) {
  ConfigSources src;
  src.file = write_temp("[server]\nlisten_on = \"x\"\n");
  EXPECT_NE(error_of(src).find("server.listen_on: unknown key"), std::string::npos);

  src.file = write_temp("[server]\nio_threads = \"two\"\n");
  EXPECT_NE(error_of(src).find("server.io_threads: expected an integer"), std::string::npos);

  src.file = write_temp("[server]\nmax_connections = 0\n");
  EXPECT_NE(error_of(src).find("server.max_connections: must be between"), std::string::npos);

  src.file = write_temp("[nonsense]\nx = 1\n");
  EXPECT_NE(error_of(src).find("nonsense: unknown section"), std::string::npos);

  src.file = write_temp("[log]\nlevel = \"loud\"\n");
  EXPECT_NE(error_of(src).find("log.level: must be one of"), std::string::npos);

  src.file = write_temp("[server]\nlisten = \"nowhere\"\n");
  EXPECT_NE(error_of(src).find("server.listen"), std::string::npos);

  src.file = write_temp("[server\nlisten = 1\n");
  EXPECT_NE(error_of(src).find(":1:"), std::string::npos) << error_of(src);

  src.file = "/nonexistent/switchboard.toml";
  EXPECT_NE(error_of(src).find("/nonexistent/switchboard.toml"), std::string::npos);
}

TEST(Config, EnvironmentErrorsNameTheVariable) {
  ConfigSources src;
  src.env["SWITCHBOARD_SERVER_IO_THREADS"] = "many";
  std::string e = error_of(src);
  EXPECT_NE(e.find("server.io_threads"), std::string::npos);
  EXPECT_NE(e.find("SWITCHBOARD_SERVER_IO_THREADS"), std::string::npos);
}

TEST(Config, ParsesListenAddresses) {
  EXPECT_EQ(parse_listen("127.0.0.1:0")->port, 0);
  EXPECT_EQ(parse_listen("[::1]:8080")->host, "::1");
  EXPECT_EQ(parse_listen("localhost:65535")->port, 65535);
  EXPECT_FALSE(parse_listen("127.0.0.1"));
  EXPECT_FALSE(parse_listen("127.0.0.1:65536"));
  EXPECT_FALSE(parse_listen(":80"));
  EXPECT_FALSE(parse_listen("::1:80"));
}

TEST(Config, ExampleParsesBackToDefaults) {
  ConfigSources src;
  src.file = write_temp(config_example());
  Config c = load_config(src);
  Config d;
  EXPECT_EQ(c.server.listen, d.server.listen);
  EXPECT_EQ(c.server.max_body_bytes, d.server.max_body_bytes);
  EXPECT_EQ(c.cors.allowed_headers, d.cors.allowed_headers);
  EXPECT_EQ(c.storage.synchronous, d.storage.synchronous);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Config, RepositoryExampleFileIsCurrent) {
  EXPECT_EQ(read_file(std::string(SB_SOURCE_DIR) + "/switchboard.example.toml"), config_example())
      << "regenerate with: build/switchboard config example > switchboard.example.toml";
}

TEST(Config, ReadmeDocumentsEveryKey) {
  std::string readme = read_file(std::string(SB_SOURCE_DIR) + "/README.md");
  for (const auto& k : config_reference()) {
    EXPECT_NE(readme.find(k.env), std::string::npos) << k.env << " missing from README.md";
    EXPECT_NE(readme.find("`" + k.section + "." + k.key + "`"), std::string::npos)
        << k.section << "." << k.key << " missing from README.md";
  }
}

}  // namespace
}  // namespace sb::core
