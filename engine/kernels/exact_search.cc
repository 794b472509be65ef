#include "engine/kernels/exact_search.h"

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <thread>

#include "engine/kernels/distance.h"
#include "engine/kernels/scan_kernels.h"
#include "engine/kernels/simd.h"
#include "engine/kernels/top_k.h"

namespace vdb::kernels {
namespace {

// Vectors scored per call of the single-query kernel.
constexpr size_t kScanChunk = 256;
// Below this many floats per thread, extra threads cost more than they save.
constexpr size_t kMinFloatsPerThread = size_t{1} << 20;
// Batched search: vectors per matrix-product tile and queries per tile.
constexpr size_t kVectorTile = 1024;
constexpr size_t kQueryTile = 1024;
// Batches smaller than this run as single queries (sgemm needs rows to pay off).
constexpr size_t kMinGemmQueries = 3;

using Filter = std::function<bool(uint32_t)>;

// A part of one block given to one thread: vectors [begin, end).
struct Segment {
  const VectorBlock* block;
  uint32_t begin;
  uint32_t end;
};

inline const float* RowAt(const VectorBlock& b, size_t i) {
  return reinterpret_cast<const float*>(reinterpret_cast<const char*>(b.base) + i * b.stride_bytes);
}

inline bool Usable(const VectorBlock& b) { return b.base != nullptr && b.count > 0; }

// work: floats multiplied, summed over all queries.
int EffectiveThreads(int threads, size_t work) {
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (threads < 1) threads = 1;
  const size_t by_work = std::max<size_t>(1, work / kMinFloatsPerThread);
  return static_cast<int>(std::min<size_t>(static_cast<size_t>(threads), by_work));
}

// Splits all usable vectors into `parts` runs of nearly equal length.
std::vector<std::vector<Segment>> SplitWork(std::span<const VectorBlock> blocks, size_t total, int parts) {
  std::vector<std::vector<Segment>> out(static_cast<size_t>(parts));
  const size_t per = (total + static_cast<size_t>(parts) - 1) / static_cast<size_t>(parts);
  size_t part = 0, room = per;
  for (const VectorBlock& b : blocks) {
    if (!Usable(b)) continue;
    uint32_t pos = 0;
    while (pos < b.count) {
      if (room == 0) {
        ++part;
        room = per;
      }
      const uint32_t take = static_cast<uint32_t>(std::min<size_t>(room, b.count - pos));
      out[std::min(part, out.size() - 1)].push_back({&b, pos, pos + take});
      pos += take;
      room -= take;
    }
  }
  return out;
}

size_t TotalVectors(std::span<const VectorBlock> blocks) {
  size_t total = 0;
  for (const VectorBlock& b : blocks) {
    if (Usable(b)) total += b.count;
  }
  return total;
}

// Runs fn(part) for every part, part 0 on the calling thread.
template <typename Fn>
void RunParts(size_t parts, Fn fn) {
  std::vector<std::thread> workers;
  workers.reserve(parts > 0 ? parts - 1 : 0);
  for (size_t p = 1; p < parts; ++p) workers.emplace_back(fn, p);
  if (parts > 0) fn(0);
  for (std::thread& t : workers) t.join();
}

// Candidates of vectors [start, start + n) of b: indexes relative to start
// of live vectors that pass the filter. Returns their number.
size_t SelectCandidates(const VectorBlock& b, uint32_t start, size_t n, const Filter* filter, uint32_t* idx) {
  size_t m = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t row = start + i;
    if (b.live != nullptr && b.live[row] == 0) continue;
    if (filter != nullptr && !(*filter)(b.first_slot + static_cast<uint32_t>(row))) continue;
    idx[m++] = static_cast<uint32_t>(i);
  }
  return m;
}

inline float InvSqrtOrZero(float norm_sqr) { return norm_sqr > 0.0f ? 1.0f / std::sqrt(norm_sqr) : 0.0f; }

// The query as the kernels use it: unit length for cosine (all zeros when
// the query is zero), unchanged otherwise.
std::vector<float> PrepareQuery(const float* query, size_t dim, ScanMetric m) {
  std::vector<float> q(query, query + dim);
  if (m == ScanMetric::kCosine) {
    const float inv = InvSqrtOrZero(NormSqr(query, dim));
    for (float& x : q) x *= inv;
  }
  return q;
}

// Converts kept entries (keys, lower is better) to hits with user scores.
std::vector<ScanHit> ToHits(TopK& top, ScanMetric m) {
  std::vector<TopK::Entry> entries = top.TakeSorted();
  std::vector<ScanHit> hits;
  hits.reserve(entries.size());
  for (const TopK::Entry& e : entries) hits.push_back({e.slot, m == ScanMetric::kL2 ? e.key : -e.key});
  return hits;
}

void ScanSegments(const std::vector<Segment>& segments, const float* q, size_t dim, ScanMetric m, const Filter* filter,
                  TopK* top) {
  ScoreKind kind = ScoreKind::kDot;
  if (m == ScanMetric::kL2) kind = ScoreKind::kL2;
  uint32_t idx[kScanChunk];
  float scores[kScanChunk];
  float norms[kScanChunk];
  for (const Segment& seg : segments) {
    const VectorBlock& b = *seg.block;
    const ScoreKind seg_kind = (m == ScanMetric::kCosine && b.inv_norms == nullptr) ? ScoreKind::kDotNorm : kind;
    const bool dense = b.live == nullptr && filter == nullptr;
    for (uint32_t start = seg.begin; start < seg.end;) {
      const size_t n = std::min<size_t>(kScanChunk, seg.end - start);
      const size_t count = dense ? n : SelectCandidates(b, start, n, filter, idx);
      const uint32_t* index = dense ? nullptr : idx;
      ScoreVectors(seg_kind, q, dim, RowAt(b, start), b.stride_bytes, index, count, scores, norms);
      for (size_t j = 0; j < count; ++j) {
        const uint32_t row = start + (index != nullptr ? index[j] : static_cast<uint32_t>(j));
        float key;
        switch (m) {
          case ScanMetric::kL2:
            key = scores[j];
            break;
          case ScanMetric::kDot:
            key = -scores[j];
            break;
          case ScanMetric::kCosine:
          default:
            key = -(scores[j] * (b.inv_norms != nullptr ? b.inv_norms[row] : InvSqrtOrZero(norms[j])));
            break;
        }
        if (!(key > top->threshold())) top->Push(key, b.first_slot + row);
      }
      start += static_cast<uint32_t>(n);
    }
  }
}

}  // namespace

bool AllFinite(const float* values, size_t n) {
  if (simd::UseAvx2()) return simd::AllFiniteAvx2(values, n);
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(values[i])) return false;
  }
  return true;
}

std::vector<ScanHit> ExactTopK(std::span<const VectorBlock> blocks, const float* query, size_t dim, ScanMetric m,
                               size_t k, int threads, const Filter* filter) {
  if (k == 0 || dim == 0 || query == nullptr) return {};
  const size_t total = TotalVectors(blocks);
  if (total == 0) return {};
  k = std::min(k, total);
  const std::vector<float> q = PrepareQuery(query, dim, m);
  const int parts = EffectiveThreads(threads, total * dim);
  const std::vector<std::vector<Segment>> work = SplitWork(blocks, total, parts);
  std::vector<TopK> tops(work.size(), TopK(k));
  RunParts(work.size(), [&](size_t p) { ScanSegments(work[p], q.data(), dim, m, filter, &tops[p]); });
  for (size_t p = 1; p < tops.size(); ++p) tops[0].Merge(tops[p]);
  return ToHits(tops[0], m);
}

namespace {

// Batched scan state of one thread: candidate vectors are collected into
// tiles (in place when a whole chunk is live and float-aligned, otherwise
// copied), then scored against every query with one sgemm per query tile.
class BatchScanner {
 public:
  BatchScanner(const float* queries, const float* query_norms, size_t nq, size_t dim, ScanMetric m, size_t k,
               const Filter* filter)
      : queries_(queries),
        query_norms_(query_norms),
        nq_(nq),
        dim_(dim),
        metric_(m),
        filter_(filter),
        packed_(kVectorTile * dim),
        slots_(kVectorTile),
        vec_add_(kVectorTile),
        vec_mul_(kVectorTile),
        dots_(std::min(nq, kQueryTile) * kVectorTile),
        thresholds_(nq) {
    tops_.reserve(nq);
    for (size_t i = 0; i < nq; ++i) {
      tops_.emplace_back(k);
      thresholds_[i] = tops_.back().threshold();
    }
  }

  void Scan(const std::vector<Segment>& segments) {
    uint32_t idx[kVectorTile];
    for (const Segment& seg : segments) {
      const VectorBlock& b = *seg.block;
      const bool aligned = b.stride_bytes % sizeof(float) == 0 && b.stride_bytes / sizeof(float) <= INT_MAX &&
                           reinterpret_cast<uintptr_t>(b.base) % alignof(float) == 0;
      for (uint32_t start = seg.begin; start < seg.end;) {
        const size_t n = std::min<size_t>(kVectorTile, seg.end - start);
        const size_t count = SelectCandidates(b, start, n, filter_, idx);
        if (count == n && aligned) {
          Flush();
          for (size_t j = 0; j < n; ++j) {
            slots_[j] = b.first_slot + start + static_cast<uint32_t>(j);
            SetVectorTerms(j, b, start + j, RowAt(b, start + j));
          }
          ScoreTile(RowAt(b, start), b.stride_bytes / sizeof(float), n);
        } else {
          for (size_t j = 0; j < count; ++j) {
            const uint32_t row = start + idx[j];
            const float* v = RowAt(b, row);
            std::memcpy(&packed_[pending_ * dim_], v, dim_ * sizeof(float));
            slots_[pending_] = b.first_slot + row;
            SetVectorTerms(pending_, b, row, v);
            if (++pending_ == kVectorTile) Flush();
          }
        }
        start += static_cast<uint32_t>(n);
      }
    }
    Flush();
  }

  std::vector<TopK>& tops() { return tops_; }

 private:
  // The per-vector terms of the key (see SelectTile): l2 adds ||v||^2 and
  // multiplies the product by -2; cosine multiplies it by -1/||v||; dot by -1.
  void SetVectorTerms(size_t j, const VectorBlock& b, size_t row, const float* v) {
    switch (metric_) {
      case ScanMetric::kL2:
        vec_add_[j] = NormSqr(v, dim_);
        vec_mul_[j] = -2.0f;
        break;
      case ScanMetric::kCosine:
        vec_add_[j] = 0.0f;
        vec_mul_[j] = -(b.inv_norms != nullptr ? b.inv_norms[row] : InvSqrtOrZero(NormSqr(v, dim_)));
        break;
      case ScanMetric::kDot:
      default:
        vec_add_[j] = 0.0f;
        vec_mul_[j] = -1.0f;
        break;
    }
  }

  void Flush() {
    if (pending_ > 0) ScoreTile(packed_.data(), dim_, pending_);
    pending_ = 0;
  }

  // Scores n vectors (row-major, leading dimension ld) against every query:
  // one sgemm per query tile with the vectors as rows of the product, then
  // the selection pass over it.
  void ScoreTile(const float* vectors, size_t ld, size_t n) {
    for (size_t q0 = 0; q0 < nq_; q0 += kQueryTile) {
      const size_t qn = std::min(kQueryTile, nq_ - q0);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), static_cast<int>(qn),
                  static_cast<int>(dim_), 1.0f, vectors, static_cast<int>(ld), queries_ + q0 * dim_,
                  static_cast<int>(dim_), 0.0f, dots_.data(), static_cast<int>(qn));
      SelectTile(dots_.data(), n, qn, metric_ == ScanMetric::kL2 ? query_norms_ + q0 : nullptr, vec_add_.data(),
                 vec_mul_.data(), slots_.data(), metric_ == ScanMetric::kL2, tops_.data() + q0,
                 thresholds_.data() + q0);
    }
  }

  const float* queries_;
  const float* query_norms_;
  size_t nq_;
  size_t dim_;
  ScanMetric metric_;
  const Filter* filter_;
  std::vector<float> packed_;  // kVectorTile x dim copied candidates
  size_t pending_ = 0;         // rows of packed_ in use
  std::vector<uint32_t> slots_;
  std::vector<float> vec_add_;  // per tile vector: key terms (SetVectorTerms)
  std::vector<float> vec_mul_;
  std::vector<float> dots_;  // vector tile x query tile products
  std::vector<TopK> tops_;   // one per query
  // Invariant: thresholds_[i] == tops_[i].threshold().
  std::vector<float> thresholds_;
};

// ThreadSanitizer cannot see how OpenBLAS's worker threads synchronize with
// the caller and reports the product buffer as raced; sanitizer builds keep
// BLAS on the calling thread.
void KeepBlasSingleThreadedUnderTsan() {
#if defined(__SANITIZE_THREAD__) && defined(OPENBLAS_VERSION)
  static const bool once = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)once;
#endif
}

}  // namespace

std::vector<std::vector<ScanHit>> ExactTopKBatch(std::span<const VectorBlock> blocks, const float* queries, size_t nq,
                                                 size_t dim, ScanMetric m, size_t k, int threads,
                                                 const Filter* filter) {
  std::vector<std::vector<ScanHit>> results(nq);
  if (nq == 0 || k == 0 || dim == 0 || queries == nullptr || dim > INT_MAX) return results;
  const size_t total = TotalVectors(blocks);
  if (total == 0) return results;
  k = std::min(k, total);
  if (nq < kMinGemmQueries) {
    for (size_t i = 0; i < nq; ++i) results[i] = ExactTopK(blocks, queries + i * dim, dim, m, k, threads, filter);
    return results;
  }
  KeepBlasSingleThreadedUnderTsan();
  std::vector<float> prepared;
  std::vector<float> query_norms;
  const float* q = queries;
  if (m == ScanMetric::kCosine) {
    prepared.resize(nq * dim);
    for (size_t i = 0; i < nq; ++i) {
      const std::vector<float> one = PrepareQuery(queries + i * dim, dim, m);
      std::memcpy(&prepared[i * dim], one.data(), dim * sizeof(float));
    }
    q = prepared.data();
  } else if (m == ScanMetric::kL2) {
    query_norms.resize(nq);
    for (size_t i = 0; i < nq; ++i) query_norms[i] = NormSqr(queries + i * dim, dim);
  }
  const int parts = EffectiveThreads(threads, total * dim * nq);
  const std::vector<std::vector<Segment>> work = SplitWork(blocks, total, parts);
  std::vector<BatchScanner> scanners;
  scanners.reserve(work.size());
  for (size_t p = 0; p < work.size(); ++p) scanners.emplace_back(q, query_norms.data(), nq, dim, m, k, filter);
  RunParts(work.size(), [&](size_t p) { scanners[p].Scan(work[p]); });
  for (size_t i = 0; i < nq; ++i) {
    TopK& top = scanners[0].tops()[i];
    for (size_t p = 1; p < scanners.size(); ++p) top.Merge(scanners[p].tops()[i]);
    results[i] = ToHits(top, m);
  }
  return results;
}

}  // namespace vdb::kernels
