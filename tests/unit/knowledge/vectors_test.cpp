#include "knowledge/vectors.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>

namespace sb::knowledge {
namespace {

std::vector<float> random_unit(std::mt19937& rng, std::size_t dim) {
  std::normal_distribution<float> n;
  std::vector<float> v(dim);
  for (auto& x : v) x = n(rng);
  normalize(v);
  return v;
}

std::string temp_dir() {
  auto p = std::filesystem::temp_directory_path() / ("sb-vec-" + std::to_string(::getpid()) + "-" +
                                                     std::to_string(std::random_device{}()));
  std::filesystem::create_directories(p);
  return p.string();
}

TEST(Vectors, NormalizeMakesUnitLength) {
  std::vector<float> v = {3, 4};
  normalize(v);
  EXPECT_FLOAT_EQ(v[0], 0.6f);
  EXPECT_FLOAT_EQ(v[1], 0.8f);
  std::vector<float> zero = {0, 0};
  normalize(zero);
  EXPECT_EQ(zero[0], 0);
}

HnswParams params_of(bool int8) {
  HnswParams p;
  p.int8 = int8;
  return p;
}

class BothKinds : public ::testing::TestWithParam<bool> {};  // int8 graph, float32 graph
INSTANTIATE_TEST_SUITE_P(Vectors, BothKinds, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Int8" : "Float32"; });

TEST_P(BothKinds, SearchFindsNearestAndHonoursDeletes) {
  std::mt19937 rng(7);
  VectorIndex index(32, params_of(GetParam()), 4);  // grows past its first capacity
  std::vector<std::vector<float>> vs;
  for (int i = 0; i < 200; ++i) {
    vs.push_back(random_unit(rng, 32));
    index.add(1000 + i, vs.back().data());
  }
  EXPECT_EQ(index.live(), 200u);
  auto top = index.search(vs[17].data(), 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].id, 1017);
  EXPECT_NEAR(top[0].score, 1.0, 1e-5);
  EXPECT_GE(top[0].score, top[1].score);

  index.remove({1017, 999999});  // unknown ids are ignored
  index.remove({1017});          // and so is a second delete
  EXPECT_EQ(index.live(), 199u);
  for (const auto& s : index.search(vs[17].data(), 10)) EXPECT_NE(s.id, 1017);
  index.add(1017, vs[17].data());  // revived
  EXPECT_EQ(index.search(vs[17].data(), 1)[0].id, 1017);

  auto exact = index.exact(vs[5].data(), {1005, 1006, 1007, 424242}, 2);
  ASSERT_EQ(exact.size(), 2u);
  EXPECT_EQ(exact[0].id, 1005);

  // A per-search ef keeps more candidates but answers k, best first; with ef over the size of
  // the index the answer is the exact one.
  std::vector<std::int64_t> all;
  for (int i = 0; i < 200; ++i) all.push_back(1000 + i);
  auto wide = index.search(vs[40].data(), 5, 400);
  auto truth = index.exact(vs[40].data(), all, 5);
  ASSERT_EQ(wide.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(wide[i].id, truth[i].id) << i;
  EXPECT_EQ(index.search(vs[40].data(), 5, 1).size(), 5u) << "ef below k searches with k";
}

// Scores are inner products of the unit vectors whatever the size (the distance runs 16 floats
// at a time where the CPU allows, then the rest one by one), for exact and graph searches alike
// (an int8 graph's candidates are re-scored in float32).
TEST_P(BothKinds, ScoresAreInnerProductsForAnySize) {
  std::mt19937 rng(3);
  for (std::size_t dim : {3u, 16u, 37u, 384u}) {
    VectorIndex index(dim, params_of(GetParam()), 8);
    std::vector<std::vector<float>> vs;
    for (int i = 0; i < 5; ++i) {
      vs.push_back(random_unit(rng, dim));
      index.add(i, vs.back().data());
    }
    const auto q = random_unit(rng, dim);
    for (const auto& s : index.exact(q.data(), {0, 1, 2, 3, 4}, 5)) {
      double dot = 0;
      for (std::size_t k = 0; k < dim; ++k) dot += static_cast<double>(q[k]) * vs[static_cast<std::size_t>(s.id)][k];
      EXPECT_NEAR(s.score, dot, 1e-5) << "dim " << dim << " id " << s.id;
    }
    for (const auto& s : index.search(q.data(), 5)) {
      double dot = 0;
      for (std::size_t k = 0; k < dim; ++k) dot += static_cast<double>(q[k]) * vs[static_cast<std::size_t>(s.id)][k];
      EXPECT_NEAR(s.score, dot, 1e-5) << "search, dim " << dim << " id " << s.id;
    }
  }
}

// The graph's own distance matters for which candidates a search finds: on 3000 random vectors
// (sizes through the 32-, 16- and one-at-a-time paths of the int8 distance), both kinds find
// nearly all of the exact top 10, and the int8 graph within a point of the float32 one.
TEST(Vectors, Int8GraphFindsWhatTheFloatGraphFinds) {
  for (std::size_t dim : {37u, 384u}) {
    std::mt19937 rng(static_cast<unsigned>(dim));
    std::vector<std::vector<float>> vs;
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 3000; ++i) {
      vs.push_back(random_unit(rng, dim));
      ids.push_back(i);
    }
    double recall[2] = {0, 0};
    for (int kind = 0; kind < 2; ++kind) {
      VectorIndex index(dim, params_of(kind == 0), 3000);
      for (int i = 0; i < 3000; ++i) index.add(i, vs[static_cast<std::size_t>(i)].data());
      std::mt19937 qrng(99);
      for (int t = 0; t < 100; ++t) {
        const auto q = random_unit(qrng, dim);
        std::set<std::int64_t> truth;
        for (const auto& e : index.exact(q.data(), ids, 10)) truth.insert(e.id);
        for (const auto& a : index.search(q.data(), 10, 200)) recall[kind] += truth.count(a.id) / 1000.0;
      }
    }
    EXPECT_GT(recall[0], 0.9) << "int8, dim " << dim;
    EXPECT_GT(recall[1], 0.9) << "float32, dim " << dim;
    EXPECT_GT(recall[0], recall[1] - 0.01) << "dim " << dim;
  }
}

TEST_P(BothKinds, SavedIndexLoadsAndACorruptOneIsRefused) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/c.hnsw";
  const HnswParams params = params_of(GetParam());
  std::mt19937 rng(11);
  std::vector<std::vector<float>> vs;
  {
    VectorIndex index(16, params);
    for (int i = 0; i < 50; ++i) {
      vs.push_back(random_unit(rng, 16));
      index.add(i, vs.back().data());
    }
    index.remove({3});
    ASSERT_TRUE(index.save(path));
    EXPECT_FALSE(index.dirty());
  }
  auto loaded = VectorIndex::load(path, 16, params);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ((*loaded)->live(), 49u);
  EXPECT_EQ((*loaded)->search(vs[9].data(), 1)[0].id, 9);
  EXPECT_NEAR((*loaded)->search(vs[9].data(), 1)[0].score, 1.0, 1e-5);
  EXPECT_EQ((*loaded)->exact(vs[20].data(), {20}, 1)[0].id, 20);
  (*loaded)->add(100, vs[0].data());  // a loaded index grows
  EXPECT_EQ((*loaded)->live(), 50u);
  EXPECT_FALSE(VectorIndex::load(path, 32, params)) << "another vector size";
  EXPECT_FALSE(VectorIndex::load(path, 16, params, "other-model")) << "another model's vectors";
  EXPECT_FALSE(VectorIndex::load(path, 16, params_of(!GetParam()))) << "the other kind of graph";
  if (GetParam()) {
    std::filesystem::copy_file(path + ".vec", path + ".vec.good");
    {
      std::fstream f(path + ".vec", std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(8);
      f.put('\x7f');
    }
    auto bad_vectors = VectorIndex::load(path, 16, params);
    ASSERT_FALSE(bad_vectors);
    EXPECT_NE(bad_vectors.error().message.find("checksum"), std::string::npos);
    std::filesystem::rename(path + ".vec.good", path + ".vec");
    ASSERT_TRUE(VectorIndex::load(path, 16, params));
  }
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x7f');
  }
  auto corrupt = VectorIndex::load(path, 16, params);
  ASSERT_FALSE(corrupt);
  EXPECT_NE(corrupt.error().message.find("checksum"), std::string::npos);
  EXPECT_FALSE(VectorIndex::load(dir + "/missing.hnsw", 16, params));
  std::filesystem::remove_all(dir);
}

TEST(Vectors, IndexesReconcileASavedFileWithStorage) {
  const std::string dir = temp_dir();
  std::mt19937 rng(3);
  std::map<std::int64_t, std::vector<float>> stored;
  for (int i = 1; i <= 20; ++i) stored[i] = random_unit(rng, 8);
  auto live = [&stored]() -> core::Result<std::vector<std::int64_t>> {
    std::vector<std::int64_t> ids;
    for (const auto& [id, v] : stored) ids.push_back(id);
    return ids;
  };
  auto source = [&stored](const std::vector<std::int64_t>* ids)
      -> core::Result<std::vector<std::pair<std::int64_t, std::vector<float>>>> {
    std::vector<std::pair<std::int64_t, std::vector<float>>> out;
    for (const auto& [id, v] : stored) {
      if (!ids || std::find(ids->begin(), ids->end(), id) != ids->end()) out.emplace_back(id, v);
    }
    return out;
  };
  {
    VectorIndexes indexes(dir, HnswParams{});
    auto idx = indexes.get("c1", 8, live, source);
    ASSERT_TRUE(idx);
    EXPECT_EQ((*idx)->live(), 20u);
    indexes.save_all();
  }
  // Storage moved on while the file stayed behind (a crash): 5 gone, 3 new.
  for (int i = 1; i <= 5; ++i) stored.erase(i);
  for (int i = 21; i <= 23; ++i) stored[i] = random_unit(rng, 8);
  VectorIndexes again(dir, HnswParams{});
  auto idx = again.get("c1", 8, live, source);
  ASSERT_TRUE(idx);
  auto ids = (*idx)->live_ids();
  std::set<std::int64_t> got(ids.begin(), ids.end());
  std::set<std::int64_t> want;
  for (const auto& [id, v] : stored) want.insert(id);
  EXPECT_EQ(got, want);
  EXPECT_EQ((*idx)->search(stored[22].data(), 1)[0].id, 22);
  again.drop("c1");
  EXPECT_FALSE(std::filesystem::exists(dir + "/c1.hnsw"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/c1.hnsw.vec"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sb::knowledge
