#include "knowledge/vectors.hpp"

#include <hnswlib/hnswlib.h>
#include <openssl/evp.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
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

constexpr const char* kMagic = "switchboard-hnsw 1";      // float32 graph
constexpr const char* kMagicInt8 = "switchboard-hnsw 2";  // int8 graph + float32 vectors file

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

// The k highest scores, best first.
std::vector<Scored> best(std::vector<Scored> scored, std::size_t k) {
  const std::size_t n = std::min(k, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(n), scored.end(),
                    [](const Scored& a, const Scored& b) { return a.score > b.score; });
  scored.resize(n);
  return scored;
}

// An int8-coded vector: dim codes, then a float scale; code * scale approximates the component.
// Padded to a multiple of 4 bytes: hnswlib lays each element's links after its data, and reads
// them as 4-byte integers (dimensions that are multiples of 4, as real models' are, need none).
std::size_t code_size(std::size_t dim) { return (dim + sizeof(float) + 3) & ~std::size_t(3); }

void encode(const float* v, std::size_t dim, char* out) {
  float top = 0;
  for (std::size_t i = 0; i < dim; ++i) top = std::max(top, std::fabs(v[i]));
  const float scale = top / 127.0f;
  const float inv = top > 0 ? 127.0f / top : 0.0f;
  auto* codes = reinterpret_cast<std::int8_t*>(out);
  for (std::size_t i = 0; i < dim; ++i) {
    codes[i] = static_cast<std::int8_t>(std::clamp(std::lround(v[i] * inv), -127L, 127L));
  }
  std::memcpy(out + dim, &scale, sizeof scale);
}

// 1 - the codes' inner product times the two vectors' scales (stored after n codes).
float code_distance(std::int32_t dot, const std::int8_t* x, const std::int8_t* y, std::size_t n) {
  float sa = 0, sb = 0;
  std::memcpy(&sa, x + n, sizeof sa);
  std::memcpy(&sb, y + n, sizeof sb);
  return 1.0f - static_cast<float>(dot) * sa * sb;
}

float code_distance_portable(const void* a, const void* b, const void* param) {
  const std::size_t n = *static_cast<const std::size_t*>(param);
  const auto* x = static_cast<const std::int8_t*>(a);
  const auto* y = static_cast<const std::int8_t*>(b);
  std::int32_t sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += static_cast<std::int32_t>(x[i]) * y[i];
  return code_distance(sum, x, y, n);
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) inline __m256i load16(const std::int8_t* p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// The same, 16 codes per step: widened to 16 bits, multiplied and added in pairs into 32 bits.
__attribute__((target("avx2"))) float code_distance_avx2(const void* a, const void* b, const void* param) {
  const std::size_t n = *static_cast<const std::size_t*>(param);
  const auto* x = static_cast<const std::int8_t*>(a);
  const auto* y = static_cast<const std::int8_t*>(b);
  __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(load16(x + i), load16(y + i)));
    s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(load16(x + i + 16), load16(y + i + 16)));
  }
  for (; i + 16 <= n; i += 16) s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(load16(x + i), load16(y + i)));
  const __m256i s = _mm256_add_epi32(s0, s1);
  __m128i v = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  v = _mm_hadd_epi32(v, v);
  v = _mm_hadd_epi32(v, v);
  std::int32_t sum = _mm_cvtsi128_si32(v);
  for (; i < n; ++i) sum += static_cast<std::int32_t>(x[i]) * y[i];
  return code_distance(sum, x, y, n);
}
#endif

// Cosine distance of int8-coded unit vectors: the graph's distance in an int8 index.
class CodeSpace final : public hnswlib::SpaceInterface<float> {
 public:
  explicit CodeSpace(std::size_t dim) : dim_(dim), distance_(&code_distance_portable) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) distance_ = &code_distance_avx2;
#endif
  }
  std::size_t get_data_size() override { return code_size(dim_); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return distance_; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  std::size_t dim_;
  hnswlib::DISTFUNC<float> distance_;
};

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
    : dim_(dim), params_(params), key_(std::move(key)), float_space_(std::make_unique<CosineSpace>(dim)) {
  if (params_.int8) code_space_ = std::make_unique<CodeSpace>(dim);
  capacity = std::max<std::size_t>(capacity, 16);
  hnsw_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(graph_space(), capacity,
                                                            static_cast<std::size_t>(params.m),
                                                            static_cast<std::size_t>(params.ef_construction));
  hnsw_->setEf(static_cast<std::size_t>(params.ef_search));
}

VectorIndex::~VectorIndex() = default;

hnswlib::SpaceInterface<float>* VectorIndex::graph_space() const {
  return code_space_ ? code_space_.get() : float_space_.get();
}

float* VectorIndex::full_slot(std::size_t internal) {
  const std::size_t block = internal / kBlock;
  while (full_.size() <= block) full_.push_back(std::make_unique<float[]>(kBlock * dim_));
  return full_[block].get() + (internal % kBlock) * dim_;
}

const float* VectorIndex::full(std::size_t internal) const {
  if (params_.int8) return full_[internal / kBlock].get() + (internal % kBlock) * dim_;
  return reinterpret_cast<const float*>(hnsw_->getDataByInternalId(static_cast<hnswlib::tableint>(internal)));
}

core::Result<std::unique_ptr<VectorIndex>> VectorIndex::load(const std::string& path, std::size_t dim,
                                                             const HnswParams& params, const std::string& key) {
  std::ifstream meta(path + ".sum");
  std::string magic_line, sum;
  std::size_t stored_dim = 0;
  std::uintmax_t stored_size = 0;
  if (!meta || !std::getline(meta, magic_line) || (magic_line != kMagic && magic_line != kMagicInt8) ||
      !(meta >> stored_dim >> stored_size >> sum)) {
    return Error(ErrorKind::not_found, "no saved index");
  }
  if ((magic_line == kMagicInt8) != params.int8) {
    return Error(ErrorKind::conflict, params.int8 ? "saved index is float32, int8 wanted" : "saved index is int8, float32 wanted");
  }
  if (stored_dim != dim) return Error(ErrorKind::conflict, "saved index has another vector size");
  std::string stored_key;
  std::getline(meta, stored_key);  // the end of the sizes line
  std::getline(meta, stored_key);
  if (stored_key != key) return Error(ErrorKind::conflict, "saved index holds another model's vectors");
  std::uintmax_t vec_size = 0;
  std::string vec_sum;
  if (params.int8 && !(meta >> vec_size >> vec_sum)) return Error(ErrorKind::not_found, "no saved vectors");
  std::uintmax_t size = 0;
  if (file_sha256(path, &size) != sum || size != stored_size) {
    return Error(ErrorKind::invalid_field, "saved index fails its checksum");
  }
  if (params.int8 && (file_sha256(path + ".vec", &size) != vec_sum || size != vec_size)) {
    return Error(ErrorKind::invalid_field, "saved vectors fail their checksum");
  }
  auto out = std::make_unique<VectorIndex>(dim, params, 16, key);
  try {
    out->hnsw_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(out->graph_space(), path);
  } catch (const std::exception& e) {
    return Error(ErrorKind::invalid_field, std::string("saved index unreadable: ") + e.what());
  }
  out->hnsw_->setEf(static_cast<std::size_t>(params.ef_search));
  const std::size_t count = out->hnsw_->cur_element_count;
  if (params.int8) {
    if (vec_size != count * dim * sizeof(float)) return Error(ErrorKind::invalid_field, "saved vectors do not match the index");
    std::ifstream in(path + ".vec", std::ios::binary);
    for (std::size_t i = 0; i < count && in; i += kBlock) {
      const std::size_t n = std::min(kBlock, count - i);
      in.read(reinterpret_cast<char*>(out->full_slot(i)), static_cast<std::streamsize>(n * dim * sizeof(float)));
    }
    if (!in) return Error(ErrorKind::invalid_field, "saved vectors unreadable");
  }
  // hnswlib 0.6.2's loading constructor leaves its deleted count uninitialised: recount.
  std::size_t deleted = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (out->hnsw_->isMarkedDeleted(static_cast<hnswlib::tableint>(i))) ++deleted;
  }
  out->hnsw_->num_deleted_ = deleted;
  out->live_ = count - deleted;
  return out;
}

core::Status VectorIndex::save(const std::string& path) const {
  std::unique_lock lock(mu_);  // alone: hnswlib reads the graph while writing it
  const std::string tmp = path + ".tmp", tmp_sum = path + ".sum.tmp", tmp_vec = path + ".vec.tmp";
  try {
    hnsw_->saveIndex(tmp);
  } catch (const std::exception& e) {
    return Error(ErrorKind::unavailable, std::string("cannot save vector index: ") + e.what());
  }
  std::uintmax_t size = 0, vec_size = 0;
  const std::string sum = file_sha256(tmp, &size);
  std::string vec_sum;
  if (params_.int8) {
    {
      std::ofstream out(tmp_vec, std::ios::binary | std::ios::trunc);
      const std::size_t count = hnsw_->cur_element_count;
      for (std::size_t i = 0; i < count; i += kBlock) {
        out.write(reinterpret_cast<const char*>(full(i)),
                  static_cast<std::streamsize>(std::min(kBlock, count - i) * dim_ * sizeof(float)));
      }
      if (!out) return Error(ErrorKind::unavailable, "cannot write " + tmp_vec);
    }
    vec_sum = file_sha256(tmp_vec, &vec_size);
  }
  {
    std::ofstream out(tmp_sum, std::ios::trunc);
    out << (params_.int8 ? kMagicInt8 : kMagic) << "\n" << dim_ << " " << size << " " << sum << "\n" << key_ << "\n";
    if (params_.int8) out << vec_size << " " << vec_sum << "\n";
    if (!out) return Error(ErrorKind::unavailable, "cannot write " + tmp_sum);
  }
  // The checksum file goes last: until it is renamed, a load finds the old sums and refuses.
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (!ec && params_.int8) fs::rename(tmp_vec, path + ".vec", ec);
  if (!ec) fs::rename(tmp_sum, path + ".sum", ec);
  if (ec) return Error(ErrorKind::unavailable, "cannot save vector index: " + ec.message());
  dirty_ = false;
  return {};
}

void VectorIndex::add(std::int64_t id, const float* v) {
  std::unique_lock lock(mu_);
  if (hnsw_->cur_element_count >= hnsw_->max_elements_) {
    const std::size_t grown = std::max<std::size_t>(hnsw_->max_elements_ * 2, 1024);
    hnsw_->resizeIndex(grown);
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
  if (params_.int8) {
    // The new element's internal id is the element count: its float32 copy goes there first.
    std::memcpy(full_slot(hnsw_->cur_element_count), v, dim_ * sizeof(float));
    std::vector<char> code(code_size(dim_));
    encode(v, dim_, code.data());
    hnsw_->addPoint(code.data(), static_cast<hnswlib::labeltype>(id));
  } else {
    hnsw_->addPoint(v, static_cast<hnswlib::labeltype>(id));
  }
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
  if (ef == 0) ef = static_cast<std::size_t>(params_.ef_search);
  // hnswlib searches with max(ef_search, k) candidates: asking for ef answers keeps all ef.
  std::vector<char> code;
  const void* query = q;
  if (params_.int8) {
    code.resize(code_size(dim_));
    encode(q, dim_, code.data());
    query = code.data();
  }
  auto top = hnsw_->searchKnn(query, std::max(k, ef));
  if (params_.int8) {
    // The best candidates by code distance re-scored exactly: the codes' error (about 1e-3 of
    // a score) only reorders near-ties, so the exact top k is among the best few k of them.
    const std::size_t rescore = std::max<std::size_t>(4 * k, 64);
    while (top.size() > rescore) top.pop();
    auto dist = float_space_->get_dist_func();
    void* param = float_space_->get_dist_func_param();
    out.reserve(top.size());
    for (; !top.empty(); top.pop()) {
      const auto label = top.top().second;
      const auto internal = hnsw_->label_lookup_.at(label);
      out.push_back(Scored{static_cast<std::int64_t>(label), 1.0f - dist(q, full(internal), param)});
    }
    return best(std::move(out), k);
  }
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
  auto dist = float_space_->get_dist_func();
  void* param = float_space_->get_dist_func_param();
  for (auto id : ids) {
    auto it = hnsw_->label_lookup_.find(static_cast<hnswlib::labeltype>(id));
    if (it == hnsw_->label_lookup_.end() || hnsw_->isMarkedDeleted(it->second)) continue;
    out.push_back(Scored{id, 1.0f - dist(q, full(it->second), param)});
  }
  return best(std::move(out), k);
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
  fs::remove(path(collection_id) + ".vec", ec);
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
