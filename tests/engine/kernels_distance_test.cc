#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "engine/kernels/distance.h"

namespace vdb::kernels {
namespace {

std::vector<float> RandomVector(size_t n, std::mt19937* rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(*rng);
  return v;
}

// Accumulation order differs between the SIMD and scalar paths; allow for it.
void ExpectClose(float got, float want, size_t dim) {
  EXPECT_NEAR(got, want, 1e-5f * (1.0f + std::fabs(want)) * std::sqrt(static_cast<float>(dim))) << "dim " << dim;
}

TEST(KernelsDistanceTest, L2SqrMatchesScalarForEveryDimUpTo1000) {
  std::mt19937 rng(1);
  for (size_t dim = 1; dim <= 1000; ++dim) {
    const std::vector<float> a = RandomVector(dim, &rng), b = RandomVector(dim, &rng);
    ExpectClose(L2Sqr(a.data(), b.data(), dim), L2SqrScalar(a.data(), b.data(), dim), dim);
  }
}

TEST(KernelsDistanceTest, DotMatchesScalarForEveryDimUpTo1000) {
  std::mt19937 rng(2);
  for (size_t dim = 1; dim <= 1000; ++dim) {
    const std::vector<float> a = RandomVector(dim, &rng), b = RandomVector(dim, &rng);
    ExpectClose(Dot(a.data(), b.data(), dim), DotScalar(a.data(), b.data(), dim), dim);
  }
}

TEST(KernelsDistanceTest, NormSqrMatchesScalarForEveryDimUpTo1000) {
  std::mt19937 rng(3);
  for (size_t dim = 1; dim <= 1000; ++dim) {
    const std::vector<float> a = RandomVector(dim, &rng);
    ExpectClose(NormSqr(a.data(), dim), NormSqrScalar(a.data(), dim), dim);
  }
}

TEST(KernelsDistanceTest, ScalarOracleIsExactOnSmallIntegers) {
  const float a[5] = {1, 2, 3, 4, 5};
  const float b[5] = {5, 4, 3, 2, 1};
  EXPECT_EQ(L2SqrScalar(a, b, 5), 40.0f);
  EXPECT_EQ(DotScalar(a, b, 5), 35.0f);
  EXPECT_EQ(NormSqrScalar(a, 5), 55.0f);
}

TEST(KernelsDistanceTest, KernelsAreExactOnSmallIntegers) {
  for (size_t dim : {1u, 7u, 8u, 9u, 31u, 32u, 33u, 100u, 784u}) {
    std::vector<float> a(dim), b(dim);
    for (size_t i = 0; i < dim; ++i) {
      a[i] = static_cast<float>(i % 7) - 3.0f;
      b[i] = static_cast<float>(i % 5) - 2.0f;
    }
    EXPECT_EQ(L2Sqr(a.data(), b.data(), dim), L2SqrScalar(a.data(), b.data(), dim)) << dim;
    EXPECT_EQ(Dot(a.data(), b.data(), dim), DotScalar(a.data(), b.data(), dim)) << dim;
    EXPECT_EQ(NormSqr(a.data(), dim), NormSqrScalar(a.data(), dim)) << dim;
  }
}

TEST(KernelsDistanceTest, UnalignedInputsGiveTheSameResults) {
  std::mt19937 rng(4);
  for (size_t dim : {5u, 17u, 128u, 385u}) {
    std::vector<float> a = RandomVector(dim + 1, &rng), b = RandomVector(dim + 1, &rng);
    std::vector<float> a0(a.begin() + 1, a.end()), b0(b.begin() + 1, b.end());
    EXPECT_EQ(L2Sqr(a.data() + 1, b.data() + 1, dim), L2Sqr(a0.data(), b0.data(), dim));
    EXPECT_EQ(Dot(a.data() + 1, b.data() + 1, dim), Dot(a0.data(), b0.data(), dim));
  }
}

TEST(KernelsDistanceTest, TailDoesNotReadPastTheEnd) {
  // The vectors end exactly at a page boundary followed by an inaccessible
  // page would be the strict check; here the tail values must simply count.
  std::vector<float> a(13, 1.0f), b(13, 0.0f);
  a[12] = 10.0f;
  EXPECT_EQ(L2Sqr(a.data(), b.data(), 13), 12.0f + 100.0f);
  EXPECT_EQ(NormSqr(a.data(), 13), 112.0f);
}

TEST(KernelsDistanceTest, ResolvedFunctionsMatchTheDispatchedCalls) {
  std::mt19937 rng(6);
  const std::vector<float> a = RandomVector(301, &rng), b = RandomVector(301, &rng);
  EXPECT_EQ(L2SqrFn()(a.data(), b.data(), 301), L2Sqr(a.data(), b.data(), 301));
  EXPECT_EQ(DotFn()(a.data(), b.data(), 301), Dot(a.data(), b.data(), 301));
}

TEST(KernelsDistanceTest, ZeroDimIsZero) {
  const float a[1] = {1.0f};
  EXPECT_EQ(L2Sqr(a, a, 0), 0.0f);
  EXPECT_EQ(Dot(a, a, 0), 0.0f);
  EXPECT_EQ(NormSqr(a, 0), 0.0f);
}

// Four rows of random vectors of `dim` and a query.
struct FourRows {
  std::vector<float> q, r[4];
  const float* rows[4];
  FourRows(size_t dim, std::mt19937* rng) : q(RandomVector(dim, rng)) {
    for (int k = 0; k < 4; ++k) {
      r[k] = RandomVector(dim, rng);
      rows[k] = r[k].data();
    }
  }
};

TEST(KernelsDistanceTest, FourRowKernelsMatchTheOneRowKernelsForEveryDimUpTo400) {
  std::mt19937 rng(11);
  for (size_t dim = 1; dim <= 400; ++dim) {
    const FourRows f(dim, &rng);
    float l2[4], dot[4];
    L2Sqr4Fn()(f.q.data(), f.rows, dim, l2);
    Dot4Fn()(f.q.data(), f.rows, dim, dot);
    for (int k = 0; k < 4; ++k) {
      ExpectClose(l2[k], L2SqrScalar(f.q.data(), f.rows[k], dim), dim);
      ExpectClose(dot[k], DotScalar(f.q.data(), f.rows[k], dim), dim);
    }
  }
}

TEST(KernelsDistanceTest, KernelNameIsKnown) {
  const std::string name = KernelName();
  EXPECT_TRUE(name == "avx2-fma" || name == "scalar") << name;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && std::getenv("VDB_FORCE_SCALAR") == nullptr) {
    EXPECT_EQ(name, "avx2-fma");
  }
}

// Runs in a child process started by ForceScalarEnvSelectsScalarPath.
TEST(KernelsDistanceTest, ChildReportsScalarWhenForced) {
  const char* force = std::getenv("VDB_FORCE_SCALAR");
  if (force == nullptr || std::strcmp(force, "1") != 0) GTEST_SKIP() << "only meaningful with VDB_FORCE_SCALAR=1";
  EXPECT_STREQ(KernelName(), "scalar");
  std::mt19937 rng(5);
  const std::vector<float> a = RandomVector(77, &rng), b = RandomVector(77, &rng);
  EXPECT_EQ(L2Sqr(a.data(), b.data(), 77), L2SqrScalar(a.data(), b.data(), 77));
  EXPECT_EQ(Dot(a.data(), b.data(), 77), DotScalar(a.data(), b.data(), 77));
}

TEST(KernelsDistanceTest, ForceScalarEnvSelectsScalarPath) {
  const std::string cmd =
      "VDB_FORCE_SCALAR=1 /proc/" + std::to_string(getpid()) +
      "/exe --gtest_filter=KernelsDistanceTest.ChildReportsScalarWhenForced --gtest_brief=1 > /dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

}  // namespace
}  // namespace vdb::kernels
