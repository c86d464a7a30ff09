#include "knowledge/eval.hpp"

#include <functional>
#include <memory>

#include "knowledge/bm25.hpp"

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

core::Result<EvalReport> evaluate(const std::string& dataset_dir, const std::string& split,
                                  storage::Database& db) {
  namespace fs = std::filesystem;
  const fs::path dir(dataset_dir);
  EvalReport report;
  report.dataset = dir.filename().empty() ? dir.parent_path().filename().string() : dir.filename().string();
  report.split = split;
  auto corpus = read_jsonl(dir / "corpus.jsonl");
  if (!corpus) return std::move(corpus).error();
  auto queries = read_jsonl(dir / "queries.jsonl");
  if (!queries) return std::move(queries).error();
  auto qrels = read_qrels(dir / "qrels" / (split + ".tsv"));
  if (!qrels) return std::move(qrels).error();

  // Ingest into a fresh collection, in one transaction.
  const auto t0 = Clock::now();
  const std::string collection_id = "col_" + core::new_request_id().substr(0, 24);
  auto ingested = db.run_sync([&](storage::Connection& c) -> core::Result<std::size_t> {
    if (auto st = c.exec("BEGIN IMMEDIATE"); !st) return std::move(st).error();
    auto fail = [&](Error e) {
      (void)c.exec("ROLLBACK");
      return e;
    };
    auto col = storage::KnowledgeRepository::create_collection(c, collection_id, "eval-" + collection_id, 0);
    if (!col) return fail(col.error());
    std::size_t chunks = 0;
    for (const auto& d : *corpus) {
      storage::DocumentInsert doc;
      doc.id = "doc_" + core::new_request_id().substr(0, 24);
      doc.collection_id = collection_id;
      doc.external_id = str(d, "_id");
      doc.title = str(d, "title");
      const std::string text = str(d, "text");
      report.corpus_bytes += doc.title.size() + text.size();
      doc.content_hash = normalized_hash(doc.title + "\n" + text);
      int ord = 0;
      for (auto& ch : chunk_text(text)) {
        storage::ChunkInsert ci;
        ci.ord = ord++;
        ci.heading = std::move(ch.heading);
        ci.hash = normalized_hash(ch.text);
        ci.text = std::move(ch.text);
        doc.chunks.push_back(std::move(ci));
      }
      if (doc.chunks.empty() && !doc.title.empty()) {  // a title-only document is still findable
        doc.chunks.push_back(storage::ChunkInsert{0, "", std::nullopt, "", normalized_hash("")});
      }
      chunks += doc.chunks.size();
      if (auto st = storage::KnowledgeRepository::add_document(c, doc); !st) return fail(st.error());
    }
    if (auto st = c.exec("COMMIT"); !st) return fail(st.error());
    return chunks;
  });
  if (!ingested) return std::move(ingested).error();
  report.ingest_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  report.documents = corpus->size();
  report.chunks = *ingested;

  std::map<std::string, std::string> query_text;
  for (const auto& q : *queries) query_text[str(q, "_id")] = str(q, "text");

  // Keyword search as the server runs it (the in-memory BM25 index, then the chunks checked
  // against storage), and straight through FTS5 for comparison: the two must agree.
  auto built = db.run_sync([&](storage::Connection& c) -> core::Result<std::shared_ptr<Bm25Index>> {
    auto rows = storage::KnowledgeRepository::live_chunk_texts(c, collection_id);
    if (!rows) return std::move(rows).error();
    auto index = std::make_shared<Bm25Index>();
    for (auto& r : *rows) index->add(Bm25Doc{r.id, std::move(r.title), std::move(r.heading), std::move(r.text)});
    return index;
  });
  if (!built) return std::move(built).error();
  using Search = std::function<core::Result<std::vector<storage::ChunkHit>>(storage::Connection&, const std::string&)>;
  const Search in_memory = [&](storage::Connection& c, const std::string& q) -> core::Result<std::vector<storage::ChunkHit>> {
    auto scored = (*built)->search(q, 300);
    std::vector<std::int64_t> ids;
    for (const auto& s : scored) ids.push_back(s.id);
    auto hits = storage::KnowledgeRepository::hydrate(c, collection_id, ids);
    if (!hits) return std::move(hits).error();
    std::map<std::int64_t, storage::ChunkHit> by_id;
    for (auto& h : *hits) by_id.emplace(h.chunk_id, std::move(h));
    std::vector<storage::ChunkHit> out;
    for (const auto& s : scored) {
      if (auto it = by_id.find(s.id); it != by_id.end()) out.push_back(std::move(it->second));
    }
    return out;
  };
  const Search fts5 = [&](storage::Connection& c, const std::string& q) -> core::Result<std::vector<storage::ChunkHit>> {
    const std::string match = keyword_query(q);
    if (match.empty()) return std::vector<storage::ChunkHit>{};
    return storage::KnowledgeRepository::keyword_search(c, collection_id, match, 300);
  };
  std::size_t n = 0;
  for (const auto& [name, search] : {std::pair<const char*, const Search*>{"keyword", &in_memory},
                                     std::pair<const char*, const Search*>{"fts5", &fts5}}) {
    ModeReport mode{name, true};
    std::vector<double> latencies;
    double ndcg = 0, recall = 0, mrr = 0;
    n = 0;
    auto searched = db.run_sync([&](storage::Connection& c) -> core::Result<int> {
      for (const auto& [qid, rel] : *qrels) {
        auto it = query_text.find(qid);
        if (it == query_text.end()) continue;
        const auto q0 = Clock::now();
        auto hits = (*search)(c, it->second);
        if (!hits) return std::move(hits).error();
        std::vector<std::string> ranked;
        std::set<std::string> seen;
        for (const auto& h : *hits) {  // documents in the order of their best chunk
          const std::string id = h.external_id.value_or(h.document_id);
          if (seen.insert(id).second) ranked.push_back(id);
          if (ranked.size() == 100) break;
        }
        latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - q0).count());
        ndcg += ndcg_at(ranked, rel, 10);
        recall += recall_at(ranked, rel, 100);
        mrr += mrr_at(ranked, rel, 10);
        ++n;
      }
      return 0;
    });
    if (!searched) return std::move(searched).error();
    if (n > 0) {
      mode.ndcg10 = ndcg / n;
      mode.recall100 = recall / n;
      mode.mrr10 = mrr / n;
    }
    mode.p50_ms = percentile(latencies, 0.5);
    mode.p99_ms = percentile(latencies, 0.99);
    report.modes.push_back(mode);
  }
  report.queries = n;
  for (const char* mode : {"semantic", "hybrid"}) {
    report.modes.push_back(ModeReport{mode, false, "eval does not embed yet (keyword only)"});
  }
  return report;
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
