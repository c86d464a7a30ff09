// bench/workflows: the local intent classifier's latency, 50 intents x 20 examples (the issue's
// size), over queries made of the examples' words and of words no intent has. Prints one JSON
// line: p50, p99, max in microseconds, and the accuracy on queries built from one intent's
// vocabulary. Seeded: the same numbers of words every run.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "workflows/intent.hpp"

int main(int argc, char** argv) {
  const int queries = argc > 1 ? std::atoi(argv[1]) : 20000;
  std::mt19937_64 rng(42);
  // A vocabulary of 5000 made-up words; each intent draws its examples mostly from its own 60.
  std::vector<std::string> vocab;
  for (int i = 0; i < 5000; ++i) {
    std::string w;
    for (int k = 0; k < 6; ++k) w += static_cast<char>('a' + (rng() % 26));
    vocab.push_back(w);
  }
  auto word_of = [&](int intent) -> const std::string& {
    if (rng() % 4 == 0) return vocab[rng() % vocab.size()];  // noise shared by all
    return vocab[(intent * 60 + rng() % 60) % vocab.size()];
  };
  std::vector<sb::workflows::Intent> intents;
  for (int i = 0; i < 50; ++i) {
    sb::workflows::Intent in;
    in.name = "intent_" + std::to_string(i);
    for (int k = 0; k < 12; ++k) in.description += word_of(i) + " ";
    for (int e = 0; e < 20; ++e) {
      std::string ex;
      for (int k = 0; k < 10; ++k) ex += word_of(i) + " ";
      in.examples.push_back(ex);
    }
    in.target = "mock/echo";
    intents.push_back(std::move(in));
  }
  const auto b0 = std::chrono::steady_clock::now();
  sb::workflows::LocalClassifier c(intents, 0);
  const double build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - b0).count();

  std::vector<double> us;
  us.reserve(queries);
  int right = 0;
  for (int q = 0; q < queries; ++q) {
    const int want = static_cast<int>(rng() % 50);
    std::string text;  // a 25-word message, as a chat message might be
    for (int k = 0; k < 25; ++k) text += word_of(want) + " ";
    const auto t0 = std::chrono::steady_clock::now();
    auto r = c.classify(text);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    right += static_cast<int>(r.intent) == want;
  }
  std::sort(us.begin(), us.end());
  auto at = [&](double p) { return us[std::min(us.size() - 1, static_cast<std::size_t>(p * us.size()))]; };
  std::printf("{\"intents\":50,\"examples_per_intent\":20,\"queries\":%d,\"build_ms\":%.2f,\"p50_us\":%.2f,"
              "\"p99_us\":%.2f,\"max_us\":%.2f,\"accuracy\":%.4f}\n",
              queries, build_ms, at(0.5), at(0.99), us.back(), static_cast<double>(right) / queries);
}
