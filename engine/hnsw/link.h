// Internal: how build.cc and repair.cc change neighbour lists. Not part of
// the API. Every function takes the caller's LockTable (nullptr when the
// caller is the only writer) and holds at most one slot lock at a time.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/hnsw/graph_store.h"
#include "engine/hnsw/params.h"
#include "engine/hnsw/search_layer.h"
#include "vdb/status.h"

namespace vdb::hnsw::internal {

// What LinkInto does when the list is already full.
enum class LinkMode {
  kShrink,      // re-choose the list by heuristic among old entries + newcomer
  kAppendOnly,  // leave the list unchanged
  kForce,       // replace the entry farthest from the list's owner
};

// Adds `newcomer` (at distance `dist` from `node`) to node's list on `level`
// (paper: Algorithm 1, lines 11-16, the neighbour side of "add bidirectional
// connections" and its shrink). Entries the store returns that are out of
// range, self-links or below `level` are dropped on the way. Sets *linked to
// whether the newcomer is in the list afterwards. Uses s.list2, s.pool,
// s.selected, s.pruned, s.selected_vecs.
Status LinkInto(GraphWriter& g, const Params& p, uint32_t node, int level, uint32_t newcomer,
                float dist, LinkMode mode, LockTable* locks, Scratch& s, bool* linked);

// Sets the list of `slot` on `level` to `chosen` (sorted closest first). With
// `merge`, entries already in the list (added concurrently by other inserts,
// or kept from before) are pooled with `chosen` and the heuristic picks the
// final list if they do not all fit. Uses s.list2, s.pool, s.selected, ...
Status SetOwnList(GraphWriter& g, const Params& p, uint32_t slot, int level,
                  const std::vector<Cand>& chosen, bool merge, LockTable* locks, Scratch& s);

// Searches the neighbours of the node in `slot` (already a node of `level`)
// from entry point `ep` at top level `top`, sets its lists (SetOwnList with
// `merge`) and links it from each chosen neighbour with `mode`. Paper:
// Algorithm 1, lines 5-17. If `layer0_found` is given, receives layer 0's
// search result (sorted). Uses all of s.
Status LinkNode(GraphWriter& g, const Params& p, uint32_t slot, int level, uint32_t ep, int top,
                bool merge, LinkMode mode, LockTable* locks, Scratch& s,
                std::vector<Cand>* layer0_found);

}  // namespace vdb::hnsw::internal
