// Deletion repair, reachability repair and re-linking of updated vectors.

#include <algorithm>
#include <string>
#include <vector>

#include "engine/hnsw/hnsw.h"
#include "engine/hnsw/link.h"
#include "engine/hnsw/search_layer.h"

namespace vdb::hnsw {

using internal::Cand;
using internal::LinkMode;
using internal::NodeDistance;
using internal::Scratch;

namespace {

// Removed nodes whose lists Repair() reads while gathering replacement
// candidates for one list (breadth first through removed nodes).
constexpr size_t kMaxRemovedExpanded = 64;

// Marks every node reachable on layer 0 from `start` (through tombstoned
// nodes too). Ids are validated; `reach` has SlotLimit() entries.
void MarkReachable(const GraphReader& g, const Params& p, uint32_t start,
                   std::vector<uint8_t>* reach, std::vector<uint32_t>* queue,
                   std::vector<uint32_t>* buf) {
  if ((*reach)[start]) return;
  const uint32_t limit = g.SlotLimit();
  const uint32_t cap = p.MaxDegree0();
  buf->resize(cap);
  queue->clear();
  queue->push_back(start);
  (*reach)[start] = 1;
  while (!queue->empty()) {
    const uint32_t u = queue->back();
    queue->pop_back();
    const uint32_t n = std::min(g.ScanNeighbors(u, 0, buf->data(), cap), cap);
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t id = (*buf)[i];
      if (id >= limit || (*reach)[id] || g.ScanLevel(id) < 0) continue;
      (*reach)[id] = 1;
      queue->push_back(id);
    }
  }
}

Status CheckEntryPoint(const GraphReader& g, const Params& p, const char* who) {
  const uint32_t ep = g.EntryPoint();
  const int top = g.MaxLevel();
  if (ep >= g.SlotLimit() || top < 0 || top > p.max_level || g.Level(ep) < top ||
      g.Vector(ep) == nullptr) {
    return Status::Corruption(std::string(who) + ": entry point " + std::to_string(ep) +
                              " at level " + std::to_string(top) +
                              " is not a node of that level");
  }
  return Status::Ok();
}

// One round of ConnectUnreachable; returns how many nodes it re-linked.
Result<uint64_t> ConnectRound(GraphWriter& g, const Params& p, Scratch& s) {
  const uint32_t limit = g.SlotLimit();
  const uint32_t ep = g.EntryPoint();
  const int top = g.MaxLevel();
  std::vector<uint8_t> reach(limit, 0);
  std::vector<uint32_t> queue;
  std::vector<uint32_t> buf;
  MarkReachable(g, p, ep, &reach, &queue, &buf);
  std::vector<Cand> found;
  uint64_t relinked = 0;
  for (uint32_t u = 0; u < limit; ++u) {
    if (reach[u] || g.ScanLevel(u) < 0 || g.IsDeleted(u) || g.Vector(u) == nullptr) continue;
    const int level = std::min(g.Level(u), top);
    // Out-links by a fresh search; in-links only where lists have room, so
    // no reachable node loses a link...
    VDB_RETURN_IF_ERROR(internal::LinkNode(g, p, u, level, ep, top, /*merge=*/true,
                                           LinkMode::kAppendOnly, nullptr, s, &found));
    // ...then one in-link from a reachable node on layer 0, preferring one
    // with room; only if none has room is an entry replaced.
    bool linked = false;
    for (const Cand& c : found) {
      if (c.slot == u || !reach[c.slot]) continue;
      VDB_RETURN_IF_ERROR(internal::LinkInto(g, p, c.slot, 0, u, c.dist, LinkMode::kAppendOnly,
                                             nullptr, s, &linked));
      if (linked) break;
    }
    if (!linked) {
      uint32_t r = ep;
      float d = 0.0f;
      for (const Cand& c : found) {
        if (c.slot != u && reach[c.slot]) {
          r = c.slot;
          d = c.dist;
          break;
        }
      }
      if (r == ep) d = NodeDistance(g, p, ep, g.Vector(ep), u, g.Vector(u));
      VDB_RETURN_IF_ERROR(
          internal::LinkInto(g, p, r, 0, u, d, LinkMode::kForce, nullptr, s, &linked));
    }
    MarkReachable(g, p, u, &reach, &queue, &buf);
    ++relinked;
  }
  return relinked;
}

}  // namespace

Result<uint64_t> ConnectUnreachable(GraphWriter& g, const Params& p) {
  VDB_RETURN_IF_ERROR(p.Validate());
  if (!g.HasEntryPoint()) return uint64_t{0};
  VDB_RETURN_IF_ERROR(CheckEntryPoint(g, p, "hnsw connect"));
  Scratch& s = internal::ThreadScratch();
  s.Reserve(p.MaxDegree0());
  // A forced link may drop an entry of a reachable node and so cut off what
  // only that entry reached; further rounds re-link those. Each round only
  // touches what the previous one cut off, so a few rounds settle.
  uint64_t total = 0;
  for (int round = 0; round < 8; ++round) {
    VDB_ASSIGN_OR_RETURN(uint64_t n, ConnectRound(g, p, s));
    total += n;
    if (n == 0) break;
  }
  return total;
}

Status Repair(GraphWriter& g, const Params& p, std::span<const uint32_t> removed,
              RepairStats* stats) {
  VDB_RETURN_IF_ERROR(p.Validate());
  RepairStats local;
  RepairStats& st = stats != nullptr ? *stats : local;
  st = RepairStats{};
  const uint32_t limit = g.SlotLimit();
  std::vector<uint8_t> gone(limit, 0);
  std::vector<uint32_t> targets;
  for (uint32_t id : removed) {
    if (id < limit && !gone[id] && g.Level(id) >= 0) {
      gone[id] = 1;
      targets.push_back(id);
    }
  }
  if (targets.empty()) return Status::Ok();

  Scratch& s = internal::ThreadScratch();
  s.Reserve(p.MaxDegree0());
  std::vector<uint32_t> own(p.MaxDegree0());
  std::vector<uint32_t> frontier;
  // 1. Rebuild every list that names a removed node, on every layer.
  for (uint32_t node = 0; node < limit; ++node) {
    const int node_level = std::min(g.Level(node), p.max_level);
    if (node_level < 0 || gone[node]) continue;
    const float* vn = g.Vector(node);
    if (vn == nullptr) continue;
    for (int l = 0; l <= node_level; ++l) {
      const uint32_t cap = p.MaxDegree(l);
      const uint32_t n = std::min(g.Neighbors(node, l, own.data(), cap), cap);
      bool touched = false;
      for (uint32_t i = 0; i < n && !touched; ++i) touched = own[i] < limit && gone[own[i]];
      if (!touched) continue;
      s.visited.Begin(limit);
      s.visited.TestAndSet(node);
      s.pool.clear();
      frontier.clear();
      auto consider = [&](uint32_t id) {
        if (id >= limit || s.visited.TestAndSet(id)) return;
        if (gone[id]) {
          frontier.push_back(id);
        } else if (g.Level(id) >= l) {
          const float* v = g.Vector(id);
          if (v != nullptr) s.pool.push_back({NodeDistance(g, p, node, vn, id, v), id});
        }
      };
      for (uint32_t i = 0; i < n; ++i) consider(own[i]);
      // FreshDiskANN-style: the removed neighbours' own neighbours replace
      // them, breadth first through removed nodes until the pool is full.
      for (size_t f = 0; f < frontier.size() && f < kMaxRemovedExpanded &&
                         s.pool.size() < p.ef_construction;
           ++f) {
        const uint32_t m = std::min(g.Neighbors(frontier[f], l, s.list.data(), cap), cap);
        for (uint32_t i = 0; i < m; ++i) consider(s.list[i]);
      }
      std::sort(s.pool.begin(), s.pool.end(), internal::Closer());
      if (s.pool.size() > p.ef_construction) s.pool.resize(p.ef_construction);
      internal::SelectNeighbors(g, p, s.pool, cap, s);
      for (size_t i = 0; i < s.selected.size(); ++i) s.list2[i] = s.selected[i].slot;
      VDB_RETURN_IF_ERROR(
          g.SetNeighbors(node, l, std::span<const uint32_t>(s.list2.data(), s.selected.size())));
      ++st.lists_rewritten;
    }
  }

  // 2. Move the entry point off a removed node: to a live node of the
  // highest level (a tombstoned one only if nothing else is left).
  const uint32_t ep = g.EntryPoint();
  if (!g.HasEntryPoint() || ep >= limit || gone[ep] || g.Level(ep) < 0) {
    uint32_t best = kNoSlot;
    int best_level = -1;
    bool best_deleted = true;
    for (uint32_t u = 0; u < limit; ++u) {
      const int lv = std::min(g.Level(u), p.max_level);
      if (lv < 0 || gone[u]) continue;
      const bool del = g.IsDeleted(u);
      if ((best_deleted && !del) || (del == best_deleted && lv > best_level)) {
        best = u;
        best_level = lv;
        best_deleted = del;
      }
    }
    if (best == kNoSlot) {
      VDB_RETURN_IF_ERROR(g.ClearEntryPoint());
    } else {
      VDB_RETURN_IF_ERROR(g.SetEntryPoint(best, best_level));
    }
    st.entry_point_moved = true;
  }

  // 3. Free the slots.
  for (uint32_t id : targets) {
    VDB_RETURN_IF_ERROR(g.RemoveNode(id));
    ++st.nodes_removed;
  }

  // 4. Lists rebuilt by the heuristic may have dropped a node's last in-link.
  VDB_ASSIGN_OR_RETURN(st.nodes_reconnected, ConnectUnreachable(g, p));
  return Status::Ok();
}

Status Relink(GraphWriter& g, const Params& p, uint32_t slot) {
  VDB_RETURN_IF_ERROR(p.Validate());
  const uint32_t limit = g.SlotLimit();
  if (slot >= limit || g.Level(slot) < 0) {
    return Status::InvalidArgument("hnsw relink: slot " + std::to_string(slot) +
                                   " holds no node");
  }
  if (!g.HasEntryPoint()) return Status::Corruption("hnsw relink: graph has no entry point");
  VDB_RETURN_IF_ERROR(CheckEntryPoint(g, p, "hnsw relink"));
  const int level = std::min(g.Level(slot), p.max_level);
  const float* vs = g.Vector(slot);
  if (vs == nullptr) return Status::InvalidArgument("hnsw relink: slot has no vector");
  Scratch& s = internal::ThreadScratch();
  s.Reserve(p.MaxDegree0());
  std::vector<uint32_t> one(p.MaxDegree0());
  std::vector<uint32_t> cand_ids;
  // 1. Each neighbour re-chooses its list among the node and its 2-hop
  // neighbourhood (hnswlib: updatePoint), since the node moved.
  for (int l = 0; l <= level; ++l) {
    const uint32_t cap = p.MaxDegree(l);
    uint32_t n1 = std::min(g.Neighbors(slot, l, one.data(), cap), cap);
    s.visited.Begin(limit);
    s.visited.TestAndSet(slot);
    cand_ids.assign(1, slot);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n1; ++i) {
      const uint32_t id = one[i];
      if (id >= limit || g.Level(id) < l || s.visited.TestAndSet(id)) continue;
      one[k++] = id;
      cand_ids.push_back(id);
    }
    n1 = k;
    for (uint32_t i = 0; i < n1; ++i) {
      const uint32_t m = std::min(g.Neighbors(one[i], l, s.list.data(), cap), cap);
      for (uint32_t j = 0; j < m; ++j) {
        const uint32_t id = s.list[j];
        if (id >= limit || g.Level(id) < l || s.visited.TestAndSet(id)) continue;
        cand_ids.push_back(id);
      }
    }
    for (uint32_t i = 0; i < n1; ++i) {
      const uint32_t nb = one[i];
      const float* vnb = g.Vector(nb);
      if (vnb == nullptr) continue;
      s.pool.clear();
      for (uint32_t c : cand_ids) {
        if (c == nb) continue;
        const float* vc = g.Vector(c);
        if (vc != nullptr) s.pool.push_back({NodeDistance(g, p, nb, vnb, c, vc), c});
      }
      std::sort(s.pool.begin(), s.pool.end(), internal::Closer());
      if (s.pool.size() > p.ef_construction) s.pool.resize(p.ef_construction);
      internal::SelectNeighbors(g, p, s.pool, cap, s);
      for (size_t j = 0; j < s.selected.size(); ++j) s.list2[j] = s.selected[j].slot;
      VDB_RETURN_IF_ERROR(
          g.SetNeighbors(nb, l, std::span<const uint32_t>(s.list2.data(), s.selected.size())));
    }
  }
  // 2. The node's own lists: searched afresh from the entry point.
  return internal::LinkNode(g, p, slot, level, g.EntryPoint(), g.MaxLevel(), /*merge=*/false,
                            LinkMode::kShrink, nullptr, s, nullptr);
}

}  // namespace vdb::hnsw
