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

using internal::Cand;

namespace {

template <typename R>
void SearchImpl(const R& g, const Params& p, const float* query, float q_inv, uint32_t ep,
                int top, uint32_t ef, const SearchOptions& options, internal::Scratch& s) {
  const uint32_t limit = g.SlotLimit();
  internal::WithQuery(p, query, q_inv, [&](const auto& qd) {
    Cand cur{qd(g, ep, g.Vector(ep)), ep};
    if (!(cur.dist <= internal::kInf)) cur.dist = internal::kInf;
    cur = internal::GreedyDescend(g, p, qd, cur, top, 0, nullptr, s);
    s.visited.Begin(limit);
    s.visited.TestAndSet(cur.slot);
    s.candidates.clear();
    s.results.clear();
    s.candidates.push_back(cur);
    auto accept = [&](uint32_t id) { return !g.IsDeleted(id) && options.filter(id); };
    if (accept(cur.slot)) s.results.push_back(cur);
    internal::SearchLayer(g, p, qd, ef, 0, nullptr, s, accept);
  });
}

}  // namespace

Status Search(const GraphReader& g, const Params& p, const float* query,
              const SearchOptions& options, std::vector<SearchHit>* out) {
  out->clear();
  if (query == nullptr) return Status::InvalidArgument("hnsw search: null query");
  for (uint32_t i = 0; i < p.dim; ++i) {
    if (!std::isfinite(query[i])) {
      return Status::InvalidArgument("hnsw search: query component " + std::to_string(i) +
                                     " is not a finite number");
    }
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

  internal::Scratch& s = internal::ThreadScratch();
  s.Reserve(p.MaxDegree0());
  float q_inv = 1.0f;
  if (p.metric == Metric::kCosine) {
    const float n2 = kernels::NormSqr(query, p.dim);
    q_inv = n2 > 0.0f ? 1.0f / std::sqrt(n2) : 0.0f;
  }
  // The in-memory store is final: searching it through its own type lets the
  // compiler inline its accessors in the inner loop.
  if (const auto* mem = dynamic_cast<const InMemoryGraph*>(&g)) {
    SearchImpl(*mem, p, query, q_inv, ep, top, ef, options, s);
  } else {
    SearchImpl(g, p, query, q_inv, ep, top, ef, options, s);
  }

  std::sort(s.results.begin(), s.results.end(), internal::CloserThan);
  const size_t n = std::min<size_t>(options.k, s.results.size());
  out->resize(n);
  for (size_t i = 0; i < n; ++i) {
    const Cand& c = s.results[i];
    float score = c.dist;
    if (p.metric == Metric::kCosine) score = 1.0f - c.dist;
    if (p.metric == Metric::kDot) score = -c.dist;
    (*out)[i] = {c.slot, score};
  }
  return Status::Ok();
}

}  // namespace vdb::hnsw
