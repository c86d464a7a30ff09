#include "app/eval_command.hpp"

#include <boost/asio/io_context.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "app/progress.hpp"
#include "app/serve.hpp"
#include "core/log.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "gateway/gateway.hpp"
#include "http/client.hpp"
#include "knowledge/embedder.hpp"
#include "knowledge/eval.hpp"
#include "knowledge/store.hpp"
#include "knowledge/vectors.hpp"
#include "storage/database.hpp"

namespace sb::app {

int eval(const core::Config& config, const std::string& dataset_dir, const std::string& split,
         const std::optional<std::string>& embedding_model, std::optional<std::int64_t> dimensions, bool keep_data) {
  namespace fs = std::filesystem;
  // Logs and progress on stderr; the report alone on stdout.
  core::log::init(core::log::parse_level(config.log.level).value_or(core::log::Level::warn), STDERR_FILENO);
  struct StopLog {
    ~StopLog() { core::log::shutdown(); }
  } stop_log;
  Progress progress;
  std::string dir = keep_data ? config.storage.data_dir : "";
  bool temporary = false;
  if (dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "switchboard-eval-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      std::perror("switchboard: cannot create a temporary directory");
      return 1;
    }
    dir = tmpl;
    temporary = true;
  }
  int code = 0;
  {
    core::StorageConfig storage = config.storage;
    storage.data_dir = dir;
    auto db = storage::Database::open(storage);
    if (!db) {
      std::fprintf(stderr, "switchboard: %s\n", db.error().message.c_str());
      code = 1;
    } else {
      // The gateway gives the embeddings, as in the server (providers from --config; with none,
      // mock/embed).
      boost::asio::io_context ioc(1);
      core::metrics::Registry registry;
      http::Client client;
      gateway::Gateway gateway(with_default_provider(config), client, registry);
      auto embedder = knowledge::make_gateway_embedder(gateway, config.knowledge.embed_batch);
      const auto& kc = config.knowledge;
      knowledge::VectorIndexes vectors("", knowledge::HnswParams{kc.hnsw_m, kc.hnsw_ef_construction, kc.hnsw_ef_search, kc.hnsw_int8});
      core::SystemClock clock;
      knowledge::StoreOptions options;
      options.chunking = knowledge::ChunkOptions{kc.chunk_tokens, kc.chunk_overlap_tokens};
      options.exact_search_below = kc.exact_search_below;
      knowledge::Store store(**db, clock, vectors, embedder.get(), options);
      auto report = knowledge::evaluate(dataset_dir, split, store, **db, ioc,
                                        knowledge::EvalOptions{embedding_model, dimensions,
                                                               [&progress](const std::string& stage, std::size_t done,
                                                                           std::size_t total) {
                                                                 progress.update(stage, done, total);
                                                               }});
      progress.finish();
      client.close_idle();
      if (!report) {
        std::fprintf(stderr, "switchboard: eval: %s\n", report.error().message.c_str());
        code = 2;
      } else {
        std::fputs(knowledge::format_report(*report).c_str(), stdout);
      }
      (*db)->close();
    }
  }
  if (temporary) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return code;
}

}  // namespace sb::app
