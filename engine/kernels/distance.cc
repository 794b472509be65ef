#include "engine/kernels/distance.h"

#include <immintrin.h>

#include <cstdlib>
#include <cstring>

#include "engine/kernels/simd.h"

namespace vdb::kernels {

float L2SqrScalar(const float* a, const float* b, size_t dim) {
  float sum = 0.0f;
  for (size_t i = 0; i < dim; ++i) {
    const float d = a[i] - b[i];
    sum += d * d;
  }
  return sum;
}

float DotScalar(const float* a, const float* b, size_t dim) {
  float sum = 0.0f;
  for (size_t i = 0; i < dim; ++i) sum += a[i] * b[i];
  return sum;
}

float NormSqrScalar(const float* a, size_t dim) {
  float sum = 0.0f;
  for (size_t i = 0; i < dim; ++i) sum += a[i] * a[i];
  return sum;
}

void L2Sqr4Scalar(const float* q, const float* const* v, size_t dim, float* out) {
  for (int i = 0; i < 4; ++i) out[i] = L2SqrScalar(q, v[i], dim);
}

void Dot4Scalar(const float* q, const float* const* v, size_t dim, float* out) {
  for (int i = 0; i < 4; ++i) out[i] = DotScalar(q, v[i], dim);
}

namespace simd {

// The four-row kernels share one loop; Lane is the per-lane step
// (acc + (v - q)^2 for L2, acc + v * q for dot).
struct L2Lane {
  // q - v (not v - q, the same square): the row is subtrahend, so its load
  // folds into the subtraction.
  VDB_TARGET_AVX2 static __m256 Step(__m256 v, __m256 q, __m256 acc) {
    const __m256 d = _mm256_sub_ps(q, v);
    return _mm256_fmadd_ps(d, d, acc);
  }
};
struct DotLane {
  VDB_TARGET_AVX2 static __m256 Step(__m256 v, __m256 q, __m256 acc) { return _mm256_fmadd_ps(v, q, acc); }
};

// The four sums {HorizontalSum(r0), .., HorizontalSum(r3)} in one register,
// added in exactly HorizontalSum's order (so bit-identical to it).
VDB_TARGET_AVX2 inline __m128 Sum4(__m256 r0, __m256 r1, __m256 r2, __m256 r3) {
  const __m128 x0 = _mm_add_ps(_mm256_castps256_ps128(r0), _mm256_extractf128_ps(r0, 1));
  const __m128 x1 = _mm_add_ps(_mm256_castps256_ps128(r1), _mm256_extractf128_ps(r1, 1));
  const __m128 x2 = _mm_add_ps(_mm256_castps256_ps128(r2), _mm256_extractf128_ps(r2, 1));
  const __m128 x3 = _mm_add_ps(_mm256_castps256_ps128(r3), _mm256_extractf128_ps(r3, 1));
  // {x0[0]+x0[2], x0[1]+x0[3], x1[0]+x1[2], x1[1]+x1[3]}, likewise for rows 2, 3.
  const __m128 p01 = _mm_add_ps(_mm_movelh_ps(x0, x1), _mm_movehl_ps(x1, x0));
  const __m128 p23 = _mm_add_ps(_mm_movelh_ps(x2, x3), _mm_movehl_ps(x3, x2));
  return _mm_hadd_ps(p01, p23);
}

// Four rows, two accumulators each (eight independent FMA chains).
template <typename Lane>
VDB_TARGET_AVX2 inline void FourRows(const float* q, const float* const* v, size_t dim, float* out) {
  const float* v0 = v[0];
  const float* v1 = v[1];
  const float* v2 = v[2];
  const float* v3 = v[3];
  __m256 a0 = _mm256_setzero_ps(), b0 = _mm256_setzero_ps();
  __m256 a1 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
  __m256 a2 = _mm256_setzero_ps(), b2 = _mm256_setzero_ps();
  __m256 a3 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    const __m256 qa = _mm256_loadu_ps(q + i);
    const __m256 qb = _mm256_loadu_ps(q + i + 8);
    a0 = Lane::Step(_mm256_loadu_ps(v0 + i), qa, a0);
    a1 = Lane::Step(_mm256_loadu_ps(v1 + i), qa, a1);
    a2 = Lane::Step(_mm256_loadu_ps(v2 + i), qa, a2);
    a3 = Lane::Step(_mm256_loadu_ps(v3 + i), qa, a3);
    b0 = Lane::Step(_mm256_loadu_ps(v0 + i + 8), qb, b0);
    b1 = Lane::Step(_mm256_loadu_ps(v1 + i + 8), qb, b1);
    b2 = Lane::Step(_mm256_loadu_ps(v2 + i + 8), qb, b2);
    b3 = Lane::Step(_mm256_loadu_ps(v3 + i + 8), qb, b3);
  }
  if (i + 8 <= dim) {
    const __m256 qa = _mm256_loadu_ps(q + i);
    a0 = Lane::Step(_mm256_loadu_ps(v0 + i), qa, a0);
    a1 = Lane::Step(_mm256_loadu_ps(v1 + i), qa, a1);
    a2 = Lane::Step(_mm256_loadu_ps(v2 + i), qa, a2);
    a3 = Lane::Step(_mm256_loadu_ps(v3 + i), qa, a3);
    i += 8;
  }
  if (i < dim) {
    const __m256i mask = TailMask(dim - i);
    const __m256 qa = _mm256_maskload_ps(q + i, mask);
    b0 = Lane::Step(_mm256_maskload_ps(v0 + i, mask), qa, b0);
    b1 = Lane::Step(_mm256_maskload_ps(v1 + i, mask), qa, b1);
    b2 = Lane::Step(_mm256_maskload_ps(v2 + i, mask), qa, b2);
    b3 = Lane::Step(_mm256_maskload_ps(v3 + i, mask), qa, b3);
  }
  _mm_storeu_ps(out, Sum4(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1), _mm256_add_ps(a2, b2),
                          _mm256_add_ps(a3, b3)));
}

VDB_TARGET_AVX2 void L2Sqr4Avx2(const float* q, const float* const* v, size_t dim, float* out) {
  FourRows<L2Lane>(q, v, dim, out);
}

VDB_TARGET_AVX2 void Dot4Avx2(const float* q, const float* const* v, size_t dim, float* out) {
  FourRows<DotLane>(q, v, dim, out);
}

VDB_TARGET_AVX2 float L2SqrAvx2(const float* a, const float* b, size_t dim) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps();
  __m256 acc3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    const __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
    const __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
    acc1 = _mm256_fmadd_ps(d1, d1, acc1);
    acc2 = _mm256_fmadd_ps(d2, d2, acc2);
    acc3 = _mm256_fmadd_ps(d3, d3, acc3);
  }
  for (; i + 8 <= dim; i += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    acc0 = _mm256_fmadd_ps(d, d, acc0);
  }
  if (i < dim) {
    const __m256i mask = TailMask(dim - i);
    const __m256 d = _mm256_sub_ps(_mm256_maskload_ps(a + i, mask), _mm256_maskload_ps(b + i, mask));
    acc1 = _mm256_fmadd_ps(d, d, acc1);
  }
  return HorizontalSum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
}

VDB_TARGET_AVX2 float DotAvx2(const float* a, const float* b, size_t dim) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps();
  __m256 acc3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= dim; i += 8) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  }
  if (i < dim) {
    const __m256i mask = TailMask(dim - i);
    acc1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, mask), _mm256_maskload_ps(b + i, mask), acc1);
  }
  return HorizontalSum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
}

VDB_TARGET_AVX2 float NormSqrAvx2(const float* a, size_t dim) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps();
  __m256 acc3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    const __m256 x0 = _mm256_loadu_ps(a + i);
    const __m256 x1 = _mm256_loadu_ps(a + i + 8);
    const __m256 x2 = _mm256_loadu_ps(a + i + 16);
    const __m256 x3 = _mm256_loadu_ps(a + i + 24);
    acc0 = _mm256_fmadd_ps(x0, x0, acc0);
    acc1 = _mm256_fmadd_ps(x1, x1, acc1);
    acc2 = _mm256_fmadd_ps(x2, x2, acc2);
    acc3 = _mm256_fmadd_ps(x3, x3, acc3);
  }
  for (; i + 8 <= dim; i += 8) {
    const __m256 x = _mm256_loadu_ps(a + i);
    acc0 = _mm256_fmadd_ps(x, x, acc0);
  }
  if (i < dim) {
    const __m256 x = _mm256_maskload_ps(a + i, TailMask(dim - i));
    acc1 = _mm256_fmadd_ps(x, x, acc1);
  }
  return HorizontalSum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
}

VDB_TARGET_AVX2 bool AllFiniteAvx2(const float* values, size_t n) {
  const __m256i exp = _mm256_set1_epi32(0x7f800000);
  __m256i bad = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(values + i));
    bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(_mm256_and_si256(bits, exp), exp));
  }
  if (i < n) {
    const __m256i bits = _mm256_castps_si256(_mm256_maskload_ps(values + i, TailMask(n - i)));
    bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(_mm256_and_si256(bits, exp), exp));
  }
  return _mm256_testz_si256(bad, bad) != 0;
}

}  // namespace simd

namespace {

struct KernelTable {
  float (*l2)(const float*, const float*, size_t);
  float (*dot)(const float*, const float*, size_t);
  float (*norm)(const float*, size_t);
  Distance4Fn l2x4;
  Distance4Fn dotx4;
  const char* name;
};

KernelTable SelectKernels() {
  if (simd::UseAvx2()) {
    return {&simd::L2SqrAvx2, &simd::DotAvx2, &simd::NormSqrAvx2, &simd::L2Sqr4Avx2, &simd::Dot4Avx2, "avx2-fma"};
  }
  return {&L2SqrScalar, &DotScalar, &NormSqrScalar, &L2Sqr4Scalar, &Dot4Scalar, "scalar"};
}

const KernelTable& Kernels() {
  static const KernelTable table = SelectKernels();
  return table;
}

}  // namespace

namespace simd {

bool UseAvx2() {
  static const bool use = [] {
    const char* force = std::getenv("VDB_FORCE_SCALAR");
    if (force != nullptr && force[0] != '\0' && std::strcmp(force, "0") != 0) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return use;
}

}  // namespace simd

float L2Sqr(const float* a, const float* b, size_t dim) { return Kernels().l2(a, b, dim); }
float Dot(const float* a, const float* b, size_t dim) { return Kernels().dot(a, b, dim); }
float NormSqr(const float* a, size_t dim) { return Kernels().norm(a, dim); }
const char* KernelName() { return Kernels().name; }
DistanceFn L2SqrFn() { return Kernels().l2; }
DistanceFn DotFn() { return Kernels().dot; }
Distance4Fn L2Sqr4Fn() { return Kernels().l2x4; }
Distance4Fn Dot4Fn() { return Kernels().dotx4; }

}  // namespace vdb::kernels
