// Internal to engine/kernels: AVX2/FMA helpers and the run-time CPU check.
// Functions marked VDB_TARGET_AVX2 may only be called when UseAvx2() is true.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#define VDB_TARGET_AVX2 __attribute__((target("avx2,fma")))

namespace vdb::kernels::simd {

// True when the CPU has AVX2 and FMA and VDB_FORCE_SCALAR is unset (or "0").
// Decided once per process.
bool UseAvx2();

float L2SqrAvx2(const float* a, const float* b, size_t dim);
float DotAvx2(const float* a, const float* b, size_t dim);
float NormSqrAvx2(const float* a, size_t dim);
void L2Sqr4Avx2(const float* q, const float* const* v, size_t dim, float* out);
void Dot4Avx2(const float* q, const float* const* v, size_t dim, float* out);
// True if no value is an infinity or a NaN (exponent bits all ones).
bool AllFiniteAvx2(const float* values, size_t n);

// Lane mask selecting the first n (1..7) of 8 floats, for _mm256_maskload_ps.
VDB_TARGET_AVX2 inline __m256i TailMask(size_t n) {
  alignas(32) static constexpr int32_t kBits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kBits + 8 - n));
}

VDB_TARGET_AVX2 inline float HorizontalSum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  const __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

}  // namespace vdb::kernels::simd
