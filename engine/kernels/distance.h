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

}  // namespace vdb::kernels
