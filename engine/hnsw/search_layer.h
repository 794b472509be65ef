// Internal building blocks of the HNSW algorithm shared by hnsw.cc, build.cc
// and repair.cc: per-thread scratch, distance functors, greedy descent,
// SEARCH-LAYER and the neighbour-selection heuristic. Not part of the API.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "engine/hnsw/graph_store.h"
#include "engine/hnsw/hnsw.h"
#include "engine/hnsw/params.h"
#include "engine/kernels/distance.h"
#include "engine/kernels/exact_search.h"

namespace vdb::hnsw::internal {

inline constexpr float kInf = std::numeric_limits<float>::infinity();

// A node seen by a search, with its distance to the query.
struct Cand {
  float dist;
  uint32_t slot;
};
// Heap orders: std heaps keep the "largest" element at front.
struct FarthestOnTop {
  bool operator()(const Cand& a, const Cand& b) const { return a.dist < b.dist; }
};
struct ClosestOnTop {
  bool operator()(const Cand& a, const Cand& b) const { return a.dist > b.dist; }
};
inline bool CloserThan(const Cand& a, const Cand& b) {
  return a.dist < b.dist || (a.dist == b.dist && a.slot < b.slot);
}
// CloserThan as a type: std::sort inlines a functor's call, not a call
// through a function pointer.
struct Closer {
  bool operator()(const Cand& a, const Cand& b) const { return CloserThan(a, b); }
};

// Visited marks, one bit per slot: n/8 bytes, so the first search of a
// process faults in 128 KiB for 1M slots (a 16-bit mark per slot was 2 MB,
// ~500 page faults). Begin clears only the words the previous traversal set
// (all of them when it set more than 1/16). Not thread-safe: one per thread.
class VisitedSet {
 public:
  // Starts a traversal over slots < limit.
  void Begin(uint32_t limit) {
    const size_t words = (static_cast<size_t>(limit) + 63) / 64;
    if (touched_count_ > bits_.size() / 16) {
      std::fill(bits_.begin(), bits_.end(), uint64_t{0});
    } else {
      for (size_t i = 0; i < touched_count_; ++i) bits_[touched_[i]] = 0;
    }
    touched_count_ = 0;
    if (bits_.size() < words) {
      bits_.resize(words, 0);
      touched_.resize(words + 1);
    }
    limit_ = limit;
  }
  uint32_t limit() const { return limit_; }
  // REQUIRES: slot < limit().
  [[gnu::always_inline]] bool TestAndSet(uint32_t slot) {
    uint64_t& w = bits_[slot >> 6];
    const uint64_t old = w;
    const uint64_t m = uint64_t{1} << (slot & 63);
    if (old & m) return true;
    // Without a branch: the word is recorded, and counted only if it was clear.
    touched_[touched_count_] = slot >> 6;
    touched_count_ += old == 0;
    w = old | m;
    return false;
  }
  bool Test(uint32_t slot) const { return (bits_[slot >> 6] >> (slot & 63)) & 1; }

 private:
  std::vector<uint64_t> bits_;
  // Invariant: touched_[0..touched_count_) are the distinct words made
  // non-zero since Begin; touched_.size() == bits_.size() + 1 (TestAndSet
  // writes touched_[touched_count_] before it knows whether to count it).
  std::vector<uint32_t> touched_;
  size_t touched_count_ = 0;
  uint32_t limit_ = 0;
};

// Per-thread buffers; sized on first use, then reused (no allocation per
// query). Functions below document which members they use.
struct Scratch {
  VisitedSet visited;
  std::vector<Cand> candidates;  // min-heap of nodes to expand
  std::vector<Cand> results;     // max-heap of the ef best accepted nodes
  std::vector<Cand> layer_out;   // results of one layer, sorted
  std::vector<Cand> pool;        // heuristic input
  std::vector<Cand> selected;    // heuristic output
  std::vector<Cand> beam;        // SearchLayerBeam's sorted array (kMaxBeam)
  std::vector<Cand> pruned;      // heuristic discards (keep_pruned_connections)
  std::vector<const float*> selected_vecs;
  std::vector<uint32_t> list;    // neighbour-list buffer for reads
  std::vector<uint32_t> list2;   // second list buffer (merges)
  std::vector<uint32_t> ids;     // unvisited ids of one expansion
  std::vector<const float*> vecs;
  void Reserve(uint32_t degree) {
    if (list.size() < degree) {
      list.resize(degree);
      list2.resize(degree + 1);
      ids.resize(degree);
      vecs.resize(degree);
    }
    if (beam.empty()) beam.resize(kMaxBeam);
  }
  // Largest ef SearchLayerBeam handles (one bit per entry in a uint64_t).
  static constexpr uint32_t kMaxBeam = 63;
};
// The calling thread's scratch.
Scratch& ThreadScratch();

// Distance from a fixed query to stored vectors, one type per metric so the
// search loop is specialised per metric. Distances are "lower is closer".
// Batch4 computes four at once (kernels::Distance4Fn); kernels are resolved
// once per query.
struct L2Query {
  static constexpr bool kUsesNode = false;  // reads nothing of the node but its vector
  const float* q;
  uint32_t dim;
  kernels::DistanceFn fn;
  kernels::Distance4Fn fn4;
  template <typename R>
  float operator()(const R&, uint32_t, const float* v) const {
    return fn(q, v, dim);
  }
  template <typename R>
  void Batch4(const R&, const uint32_t*, const float* const* v, float* out) const {
    fn4(q, v, dim, out);
  }
};
struct DotQuery {
  static constexpr bool kUsesNode = false;
  const float* q;
  uint32_t dim;
  kernels::DistanceFn fn;
  kernels::Distance4Fn fn4;
  template <typename R>
  float operator()(const R&, uint32_t, const float* v) const {
    return -fn(q, v, dim);
  }
  template <typename R>
  void Batch4(const R&, const uint32_t*, const float* const* v, float* out) const {
    fn4(q, v, dim, out);
    for (int i = 0; i < 4; ++i) out[i] = -out[i];
  }
};
struct CosineQuery {
  static constexpr bool kUsesNode = true;  // InvNorm(slot)
  const float* q;
  uint32_t dim;
  float q_inv_norm;
  kernels::DistanceFn fn;
  kernels::Distance4Fn fn4;
  template <typename R>
  float operator()(const R& g, uint32_t slot, const float* v) const {
    return 1.0f - fn(q, v, dim) * q_inv_norm * g.InvNorm(slot);
  }
  template <typename R>
  void Batch4(const R& g, const uint32_t* ids, const float* const* v, float* out) const {
    fn4(q, v, dim, out);
    for (int i = 0; i < 4; ++i) out[i] = 1.0f - out[i] * q_inv_norm * g.InvNorm(ids[i]);
  }
};

// Calls f(query_functor) with the functor of params.metric.
template <typename F>
auto WithQuery(const Params& params, const float* q, float q_inv_norm, F&& f) {
  switch (params.metric) {
    case Metric::kCosine:
      return f(CosineQuery{q, params.dim, q_inv_norm, kernels::DotFn(), kernels::Dot4Fn()});
    case Metric::kDot:
      return f(DotQuery{q, params.dim, kernels::DotFn(), kernels::Dot4Fn()});
    case Metric::kL2:
    default:
      return f(L2Query{q, params.dim, kernels::L2SqrFn(), kernels::L2Sqr4Fn()});
  }
}

// Distance between two stored nodes.
inline float NodeDistance(const GraphReader& g, const Params& p, uint32_t a, const float* va,
                          uint32_t b, const float* vb) {
  float d;
  switch (p.metric) {
    case Metric::kCosine:
      d = 1.0f - kernels::Dot(va, vb, p.dim) * g.InvNorm(a) * g.InvNorm(b);
      break;
    case Metric::kDot:
      d = -kernels::Dot(va, vb, p.dim);
      break;
    case Metric::kL2:
    default:
      d = kernels::L2Sqr(va, vb, p.dim);
      break;
  }
  return d == d ? d : kInf;  // NaN (overflowed inputs) sorts last
}

// Prefetches the first `lines` (1..8) cache lines of v; unrolled (a loop cost
// three instructions per line).
[[gnu::always_inline]] inline void PrefetchVector(const float* v, uint32_t lines) {
  const char* p = reinterpret_cast<const char*>(v);
  switch (lines) {
    default:
      _mm_prefetch(p + 448, _MM_HINT_T0);
      [[fallthrough]];
    case 7:
      _mm_prefetch(p + 384, _MM_HINT_T0);
      [[fallthrough]];
    case 6:
      _mm_prefetch(p + 320, _MM_HINT_T0);
      [[fallthrough]];
    case 5:
      _mm_prefetch(p + 256, _MM_HINT_T0);
      [[fallthrough]];
    case 4:
      _mm_prefetch(p + 192, _MM_HINT_T0);
      [[fallthrough]];
    case 3:
      _mm_prefetch(p + 128, _MM_HINT_T0);
      [[fallthrough]];
    case 2:
      _mm_prefetch(p + 64, _MM_HINT_T0);
      [[fallthrough]];
    case 1:
      _mm_prefetch(p, _MM_HINT_T0);
  }
}

// RAII hold of one slot's stripe in a LockTable (no-op without a table).
class SlotLock {
 public:
  SlotLock(LockTable* locks, uint32_t slot) : locks_(locks), slot_(slot) {
    if (locks_ != nullptr) locks_->Lock(slot_);
  }
  ~SlotLock() {
    if (locks_ != nullptr) locks_->Unlock(slot_);
  }
  SlotLock(const SlotLock&) = delete;
  SlotLock& operator=(const SlotLock&) = delete;

 private:
  LockTable* locks_;
  uint32_t slot_;
};

// Reads a list into buf[0..cap) under the slot's lock; returns the count
// clamped to cap.
template <typename R>
uint32_t ReadList(const R& g, uint32_t slot, int level, uint32_t* buf,
                         uint32_t cap, LockTable* locks) {
  SlotLock lock(locks, slot);
  const uint32_t n = g.Neighbors(slot, level, buf, cap);
  return n < cap ? n : cap;
}

// The templates below take the reader type R: GraphReader (virtual calls) or
// a final store class, whose calls the compiler can inline.
//
// Optional members a final read-only store may add (detected at compile
// time; used only when locks == nullptr):
//   const uint32_t* ListView(uint32_t slot, int level, uint32_t* buf,
//                            uint32_t cap, uint32_t* n) const;
//     the list without copying when the store can hand out its own bytes
//     (else copied into buf[0..cap)); *n is the count clamped to cap.
//   void PrefetchNode(uint32_t slot) const;  // hint: slot's list is read soon

// The list of `slot` on `level`: a pointer to *n (<= cap) ids, either the
// store's own bytes (valid for the store's lifetime) or buf.
template <typename R>
[[gnu::always_inline]] inline const uint32_t* ListOf(const R& g, uint32_t slot, int level, uint32_t* buf, uint32_t cap,
                       LockTable* locks, uint32_t* n) {
  if constexpr (requires { g.ListView(slot, level, buf, cap, n); }) {
    if (locks == nullptr) return g.ListView(slot, level, buf, cap, n);
  }
  *n = ReadList(g, slot, level, buf, cap, locks);
  return buf;
}

template <typename R>
[[gnu::always_inline]] inline void PrefetchNode(const R& g, uint32_t slot) {
  if constexpr (requires { g.PrefetchNode(slot); }) g.PrefetchNode(slot);
}

// Distances of `count` (1..4) stored vectors to the query into out[0..count)
// (out holds 4; with count >= 2 all 4 are written): one four-row kernel call
// for two or more (the missing rows repeat the last), the one-row kernel for
// one. NaN becomes kInf.
template <typename R, typename QD>
inline void DistanceGroup(const R& g, const QD& qd, const uint32_t* ids, const float* const* vecs,
                          uint32_t count, float* out) {
  if (count >= 2) {
    if (count >= 4) {
      qd.Batch4(g, ids, vecs, out);
    } else {
      const uint32_t pid[4] = {ids[0], ids[1], ids[count - 1], ids[count - 1]};
      const float* pv[4] = {vecs[0], vecs[1], vecs[count - 1], vecs[count - 1]};
      qd.Batch4(g, pid, pv, out);
    }
    // minps(x, inf) is x, or inf where x is NaN (it returns the second operand).
    _mm_storeu_ps(out, _mm_min_ps(_mm_loadu_ps(out), _mm_set1_ps(kInf)));
  } else {
    out[0] = qd(g, ids[0], vecs[0]);
    if (!(out[0] <= kInf)) out[0] = kInf;
  }
}

// Greedy descent (SEARCH-LAYER with ef = 1, as hnswlib does it) from `cur`
// on levels from_level down to to_level + 1; distances four at a time
// (DistanceGroup). Uses s.list, s.ids and s.vecs (s.Reserve(p.MaxDegree0())
// done: M0 >= M).
template <typename R, typename QD>
Cand GreedyDescend(const R& g, const Params& p, const QD& qd, Cand cur,
                   int from_level, int to_level, LockTable* locks, Scratch& s) {
  const uint32_t limit = g.SlotLimit();
  for (int level = from_level; level > to_level; --level) {
    bool changed = true;
    while (changed) {
      changed = false;
      uint32_t n;
      const uint32_t* list = ListOf(g, cur.slot, level, s.list.data(), p.m, locks, &n);
      uint32_t m = 0;
      for (uint32_t i = 0; i < n; ++i) {
        const uint32_t id = list[i];
        if (id >= limit) continue;
        const float* v = g.Vector(id);
        if (v == nullptr) continue;
        _mm_prefetch(reinterpret_cast<const char*>(v), _MM_HINT_T0);
        s.ids[m] = id;
        s.vecs[m] = v;
        ++m;
      }
      float dists[4];
      for (uint32_t j = 0; j < m; j += 4) {
        DistanceGroup(g, qd, &s.ids[j], &s.vecs[j], std::min<uint32_t>(m - j, 4), dists);
        for (uint32_t k = 0; k < 4 && j + k < m; ++k) {
          if (dists[k] < cur.dist) {
            cur = {dists[k], s.ids[j + k]};
            changed = true;
          }
        }
      }
    }
  }
  return cur;
}

// The expansion step shared by SearchLayer and SearchLayerBeam: marks the
// neighbours in list[0..n) visited and gathers the unvisited ones with a
// vector into s.ids / s.vecs (first line of each vector prefetched, and the
// node's record when the metric reads it), then prefetches the first group
// of four rows (`lines` lines each). Returns their number.
template <typename QD, typename R>
[[gnu::always_inline]] inline uint32_t GatherUnvisited(const R& g, const uint32_t* list, uint32_t n, uint32_t limit,
                                                       uint32_t lines, Scratch& s) {
  uint32_t* const ids = s.ids.data();
  const float** const vecs = s.vecs.data();
  uint32_t m = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t id = list[i];
    if (id >= limit || s.visited.TestAndSet(id)) continue;
    const float* v = g.Vector(id);
    if (v == nullptr) continue;
    _mm_prefetch(reinterpret_cast<const char*>(v), _MM_HINT_T0);
    if constexpr (QD::kUsesNode) PrefetchNode(g, id);
    ids[m] = id;
    vecs[m] = v;
    ++m;
  }
  for (uint32_t k = 0; k < 4 && k < m; ++k) PrefetchVector(vecs[k], lines);
  return m;
}

// Paper: Algorithm 2, SEARCH-LAYER, with hnswlib's handling of excluded
// nodes: nodes failing `accept` are expanded but not kept, and the search
// goes on until ef accepted nodes are held and no candidate is closer than
// the farthest of them.
// REQUIRES: s.visited begun with limit <= g.SlotLimit() and the seeds marked;
// s.candidates holds the seeds as a ClosestOnTop heap; s.results holds the
// accepted seeds as a FarthestOnTop heap of at most ef.
// On return s.results holds the (at most ef) best accepted nodes (heap order).
template <typename R, typename QD, typename Accept>
void SearchLayer(const R& g, const Params& p, const QD& qd, uint32_t ef, int level,
                 LockTable* locks, Scratch& s, const Accept& accept) {
  const uint32_t cap = p.MaxDegree(level);
  const uint32_t limit = s.visited.limit();
  // Up to 8 lines (a whole 128-d row) of the next group of vectors are
  // prefetched; the hardware streams the rest of longer rows.
  const uint32_t lines = std::min<uint32_t>((p.dim * 4 + 63) / 64, 8);
  std::vector<Cand>& cands = s.candidates;
  std::vector<Cand>& res = s.results;
  // Once ef nodes are held, a node is kept only if closer than the farthest.
  bool full = res.size() >= ef;
  float bound = full ? res.front().dist : kInf;
  while (!cands.empty()) {
    const Cand c = cands.front();
    if (c.dist > bound && full) break;
    std::pop_heap(cands.begin(), cands.end(), ClosestOnTop());
    cands.pop_back();
    // The next expansion is probably the closest remaining candidate.
    if (!cands.empty()) PrefetchNode(g, cands.front().slot);

    uint32_t n;
    const uint32_t* list = ListOf(g, c.slot, level, s.list.data(), cap, locks, &n);
    uint32_t* const ids = s.ids.data();
    const float** const vecs = s.vecs.data();
    const uint32_t m = GatherUnvisited<QD>(g, list, n, limit, lines, s);
    float dists[4];
    for (uint32_t j = 0; j < m; ++j) {
      // Four at a time; the next group's heads prefetched.
      const uint32_t in_group = j & 3;
      if (in_group == 0) {
        for (uint32_t k = j + 4; k < j + 8 && k < m; ++k) PrefetchVector(vecs[k], lines);
        DistanceGroup(g, qd, &ids[j], &vecs[j], std::min<uint32_t>(m - j, 4), dists);
      }
      const float d = dists[in_group];
      if (d < bound || !full) {
        const uint32_t id = ids[j];
        cands.push_back({d, id});
        std::push_heap(cands.begin(), cands.end(), ClosestOnTop());
        if (accept(id)) {
          res.push_back({d, id});
          std::push_heap(res.begin(), res.end(), FarthestOnTop());
          if (res.size() > ef) {
            std::pop_heap(res.begin(), res.end(), FarthestOnTop());
            res.pop_back();
          }
          full = res.size() >= ef;
          if (full) bound = res.front().dist;
        }
      }
    }
  }
}

// SEARCH-LAYER (paper: Algorithm 2) on layer 0 for a query that accepts
// every node, with the candidate and result sets of the paper held in one
// array: the (at most ef) closest nodes seen, sorted by CloserThan, each
// marked once expanded. The closest unexpanded entry is expanded next and the
// search ends when none is left: the paper's order and stopping rule (a
// candidate farther than the ef-th result is never expanded), without heaps.
// Results can differ from SearchLayer's only where distances tie.
// REQUIRES: 1 <= ef <= Scratch::kMaxBeam; s.Reserve done; s.visited begun
// with limit <= g.SlotLimit() and entry marked.
// Returns the number n of entries; s.beam[0..n) holds them, closest first.
template <typename R, typename QD>
uint32_t SearchLayerBeam(const R& g, const Params& p, const QD& qd, uint32_t ef, Cand entry, Scratch& s) {
  const uint32_t cap = p.MaxDegree(0);
  const uint32_t limit = s.visited.limit();
  const uint32_t lines = std::min<uint32_t>((p.dim * 4 + 63) / 64, 8);
  Cand* const beam = s.beam.data();
  uint32_t* const ids = s.ids.data();
  const float** const vecs = s.vecs.data();
  beam[0] = entry;
  uint32_t n = 1;
  uint64_t done = 0;  // bit i: beam[i] expanded
  bool full = ef == 1;  // n == ef
  float bound = entry.dist;  // beam[n - 1].dist
  for (;;) {
    const uint64_t open = ~done & ((uint64_t{2} << (n - 1)) - 1);
    if (open == 0) break;
    const uint32_t at = static_cast<uint32_t>(std::countr_zero(open));
    done |= uint64_t{1} << at;
    const uint64_t rest = open & (open - 1);
    if (rest != 0) PrefetchNode(g, beam[std::countr_zero(rest)].slot);

    uint32_t count;
    const uint32_t* list = ListOf(g, beam[at].slot, 0, s.list.data(), cap, nullptr, &count);
    const uint32_t m = GatherUnvisited<QD>(g, list, count, limit, lines, s);
    float dists[4];
    for (uint32_t j = 0; j < m; j += 4) {
      for (uint32_t k = j + 4; k < j + 8 && k < m; ++k) PrefetchVector(vecs[k], lines);
      const uint32_t group = std::min<uint32_t>(m - j, 4);
      DistanceGroup(g, qd, &ids[j], &vecs[j], group, dists);
      for (uint32_t k = 0; k < group; ++k) {
        const Cand c{dists[k], ids[j + k]};
        if (!(c.dist < bound) && full) continue;
        // Insert in order; when full the last entry falls off.
        uint32_t pos = n < ef ? n : n - 1;
        while (pos > 0 && CloserThan(c, beam[pos - 1])) {
          beam[pos] = beam[pos - 1];
          --pos;
        }
        beam[pos] = c;
        const uint64_t below = (uint64_t{1} << pos) - 1;
        if (!full) {
          ++n;
          full = n == ef;
        }
        bound = beam[n - 1].dist;
        done = ((done & below) | ((done & ~below) << 1)) & ((uint64_t{1} << n) - 1);
      }
    }
  }
  return n;
}

// Paper: Algorithm 5, K-NN-SEARCH, over the reader type R (see hnsw::Search
// for the contract). Read-only stores with their own final type instantiate
// it so the accessors inline into the loops.
template <typename R>
Status SearchWith(const R& g, const Params& p, const float* query, const SearchOptions& options,
                  std::vector<SearchHit>* out) {
  out->clear();
  if (query == nullptr) return Status::InvalidArgument("hnsw search: null query");
  if (!kernels::AllFinite(query, p.dim)) {
    uint32_t i = 0;
    while (i < p.dim && std::isfinite(query[i])) ++i;
    return Status::InvalidArgument("hnsw search: query component " + std::to_string(i) +
                                   " is not a finite number");
  }
  if (options.k == 0 || !g.HasEntryPoint()) return Status::Ok();
  const uint32_t limit = g.SlotLimit();
  const uint32_t ep = g.EntryPoint();
  if (ep >= limit || g.Vector(ep) == nullptr) {
    return Status::Corruption("hnsw search: entry point " + std::to_string(ep) +
                              " is not a slot of the graph (limit " + std::to_string(limit) + ")");
  }
  const int top = std::clamp(g.MaxLevel(), 0, p.max_level);
  const uint32_t ef = std::max(options.ef != 0 ? options.ef : p.ef_search, options.k);

  Scratch& s = ThreadScratch();
  s.Reserve(p.MaxDegree0());
  float q_inv = 1.0f;
  if (p.metric == Metric::kCosine) {
    const float n2 = kernels::NormSqr(query, p.dim);
    q_inv = n2 > 0.0f ? 1.0f / std::sqrt(n2) : 0.0f;
  }
  // Every node is accepted when there is no filter and the store tells that
  // it holds no tombstone (optional member `bool HasTombstones() const`).
  bool accept_all = false;
  if constexpr (requires { g.HasTombstones(); }) accept_all = options.filter.empty() && !g.HasTombstones();
  const Cand* found = nullptr;
  size_t found_count = 0;
  WithQuery(p, query, q_inv, [&](const auto& qd) {
    Cand cur{qd(g, ep, g.Vector(ep)), ep};
    if (!(cur.dist <= kInf)) cur.dist = kInf;
    cur = GreedyDescend(g, p, qd, cur, top, 0, nullptr, s);
    s.visited.Begin(limit);
    s.visited.TestAndSet(cur.slot);
    if (accept_all && ef <= Scratch::kMaxBeam) {
      found_count = SearchLayerBeam(g, p, qd, ef, cur, s);
      found = s.beam.data();
      return;
    }
    s.candidates.clear();
    s.results.clear();
    s.candidates.push_back(cur);
    auto accept = [&](uint32_t id) { return !g.IsDeleted(id) && options.filter(id); };
    if (accept(cur.slot)) s.results.push_back(cur);
    SearchLayer(g, p, qd, ef, 0, nullptr, s, accept);
    std::sort(s.results.begin(), s.results.end(), Closer());
    found = s.results.data();
    found_count = s.results.size();
  });

  const size_t n = std::min<size_t>(options.k, found_count);
  out->resize(n);
  for (size_t i = 0; i < n; ++i) {
    const Cand& c = found[i];
    float score = c.dist;
    if (p.metric == Metric::kCosine) score = 1.0f - c.dist;
    if (p.metric == Metric::kDot) score = -c.dist;
    (*out)[i] = {c.slot, score};
  }
  return Status::Ok();
}

// Paper: Algorithm 4, SELECT-NEIGHBORS-HEURISTIC (extendCandidates = false):
// walk `pool` closest first and keep a candidate only if it is closer to the
// base than to every candidate kept so far. Like hnswlib's
// getNeighborsByHeuristic2, a pool smaller than `max` is kept whole.
// REQUIRES: pool sorted by CloserThan. Writes s.selected (closest first);
// uses s.pruned and s.selected_vecs.
void SelectNeighbors(const GraphReader& g, const Params& p, const std::vector<Cand>& pool,
                     uint32_t max, Scratch& s);

}  // namespace vdb::hnsw::internal
