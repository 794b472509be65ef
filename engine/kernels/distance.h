// Distance kernels shared by exact search and the HNSW graph.
// AVX2/FMA versions are chosen at run time (cpuid); a scalar path is kept for
// other CPUs and for tests (VDB_FORCE_SCALAR=1 in the environment forces it).
#pragma once

#include <cstddef>

namespace vdb::kernels {

// Squared Euclidean distance.
float L2Sqr(const float* a, const float* b, size_t dim);
// Inner product.
float Dot(const float* a, const float* b, size_t dim);
// Sum of squares.
float NormSqr(const float* a, size_t dim);

// The portable reference implementations (used by tests as the oracle).
float L2SqrScalar(const float* a, const float* b, size_t dim);
float DotScalar(const float* a, const float* b, size_t dim);
float NormSqrScalar(const float* a, size_t dim);

// "avx2-fma" or "scalar": what L2Sqr/Dot/NormSqr dispatch to.
const char* KernelName();

// The functions L2Sqr and Dot dispatch to, for hot loops (graph search) that
// resolve the choice once instead of per call. Valid for the process lifetime.
using DistanceFn = float (*)(const float* a, const float* b, size_t dim);
DistanceFn L2SqrFn();
DistanceFn DotFn();

// One query against four vectors at once: out[i] = L2Sqr(q, v[i], dim) (or
// Dot). Interleaving four independent rows keeps more loads in flight and
// loads each query block once; graph search uses it for batches of
// neighbours. Results may differ from the one-vector kernels in the last
// bits (summation order). For hot loops, resolved once like L2SqrFn.
using Distance4Fn = void (*)(const float* q, const float* const* v, size_t dim, float* out);
Distance4Fn L2Sqr4Fn();
Distance4Fn Dot4Fn();
void L2Sqr4Scalar(const float* q, const float* const* v, size_t dim, float* out);
void Dot4Scalar(const float* q, const float* const* v, size_t dim, float* out);

}  // namespace vdb::kernels
