#include "control/prices.hpp"

#include <algorithm>

namespace sb::control {

bool glob_match(std::string_view p, std::string_view t) {
  std::size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (pi < p.size() && p[pi] == t[ti]) {
      ++pi;
      ++ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

const std::vector<Price>& Prices::builtin() {
  // USD per million tokens, the providers' list prices (standard tier) at the time of writing.
  // Longer patterns first, so "gpt-4o-mini" is not priced as "gpt-4o".
  static const std::vector<Price> kTable = [] {
    std::vector<Price> t = {
        {"*/gpt-4o-mini*", 0.15, 0.60, 0.075},
        {"*/gpt-4o*", 2.50, 10.00, 1.25},
        {"*/gpt-4.1-nano*", 0.10, 0.40, 0.025},
        {"*/gpt-4.1-mini*", 0.40, 1.60, 0.10},
        {"*/gpt-4.1*", 2.00, 8.00, 0.50},
        {"*/gpt-4-turbo*", 10.00, 30.00, 10.00},
        {"*/gpt-3.5-turbo*", 0.50, 1.50, 0.50},
        {"*/o4-mini*", 1.10, 4.40, 0.275},
        {"*/o3-mini*", 1.10, 4.40, 0.55},
        {"*/o3*", 2.00, 8.00, 0.50},
        {"*/o1-mini*", 1.10, 4.40, 0.55},
        {"*/o1*", 15.00, 60.00, 7.50},
        {"*/text-embedding-3-small*", 0.02, 0, 0.02},
        {"*/text-embedding-3-large*", 0.13, 0, 0.13},
        {"*/text-embedding-ada-002*", 0.10, 0, 0.10},
        {"*/claude-opus-4*", 15.00, 75.00, 1.50},
        {"*/claude-sonnet-4*", 3.00, 15.00, 0.30},
        {"*/claude-3-7-sonnet*", 3.00, 15.00, 0.30},
        {"*/claude-3-5-sonnet*", 3.00, 15.00, 0.30},
        {"*/claude-3-5-haiku*", 0.80, 4.00, 0.08},
        {"*/claude-3-haiku*", 0.25, 1.25, 0.03},
        {"*/claude-3-opus*", 15.00, 75.00, 1.50},
        {"*/gemini-2.5-flash-lite*", 0.10, 0.40, 0.025},
        {"*/gemini-2.5-flash*", 0.30, 2.50, 0.075},
        {"*/gemini-2.5-pro*", 1.25, 10.00, 0.31},
        {"*/gemini-2.0-flash-lite*", 0.075, 0.30, 0.075},
        {"*/gemini-2.0-flash*", 0.10, 0.40, 0.025},
        {"*/gemini-1.5-flash*", 0.075, 0.30, 0.01875},
        {"*/gemini-1.5-pro*", 1.25, 5.00, 0.3125},
        {"*/text-embedding-004*", 0, 0, 0},
    };
    std::stable_sort(t.begin(), t.end(), [](const Price& a, const Price& b) { return a.model.size() > b.model.size(); });
    return t;
  }();
  return kTable;
}

Prices::Prices(const std::vector<core::PriceConfig>& configured) {
  for (const auto& c : configured) {
    entries_.push_back({c.model, c.input_per_mtok, c.output_per_mtok,
                        c.cached_input_per_mtok >= 0 ? c.cached_input_per_mtok : c.input_per_mtok});
  }
  for (const auto& p : builtin()) entries_.push_back(p);
}

const Price* Prices::match(std::string_view name) const {
  for (const auto& p : entries_) {
    if (glob_match(p.model, name)) return &p;
  }
  return nullptr;
}

const Price* Prices::find(std::string_view provider, std::string_view model) const {
  std::string name;
  name.reserve(provider.size() + 1 + model.size());
  name.append(provider).append("/").append(model);
  std::lock_guard lock(mu_);
  if (auto it = seen_.find(name); it != seen_.end()) return it->second;
  const Price* p = match(name);
  if (seen_.size() >= 4096) seen_.clear();
  seen_.emplace(std::move(name), p);
  return p;
}

double Prices::cost(std::string_view provider, std::string_view model, const core::TokenUsage& u) const {
  const Price* p = find(provider, model);
  if (!p) return 0;
  const long long cached = std::clamp(u.cached, 0LL, std::max(u.prompt, 0LL));
  return (static_cast<double>(u.prompt - cached) * p->input_per_mtok +
          static_cast<double>(cached) * p->cached_input_per_mtok +
          static_cast<double>(std::max(u.completion, 0LL)) * p->output_per_mtok) /
         1e6;
}

}  // namespace sb::control
