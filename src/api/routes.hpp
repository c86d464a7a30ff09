#pragma once
// Registers every HTTP route of the API on a router.

#include <boost/asio/awaitable.hpp>

#include <functional>

#include "core/error.hpp"
#include "core/metrics.hpp"
#include "gateway/gateway.hpp"
#include "http/router.hpp"
#include "storage/system_repository.hpp"

namespace sb::api {

struct Deps {
  // Reads the store's status; a failure makes /ready answer 503 with the reason.
  std::function<boost::asio::awaitable<core::Result<storage::StorageStatus>>()> storage_status;
  core::metrics::Registry* metrics = nullptr;
  gateway::Gateway* gateway = nullptr;
};

// GET /health, /live, /ready, /version, /metrics.
void register_system_routes(http::Router& router, Deps deps);
// POST /api/v1/echo (diagnostics).
void register_echo_routes(http::Router& router);
// GET /v1/models, POST /v1/chat/completions.
void register_chat_routes(http::Router& router, gateway::Gateway& gateway);

inline void register_routes(http::Router& router, Deps deps) {
  if (deps.gateway) register_chat_routes(router, *deps.gateway);
  register_system_routes(router, std::move(deps));
  register_echo_routes(router);
}

}  // namespace sb::api
