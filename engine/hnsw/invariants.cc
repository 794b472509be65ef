// CheckInvariants: structural checks of a graph, read-only.

#include <algorithm>
#include <string>
#include <vector>

#include "engine/hnsw/hnsw.h"

namespace vdb::hnsw {
namespace {

class Reporter {
 public:
  explicit Reporter(InvariantReport* r) : r_(r) {}
  void Error(std::string msg) {
    ++r_->error_count;
    if (r_->errors.size() < InvariantReport::kMaxErrors) r_->errors.push_back(std::move(msg));
  }

 private:
  InvariantReport* r_;
};

std::string At(uint32_t slot, int level) {
  return "slot " + std::to_string(slot) + " level " + std::to_string(level) + ": ";
}

}  // namespace

InvariantReport CheckInvariants(const GraphReader& g, const Params& p) {
  InvariantReport report;
  Reporter rep(&report);
  const uint32_t limit = g.SlotLimit();
  const int cap_level = std::clamp(p.max_level, 0, kMaxLevelCap);
  report.nodes_per_level.assign(cap_level + 1, 0);
  std::vector<uint64_t> links(cap_level + 1, 0);
  int highest = -1;
  for (uint32_t u = 0; u < limit; ++u) {
    const int lv = g.Level(u);
    if (lv < 0) continue;
    ++report.nodes;
    if (g.IsDeleted(u)) ++report.deleted;
    if (lv > p.max_level) {
      rep.Error(At(u, lv) + "level above the maximum " + std::to_string(p.max_level));
    }
    highest = std::max(highest, lv);
    for (int l = 0; l <= std::min(lv, cap_level); ++l) ++report.nodes_per_level[l];
  }

  // Entry point.
  const bool has_ep = g.HasEntryPoint();
  report.max_level = g.MaxLevel();
  if (has_ep) {
    const uint32_t ep = g.EntryPoint();
    report.entry_point = ep;
    if (ep >= limit || g.Level(ep) < 0) {
      rep.Error("entry point " + std::to_string(ep) + " is not a node");
    } else {
      if (g.Level(ep) != report.max_level) {
        rep.Error("entry point " + std::to_string(ep) + " has level " +
                  std::to_string(g.Level(ep)) + " but the graph's top level is " +
                  std::to_string(report.max_level));
      }
      if (highest > report.max_level) {
        rep.Error("a node has level " + std::to_string(highest) + " above the entry point's " +
                  std::to_string(report.max_level));
      }
    }
  } else if (report.nodes > 0) {
    rep.Error("graph has " + std::to_string(report.nodes) + " nodes but no entry point");
  }

  // Lists.
  std::vector<uint32_t> buf(std::max<uint32_t>(p.MaxDegree0(), p.m) + 1);
  std::vector<uint32_t> sorted;
  for (uint32_t u = 0; u < limit; ++u) {
    const int lv = g.Level(u);
    if (lv < 0) continue;
    for (int l = 0; l <= std::min(lv, cap_level); ++l) {
      const uint32_t cap = p.MaxDegree(l);
      // Ask for one more than the maximum so an over-long list shows.
      const uint32_t raw = g.Neighbors(u, l, buf.data(), cap + 1);
      if (raw > cap) {
        rep.Error(At(u, l) + "degree " + std::to_string(raw) + " above the maximum " +
                  std::to_string(cap));
      }
      const uint32_t n = std::min(raw, cap + 1);
      links[l] += n;
      sorted.assign(buf.begin(), buf.begin() + n);
      std::sort(sorted.begin(), sorted.end());
      for (uint32_t i = 0; i < n; ++i) {
        const uint32_t id = buf[i];
        if (id >= limit) {
          rep.Error(At(u, l) + "neighbour id " + std::to_string(id) + " out of range (limit " +
                    std::to_string(limit) + ")");
        } else if (id == u) {
          rep.Error(At(u, l) + "links to itself");
        } else if (g.Level(id) < 0) {
          rep.Error(At(u, l) + "neighbour " + std::to_string(id) + " is not a node");
        } else if (g.Level(id) < l) {
          rep.Error(At(u, l) + "neighbour " + std::to_string(id) + " has level " +
                    std::to_string(g.Level(id)));
        }
        if (i > 0 && sorted[i] == sorted[i - 1]) {
          rep.Error(At(u, l) + "neighbour " + std::to_string(sorted[i]) + " listed twice");
        }
      }
    }
  }
  report.mean_degree.assign(cap_level + 1, 0.0);
  for (int l = 0; l <= cap_level; ++l) {
    if (report.nodes_per_level[l] > 0) {
      report.mean_degree[l] = static_cast<double>(links[l]) / report.nodes_per_level[l];
    }
  }
  while (report.nodes_per_level.size() > 1 && report.nodes_per_level.back() == 0) {
    report.nodes_per_level.pop_back();
    report.mean_degree.pop_back();
  }

  // Reachability of live nodes on layer 0 from the entry point.
  if (has_ep && report.entry_point < limit && g.Level(report.entry_point) >= 0) {
    std::vector<uint8_t> reach(limit, 0);
    std::vector<uint32_t> queue{report.entry_point};
    reach[report.entry_point] = 1;
    const uint32_t cap = p.MaxDegree0();
    while (!queue.empty()) {
      const uint32_t u = queue.back();
      queue.pop_back();
      const uint32_t n = std::min(g.Neighbors(u, 0, buf.data(), cap), cap);
      for (uint32_t i = 0; i < n; ++i) {
        const uint32_t id = buf[i];
        if (id < limit && !reach[id] && g.Level(id) >= 0) {
          reach[id] = 1;
          queue.push_back(id);
        }
      }
    }
    for (uint32_t u = 0; u < limit; ++u) {
      if (g.Level(u) >= 0 && !reach[u] && !g.IsDeleted(u)) {
        ++report.unreachable;
        if (report.unreachable <= 4) {
          rep.Error("slot " + std::to_string(u) + " is not reachable from the entry point on layer 0");
        } else {
          ++report.error_count;
        }
      }
    }
  }
  return report;
}

}  // namespace vdb::hnsw
