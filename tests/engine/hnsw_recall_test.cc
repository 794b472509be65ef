// Recall@10 of the HNSW graph at the default ef on the shared datasets.

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "engine/dataset.h"
#include "engine/hnsw/hnsw.h"
#include "engine/hnsw/memory_graph.h"
#include "engine/kernels/exact_search.h"

namespace vdb::hnsw {
namespace {

const std::string kShared = VDB_SHARED_DIR;

struct Data {
  uint32_t dim = 0;
  std::vector<float> base;     // n x dim
  std::vector<float> queries;  // q x dim
  std::vector<std::vector<uint32_t>> truth;  // per query, nearest first
  size_t n() const { return base.size() / dim; }
  size_t q() const { return queries.size() / dim; }
};

// Exact top-k with the shared kernels (the oracle of the recall tests).
std::vector<std::vector<uint32_t>> ExactTruth(const Data& d, Metric metric, size_t k) {
  kernels::VectorBlock block;
  block.base = d.base.data();
  block.count = static_cast<uint32_t>(d.n());
  block.stride_bytes = d.dim * sizeof(float);
  const kernels::ScanMetric m = metric == Metric::kL2       ? kernels::ScanMetric::kL2
                                : metric == Metric::kCosine ? kernels::ScanMetric::kCosine
                                                            : kernels::ScanMetric::kDot;
  std::vector<std::vector<uint32_t>> truth(d.q());
  for (size_t i = 0; i < d.q(); ++i) {
    auto hits = kernels::ExactTopK({&block, 1}, d.queries.data() + i * d.dim, d.dim, m, k, 2, nullptr);
    for (const auto& h : hits) truth[i].push_back(h.slot);
  }
  return truth;
}

Data LoadSiftsmall() {
  Data d;
  auto base = dataset::LoadVecsAsFloat(kShared + "/datasets/siftsmall/siftsmall_base.fvecs");
  auto query = dataset::LoadVecsAsFloat(kShared + "/datasets/siftsmall/siftsmall_query.fvecs");
  auto gt = dataset::LoadIvecs(kShared + "/datasets/siftsmall/siftsmall_groundtruth.ivecs");
  EXPECT_TRUE(base.ok() && query.ok() && gt.ok());
  if (!base.ok() || !query.ok() || !gt.ok()) return d;
  d.dim = static_cast<uint32_t>(base->dim);
  d.base = std::move(base->data);
  d.queries = std::move(query->data);
  for (size_t i = 0; i < gt->rows; ++i) {
    d.truth.emplace_back(gt->row(i), gt->row(i) + 10);
  }
  return d;
}

// The first n base vectors and first q queries of fashion-mnist; truth by
// exact search over that subset.
Data LoadFashion(size_t n, size_t q) {
  Data d;
  auto base = dataset::LoadVecsAsFloat(kShared + "/datasets/fashion-mnist/fashion-mnist-784_base.bvecs");
  auto query = dataset::LoadVecsAsFloat(kShared + "/datasets/fashion-mnist/fashion-mnist-784_query.bvecs");
  EXPECT_TRUE(base.ok() && query.ok());
  if (!base.ok() || !query.ok()) return d;
  d.dim = static_cast<uint32_t>(base->dim);
  d.base.assign(base->data.begin(), base->data.begin() + n * d.dim);
  d.queries.assign(query->data.begin(), query->data.begin() + q * d.dim);
  d.truth = ExactTruth(d, Metric::kL2, 10);
  return d;
}

// sap-fiori-minilm: 778 x 384 float32 row-major. Queries: every 8th vector,
// perturbed so that the query is not itself a base vector.
Data LoadMiniLm() {
  Data d;
  d.dim = 384;
  std::FILE* f = std::fopen((kShared + "/datasets/sap-fiori-minilm/embeddings.bin").c_str(), "rb");
  EXPECT_NE(f, nullptr);
  if (f == nullptr) return d;
  d.base.resize(778 * 384);
  const size_t got = std::fread(d.base.data(), sizeof(float), d.base.size(), f);
  std::fclose(f);
  EXPECT_EQ(got, d.base.size());
  for (size_t i = 0; i < 778; i += 8) {
    for (size_t j = 0; j < 384; ++j) {
      const float noise = 0.02f * static_cast<float>(((i * 384 + j) * 2654435761u) % 1000) / 1000.0f;
      d.queries.push_back(d.base[i * 384 + j] + noise - 0.01f);
    }
  }
  d.truth = ExactTruth(d, Metric::kCosine, 10);
  return d;
}

std::unique_ptr<InMemoryGraph> Build(const Data& d, const Params& p, int threads) {
  auto g = InMemoryGraph::Create(p, static_cast<uint32_t>(d.n()));
  EXPECT_TRUE(g.ok()) << g.status().message();
  if (!g.ok()) return nullptr;
  std::vector<uint32_t> slots(d.n());
  std::iota(slots.begin(), slots.end(), 0u);
  for (uint32_t i : slots) EXPECT_TRUE((*g)->SetVector(i, d.base.data() + size_t{i} * d.dim).ok());
  Status st = ParallelBuild(**g, p, slots, threads);
  EXPECT_TRUE(st.ok()) << st.message();
  return std::move(*g);
}

double Recall(const GraphReader& g, const Params& p, const Data& d, uint32_t ef) {
  size_t hit = 0;
  std::vector<SearchHit> out;
  SearchOptions opt;
  opt.k = 10;
  opt.ef = ef;
  for (size_t i = 0; i < d.q(); ++i) {
    EXPECT_TRUE(Search(g, p, d.queries.data() + i * d.dim, opt, &out).ok());
    for (const SearchHit& h : out) {
      for (size_t j = 0; j < 10 && j < d.truth[i].size(); ++j) hit += d.truth[i][j] == h.slot;
    }
  }
  return static_cast<double>(hit) / (10.0 * d.q());
}

void ExpectInvariants(const GraphReader& g, const Params& p) {
  InvariantReport r = CheckInvariants(g, p);
  EXPECT_TRUE(r.ok()) << r.error_count << " errors, first: " << (r.errors.empty() ? "" : r.errors[0]);
  EXPECT_EQ(r.unreachable, 0u);
}

TEST(HnswRecall, SiftsmallAtDefaultEf) {
  Data d = LoadSiftsmall();
  ASSERT_EQ(d.n(), 10000u);
  Params p;
  p.dim = d.dim;
  auto g = Build(d, p, 1);
  ASSERT_NE(g, nullptr);
  ExpectInvariants(*g, p);
  const double recall = Recall(*g, p, d, 0);
  EXPECT_GE(recall, 0.95);
  std::printf("siftsmall recall@10 (ef %u) = %.4f\n", p.ef_search, recall);
}

TEST(HnswRecall, SiftsmallParallelBuild) {
  Data d = LoadSiftsmall();
  ASSERT_EQ(d.n(), 10000u);
  Params p;
  p.dim = d.dim;
  auto g = Build(d, p, 2);
  ASSERT_NE(g, nullptr);
  ExpectInvariants(*g, p);
  const double recall = Recall(*g, p, d, 0);
  EXPECT_GE(recall, 0.95);
  std::printf("siftsmall parallel recall@10 (ef %u) = %.4f\n", p.ef_search, recall);
}

TEST(HnswRecall, FashionMnist20kAtDefaultEf) {
  Data d = LoadFashion(20000, 200);
  ASSERT_EQ(d.n(), 20000u);
  Params p;
  p.dim = d.dim;
  auto g = Build(d, p, 2);
  ASSERT_NE(g, nullptr);
  ExpectInvariants(*g, p);
  const double recall = Recall(*g, p, d, 0);
  EXPECT_GE(recall, 0.95);
  std::printf("fashion-mnist 20k recall@10 (ef %u) = %.4f\n", p.ef_search, recall);
}

TEST(HnswRecall, MiniLmCosineAtDefaultEf) {
  Data d = LoadMiniLm();
  ASSERT_EQ(d.n(), 778u);
  Params p;
  p.dim = d.dim;
  p.metric = Metric::kCosine;
  auto g = Build(d, p, 1);
  ASSERT_NE(g, nullptr);
  ExpectInvariants(*g, p);
  const double recall = Recall(*g, p, d, 0);
  EXPECT_GE(recall, 0.95);
  std::printf("sap-fiori-minilm recall@10 (ef %u) = %.4f\n", p.ef_search, recall);
}

TEST(HnswRecall, MiniLmCosineScoresAreSimilarities) {
  Data d = LoadMiniLm();
  ASSERT_EQ(d.n(), 778u);
  Params p;
  p.dim = d.dim;
  p.metric = Metric::kCosine;
  auto g = Build(d, p, 1);
  ASSERT_NE(g, nullptr);
  std::vector<SearchHit> out;
  SearchOptions opt;
  opt.k = 5;
  // A base vector finds itself first with similarity ~1, scores descending.
  ASSERT_TRUE(Search(*g, p, d.base.data() + 40 * d.dim, opt, &out).ok());
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].slot, 40u);
  EXPECT_NEAR(out[0].score, 1.0f, 1e-4);
  for (size_t i = 1; i < out.size(); ++i) EXPECT_GE(out[i - 1].score, out[i].score);
}

}  // namespace
}  // namespace vdb::hnsw
