// HNSW parameters, metric conventions and the deterministic level draw.
//
// The algorithm is Hierarchical Navigable Small World graphs as described in
// Yu. A. Malkov and D. A. Yashunin, "Efficient and robust approximate nearest
// neighbor search using Hierarchical Navigable Small World graphs", IEEE TPAMI
// 42(4), 2018 (arXiv:1603.09320). Each parameter below names its symbol in the
// paper and its name in hnswlib (nmslib/hnswlib, hnswalg.h). See docs/hnsw.md.
#pragma once

#include <cstdint>
#include <string_view>

#include "vdb/status.h"

namespace vdb::hnsw {

// How two vectors are compared. Internally every metric is turned into a
// distance (lower is closer); results carry vdb's score convention instead:
//   kL2:     distance = score = squared Euclidean distance (lower is better).
//   kCosine: distance = 1 - cos(a, b); score = cos(a, b) (higher is better).
//            Stored vectors need not be unit length: the store supplies
//            1/|v| per slot (GraphReader::InvNorm) and queries are scaled by
//            their own inverse norm. A zero vector has InvNorm 0 (cos = 0).
//   kDot:    distance = -<a, b>; score = <a, b> (maximum inner product,
//            higher is better). Note that inner product is not a metric; the
//            graph still works well on embedding data but gives no guarantee.
enum class Metric : uint8_t { kL2 = 0, kCosine = 1, kDot = 2 };

std::string_view MetricName(Metric metric);
// Parses "l2", "cosine" or "dot"; false if the name is unknown.
bool ParseMetric(std::string_view name, Metric* out);

// Hard limits. kMaxLevelCap bounds Params::max_level so that per-node level
// counts fit in a byte and a store can size per-level tables statically.
inline constexpr int kMaxLevelCap = 31;
inline constexpr uint32_t kMaxDegreeCap = 1024;
inline constexpr uint32_t kMaxDim = 65536;

// Construction and search parameters of one graph. The store and the
// algorithm must be given the same values (the store sizes neighbour lists
// with MaxDegree()). All fields are plain values; copy freely.
struct Params {
  Metric metric = Metric::kL2;
  // Vector dimension (floats per vector).
  uint32_t dim = 0;
  // Paper: M, the number of neighbours a new element is linked to on each
  // layer (Algorithm 1, SELECT-NEIGHBORS(q, W, M, lc)) and Mmax, the maximum
  // degree on layers >= 1. hnswlib: M_ and maxM_. Default 16 (paper's
  // recommended range 5..48; hnswlib's default 16).
  uint32_t m = 16;
  // Paper: Mmax0, the maximum degree on layer 0, recommended 2*M (section 4.1).
  // hnswlib: maxM0_ = 2 * M_. A value of 0 means 2 * m.
  uint32_t m0 = 0;
  // Paper: efConstruction, the size of the dynamic candidate list while
  // inserting (Algorithm 1). hnswlib: ef_construction_. Default 200 (hnswlib's
  // default, and what its benchmarks use).
  uint32_t ef_construction = 200;
  // Paper: ef of K-NN-SEARCH (Algorithm 5) when the caller does not give one.
  // hnswlib: ef_ (default 10 there). Our default of 40 gives recall@10 >= 0.95
  // on siftsmall, fashion-mnist and sap-fiori-minilm (tests/engine/
  // hnsw_recall_test.cc); the effective ef of a query is max(ef, k).
  uint32_t ef_search = 40;
  // Paper: mL, the level normalisation factor; optimal value 1/ln(M)
  // (section 4.1). hnswlib: mult_ = 1 / log(M). A value <= 0 means 1/ln(m).
  double level_multiplier = 0.0;
  // Highest layer a node may be given (the exponential draw is clamped to it).
  // Not in the paper; hnswlib has no cap. With mL = 1/ln 16 a level above 16
  // has probability 16^-17, so the cap never changes real graphs; it bounds
  // the work a corrupted level field can cause.
  int max_level = 16;
  // Paper: Algorithm 4's keepPrunedConnections: after the heuristic, fill the
  // list up to its maximum with the closest discarded candidates. hnswlib's
  // getNeighborsByHeuristic2 does not keep them (false), nor do we by default.
  bool keep_pruned_connections = false;
  // Paper: Algorithm 4's extendCandidates (add the candidates' neighbours to
  // the pool before selection). Off in the paper's experiments except on
  // extremely clustered data, and absent from hnswlib; not implemented.
  // Seed of the level draw (see RandomLevel).
  uint64_t seed = 0x5eed5eedULL;

  uint32_t MaxDegree0() const { return m0 != 0 ? m0 : 2 * m; }
  // Maximum degree of a neighbour list on `level`.
  uint32_t MaxDegree(int level) const { return level == 0 ? MaxDegree0() : m; }
  double LevelMultiplier() const;
  // Checks ranges (dim > 0, 2 <= m, degrees <= kMaxDegreeCap, ...).
  Status Validate() const;
};

// The level of the node in `slot`: floor(-ln(u) * mL) clamped to max_level,
// where u in (0, 1) comes from splitmix64(seed, slot). Paper: Algorithm 1,
// line 4 (l <- floor(-ln(unif(0..1)) * mL)); hnswlib: getRandomLevel, which
// draws from a std::default_random_engine instead. A pure function of
// (seed, slot), so replaying inserts rebuilds the same graph.
int RandomLevel(const Params& params, uint32_t slot);

}  // namespace vdb::hnsw
