// Element-wise kernels of the BERT forward pass (bias, activation, residual,
// LayerNorm, softmax). AVX2/FMA versions are chosen at run time when the CPU
// has them; otherwise portable scalar code runs. All functions are pure and
// thread-safe on disjoint outputs.
#pragma once

#include <cstddef>
#include <vector>

namespace vdb::embed::kernels {

enum class Activation { kGeluErf, kGeluTanh, kRelu };

// For each of `rows` rows of c (row stride ldc), columns [0, cols):
// c = act(c + bias). bias has cols entries.
void AddBiasActivate(float* c, size_t rows, size_t cols, size_t ldc,
                     const float* bias, Activation act);
// c[r] += bias for rows of width cols (row stride ldc).
void AddBias(float* c, size_t rows, size_t cols, size_t ldc, const float* bias);
// For each row: x = LayerNorm(x + bias + residual) * gamma + beta, width n.
// residual may be null; bias may be null.
void AddResidualLayerNorm(float* x, const float* residual, const float* bias,
                          const float* gamma, const float* beta, size_t rows,
                          size_t n, float eps);
// In place: x = softmax(scale * x) over n entries.
void ScaledSoftmax(float* x, size_t n, float scale);
// Weights W [n x k] (row-major, as in a PyTorch Linear) repacked for
// PackedMatMul: panels of kPanelWidth output columns, each stored k-major
// (panel p, row kk, column j at [(p * k + kk) * kPanelWidth + j]); columns past
// n are zero.
inline constexpr size_t kPanelWidth = 16;
size_t PackedPanels(size_t n);
void PackWeights(const float* w, size_t n, size_t k, std::vector<float>* packed);
// C[m x n] (row stride ldc), columns of panels [p0, p1) only:
// C[i][j] = sum_kk A[i][kk] * W[j][kk]. A has row stride lda. Meant for small
// m (a few dozen rows), where it avoids the per-call packing of a BLAS sgemm.
void PackedMatMul(const float* a, size_t m, size_t lda, const float* packed, size_t n, size_t k,
                  size_t p0, size_t p1, float* c, size_t ldc);
// Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), for reference and tests.
float GeluErfScalar(float x);

}  // namespace vdb::embed::kernels
