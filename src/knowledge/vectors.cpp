#include "knowledge/vectors.hpp"

#include <hnswlib/hnswlib.h>
#include <openssl/evp.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "core/log.hpp"

namespace sb::knowledge {

using core::Error;
using core::ErrorKind;
namespace fs = std::filesystem;

void normalize(std::vector<float>& v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  if (sum <= 0) return;
  const float inv = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= inv;
}

namespace {

// Lowercase hex SHA-256 of a file's bytes, or "" when it cannot be read.
std::string file_sha256(const std::string& path, std::uintmax_t* size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  std::uintmax_t total = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = in.gcount();
    if (n > 0) EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(n));
    total += static_cast<std::uintmax_t>(n);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  if (size) *size = total;
  return out;
}

constexpr const char* kMagic = "switchboard-hnsw 1";

#if defined(__x86_64__)
// 1 - the inner product, 8 floats per instruction with fused multiply-add.
__attribute__((target("avx2,fma"))) float distance_avx2(const void* a, const void* b, const void* param) {
  const std::size_t n = *static_cast<const std::size_t*>(param);
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), s1);
  }
  const __m256 s = _mm256_add_ps(s0, s1);
  __m128 v = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  v = _mm_hadd_ps(v, v);
  v = _mm_hadd_ps(v, v);
  float sum = _mm_cvtss_f32(v);
  for (; i < n; ++i) sum += x[i] * y[i];
  return 1.0f - sum;
}
#endif

// Cosine distance of unit vectors (1 - inner product) for hnswlib. hnswlib picks its SIMD code
// when it is compiled (SSE in a build for any x86-64 CPU); this picks AVX2 + FMA at run time
// when the CPU has them, else hnswlib's own function.
class CosineSpace final : public hnswlib::SpaceInterface<float> {
 public:
  explicit CosineSpace(std::size_t dim) : portable_(dim), dim_(dim), distance_(portable_.get_dist_func()) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) distance_ = &distance_avx2;
#endif
  }
  std::size_t get_data_size() override { return dim_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return distance_; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  hnswlib::InnerProductSpace portable_;
  std::size_t dim_;
  hnswlib::DISTFUNC<float> distance_;
};

}  // namespace

VectorIndex::VectorIndex(std::size_t dim, const HnswParams& params, std::size_t capacity, std::string key)
    : dim_(dim), params_(params), key_(std::move(key)), space_(std::make_unique<CosineSpace>(dim)) {
  hnsw_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(
      space_.get(), std::max<std::size_t>(capacity, 16), static_cast<std::size_t>(params.m),
      static_cast<std::size_t>(params.ef_construction));
  hnsw_->setEf(static_cast<std::size_t>(params.ef_search));
}

VectorIndex::~VectorIndex() = default;

core::Result<std::unique_ptr<VectorIndex>> VectorIndex::load(const std::string& path, std::size_t dim,
                                                             const HnswParams& params, const std::string& key) {
  std::ifstream meta(path + ".sum");
  std::string magic_line, sum;
  std::size_t stored_dim = 0;
  std::uintmax_t stored_size = 0;
  if (!meta || !std::getline(meta, magic_line) || magic_line != kMagic || !(meta >> stored_dim >> stored_size >> sum)) {
    return Error(ErrorKind::not_found, "no saved index");
  }
  if (stored_dim != dim) return Error(ErrorKind::conflict, "saved index has another vector size");
  std::string stored_key;
  meta >> std::ws;
  std::getline(meta, stored_key);
  if (stored_key != key) return Error(ErrorKind::conflict, "saved index holds another model's vectors");
  std::uintmax_t size = 0;
  if (file_sha256(path, &size) != sum || size != stored_size) {
    return Error(ErrorKind::invalid_field, "saved index fails its checksum");
  }
  auto out = std::make_unique<VectorIndex>(dim, params, 16, key);
  try {
    out->hnsw_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(out->space_.get(), path);
  } catch (const std::exception& e) {
    return Error(ErrorKind::invalid_field, std::string("saved index unreadable: ") + e.what());
  }
  out->hnsw_->setEf(static_cast<std::size_t>(params.ef_search));
  // hnswlib 0.6.2's loading constructor leaves its deleted count uninitialised: recount.
  std::size_t deleted = 0;
  for (std::size_t i = 0; i < out->hnsw_->cur_element_count; ++i) {
    if (out->hnsw_->isMarkedDeleted(static_cast<hnswlib::tableint>(i))) ++deleted;
  }
  out->hnsw_->num_deleted_ = deleted;
  out->live_ = out->hnsw_->cur_element_count - deleted;
  return out;
}

core::Status VectorIndex::save(const std::string& path) const {
  std::unique_lock lock(mu_);  // alone: hnswlib reads the graph while writing it
  const std::string tmp = path + ".tmp", tmp_sum = path + ".sum.tmp";
  try {
    hnsw_->saveIndex(tmp);
  } catch (const std::exception& e) {
    return Error(ErrorKind::unavailable, std::string("cannot save vector index: ") + e.what());
  }
  std::uintmax_t size = 0;
  const std::string sum = file_sha256(tmp, &size);
  {
    std::ofstream out(tmp_sum, std::ios::trunc);
    out << kMagic << "\n" << dim_ << " " << size << " " << sum << "\n" << key_ << "\n";
    if (!out) return Error(ErrorKind::unavailable, "cannot write " + tmp_sum);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (!ec) fs::rename(tmp_sum, path + ".sum", ec);
  if (ec) return Error(ErrorKind::unavailable, "cannot save vector index: " + ec.message());
  dirty_ = false;
  return {};
}

void VectorIndex::add(std::int64_t id, const float* v) {
  std::unique_lock lock(mu_);
  if (hnsw_->cur_element_count >= hnsw_->max_elements_) {
    hnsw_->resizeIndex(std::max<std::size_t>(hnsw_->max_elements_ * 2, 1024));
  }
  // A chunk id's vector never changes: present -> nothing to do, deleted -> revived as it was.
  auto it = hnsw_->label_lookup_.find(static_cast<hnswlib::labeltype>(id));
  if (it != hnsw_->label_lookup_.end()) {
    if (hnsw_->isMarkedDeleted(it->second)) {
      hnsw_->unmarkDeletedInternal(it->second);
      ++live_;
      dirty_ = true;
    }
    return;
  }
  ++live_;
  hnsw_->addPoint(v, static_cast<hnswlib::labeltype>(id));
  dirty_ = true;
}

void VectorIndex::remove(const std::vector<std::int64_t>& ids) {
  std::unique_lock lock(mu_);
  for (auto id : ids) {
    auto it = hnsw_->label_lookup_.find(static_cast<hnswlib::labeltype>(id));
    if (it == hnsw_->label_lookup_.end() || hnsw_->isMarkedDeleted(it->second)) continue;
    hnsw_->markDeletedInternal(it->second);
    --live_;
    dirty_ = true;
  }
}

std::vector<std::int64_t> VectorIndex::live_ids() const {
  std::shared_lock lock(mu_);
  std::vector<std::int64_t> out;
  out.reserve(hnsw_->label_lookup_.size());
  for (const auto& [label, internal] : hnsw_->label_lookup_) {
    if (!hnsw_->isMarkedDeleted(internal)) out.push_back(static_cast<std::int64_t>(label));
  }
  return out;
}

std::size_t VectorIndex::live() const {
  std::shared_lock lock(mu_);
  return live_;
}

bool VectorIndex::dirty() const {
  std::shared_lock lock(mu_);
  return dirty_;
}

std::vector<Scored> VectorIndex::search(const float* q, std::size_t k, std::size_t ef) const {
  std::shared_lock lock(mu_);
  std::vector<Scored> out;
  if (k == 0 || hnsw_->cur_element_count == 0) return out;
  // hnswlib searches with max(ef_search, k) candidates: asking for ef answers keeps ef, and the
  // farthest beyond k are dropped.
  auto top = hnsw_->searchKnn(q, std::max(k, ef));
  while (top.size() > k) top.pop();
  out.resize(top.size());
  for (std::size_t i = top.size(); i-- > 0;) {  // the queue pops the farthest first
    out[i] = Scored{static_cast<std::int64_t>(top.top().second), 1.0f - top.top().first};
    top.pop();
  }
  return out;
}

std::vector<Scored> VectorIndex::exact(const float* q, const std::vector<std::int64_t>& ids, std::size_t k) const {
  std::shared_lock lock(mu_);
  std::vector<Scored> out;
  auto dist = space_->get_dist_func();
  void* param = space_->get_dist_func_param();
  for (auto id : ids) {
    auto it = hnsw_->label_lookup_.find(static_cast<hnswlib::labeltype>(id));
    if (it == hnsw_->label_lookup_.end() || hnsw_->isMarkedDeleted(it->second)) continue;
    out.push_back(Scored{id, 1.0f - dist(q, hnsw_->getDataByInternalId(it->second), param)});
  }
  const std::size_t n = std::min(k, out.size());
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n), out.end(),
                    [](const Scored& a, const Scored& b) { return a.score > b.score; });
  out.resize(n);
  return out;
}

std::string VectorIndexes::path(const std::string& collection_id) const {
  return (fs::path(dir_) / (collection_id + ".hnsw")).string();
}

core::Result<std::shared_ptr<VectorIndex>> VectorIndexes::get(const std::string& collection_id, std::size_t dim,
                                                               const LiveIds& live, const Source& source,
                                                               const std::string& key) {
  std::lock_guard lock(mu_);
  if (auto it = open_.find(collection_id); it != open_.end() && it->second->dim() == dim && it->second->key() == key) {
    return it->second;
  }
  std::unique_ptr<VectorIndex> index;
  std::string why = "no saved index";
  if (!dir_.empty()) {
    auto loaded = VectorIndex::load(path(collection_id), dim, params_, key);
    if (loaded) {
      index = std::move(*loaded);
    } else {
      why = loaded.error().message;
    }
  }
  if (index) {
    // Reconcile with storage: the saved file may predate the last writes (a crash).
    auto changed = reconcile(*index, live, source);
    if (!changed) return std::move(changed).error();
    if (changed->first || changed->second) {
      core::log::info("vector index reconciled", {{"collection", collection_id},
                                                  {"added", static_cast<long long>(changed->first)},
                                                  {"removed", static_cast<long long>(changed->second)}});
    }
  } else {
    auto vectors = source(nullptr);
    if (!vectors) return std::move(vectors).error();
    index = std::make_unique<VectorIndex>(dim, params_, vectors->size() + 1024, key);
    for (auto& [id, v] : *vectors) {
      if (v.size() == dim) index->add(id, v.data());
    }
    if (!vectors->empty()) {
      core::log::info("vector index rebuilt", {{"collection", collection_id},
                                               {"vectors", static_cast<long long>(vectors->size())},
                                               {"reason", why}});
    }
  }
  std::shared_ptr<VectorIndex> shared(std::move(index));
  open_[collection_id] = shared;
  return shared;
}

core::Result<std::pair<std::size_t, std::size_t>> VectorIndexes::reconcile(VectorIndex& index, const LiveIds& live,
                                                                           const Source& source) {
  auto ids = live();
  if (!ids) return std::move(ids).error();
  std::unordered_set<std::int64_t> want(ids->begin(), ids->end());
  std::vector<std::int64_t> gone, missing;
  for (auto id : index.live_ids()) {
    if (!want.erase(id)) gone.push_back(id);
  }
  missing.assign(want.begin(), want.end());
  index.remove(gone);
  std::size_t added = 0;
  if (!missing.empty()) {
    auto vectors = source(&missing);
    if (!vectors) return std::move(vectors).error();
    for (auto& [id, v] : *vectors) {
      if (v.size() != index.dim()) continue;
      index.add(id, v.data());
      ++added;
    }
  }
  return std::pair<std::size_t, std::size_t>{added, gone.size()};
}

void VectorIndexes::replace(const std::string& collection_id, std::shared_ptr<VectorIndex> index) {
  std::lock_guard lock(mu_);
  open_[collection_id] = std::move(index);
}

std::shared_ptr<VectorIndex> VectorIndexes::find(const std::string& collection_id) {
  std::lock_guard lock(mu_);
  auto it = open_.find(collection_id);
  return it == open_.end() ? nullptr : it->second;
}

void VectorIndexes::drop(const std::string& collection_id) {
  std::lock_guard lock(mu_);
  open_.erase(collection_id);
  if (dir_.empty()) return;
  std::error_code ec;
  fs::remove(path(collection_id), ec);
  fs::remove(path(collection_id) + ".sum", ec);
}

void VectorIndexes::save_all() {
  if (dir_.empty()) return;
  std::lock_guard lock(mu_);
  std::error_code ec;
  fs::create_directories(dir_, ec);
  for (const auto& [id, index] : open_) {
    if (!index->dirty()) continue;
    if (auto st = index->save(path(id)); !st) {
      core::log::warn("vector index not saved", {{"collection", id}, {"error", st.error().message}});
    }
  }
}

}  // namespace sb::knowledge
