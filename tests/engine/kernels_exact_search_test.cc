#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/dataset.h"
#include "engine/kernels/distance.h"
#include "engine/kernels/exact_search.h"

namespace vdb::kernels {
namespace {

using Filter = std::function<bool(uint32_t)>;

// Vectors stored like the vector region: fixed stride (with padding that
// holds garbage), split into blocks with their own first slots.
struct Store {
  size_t dim = 0;
  size_t stride_floats = 0;
  std::vector<float> data;
  std::vector<uint8_t> live;
  std::vector<float> inv_norms;
  std::vector<VectorBlock> blocks;

  const float* Row(size_t i) const { return data.data() + i * stride_floats; }
};

// n vectors; small integers make every l2 / dot score exact in float, so
// results can be compared exactly, ties included.
Store MakeStore(size_t n, size_t dim, bool integers, uint32_t seed, std::vector<size_t> block_sizes = {}) {
  Store s;
  s.dim = dim;
  s.stride_floats = dim + 3;
  s.data.assign(n * s.stride_floats, std::numeric_limits<float>::quiet_NaN());
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> small(-3, 3);
  std::uniform_real_distribution<float> real(-1.0f, 1.0f);
  for (size_t i = 0; i < n; ++i) {
    for (size_t d = 0; d < dim; ++d) {
      s.data[i * s.stride_floats + d] = integers ? static_cast<float>(small(rng)) : real(rng);
    }
  }
  s.live.assign(n, 1);
  s.inv_norms.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const double norm = std::sqrt(NormSqrScalar(s.Row(i), dim));
    s.inv_norms[i] = norm > 0 ? static_cast<float>(1.0 / norm) : 0.0f;
  }
  if (block_sizes.empty()) block_sizes = {n};
  size_t at = 0;
  for (size_t size : block_sizes) {
    VectorBlock b;
    b.base = s.data.data() + at * s.stride_floats;
    b.first_slot = static_cast<uint32_t>(at);
    b.count = static_cast<uint32_t>(size);
    b.stride_bytes = s.stride_floats * sizeof(float);
    s.blocks.push_back(b);
    at += size;
  }
  return s;
}

void UseLiveMask(Store* s) {
  for (VectorBlock& b : s->blocks) b.live = s->live.data() + b.first_slot;
}
void UseInvNorms(Store* s) {
  for (VectorBlock& b : s->blocks) b.inv_norms = s->inv_norms.data() + b.first_slot;
}

// Score in double, the way the API defines it.
double RefScore(const Store& s, const float* q, size_t i, ScanMetric m) {
  const float* v = s.Row(i);
  double dot = 0, l2 = 0, qq = 0, vv = 0;
  for (size_t d = 0; d < s.dim; ++d) {
    dot += double{q[d]} * v[d];
    l2 += (double{q[d]} - v[d]) * (double{q[d]} - v[d]);
    qq += double{q[d]} * q[d];
    vv += double{v[d]} * v[d];
  }
  if (m == ScanMetric::kL2) return l2;
  if (m == ScanMetric::kDot) return dot;
  return (qq > 0 && vv > 0) ? dot / std::sqrt(qq * vv) : 0.0;
}

std::vector<ScanHit> NaiveTopK(const Store& s, const float* q, ScanMetric m, size_t k, const Filter* filter) {
  std::vector<std::pair<double, uint32_t>> all;  // (key: lower better, slot)
  for (size_t i = 0; i < s.live.size(); ++i) {
    if (!s.live[i]) continue;
    if (filter != nullptr && !(*filter)(static_cast<uint32_t>(i))) continue;
    const double score = RefScore(s, q, i, m);
    all.push_back({m == ScanMetric::kL2 ? score : -score, static_cast<uint32_t>(i)});
  }
  std::sort(all.begin(), all.end());
  std::vector<ScanHit> out;
  for (size_t i = 0; i < std::min(k, all.size()); ++i) {
    const double key = all[i].first;
    out.push_back({all[i].second, static_cast<float>(m == ScanMetric::kL2 ? key : -key)});
  }
  return out;
}

void ExpectSameExactly(const std::vector<ScanHit>& got, const std::vector<ScanHit>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].slot, want[i].slot) << "rank " << i;
    EXPECT_EQ(got[i].score, want[i].score) << "rank " << i;
  }
}

// For real-valued data: same scores within tolerance at every rank, and the
// same slots wherever neighbouring scores are not within tolerance.
void ExpectSameApprox(const std::vector<ScanHit>& got, const std::vector<ScanHit>& want, float tol = 1e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i].score, want[i].score, tol) << "rank " << i;
    const bool near_tie = (i > 0 && std::fabs(want[i].score - want[i - 1].score) <= 2 * tol) ||
                          (i + 1 < want.size() && std::fabs(want[i].score - want[i + 1].score) <= 2 * tol);
    if (!near_tie) {
      EXPECT_EQ(got[i].slot, want[i].slot) << "rank " << i;
    }
  }
}

std::vector<float> IntegerQuery(size_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> small(-3, 3);
  std::vector<float> q(dim);
  for (float& x : q) x = static_cast<float>(small(rng));
  return q;
}

TEST(KernelsExactSearchTest, L2MatchesNaiveIncludingTies) {
  for (size_t dim : {1u, 3u, 8u, 13u, 64u}) {
    Store s = MakeStore(700, dim, true, 10 + dim, {300, 1, 399});
    const std::vector<float> q = IntegerQuery(dim, 99);
    ExpectSameExactly(ExactTopK(s.blocks, q.data(), dim, ScanMetric::kL2, 50, 1, nullptr),
                      NaiveTopK(s, q.data(), ScanMetric::kL2, 50, nullptr));
  }
}

TEST(KernelsExactSearchTest, DotMatchesNaiveIncludingTies) {
  for (size_t dim : {2u, 9u, 31u, 100u}) {
    Store s = MakeStore(650, dim, true, 20 + dim, {64, 586});
    const std::vector<float> q = IntegerQuery(dim, 98);
    ExpectSameExactly(ExactTopK(s.blocks, q.data(), dim, ScanMetric::kDot, 40, 1, nullptr),
                      NaiveTopK(s, q.data(), ScanMetric::kDot, 40, nullptr));
  }
}

TEST(KernelsExactSearchTest, CosineWithStoredInverseNormsMatchesNaive) {
  Store s = MakeStore(900, 37, false, 30, {500, 400});
  UseInvNorms(&s);
  const std::vector<float> q = IntegerQuery(37, 97);
  ExpectSameApprox(ExactTopK(s.blocks, q.data(), 37, ScanMetric::kCosine, 25, 1, nullptr),
                   NaiveTopK(s, q.data(), ScanMetric::kCosine, 25, nullptr));
}

TEST(KernelsExactSearchTest, CosineWithoutStoredNormsMatchesNaive) {
  Store s = MakeStore(900, 50, false, 31, {450, 450});
  const std::vector<float> q = IntegerQuery(50, 96);
  ExpectSameApprox(ExactTopK(s.blocks, q.data(), 50, ScanMetric::kCosine, 25, 1, nullptr),
                   NaiveTopK(s, q.data(), ScanMetric::kCosine, 25, nullptr));
}

TEST(KernelsExactSearchTest, LiveMaskSkipsDeadSlots) {
  Store s = MakeStore(500, 16, true, 40, {200, 300});
  for (size_t i = 0; i < s.live.size(); ++i) s.live[i] = (i % 3 != 0);
  UseLiveMask(&s);
  const std::vector<float> q = IntegerQuery(16, 95);
  const std::vector<ScanHit> got = ExactTopK(s.blocks, q.data(), 16, ScanMetric::kL2, 60, 1, nullptr);
  for (const ScanHit& h : got) EXPECT_NE(h.slot % 3, 0u);
  ExpectSameExactly(got, NaiveTopK(s, q.data(), ScanMetric::kL2, 60, nullptr));
}

TEST(KernelsExactSearchTest, FilterIsCalledOnceForEachLiveSlotOnly) {
  Store s = MakeStore(300, 8, true, 41, {100, 200});
  for (size_t i = 0; i < s.live.size(); ++i) s.live[i] = (i % 4 != 1);
  UseLiveMask(&s);
  std::vector<int> calls(300, 0);
  const Filter filter = [&](uint32_t slot) {
    ++calls.at(slot);
    return slot % 2 == 0;
  };
  const std::vector<float> q = IntegerQuery(8, 94);
  const std::vector<ScanHit> got = ExactTopK(s.blocks, q.data(), 8, ScanMetric::kDot, 30, 1, &filter);
  for (size_t i = 0; i < calls.size(); ++i) EXPECT_EQ(calls[i], s.live[i] ? 1 : 0) << "slot " << i;
  for (const ScanHit& h : got) EXPECT_EQ(h.slot % 2, 0u);
  const Filter plain = [](uint32_t slot) { return slot % 2 == 0; };
  ExpectSameExactly(got, NaiveTopK(s, q.data(), ScanMetric::kDot, 30, &plain));
}

TEST(KernelsExactSearchTest, ThreadsGiveTheSameResultAsOneThread) {
  // Large enough that three threads get work.
  Store s = MakeStore(50000, 64, true, 42, {17000, 3, 32997});
  for (size_t i = 0; i < s.live.size(); ++i) s.live[i] = (i % 7 != 0);
  UseLiveMask(&s);
  const std::vector<float> q = IntegerQuery(64, 93);
  std::mutex mu;
  const Filter filter = [&](uint32_t slot) {
    std::lock_guard<std::mutex> lock(mu);
    return slot % 5 != 0;
  };
  const std::vector<ScanHit> one = ExactTopK(s.blocks, q.data(), 64, ScanMetric::kL2, 100, 1, &filter);
  for (int threads : {2, 3, 0}) {
    ExpectSameExactly(ExactTopK(s.blocks, q.data(), 64, ScanMetric::kL2, 100, threads, &filter), one);
  }
  ExpectSameExactly(one, NaiveTopK(s, q.data(), ScanMetric::kL2, 100, &filter));
}

TEST(KernelsExactSearchTest, KLargerThanLiveCountReturnsEveryLiveVector) {
  Store s = MakeStore(20, 5, true, 43, {12, 8});
  s.live[3] = s.live[15] = 0;
  UseLiveMask(&s);
  const std::vector<float> q = IntegerQuery(5, 92);
  const std::vector<ScanHit> got = ExactTopK(s.blocks, q.data(), 5, ScanMetric::kL2, 1000, 2, nullptr);
  EXPECT_EQ(got.size(), 18u);
  ExpectSameExactly(got, NaiveTopK(s, q.data(), ScanMetric::kL2, 1000, nullptr));
}

TEST(KernelsExactSearchTest, DegenerateInputsGiveEmptyResults) {
  Store s = MakeStore(10, 4, true, 44);
  const std::vector<float> q = IntegerQuery(4, 91);
  EXPECT_TRUE(ExactTopK(s.blocks, q.data(), 4, ScanMetric::kL2, 0, 1, nullptr).empty());
  EXPECT_TRUE(ExactTopK({}, q.data(), 4, ScanMetric::kL2, 5, 1, nullptr).empty());
  EXPECT_TRUE(ExactTopK(s.blocks, nullptr, 4, ScanMetric::kL2, 5, 1, nullptr).empty());
  EXPECT_TRUE(ExactTopK(s.blocks, q.data(), 0, ScanMetric::kL2, 5, 1, nullptr).empty());
  std::vector<VectorBlock> empty_blocks = {VectorBlock{}, VectorBlock{s.data.data(), 0, 0, 16, nullptr, nullptr}};
  EXPECT_TRUE(ExactTopK(empty_blocks, q.data(), 4, ScanMetric::kDot, 5, 1, nullptr).empty());
  const Filter none = [](uint32_t) { return false; };
  EXPECT_TRUE(ExactTopK(s.blocks, q.data(), 4, ScanMetric::kCosine, 5, 1, &none).empty());
  const auto batch = ExactTopKBatch(s.blocks, q.data(), 1, 4, ScanMetric::kL2, 0, 1, nullptr);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_TRUE(batch[0].empty());
}

TEST(KernelsExactSearchTest, NaNScoresRankLastAndNeverCrash) {
  Store s = MakeStore(10, 4, true, 45);
  s.data[2 * s.stride_floats + 1] = std::numeric_limits<float>::quiet_NaN();
  for (ScanMetric m : {ScanMetric::kL2, ScanMetric::kDot, ScanMetric::kCosine}) {
    const std::vector<float> q = IntegerQuery(4, 90);
    const std::vector<ScanHit> got = ExactTopK(s.blocks, q.data(), 4, m, 10, 1, nullptr);
    ASSERT_EQ(got.size(), 10u);
    EXPECT_EQ(got.back().slot, 2u);
    EXPECT_EQ(got.back().score,
              m == ScanMetric::kL2 ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity());
    const auto batch = ExactTopKBatch(s.blocks, q.data(), 1, 4, m, 10, 1, nullptr);
    ASSERT_EQ(batch[0].size(), 10u);
    EXPECT_EQ(batch[0].back().slot, 2u);
  }
}

TEST(KernelsExactSearchTest, ZeroQueryHasCosineZeroWithEverything) {
  Store s = MakeStore(30, 6, false, 46);
  const std::vector<float> q(6, 0.0f);
  const std::vector<ScanHit> got = ExactTopK(s.blocks, q.data(), 6, ScanMetric::kCosine, 3, 1, nullptr);
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].slot, i);
    EXPECT_EQ(got[i].score, 0.0f);
  }
}

TEST(KernelsExactSearchTest, BatchEqualsSingleForEveryMetric) {
  Store s = MakeStore(3000, 24, true, 47, {1500, 1500});
  const size_t nq = 37;
  std::vector<float> queries;
  for (size_t i = 0; i < nq; ++i) {
    const std::vector<float> q = IntegerQuery(24, 200 + i);
    queries.insert(queries.end(), q.begin(), q.end());
  }
  for (ScanMetric m : {ScanMetric::kL2, ScanMetric::kDot}) {
    const auto batch = ExactTopKBatch(s.blocks, queries.data(), nq, 24, m, 20, 1, nullptr);
    ASSERT_EQ(batch.size(), nq);
    for (size_t i = 0; i < nq; ++i) {
      ExpectSameExactly(batch[i], ExactTopK(s.blocks, &queries[i * 24], 24, m, 20, 1, nullptr));
    }
  }
  Store r = MakeStore(3000, 24, false, 48, {1000, 2000});
  const auto batch = ExactTopKBatch(r.blocks, queries.data(), nq, 24, ScanMetric::kCosine, 20, 1, nullptr);
  for (size_t i = 0; i < nq; ++i) {
    ExpectSameApprox(batch[i], ExactTopK(r.blocks, &queries[i * 24], 24, ScanMetric::kCosine, 20, 1, nullptr));
  }
}

TEST(KernelsExactSearchTest, BatchWithLiveMaskFilterAndThreadsEqualsNaive) {
  // Large enough that two threads get work.
  Store s = MakeStore(20000, 16, true, 49, {9500, 100, 10400});
  for (size_t i = 0; i < s.live.size(); ++i) s.live[i] = (i % 9 != 4);
  UseLiveMask(&s);
  std::mutex mu;
  std::vector<int> calls(20000, 0);
  const Filter filter = [&](uint32_t slot) {
    std::lock_guard<std::mutex> lock(mu);
    ++calls.at(slot);
    return slot % 3 != 1;
  };
  const size_t nq = 9;
  std::vector<float> queries;
  for (size_t i = 0; i < nq; ++i) {
    const std::vector<float> q = IntegerQuery(16, 300 + i);
    queries.insert(queries.end(), q.begin(), q.end());
  }
  const auto batch = ExactTopKBatch(s.blocks, queries.data(), nq, 16, ScanMetric::kL2, 15, 2, &filter);
  for (size_t i = 0; i < calls.size(); ++i) EXPECT_EQ(calls[i], s.live[i] ? 1 : 0) << "slot " << i;
  const Filter plain = [](uint32_t slot) { return slot % 3 != 1; };
  for (size_t i = 0; i < nq; ++i) {
    ExpectSameExactly(batch[i], NaiveTopK(s, &queries[i * 16], ScanMetric::kL2, 15, &plain));
  }
}

// Every length through a few vector widths and every position of the bad
// value (the SIMD loop and its masked tail), against std::isfinite.
TEST(KernelsExactSearchTest, AllFiniteFindsABadValueAtAnyPositionAndLength) {
  const float bad[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                       -std::numeric_limits<float>::infinity()};
  for (size_t n = 1; n <= 40; n++) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; i++)
      v[i] = i % 3 == 0 ? std::numeric_limits<float>::max() : (i % 3 == 1 ? -0.0f : std::numeric_limits<float>::denorm_min());
    EXPECT_TRUE(AllFinite(v.data(), n)) << "n=" << n;
    for (size_t at = 0; at < n; at++) {
      for (float b : bad) {
        std::vector<float> w = v;
        w[at] = b;
        EXPECT_FALSE(AllFinite(w.data(), n)) << "n=" << n << " at=" << at << " value=" << b;
        // Values past n are not looked at.
        EXPECT_TRUE(AllFinite(w.data(), at)) << "n=" << at;
      }
    }
  }
}

TEST(KernelsExactSearchTest, AllFiniteRejectsNaNAndInfinity) {
  std::vector<float> v = {1.0f, -2.0f, 0.0f};
  EXPECT_TRUE(AllFinite(v.data(), v.size()));
  EXPECT_TRUE(AllFinite(nullptr, 0));
  v[1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(AllFinite(v.data(), v.size()));
  v[1] = -std::numeric_limits<float>::infinity();
  EXPECT_FALSE(AllFinite(v.data(), v.size()));
}

// The ground truth lists the 100 nearest base rows per query; a returned id may
// differ from it only where both are at the same distance (a tie).
void ExpectMatchesGroundTruth(const dataset::Matrix<float>& base, const float* query, const int32_t* truth,
                              const std::vector<ScanHit>& got, size_t qi) {
  ASSERT_EQ(got.size(), 100u);
  for (size_t r = 0; r < 100; ++r) {
    if (got[r].slot == static_cast<uint32_t>(truth[r])) continue;
    const float want = L2SqrScalar(query, base.row(static_cast<size_t>(truth[r])), base.dim);
    EXPECT_NEAR(got[r].score, want, 1e-3f * (1 + want)) << "query " << qi << " rank " << r;
  }
}

TEST(KernelsExactSearchTest, SiftsmallL2MatchesGroundTruth) {
  const std::string dir = VDB_SHARED_DIR "/datasets/siftsmall/";
  auto base = dataset::LoadVecsAsFloat(dir + "siftsmall_base.fvecs");
  auto queries = dataset::LoadVecsAsFloat(dir + "siftsmall_query.fvecs");
  auto truth = dataset::LoadIvecs(dir + "siftsmall_groundtruth.ivecs");
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  ASSERT_TRUE(queries.ok()) << queries.status().ToString();
  ASSERT_TRUE(truth.ok()) << truth.status().ToString();
  ASSERT_EQ(truth->dim, 100u);
  ASSERT_EQ(truth->rows, queries->rows);
  const VectorBlock block{base->data.data(),         0,       static_cast<uint32_t>(base->rows),
                          base->dim * sizeof(float), nullptr, nullptr};
  const std::span<const VectorBlock> blocks(&block, 1);
  const auto batch =
      ExactTopKBatch(blocks, queries->data.data(), queries->rows, base->dim, ScanMetric::kL2, 100, 1, nullptr);
  for (size_t qi = 0; qi < queries->rows; ++qi) {
    const std::vector<ScanHit> got = ExactTopK(blocks, queries->row(qi), base->dim, ScanMetric::kL2, 100, 1, nullptr);
    ExpectMatchesGroundTruth(*base, queries->row(qi), truth->row(qi), got, qi);
    ExpectMatchesGroundTruth(*base, queries->row(qi), truth->row(qi), batch[qi], qi);
  }
}

// The whole suite again in a child process on the scalar kernels.
TEST(KernelsExactSearchTest, ForcedScalarPathPassesTheSuite) {
  if (std::getenv("VDB_FORCE_SCALAR") != nullptr) GTEST_SKIP() << "already the child";
  const std::string cmd = "VDB_FORCE_SCALAR=1 /proc/" + std::to_string(getpid()) +
                          "/exe --gtest_filter=-*ForcedScalar* --gtest_brief=1 > /dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

}  // namespace
}  // namespace vdb::kernels
