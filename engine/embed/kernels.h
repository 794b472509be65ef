// Element-wise kernels of the BERT forward pass (bias, activation, residual,
// LayerNorm, softmax). AVX2/FMA versions are chosen at run time when the CPU
// has them; otherwise portable scalar code runs. All functions are pure and
// thread-safe on disjoint outputs.
#pragma once

#include <cstddef>

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
// Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), for reference and tests.
float GeluErfScalar(float x);

}  // namespace vdb::embed::kernels
