// bench/knowledge/vector_recall: the HNSW index (knowledge::VectorIndex, as the server uses it)
// on N vectors of 384 dimensions with the structure of text embeddings: points near one of C
// topic centres inside a low-dimensional subspace (intrinsic dimension D), normalised. Builds
// the index, then for Q queries (new points from the same distribution) compares the graph's
// top 10 with exact search: recall@10, search latency p50/p99, build rate, memory.
// C=0: no topics, points spread evenly over the subspace (a Gaussian cloud, the hard case).
// EF_SEARCH may be a comma-separated list: one line per value, same index and queries.
// INT8=1: the server's default index (graph on int8 codes, candidates re-scored in float32);
// 0: float32 graph.
//   vector_recall [N=100000] [Q=1000] [D=48] [C=2000] [M=16] [EF_CONSTRUCTION=200] [EF_SEARCH=128]
//                 [INT8=1]
// Prints one JSON line per EF_SEARCH.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "knowledge/vectors.hpp"

using namespace sb::knowledge;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  auto arg = [&](int i, long dflt) { return argc > i ? std::atol(argv[i]) : dflt; };
  const std::size_t n = static_cast<std::size_t>(arg(1, 100000)), q = static_cast<std::size_t>(arg(2, 1000));
  const std::size_t intrinsic = static_cast<std::size_t>(arg(3, 48)), topics = static_cast<std::size_t>(arg(4, 2000));
  std::vector<std::size_t> efs;
  {
    std::stringstream list(argc > 7 ? argv[7] : "128");
    for (std::string item; std::getline(list, item, ',');) efs.push_back(static_cast<std::size_t>(std::atol(item.c_str())));
  }
  HnswParams params{static_cast<int>(arg(5, 16)), static_cast<int>(arg(6, 200)), static_cast<int>(efs.front()),
                    arg(8, 1) != 0};
  constexpr std::size_t kDim = 384;
  std::mt19937 rng(42);
  std::normal_distribution<float> gauss;
  // A fixed random map from the intrinsic space to 384 dimensions.
  std::vector<float> basis(intrinsic * kDim);
  for (auto& x : basis) x = gauss(rng);
  std::vector<std::vector<float>> centres(topics, std::vector<float>(intrinsic));
  for (auto& c : centres) {
    for (auto& x : c) x = gauss(rng);
  }
  auto point = [&] {
    std::vector<float> z(intrinsic);
    if (topics == 0) {
      for (auto& x : z) x = gauss(rng);
    } else {
      const auto& c = centres[rng() % topics];
      for (std::size_t i = 0; i < intrinsic; ++i) z[i] = c[i] + 0.6f * gauss(rng);
    }
    std::vector<float> v(kDim, 0.0f);
    for (std::size_t i = 0; i < intrinsic; ++i) {
      for (std::size_t j = 0; j < kDim; ++j) v[j] += z[i] * basis[i * kDim + j];
    }
    for (auto& x : v) x += 0.05f * gauss(rng);  // a little noise in every dimension
    normalize(v);
    return v;
  };
  VectorIndex index(kDim, params, n);
  std::vector<std::int64_t> ids(n);
  const auto b0 = Clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    auto v = point();
    ids[i] = static_cast<std::int64_t>(i);
    index.add(ids[i], v.data());
  }
  const double build_s = std::chrono::duration<double>(Clock::now() - b0).count();
  std::vector<std::vector<float>> queries;
  std::vector<std::set<std::int64_t>> truths;
  for (std::size_t k = 0; k < q; ++k) {
    queries.push_back(point());
    std::set<std::int64_t> truth;
    for (const auto& e : index.exact(queries.back().data(), ids, 10)) truth.insert(e.id);
    truths.push_back(std::move(truth));
  }
  long rss_kb = 0;
  if (FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
      if (std::sscanf(line, "VmHWM: %ld", &rss_kb) == 1) break;
    }
    std::fclose(f);
  }
  for (std::size_t ef : efs) {
    double recall = 0;
    std::vector<double> lat;
    for (std::size_t k = 0; k < q; ++k) {
      const auto s0 = Clock::now();
      auto ann = index.search(queries[k].data(), 10, ef);
      lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s0).count());
      std::size_t hit = 0;
      for (const auto& a : ann) hit += truths[k].count(a.id);
      recall += static_cast<double>(hit) / static_cast<double>(truths[k].size());
    }
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double p) { return lat[std::min(lat.size() - 1, static_cast<std::size_t>(p * lat.size()))]; };
    std::printf("{\"vectors\":%zu,\"queries\":%zu,\"intrinsic_dim\":%zu,\"topics\":%zu,\"m\":%d,\"ef_construction\":%d,"
                "\"int8\":%s,\"ef_search\":%zu,\"build_per_s\":%.0f,\"recall10\":%.4f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
                "\"peak_rss_mib\":%ld}\n",
                n, q, intrinsic, topics, params.m, params.ef_construction, params.int8 ? "true" : "false", ef,
                static_cast<double>(n) / build_s, recall / static_cast<double>(q), pct(0.5), pct(0.99), rss_kb / 1024);
    std::fflush(stdout);
  }
  return 0;
}
