#include "engine/embed/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#if defined(__x86_64__)
#include <immintrin.h>
#define VDB_EMBED_X86 1
#endif

namespace vdb::embed::kernels {
namespace {

constexpr float kInvSqrt2 = 0.70710678118654752f;

float GeluTanhScalar(float x) {
  const float k = 0.7978845608028654f;  // sqrt(2 / pi)
  return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
}

float ActivateScalar(float x, Activation act) {
  switch (act) {
    case Activation::kGeluErf: return GeluErfScalar(x);
    case Activation::kGeluTanh: return GeluTanhScalar(x);
    case Activation::kRelu: return x > 0 ? x : 0.0f;
  }
  return x;
}

#if VDB_EMBED_X86
bool HaveAvx2Fma() {
  static const bool have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return have;
}

// exp(x) for 8 floats: range reduction x = n ln2 + r, |r| <= ln2/2, degree-6
// polynomial for e^r (relative error ~1e-7), scaled by 2^n.
__attribute__((target("avx2,fma"))) inline __m256 Exp8(__m256 x) {
  x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.3365447505531f));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  __m256 r2 = _mm256_mul_ps(r, r);
  p = _mm256_fmadd_ps(p, r2, r);
  p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

// erf(x) for 8 floats (Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7).
__attribute__((target("avx2,fma"))) inline __m256 Erf8(__m256 x) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  __m256 sign = _mm256_and_ps(x, sign_mask);
  __m256 a = _mm256_andnot_ps(sign_mask, x);
  __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f),
                           _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), a, _mm256_set1_ps(1.0f)));
  __m256 p = _mm256_set1_ps(1.061405429f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
  p = _mm256_mul_ps(p, t);
  __m256 e = Exp8(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(a, a)));
  __m256 y = _mm256_fnmadd_ps(p, e, _mm256_set1_ps(1.0f));
  return _mm256_or_ps(y, sign);
}

__attribute__((target("avx2,fma"))) void AddBiasGeluAvx2(float* c, size_t rows, size_t cols,
                                                         size_t ldc, const float* bias) {
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f),
               inv = _mm256_set1_ps(kInvSqrt2);
  for (size_t r = 0; r < rows; ++r) {
    float* row = c + r * ldc;
    size_t j = 0;
    for (; j + 8 <= cols; j += 8) {
      __m256 x = _mm256_add_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(bias + j));
      __m256 g = _mm256_mul_ps(_mm256_mul_ps(half, x),
                               _mm256_add_ps(one, Erf8(_mm256_mul_ps(x, inv))));
      _mm256_storeu_ps(row + j, g);
    }
    for (; j < cols; ++j) row[j] = GeluErfScalar(row[j] + bias[j]);
  }
}

__attribute__((target("avx2,fma"))) void ScaledSoftmaxAvx2(float* x, size_t n, float scale) {
  float mx = x[0];
  for (size_t i = 1; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  const __m256 vs = _mm256_set1_ps(scale), vm = _mm256_set1_ps(mx * scale);
  __m256 acc = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 e = Exp8(_mm256_fmsub_ps(_mm256_loadu_ps(x + i), vs, vm));
    _mm256_storeu_ps(x + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  float buf[8];
  _mm256_storeu_ps(buf, acc);
  float sum = buf[0] + buf[1] + buf[2] + buf[3] + buf[4] + buf[5] + buf[6] + buf[7];
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] * scale - mx * scale);
    sum += x[i];
  }
  const __m256 inv = _mm256_set1_ps(1.0f / sum);
  i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
  for (; i < n; ++i) x[i] /= sum;
}

// R rows x 16 columns of C from one weight panel.
template <int R>
__attribute__((target("avx2,fma"))) void PanelKernelAvx2(const float* a, size_t lda,
                                                         const float* panel, size_t k,
                                                         float* out, size_t ldo) {
  __m256 acc[R][2];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (size_t kk = 0; kk < k; ++kk) {
    __m256 b0 = _mm256_loadu_ps(panel + kk * 16);
    __m256 b1 = _mm256_loadu_ps(panel + kk * 16 + 8);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      __m256 av = _mm256_broadcast_ss(a + r * lda + kk);
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_ps(out + r * ldo, acc[r][0]);
    _mm256_storeu_ps(out + r * ldo + 8, acc[r][1]);
  }
}

__attribute__((target("avx2,fma"))) void PackedMatMulAvx2(const float* a, size_t m, size_t lda,
                                                          const float* packed, size_t n, size_t k,
                                                          size_t p0, size_t p1, float* c,
                                                          size_t ldc) {
  constexpr size_t kRows = 6;
  float tail[kRows * 16];
  for (size_t p = p0; p < p1; ++p) {
    const float* panel = packed + p * k * 16;
    const size_t col = p * 16;
    const size_t width = std::min<size_t>(16, n - col);
    for (size_t r0 = 0; r0 < m; r0 += kRows) {
      const size_t rows = std::min(kRows, m - r0);
      // Full panels write C directly; the last, narrower one goes via `tail`.
      float* out = width == 16 ? c + r0 * ldc + col : tail;
      const size_t ldo = width == 16 ? ldc : 16;
      const float* ar = a + r0 * lda;
      switch (rows) {
        case 6: PanelKernelAvx2<6>(ar, lda, panel, k, out, ldo); break;
        case 5: PanelKernelAvx2<5>(ar, lda, panel, k, out, ldo); break;
        case 4: PanelKernelAvx2<4>(ar, lda, panel, k, out, ldo); break;
        case 3: PanelKernelAvx2<3>(ar, lda, panel, k, out, ldo); break;
        case 2: PanelKernelAvx2<2>(ar, lda, panel, k, out, ldo); break;
        default: PanelKernelAvx2<1>(ar, lda, panel, k, out, ldo); break;
      }
      if (width < 16) {
        for (size_t r = 0; r < rows; ++r) {
          for (size_t j = 0; j < width; ++j) c[(r0 + r) * ldc + col + j] = tail[r * 16 + j];
        }
      }
    }
  }
}
#endif

}  // namespace

size_t PackedPanels(size_t n) { return (n + kPanelWidth - 1) / kPanelWidth; }

void PackWeights(const float* w, size_t n, size_t k, std::vector<float>* packed) {
  const size_t panels = PackedPanels(n);
  packed->assign(panels * k * kPanelWidth, 0.0f);
  for (size_t p = 0; p < panels; ++p) {
    for (size_t j = 0; j < kPanelWidth && p * kPanelWidth + j < n; ++j) {
      const float* row = w + (p * kPanelWidth + j) * k;
      for (size_t kk = 0; kk < k; ++kk) {
        (*packed)[(p * k + kk) * kPanelWidth + j] = row[kk];
      }
    }
  }
}

void PackedMatMul(const float* a, size_t m, size_t lda, const float* packed, size_t n, size_t k,
                  size_t p0, size_t p1, float* c, size_t ldc) {
#if VDB_EMBED_X86
  if (HaveAvx2Fma()) {
    PackedMatMulAvx2(a, m, lda, packed, n, k, p0, p1, c, ldc);
    return;
  }
#endif
  for (size_t p = p0; p < p1; ++p) {
    const float* panel = packed + p * k * kPanelWidth;
    for (size_t i = 0; i < m; ++i) {
      float acc[kPanelWidth] = {};
      for (size_t kk = 0; kk < k; ++kk) {
        const float av = a[i * lda + kk];
        for (size_t j = 0; j < kPanelWidth; ++j) acc[j] += av * panel[kk * kPanelWidth + j];
      }
      for (size_t j = 0; j < kPanelWidth && p * kPanelWidth + j < n; ++j) {
        c[i * ldc + p * kPanelWidth + j] = acc[j];
      }
    }
  }
}

float GeluErfScalar(float x) { return 0.5f * x * (1.0f + std::erf(x * kInvSqrt2)); }

void AddBiasActivate(float* c, size_t rows, size_t cols, size_t ldc, const float* bias,
                     Activation act) {
#if VDB_EMBED_X86
  if (act == Activation::kGeluErf && HaveAvx2Fma()) {
    AddBiasGeluAvx2(c, rows, cols, ldc, bias);
    return;
  }
#endif
  for (size_t r = 0; r < rows; ++r) {
    float* row = c + r * ldc;
    for (size_t j = 0; j < cols; ++j) row[j] = ActivateScalar(row[j] + bias[j], act);
  }
}

void AddBias(float* c, size_t rows, size_t cols, size_t ldc, const float* bias) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = c + r * ldc;
    for (size_t j = 0; j < cols; ++j) row[j] += bias[j];
  }
}

void AddResidualLayerNorm(float* x, const float* residual, const float* bias,
                          const float* gamma, const float* beta, size_t rows, size_t n,
                          float eps) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = x + r * n;
    const float* res = residual ? residual + r * n : nullptr;
    float sum = 0;
    for (size_t j = 0; j < n; ++j) {
      float v = row[j];
      if (bias) v += bias[j];
      if (res) v += res[j];
      row[j] = v;
      sum += v;
    }
    const float mean = sum / static_cast<float>(n);
    float var = 0;
    for (size_t j = 0; j < n; ++j) {
      float d = row[j] - mean;
      var += d * d;
    }
    var /= static_cast<float>(n);
    const float inv = 1.0f / std::sqrt(var + eps);
    for (size_t j = 0; j < n; ++j) row[j] = (row[j] - mean) * inv * gamma[j] + beta[j];
  }
}

void ScaledSoftmax(float* x, size_t n, float scale) {
  if (n == 0) return;
#if VDB_EMBED_X86
  if (HaveAvx2Fma()) {
    ScaledSoftmaxAvx2(x, n, scale);
    return;
  }
#endif
  float mx = x[0];
  for (size_t i = 1; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  float sum = 0;
  for (size_t i = 0; i < n; ++i) {
    x[i] = std::exp((x[i] - mx) * scale);
    sum += x[i];
  }
  for (size_t i = 0; i < n; ++i) x[i] /= sum;
}

}  // namespace vdb::embed::kernels
