#pragma once
// The local intent classifier: BM25 over each intent's description and examples (one document
// each, stemmed as the knowledge base's keyword search is), an intent scored by its best
// document. No network; microseconds for 50 intents x 20 examples (bench/workflows). It is
// what an intent route falls back to when its LLM classifier is open-circuited or fails.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sb::knowledge {
class Bm25Index;
}

namespace sb::workflows {

struct Intent {
  std::string name;
  std::string description;
  std::vector<std::string> examples;
  std::string target;  // the route or provider/model that serves it
};

struct Classified {
  std::size_t intent = 0;  // index into the intents
  // The best intent's share of the two best scores: 1 when only it matched, 0.5 for a tie;
  // 0 when no word matched (then `intent` is the fallback).
  double confidence = 0;
  bool matched = false;
};

class LocalClassifier {
 public:
  // REQUIRES: intents is not empty; fallback < intents.size().
  LocalClassifier(const std::vector<Intent>& intents, std::size_t fallback);
  ~LocalClassifier();
  LocalClassifier(const LocalClassifier&) = delete;
  LocalClassifier& operator=(const LocalClassifier&) = delete;

  // Thread-safe (the index is only read).
  Classified classify(std::string_view text) const;
  // Each intent's score: its best document's BM25 score (0 when none matched).
  std::vector<double> scores(std::string_view text) const;

 private:
  std::unique_ptr<knowledge::Bm25Index> index_;
  std::size_t intents_, fallback_;
};

}  // namespace sb::workflows
