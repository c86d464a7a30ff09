#include "knowledge/bm25.hpp"

#include <algorithm>
#include <cmath>

#include "core/log.hpp"
#include "knowledge/text.hpp"
#include "storage/snowball_tokenizer.hpp"

namespace sb::knowledge {

namespace {

constexpr double kK1 = 1.2;
constexpr double kB = 0.75;

storage::Stemmer& stemmer() {
  thread_local storage::Stemmer s;
  return s;
}

}  // namespace

void Bm25Index::add(const Bm25Doc& doc) {
  // Tokenize outside the lock.
  thread_local std::unordered_map<std::string, std::uint32_t> tf;
  tf.clear();
  std::uint32_t length = 0;
  for (std::string_view field : {std::string_view(doc.title), std::string_view(doc.heading), std::string_view(doc.text)}) {
    stemmer().each(field, [&](std::string_view stem) {
      ++tf[std::string(stem)];
      ++length;
    });
  }
  std::unique_lock lock(mu_);
  if (auto it = slot_of_.find(doc.id); it != slot_of_.end()) {
    const auto slot = it->second;
    if (!alive_[slot]) {
      alive_[slot] = true;
      ++live_;
      --dead_;
      live_tokens_ += length_[slot];
    }
    return;
  }
  const auto slot = static_cast<std::uint32_t>(ids_.size());
  ids_.push_back(doc.id);
  length_.push_back(length);
  alive_.push_back(true);
  slot_of_.emplace(doc.id, slot);
  ++live_;
  live_tokens_ += length;
  for (const auto& [stem, n] : tf) {
    auto [it, inserted] = terms_.try_emplace(stem, static_cast<std::uint32_t>(postings_.size()));
    if (inserted) postings_.emplace_back();
    postings_[it->second].push_back(Posting{slot, static_cast<std::uint16_t>(std::min<std::uint32_t>(n, 65535))});
    ++postings_count_;
  }
}

void Bm25Index::remove(const std::vector<std::int64_t>& ids) {
  std::unique_lock lock(mu_);
  for (auto id : ids) {
    auto it = slot_of_.find(id);
    if (it == slot_of_.end() || !alive_[it->second]) continue;
    alive_[it->second] = false;
    --live_;
    ++dead_;
    live_tokens_ -= length_[it->second];
  }
  if (dead_ > 1000 && dead_ > live_ / 4) compact();
}

void Bm25Index::compact() {
  std::vector<std::uint32_t> remap(ids_.size(), UINT32_MAX);
  std::vector<std::int64_t> ids;
  std::vector<std::uint32_t> length;
  for (std::uint32_t s = 0; s < ids_.size(); ++s) {
    if (!alive_[s]) {
      slot_of_.erase(ids_[s]);
      continue;
    }
    remap[s] = static_cast<std::uint32_t>(ids.size());
    slot_of_[ids_[s]] = remap[s];
    ids.push_back(ids_[s]);
    length.push_back(length_[s]);
  }
  postings_count_ = 0;
  for (auto& list : postings_) {
    std::vector<Posting> kept;
    for (const auto& p : list) {
      if (remap[p.slot] != UINT32_MAX) kept.push_back(Posting{remap[p.slot], p.tf});
    }
    kept.shrink_to_fit();
    postings_count_ += kept.size();
    list = std::move(kept);
  }
  ids_ = std::move(ids);
  length_ = std::move(length);
  alive_.assign(ids_.size(), true);
  dead_ = 0;
}

std::vector<Scored> Bm25Index::search(std::string_view query, std::size_t k,
                                      const std::function<bool(std::int64_t)>* allowed,
                                      std::optional<bool> force_dense) const {
  std::vector<std::string> stems;
  for (const auto& word : keyword_terms(query)) stems.emplace_back(stemmer().stem(word));
  std::shared_lock lock(mu_);
  std::vector<Scored> out;
  if (live_ == 0 || k == 0) return out;
  const double n = static_cast<double>(live_);
  const double avgdl = static_cast<double>(live_tokens_) / n;
  const double norm = kK1 * (1 - kB);
  const double per_len = kK1 * kB / avgdl;
  // Each word counts on its own, as each is its own phrase in the FTS5 query.
  struct Term {
    const std::vector<Posting>* list;
    double idf;
  };
  std::vector<Term> terms;
  for (const auto& stem : stems) {
    auto it = terms_.find(stem);
    if (it == terms_.end()) continue;
    const auto& list = postings_[it->second];
    std::size_t hits = list.size();
    if (dead_ > 0) {
      hits = 0;
      for (const auto& p : list) hits += alive_[p.slot] ? 1 : 0;
    }
    if (hits == 0) continue;
    double idf = std::log((n - static_cast<double>(hits) + 0.5) / (static_cast<double>(hits) + 0.5));
    if (idf <= 0) idf = 1e-6;
    terms.push_back(Term{&list, idf});
  }
  // Term at a time: every posting of each word adds to its chunk's score. Dense: when the
  // postings are many for the number of chunks, the scores are added without tracking which
  // chunks were touched (a hard-to-predict branch per posting) and every slot is swept instead;
  // sparse: a list of the touched chunks is kept.
  std::size_t total = 0;
  for (const auto& t : terms) total += t.list->size();
  const std::size_t slots = ids_.size();
  const bool dense = force_dense ? *force_dense : total >= slots / 4;
  thread_local std::vector<float> acc;
  thread_local std::vector<std::uint32_t> touched;
  if (acc.size() < slots) acc.resize(slots, 0.0f);
  touched.clear();
  for (const auto& t : terms) {
    auto score = [&](const Posting& p) {
      const double tf = p.tf;
      return static_cast<float>(t.idf * (tf * (kK1 + 1)) / (tf + norm + per_len * length_[p.slot]));
    };
    if (dense && dead_ == 0) {
      for (const auto& p : *t.list) acc[p.slot] += score(p);
    } else if (dense) {
      for (const auto& p : *t.list) {
        if (alive_[p.slot]) acc[p.slot] += score(p);
      }
    } else {
      for (const auto& p : *t.list) {
        if (!alive_[p.slot]) continue;
        // A copy: push_back binds a reference, and p.slot is not 4-byte aligned (packed).
        const std::uint32_t slot = p.slot;
        if (acc[slot] == 0.0f) touched.push_back(slot);
        acc[p.slot] += score(p);
      }
    }
  }
  if (dense) {
    // The touched slots, listed without a branch per slot.
    touched.resize(slots);
    std::size_t n = 0;
    for (std::uint32_t slot = 0; slot < slots; ++slot) {
      touched[n] = slot;
      n += acc[slot] != 0.0f ? 1 : 0;
    }
    touched.resize(n);
  }
  // The best k in a heap whose top is the worst kept (higher score first, then lower id).
  auto better = [](const Scored& a, const Scored& b) { return a.score != b.score ? a.score > b.score : a.id < b.id; };
  out.reserve(std::min(k, touched.size()) + 1);
  for (auto slot : touched) {
    const Scored c{ids_[slot], acc[slot]};
    if (out.size() == k && !better(c, out.front())) continue;
    if (allowed && !(*allowed)(c.id)) continue;
    if (out.size() == k) {
      std::pop_heap(out.begin(), out.end(), better);
      out.back() = c;
    } else {
      out.push_back(c);
    }
    std::push_heap(out.begin(), out.end(), better);
  }
  if (dense) {
    std::fill(acc.begin(), acc.begin() + static_cast<std::ptrdiff_t>(slots), 0.0f);
  } else {
    for (auto slot : touched) acc[slot] = 0.0f;
  }
  std::sort_heap(out.begin(), out.end(), better);
  return out;
}

std::size_t Bm25Index::live() const {
  std::shared_lock lock(mu_);
  return live_;
}

std::size_t Bm25Index::postings() const {
  std::shared_lock lock(mu_);
  return postings_count_;
}

core::Result<std::shared_ptr<Bm25Index>> Bm25Indexes::get(const std::string& collection_id, const Source& source) {
  std::lock_guard lock(mu_);
  if (auto it = open_.find(collection_id); it != open_.end()) return it->second;
  auto docs = source();
  if (!docs) return std::move(docs).error();
  auto index = std::make_shared<Bm25Index>();
  for (const auto& d : *docs) index->add(d);
  if (!docs->empty()) {
    core::log::info("keyword index built", {{"collection", collection_id},
                                            {"chunks", static_cast<long long>(docs->size())},
                                            {"postings", static_cast<long long>(index->postings())}});
  }
  open_[collection_id] = index;
  return index;
}

std::shared_ptr<Bm25Index> Bm25Indexes::find(const std::string& collection_id) {
  std::lock_guard lock(mu_);
  auto it = open_.find(collection_id);
  return it == open_.end() ? nullptr : it->second;
}

void Bm25Indexes::drop(const std::string& collection_id) {
  std::lock_guard lock(mu_);
  open_.erase(collection_id);
}

}  // namespace sb::knowledge
