// Store::search: keyword (BM25), semantic (HNSW or exact) and hybrid search over the in-memory
// indexes, reading only the hits from storage (and checking every candidate again when a write
// landed in between).

#include <boost/asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "knowledge/store.hpp"
#include "knowledge/store_internal.hpp"

namespace sb::knowledge {

using core::Error;
using core::ErrorKind;
using storage::Connection;
using storage::KnowledgeRepository;

Task<SearchResult> Store::search(SearchRequest request) {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  auto col = co_await collection(request.collection);
  if (!col) co_return std::move(col).error();
  SearchResult out{request.collection, request.mode, std::nullopt, {}, {}};
  const auto embed_start = Clock::now();
  std::vector<float> qv;
  if (request.mode != SearchMode::keyword) {
    if ((!col->embedding_model || !col->dimension) && request.mode == SearchMode::semantic) {
      co_return Error(ErrorKind::invalid_field,
                      "collection '" + col->name + "' has no embedding model: \"semantic\" needs one "
                      "(search it with \"keyword\" or \"hybrid\", or give it a model with PATCH)",
                      "mode");
    }
    if (!col->embedding_model || !col->dimension) {
      out.mode = SearchMode::keyword;
      out.note = "this collection has no embedding model: searched keyword-only";
    } else if (!embedder_) {
      co_return Error(ErrorKind::unavailable, "this server has no embedding models");
    } else {
      std::vector<std::string> q{request.query};
      std::string model = *col->embedding_model;
      auto v = co_await embedder_->embed(std::move(model), col->embed_dimensions, std::move(q), request.meter);
      if (!v && request.mode == SearchMode::semantic) co_return std::move(v).error();
      if (!v) {
        out.mode = SearchMode::keyword;
        out.note = "the embedding model failed (" + v.error().message + "): searched keyword-only";
      } else if (static_cast<std::int64_t>(v->front().size()) != *col->dimension) {
        co_return size_mismatch(*col, v->front().size());
      } else {
        qv = std::move(v->front());
      }
    }
  }
  if (!qv.empty()) out.timings.emplace_back("embed", ms(Clock::now() - embed_start));
  const std::size_t top_k = static_cast<std::size_t>(request.top_k);
  const std::size_t depth = out.mode == SearchMode::hybrid ? std::max<std::size_t>(top_k * 2, 40) : top_k;
  auto fn = [this, request = std::move(request), col = std::move(*col), qv = std::move(qv), out = std::move(out),
             top_k, depth, ms, queued = Clock::now()](Connection& c) mutable -> core::Result<SearchResult> {
    auto mark = Clock::now();
    out.timings.emplace_back("wait", ms(mark - queued));
    double fetch_ms = 0;
    std::unordered_map<std::int64_t, storage::ChunkHit> chunks;
    // Reads the rows of the chunks among ids not read yet that are live and pass the filters.
    auto fetch = [&](const std::vector<std::int64_t>& ids) -> core::Status {
      std::vector<std::int64_t> missing;
      for (auto id : ids) {
        if (!chunks.count(id)) missing.push_back(id);
      }
      if (missing.empty()) return {};
      const auto start = Clock::now();
      auto hits = KnowledgeRepository::hydrate(c, col.id, missing, request.filters);
      if (!hits) return std::move(hits).error();
      for (auto& h : *hits) chunks.emplace(h.chunk_id, std::move(h));
      fetch_ms += ms(Clock::now() - start);
      return {};
    };
    // With filters: the chunks that pass them (one query), asked about each candidate.
    std::optional<std::unordered_set<std::int64_t>> allowed;
    if (!request.filters.empty()) {
      auto ids = KnowledgeRepository::live_chunk_ids(c, col.id, request.filters);
      if (!ids) return std::move(ids).error();
      allowed.emplace(ids->begin(), ids->end());
    }
    // The candidates come from the in-memory indexes, which every write updates right after it
    // commits; only the hits returned are read from storage. Should one of them be gone (a write
    // landed between the two), the search is made again checking every candidate against
    // storage, so a deleted or replaced chunk is never returned.
    const std::size_t timings = out.timings.size();
    double fetch_at_mark = 0;
    for (const bool verify : {false, true}) {
      chunks.clear();
      out.timings.resize(timings);
      std::vector<Ranked> keyword, semantic;
      const std::size_t first_k = depth + (verify ? 16 : 0);
      // Candidates from scan(k), best first, that pass the filters (and, verifying, are live in
      // storage): widened until `depth` remain or the scan has nothing more.
      auto collect = [&](const auto& scan, std::size_t total, std::vector<Ranked>& list) -> core::Status {
        std::size_t k = first_k;
        for (;;) {
          std::vector<Scored> scored = scan(k);
          if (verify) {
            std::vector<std::int64_t> ids;
            for (const auto& s : scored) ids.push_back(s.id);
            if (auto st = fetch(ids); !st) return st;
          }
          list.clear();
          for (const auto& s : scored) {
            const bool ok = verify ? chunks.count(s.id) > 0 : !allowed || allowed->count(s.id) > 0;
            if (ok && list.size() < depth) list.push_back(Ranked{s.id, s.score});
          }
          if (list.size() >= depth || scored.size() < k || k >= total) return {};
          k = std::min(k * 4, total);
        }
      };
      // Each list's time without the rows read for it.
      auto lap = [&](const char* name) {
        const auto now = Clock::now();
        out.timings.emplace_back(name, ms(now - mark) - (fetch_ms - fetch_at_mark));
        mark = now;
        fetch_at_mark = fetch_ms;
      };
      // Hybrid: the vector half's first scan starts on the side thread now.
      struct Side {
        std::atomic<bool> claimed{false};
        std::vector<float> query;
        std::vector<Scored> result;
        std::promise<void> done;
      };
      std::shared_ptr<Side> side;
      std::shared_ptr<VectorIndex> vindex;
      const bool exact = request.exact ||
                         (allowed && allowed->size() <= static_cast<std::size_t>(options_.exact_search_below));
      if (out.mode != SearchMode::keyword) {
        auto index = open_index(c, col);
        if (!index) return std::move(index).error();
        vindex = std::move(*index);
      }
      const std::size_t ef = static_cast<std::size_t>(request.hnsw_ef.value_or(0));
      if (out.mode == SearchMode::hybrid && !exact) {
        side = std::make_shared<Side>();
        side->query = qv;
        boost::asio::post(*side_, [side, vindex, first_k, ef] {
          if (!side->claimed.exchange(true)) side->result = vindex->search(side->query.data(), first_k, ef);
          side->done.set_value();
        });
      }
      if (out.mode != SearchMode::semantic && !keyword_terms(request.query).empty()) {
        auto index = open_keyword(c, col.id);
        if (!index) return std::move(index).error();
        std::function<bool(std::int64_t)> pass = [&allowed](std::int64_t id) { return allowed->count(id) > 0; };
        auto scan = [&](std::size_t k) { return (*index)->search(request.query, k, allowed ? &pass : nullptr); };
        if (auto st = collect(scan, (*index)->live(), keyword); !st) return std::move(st).error();
        lap("keyword");
      }
      if (out.mode != SearchMode::keyword) {
        if (exact) {
          std::vector<std::int64_t> ids = allowed ? std::vector<std::int64_t>(allowed->begin(), allowed->end())
                                                  : vindex->live_ids();
          auto scan = [&](std::size_t) { return vindex->exact(qv.data(), ids, depth); };
          if (auto st = collect(scan, depth, semantic); !st) return std::move(st).error();
        } else {
          // The side thread's answer when it took the task (waited for), else scanned here.
          std::optional<std::vector<Scored>> first;
          if (side && side->claimed.exchange(true)) {
            side->done.get_future().wait();
            first = std::move(side->result);
          }
          auto scan = [&](std::size_t k) {
            if (first && k == first_k) {
              auto r = std::move(*first);
              first.reset();
              return r;
            }
            return vindex->search(qv.data(), k, ef);
          };
          if (auto st = collect(scan, vindex->live(), semantic); !st) return std::move(st).error();
        }
        lap("vector");
      }
      std::vector<Fused> fused;
      if (out.mode == SearchMode::hybrid) {
        fused = fuse(keyword, semantic, request.fusion, request.semantic_weight, top_k);
      } else {
        for (const auto& r : out.mode == SearchMode::keyword ? keyword : semantic) {
          if (fused.size() == top_k) break;
          Fused f{r.id, r.score, std::nullopt, std::nullopt};
          (out.mode == SearchMode::keyword ? f.keyword : f.semantic) = r.score;
          fused.push_back(f);
        }
      }
      if (request.score_threshold) {
        std::erase_if(fused, [t = *request.score_threshold](const Fused& f) { return f.score < t; });
      }
      std::vector<std::int64_t> ids;
      for (const auto& f : fused) ids.push_back(f.id);
      if (auto st = fetch(ids); !st) return std::move(st).error();
      const bool stale = std::any_of(ids.begin(), ids.end(), [&](std::int64_t id) { return !chunks.count(id); });
      if (stale && !verify) continue;
      out.timings.emplace_back("fetch", fetch_ms);
      for (const auto& f : fused) {
        auto it = chunks.find(f.id);
        if (it == chunks.end()) continue;
        out.hits.push_back(Hit{std::move(it->second), f.score, f.keyword, f.semantic});
      }
      break;
    }
    return std::move(out);
  };
  co_return co_await db_.run(std::move(fn));
}

}  // namespace sb::knowledge
