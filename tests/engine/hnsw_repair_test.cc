// Deletes, repair (slot reuse) and re-linking of updated vectors.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "engine/dataset.h"
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

Params SmallParams(uint32_t dim) {
  Params p;
  p.dim = dim;
  p.m = 8;
  p.ef_construction = 64;
  return p;
}

std::unique_ptr<InMemoryGraph> BuildGraph(const std::vector<float>& data, const Params& p) {
  const uint32_t n = static_cast<uint32_t>(data.size() / p.dim);
  auto g = InMemoryGraph::Create(p, n);
  EXPECT_TRUE(g.ok());
  std::vector<uint32_t> slots(n);
  std::iota(slots.begin(), slots.end(), 0u);
  for (uint32_t i = 0; i < n; ++i) EXPECT_TRUE((*g)->SetVector(i, &data[size_t{i} * p.dim]).ok());
  EXPECT_TRUE(ParallelBuild(**g, p, slots, 1).ok());
  return std::move(*g);
}

std::string FirstError(const InvariantReport& r) { return r.errors.empty() ? "" : r.errors[0]; }

TEST(HnswRepair, RemovesTombstonesAndPassesInvariants) {
  const Params p = SmallParams(16);
  auto g = BuildGraph(RandomVectors(2000, 16, 1), p);
  for (uint32_t i = 0; i < 2000; i += 3) ASSERT_TRUE(g->MarkDeleted(i).ok());
  InvariantReport before = CheckInvariants(*g, p);
  EXPECT_TRUE(before.ok()) << FirstError(before);
  EXPECT_EQ(before.deleted, 667u);

  RepairStats stats;
  ASSERT_TRUE(Repair(*g, p, g->DeletedSlots(), &stats).ok());
  EXPECT_EQ(stats.nodes_removed, 667u);
  EXPECT_GT(stats.lists_rewritten, 0u);
  InvariantReport after = CheckInvariants(*g, p);
  EXPECT_TRUE(after.ok()) << FirstError(after);
  EXPECT_EQ(after.nodes, 1333u);
  EXPECT_EQ(after.deleted, 0u);
  for (uint32_t i = 0; i < 2000; i += 3) EXPECT_EQ(g->Level(i), -1);
  EXPECT_EQ(g->FindFreeSlot(), 0u);
}

TEST(HnswRepair, RemovedEntryPointMovesToTopLevelLiveNode) {
  const Params p = SmallParams(8);
  auto g = BuildGraph(RandomVectors(1000, 8, 2), p);
  const uint32_t old_ep = g->EntryPoint();
  ASSERT_TRUE(g->MarkDeleted(old_ep).ok());
  RepairStats stats;
  ASSERT_TRUE(Repair(*g, p, g->DeletedSlots(), &stats).ok());
  EXPECT_TRUE(stats.entry_point_moved);
  EXPECT_NE(g->EntryPoint(), old_ep);
  InvariantReport r = CheckInvariants(*g, p);
  EXPECT_TRUE(r.ok()) << FirstError(r);
}

TEST(HnswRepair, RemovingEveryNodeEmptiesTheGraph) {
  const Params p = SmallParams(8);
  auto g = BuildGraph(RandomVectors(50, 8, 3), p);
  std::vector<uint32_t> all(50);
  std::iota(all.begin(), all.end(), 0u);
  for (uint32_t i : all) ASSERT_TRUE(g->MarkDeleted(i).ok());
  ASSERT_TRUE(Repair(*g, p, all).ok());
  EXPECT_FALSE(g->HasEntryPoint());
  EXPECT_TRUE(CheckInvariants(*g, p).ok());
  // The graph is usable again.
  const auto v = RandomVectors(1, 8, 4);
  ASSERT_TRUE(g->SetVector(10, v.data()).ok());
  ASSERT_TRUE(Insert(*g, p, 10).ok());
  EXPECT_EQ(g->EntryPoint(), 10u);
}

TEST(HnswRepair, IgnoresSlotsWithoutNodes) {
  const Params p = SmallParams(8);
  auto g = BuildGraph(RandomVectors(100, 8, 5), p);
  const uint32_t ids[] = {1000000, 5};
  ASSERT_TRUE(g->MarkDeleted(5).ok());
  RepairStats stats;
  ASSERT_TRUE(Repair(*g, p, ids, &stats).ok());
  EXPECT_EQ(stats.nodes_removed, 1u);
  ASSERT_TRUE(Repair(*g, p, ids, &stats).ok());  // 5 is gone now
  EXPECT_EQ(stats.nodes_removed, 0u);
}

struct Sift {
  uint32_t dim = 0;
  std::vector<float> base, queries;
  std::vector<std::vector<int32_t>> truth;
};

Sift LoadSift() {
  const std::string dir = std::string(VDB_SHARED_DIR) + "/datasets/siftsmall/";
  Sift s;
  auto base = dataset::LoadVecsAsFloat(dir + "siftsmall_base.fvecs");
  auto query = dataset::LoadVecsAsFloat(dir + "siftsmall_query.fvecs");
  auto gt = dataset::LoadIvecs(dir + "siftsmall_groundtruth.ivecs");
  EXPECT_TRUE(base.ok() && query.ok() && gt.ok());
  if (!base.ok() || !query.ok() || !gt.ok()) return s;
  s.dim = static_cast<uint32_t>(base->dim);
  s.base = std::move(base->data);
  s.queries = std::move(query->data);
  for (size_t i = 0; i < gt->rows; ++i) s.truth.emplace_back(gt->row(i), gt->row(i) + 10);
  return s;
}

// Recall@10; slot_to_row maps a slot to the base row whose vector it holds.
double Recall(const GraphReader& g, const Params& p, const Sift& s,
              const std::vector<int32_t>& slot_to_row) {
  size_t hit = 0;
  std::vector<SearchHit> out;
  const size_t nq = s.queries.size() / s.dim;
  for (size_t q = 0; q < nq; ++q) {
    EXPECT_TRUE(Search(g, p, &s.queries[q * s.dim], SearchOptions{}, &out).ok());
    for (const SearchHit& h : out) {
      hit += std::count(s.truth[q].begin(), s.truth[q].end(), slot_to_row[h.slot]);
    }
  }
  return static_cast<double>(hit) / (10.0 * nq);
}

TEST(HnswRepair, DeleteAndReinsertHalfKeepsRecallAndReusesSlots) {
  Sift s = LoadSift();
  ASSERT_EQ(s.base.size(), 10000u * 128);
  Params p;
  p.dim = s.dim;
  const uint32_t n = 10000;
  auto created = InMemoryGraph::Create(p, n);  // no spare slots: reuse is required
  ASSERT_TRUE(created.ok());
  InMemoryGraph& g = **created;
  std::vector<int32_t> slot_to_row(n);
  std::iota(slot_to_row.begin(), slot_to_row.end(), 0);
  std::vector<uint32_t> slots(n);
  std::iota(slots.begin(), slots.end(), 0u);
  for (uint32_t i = 0; i < n; ++i) ASSERT_TRUE(g.SetVector(i, &s.base[size_t{i} * s.dim]).ok());
  ASSERT_TRUE(ParallelBuild(g, p, slots, 2).ok());
  const double fresh = Recall(g, p, s, slot_to_row);

  // Delete a random half, repair, then insert the same rows again.
  std::mt19937 rng(42);
  std::shuffle(slots.begin(), slots.end(), rng);
  std::vector<uint32_t> removed(slots.begin(), slots.begin() + n / 2);
  std::vector<int32_t> rows;
  for (uint32_t slot : removed) {
    ASSERT_TRUE(g.MarkDeleted(slot).ok());
    rows.push_back(slot_to_row[slot]);
  }
  RepairStats stats;
  ASSERT_TRUE(Repair(g, p, removed, &stats).ok());
  EXPECT_EQ(stats.nodes_removed, n / 2);
  InvariantReport mid = CheckInvariants(g, p);
  EXPECT_TRUE(mid.ok()) << FirstError(mid);
  EXPECT_EQ(mid.nodes, n / 2);

  std::vector<uint32_t> reinserted;
  for (int32_t row : rows) {
    const uint32_t slot = g.FindFreeSlot();
    ASSERT_NE(slot, kNoSlot);
    ASSERT_TRUE(g.SetVector(slot, &s.base[size_t(row) * s.dim]).ok());
    slot_to_row[slot] = row;
    reinserted.push_back(slot);
  }
  ASSERT_TRUE(ParallelBuild(g, p, reinserted, 2).ok());
  EXPECT_EQ(g.FindFreeSlot(), kNoSlot);
  InvariantReport end = CheckInvariants(g, p);
  EXPECT_TRUE(end.ok()) << FirstError(end);
  EXPECT_EQ(end.nodes, n);
  const double after = Recall(g, p, s, slot_to_row);
  std::printf("recall@10 fresh %.4f, after delete+repair+reinsert of 50%% %.4f\n", fresh, after);
  EXPECT_GE(after, fresh - 0.01);
}

TEST(HnswRelink, UpdatedVectorIsFoundAtItsNewPlace) {
  const Params p = SmallParams(16);
  auto data = RandomVectors(2000, 16, 8);
  auto g = BuildGraph(data, p);
  // Move slot 100 next to slot 1500.
  std::vector<float> moved(&data[1500 * 16], &data[1500 * 16] + 16);
  for (float& x : moved) x += 1e-3f;
  ASSERT_TRUE(g->UpdateVector(100, moved.data()).ok());
  ASSERT_TRUE(Relink(*g, p, 100).ok());
  InvariantReport r = CheckInvariants(*g, p);
  EXPECT_TRUE(r.ok()) << FirstError(r);
  std::vector<SearchHit> out;
  ASSERT_TRUE(Search(*g, p, moved.data(), SearchOptions{}, &out).ok());
  ASSERT_GE(out.size(), 2u);
  EXPECT_EQ(out[0].slot, 100u);
  EXPECT_EQ(out[1].slot, 1500u);
  // Its old neighbourhood no longer returns it first.
  ASSERT_TRUE(Search(*g, p, &data[100 * 16], SearchOptions{}, &out).ok());
  ASSERT_FALSE(out.empty());
  EXPECT_NE(out[0].slot, 100u);
}

TEST(HnswRelink, RelinkingTheEntryPointKeepsTheGraphValid) {
  const Params p = SmallParams(8);
  auto data = RandomVectors(500, 8, 9);
  auto g = BuildGraph(data, p);
  const uint32_t ep = g->EntryPoint();
  const auto v = RandomVectors(1, 8, 10);
  ASSERT_TRUE(g->UpdateVector(ep, v.data()).ok());
  ASSERT_TRUE(Relink(*g, p, ep).ok());
  EXPECT_TRUE(CheckInvariants(*g, p).ok());
  std::vector<SearchHit> out;
  ASSERT_TRUE(Search(*g, p, v.data(), SearchOptions{}, &out).ok());
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0].slot, ep);
}

}  // namespace
}  // namespace vdb::hnsw
