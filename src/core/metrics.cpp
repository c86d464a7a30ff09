#include "core/metrics.hpp"

#include <cmath>
#include <cstdio>

namespace sb::core::metrics {
namespace {

void atomic_add(std::atomic<double>& a, double d) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
  }
}

void append_number(std::string& out, double v) {
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    out += std::to_string(static_cast<long long>(v));
    return;
  }
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%.15g", v);
  out.append(buf, static_cast<std::size_t>(n));
}

void append_labels(std::string& out, const std::vector<std::string>& names, const Labels& values,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out.push_back('{');
  bool first = true;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!first) out.push_back(',');
    first = false;
    out += names[i];
    out += "=\"";
    out += escape_label(values[i]);
    out.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!first) out.push_back(',');
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out.push_back('"');
  }
  out.push_back('}');
}

void append_header(std::string& out, const std::string& name, const std::string& help,
                   std::string_view type) {
  out += "# HELP ";
  out += name;
  out.push_back(' ');
  out += help;
  out += "\n# TYPE ";
  out += name;
  out.push_back(' ');
  out += type;
  out.push_back('\n');
}

}  // namespace

void Gauge::add(double d) { atomic_add(v_, d); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, v);
}

std::uint64_t Histogram::cumulative(std::size_t i) const {
  std::uint64_t total = 0;
  for (std::size_t j = 0; j <= i && j <= bounds_.size(); ++j) {
    total += buckets_[j].load(std::memory_order_relaxed);
  }
  return total;
}

const std::vector<double>& latency_buckets() {
  static const std::vector<double> kBuckets = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                               0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                               0.5,     1,      2.5,     5,      10,    30,
                                               60};
  return kBuckets;
}

template <class M>
M& Family<M>::with(LabelValues labels) {
  {
    std::shared_lock lock(mu_);
    auto it = children_.find(labels);
    if (it != children_.end()) return *it->second;
  }
  std::unique_lock lock(mu_);
  auto& slot = children_[Labels(labels.begin(), labels.end())];
  if (!slot) {
    if constexpr (std::is_same_v<M, Histogram>) {
      slot = std::make_unique<Histogram>(bounds_);
    } else {
      slot = std::make_unique<M>();
    }
  }
  return *slot;
}

template <class M>
void Family<M>::each(const std::function<void(const Labels&, const M&)>& f) const {
  std::shared_lock lock(mu_);
  for (const auto& [labels, child] : children_) f(labels, *child);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Family<Counter>& Registry::counter(std::string name, std::string help,
                                   std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  counters_.push_back(
      std::make_unique<Family<Counter>>(std::move(name), std::move(help), std::move(labels)));
  entries_.push_back({Type::counter, counters_.back().get()});
  return *counters_.back();
}

Family<Gauge>& Registry::gauge(std::string name, std::string help,
                               std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  gauges_.push_back(
      std::make_unique<Family<Gauge>>(std::move(name), std::move(help), std::move(labels)));
  entries_.push_back({Type::gauge, gauges_.back().get()});
  return *gauges_.back();
}

Family<Histogram>& Registry::histogram(std::string name, std::string help,
                                       std::vector<std::string> labels,
                                       std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  histograms_.push_back(std::make_unique<Family<Histogram>>(
      std::move(name), std::move(help), std::move(labels), std::move(bounds)));
  entries_.push_back({Type::histogram, histograms_.back().get()});
  return *histograms_.back();
}

void Registry::on_collect(std::function<void()> f) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(f));
}

std::string Registry::render() const {
  std::lock_guard lock(mu_);
  for (const auto& c : collectors_) c();
  std::string out;
  out.reserve(4096);
  for (const Entry& e : entries_) {
    if (e.type == Type::counter) {
      auto* fam = static_cast<Family<Counter>*>(e.family);
      append_header(out, fam->name(), fam->help(), "counter");
      fam->each([&](const Labels& labels, const Counter& c) {
        out += fam->name();
        append_labels(out, fam->label_names(), labels);
        out.push_back(' ');
        out += std::to_string(c.value());
        out.push_back('\n');
      });
    } else if (e.type == Type::gauge) {
      auto* fam = static_cast<Family<Gauge>*>(e.family);
      append_header(out, fam->name(), fam->help(), "gauge");
      fam->each([&](const Labels& labels, const Gauge& g) {
        out += fam->name();
        append_labels(out, fam->label_names(), labels);
        out.push_back(' ');
        append_number(out, g.value());
        out.push_back('\n');
      });
    } else {
      auto* fam = static_cast<Family<Histogram>*>(e.family);
      append_header(out, fam->name(), fam->help(), "histogram");
      fam->each([&](const Labels& labels, const Histogram& h) {
        const auto& bounds = h.bounds();
        for (std::size_t i = 0; i <= bounds.size(); ++i) {
          std::string le;
          if (i == bounds.size()) {
            le = "+Inf";
          } else {
            append_number(le, bounds[i]);
          }
          out += fam->name();
          out += "_bucket";
          append_labels(out, fam->label_names(), labels, "le", le);
          out.push_back(' ');
          out += std::to_string(h.cumulative(i));
          out.push_back('\n');
        }
        out += fam->name();
        out += "_sum";
        append_labels(out, fam->label_names(), labels);
        out.push_back(' ');
        append_number(out, h.sum());
        out.push_back('\n');
        out += fam->name();
        out += "_count";
        append_labels(out, fam->label_names(), labels);
        out.push_back(' ');
        out += std::to_string(h.count());
        out.push_back('\n');
      });
    }
  }
  return out;
}

std::string escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace sb::core::metrics
