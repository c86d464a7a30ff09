#include "workflows/intent.hpp"

#include <algorithm>

#include "knowledge/bm25.hpp"

namespace sb::workflows {

namespace {

// Document ids: intent * kStride + 0 for the description, + 1.. for the examples.
constexpr std::int64_t kStride = 1 << 20;
constexpr std::size_t kCandidates = 64;  // best documents looked at

}  // namespace

LocalClassifier::LocalClassifier(const std::vector<Intent>& intents, std::size_t fallback)
    : index_(std::make_unique<knowledge::Bm25Index>()), intents_(intents.size()), fallback_(fallback) {
  for (std::size_t i = 0; i < intents.size(); ++i) {
    const std::int64_t base = static_cast<std::int64_t>(i) * kStride;
    // The name counts as words too ("billing" asks for billing).
    std::string name = intents[i].name;
    std::replace(name.begin(), name.end(), '_', ' ');
    std::replace(name.begin(), name.end(), '-', ' ');
    index_->add(knowledge::Bm25Doc{base, name, "", intents[i].description});
    for (std::size_t j = 0; j < intents[i].examples.size() && j + 1 < static_cast<std::size_t>(kStride); ++j) {
      index_->add(knowledge::Bm25Doc{base + 1 + static_cast<std::int64_t>(j), "", "", intents[i].examples[j]});
    }
  }
}

LocalClassifier::~LocalClassifier() = default;

Classified LocalClassifier::classify(std::string_view text) const {
  Classified out;
  out.intent = fallback_;
  auto hits = index_->search(text, kCandidates);
  if (hits.empty()) return out;
  // Best first: the first hit's intent is the best; the second intent is the next different one.
  const std::size_t best = static_cast<std::size_t>(hits[0].id / kStride);
  double s1 = hits[0].score, s2 = 0;
  for (const auto& h : hits) {
    if (static_cast<std::size_t>(h.id / kStride) != best) {
      s2 = h.score;
      break;
    }
  }
  if (best >= intents_ || s1 <= 0) return out;
  out.intent = best;
  out.matched = true;
  out.confidence = s1 / (s1 + s2);
  return out;
}

std::vector<double> LocalClassifier::scores(std::string_view text) const {
  std::vector<double> out(intents_, 0.0);
  for (const auto& h : index_->search(text, kCandidates)) {
    const auto i = static_cast<std::size_t>(h.id / kStride);
    if (i < intents_) out[i] = std::max(out[i], static_cast<double>(h.score));
  }
  return out;
}

}  // namespace sb::workflows
