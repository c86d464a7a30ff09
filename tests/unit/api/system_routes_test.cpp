#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "api/routes.hpp"

namespace sb::api {
namespace {

namespace asio = boost::asio;

http::Response call(const http::Router& router, const std::string& path) {
  auto m = router.match("GET", path);
  EXPECT_EQ(m.kind, http::Match::Kind::found) << path;
  http::Request req;
  req.method = "GET";
  req.path = path;
  http::Response out;
  asio::io_context ioc;
  asio::co_spawn(
      ioc, [&]() -> asio::awaitable<void> { out = co_await m.route->handler(req); },
      asio::detached);
  ioc.run();
  return out;
}

Deps deps_with(core::Result<storage::StorageStatus> status, core::metrics::Registry& registry) {
  Deps d;
  d.metrics = &registry;
  d.storage_status = [status]() -> asio::awaitable<core::Result<storage::StorageStatus>> {
    co_return status;
  };
  return d;
}

TEST(SystemRoutes, ReadyReportsStorage) {
  core::metrics::Registry registry;
  http::Router router;
  storage::StorageStatus st;
  st.schema_version = 3;
  st.journal_mode = "wal";
  st.instance_id = "abc";
  st.boots = 2;
  register_system_routes(router, deps_with(st, registry));
  auto r = call(router, "/ready");
  EXPECT_EQ(r.status, 200);
  auto v = boost::json::parse(r.body);
  EXPECT_EQ(v.at("status"), "ready");
  EXPECT_EQ(v.at("checks").at("storage").at("schema_version"), 3);
}

TEST(SystemRoutes, ReadyIs503WithTheReasonWhenStorageFails) {
  core::metrics::Registry registry;
  http::Router router;
  register_system_routes(
      router, deps_with(core::Error(core::ErrorKind::unavailable, "disk I/O error"), registry));
  auto r = call(router, "/ready");
  EXPECT_EQ(r.status, 503);
  auto v = boost::json::parse(r.body);
  EXPECT_EQ(v.at("status"), "not_ready");
  EXPECT_EQ(v.at("error").at("code"), "service_unavailable");
  EXPECT_NE(std::string(v.at("error").at("message").as_string()).find("disk I/O error"),
            std::string::npos);
  EXPECT_EQ(v.at("checks").at("storage").at("status"), "error");
  ASSERT_FALSE(r.headers.empty());
  EXPECT_EQ(r.headers[0].first, "Retry-After");
}

TEST(SystemRoutes, MetricsAreServedAsPrometheusText) {
  core::metrics::Registry registry;
  registry.counter("t_total", "T.").with({}).inc(4);
  http::Router router;
  register_system_routes(router, deps_with(storage::StorageStatus{}, registry));
  auto r = call(router, "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body.find("t_total 4\n"), std::string::npos);
}

}  // namespace
}  // namespace sb::api
