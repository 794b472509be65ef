// Exact (brute-force) top-k search over vectors read in place, e.g. from the
// memory-mapped vector region. One query streams every vector once with the
// SIMD kernels; many queries at once use BLAS matrix products (sgemm).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace vdb::kernels {

enum class ScanMetric { kCosine, kL2, kDot };

// A run of vectors at a fixed stride; vector i is slot first_slot + i.
// Borrowed: the memory must stay valid and unchanged for the call.
struct VectorBlock {
  const float* base = nullptr;  // vector 0; each vector holds dim floats
  uint32_t first_slot = 0;
  uint32_t count = 0;
  size_t stride_bytes = 0;  // distance between consecutive vectors, >= dim * 4
  // Per vector 1/||v|| (cosine: score = dot(q/|q|, v) * inv_norm). Nullable:
  // cosine then computes the norms during the scan. Ignored for l2 and dot.
  const float* inv_norms = nullptr;
  // Per vector: 0 = skip (deleted or free slot). Nullable: all live.
  const uint8_t* live = nullptr;
};

struct ScanHit {
  uint32_t slot;
  float score;
};

// The best k live vectors for one query (dim floats).
//
// Scores: cosine similarity (higher is better), inner product (higher is
// better), squared Euclidean distance (lower is better). Results are best
// first, ties broken by the lower slot; fewer than k when fewer vectors are
// live. k == 0, dim == 0, a null query or no blocks give an empty result.
// A zero query (or zero vector) has cosine similarity 0 with everything.
// A score that comes out NaN ranks after every other and is reported as the
// worst value (+inf for l2, -inf otherwise).
//
// threads: 1 scans on the calling thread; n > 1 splits the vectors over n
// threads (fewer when there is little work); 0 = hardware concurrency.
// filter (nullable) is called once per live slot; with threads != 1 it is
// called from several threads at once and must be thread-safe.
std::vector<ScanHit> ExactTopK(std::span<const VectorBlock> blocks, const float* query, size_t dim, ScanMetric m,
                               size_t k, int threads, const std::function<bool(uint32_t)>* filter);

// ExactTopK for nq queries (row-major, nq x dim), result i for query i.
// Computes scores as matrix products (BLAS sgemm), so scores may differ from
// ExactTopK's in the last bits (l2 uses ||q||^2 + ||v||^2 - 2 q.v, clamped
// at 0). BLAS's own threading is left as the process configured it (except
// in ThreadSanitizer builds, which set OpenBLAS to one thread because TSan
// cannot see its synchronization); threads here splits the vectors as in
// ExactTopK. filter is called once per live
// slot per call, not per query.
std::vector<std::vector<ScanHit>> ExactTopKBatch(std::span<const VectorBlock> blocks, const float* queries, size_t nq,
                                                 size_t dim, ScanMetric m, size_t k, int threads,
                                                 const std::function<bool(uint32_t)>* filter);

// True when none of the n values is NaN or +-inf. Callers reject such
// queries and vectors before they reach the kernels.
bool AllFinite(const float* values, size_t n);

}  // namespace vdb::kernels
