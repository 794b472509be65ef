// Structure, determinism, filters and input validation of the HNSW graph, on
// small synthetic data.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "engine/hnsw/hnsw.h"
#include "engine/hnsw/memory_graph.h"

namespace vdb::hnsw {
namespace {

std::vector<float> RandomVectors(size_t n, uint32_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n * dim);
  for (float& x : v) x = dist(rng);
  return v;
}

Params SmallParams(uint32_t dim, Metric metric = Metric::kL2) {
  Params p;
  p.dim = dim;
  p.metric = metric;
  p.m = 8;
  p.ef_construction = 64;
  return p;
}

std::unique_ptr<InMemoryGraph> BuildGraph(const std::vector<float>& data, const Params& p,
                                          int threads = 1) {
  const uint32_t n = static_cast<uint32_t>(data.size() / p.dim);
  auto g = InMemoryGraph::Create(p, n);
  EXPECT_TRUE(g.ok());
  std::vector<uint32_t> slots(n);
  std::iota(slots.begin(), slots.end(), 0u);
  for (uint32_t i = 0; i < n; ++i) EXPECT_TRUE((*g)->SetVector(i, &data[size_t{i} * p.dim]).ok());
  EXPECT_TRUE(ParallelBuild(**g, p, slots, threads).ok());
  return std::move(*g);
}

// Every list of both graphs, level by level.
bool SameGraph(const InMemoryGraph& a, const InMemoryGraph& b, const Params& p) {
  if (a.EntryPoint() != b.EntryPoint() || a.MaxLevel() != b.MaxLevel()) return false;
  std::vector<uint32_t> la(p.MaxDegree0()), lb(p.MaxDegree0());
  for (uint32_t s = 0; s < a.SlotLimit(); ++s) {
    if (a.Level(s) != b.Level(s)) return false;
    for (int l = 0; l <= a.Level(s); ++l) {
      const uint32_t na = a.Neighbors(s, l, la.data(), p.MaxDegree(l));
      const uint32_t nb = b.Neighbors(s, l, lb.data(), p.MaxDegree(l));
      if (na != nb || !std::equal(la.begin(), la.begin() + na, lb.begin())) return false;
    }
  }
  return true;
}

TEST(HnswLevel, DrawIsAPureFunctionOfSeedAndSlot) {
  Params p;
  p.dim = 4;
  for (uint32_t slot = 0; slot < 1000; ++slot) EXPECT_EQ(RandomLevel(p, slot), RandomLevel(p, slot));
  Params q = p;
  q.seed = p.seed + 1;
  int differ = 0;
  for (uint32_t slot = 0; slot < 1000; ++slot) differ += RandomLevel(p, slot) != RandomLevel(q, slot);
  EXPECT_GT(differ, 0);
}

TEST(HnswLevel, DistributionIsGeometricWithRatioOneOverM) {
  Params p;
  p.dim = 4;
  p.m = 16;
  const uint32_t n = 200000;
  std::vector<uint32_t> at_least(p.max_level + 2, 0);
  for (uint32_t slot = 0; slot < n; ++slot) {
    const int l = RandomLevel(p, slot);
    ASSERT_GE(l, 0);
    ASSERT_LE(l, p.max_level);
    for (int i = 0; i <= l; ++i) ++at_least[i];
  }
  // P(level >= 1) = 1/M, P(level >= 2) = 1/M^2.
  EXPECT_NEAR(at_least[1] / double(n), 1.0 / 16, 0.003);
  EXPECT_NEAR(at_least[2] / double(n), 1.0 / 256, 0.001);
}

TEST(HnswLevel, CapIsRespected) {
  Params p;
  p.dim = 4;
  p.max_level = 1;
  p.level_multiplier = 10.0;  // almost every draw is above the cap
  for (uint32_t slot = 0; slot < 1000; ++slot) EXPECT_LE(RandomLevel(p, slot), 1);
}

TEST(HnswParams, ValidateRejectsOutOfRangeValues) {
  Params p;
  EXPECT_FALSE(p.Validate().ok());  // dim 0
  p.dim = 8;
  EXPECT_TRUE(p.Validate().ok());
  Params q = p;
  q.m = 1;
  EXPECT_FALSE(q.Validate().ok());
  q = p;
  q.m0 = 4;  // below M
  EXPECT_FALSE(q.Validate().ok());
  q = p;
  q.max_level = kMaxLevelCap + 1;
  EXPECT_FALSE(q.Validate().ok());
  q = p;
  q.ef_construction = 0;
  EXPECT_FALSE(q.Validate().ok());
  EXPECT_EQ(p.MaxDegree(0), 32u);
  EXPECT_EQ(p.MaxDegree(3), 16u);
  EXPECT_NEAR(p.LevelMultiplier(), 1.0 / std::log(16.0), 1e-12);
}

TEST(HnswGraph, SameSeedAndOrderGiveIdenticalGraphs) {
  const Params p = SmallParams(16);
  const auto data = RandomVectors(1500, 16, 1);
  auto a = BuildGraph(data, p);
  auto b = BuildGraph(data, p);
  EXPECT_TRUE(SameGraph(*a, *b, p));
}

TEST(HnswGraph, DifferentSeedGivesDifferentGraph) {
  Params p = SmallParams(16);
  const auto data = RandomVectors(1500, 16, 1);
  auto a = BuildGraph(data, p);
  p.seed ^= 0xABCDEF;
  auto b = BuildGraph(data, p);
  EXPECT_FALSE(SameGraph(*a, *b, p));
}

TEST(HnswGraph, InvariantsHoldAfterBuildForEveryMetric) {
  for (Metric m : {Metric::kL2, Metric::kCosine, Metric::kDot}) {
    const Params p = SmallParams(12, m);
    auto g = BuildGraph(RandomVectors(2000, 12, 7), p);
    InvariantReport r = CheckInvariants(*g, p);
    EXPECT_TRUE(r.ok()) << MetricName(m) << ": " << (r.errors.empty() ? "" : r.errors[0]);
    EXPECT_EQ(r.nodes, 2000u);
    EXPECT_EQ(g->Level(r.entry_point), r.max_level);
    EXPECT_GT(r.mean_degree[0], 1.0);
    EXPECT_LE(r.mean_degree[0], p.MaxDegree0());
  }
}

TEST(HnswGraph, ParallelBuildPassesInvariants) {
  const Params p = SmallParams(12);
  auto g = BuildGraph(RandomVectors(3000, 12, 3), p, 2);
  InvariantReport r = CheckInvariants(*g, p);
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0]);
  EXPECT_EQ(r.nodes, 3000u);
}

TEST(HnswGraph, EmptyGraphReturnsNothing) {
  const Params p = SmallParams(4);
  auto g = InMemoryGraph::Create(p, 10);
  ASSERT_TRUE(g.ok());
  std::vector<SearchHit> out{{1, 1.0f}};
  const float q[4] = {0, 0, 0, 0};
  ASSERT_TRUE(Search(**g, p, q, SearchOptions{}, &out).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(CheckInvariants(**g, p).ok());
}

TEST(HnswGraph, SingleNodeIsFound) {
  const Params p = SmallParams(4);
  auto g = InMemoryGraph::Create(p, 10);
  ASSERT_TRUE(g.ok());
  const float v[4] = {1, 2, 3, 4};
  ASSERT_TRUE((*g)->SetVector(7, v).ok());
  ASSERT_TRUE(Insert(**g, p, 7).ok());
  std::vector<SearchHit> out;
  ASSERT_TRUE(Search(**g, p, v, SearchOptions{}, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].slot, 7u);
  EXPECT_EQ(out[0].score, 0.0f);
}

TEST(HnswGraph, ExactMatchComesFirstWithL2ScoreZero) {
  const Params p = SmallParams(16);
  const auto data = RandomVectors(1000, 16, 5);
  auto g = BuildGraph(data, p);
  std::vector<SearchHit> out;
  for (uint32_t i = 0; i < 1000; i += 97) {
    ASSERT_TRUE(Search(*g, p, &data[i * 16], SearchOptions{}, &out).ok());
    ASSERT_EQ(out.size(), 10u);
    EXPECT_EQ(out[0].slot, i);
    EXPECT_EQ(out[0].score, 0.0f);
    for (size_t j = 1; j < out.size(); ++j) EXPECT_LE(out[j - 1].score, out[j].score);
  }
}

TEST(HnswGraph, DotScoresAreInnerProductsDescending) {
  const Params p = SmallParams(8, Metric::kDot);
  const auto data = RandomVectors(500, 8, 9);
  auto g = BuildGraph(data, p);
  std::vector<SearchHit> out;
  ASSERT_TRUE(Search(*g, p, &data[0], SearchOptions{}, &out).ok());
  ASSERT_EQ(out.size(), 10u);
  for (const SearchHit& h : out) {
    float dot = 0;
    for (int j = 0; j < 8; ++j) dot += data[j] * data[h.slot * 8 + j];
    EXPECT_NEAR(h.score, dot, 1e-4);
  }
  for (size_t j = 1; j < out.size(); ++j) EXPECT_GE(out[j - 1].score, out[j].score);
}

TEST(HnswGraph, KLargerThanGraphReturnsEveryNode) {
  const Params p = SmallParams(8);
  auto g = BuildGraph(RandomVectors(30, 8, 2), p);
  std::vector<SearchHit> out;
  SearchOptions opt;
  opt.k = 100;
  const std::vector<float> q(8, 0.0f);
  ASSERT_TRUE(Search(*g, p, q.data(), opt, &out).ok());
  std::set<uint32_t> seen;
  for (const SearchHit& h : out) seen.insert(h.slot);
  EXPECT_EQ(seen.size(), 30u);
}

TEST(HnswSearch, FilterExcludesSlotsButStillFindsNeighbours) {
  const Params p = SmallParams(16);
  const auto data = RandomVectors(2000, 16, 11);
  auto g = BuildGraph(data, p);
  // Only even slots may be returned; the query is an odd slot's vector.
  auto even = [](uint32_t slot) { return slot % 2 == 0; };
  SearchOptions opt;
  opt.filter = even;
  opt.k = 10;
  std::vector<SearchHit> out;
  ASSERT_TRUE(Search(*g, p, &data[101 * 16], opt, &out).ok());
  ASSERT_EQ(out.size(), 10u);
  for (const SearchHit& h : out) EXPECT_EQ(h.slot % 2, 0u);
  // Same result as an exact search over the even slots.
  std::vector<std::pair<float, uint32_t>> exact;
  for (uint32_t i = 0; i < 2000; i += 2) {
    float d = 0;
    for (int j = 0; j < 16; ++j) d += (data[i * 16 + j] - data[101 * 16 + j]) * (data[i * 16 + j] - data[101 * 16 + j]);
    exact.push_back({d, i});
  }
  std::sort(exact.begin(), exact.end());
  int hits = 0;
  for (const SearchHit& h : out) {
    for (int j = 0; j < 10; ++j) hits += exact[j].second == h.slot;
  }
  EXPECT_GE(hits, 9);
}

TEST(HnswSearch, SelectiveFilterStillFillsK) {
  const Params p = SmallParams(16);
  const auto data = RandomVectors(2000, 16, 12);
  auto g = BuildGraph(data, p);
  auto rare = [](uint32_t slot) { return slot % 50 == 0; };  // 40 slots pass
  SearchOptions opt;
  opt.filter = rare;
  opt.k = 10;
  std::vector<SearchHit> out;
  ASSERT_TRUE(Search(*g, p, &data[7 * 16], opt, &out).ok());
  EXPECT_EQ(out.size(), 10u);
  for (const SearchHit& h : out) EXPECT_EQ(h.slot % 50, 0u);
}

TEST(HnswSearch, TombstonedNodesAreNeverReturned) {
  const Params p = SmallParams(16);
  const auto data = RandomVectors(1000, 16, 13);
  auto g = BuildGraph(data, p);
  for (uint32_t i = 0; i < 1000; i += 3) ASSERT_TRUE(g->MarkDeleted(i).ok());
  std::vector<SearchHit> out;
  for (uint32_t q = 0; q < 1000; q += 50) {
    ASSERT_TRUE(Search(*g, p, &data[q * 16], SearchOptions{}, &out).ok());
    EXPECT_EQ(out.size(), 10u);
    for (const SearchHit& h : out) EXPECT_NE(h.slot % 3, 0u);
  }
}

TEST(HnswSearch, RejectsNonFiniteQuery) {
  const Params p = SmallParams(4);
  auto g = BuildGraph(RandomVectors(10, 4, 1), p);
  const float q[4] = {0, NAN, 0, 0};
  std::vector<SearchHit> out;
  EXPECT_TRUE(Search(*g, p, q, SearchOptions{}, &out).IsInvalidArgument());
}

TEST(HnswStore, RejectsBadInput) {
  const Params p = SmallParams(4);
  auto g = InMemoryGraph::Create(p, 4);
  ASSERT_TRUE(g.ok());
  const float v[4] = {1, 2, 3, 4};
  const float bad[4] = {1, INFINITY, 3, 4};
  EXPECT_TRUE((*g)->SetVector(9, v).IsInvalidArgument());
  EXPECT_TRUE((*g)->SetVector(0, bad).IsInvalidArgument());
  EXPECT_TRUE((*g)->AddNode(0, 0).IsInvalidArgument());  // no vector yet
  EXPECT_TRUE(Insert(**g, p, 9).IsInvalidArgument());
  ASSERT_TRUE((*g)->SetVector(0, v).ok());
  ASSERT_TRUE(Insert(**g, p, 0).ok());
  EXPECT_TRUE((*g)->SetVector(0, v).IsInvalidArgument());  // holds a node
  const uint32_t too_many[40] = {};
  EXPECT_TRUE((*g)->SetNeighbors(0, 0, std::span<const uint32_t>(too_many, 40)).IsInvalidArgument());
}

// A reader that returns garbage for some lists, as a torn or corrupted page
// store might: counts above the capacity and ids out of range.
class GarbageReader final : public GraphReader {
 public:
  explicit GarbageReader(const InMemoryGraph& g) : g_(g) {}
  bool HasEntryPoint() const override { return g_.HasEntryPoint(); }
  uint32_t EntryPoint() const override { return g_.EntryPoint(); }
  int MaxLevel() const override { return g_.MaxLevel(); }
  uint32_t SlotLimit() const override { return g_.SlotLimit(); }
  int Level(uint32_t s) const override { return g_.Level(s); }
  uint32_t Neighbors(uint32_t s, int level, uint32_t* out, uint32_t cap) const override {
    if (s % 7 != 3) return g_.Neighbors(s, level, out, cap);
    for (uint32_t i = 0; i < cap; ++i) out[i] = (i % 2) ? 0xFFFFFFF0u + i : s;
    return 0xFFFFFFFFu;
  }
  const float* Vector(uint32_t s) const override { return g_.Vector(s); }
  float InvNorm(uint32_t s) const override { return g_.InvNorm(s); }
  bool IsDeleted(uint32_t s) const override { return g_.IsDeleted(s); }

 private:
  const InMemoryGraph& g_;
};

TEST(HnswSearch, CorruptedListsAreSearchedSafelyAndReported) {
  const Params p = SmallParams(8);
  const auto data = RandomVectors(500, 8, 21);
  auto g = BuildGraph(data, p);
  GarbageReader bad(*g);
  std::vector<SearchHit> out;
  for (uint32_t q = 0; q < 500; q += 25) {
    ASSERT_TRUE(Search(bad, p, &data[q * 8], SearchOptions{}, &out).ok());
    for (const SearchHit& h : out) EXPECT_LT(h.slot, 500u);
  }
  InvariantReport r = CheckInvariants(bad, p);
  EXPECT_FALSE(r.ok());
  EXPECT_GT(r.error_count, 0u);
}

}  // namespace
}  // namespace vdb::hnsw
