#include "knowledge/eval.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <optional>

#include "storage/knowledge_repository.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/ids.hpp"
#include "knowledge/text.hpp"
#include "storage/knowledge_repository.hpp"

namespace sb::knowledge {

namespace json = boost::json;
using core::Error;
using core::ErrorKind;
using Clock = std::chrono::steady_clock;

double ndcg_at(const std::vector<std::string>& ranked, const std::map<std::string, int>& rel, int k) {
  double dcg = 0;
  for (int i = 0; i < k && i < static_cast<int>(ranked.size()); ++i) {
    auto it = rel.find(ranked[i]);
    if (it != rel.end() && it->second > 0) dcg += it->second / std::log2(i + 2.0);
  }
  std::vector<int> grades;
  for (const auto& [doc, g] : rel) {
    if (g > 0) grades.push_back(g);
  }
  std::sort(grades.rbegin(), grades.rend());
  double ideal = 0;
  for (int i = 0; i < k && i < static_cast<int>(grades.size()); ++i) ideal += grades[i] / std::log2(i + 2.0);
  return ideal > 0 ? dcg / ideal : 0;
}

double recall_at(const std::vector<std::string>& ranked, const std::map<std::string, int>& rel, int k) {
  int relevant = 0, found = 0;
  for (const auto& [doc, g] : rel) relevant += g > 0 ? 1 : 0;
  if (relevant == 0) return 0;
  for (int i = 0; i < k && i < static_cast<int>(ranked.size()); ++i) {
    auto it = rel.find(ranked[i]);
    if (it != rel.end() && it->second > 0) ++found;
  }
  return static_cast<double>(found) / relevant;
}

double mrr_at(const std::vector<std::string>& ranked, const std::map<std::string, int>& rel, int k) {
  for (int i = 0; i < k && i < static_cast<int>(ranked.size()); ++i) {
    auto it = rel.find(ranked[i]);
    if (it != rel.end() && it->second > 0) return 1.0 / (i + 1);
  }
  return 0;
}

namespace {

core::Result<std::vector<json::object>> read_jsonl(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return Error(ErrorKind::not_found, "cannot read " + path.string());
  std::vector<json::object> out;
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) {
      return Error(ErrorKind::invalid_json, path.string() + ":" + std::to_string(n) + ": not a JSON object");
    }
    out.push_back(std::move(v.as_object()));
  }
  return out;
}

std::string str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v) return {};
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_int64()) return std::to_string(v->get_int64());
  return {};
}

core::Result<Qrels> read_qrels(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return Error(ErrorKind::not_found, "cannot read " + path.string());
  Qrels out;
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream ss(line);
    std::string q, d, g;
    std::getline(ss, q, '\t');
    std::getline(ss, d, '\t');
    std::getline(ss, g, '\t');
    if (first && q == "query-id") {  // the header
      first = false;
      continue;
    }
    first = false;
    try {
      out[q][d] = std::stoi(g);
    } catch (const std::exception&) {
      return Error(ErrorKind::invalid_field, path.string() + ": bad line '" + line + "'");
    }
  }
  return out;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
}

}  // namespace

namespace {

struct Judged {
  double ndcg = 0, recall = 0, mrr = 0;
  std::size_t n = 0;
  std::vector<double> latencies;
  void add(const std::vector<std::string>& ranked, const std::map<std::string, int>& rel, double ms) {
    latencies.push_back(ms);
    ndcg += ndcg_at(ranked, rel, 10);
    recall += recall_at(ranked, rel, 100);
    mrr += mrr_at(ranked, rel, 10);
    ++n;
  }
  ModeReport report(std::string mode) const {
    ModeReport m{std::move(mode), true};
    if (n > 0) {
      m.ndcg10 = ndcg / static_cast<double>(n);
      m.recall100 = recall / static_cast<double>(n);
      m.mrr10 = mrr / static_cast<double>(n);
    }
    m.p50_ms = percentile(latencies, 0.5);
    m.p99_ms = percentile(latencies, 0.99);
    return m;
  }
};

// Documents in the order of their best chunk, at most 100.
std::vector<std::string> documents_of(const std::vector<storage::ChunkHit>& hits) {
  std::vector<std::string> ranked;
  std::set<std::string> seen;
  for (const auto& h : hits) {
    const std::string id = h.external_id.value_or(h.document_id);
    if (seen.insert(id).second) ranked.push_back(id);
    if (ranked.size() == 100) break;
  }
  return ranked;
}

}  // namespace

core::Result<EvalReport> evaluate(const std::string& dataset_dir, const std::string& split, Store& store,
                                  storage::Database& db, boost::asio::io_context& ioc, const EvalOptions& options) {
  namespace fs = std::filesystem;
  const fs::path dir(dataset_dir);
  EvalReport report;
  report.dataset = dir.filename().string();
  if (report.dataset.empty()) report.dataset = dir.parent_path().filename().string();
  report.split = split;
  auto corpus = read_jsonl(dir / "corpus.jsonl");
  if (!corpus) return std::move(corpus).error();
  auto queries = read_jsonl(dir / "queries.jsonl");
  if (!queries) return std::move(queries).error();
  auto qrels = read_qrels(dir / "qrels" / (split + ".tsv"));
  if (!qrels) return std::move(qrels).error();
  std::map<std::string, std::string> query_text;
  for (const auto& q : *queries) query_text[str(q, "_id")] = str(q, "text");

  std::optional<core::Result<EvalReport>> result;
  auto run = [&]() -> boost::asio::awaitable<void> {
    auto finish = [&](Error e) { result.emplace(std::move(e)); };
    // A fresh collection, with the embedding model when one is given.
    NewCollection nc{"eval-" + core::new_request_id().substr(0, 16), options.embedding_model, options.dimensions};
    auto col = co_await store.create_collection(std::move(nc));
    if (!col) co_return finish(col.error());
    // Ingest through the store, as the API does (8 documents in flight).
    const auto t0 = Clock::now();
    std::size_t next = 0, chunks = 0, indexed = 0;
    std::optional<Error> failed;
    auto worker = [&]() -> boost::asio::awaitable<void> {
      while (next < corpus->size() && !failed) {
        const auto& d = (*corpus)[next++];
        IndexRequest in;
        in.collection = col->name;
        in.external_id = str(d, "_id");
        in.title = str(d, "title");
        in.content = str(d, "text");
        report.corpus_bytes += in.title.size() + in.content.size();
        if (in.content.find_first_not_of(" \t\r\n") == std::string::npos) in.content = in.title;  // title-only
        if (in.content.find_first_not_of(" \t\r\n") == std::string::npos) continue;
        auto r = co_await store.index(std::move(in));
        ++indexed;
        if (options.progress) options.progress("ingest", indexed, corpus->size());
        if (!r && r.error().kind == ErrorKind::unprocessable) continue;  // nothing to search in it
        if (!r) {
          failed = r.error();
          co_return;
        }
        chunks += r->chunks;
      }
    };
    auto ex = co_await boost::asio::this_coro::executor;
    std::size_t running = 8;
    for (int i = 0; i < 8; ++i) {
      boost::asio::co_spawn(ex, worker(), [&running](std::exception_ptr) { --running; });
    }
    boost::asio::steady_timer wait(ex);
    while (running > 0) {
      wait.expires_after(std::chrono::milliseconds(5));
      co_await wait.async_wait(boost::asio::use_awaitable);
    }
    if (failed) co_return finish(*failed);
    report.ingest_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    report.documents = corpus->size();
    report.chunks = chunks;

    // Every mode through Store::search (what POST /api/v1/search runs), and FTS5's own ranking
    // of the keyword query for comparison.
    std::vector<std::pair<std::string, SearchMode>> modes = {{"keyword", SearchMode::keyword}};
    if (options.embedding_model) {
      modes.emplace_back("semantic", SearchMode::semantic);
      modes.emplace_back("hybrid", SearchMode::hybrid);
    }
    for (const auto& [name, mode] : modes) {
      Judged j;
      std::size_t asked = 0;
      for (const auto& [qid, rel] : *qrels) {
        if (options.progress) options.progress("search " + name, asked++, qrels->size());
        auto it = query_text.find(qid);
        if (it == query_text.end()) continue;
        const auto q0 = Clock::now();
        SearchRequest req;
        req.collection = col->name;
        req.query = it->second;
        req.top_k = 300;
        req.mode = mode;
        auto hits = co_await store.search(std::move(req));
        if (!hits) co_return finish(hits.error());
        std::vector<storage::ChunkHit> chunk_hits;
        for (auto& h : hits->hits) chunk_hits.push_back(std::move(h.chunk));
        j.add(documents_of(chunk_hits), rel, std::chrono::duration<double, std::milli>(Clock::now() - q0).count());
      }
      if (options.progress) options.progress("search " + name, qrels->size(), qrels->size());
      report.queries = j.n;
      report.modes.push_back(j.report(name));
      if (mode == SearchMode::keyword) {
        Judged f;
        auto fts = db.run_sync([&](storage::Connection& c) -> core::Result<int> {
          for (const auto& [qid, rel] : *qrels) {
            auto it = query_text.find(qid);
            if (it == query_text.end()) continue;
            const auto q0 = Clock::now();
            const std::string match = keyword_query(it->second);
            std::vector<storage::ChunkHit> hits;
            if (!match.empty()) {
              auto r = storage::KnowledgeRepository::keyword_search(c, col->id, match, 300);
              if (!r) return std::move(r).error();
              hits = std::move(*r);
            }
            f.add(documents_of(hits), rel, std::chrono::duration<double, std::milli>(Clock::now() - q0).count());
          }
          return 0;
        });
        if (!fts) co_return finish(fts.error());
        report.modes.push_back(f.report("fts5"));
      }
    }
    if (!options.embedding_model) {
      for (const char* m : {"semantic", "hybrid"}) {
        report.modes.push_back(ModeReport{m, false, "no --embedding-model given (keyword only)"});
      }
    }
    result.emplace(std::move(report));
  };
  boost::asio::co_spawn(ioc, run(), [&result](std::exception_ptr e) {
    if (e && !result) result.emplace(Error(ErrorKind::internal, "eval stopped by an exception"));
  });
  ioc.run();
  ioc.restart();
  if (!result) return Error(ErrorKind::internal, "eval did not finish");
  return std::move(*result);
}

std::string format_report(const EvalReport& r) {
  char buf[512];
  std::string out;
  std::snprintf(buf, sizeof buf, "dataset %s, split %s: %zu documents, %zu chunks, %zu queries\n",
                r.dataset.c_str(), r.split.c_str(), r.documents, r.chunks, r.queries);
  out += buf;
  std::snprintf(buf, sizeof buf, "ingest: %.2f s (%.1f MB/s, %.0f chunks/s)\n", r.ingest_seconds,
                r.ingest_seconds > 0 ? r.corpus_bytes / 1e6 / r.ingest_seconds : 0.0,
                r.ingest_seconds > 0 ? r.chunks / r.ingest_seconds : 0.0);
  out += buf;
  out += "mode      nDCG@10  Recall@100  MRR@10  p50 ms  p99 ms\n";
  for (const auto& m : r.modes) {
    if (!m.available) {
      std::snprintf(buf, sizeof buf, "%-8s  not available: %s\n", m.mode.c_str(), m.reason.c_str());
    } else {
      std::snprintf(buf, sizeof buf, "%-8s  %7.4f  %10.4f  %6.4f  %6.2f  %6.2f\n", m.mode.c_str(),
                    m.ndcg10, m.recall100, m.mrr10, m.p50_ms, m.p99_ms);
    }
    out += buf;
  }
  return out;
}

}  // namespace sb::knowledge
