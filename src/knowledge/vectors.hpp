#pragma once
// Vector indexes: one hnswlib HNSW graph per collection (cosine similarity as the inner product
// of L2-normalised float32 vectors), labelled by chunk id. With `int8` (the default) the graph
// holds each vector as 8-bit codes with a per-vector scale (a quarter of the bytes to read per
// distance while the graph is walked) and a float32 copy beside it: the candidates the walk
// keeps (ef of them) are re-scored exactly with the float32 vectors before the top k is taken. The index is a cache of what SQLite
// holds (the vectors live in the embeddings table): it is saved to <data>/vectors/ at shutdown
// with a checksum, and at first use it is loaded, checked against the live chunks (missing ones
// added, gone ones marked deleted) or rebuilt when the file is missing, corrupt or of another
// size. Searches share a lock; changes take it alone.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace hnswlib {
template <typename T>
class HierarchicalNSW;
template <typename T>
class SpaceInterface;
}  // namespace hnswlib

namespace sb::knowledge {

struct HnswParams {
  int m = 16;
  int ef_construction = 200;
  int ef_search = 128;
  bool int8 = true;  // graph walked on 8-bit codes, candidates re-scored in float32
};

struct Scored {
  std::int64_t id = 0;
  float score = 0;  // cosine similarity, higher is better
};

// Scales v to unit length (a zero vector stays zero).
void normalize(std::vector<float>& v);

class VectorIndex {
 public:
  // key: what the vectors are (the embedding model and size), saved with the index and checked
  // when it is loaded.
  VectorIndex(std::size_t dim, const HnswParams& params, std::size_t capacity = 1024, std::string key = "");
  ~VectorIndex();
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  // Loads a saved index; errors when it is missing, fails its checksum, or has another size or
  // key.
  static core::Result<std::unique_ptr<VectorIndex>> load(const std::string& path, std::size_t dim,
                                                         const HnswParams& params, const std::string& key = "");
  // Writes the index and its checksum (atomically: temporary files, then renames).
  core::Status save(const std::string& path) const;

  std::size_t dim() const { return dim_; }
  const std::string& key() const { return key_; }
  // Adds a vector (dim floats, normalised); an id already present is left as it is, a deleted
  // one is revived (a chunk id's vector never changes).
  void add(std::int64_t id, const float* v);
  // Marks ids deleted; unknown or already deleted ids are ignored.
  void remove(const std::vector<std::int64_t>& ids);
  // The ids present and not deleted.
  std::vector<std::int64_t> live_ids() const;
  std::size_t live() const;
  // Approximate k nearest, best first.
  // ef > 0: the graph search keeps that many candidates (at least k) instead of the index's
  // ef_search, for this search only.
  std::vector<Scored> search(const float* q, std::size_t k, std::size_t ef = 0) const;
  // Exact scores of the given ids that are present, best first, at most k.
  std::vector<Scored> exact(const float* q, const std::vector<std::int64_t>& ids, std::size_t k) const;
  bool dirty() const;
  bool int8() const { return params_.int8; }

 private:
  // The float32 vector of an element (the int8 mode's copy, else the graph's own data).
  const float* full(std::size_t internal) const;
  hnswlib::SpaceInterface<float>* graph_space() const;

  std::size_t dim_;
  HnswParams params_;
  std::string key_;
  std::unique_ptr<hnswlib::SpaceInterface<float>> float_space_;  // exact scores
  std::unique_ptr<hnswlib::SpaceInterface<float>> code_space_;   // int8 mode: the graph's
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw_;
  // int8 mode: the float32 vectors by internal id, in blocks of kBlock (growing never copies).
  static constexpr std::size_t kBlock = 4096;
  std::vector<std::unique_ptr<float[]>> full_;
  float* full_slot(std::size_t internal);  // allocates its block when needed
  mutable std::shared_mutex mu_;
  std::size_t live_ = 0;          // present and not deleted
  mutable bool dirty_ = false;  // changed since loaded or saved
};

// Every collection's index, by collection id, loaded on first use.
class VectorIndexes {
 public:
  // dir empty: nothing is saved or loaded (in-memory only).
  VectorIndexes(std::string dir, HnswParams params) : dir_(std::move(dir)), params_(params) {}

  // The live (id, vector) pairs of a collection, all of them (ids == nullptr) or just those ids.
  using Source = std::function<core::Result<std::vector<std::pair<std::int64_t, std::vector<float>>>>(
      const std::vector<std::int64_t>* ids)>;
  using LiveIds = std::function<core::Result<std::vector<std::int64_t>>()>;

  // The collection's index of `dim`-sized vectors: already open, loaded and reconciled with
  // the live chunks, or rebuilt from `source`. Blocking: call it on the blocking pool.
  core::Result<std::shared_ptr<VectorIndex>> get(const std::string& collection_id, std::size_t dim,
                                                 const LiveIds& live, const Source& source,
                                                 const std::string& key = "");
  // Makes `index` hold exactly the live chunks: those gone are removed, those missing added
  // from `source`. Returns (added, removed).
  static core::Result<std::pair<std::size_t, std::size_t>> reconcile(VectorIndex& index, const LiveIds& live,
                                                                     const Source& source);
  // Puts a complete index in place of the collection's (a model change), to be saved later.
  void replace(const std::string& collection_id, std::shared_ptr<VectorIndex> index);
  // The open index, if any (writes that found none leave the next get to reconcile).
  std::shared_ptr<VectorIndex> find(const std::string& collection_id);
  // Forgets a collection's index and removes its files.
  void drop(const std::string& collection_id);
  // Saves every changed index. Called at shutdown.
  void save_all();

  const HnswParams& params() const { return params_; }

 private:
  std::string path(const std::string& collection_id) const;

  std::string dir_;
  HnswParams params_;
  std::mutex mu_;  // guards open_; held while an index loads
  std::map<std::string, std::shared_ptr<VectorIndex>> open_;
};

}  // namespace sb::knowledge
