// The HNSW algorithm (Malkov & Yashunin, 2018) over an abstract graph store.
//
// Everything here is stateless apart from the caller's store: functions take
// the store, the graph's Params and a slot or a query. Vectors live in the
// store (the caller writes a slot's vector before Insert). See docs/hnsw.md.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/hnsw/graph_store.h"
#include "engine/hnsw/params.h"
#include "vdb/status.h"

namespace vdb::hnsw {

// A predicate over slots, applied during traversal: a node for which it
// returns false is still traversed (its links are followed) but never
// returned. A non-owning reference to a callable; the callable must outlive
// the search. Called at most once per visited node, from the search thread.
class SlotFilter {
 public:
  SlotFilter() = default;  // accepts every slot
  template <typename F>
  SlotFilter(const F& f)  // NOLINT: implicit by design, like a function_ref
      : ctx_(&f), fn_([](const void* ctx, uint32_t slot) {
          return static_cast<bool>((*static_cast<const F*>(ctx))(slot));
        }) {}
  bool empty() const { return fn_ == nullptr; }
  bool operator()(uint32_t slot) const { return fn_ == nullptr || fn_(ctx_, slot); }

 private:
  const void* ctx_ = nullptr;
  bool (*fn_)(const void*, uint32_t) = nullptr;
};

struct SearchOptions {
  uint32_t k = 10;
  // Paper: ef of K-NN-SEARCH. 0 means Params::ef_search; raised to k if lower.
  uint32_t ef = 0;
  SlotFilter filter;
};

struct SearchHit {
  uint32_t slot;
  // vdb score: squared L2 (lower better), cosine similarity or inner product
  // (higher better). See Metric.
  float score;
};

// Serialises access to neighbour lists when several threads mutate one graph.
// Slots map onto a fixed set of mutexes (striped); the algorithm holds at most
// one stripe at a time, so striping cannot deadlock. Thread-safe.
class LockTable {
 public:
  explicit LockTable(uint32_t stripes = 1u << 16);
  ~LockTable();
  LockTable(const LockTable&) = delete;
  LockTable& operator=(const LockTable&) = delete;

  void Lock(uint32_t slot);
  void Unlock(uint32_t slot);
  // Takes the slot's stripe only if it is free. REQUIRES: the caller does not
  // hold that stripe (see SameStripe).
  bool TryLock(uint32_t slot);
  bool SameStripe(uint32_t a, uint32_t b) const { return ((a ^ b) & mask_) == 0; }
  // Guards AddNode/SetEntryPoint and the entry point's read.
  void LockGlobal();
  void UnlockGlobal();

 private:
  struct Stripe;
  uint32_t mask_;
  Stripe* stripes_;
  Stripe* global_;
};

// Up to k nearest live nodes to `query` (Params::dim floats), best first.
// Deleted (tombstoned) and filtered-out nodes are traversed but not returned.
// Paper: Algorithm 5 (K-NN-SEARCH) with Algorithm 2 (SEARCH-LAYER) on layer 0
// and greedy descent (ef = 1) above. `out` is cleared and refilled; no other
// allocation happens once the calling thread's scratch has grown to the graph.
// Thread-safe for concurrent readers of one store.
Status Search(const GraphReader& graph, const Params& params, const float* query,
              const SearchOptions& options, std::vector<SearchHit>* out);

// Links the node in `slot` into the graph. REQUIRES: the store holds the
// slot's vector and no node in it. The node's level is RandomLevel(params,
// slot). Paper: Algorithm 1 (INSERT) with Algorithm 4 (heuristic) for both
// the new node's lists and the shrinking of its neighbours' lists.
// With locks == nullptr the caller guarantees no concurrent mutation; with a
// LockTable, concurrent Insert calls on distinct slots sharing that table are
// safe (the store must honour GraphWriter's concurrency contract).
// Deterministic: the same inserts in the same order give the same graph.
// Reachability: like hnswlib, an insert can leave a node without in-links on
// layer 0 (its neighbours' heuristic prunes it). Two rules make that rare: a
// node all its neighbours pruned is appended where room is left, and a
// dropped entry whose own out-degree is <= 2 (an outlier, whose one in-link
// this probably was) is kept. It can still happen (most often with kDot,
// where low-norm vectors are nobody's neighbour); ConnectUnreachable() fixes
// it, and ParallelBuild() and Repair() run it.
Status Insert(GraphWriter& graph, const Params& params, uint32_t slot,
              LockTable* locks = nullptr);

// Inserts `slots` using `threads` threads (striped per-slot locks; see
// GraphWriter's concurrency contract). Slots are taken from the span in order
// by whichever thread is free, so the graph depends on scheduling unless
// threads <= 1 (then it equals Insert() of each slot in order). With
// `reconnect`, ends with ConnectUnreachable() so the result passes every
// CheckInvariants() check; that costs one O(nodes * M0) pass over the whole
// graph, which a caller adding a small batch to a large graph may defer.
Status ParallelBuild(GraphWriter& graph, const Params& params,
                     std::span<const uint32_t> slots, int threads, bool reconnect = true);

// Re-links the node in `slot` after its vector changed (update in place).
// Its neighbours' lists are re-chosen from their 2-hop neighbourhood, then
// the node is searched for and linked as if new, keeping its level (like
// hnswlib's updatePoint with updateNeighborProbability = 1). Single-threaded.
Status Relink(GraphWriter& graph, const Params& params, uint32_t slot);

struct RepairStats {
  uint64_t lists_rewritten = 0;   // lists that referred to a removed node
  uint64_t nodes_removed = 0;
  uint64_t nodes_reconnected = 0;  // live nodes re-linked for reachability
  bool entry_point_moved = false;
};

// Unlinks the nodes in `removed` (normally the store's tombstones) and frees
// their slots: every list naming one of them is rebuilt with the heuristic
// from its live entries plus the live neighbours of the removed ones (as in
// FreshDiskANN's delete consolidation), the entry point moves to a live node
// of the highest level if it was removed, then RemoveNode is called for each,
// and live nodes that lost layer-0 reachability from the entry point are
// re-linked. Ids in `removed` that hold no node are ignored. Single-threaded.
Status Repair(GraphWriter& graph, const Params& params,
              std::span<const uint32_t> removed, RepairStats* stats = nullptr);

// Re-links live nodes not reachable on layer 0 from the entry point (BFS),
// each by a fresh search from the entry point plus a forced in-link from its
// nearest reachable node. Returns how many were re-linked. Repair() calls it;
// exposed for stores that want to run it after a batch of inserts.
Result<uint64_t> ConnectUnreachable(GraphWriter& graph, const Params& params);

struct InvariantReport {
  bool ok() const { return errors.empty(); }
  // First problems found (at most kMaxErrors), each naming slot and level.
  std::vector<std::string> errors;
  uint64_t error_count = 0;
  uint64_t nodes = 0;         // slots holding a node
  uint64_t deleted = 0;       // of which tombstoned
  uint64_t unreachable = 0;   // live nodes not reachable on layer 0
  int max_level = -1;
  uint32_t entry_point = kNoSlot;
  std::vector<uint64_t> nodes_per_level;   // nodes with Level() >= l
  std::vector<double> mean_degree;         // per level
  static constexpr size_t kMaxErrors = 32;
};

// Checks the structure of a graph: ids in range and naming nodes, no
// self-links, no duplicates, degree <= the layer's maximum, a neighbour on
// layer l has level >= l, the entry point is a node on the top level and no
// node is above it, and every live node is reachable from the entry point on
// layer 0. Reads only; O(nodes * M0).
InvariantReport CheckInvariants(const GraphReader& graph, const Params& params);

}  // namespace vdb::hnsw
