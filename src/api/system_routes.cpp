// Health, readiness, version and metrics endpoints.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "api/routes.hpp"
#include "core/version.hpp"
#include "http/message.hpp"
#include "core/json_text.hpp"

namespace sb::api {

namespace json = boost::json;
using boost::asio::awaitable;
using http::Request;
using http::Response;

void register_system_routes(http::Router& router, Deps deps) {
  auto ok = [](Request&) -> awaitable<Response> {
    co_return Response::json(200, R"({"status":"ok"})");
  };
  router.add("GET", "/health", ok);
  router.add("GET", "/live", ok);

  router.add("GET", "/version", [](Request&) -> awaitable<Response> {
    json::object o;
    o["name"] = "switchboard";
    o["version"] = core::version();
    o["commit"] = core::git_commit();
    co_return Response::json(200, core::to_json(o));
  });

  router.add("GET", "/ready", [status = deps.storage_status](Request&) -> awaitable<Response> {
    auto st = co_await status();
    json::object storage;
    if (st) {
      storage["status"] = "ok";
      storage["schema_version"] = st->schema_version;
      storage["journal_mode"] = st->journal_mode;
      storage["instance_id"] = st->instance_id;
      storage["boots"] = st->boots;
      json::object o;
      o["status"] = "ready";
      o["checks"] = json::object{{"storage", std::move(storage)}};
      co_return Response::json(200, core::to_json(o));
    }
    core::Error e(core::ErrorKind::unavailable, "not ready: storage: " + st.error().message);
    storage["status"] = "error";
    storage["error"] = st.error().message;
    json::value body = json::parse(http::error_body(e));
    body.as_object()["status"] = "not_ready";
    body.as_object()["checks"] = json::object{{"storage", std::move(storage)}};
    Response r = Response::json(503, core::to_json(body));
    r.header("Retry-After", "1");
    co_return r;
  });

  router.add("GET", "/metrics", [registry = deps.metrics](Request&) -> awaitable<Response> {
    Response r = Response::json(200, registry->render());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    co_return r;
  });
}

}  // namespace sb::api
