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

  router.add("GET", "/ready", [status = deps.storage_status, store = deps.knowledge,
                               gw = deps.gateway](Request&) -> awaitable<Response> {
    auto st = co_await status();
    json::object storage;
    if (st) {
      storage["status"] = "ok";
      storage["schema_version"] = st->schema_version;
      storage["journal_mode"] = st->journal_mode;
      storage["instance_id"] = st->instance_id;
      storage["boots"] = st->boots;
      json::object checks{{"storage", std::move(storage)}};
      // Collections whose embedding model no longer resolves (e.g. the mock's, once providers
      // are configured) are reported: their writes and semantic searches fail. Still ready:
      // everything else serves.
      if (store && gw) {
        auto cols = co_await store->list_collections();
        if (cols) {
          json::array unresolved;
          for (const auto& c : *cols) {
            if (c.row.embedding_model && !gw->resolve(*c.row.embedding_model)) {
              unresolved.push_back(json::object{{"name", c.row.name}, {"embedding_model", *c.row.embedding_model}});
            }
          }
          json::object kc{{"status", unresolved.empty() ? "ok" : "degraded"}};
          if (!unresolved.empty()) kc["unresolved_embedding_models"] = std::move(unresolved);
          checks["collections"] = std::move(kc);
        }
      }
      json::object o;
      o["status"] = "ready";
      o["checks"] = std::move(checks);
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
