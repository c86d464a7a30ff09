#include "knowledge/fusion.hpp"

#include <algorithm>
#include <unordered_map>

namespace sb::knowledge {

namespace {

constexpr double kRrfK = 60;

// Adds one list's contributions to `out` (by id).
void add(const std::vector<Ranked>& list, Fusion how, double weight, bool semantic,
         std::unordered_map<std::int64_t, Fused>& out) {
  if (list.empty()) return;
  double lo = list.front().score, hi = lo;
  for (const auto& r : list) {
    lo = std::min(lo, r.score);
    hi = std::max(hi, r.score);
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& r = list[i];
    auto& f = out[r.id];
    f.id = r.id;
    (semantic ? f.semantic : f.keyword) = r.score;
    if (how == Fusion::rrf) {
      f.score += 1.0 / (kRrfK + static_cast<double>(i + 1));
    } else if (semantic) {
      // The cosine itself (clamped to [0, 1]), not its place in the list: a query whose nearest
      // vectors are not near scores low, however they rank among themselves.
      f.score += weight * std::clamp(r.score, 0.0, 1.0);
    } else {
      const double norm = hi > lo ? (r.score - lo) / (hi - lo) : 1.0;
      f.score += weight * norm;
    }
  }
}

}  // namespace

std::vector<Fused> fuse(const std::vector<Ranked>& keyword, const std::vector<Ranked>& semantic,
                        Fusion how, double semantic_weight, std::size_t k) {
  std::unordered_map<std::int64_t, Fused> by_id;
  add(keyword, how, 1.0 - semantic_weight, false, by_id);
  add(semantic, how, semantic_weight, true, by_id);
  std::vector<Fused> out;
  out.reserve(by_id.size());
  for (auto& [id, f] : by_id) out.push_back(f);
  std::sort(out.begin(), out.end(), [](const Fused& a, const Fused& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  });
  if (out.size() > k) out.resize(k);
  return out;
}

}  // namespace sb::knowledge
