// bench/knowledge/keyword_topk: the in-memory BM25 index (knowledge::Bm25Index, as the server
// uses it) over a collection of a server's data dir, timed alone: each query's top k with the
// scan the server picks and with the sparse scan (touched chunks tracked, the earlier code),
// interleaved query by query, and whether the two answers agree.
//   keyword_topk DATA_DIR COLLECTION QUERIES_JSONL [K=56] [ROUNDS=3]
// Prints one JSON line.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>

#include "knowledge/bm25.hpp"
#include "storage/knowledge_repository.hpp"
#include "storage/sqlite.hpp"

using namespace sb;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: keyword_topk DATA_DIR COLLECTION QUERIES_JSONL [K=56] [ROUNDS=3]\n");
    return 2;
  }
  const std::string dir = argv[1], collection = argv[2];
  const std::size_t k = argc > 4 ? static_cast<std::size_t>(std::atol(argv[4])) : 56;
  const int rounds = argc > 5 ? std::atoi(argv[5]) : 3;
  auto conn = storage::Connection::open(dir + "/switchboard.db", {});
  if (!conn) {
    std::fprintf(stderr, "%s\n", conn.error().message.c_str());
    return 1;
  }
  auto col = storage::KnowledgeRepository::find_collection(**conn, collection);
  if (!col || !*col) {
    std::fprintf(stderr, "no collection %s\n", collection.c_str());
    return 1;
  }
  auto texts = storage::KnowledgeRepository::live_chunk_texts(**conn, (*col)->id);
  if (!texts) {
    std::fprintf(stderr, "%s\n", texts.error().message.c_str());
    return 1;
  }
  knowledge::Bm25Index index;
  for (auto& t : *texts) index.add({t.id, t.title, t.heading, t.text});
  std::vector<std::string> queries;
  std::ifstream in(argv[3]);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    queries.emplace_back(boost::json::parse(line).at("text").as_string());
  }
  std::vector<double> picked, sparse;
  std::size_t differ = 0;
  for (int r = 0; r < rounds; ++r) {
    for (const auto& q : queries) {
      auto t0 = Clock::now();
      auto a = index.search(q, k, nullptr);
      auto t1 = Clock::now();
      auto b = index.search(q, k, nullptr, false);
      auto t2 = Clock::now();
      picked.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      sparse.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
      bool same = a.size() == b.size();
      for (std::size_t i = 0; same && i < a.size(); ++i) same = a[i].id == b[i].id;
      differ += same ? 0 : 1;
    }
  }
  auto pct = [](std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
  };
  std::printf(
      "{\"chunks\":%zu,\"postings\":%zu,\"queries\":%zu,\"k\":%zu,\"picked_p50_ms\":%.3f,\"picked_p99_ms\":%.3f,"
      "\"sparse_p50_ms\":%.3f,\"sparse_p99_ms\":%.3f,\"answers_that_differ\":%zu}\n",
      index.live(), index.postings(), queries.size(), k, pct(picked, 0.5), pct(picked, 0.99), pct(sparse, 0.5),
      pct(sparse, 0.99), differ);
  return 0;
}
