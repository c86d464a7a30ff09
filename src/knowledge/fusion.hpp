#pragma once
// Hybrid search: merging a keyword (BM25) and a semantic (cosine) result list into one ranking.

#include <cstdint>
#include <optional>
#include <vector>

namespace sb::knowledge {

enum class Fusion { weighted, rrf };

struct Ranked {
  std::int64_t id = 0;
  double score = 0;  // higher is better
};

struct Fused {
  std::int64_t id = 0;
  double score = 0;
  std::optional<double> keyword, semantic;  // the raw component scores, where the id appeared
};

// weighted: the keyword list's BM25 scores min-max normalised to [0, 1] (a list whose scores
// are all equal counts 1 for each), the semantic list's cosines as they are (clamped to
// [0, 1]: a nonsense query's weak nearest vectors stay weak), then semantic_weight * semantic +
// (1 - semantic_weight) * keyword, a list the id is missing from contributing 0. rrf: reciprocal rank fusion, sum of 1 / (60 + rank)
// with ranks from 1, unweighted. Best first, ties by id; at most k.
std::vector<Fused> fuse(const std::vector<Ranked>& keyword, const std::vector<Ranked>& semantic,
                        Fusion how, double semantic_weight, std::size_t k);

}  // namespace sb::knowledge
