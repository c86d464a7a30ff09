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
      "[server]\nlisten = \"0.0.0.0:9000\"\nio_threads = 3\nspin_us = 50\n"
      "[auth]\napi_keys = [\"a\", \"b\"]\nprotect_metrics = true\n"
      "[cors]\nallowed_origins = [\"https://app.example\"]\n");
  Config c = load_config(src);
  EXPECT_EQ(c.server.listen, "0.0.0.0:9000");
  EXPECT_EQ(c.server.io_threads, 3);
  EXPECT_EQ(c.server.spin_us, 50);
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

namespace sb::core {
namespace {

TEST(GatewayConfig, ProviderHeadersMustBeValidHttp) {
  auto with_header = [](const std::string& header) {
    ConfigSources src;
    src.file = write_temp("[[providers]]\nname = \"p\"\ntype = \"mock\"\nheaders = { " + header + " }\n");
    return error_of(src);
  };
  EXPECT_EQ(with_header("\"X-Title\" = \"ok\""), "");
  EXPECT_NE(with_header("\"Bad Name\" = \"v\"").find("not a valid HTTP header name"), std::string::npos);
  std::string split = with_header("\"X-Key\" = \"secret\\r\\nX-Evil: 1\"");
  EXPECT_NE(split.find("headers.X-Key"), std::string::npos) << split;
  EXPECT_NE(split.find("line break"), std::string::npos) << split;
  EXPECT_EQ(split.find("secret"), std::string::npos) << split;
}

TEST(GatewayConfig, ReadsProvidersAndRoutes) {
  ConfigSources src;
  src.env["TEST_OPENAI_KEY"] = "sk-from-env";
  src.file = write_temp(R"(
[[providers]]
name = "openai"
type = "openai"
api_key_env = "TEST_OPENAI_KEY"
headers = { "HTTP-Referer" = "https://app.example" }
models = ["gpt-4o-mini"]

[[providers]]
name = "local"
type = "openai"
base_url = "http://127.0.0.1:11434/v1/"
timeout_ms = 5000

[[providers]]
name = "mock"
type = "mock"
latency_ms = 5

[[routes]]
name = "fast"
targets = [{ provider = "openai", model = "gpt-4o-mini" }, { provider = "local", model = "llama3" }]
)");
  Config c = load_config(src);
  ASSERT_EQ(c.providers.size(), 3u);
  EXPECT_EQ(c.providers[0].base_url, "https://api.openai.com/v1");
  EXPECT_EQ(c.providers[0].api_key, "sk-from-env");
  EXPECT_EQ(c.providers[0].headers[0].first, "HTTP-Referer");
  EXPECT_EQ(c.providers[1].base_url, "http://127.0.0.1:11434/v1");
  EXPECT_EQ(c.providers[1].timeout_ms, 5000);
  EXPECT_EQ(c.providers[2].latency_ms, 5);
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].strategy, "priority");
  ASSERT_EQ(c.routes[0].targets.size(), 2u);
  EXPECT_EQ(c.routes[0].targets[1].model, "llama3");
}

TEST(GatewayConfig, ErrorsNameTheEntry) {
  auto err = [](const std::string& toml, std::map<std::string, std::string> env = {}) {
    ConfigSources src;
    src.env = std::move(env);
    src.file = write_temp(toml);
    return error_of(src);
  };
  EXPECT_NE(err("[[providers]]\nname = \"a\"\n").find("providers[0].type: is required"), std::string::npos);
  EXPECT_NE(err("[[providers]]\nname = \"a\"\ntype = \"cohere\"\n").find("providers[0].type"), std::string::npos);
  EXPECT_NE(err("[[providers]]\nname = \"a\"\ntype = \"cohere\"\n").find("must be one of openai, anthropic, gemini, mock"), std::string::npos);
  EXPECT_NE(err("[[providers]]\nname = \"A B\"\ntype = \"mock\"\n").find("providers[0].name"), std::string::npos);
  EXPECT_NE(err("[[providers]]\nname = \"a\"\ntype = \"openai\"\napi_key_env = \"SB_NOT_SET_ANYWHERE\"\n")
                .find("SB_NOT_SET_ANYWHERE is not set"),
            std::string::npos);
  EXPECT_NE(err("[[providers]]\nname = \"a\"\ntype = \"mock\"\nbogus = 1\n").find("providers[0].bogus: unknown key"),
            std::string::npos);
  EXPECT_NE(err("[[providers]]\nname = \"a\"\ntype = \"mock\"\n[[providers]]\nname = \"a\"\ntype = \"mock\"\n")
                .find("duplicate provider"),
            std::string::npos);
  EXPECT_NE(err("[[routes]]\nname = \"r\"\ntargets = [{ provider = \"nope\", model = \"m\" }]\n")
                .find("routes[0].targets[0].provider: unknown provider \"nope\""),
            std::string::npos);
  EXPECT_NE(err("[[providers]]\nname = \"a\"\ntype = \"mock\"\n[[routes]]\nname = \"r\"\ntargets = []\n")
                .find("routes[0].targets"),
            std::string::npos);
  EXPECT_NE(err("[[providers]]\nname = \"a\"\ntype = \"mock\"\n[[routes]]\nname = \"r\"\nstrategy = \"random\"\n"
                "targets = [{ provider = \"a\", model = \"m\" }]\n")
                .find("routes[0].strategy: must be one of priority, weighted, least_latency, intent"),
            std::string::npos);
  EXPECT_NE(err("[providers]\nname = \"a\"\n").find("[[providers]]"), std::string::npos);
}


TEST(GatewayConfig, IntentRoutesNameTheirIntentsTargetsAndClassifier) {
  auto load = [](const std::string& toml) {
    ConfigSources src;
    src.file = write_temp(toml);
    return load_config(src);
  };
  auto err = [](const std::string& toml) {
    ConfigSources src;
    src.file = write_temp(toml);
    return error_of(src);
  };
  const std::string p = "[[providers]]\nname = \"a\"\ntype = \"mock\"\n"
                        "[[routes]]\nname = \"plain\"\ntargets = [{ provider = \"a\", model = \"m\" }]\n";
  const std::string intents =
      "intents = [{ name = \"billing\", description = \"invoices\", examples = [\"my bill\"], target = \"plain\" },"
      " { name = \"tech\", target = \"a/m2\" }]\n";
  Config c = load(p + "[[routes]]\nname = \"support\"\nstrategy = \"intent\"\nclassifier = \"a/cls\"\n"
                      "fallback_intent = \"tech\"\nclassifier_open_ms = 5000\n" + intents);
  ASSERT_EQ(c.routes.size(), 2u);
  const auto& r = c.routes[1];
  EXPECT_EQ(r.strategy, "intent");
  EXPECT_TRUE(r.targets.empty());
  ASSERT_EQ(r.intents.size(), 2u);
  EXPECT_EQ(r.intents[0].examples, std::vector<std::string>{"my bill"});
  EXPECT_EQ(r.intents[1].target, "a/m2");
  EXPECT_EQ(r.classifier, "a/cls");
  EXPECT_EQ(r.fallback_intent, "tech");
  EXPECT_EQ(r.classifier_open_ms, 5000);
  EXPECT_EQ(r.classifier_failure_percent, 50);  // the seed's 50 % and 30 s
  EXPECT_EQ(load(p + "[[routes]]\nname = \"s\"\nstrategy = \"intent\"\n" + intents).routes[1].classifier_open_ms, 30000);

  const std::string head = p + "[[routes]]\nname = \"s\"\nstrategy = \"intent\"\n";
  EXPECT_NE(err(head).find("routes[1].intents: expected a non-empty array"), std::string::npos);
  EXPECT_NE(err(head + "targets = [{ provider = \"a\", model = \"m\" }]\n" + intents).find("routes[1].targets: an intent route has no targets"),
            std::string::npos);
  EXPECT_NE(err(head + "fallback_intent = \"sales\"\n" + intents).find("routes[1].fallback_intent: is not one of"),
            std::string::npos);
  EXPECT_NE(err(head + "intents = [{ name = \"x\", target = \"nope/m\" }]\n").find("routes[1].intents[0].target: unknown provider \"nope\""),
            std::string::npos);
  EXPECT_NE(err(head + "intents = [{ name = \"x\", target = \"s\" }]\n").find("is an intent route"), std::string::npos);
  EXPECT_NE(err(head + "intents = [{ name = \"x\", target = \"nowhere\" }]\n").find("neither a route nor provider/model"),
            std::string::npos);
  EXPECT_NE(err(head + "intents = [{ name = \"x\" }]\n").find("routes[1].intents[0].target: is required"), std::string::npos);
  EXPECT_NE(err(head + "intents = [{ name = \"x\", target = \"a/m\" }, { name = \"x\", target = \"a/m\" }]\n")
                .find("duplicate intent"),
            std::string::npos);
  EXPECT_NE(err(head + "classifier = \"zz/m\"\n" + intents).find("routes[1].classifier: unknown provider"), std::string::npos);
  EXPECT_NE(err(head + "embedding_model = \"zz/e\"\n" + intents).find("routes[1].embedding_model: unknown provider"),
            std::string::npos);
  EXPECT_EQ(load(p + "[[routes]]\nname = \"s\"\nstrategy = \"intent\"\nembedding_model = \"a/e\"\n" + intents)
                .routes[1]
                .embedding_model,
            "a/e");
  EXPECT_NE(err(head + "intents = [{ name = \"x\", target = \"a/m\", bogus = 1 }]\n").find("routes[1].intents[0].bogus: unknown key"),
            std::string::npos);
  EXPECT_NE(err(p + "[[routes]]\nname = \"q\"\nclassifier = \"a/m\"\ntargets = [{ provider = \"a\", model = \"m\" }]\n")
                .find("routes[1].classifier: is only for strategy = \"intent\""),
            std::string::npos);
}

TEST(GatewayConfig, ToolsAndAgentsNameWhatTheyUse) {
  auto err = [](const std::string& toml, std::map<std::string, std::string> env = {}) {
    ConfigSources src;
    src.env = std::move(env);
    src.file = write_temp(toml);
    return error_of(src);
  };
  const std::string tool = "[[tools]]\nname = \"ticket\"\nurl = \"https://t.example/x\"\n";
  ConfigSources ok;
  ok.env = {{"SB_T", "Bearer x"}};
  ok.file = write_temp(tool + "headers_env = { Authorization = \"SB_T\" }\n[[agents]]\nname = \"a\"\nmodel = \"m/x\"\ntools = [\"ticket\", \"knowledge_search\"]\n");
  Config c = load_config(ok);
  ASSERT_EQ(c.tools.size(), 1u);
  EXPECT_EQ(c.tools[0].headers.at(0).second, "Bearer x");
  EXPECT_EQ(c.agents.at(0).tools.size(), 2u);
  EXPECT_EQ(c.agents.at(0).max_iterations, 10);
  EXPECT_NE(err(tool + "headers_env = { Authorization = \"SB_NOT_SET_X\" }\n").find("SB_NOT_SET_X is not set"), std::string::npos);
  EXPECT_NE(err("[[tools]]\nname = \"t\"\nurl = \"ftp://x\"\n").find("tools[0].url"), std::string::npos);
  EXPECT_NE(err("[[tools]]\nname = \"t\"\nurl = \"http://x\"\ntype = \"grpc\"\n").find("tools[0].type"), std::string::npos);
  EXPECT_NE(err("[[tools]]\nname = \"t\"\nurl = \"http://x\"\nparameters = \"[1]\"\n").find("tools[0].parameters"), std::string::npos);
  EXPECT_NE(err("[[tools]]\nname = \"get_document\"\nurl = \"http://x\"\n").find("built-in"), std::string::npos);
  EXPECT_NE(err(tool + tool).find("duplicate tool"), std::string::npos);
  EXPECT_NE(err("[[agents]]\nname = \"a\"\nmodel = \"m/x\"\ntools = [\"rm\"]\n").find("agents[0].tools: unknown tool \"rm\""),
            std::string::npos);
  EXPECT_NE(err("[[agents]]\nname = \"a\"\nmodel = \"m/x\"\nmax_iterations = 0\n").find("agents[0].max_iterations"), std::string::npos);
  EXPECT_NE(err("[[agents]]\nname = \"a\"\nmodel = \"m/x\"\n[[agents]]\nname = \"a\"\nmodel = \"m/x\"\n").find("duplicate agent"),
            std::string::npos);
}

}  // namespace
}  // namespace sb::core
