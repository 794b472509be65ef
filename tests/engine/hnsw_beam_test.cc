// SearchLayerBeam (the heap-free layer-0 search of queries that accept every
// node) against the heap SearchLayer, and the search loop's helpers.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "engine/hnsw/hnsw.h"
#include "engine/hnsw/memory_graph.h"
#include "engine/hnsw/search_layer.h"

namespace vdb::hnsw::internal {
namespace {

constexpr uint32_t kDim = 16;
constexpr uint32_t kN = 2000;

struct Fixture {
  Params p;
  std::vector<float> base;
  std::unique_ptr<InMemoryGraph> g;
};

// Random vectors (continuous, so distances do not tie) in a built graph.
Fixture Build(Metric metric) {
  Fixture f;
  f.p.dim = kDim;
  f.p.m = 8;
  f.p.ef_construction = 64;
  f.p.metric = metric;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  f.base.resize(size_t{kN} * kDim);
  for (float& x : f.base) x = nd(rng);
  auto g = InMemoryGraph::Create(f.p, kN);
  EXPECT_TRUE(g.ok());
  f.g = std::move(*g);
  for (uint32_t i = 0; i < kN; ++i) EXPECT_TRUE(f.g->SetVector(i, &f.base[size_t{i} * kDim]).ok());
  std::vector<uint32_t> slots(kN);
  std::iota(slots.begin(), slots.end(), 0u);
  EXPECT_TRUE(ParallelBuild(*f.g, f.p, slots, 1).ok());
  return f;
}

// Layer-0 search from the greedy descent's node: the heap version's sorted
// results and the beam's entries.
void BothSearches(const Fixture& f, const float* q, uint32_t ef, std::vector<Cand>* heap,
                  std::vector<Cand>* beam) {
  const InMemoryGraph& g = *f.g;
  Scratch& s = ThreadScratch();
  s.Reserve(f.p.MaxDegree0());
  const uint32_t ep = g.EntryPoint();
  WithQuery(f.p, q, 1.0f / std::sqrt(kernels::NormSqr(q, kDim)), [&](const auto& qd) {
    Cand cur{qd(g, ep, g.Vector(ep)), ep};
    cur = GreedyDescend(g, f.p, qd, cur, g.MaxLevel(), 0, nullptr, s);
    s.visited.Begin(g.SlotLimit());
    s.visited.TestAndSet(cur.slot);
    s.candidates.assign(1, cur);
    s.results.assign(1, cur);
    SearchLayer(g, f.p, qd, ef, 0, nullptr, s, [](uint32_t) { return true; });
    heap->assign(s.results.begin(), s.results.end());
    std::sort(heap->begin(), heap->end(), CloserThan);

    s.visited.Begin(g.SlotLimit());
    s.visited.TestAndSet(cur.slot);
    const uint32_t n = SearchLayerBeam(g, f.p, qd, ef, cur, s);
    beam->assign(s.beam.begin(), s.beam.begin() + n);
  });
}

void ExpectSameResults(Metric metric) {
  const Fixture f = Build(metric);
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  std::vector<float> q(kDim);
  for (uint32_t ef : {1u, 2u, 10u, 13u, 40u, Scratch::kMaxBeam}) {
    for (int t = 0; t < 20; ++t) {
      for (float& x : q) x = nd(rng);
      std::vector<Cand> heap, beam;
      BothSearches(f, q.data(), ef, &heap, &beam);
      ASSERT_EQ(heap.size(), beam.size()) << "ef " << ef;
      for (size_t i = 0; i < heap.size(); ++i) {
        EXPECT_EQ(heap[i].slot, beam[i].slot) << "ef " << ef << " rank " << i;
        EXPECT_EQ(heap[i].dist, beam[i].dist) << "ef " << ef << " rank " << i;
      }
    }
  }
}

TEST(SearchLayerBeamTest, FindsWhatTheHeapSearchFindsL2) { ExpectSameResults(Metric::kL2); }
TEST(SearchLayerBeamTest, FindsWhatTheHeapSearchFindsCosine) { ExpectSameResults(Metric::kCosine); }
TEST(SearchLayerBeamTest, FindsWhatTheHeapSearchFindsDot) { ExpectSameResults(Metric::kDot); }

TEST(SearchLayerBeamTest, HoldsEfEntriesSortedClosestFirst) {
  const Fixture f = Build(Metric::kL2);
  std::vector<Cand> heap, beam;
  BothSearches(f, &f.base[5 * kDim], 30, &heap, &beam);
  ASSERT_EQ(beam.size(), 30u);
  EXPECT_EQ(beam[0].slot, 5u);  // the query is a stored vector
  EXPECT_EQ(beam[0].dist, 0.0f);
  for (size_t i = 1; i < beam.size(); ++i) EXPECT_TRUE(CloserThan(beam[i - 1], beam[i])) << i;
}

// Rows whose distance is NaN (a stored vector with NaN) sort last as +inf,
// for every group size.
TEST(DistanceGroupTest, MapsNaNToInfinityForEveryGroupSize) {
  Params p;
  p.dim = 4;
  auto g = InMemoryGraph::Create(p, 4);  // only passed through (L2 reads no node)
  ASSERT_TRUE(g.ok());
  const float q[4] = {1, 2, 3, 4};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float good[4] = {1, 2, 3, 5};
  const float bad[4] = {1, nan, 3, 4};
  for (uint32_t count = 1; count <= 4; ++count) {
    const float* vecs[4] = {bad, good, bad, good};
    if (count == 3) vecs[2] = bad;
    const uint32_t ids[4] = {0, 1, 2, 3};
    float out[4];
    WithQuery(p, q, 1.0f, [&](const auto& qd) {
      DistanceGroup(**g, qd, ids, vecs, count, out);
    });
    EXPECT_EQ(out[0], kInf) << count;
    if (count >= 2) {
      EXPECT_EQ(out[1], 1.0f) << count;
    }
    if (count >= 3) {
      EXPECT_EQ(out[2], kInf) << count;
    }
    if (count >= 4) {
      EXPECT_EQ(out[3], 1.0f) << count;
    }
  }
}

// Every word set, then more marks in set words: TestAndSet records a word
// only once (its spare touched_ entry is written but not counted).
TEST(VisitedSetBookkeepingTest, MarksInSetWordsAfterAllWordsAreSet) {
  VisitedSet v;
  v.Begin(256);
  for (uint32_t s = 0; s < 256; s += 64) EXPECT_FALSE(v.TestAndSet(s));
  for (uint32_t s = 1; s < 256; ++s) {
    if (s % 64 != 0) {
      EXPECT_FALSE(v.TestAndSet(s)) << s;
    }
  }
  for (uint32_t s = 0; s < 256; ++s) EXPECT_TRUE(v.Test(s)) << s;
  v.Begin(256);
  for (uint32_t s = 0; s < 256; ++s) ASSERT_FALSE(v.Test(s)) << s;
}

}  // namespace
}  // namespace vdb::hnsw::internal
