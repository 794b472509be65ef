// Insertion (paper: Algorithm 1) and the parallel batch build.

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

#include "engine/hnsw/hnsw.h"
#include "engine/hnsw/link.h"
#include "engine/hnsw/search_layer.h"

namespace vdb::hnsw {

// A 4-byte mutex (0 free, 1 held, 2 held with sleepers; waits on a futex via
// std::atomic::wait). A list read holds a stripe for a few hundred
// nanoseconds: 64 Ki stripes of 4 bytes (256 KiB) stay in cache where 64-byte
// std::mutex stripes (4 MiB) missed on nearly every lock, and need no
// per-stripe construction beyond zeroing.
struct LockTable::Stripe {
  std::atomic<uint32_t> state{0};

  bool TryLock() {
    uint32_t free = 0;
    return state.compare_exchange_strong(free, 1, std::memory_order_acquire, std::memory_order_relaxed);
  }
  void Lock() {
    if (TryLock()) return;
    for (int spin = 0; spin < 64; ++spin) {
      _mm_pause();
      if (state.load(std::memory_order_relaxed) == 0 && TryLock()) return;
    }
    // Mark the stripe contended, then sleep until it is released.
    while (state.exchange(2, std::memory_order_acquire) != 0) state.wait(2, std::memory_order_relaxed);
  }
  void Unlock() {
    if (state.exchange(0, std::memory_order_release) == 2) state.notify_one();
  }
};

LockTable::LockTable(uint32_t stripes) {
  uint32_t n = 1;
  while (n < stripes && n < (1u << 20)) n <<= 1;
  mask_ = n - 1;
  stripes_ = new Stripe[n];
  global_ = new Stripe;
}

LockTable::~LockTable() {
  delete[] stripes_;
  delete global_;
}

void LockTable::Lock(uint32_t slot) { stripes_[slot & mask_].Lock(); }
void LockTable::Unlock(uint32_t slot) { stripes_[slot & mask_].Unlock(); }
bool LockTable::TryLock(uint32_t slot) { return stripes_[slot & mask_].TryLock(); }
void LockTable::LockGlobal() { global_->Lock(); }
void LockTable::UnlockGlobal() { global_->Unlock(); }

namespace internal {
namespace {

// Copies the valid entries of a list read from the store into buf[0..n):
// drops ids out of range, self-links, nodes below `level` and `skip`.
uint32_t SanitizeList(const GraphReader& g, uint32_t owner, int level, uint32_t* buf,
                      uint32_t n, uint32_t skip, bool* saw_skip) {
  const uint32_t limit = g.SlotLimit();
  uint32_t m = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t id = buf[i];
    if (id == skip) {
      *saw_skip = true;
      continue;
    }
    if (id >= limit || id == owner || g.Level(id) < level) continue;
    buf[m++] = id;
  }
  return m;
}

// Sorts pool closest first and drops repeated slots.
void SortUnique(std::vector<Cand>* pool) {
  std::sort(pool->begin(), pool->end(), Closer());
  pool->erase(std::unique(pool->begin(), pool->end(),
                          [](const Cand& a, const Cand& b) { return a.slot == b.slot; }),
              pool->end());
}

Status WriteSelected(GraphWriter& g, uint32_t slot, int level, const std::vector<Cand>& sel,
                     Scratch& s) {
  for (size_t i = 0; i < sel.size(); ++i) s.list2[i] = sel[i].slot;
  return g.SetNeighbors(slot, level, std::span<const uint32_t>(s.list2.data(), sel.size()));
}

// Entries the heuristic dropped from a full layer-0 list whose own out-degree
// is at most this are kept (if the list has room): such a node is an outlier
// whose only in-link is very likely the one being dropped.
constexpr uint32_t kOutlierDegree = 2;

// REQUIRES: the caller holds node's lock (if locks != nullptr). Another
// slot's list is read only if its stripe can be taken without waiting (a
// second blocking lock could deadlock); a busy one counts as no outlier.
void KeepOutliers(const GraphReader& g, const Params& p, uint32_t node, uint32_t cap,
                  LockTable* locks, Scratch& s) {
  if (s.selected.size() >= cap) return;
  const uint32_t cap0 = p.MaxDegree0();
  for (const Cand& c : s.pool) {
    if (s.selected.size() >= cap) break;
    bool kept = false;
    for (const Cand& k : s.selected) kept |= k.slot == c.slot;
    if (kept) continue;
    uint32_t deg;
    if (locks == nullptr || locks->SameStripe(node, c.slot)) {
      deg = g.Neighbors(c.slot, 0, s.list.data(), cap0);
    } else if (locks->TryLock(c.slot)) {
      deg = g.Neighbors(c.slot, 0, s.list.data(), cap0);
      locks->Unlock(c.slot);
    } else {
      continue;
    }
    if (deg <= kOutlierDegree) s.selected.push_back(c);
  }
}

}  // namespace

Status LinkInto(GraphWriter& g, const Params& p, uint32_t node, int level, uint32_t newcomer,
                float dist, LinkMode mode, LockTable* locks, Scratch& s, bool* linked) {
  *linked = false;
  const uint32_t cap = p.MaxDegree(level);
  SlotLock lock(locks, node);
  const uint32_t raw = g.Neighbors(node, level, s.list2.data(), cap);
  const uint32_t n_read = std::min(raw, cap);
  bool present = false;
  const uint32_t n = SanitizeList(g, node, level, s.list2.data(), n_read, newcomer, &present);
  if (present) {
    *linked = true;
    if (n == n_read - 1 && raw <= cap) return Status::Ok();  // nothing dropped
    s.list2[n] = newcomer;
    return g.SetNeighbors(node, level, std::span<const uint32_t>(s.list2.data(), n + 1));
  }
  if (n < cap) {
    s.list2[n] = newcomer;
    *linked = true;
    return g.SetNeighbors(node, level, std::span<const uint32_t>(s.list2.data(), n + 1));
  }
  if (mode == LinkMode::kAppendOnly) return Status::Ok();
  const float* vn = g.Vector(node);
  if (vn == nullptr) return Status::Ok();
  s.pool.clear();
  s.pool.push_back({dist, newcomer});
  for (uint32_t i = 0; i < n; ++i) {
    const float* v = g.Vector(s.list2[i]);
    s.pool.push_back({v == nullptr ? kInf : NodeDistance(g, p, node, vn, s.list2[i], v), s.list2[i]});
  }
  SortUnique(&s.pool);
  if (mode == LinkMode::kForce) {
    // Keep the newcomer and the cap - 1 closest old entries.
    s.selected.clear();
    s.selected.push_back({dist, newcomer});
    for (const Cand& c : s.pool) {
      if (s.selected.size() >= cap) break;
      if (c.slot != newcomer) s.selected.push_back(c);
    }
  } else {
    SelectNeighbors(g, p, s.pool, cap, s);
    if (level == 0) KeepOutliers(g, p, node, cap, locks, s);
  }
  for (const Cand& c : s.selected) *linked |= c.slot == newcomer;
  return WriteSelected(g, node, level, s.selected, s);
}

Status SetOwnList(GraphWriter& g, const Params& p, uint32_t slot, int level,
                  const std::vector<Cand>& chosen, bool merge, LockTable* locks, Scratch& s) {
  const uint32_t cap = p.MaxDegree(level);
  SlotLock lock(locks, slot);
  uint32_t n = 0;
  if (merge) {
    bool unused = false;
    n = std::min(g.Neighbors(slot, level, s.list2.data(), cap), cap);
    n = SanitizeList(g, slot, level, s.list2.data(), n, kNoSlot, &unused);
  }
  if (n == 0) {
    const size_t m = std::min<size_t>(chosen.size(), cap);
    for (size_t i = 0; i < m; ++i) s.list2[i] = chosen[i].slot;
    return g.SetNeighbors(slot, level, std::span<const uint32_t>(s.list2.data(), m));
  }
  const float* vs = g.Vector(slot);
  if (vs == nullptr) return Status::InvalidArgument("hnsw: node without a vector");
  s.pool.assign(chosen.begin(), chosen.end());
  for (uint32_t i = 0; i < n; ++i) {
    const float* v = g.Vector(s.list2[i]);
    s.pool.push_back({v == nullptr ? kInf : NodeDistance(g, p, slot, vs, s.list2[i], v), s.list2[i]});
  }
  SortUnique(&s.pool);
  if (s.pool.size() <= cap) return WriteSelected(g, slot, level, s.pool, s);
  SelectNeighbors(g, p, s.pool, cap, s);
  return WriteSelected(g, slot, level, s.selected, s);
}

Status LinkNode(GraphWriter& g, const Params& p, uint32_t slot, int level, uint32_t ep, int top,
                bool merge, LinkMode mode, LockTable* locks, Scratch& s,
                std::vector<Cand>* layer0_found) {
  const uint32_t limit = g.SlotLimit();
  const float* q = g.Vector(slot);
  const float* vep = g.Vector(ep);
  if (q == nullptr || vep == nullptr) return Status::InvalidArgument("hnsw: node without a vector");
  s.Reserve(p.MaxDegree0());
  std::vector<Cand> chosen;  // at most M entries; small
  chosen.reserve(p.m);
  return internal::WithQuery(p, q, g.InvNorm(slot), [&](const auto& qd) -> Status {
    Cand cur{qd(g, ep, vep), ep};
    if (!(cur.dist <= kInf)) cur.dist = kInf;
    cur = GreedyDescend(g, p, qd, cur, top, level, locks, s);
    s.layer_out.assign(1, cur);
    for (int l = std::min(level, top); l >= 0; --l) {
      s.visited.Begin(limit);
      s.candidates.clear();
      s.results.clear();
      // Tombstoned nodes stay eligible as neighbours (as in hnswlib): if they
      // were skipped, a batch that replaces every record around the entry
      // point would link its new nodes only among themselves, unreachable
      // from the (tombstoned) entry point until Repair() ran.
      auto accept = [&](uint32_t id) { return id != slot && g.Level(id) >= l; };
      for (const Cand& c : s.layer_out) {
        if (s.visited.TestAndSet(c.slot)) continue;
        s.candidates.push_back(c);
        if (accept(c.slot)) s.results.push_back(c);
      }
      std::make_heap(s.candidates.begin(), s.candidates.end(), ClosestOnTop());
      std::make_heap(s.results.begin(), s.results.end(), FarthestOnTop());
      while (s.results.size() > p.ef_construction) {
        std::pop_heap(s.results.begin(), s.results.end(), FarthestOnTop());
        s.results.pop_back();
      }
      SearchLayer(g, p, qd, p.ef_construction, l, locks, s, accept);
      if (!s.results.empty()) {
        std::sort(s.results.begin(), s.results.end(), Closer());
        s.layer_out.swap(s.results);
      }
      if (l == 0 && layer0_found != nullptr) *layer0_found = s.layer_out;
      // The seeds of this layer may be a level above; keep only nodes of l.
      s.pool.clear();
      for (const Cand& c : s.layer_out) {
        if (accept(c.slot)) s.pool.push_back(c);
      }
      SelectNeighbors(g, p, s.pool, p.m, s);
      chosen.assign(s.selected.begin(), s.selected.end());
      VDB_RETURN_IF_ERROR(SetOwnList(g, p, slot, l, chosen, merge, locks, s));
      bool any_linked = false;
      for (const Cand& c : chosen) {
        bool linked = false;
        VDB_RETURN_IF_ERROR(LinkInto(g, p, c.slot, l, slot, c.dist, mode, locks, s, &linked));
        any_linked |= linked;
      }
      // Every chosen neighbour may have pruned the node from its full list,
      // leaving it without an in-link on this layer; then the closest one
      // with room left after its shrink takes it.
      for (size_t i = 0; !any_linked && i < chosen.size() && mode == LinkMode::kShrink; ++i) {
        VDB_RETURN_IF_ERROR(LinkInto(g, p, chosen[i].slot, l, slot, chosen[i].dist,
                                     LinkMode::kAppendOnly, locks, s, &any_linked));
      }
    }
    return Status::Ok();
  });
}

}  // namespace internal

namespace {
Status InsertAll(GraphWriter& g, const Params& p, std::span<const uint32_t> slots, int threads);
}  // namespace

Status Insert(GraphWriter& g, const Params& p, uint32_t slot, LockTable* locks) {
  VDB_RETURN_IF_ERROR(p.Validate());
  if (slot >= g.SlotLimit()) {
    return Status::InvalidArgument("hnsw insert: slot " + std::to_string(slot) + " out of range");
  }
  if (g.Vector(slot) == nullptr) {
    return Status::InvalidArgument("hnsw insert: slot " + std::to_string(slot) + " has no vector");
  }
  const int level = RandomLevel(p, slot);
  // The global lock covers AddNode and the entry point; it is kept for the
  // whole insert when the node becomes the new top (as hnswlib does), so two
  // new top levels are never built at once.
  struct GlobalHold {
    LockTable* locks;
    bool held = false;
    void Acquire() {
      if (locks != nullptr && !held) locks->LockGlobal(), held = true;
    }
    void Release() {
      if (held) locks->UnlockGlobal(), held = false;
    }
    ~GlobalHold() { Release(); }
  } global{locks};
  global.Acquire();
  VDB_RETURN_IF_ERROR(g.AddNode(slot, level));
  if (!g.HasEntryPoint()) return g.SetEntryPoint(slot, level);
  const uint32_t ep = g.EntryPoint();
  const int top = g.MaxLevel();
  if (ep >= g.SlotLimit() || top < 0 || top > p.max_level || g.Level(ep) < top) {
    return Status::Corruption("hnsw insert: entry point " + std::to_string(ep) + " at level " +
                              std::to_string(top) + " is not a node of that level");
  }
  if (level <= top) global.Release();
  internal::Scratch& s = internal::ThreadScratch();
  VDB_RETURN_IF_ERROR(internal::LinkNode(g, p, slot, level, ep, top, /*merge=*/locks != nullptr,
                                         internal::LinkMode::kShrink, locks, s, nullptr));
  if (level > top) return g.SetEntryPoint(slot, level);
  return Status::Ok();
}

Status ParallelBuild(GraphWriter& g, const Params& p, std::span<const uint32_t> slots,
                     int threads, bool reconnect) {
  VDB_RETURN_IF_ERROR(p.Validate());
  VDB_RETURN_IF_ERROR(InsertAll(g, p, slots, threads));
  if (reconnect) return ConnectUnreachable(g, p).status();
  return Status::Ok();
}

namespace {
Status InsertAll(GraphWriter& g, const Params& p, std::span<const uint32_t> slots, int threads) {
  if (threads <= 1 || slots.size() < 2) {
    for (uint32_t slot : slots) VDB_RETURN_IF_ERROR(Insert(g, p, slot, nullptr));
    return Status::Ok();
  }
  LockTable locks;
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  Status first_error;
  auto work = [&] {
    while (!failed.load(std::memory_order_relaxed)) {
      const size_t i = next.fetch_add(1);
      if (i >= slots.size()) return;
      Status st = Insert(g, p, slots[i], &locks);
      if (!st.ok()) {
        std::lock_guard<std::mutex> guard(error_mu);
        if (first_error.ok()) first_error = st;
        failed.store(true);
      }
    }
  };
  const size_t n_threads = std::min<size_t>(threads, slots.size());
  std::vector<std::thread> pool;
  pool.reserve(n_threads - 1);
  for (size_t t = 1; t < n_threads; ++t) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // fewer threads than asked; the others still finish the work
    }
  }
  work();
  for (std::thread& t : pool) t.join();
  return first_error;
}

}  // namespace

}  // namespace vdb::hnsw
