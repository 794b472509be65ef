// Internal to engine/kernels: one query against many vectors, the inner loop
// of the exact scan. Vectors are read in address order so that a contiguous
// run is a single sequential stream.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vdb::kernels {

enum class ScoreKind {
  kL2,       // out[j] = ||q - v||^2
  kDot,      // out[j] = q . v
  kDotNorm,  // out[j] = q . v, norms[j] = ||v||^2 (cosine without stored norms)
};

// Scores n vectors against q (dim floats). Vector j lives at
// base + index[j] * stride_bytes, or base + j * stride_bytes when index is
// null. norms is written only for kDotNorm (and must then be non-null).
// REQUIRES: every addressed vector holds dim readable floats; out has n slots.
void ScoreVectors(ScoreKind kind, const float* q, size_t dim, const float* base, size_t stride_bytes,
                  const uint32_t* index, size_t n, float* out, float* norms);

class TopK;

// Selection over a tile of batched scores, dots[j * nq + i] = v_j . q_i for
// n vectors and nq queries. The key (lower is better) of vector j for query i
// is query_add[i] + vec_add[j] + vec_mul[j] * dots[j * nq + i] (query_add
// nullable = 0), clamped at 0 when clamp_zero (l2 by expansion). Every key
// not above thresholds[i] (NaN included) is offered to tops[i] with slot
// slots[j]; thresholds[i] then follows tops[i].threshold().
// REQUIRES: thresholds[i] == tops[i].threshold() on entry.
void SelectTile(const float* dots, size_t n, size_t nq, const float* query_add, const float* vec_add,
                const float* vec_mul, const uint32_t* slots, bool clamp_zero, TopK* tops, float* thresholds);

}  // namespace vdb::kernels
