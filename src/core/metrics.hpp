#pragma once
// Prometheus metrics: counters, gauges and histograms in labelled families, rendered in the
// text exposition format. Updating a metric is lock-free; looking up a labelled child takes a
// shared lock, so hot paths should keep the child reference they got (children never move).

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sb::core::metrics {

using Labels = std::vector<std::string>;
using LabelValues = std::initializer_list<std::string_view>;

// Orders Labels, and compares them with label values given as views (lookups do not allocate).
struct LabelsLess {
  using is_transparent = void;
  bool operator()(const Labels& a, const Labels& b) const { return a < b; }
  bool operator()(const Labels& a, LabelValues b) const {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), less_view);
  }
  bool operator()(LabelValues a, const Labels& b) const {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), less_view);
  }
  static bool less_view(std::string_view x, std::string_view y) { return x < y; }
};

class Counter {
 public:
  void inc(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class Gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  void add(double d);
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative count for bucket i (i == bounds().size() is +Inf).
  std::uint64_t cumulative(std::size_t i) const;
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // non-cumulative, size bounds+1
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Default latency buckets in seconds, from 50 µs to 60 s.
const std::vector<double>& latency_buckets();

enum class Type { counter, gauge, histogram };

template <class M>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {})
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)),
        bounds_(std::move(bounds)) {}

  // Returns the child for these label values (created on first use). The reference stays valid
  // for the registry's lifetime. REQUIRES: labels.size() == label_names().size().
  // The lookup of an existing child takes a shared lock and allocates nothing.
  M& with(LabelValues labels);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls f(labels, child) for every child, in label order.
  void each(const std::function<void(const Labels&, const M&)>& f) const;

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::shared_mutex mu_;  // guards children_ (the map, not the children's values)
  std::map<Labels, std::unique_ptr<M>, LabelsLess> children_;
};

class Registry {
 public:
  Family<Counter>& counter(std::string name, std::string help, std::vector<std::string> labels = {});
  Family<Gauge>& gauge(std::string name, std::string help, std::vector<std::string> labels = {});
  Family<Histogram>& histogram(std::string name, std::string help, std::vector<std::string> labels,
                               std::vector<double> bounds = latency_buckets());
  // A callback run at every scrape, before rendering (e.g. to read process memory into a gauge).
  void on_collect(std::function<void()> f);

  // The whole registry in Prometheus text format 0.0.4.
  std::string render() const;

 private:
  struct Entry {
    Type type;
    void* family;  // Family<Counter|Gauge|Histogram>*
  };
  mutable std::mutex mu_;  // guards entries_ and collectors_ and the owners below
  std::vector<Entry> entries_;
  std::vector<std::unique_ptr<Family<Counter>>> counters_;
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_;
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
  std::vector<std::function<void()>> collectors_;
};

// Escapes a label value for the exposition format.
std::string escape_label(std::string_view v);

}  // namespace sb::core::metrics
