// Forward-pass kernels against plain reference formulas, and the thread pool.
#include "engine/embed/kernels.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <vector>

#include "engine/embed/thread_pool.h"

namespace vdb::embed {
namespace {

TEST(KernelsTest, GeluMatchesExactErfFormula) {
  std::vector<float> x;
  for (float v = -9.0f; v <= 9.0f; v += 0.01f) x.push_back(v);
  std::vector<float> bias(x.size(), 0.0f);
  std::vector<float> y = x;
  kernels::AddBiasActivate(y.data(), 1, y.size(), y.size(), bias.data(),
                           kernels::Activation::kGeluErf);
  for (size_t i = 0; i < x.size(); ++i) {
    double ref = 0.5 * x[i] * (1.0 + std::erf(x[i] / std::sqrt(2.0)));
    EXPECT_NEAR(y[i], ref, 2e-6 * std::max(1.0, std::fabs(ref))) << "x = " << x[i];
  }
}

TEST(KernelsTest, SoftmaxSumsToOneAndMatchesReference) {
  std::vector<float> x{1.0f, -2.0f, 3.5f, 0.0f, 10.0f, -30.0f, 2.0f, 2.0f, 4.0f, -1.0f, 0.5f};
  std::vector<float> y = x;
  kernels::ScaledSoftmax(y.data(), y.size(), 0.5f);
  double mx = 10.0 * 0.5, sum = 0;
  for (float v : x) sum += std::exp(v * 0.5 - mx);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_NEAR(y[i], std::exp(x[i] * 0.5 - mx) / sum, 1e-6);
  }
}

TEST(KernelsTest, LayerNormWithResidualAndBias) {
  std::vector<float> x{1, 2, 3, 4}, res{1, 1, 1, 1}, bias{0, 0, 0, 4}, g{1, 1, 2, 1}, b{0, 1, 0, 0};
  kernels::AddResidualLayerNorm(x.data(), res.data(), bias.data(), g.data(), b.data(), 1, 4, 1e-12f);
  // v = {2, 3, 4, 9}: mean 4.5, var 7.25.
  const double sd = std::sqrt(7.25);
  EXPECT_NEAR(x[0], (2 - 4.5) / sd, 1e-5);
  EXPECT_NEAR(x[1], (3 - 4.5) / sd + 1, 1e-5);
  EXPECT_NEAR(x[2], 2 * (4 - 4.5) / sd, 1e-5);
  EXPECT_NEAR(x[3], (9 - 4.5) / sd, 1e-5);
}

TEST(KernelsTest, PackedMatMulMatchesNaiveProductIncludingNarrowLastPanel) {
  const size_t m = 13, n = 41, k = 37;  // n: two full panels and a 9-wide one
  std::vector<float> a(m * k), w(n * k), c(m * n, -1.0f), packed;
  for (size_t i = 0; i < a.size(); ++i) a[i] = std::sin(0.3f * i);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::cos(0.7f * i);
  kernels::PackWeights(w.data(), n, k, &packed);
  ASSERT_EQ(kernels::PackedPanels(n), 3u);
  kernels::PackedMatMul(a.data(), m, k, packed.data(), n, k, 0, 3, c.data(), n);
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      double ref = 0;
      for (size_t kk = 0; kk < k; ++kk) ref += static_cast<double>(a[i * k + kk]) * w[j * k + kk];
      EXPECT_NEAR(c[i * n + j], ref, 1e-4) << i << "," << j;
    }
  }
}

TEST(KernelsTest, PackedMatMulWritesOnlyItsPanels) {
  const size_t m = 2, n = 32, k = 4;
  std::vector<float> a(m * k, 1.0f), w(n * k, 1.0f), c(m * n, -1.0f), packed;
  kernels::PackWeights(w.data(), n, k, &packed);
  kernels::PackedMatMul(a.data(), m, k, packed.data(), n, k, 1, 2, c.data(), n);
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) EXPECT_EQ(c[i * n + j], j < 16 ? -1.0f : 4.0f);
  }
}

TEST(ThreadPoolTest, RunsEveryPartExactlyOnce) {
  ThreadPool pool(2);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::atomic<int>> hits(37);
    pool.ParallelFor(hits.size(), [&](size_t p, size_t n) {
      EXPECT_EQ(n, hits.size());
      hits[p].fetch_add(1);
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
}

TEST(ThreadPoolTest, PartRangesCoverWithoutOverlap) {
  size_t next = 0;
  for (size_t p = 0; p < 7; ++p) {
    auto [b, e] = PartRange(100, p, 7);
    EXPECT_EQ(b, next);
    next = e;
  }
  EXPECT_EQ(next, 100u);
}

}  // namespace
}  // namespace vdb::embed
