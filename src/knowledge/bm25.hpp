#pragma once
// An in-memory BM25 index over a collection's live chunks, scoring exactly as SQLite FTS5's
// bm25() does over the chunks_fts table (title, heading and text counted together; k1 = 1.2,
// b = 0.75; idf = ln((N - n + 0.5) / (n + 0.5)), at least 1e-6), but answering top-k from
// postings in memory instead of scoring every match through SQL: FTS5 stays the durable index
// and the source this one is built from at first use; writes update both.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"
#include "knowledge/vectors.hpp"

namespace sb::knowledge {

struct Bm25Doc {
  std::int64_t id = 0;
  std::string title, heading, text;
};

class Bm25Index {
 public:
  // Adds a chunk, or revives a removed one (its text is only read when it is new).
  void add(const Bm25Doc& doc);
  void remove(const std::vector<std::int64_t>& ids);
  // The best k chunks for the query's words (keyword_terms, stemmed), best first. `allowed`,
  // when given, is asked about each candidate id. force_dense picks the scan (for tests; else
  // chosen by the number of postings).
  std::vector<Scored> search(std::string_view query, std::size_t k,
                             const std::function<bool(std::int64_t)>* allowed = nullptr,
                             std::optional<bool> force_dense = std::nullopt) const;
  std::size_t live() const;
  std::size_t postings() const;

 private:
#pragma pack(push, 2)
  struct Posting {
    std::uint32_t slot;
    std::uint16_t tf;
  };
#pragma pack(pop)
  void compact();  // drops removed chunks' postings

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::uint32_t> terms_;
  std::vector<std::vector<Posting>> postings_;  // by term
  std::vector<std::int64_t> ids_;               // by slot
  std::vector<std::uint32_t> length_;           // by slot: tokens in title + heading + text
  std::vector<bool> alive_;                     // by slot
  std::unordered_map<std::int64_t, std::uint32_t> slot_of_;
  std::size_t live_ = 0, dead_ = 0;
  std::uint64_t live_tokens_ = 0;
  std::size_t postings_count_ = 0;
};

// Every collection's BM25 index, by collection id, built on first use.
class Bm25Indexes {
 public:
  using Source = std::function<core::Result<std::vector<Bm25Doc>>()>;
  // Blocking: call it on the blocking pool.
  core::Result<std::shared_ptr<Bm25Index>> get(const std::string& collection_id, const Source& source);
  std::shared_ptr<Bm25Index> find(const std::string& collection_id);
  void drop(const std::string& collection_id);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Bm25Index>> open_;
};

}  // namespace sb::knowledge
