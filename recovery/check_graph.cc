// The HNSW part of the check (format/graph.h): layer-0 records in the graph
// extents, upper-layer lists in their heap, the roots in the meta body.
// Invariants (Malkov & Yashunin, 2018, as hnsw::CheckInvariants states them):
// neighbour ids in range and naming nodes, no self-links or duplicates,
// degree <= the layer's maximum (M0 on layer 0, M above), a neighbour on layer
// l has level >= l, the entry point is a node on the top level, and every live
// node is reachable from it on layer 0. Plus the ties to the slots: every live
// record is a node or on the unindexed list (not both), tombstones match
// deleted slots, free slots hold no node.
#include <algorithm>
#include <cstring>
#include <vector>

#include "format/coding.h"
#include "format/graph.h"
#include "recovery/check_internal.h"

namespace vdb::recovery::check {

using namespace vdb::format;

namespace {

constexpr uint8_t kFlagReached = 64;

class GraphCheck {
 public:
  explicit GraphCheck(Context* ctx)
      : ctx_(ctx),
        b_(ctx->body),
        m_(ctx->header.hnsw_m),
        m0_(ctx->header.hnsw_m0),
        rec_size_(GraphRecordSize(m0_)),
        per_page_(kPagePayload / rec_size_) {}

  Status Run();

 private:
  // Reads slot's layer-0 record into rec_ (rec_size_ bytes). False if the
  // slot's extent is not allocated (no node) or its page is unusable.
  Status Record(uint32_t slot, bool* present, bool verify);
  Status UpperList(uint32_t slot, const GraphRecord& r, int level, std::vector<uint32_t>* out, bool* ok);
  void CheckList(uint32_t slot, int level, const std::vector<uint32_t>& ids, uint32_t cap);
  // Reads the unindexed list, flags its slots kFlagUnindexed and reports
  // impossible entries.
  Status Unindexed();

  Context* ctx_;
  const MetaBody& b_;
  const uint32_t m_, m0_, rec_size_, per_page_;
  std::vector<uint8_t> level_;  // per walkable slot: 0 no node, else level + 1
  uint8_t page_[kPageSize];
  uint64_t cur_pgno_ = ~0ull;
  bool cur_ok_ = false;
  const uint8_t* rec_ = nullptr;
  Status io_;
  uint64_t edges0_ = 0;
};

Status GraphCheck::Record(uint32_t slot, bool* present, bool verify) {
  *present = false;
  ExtentPos ep = ExtentOf(slot);
  uint64_t first = b_.graph_extents[ep.extent];
  if (first == 0) return Status::Ok();
  uint64_t pgno = first + ep.index / per_page_;
  if (pgno >= b_.page_count) return Status::Ok();
  if (pgno != cur_pgno_) {
    VDB_RETURN_IF_ERROR(ctx_->image->ReadPage(pgno, page_));
    cur_pgno_ = pgno;
    // A page no node was ever written to is all zeros (never sealed).
    bool zero = true;
    for (uint32_t i = 0; i < kPageSize && zero; i++) zero = page_[i] == 0;
    cur_ok_ = zero || !verify || ctx_->VerifySealed(pgno, "graph page", &io_);
    if (!io_.ok()) return io_;
  }
  if (!cur_ok_) return Status::Ok();
  rec_ = page_ + (ep.index % per_page_) * rec_size_;
  *present = true;
  return Status::Ok();
}

Status GraphCheck::UpperList(uint32_t slot, const GraphRecord& r, int level, std::vector<uint32_t>* out, bool* ok) {
  *ok = false;
  out->clear();
  const uint64_t list = UpperListSize(m_);
  uint64_t pgno = r.upper_ref / kPageSize, in = r.upper_ref % kPageSize;
  const std::string name = "graph node " + Num(slot) + " level " + std::to_string(level);
  if (r.upper_ref == 0 || in >= kPagePayload || pgno < kFirstDataPage) {
    ctx_->Damage("graph.upper_ref", name, "the node's upper-layer lists are not inside a page payload", -1, -1, slot,
                 "a heap offset", Num(r.upper_ref));
    return Status::Ok();
  }
  uint64_t pos = in + static_cast<uint64_t>(level - 1) * list;
  pgno += pos / kPagePayload;
  in = pos % kPagePayload;
  std::vector<uint8_t> buf(list);
  uint8_t page[kPageSize];
  size_t done = 0;
  while (done < list) {
    if (pgno >= b_.page_count) {
      ctx_->Damage("graph.upper_ref", name, "the node's upper-layer list runs past the file", -1, -1, slot);
      return Status::Ok();
    }
    if (!ctx_->VerifySealed(pgno, "graph upper-layer page", &io_)) return io_;
    VDB_RETURN_IF_ERROR(ctx_->image->ReadPage(pgno, page));
    size_t n = std::min<uint64_t>(list - done, kPagePayload - in);
    std::memcpy(buf.data() + done, page + in, n);
    done += n;
    pgno++;
    in = 0;
  }
  uint32_t count = GetU32(buf.data());
  if (count > m_) {
    ctx_->Damage("graph.degree", name, "neighbour count above the layer's maximum M", -1,
                 static_cast<int64_t>(r.upper_ref), slot, "<= " + Num(m_), Num(count));
    count = m_;
  }
  for (uint32_t i = 0; i < count; i++) out->push_back(GetU32(buf.data() + 4 + 4 * i));
  *ok = true;
  return Status::Ok();
}

void GraphCheck::CheckList(uint32_t slot, int level, const std::vector<uint32_t>& ids, uint32_t cap) {
  const std::string name = "graph node " + Num(slot) + " level " + std::to_string(level);
  std::vector<uint32_t> sorted(ids);
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 1; i < sorted.size(); i++)
    if (sorted[i] == sorted[i - 1])
      ctx_->Damage("graph.duplicate", name, "neighbour " + Num(sorted[i]) + " is listed twice", -1, -1, slot);
  for (uint32_t id : ids) {
    if (id >= b_.slot_hwm) {
      ctx_->Damage("graph.neighbor_range", name, "neighbour id out of range", -1, -1, slot, "< " + Num(b_.slot_hwm),
                   Num(id));
    } else if (id == slot) {
      ctx_->Damage("graph.self_link", name, "the node links to itself", -1, -1, slot);
    } else if (id < level_.size() && level_[id] == 0) {
      ctx_->Damage("graph.neighbor_not_node", name, "neighbour " + Num(id) + " holds no graph node", -1, -1, slot);
    } else if (id < level_.size() && level_[id] - 1 < level) {
      ctx_->Damage("graph.neighbor_level", name,
                   "neighbour " + Num(id) + " has level " + std::to_string(level_[id] - 1) + ", below this layer", -1,
                   -1, slot);
    }
  }
  (void)cap;
}

Status GraphCheck::Unindexed() {
  const uint64_t n = ctx_->walkable_slots;
  if (ctx_->header.format_version < kFirstVersionWithUnindexedList &&
      (b_.unindexed_page != 0 || b_.unindexed_count != 0)) {
    ctx_->Damage("unindexed.version", "meta page", "a version 1 file has an unindexed list", -1, -1, -1, "none",
                 Num(b_.unindexed_count) + " entries at page " + Num(b_.unindexed_page));
    return Status::Ok();
  }
  if (b_.unindexed_count == 0) return Status::Ok();
  // DecodeMetaBody bounded the count and the page; the page itself may be bad.
  uint8_t page[kPageSize];
  for (uint32_t i = 0; i < b_.unindexed_count; i++) {
    const uint64_t pgno = b_.unindexed_page + i / kUnindexedPerPage;
    const uint32_t off = (i % kUnindexedPerPage) * 4;
    if (off == 0 || i == 0) {
      if (!ctx_->VerifySealed(pgno, "unindexed list page", &io_)) {
        if (!io_.ok()) return io_;
        return Status::Ok();
      }
      VDB_RETURN_IF_ERROR(ctx_->image->ReadPage(pgno, page));
    }
    const uint32_t slot = GetU32(page + off);
    const std::string name = "unindexed list entry " + Num(i);
    const int64_t at = static_cast<int64_t>(pgno * kPageSize + off);
    if (slot >= b_.slot_hwm) {
      ctx_->Damage("unindexed.slot_range", name, "names a slot beyond the high-water mark", static_cast<int64_t>(pgno),
                   at, -1, "< " + Num(b_.slot_hwm), Num(slot));
      continue;
    }
    if (slot >= n) continue;  // past the walkable slots: already reported
    if (ctx_->slot_flags[slot] & kFlagUnindexed) {
      ctx_->Damage("unindexed.duplicate", name, "the slot is listed twice", static_cast<int64_t>(pgno), at, slot);
      continue;
    }
    ctx_->slot_flags[slot] |= kFlagUnindexed;
    if (!(ctx_->slot_flags[slot] & kFlagLive))
      ctx_->Damage("unindexed.not_live", name, "the listed slot holds no live record", static_cast<int64_t>(pgno), at,
                   slot);
  }
  return Status::Ok();
}

Status GraphCheck::Run() {
  const uint64_t n = ctx_->walkable_slots;
  VDB_RETURN_IF_ERROR(Unindexed());
  const bool any = b_.graph_entry != kNoSlot || b_.graph_nodes > 0;
  if (any && b_.graph_record_size != rec_size_)
    ctx_->Damage("graph.record_size", "meta page", "the graph record size does not match the header's M0", -1, -1,
                 -1, Num(rec_size_), Num(b_.graph_record_size));
  // Pass 1: levels, flags, ties to the slots.
  level_.assign(n, 0);
  uint64_t nodes = 0;
  int highest = -1;
  for (uint64_t s = 0; s < n; s++) {
    const uint32_t slot = static_cast<uint32_t>(s);
    bool present;
    VDB_RETURN_IF_ERROR(Record(slot, &present, true));
    GraphRecord r;
    if (present) r = DecodeGraphRecordHeader(rec_);
    const uint8_t fl = ctx_->slot_flags[s];
    const std::string name = "graph node " + Num(s);
    if (r.level > static_cast<int>(kGraphMaxLevel)) {
      ctx_->Damage("graph.level", name, "node level out of range", static_cast<int64_t>(cur_pgno_), -1, slot,
                   "<= " + Num(kGraphMaxLevel), std::to_string(r.level));
      continue;
    }
    if (r.level < 0) {
      if ((fl & kFlagLive) && (fl & kFlagUnindexed)) continue;  // searched exactly until linked
      if (fl & (kFlagLive | kFlagDeleted))
        ctx_->Damage("graph.missing_node", name,
                     std::string("a ") + ((fl & kFlagLive) ? "live" : "deleted") +
                         " record is not in the graph: searches cannot find it",
                     -1, -1, slot);
      continue;
    }
    nodes++;
    level_[s] = static_cast<uint8_t>(r.level + 1);
    if (fl & kFlagUnindexed)
      ctx_->Damage("unindexed.in_graph", name, "a slot on the unindexed list is already a graph node", -1, -1, slot);
    highest = std::max(highest, r.level);
    if (fl & kFlagFree)
      ctx_->Damage("graph.free_slot_node", name, "a free slot still holds a graph node", -1, -1, slot);
    if ((fl & kFlagLive) && r.deleted)
      ctx_->Damage("graph.tombstone", name, "a live record's node is marked deleted", -1, -1, slot);
    if ((fl & kFlagDeleted) && !r.deleted)
      ctx_->Damage("graph.tombstone", name, "a deleted record's node is not marked deleted", -1, -1, slot);
    if (r.count > m0_) {
      ctx_->Damage("graph.degree", name, "layer-0 neighbour count above M0", static_cast<int64_t>(cur_pgno_), -1,
                   slot, "<= " + Num(m0_), Num(r.count));
    }
    edges0_ += std::min<uint32_t>(r.count, m0_);
  }
  if (n == b_.slot_hwm) {
    if (nodes != b_.graph_nodes)
      ctx_->Damage("graph.count", "meta page", "graph nodes counted differ from the meta page's count", -1, -1, -1,
                   Num(b_.graph_nodes), Num(nodes));
    if (edges0_ != b_.graph_edges0)
      ctx_->Damage("graph.edge_count", "meta page", "layer-0 links counted differ from the meta page's count", -1, -1,
                   -1, Num(b_.graph_edges0), Num(edges0_));
  }
  // Entry point.
  if (b_.graph_entry == kNoSlot) {
    if (nodes > 0)
      ctx_->Damage("graph.entry", "meta page", "the graph has nodes but no entry point", -1, -1, -1, "a node", "none");
  } else if (b_.graph_entry < n) {
    int lv = static_cast<int>(level_[b_.graph_entry]) - 1;
    if (lv < 0)
      ctx_->Damage("graph.entry", "meta page", "the entry point is not a graph node", -1, -1, b_.graph_entry);
    else if (lv != static_cast<int>(b_.graph_max_level))
      ctx_->Damage("graph.entry", "meta page", "the entry point is not on the graph's top level", -1, -1,
                   b_.graph_entry, Num(b_.graph_max_level), std::to_string(lv));
    if (highest > static_cast<int>(b_.graph_max_level))
      ctx_->Damage("graph.level", "meta page", "a node lies above the entry point's top level", -1, -1, -1,
                   "<= " + Num(b_.graph_max_level), std::to_string(highest));
  }
  // Pass 2: the lists.
  std::vector<uint32_t> ids;
  for (uint64_t s = 0; s < n; s++) {
    if (level_[s] == 0) continue;
    const uint32_t slot = static_cast<uint32_t>(s);
    bool present;
    VDB_RETURN_IF_ERROR(Record(slot, &present, false));
    if (!present) continue;
    GraphRecord r = DecodeGraphRecordHeader(rec_);
    ids.clear();
    for (uint32_t i = 0; i < std::min<uint32_t>(r.count, m0_); i++) ids.push_back(GetU32(rec_ + kGraphOffNeighbors + 4 * i));
    CheckList(slot, 0, ids, m0_);
    for (int lv = 1; lv <= r.level; lv++) {
      bool ok;
      VDB_RETURN_IF_ERROR(UpperList(slot, r, lv, &ids, &ok));
      if (!ok) break;
      CheckList(slot, lv, ids, m_);
    }
  }
  // Reachability of live nodes on layer 0 from the entry point.
  if (b_.graph_entry < n && level_[b_.graph_entry] != 0) {
    std::vector<uint32_t> stack{b_.graph_entry};
    ctx_->slot_flags[b_.graph_entry] |= kFlagReached;
    while (!stack.empty()) {
      uint32_t u = stack.back();
      stack.pop_back();
      bool present;
      VDB_RETURN_IF_ERROR(Record(u, &present, false));
      if (!present) continue;
      GraphRecord r = DecodeGraphRecordHeader(rec_);
      uint32_t c = std::min<uint32_t>(r.count, m0_);
      for (uint32_t i = 0; i < c; i++) {
        uint32_t id = GetU32(rec_ + kGraphOffNeighbors + 4 * i);
        if (id < n && level_[id] != 0 && !(ctx_->slot_flags[id] & kFlagReached)) {
          ctx_->slot_flags[id] |= kFlagReached;
          stack.push_back(id);
        }
      }
    }
    for (uint64_t s = 0; s < n; s++)
      if (level_[s] != 0 && (ctx_->slot_flags[s] & kFlagLive) && !(ctx_->slot_flags[s] & kFlagReached))
        // Not damage: links since the last reachability pass can cut a node
        // off (docs/hnsw.md); the next pass, Compact or Close re-links it.
        ctx_->Warn("graph.unreachable", "graph node " + Num(s),
                   "a live node is not reachable from the entry point on layer 0: HNSW searches miss it until the "
                   "next reachability pass (vdb compact, or a read-write open and close)",
                   -1, -1, static_cast<int64_t>(s));
  }
  return Status::Ok();
}

}  // namespace

Status CheckGraph(Context* ctx) { return GraphCheck(ctx).Run(); }

}  // namespace vdb::recovery::check
