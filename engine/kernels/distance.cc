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

namespace simd {

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

}  // namespace simd

namespace {

struct KernelTable {
  float (*l2)(const float*, const float*, size_t);
  float (*dot)(const float*, const float*, size_t);
  float (*norm)(const float*, size_t);
  const char* name;
};

KernelTable SelectKernels() {
  if (simd::UseAvx2()) {
    return {&simd::L2SqrAvx2, &simd::DotAvx2, &simd::NormSqrAvx2, "avx2-fma"};
  }
  return {&L2SqrScalar, &DotScalar, &NormSqrScalar, "scalar"};
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

}  // namespace vdb::kernels
