#pragma once
// `switchboard eval`: retrieval quality on a BEIR-format dataset (corpus.jsonl, queries.jsonl,
// qrels/<split>.tsv). Ingests the corpus into a fresh collection of the given database, runs
// every query of the split and reports nDCG@10, Recall@100, MRR@10 and query latency.

#include <map>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <functional>
#include <optional>

#include "core/error.hpp"
#include "knowledge/store.hpp"
#include "storage/database.hpp"

namespace sb::knowledge {

// Relevance judgements: query id -> document id -> grade (> 0 = relevant).
using Qrels = std::map<std::string, std::map<std::string, int>>;

// Metrics of one ranked list of document ids against its judgements (graded gains, log2
// discount, as trec_eval's ndcg_cut, recall and recip_rank cut at k).
double ndcg_at(const std::vector<std::string>& ranked, const std::map<std::string, int>& rel, int k);
double recall_at(const std::vector<std::string>& ranked, const std::map<std::string, int>& rel, int k);
double mrr_at(const std::vector<std::string>& ranked, const std::map<std::string, int>& rel, int k);

struct ModeReport {
  std::string mode;
  bool available = false;
  std::string reason;  // when not available
  double ndcg10 = 0, recall100 = 0, mrr10 = 0;
  double p50_ms = 0, p99_ms = 0;
};

struct EvalReport {
  std::string dataset;
  std::string split;
  std::size_t documents = 0, chunks = 0, queries = 0;
  std::size_t corpus_bytes = 0;
  double ingest_seconds = 0;
  std::vector<ModeReport> modes;
};

struct EvalOptions {
  std::optional<std::string> embedding_model;  // semantic and hybrid modes need one
  std::optional<std::int64_t> dimensions;
  // Called as the work advances: stage ("ingest", "search keyword"...), done, total.
  std::function<void(const std::string&, std::size_t, std::size_t)> progress;
};

// Ingests through `store` (a fresh collection in `db`) and searches every mode through it, on
// `ioc` (run here until done).
core::Result<EvalReport> evaluate(const std::string& dataset_dir, const std::string& split, Store& store,
                                  storage::Database& db, boost::asio::io_context& ioc,
                                  const EvalOptions& options = {});

// The report as the CLI prints it.
std::string format_report(const EvalReport& r);

}  // namespace sb::knowledge
