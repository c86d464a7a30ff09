// A fast OpenAI-compatible mock upstream for bench/gateway: POST /v1/chat/completions answers a
// fixed completion, or with "stream": true a fixed sequence of chunks (default 8) then
// [DONE]. Optional body fields: "x_chunks" (number of content chunks) and "x_chunk_delay_ms"
// (pause before each chunk, to hold many streams open at once). Built on Switchboard's own
// HTTP server library (no access log, no auth), so it is as cheap per request as we can make it.
//
// Usage: bench_mock_upstream PORT [THREADS]

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <cstdio>
#include <string>
#include <memory>
#include <thread>
#include <vector>

#include "core/log.hpp"
#include "http/message.hpp"
#include "http/router.hpp"
#include "http/server.hpp"

namespace asio = boost::asio;
namespace json = boost::json;
using namespace sb;

namespace {

const std::string kCompletion =
    R"({"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":"The quick brown fox jumps over the lazy dog."},)"
    R"("logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":10,"total_tokens":22}})";

std::string chunk(const std::string& delta, const char* finish) {
  return R"(data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench",)"
         R"("choices":[{"index":0,"delta":)" + delta + R"(,"logprobs":null,"finish_reason":)" + finish + "}]}\n\n";
}

long long field(const json::object& o, const char* name, long long dflt) {
  const json::value* v = o.if_contains(name);
  return v && v->is_int64() ? v->get_int64() : dflt;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_mock_upstream PORT [THREADS]\n");
    return 2;
  }
  const int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  core::log::init(core::log::Level::warn);
  core::Config config;
  config.server.listen = std::string("127.0.0.1:") + argv[1];
  config.server.io_threads = threads;
  config.log.access_log = false;

  http::Router router;
  router.add("POST", "/v1/chat/completions", [](http::Request& req) -> asio::awaitable<http::Response> {
    boost::system::error_code ec;
    json::value body = json::parse(req.body, ec);
    const json::object empty;
    const json::object& o = !ec && body.is_object() ? body.get_object() : empty;
    const json::value* stream = o.if_contains("stream");
    if (!stream || !stream->is_bool() || !stream->get_bool()) co_return http::Response::json(200, kCompletion);
    const long long n = field(o, "x_chunks", 8);
    const long long delay = field(o, "x_chunk_delay_ms", 0);
    http::Response res;
    res.content_type = "text/event-stream";
    res.stream = [n, delay](http::StreamWriter& w) -> asio::awaitable<void> {
      std::vector<std::string> events;
      events.push_back(chunk(R"({"role":"assistant","content":""})", "null"));
      for (long long i = 0; i < n; ++i) events.push_back(chunk(R"({"content":"word )" + std::to_string(i) + R"( "})", "null"));
      events.push_back(chunk("{}", "\"stop\""));
      events.push_back("data: [DONE]\n\n");
      for (const auto& e : events) {
        if (delay > 0) {
          asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(delay));
          co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        if (!co_await w.write(e)) co_return;
      }
    };
    co_return res;
  });

  core::metrics::Registry registry;
  http::CorsPolicy cors(config.cors);
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::io_context*> ptrs;
  for (int i = 0; i < threads; ++i) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
    ptrs.push_back(contexts.back().get());
  }
  http::OpenGate gate;  // the upstream checks no keys
  core::Swappable<http::CorsPolicy> swappable_cors(std::make_shared<const http::CorsPolicy>(cors));
  http::Server server(ptrs, config, router, gate, swappable_cors, registry);
  auto bound = server.bind();
  if (!bound) {
    std::fprintf(stderr, "bench_mock_upstream: %s\n", bound.error().message.c_str());
    return 1;
  }
  server.start();
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& c : contexts) guards.push_back(asio::make_work_guard(*c));
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([c = contexts[i].get()] { c->run(); });
  contexts.front()->run();
  for (auto& t : pool) t.join();
  return 0;
}
