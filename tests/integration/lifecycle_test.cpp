// Process lifecycle: startup output, bad config, graceful shutdown with in-flight requests and
// streams, the grace period, and kill -9 then restart on the same data dir.

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "fake_upstream.hpp"
#include "harness.hpp"

namespace sbtest {
namespace {

namespace json = boost::json;

// Runs the binary to completion with the given arguments (stderr with stdout).
Run run(const std::string& args) { return run_in(".", args); }

TEST(Cli, EvalMeasuresKeywordRetrievalOnABeirFolder) {
  TempDir d;
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(d.path() + "/" + name) << text;
  };
  std::filesystem::create_directories(d.path() + "/qrels");
  write("corpus.jsonl",
        R"({"_id":"d1","title":"Penguins","text":"Emperor penguins breed in the Antarctic winter."})" "\n"
        R"({"_id":"d2","title":"Volcanoes","text":"Lava flows from erupting volcanoes."})" "\n"
        R"({"_id":"d3","title":"Deserts","text":"Camels cross the hot sand dunes."})" "\n");
  write("queries.jsonl", R"({"_id":"q1","text":"Where do penguins breed?"})" "\n"
                         R"({"_id":"q2","text":"erupting volcano lava"})" "\n");
  write("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n");
  auto r = run("eval --dataset " + d.path());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("3 documents, 3 chunks, 2 queries"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("keyword    1.0000      1.0000  1.0000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("semantic  not available"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fts5       1.0000      1.0000  1.0000"), std::string::npos) << r.out;
  // With an embedding model (the built-in mock), semantic and hybrid modes are measured too.
  auto with_model = run("eval --dataset " + d.path() + " --embedding-model mock/embed --dimensions 64");
  ASSERT_EQ(with_model.code, 0) << with_model.out;
  EXPECT_NE(with_model.out.find("semantic   "), std::string::npos) << with_model.out;
  EXPECT_NE(with_model.out.find("hybrid     1.0000"), std::string::npos) << with_model.out;
  EXPECT_EQ(run("eval --dataset " + d.path() + " --embedding-model nope/model").code, 2);
  EXPECT_EQ(run("eval --dataset " + d.path() + " --dimensions 64").code, 2) << "dimensions need a model";
  // Bad input: a missing folder or split, a broken corpus line.
  EXPECT_EQ(run("eval").code, 2);
  auto missing = run("eval --dataset " + d.path() + " --split nope");
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.out.find("qrels/nope.tsv"), std::string::npos) << missing.out;
  write("corpus.jsonl", "{not json\n");
  auto broken = run("eval --dataset " + d.path());
  EXPECT_EQ(broken.code, 2);
  EXPECT_NE(broken.out.find("corpus.jsonl:1"), std::string::npos) << broken.out;
}

TEST(Cli, IngestAndSearchTalkToARunningServer) {
  Server s;
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"notes"})")->status, 201);
  TempDir d;
  std::filesystem::create_directories(d.path() + "/docs/sub");
  std::ofstream(d.path() + "/docs/penguins.md") << "# Penguins\n\nEmperor penguins breed in the Antarctic winter.";
  std::ofstream(d.path() + "/docs/sub/lava.html") << "<html><body><p>Lava flows from erupting volcanoes.</p></body></html>";
  std::ofstream(d.path() + "/docs/skip.bin") << "not a document";
  const std::string server = " --server http://127.0.0.1:" + std::to_string(s.port());
  auto first = run("ingest --collection notes" + server + " " + d.path() + "/docs");
  EXPECT_EQ(first.code, 0) << first.out;
  EXPECT_NE(first.out.find("penguins.md: created"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("lava.html: created"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("2 files, 0 failed"), std::string::npos) << first.out;
  auto again = run("ingest --collection notes" + server + " " + d.path() + "/docs");
  EXPECT_EQ(again.code, 0);
  EXPECT_NE(again.out.find("penguins.md: unchanged"), std::string::npos) << again.out;
  auto found = run("search --collection notes --top-k 1" + server + " \"where do penguins breed\"");
  EXPECT_EQ(found.code, 0) << found.out;
  EXPECT_NE(found.out.find("penguins.md"), std::string::npos) << found.out;
  EXPECT_NE(found.out.find("Emperor penguins"), std::string::npos) << found.out;
  // Bad input: an unknown collection, a missing file, no server.
  EXPECT_EQ(run("ingest --collection nope" + server + " " + d.path() + "/docs/penguins.md").code, 1);
  EXPECT_EQ(run("ingest --collection notes" + server + " " + d.path() + "/missing.md").code, 1);
  EXPECT_EQ(run("search --collection nope" + server + " x").code, 1);
  EXPECT_EQ(run("search --collection notes --server http://127.0.0.1:1 x").code, 2);
  EXPECT_EQ(run("search x").code, 2) << "no --collection";
}

TEST(Cli, IngestIdsDoNotDependOnHowThePathIsSpelled) {
  Server s({.env = {{"SWITCHBOARD_KNOWLEDGE_ASYNC_INGEST_BYTES", "4000"}}});
  ASSERT_EQ(http(s.port(), "POST", "/api/v1/collections", R"({"name":"notes"})")->status, 201);
  TempDir d;
  std::filesystem::create_directories(d.path() + "/docs/sub");
  std::filesystem::create_directories(d.path() + "/docs/.git");
  std::ofstream(d.path() + "/docs/penguins.md") << "# Penguins\n\nEmperor penguins breed in the Antarctic winter.";
  std::ofstream(d.path() + "/docs/sub/lava.md") << "Lava flows from erupting volcanoes.";
  std::ofstream(d.path() + "/docs/sub/draft.md") << "Not ready.";
  std::ofstream(d.path() + "/docs/.git/HEAD.md") << "hidden";
  std::ofstream(d.path() + "/docs/.notes.md") << "hidden";
  const std::string server = " --server http://127.0.0.1:" + std::to_string(s.port());
  auto first = run_in(d.path(), "ingest --collection notes --exclude '*draft*'" + server + " ./docs");
  EXPECT_EQ(first.code, 0) << first.out;
  EXPECT_NE(first.out.find("2 files, 0 failed"), std::string::npos) << "hidden and excluded files skipped: " << first.out;
  auto again = run_in(d.path() + "/docs", "ingest --collection notes --exclude '*draft*'" + server + " .");
  EXPECT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("penguins.md: unchanged"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("lava.md: unchanged"), std::string::npos) << "the same ids: " << again.out;
  auto list = json::parse(http(s.port(), "GET", "/api/v1/documents?collection=notes")->body);
  EXPECT_EQ(list.at("data").as_array().size(), 2u) << list;
  // A missing path is reported; the others are still sent; exit 1.
  std::ofstream(d.path() + "/docs/sub/lava.md") << "Lava flows from erupting volcanoes, again.";
  auto partly = run_in(d.path(), "ingest --collection notes" + server + " missing.md docs/sub/lava.md");
  EXPECT_EQ(partly.code, 1) << partly.out;
  EXPECT_NE(partly.out.find("missing.md: no such file or directory"), std::string::npos) << partly.out;
  EXPECT_NE(partly.out.find("lava.md: "), std::string::npos) << partly.out;
  // A large file is processed in the background: accepted, not a failure.
  std::string big;
  for (int i = 0; i < 200; ++i) big += "Paragraph " + std::to_string(i) + " about glaciers.\n\n";
  std::ofstream(d.path() + "/big.md") << big;
  auto accepted = run_in(d.path(), "ingest --collection notes" + server + " big.md");
  EXPECT_EQ(accepted.code, 0) << accepted.out;
  EXPECT_NE(accepted.out.find("big.md: accepted"), std::string::npos) << accepted.out;
}

TEST(Cli, EvalPrintsOnlyItsReportOnStdout) {
  TempDir d;
  std::filesystem::create_directories(d.path() + "/qrels");
  std::ofstream(d.path() + "/corpus.jsonl") << R"({"_id":"d1","title":"Penguins","text":"Emperor penguins breed."})" "\n";
  std::ofstream(d.path() + "/queries.jsonl") << R"({"_id":"q1","text":"penguins"})" "\n";
  std::ofstream(d.path() + "/qrels/test.tsv") << "query-id\tcorpus-id\tscore\nq1\td1\t1\n";
  auto out = run_in(d.path(), "eval --dataset . --log-level debug", /*keep_stderr=*/false);
  ASSERT_EQ(out.code, 0) << out.out;
  EXPECT_EQ(out.out.rfind("dataset ", 0), 0u) << "no log line before the report: " << out.out;
  EXPECT_EQ(out.out.find("{\""), std::string::npos) << out.out;
  auto both = run_in(d.path(), "eval --dataset .");
  EXPECT_NE(both.out.find("ingest: 1/1"), std::string::npos) << "progress on stderr: " << both.out;
}

TEST(Cli, ConfigCheckOfAFileAndAMistypedFlag) {
  TempDir d;
  std::ofstream(d.path() + "/bad.toml") << "[server]\nmax_body_bytes = \"big\"\n";
  auto bad = run_in(d.path(), "config check bad.toml");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("server.max_body_bytes"), std::string::npos) << bad.out;
  std::ofstream(d.path() + "/good.toml") << "[server]\nmax_body_bytes = 1000\n";
  EXPECT_EQ(run_in(d.path(), "config check good.toml").code, 0);
  auto port = run_in(d.path(), "serve --port 8080");
  EXPECT_EQ(port.code, 2);
  EXPECT_NE(port.out.find("--listen"), std::string::npos) << port.out;
  EXPECT_NE(port.out.find("Usage: switchboard serve"), std::string::npos) << "the serve usage: " << port.out;
}

TEST(Cli, VersionAndHelp) {
  auto v = run("version");
  EXPECT_EQ(v.code, 0);
  EXPECT_EQ(v.out.rfind("switchboard 0.", 0), 0u) << v.out;
  auto help = run("--help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("Commands:"), std::string::npos);
  auto serve_help = run("serve --help");
  EXPECT_EQ(serve_help.code, 0);
  EXPECT_NE(serve_help.out.find("--data-dir"), std::string::npos);
  auto config_help = run("config --help");
  EXPECT_EQ(config_help.code, 0);
  auto bad = run("frobnicate");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.out.find("unknown command 'frobnicate'"), std::string::npos);
  auto bad_flag = run("serve --no-such-flag");
  EXPECT_EQ(bad_flag.code, 2);
}

TEST(Cli, ExampleConfigInTheRepositoryIsValid) {
  auto r = run("config check --config " + std::string(SB_SOURCE_DIR) + "/switchboard.example.toml");
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST(Startup, FirstLogLineAnnouncesTheBoundAddress) {
  Server s;
  auto lines = s.stdout_lines();
  ASSERT_FALSE(lines.empty());
  auto first = json::parse(lines.front()).as_object();
  EXPECT_EQ(first["msg"], "listening");
  EXPECT_NE(first["address"].as_string(), "127.0.0.1:0");
  EXPECT_GT(s.port(), 0);
}

TEST(Startup, InvalidConfigFailsNamingTheKey) {
  Server bad_file({.config_toml = "[server]\nmax_body_bytes = \"big\"\n", .expect_start = false});
  EXPECT_EQ(bad_file.wait_exit(10s), 2);
  EXPECT_NE(bad_file.stderr_text().find("server.max_body_bytes"), std::string::npos)
      << bad_file.stderr_text();

  Server unknown({.config_toml = "[server]\nlisten_port = 1\n", .expect_start = false});
  EXPECT_EQ(unknown.wait_exit(10s), 2);
  EXPECT_NE(unknown.stderr_text().find("server.listen_port: unknown key"), std::string::npos);

  Server bad_env({.env = {{"SWITCHBOARD_SERVER_IDLE_TIMEOUT_MS", "-5"}}, .expect_start = false});
  EXPECT_EQ(bad_env.wait_exit(10s), 2);
  EXPECT_NE(bad_env.stderr_text().find("SWITCHBOARD_SERVER_IDLE_TIMEOUT_MS"), std::string::npos);
}

TEST(Startup, UnusableDataDirFailsClearly) {
  TempDir dir;
  std::string file = dir.path() + "/not-a-dir";
  FILE* f = std::fopen(file.c_str(), "w");
  std::fclose(f);
  Server s({.data_dir = file + "/data", .expect_start = false});
  EXPECT_EQ(s.wait_exit(10s), 1);
  EXPECT_NE(s.stderr_text().find("cannot create data dir"), std::string::npos) << s.stderr_text();
}

TEST(Startup, ASecondServerOnTheSameDataDirExitsNamingTheFirst) {
  Server first;
  Server second({.data_dir = first.data_dir(), .expect_start = false});
  EXPECT_EQ(second.wait_exit(10s), 1);
  EXPECT_NE(second.stderr_text().find("in use by another switchboard (pid " + std::to_string(first.pid()) + ")"),
            std::string::npos)
      << second.stderr_text();
  EXPECT_EQ(http(first.port(), "GET", "/health")->status, 200) << "the first keeps serving";
  const std::string dir = first.data_dir();
  EXPECT_EQ(first.stop(SIGKILL), 128 + SIGKILL);
  Server after_a_crash({.data_dir = dir});  // the kernel dropped the lock with the process
  EXPECT_EQ(http(after_a_crash.port(), "GET", "/health")->status, 200);
}

TEST(Startup, ConfiguredProvidersTurnTheMockOffAndSayWhatThatBreaks) {
  TempDir dir;
  {
    Server quick({.data_dir = dir.path()});
    ASSERT_EQ(http(quick.port(), "POST", "/api/v1/collections", R"({"name":"qs","embedding_model":"mock/embed"})")->status, 201);
    auto ready = json::parse(http(quick.port(), "GET", "/ready")->body);
    EXPECT_EQ(ready.at("checks").at("collections").at("status"), "ok") << ready;
  }
  Server later({.config_toml = "[[providers]]\nname = \"up\"\ntype = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n",
                .data_dir = dir.path()});
  EXPECT_TRUE(later.wait_for_log("no mock provider")) << "said at startup";
  auto r = http(later.port(), "GET", "/ready");
  ASSERT_EQ(r->status, 200) << r->body;
  auto ready = json::parse(r->body);
  EXPECT_EQ(ready.at("checks").at("collections").at("status"), "degraded") << ready;
  EXPECT_EQ(ready.at("checks").at("collections").at("unresolved_embedding_models").at(0).at("name"), "qs") << ready;
}

TEST(Reload, SighupReloadsProvidersRoutesKeysAndLogLevelWithoutDroppingRequests) {
  FakeUpstream a, b;
  auto config = [&](const std::string& key, FakeUpstream& up, const std::string& name) {
    return "[log]\nlevel = \"info\"\n[auth]\napi_keys = [\"" + key + "\"]\n[[providers]]\nname = \"" + name +
           "\"\ntype = \"openai\"\nbase_url = \"" + up.url() + "/v1\"\n[[routes]]\nname = \"main\"\n"
           "targets = [{ provider = \"" + name + "\", model = \"m\" }]\n";
  };
  Server s({.config_toml = config("sk-one", a, "a")});
  const std::string chat = R"({"model":"main","messages":[{"role":"user","content":"hi"}]})";
  Behavior slow = completion("from a");
  slow.delay_before_headers = std::chrono::milliseconds(1500);
  a.push(slow);
  std::optional<HttpResponse> in_flight;
  std::thread t([&] { in_flight = http(s.port(), "POST", "/v1/chat/completions", chat, {{"Authorization", "Bearer sk-one"}}); });
  for (int i = 0; i < 100 && a.received().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::ofstream(s.config_path()) << config("sk-two", b, "b");
  ::kill(s.pid(), SIGHUP);
  ASSERT_TRUE(s.wait_for_log("config reloaded")) << s.stderr_text();
  b.set_default(completion("from b"));
  auto after = http(s.port(), "POST", "/v1/chat/completions", chat, {{"Authorization", "Bearer sk-two"}});
  ASSERT_EQ(after->status, 200) << after->body;
  EXPECT_NE(after->body.find("from b"), std::string::npos) << "the route now goes to b";
  EXPECT_EQ(http(s.port(), "POST", "/v1/chat/completions", chat, {{"Authorization", "Bearer sk-one"}})->status, 401)
      << "the old key is gone";
  t.join();
  ASSERT_TRUE(in_flight);
  EXPECT_EQ(in_flight->status, 200) << "the request in flight finished on what it started with";
  EXPECT_NE(in_flight->body.find("from a"), std::string::npos);

  // A config that does not validate changes nothing, and says why.
  std::ofstream(s.config_path()) << "[server]\nmax_body_bytes = \"big\"\n";
  ::kill(s.pid(), SIGHUP);
  ASSERT_TRUE(s.wait_for_log("config reload refused"));
  EXPECT_TRUE(s.wait_for_log("server.max_body_bytes"));
  EXPECT_EQ(http(s.port(), "POST", "/v1/chat/completions", chat, {{"Authorization", "Bearer sk-two"}})->status, 200);
  EXPECT_EQ(s.stop(SIGTERM), 0) << "still a clean exit";
}

TEST(Shutdown, IdleServerExitsZeroOnSigterm) {
  Server s;
  Client idle(s.port());
  ASSERT_TRUE(idle.request("GET", "/health"));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(s.stop(SIGTERM), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s) << "idle keep-alive must not delay exit";
  EXPECT_TRUE(idle.wait_closed(1s));
  auto lines = s.stdout_lines();
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find("\"stopped\""), std::string::npos) << lines.back();
}

TEST(Shutdown, SigintAlsoStopsGracefully) {
  Server s;
  EXPECT_EQ(s.stop(SIGINT), 0);
}

TEST(Shutdown, InFlightRequestFinishesAndNewConnectionsAreRefused) {
  Server s;
  Client c(s.port());
  ASSERT_TRUE(c.send(raw_request("POST", "/api/v1/echo", R"({"delay_ms":800,"v":7})")));
  std::this_thread::sleep_for(200ms);
  kill(s.pid(), SIGTERM);
  ASSERT_TRUE(s.wait_for_log("shutting down"));
  Client late(s.port());
  EXPECT_FALSE(late.connected() && late.request("GET", "/health")) << "accepted after SIGTERM";
  auto r = c.read_response(5s);
  ASSERT_TRUE(r) << "in-flight request was cut off";
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body).at("v"), 7);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_EQ(s.wait_exit(5s), 0);
}

TEST(Shutdown, OpenStreamFinishes) {
  Server s;
  Client c(s.port());
  ASSERT_TRUE(c.send(raw_request("POST", "/api/v1/echo", R"({"events":5,"delay_ms":150})")));
  std::this_thread::sleep_for(250ms);
  kill(s.pid(), SIGTERM);
  auto r = c.read_response(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("data: [DONE]"), std::string::npos) << r->body;
  EXPECT_EQ(s.wait_exit(5s), 0);
}

TEST(Shutdown, GracePeriodBoundsTheWait) {
  Server s({.env = {{"SWITCHBOARD_SERVER_SHUTDOWN_GRACE_MS", "300"}}});
  Client c(s.port());
  ASSERT_TRUE(c.send(raw_request("POST", "/api/v1/echo", R"({"delay_ms":20000})")));
  std::this_thread::sleep_for(100ms);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(s.stop(SIGTERM, 10s), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
  EXPECT_TRUE(c.wait_closed(1s));
  EXPECT_TRUE(s.wait_for_log("grace period over", 1s));
}

TEST(Crash, Kill9ThenRestartOnTheSameDataDir) {
  TempDir dir;
  std::string data = dir.path() + "/data";
  std::string instance;
  for (int round = 1; round <= 3; ++round) {
    Server s({.data_dir = data});
    // Load while it dies.
    std::atomic<bool> stop{false};
    std::thread load([&] {
      while (!stop) {
        Client c(s.port());
        if (!c.connected()) break;
        for (int i = 0; i < 20 && !stop; ++i) {
          if (!c.request("GET", i % 2 ? "/ready" : "/health")) break;
        }
      }
    });
    std::this_thread::sleep_for(150ms);
    s.kill9();
    stop = true;
    load.join();

    Server again({.data_dir = data});
    auto r = http(again.port(), "GET", "/ready");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    auto storage = json::parse(r->body).at("checks").at("storage").as_object();
    if (instance.empty()) instance = std::string(storage["instance_id"].as_string());
    EXPECT_EQ(storage["instance_id"], instance.c_str()) << "same database after the crash";
    EXPECT_EQ(storage["boots"], 2 * round);
    again.kill9();
  }
}

}  // namespace
}  // namespace sbtest
