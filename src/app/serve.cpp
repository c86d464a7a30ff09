#include "app/serve.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>
#include <unistd.h>

#include "api/routes.hpp"
#include "api/schema.hpp"
#include "workflows/pipeline.hpp"
#include "workflows/agent_registry.hpp"
#include "core/event_bus.hpp"
#include "chat/assistant.hpp"
#include "chat/service.hpp"
#include "storage/data_dir_lock.hpp"
#include "core/blocking_pool.hpp"
#include "core/clock.hpp"
#include "core/event_loop.hpp"
#include "core/log.hpp"
#include "core/process.hpp"
#include "core/version.hpp"
#include "gateway/gateway.hpp"
#include "gateway/recorder.hpp"
#include "api/control_gate.hpp"
#include "control/keys.hpp"
#include "control/ledger.hpp"
#include "control/limiter.hpp"
#include "http/client.hpp"
#include "http/cors.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "jobs/queue.hpp"
#include "jobs/service.hpp"
#include "knowledge/extract_sandbox.hpp"
#include "knowledge/store.hpp"
#include "storage/database.hpp"
#include "storage/system_repository.hpp"

namespace sb::app {

namespace json = boost::json;

core::Config with_default_provider(core::Config config) {
  if (config.providers.empty()) {
    core::ProviderConfig mock;
    mock.name = "mock";
    mock.type = "mock";
    mock.models = {"echo", "embed"};  // chat, and hashed embeddings for the knowledge base
    config.providers.push_back(mock);
  }
  return config;
}

namespace asio = boost::asio;
namespace log = core::log;

int serve(const core::Config& config, std::function<core::Config()> reload) {
  std::signal(SIGPIPE, SIG_IGN);
  log::init(*log::parse_level(config.log.level));

  // One server per data dir: the lock is held until this process exits.
  auto lock = storage::DataDirLock::acquire(config.storage.data_dir);
  if (!lock) {
    log::error("data dir is locked", {{"error", lock.error().message}});
    log::shutdown();
    std::fprintf(stderr, "switchboard: %s\n", lock.error().message.c_str());
    return 1;
  }
  auto db = storage::Database::open(config.storage);
  if (!db) {
    log::error("storage failed to open", {{"error", db.error().message}});
    log::shutdown();
    std::fprintf(stderr, "switchboard: %s\n", db.error().message.c_str());
    return 1;
  }
  storage::Database& database = **db;
  storage::SystemRepository system(database);
  auto boot = system.record_boot(core::version());
  if (!boot) {
    log::error("storage is not writable", {{"error", boot.error().message}});
    log::shutdown();
    std::fprintf(stderr, "switchboard: %s\n", boot.error().message.c_str());
    return 1;
  }

  // The control plane: keys (hashed with this installation's pepper), limits, budgets, usage, audit.
  core::SystemClock clock;
  auto pepper = control::KeyStore::load_pepper(config.storage.data_dir);
  if (!pepper) {
    log::error("key pepper unusable", {{"error", pepper.error().message}});
    log::shutdown();
    std::fprintf(stderr, "switchboard: %s\n", pepper.error().message.c_str());
    return 1;
  }
  control::KeyStore keys(database, clock, *pepper);
  control::Budgets budgets(clock);
  if (auto st = keys.load(); !st || !(st = budgets.load(database, keys.all()))) {
    log::error("keys unreadable", {{"error", st.error().message}});
    log::shutdown();
    std::fprintf(stderr, "switchboard: %s\n", st.error().message.c_str());
    return 1;
  }
  auto limiter = control::make_local_limiter();

  core::metrics::Registry registry;
  core::register_process_metrics(registry);
  auto& pool_pending = registry.gauge("switchboard_blocking_pool_pending",
                                      "Blocking tasks (database, parsing) queued or running.")
                           .with({});
  registry.on_collect([&] { pool_pending.set(static_cast<double>(database.pool().pending())); });

  const core::Config gateway_config = with_default_provider(config);
  if (!config.gateway.record_dir.empty()) {
    if (auto st = gateway::check_record_dir(config.gateway.record_dir); !st) {
      log::error("refusing to start", {{"error", st.error().message}});
      log::shutdown();
      std::fprintf(stderr, "switchboard: %s\n", st.error().message.c_str());
      return 1;
    }
  }

  http::ClientOptions client_options;
  http::proxy_from_environment(client_options);
  http::Client client(client_options);
  gateway::Gateway gateway(gateway_config, client, registry);
  workflows::IntentRouter intent_router(gateway_config, gateway, registry);
  control::Ledger ledger(database, keys, clock, registry, config.limits.usage_flush_ms, config.audit.retention_days,
                         config.limits.metrics_max_keys);
  api::ControlGate gate(config, keys, *limiter, budgets, ledger, &gateway, clock);

  http::Router router;
  api::Deps deps;
  deps.gateway = &gateway;
  deps.intents = &intent_router;
  deps.allow_private_webhooks = config.jobs.webhook_allow_private;
  deps.max_response_bytes = static_cast<std::size_t>(config.server.max_response_bytes);
  deps.storage_status = [&system] { return system.status(); };
  deps.metrics = &registry;

  core::Swappable<http::CorsPolicy> cors(std::make_shared<const http::CorsPolicy>(config.cors));
  unsigned threads = config.server.io_threads > 0
                         ? static_cast<unsigned>(config.server.io_threads)
                         : std::max(1u, std::thread::hardware_concurrency());
  // One io_context per I/O thread: a connection and the upstream calls its requests make stay
  // on one thread, with no strand and no cross-thread wake-ups on the request path.
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::io_context*> context_ptrs;
  for (unsigned i = 0; i < threads; ++i) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
    context_ptrs.push_back(contexts.back().get());
  }
  asio::io_context& ioc = *contexts.front();
  auto stop_all = [&contexts] {
    for (auto& c : contexts) c->stop();
  };
  // The job queue: SQLite-backed, its loops on the first context, jobs on all of them.
  auto queue = jobs::make_sqlite_queue(database);
  std::unique_ptr<jobs::Service> job_service;
  if (config.jobs.enabled) {
    job_service = std::make_unique<jobs::Service>(config, *queue, gateway, client, registry, clock,
                                                  context_ptrs);
    deps.jobs = job_service.get();
    job_service->set_meter([&gate](const jobs::Job& job) -> std::shared_ptr<core::RequestContext> {
      if (!job.key_id) return nullptr;
      return gate.job_meter(*job.key_id, job.id, job.request);
    });
  }
  // The knowledge base: vectors from the gateway's embedding routes, indexes in <data>/vectors.
  const auto& kc = config.knowledge;
  knowledge::VectorIndexes vector_indexes(
      (std::filesystem::path(config.storage.data_dir) / "vectors").string(),
      knowledge::HnswParams{kc.hnsw_m, kc.hnsw_ef_construction, kc.hnsw_ef_search, kc.hnsw_int8});
  auto embedder = knowledge::make_gateway_embedder(gateway, kc.embed_batch);
  knowledge::StoreOptions store_options;
  store_options.chunking = knowledge::ChunkOptions{kc.chunk_tokens, kc.chunk_overlap_tokens};
  store_options.exact_search_below = kc.exact_search_below;
  store_options.max_document_bytes = kc.max_document_bytes;
  store_options.async_ingest_bytes = kc.async_ingest_bytes;
  store_options.url.timeout = std::chrono::milliseconds(kc.url_timeout_ms);
  store_options.url.allow_private = kc.url_allow_private;
  // Documents are parsed in sandboxed worker processes, one pool thread waiting on each.
  knowledge::SandboxOptions sandbox_options;
  sandbox_options.workers = kc.extract_workers;
  sandbox_options.timeout_ms = kc.extract_timeout_ms;
  sandbox_options.memory_mb = kc.extract_memory_mb;
  sandbox_options.limits.max_unpacked_bytes = static_cast<std::size_t>(kc.max_document_bytes) * 8;
  sandbox_options.limits.max_text_bytes = static_cast<std::size_t>(kc.max_extracted_chars);
  knowledge::ExtractSandbox sandbox(sandbox_options);
  core::BlockingPool extract_pool(static_cast<std::size_t>(kc.extract_workers),
                                  static_cast<std::size_t>(config.storage.blocking_queue));
  store_options.extract_limits = sandbox_options.limits;
  store_options.extractor = [&sandbox](std::string_view bytes, std::string_view type, std::string_view name) {
    return sandbox.extract(bytes, type, name);
  };
  store_options.extract_pool = &extract_pool;
  knowledge::Store knowledge_store(database, clock, vector_indexes, embedder.get(), store_options, &client);
  deps.knowledge = &knowledge_store;
  deps.log.gateway = &gateway;
  deps.log.store = &knowledge_store;
  deps.log.client = &client;
  deps.log.pool = &extract_pool;
  deps.log.url_options = store_options.url;
  deps.agents.gateway = &gateway;
  deps.agents.store = &knowledge_store;
  deps.agents.db = &database;
  deps.agents.clock = &clock;
  workflows::AgentRegistry agent_registry(database, clock, gateway, config.agents, config.tools);
  if (auto st = agent_registry.load(); !st) {
    log::error("agents unreadable", {{"error", st.error().message}});
    log::shutdown();
    std::fprintf(stderr, "switchboard: %s\n", st.error().message.c_str());
    return 1;
  }
  deps.agents.registry = &agent_registry;
  deps.agents.client = &client;
  deps.agents.jobs = job_service.get();
  if (job_service) {
    job_service->set_handler("agent", [agents = deps.agents](const jobs::Job& job, std::shared_ptr<core::CancelSignal> cancel,
                                                             std::shared_ptr<core::RequestContext> meter) {
      return api::run_agent_job(agents, job, std::move(cancel), std::move(meter));
    });
  }
  // RAG chat: the configured assistants over the knowledge store and the gateway.
  std::vector<chat::Assistant> assistants;
  for (std::size_t i = 0; i < config.assistants.size(); ++i) {
    auto made = chat::make_assistant(config.assistants[i]);
    if (!made) {
      const std::string why = "assistants[" + std::to_string(i) + "]." + made.error().param + ": " + made.error().message;
      log::error("invalid config", {{"error", why}});
      log::shutdown();
      std::fprintf(stderr, "switchboard: %s\n", why.c_str());
      return 1;
    }
    assistants.push_back(std::move(*made));
  }
  std::unique_ptr<chat::Cache> response_cache;
  if (config.cache.enabled) {
    response_cache = chat::make_memory_cache(static_cast<std::size_t>(config.cache.max_bytes), clock, registry);
  }
  chat::Service chat_service(database, knowledge_store, gateway, clock, config.chat, std::move(assistants), registry,
                             response_cache.get(), std::chrono::seconds(config.cache.ttl_s));
  if (auto st = chat_service.load(); !st) {
    log::error("assistants unreadable", {{"error", st.error().message}});
    log::shutdown();
    std::fprintf(stderr, "switchboard: %s\n", st.error().message.c_str());
    return 1;
  }
  deps.chat = &chat_service;
  // Live events: job status changes and stored messages, for /api/v1/events and /api/v1/ws.
  core::EventBus event_bus;
  deps.events = &event_bus;
  deps.event_limits.max_events = static_cast<std::size_t>(config.events.max_pending_events);
  deps.event_limits.max_bytes = static_cast<std::size_t>(config.events.max_pending_bytes);
  chat_service.on_message([&event_bus](const std::string& conversation, const std::string& owner, json::object m) {
    event_bus.publish(api::message_event(conversation, owner, std::move(m)));
  });
  if (job_service) {
    job_service->set_on_event([&event_bus](const jobs::Job& job) {
      if (event_bus.subscribers() > 0) event_bus.publish(api::job_event(job));
    });
  }
  auto& event_subscribers =
      registry.gauge("switchboard_event_subscribers", "Live event subscribers (SSE and WebSocket) connected.").with({});
  auto& events_dropped = registry
                             .gauge("switchboard_event_subscribers_dropped",
                                    "Subscribers dropped since start for falling behind (1024 events or 1 MiB waiting).")
                             .with({});
  registry.on_collect([&event_bus, &event_subscribers, &events_dropped] {
    event_subscribers.set(static_cast<double>(event_bus.subscribers()));
    events_dropped.set(static_cast<double>(event_bus.dropped_total()));
  });
  // Pipeline jobs: classify -> compress -> generate -> store (no compression model until local
  // models exist: that step is skipped and says so).
  workflows::Pipeline pipeline(gateway, intent_router, chat_service, nullptr, config.workflows.pipeline_memory_turns);
  core::Swappable<core::Config> pipeline_config(std::make_shared<const core::Config>(gateway_config));
  deps.generate.gateway = &gateway;
  deps.generate.default_model = [&pipeline_config] { return pipeline_config.get()->workflows.generate_model; };
  if (job_service) {
    job_service->set_handler("comparison", [&gateway](const jobs::Job& job, std::shared_ptr<core::CancelSignal> cancel,
                                                      std::shared_ptr<core::RequestContext> meter) {
      return api::run_comparison_job(gateway, job, std::move(cancel), std::move(meter));
    });
    job_service->set_handler("pipeline", [&pipeline](const jobs::Job& job, std::shared_ptr<core::CancelSignal> cancel,
                                                     std::shared_ptr<core::RequestContext> meter) {
      return pipeline.run(job, std::move(cancel), std::move(meter));
    });
    deps.pipeline.intents = &intent_router;
    deps.pipeline.default_route = [&pipeline_config, &gateway] {
      return workflows::default_pipeline_route(*pipeline_config.get(), gateway);
    };
  }
  if (auto n = knowledge_store.recover(); n && *n > 0) {
    log::warn("unfinished uploads marked failed", {{"documents", static_cast<long long>(*n)}});
  }
  // A config reload (SIGHUP, POST /api/v1/config/reload): the config file again (with the same
  // environment and flags). What validates replaces providers, routes, the [gateway] settings,
  // admin keys, [limits], [[prices]], CORS and the log level for the requests that start from now
  // on; a config that does not validate changes nothing.
  std::mutex reload_mu;
  std::function<core::Result<std::string>()> reload_all = [&]() -> core::Result<std::string> {
    if (!reload) return core::Error(core::ErrorKind::unavailable, "this server was started without a config to reload");
    std::lock_guard lock(reload_mu);
    try {
      core::Config next = reload();
      gateway.reload(with_default_provider(next));
      intent_router.reload(next);
      pipeline_config.set(std::make_shared<const core::Config>(with_default_provider(next)));
      gate.reload(next);
      cors.set(std::make_shared<const http::CorsPolicy>(next.cors));
      log::set_level(*log::parse_level(next.log.level));
      log::info("config reloaded", {{"providers", static_cast<long long>(next.providers.size())},
                                    {"routes", static_cast<long long>(next.routes.size())},
                                    {"auth", !next.auth.api_keys.empty()},
                                    {"log_level", next.log.level},
                                    {"needs_restart", "server, storage, jobs, knowledge, console sections"}});
      return std::to_string(next.providers.size()) + " providers, " + std::to_string(next.routes.size()) +
             " routes, " + std::to_string(next.prices.size()) + " prices";
    } catch (const std::exception& e) {
      log::error("config reload refused", {{"error", e.what()}});
      return core::Error(core::ErrorKind::unprocessable, std::string("config reload refused: ") + e.what());
    }
  };
  deps.control.keys = &keys;
  deps.control.budgets = &budgets;
  deps.control.ledger = &ledger;
  deps.control.gate = &gate;
  deps.control.db = &database;
  deps.control.clock = &clock;
  deps.control.reload = reload ? reload_all : nullptr;
  api::register_routes(router, deps);
  api::require_schemas(router);

  // The signals are caught from before the first log line: one sent as soon as "listening" is
  // read (a supervisor, a test) waits for its handler instead of killing the process.
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  asio::signal_set hangups(ioc, SIGHUP);
  http::Server server(context_ptrs, config, router, gate, cors, registry);
  auto bound = server.bind();
  if (!bound) {
    log::error("cannot listen", {{"error", bound.error().message}});
    log::shutdown();
    std::fprintf(stderr, "switchboard: %s\n", bound.error().message.c_str());
    return 1;
  }
  log::info("listening", {{"address", *bound},
                          {"version", core::version()},
                          {"pid", static_cast<long long>(getpid())},
                          {"io_threads", threads},
                          {"auth", !gate.open()}});
  const auto& mig = database.migration_report();
  log::info("storage ready", {{"path", database.path()},
                              {"schema_version", mig.to_version},
                              {"migrations_applied", mig.applied},
                              {"boot", *boot}});
  // (after "listening", which is the first line by contract)
  if (!config.providers.empty() &&
      std::none_of(config.providers.begin(), config.providers.end(), [](const auto& p) { return p.type == "mock"; })) {
    log::warn("no mock provider",
              {{"detail", "providers are configured, so the built-in mock (mock/echo, mock/embed) is off: collections "
                          "made with mock/embed cannot embed (see /ready); add [[providers]] name = \"mock\" "
                          "type = \"mock\" to keep it"}});
  }
  if (gate.open()) {
    log::warn("open: no key needed",
              {{"detail", "no auth.api_keys (SWITCHBOARD_API_KEY) configured and no API key created: every request is "
                          "served without a key. Create the first (admin) key with POST /api/v1/keys to close it"}});
  }
  server.start();
  if (!config.gateway.record_dir.empty()) {  // (after "listening": the first line says where)
    log::warn("recording every upstream exchange (gateway.record_dir): for development only",
              {{"dir", config.gateway.record_dir}});
  }
  asio::co_spawn(ioc, ledger.run(), asio::detached);
  if (job_service) job_service->start();
  asio::co_spawn(ioc, knowledge_store.start(), asio::detached);
  // Conversation retention: at start, then hourly.
  asio::steady_timer chat_sweep(ioc);
  asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
    for (;;) {
      auto r = co_await chat_service.sweep();
      if (!r) {
        log::warn("conversation retention failed", {{"error", r.error().message}});
      } else if (r->first || r->second) {
        log::info("conversation retention", {{"expired", static_cast<long long>(r->first)},
                                             {"purged", static_cast<long long>(r->second)}});
      }
      chat_sweep.expires_after(std::chrono::hours(1));
      boost::system::error_code ec;
      co_await chat_sweep.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
    }
  }, asio::detached);

  // SIGHUP: reload_all, as above.
  std::function<void()> await_hangup = [&] {
    hangups.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      if (!reload) {
        log::warn("config reload refused", {{"error", "this server was started without a config to reload"}});
      } else {
        (void)reload_all();
      }
      await_hangup();
    });
  };
  await_hangup();

  asio::steady_timer grace_timer(ioc);
  const std::chrono::milliseconds grace(config.server.shutdown_grace_ms);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log::info("signal received", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    if (job_service) job_service->stop();
    ledger.stop();
    chat_sweep.cancel();
    hangups.cancel();
    event_bus.close_all();  // (live event streams end now, not at the end of the grace period)
    server.shutdown(grace, stop_all);
    // Documents still being parsed when the grace period ends are not waited for: their workers
    // are killed (a background upload stays kept and is processed again at start).
    grace_timer.expires_after(grace);
    grace_timer.async_wait([&sandbox](const boost::system::error_code& e) {
      if (!e) sandbox.shutdown();
    });
    signals.async_wait([stop_all](const boost::system::error_code& ec2, int) {
      if (ec2) return;
      log::warn("second signal: stopping now");
      stop_all();
    });
  });

  // Keeps a context without connections running until stop_all().
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& c : contexts) guards.push_back(asio::make_work_guard(*c));
  std::vector<std::thread> workers;
  const std::chrono::microseconds spin(config.server.spin_us);
  for (unsigned i = 1; i < threads; ++i) {
    workers.emplace_back([c = contexts[i].get(), spin] { core::run_event_loop(*c, spin); });
  }
  core::run_event_loop(ioc, spin);
  for (auto& t : workers) t.join();
  sandbox.shutdown();  // a parse still running (stopped by a second signal) ends now
  extract_pool.stop();
  client.close_idle();  // pooled sockets belong to the contexts, which go before the client

  knowledge_store.flush();
  ledger.flush_now();  // every request has finished: its usage row and audit entry are written
  database.close();
  log::info("stopped", {{"open_connections", static_cast<long long>(server.open_connections())}});
  log::shutdown();
  return 0;
}

}  // namespace sb::app
