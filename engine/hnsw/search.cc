// K-NN search (paper: Algorithm 5) and the neighbour-selection heuristic.

#include <algorithm>
#include <cmath>

#include "engine/hnsw/hnsw.h"
#include "engine/hnsw/memory_graph.h"
#include "engine/hnsw/search_layer.h"

namespace vdb::hnsw {
namespace internal {

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

void SelectNeighbors(const GraphReader& g, const Params& p, const std::vector<Cand>& pool,
                     uint32_t max, Scratch& s) {
  s.selected.clear();
  if (pool.size() < max) {
    s.selected.assign(pool.begin(), pool.end());
    return;
  }
  s.pruned.clear();
  s.selected_vecs.clear();
  for (const Cand& c : pool) {
    if (s.selected.size() >= max) break;
    const float* cv = g.Vector(c.slot);
    if (cv == nullptr) continue;
    bool good = true;
    for (size_t i = 0; i < s.selected.size(); ++i) {
      if (NodeDistance(g, p, s.selected[i].slot, s.selected_vecs[i], c.slot, cv) < c.dist) {
        good = false;
        break;
      }
    }
    if (good) {
      s.selected.push_back(c);
      s.selected_vecs.push_back(cv);
    } else if (p.keep_pruned_connections) {
      s.pruned.push_back(c);
    }
  }
  for (size_t i = 0; i < s.pruned.size() && s.selected.size() < max; ++i) {
    s.selected.push_back(s.pruned[i]);
  }
}

}  // namespace internal

Status Search(const GraphReader& g, const Params& p, const float* query,
              const SearchOptions& options, std::vector<SearchHit>* out) {
  // The in-memory store is final: searching it through its own type lets the
  // compiler inline its accessors in the inner loop.
  if (const auto* mem = dynamic_cast<const InMemoryGraph*>(&g)) {
    return internal::SearchWith(*mem, p, query, options, out);
  }
  return internal::SearchWith(g, p, query, options, out);
}

}  // namespace vdb::hnsw
