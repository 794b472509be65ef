#include "engine/txn_graph.h"

#include <algorithm>
#include <cstring>

#include "engine/write_txn.h"
#include "format/coding.h"
#include "format/pages.h"

namespace vdb {

using namespace vdb::format;

TxnGraph::TxnGraph(WriteTxn* txn) : txn_(txn), params_(GraphParams(*txn->layout_->header)) {
  entry_ = txn->meta_.graph_entry;
  max_level_ = static_cast<int>(txn->meta_.graph_max_level);
}

TxnGraph::~TxnGraph() = default;

GraphPages TxnGraph::Pages() const { return GraphPages(txn_, &txn_->meta_, txn_->layout_); }

uint32_t TxnGraph::SlotLimit() const { return static_cast<uint32_t>(txn_->meta_.slot_hwm); }

TxnGraph::Node* TxnGraph::Find(uint32_t slot) const {
  Shard& sh = shards_[slot % kShards];
  std::lock_guard<std::mutex> l(sh.mu);
  auto it = sh.nodes.find(slot);
  return it == sh.nodes.end() ? nullptr : it->second.get();
}

TxnGraph::Node* TxnGraph::Load(uint32_t slot) {
  Shard& sh = shards_[slot % kShards];
  std::lock_guard<std::mutex> l(sh.mu);
  auto it = sh.nodes.find(slot);
  if (it != sh.nodes.end()) return it->second.get();
  auto n = std::make_unique<Node>();
  GraphPages gp = Pages();
  GraphRecord r = gp.Header(slot);
  n->level = r.level;
  n->deleted = r.deleted;
  n->inv_norm = r.inv_norm;
  if (r.level >= 0) {
    n->lists.resize(r.level + 1);
    std::vector<uint32_t> buf(std::max(gp.m0(), gp.m()));
    for (int lv = 0; lv <= r.level; lv++) {
      uint32_t cap = lv == 0 ? gp.m0() : gp.m();
      uint32_t c = std::min(gp.Neighbors(slot, lv, buf.data(), cap), cap);
      n->lists[lv].assign(buf.begin(), buf.begin() + c);
    }
  }
  Node* p = n.get();
  sh.nodes.emplace(slot, std::move(n));
  return p;
}

int TxnGraph::Level(uint32_t slot) const {
  if (Node* n = Find(slot)) return n->level;
  return Pages().Header(slot).level;
}

uint32_t TxnGraph::Neighbors(uint32_t slot, int level, uint32_t* out, uint32_t capacity) const {
  if (Node* n = Find(slot)) {
    if (level < 0 || level > n->level) return 0;
    const auto& l = n->lists[level];
    uint32_t c = std::min<uint32_t>(static_cast<uint32_t>(l.size()), capacity);
    std::copy(l.begin(), l.begin() + c, out);
    return static_cast<uint32_t>(l.size());
  }
  return Pages().Neighbors(slot, level, out, capacity);
}

const float* TxnGraph::Vector(uint32_t slot) const { return txn_->Vector(slot); }

float TxnGraph::InvNorm(uint32_t slot) const {
  if (Node* n = Find(slot)) return n->inv_norm;
  auto r = txn_->reader().Slot(slot);
  return r.ok() ? r->inv_norm : 0.0f;
}

bool TxnGraph::IsDeleted(uint32_t slot) const {
  if (Node* n = Find(slot)) return n->deleted;
  auto r = txn_->reader().Slot(slot);
  return !r.ok() || r->state != kSlotLive;
}

Status TxnGraph::AddNode(uint32_t slot, int level) {
  if (level < 0 || level > static_cast<int>(kGraphMaxLevel)) return Status::InvalidArgument("graph level out of range");
  Node* n = Load(slot);
  VDB_ASSIGN_OR_RETURN(SlotRecord r, txn_->reader().Slot(slot));
  n->level = level;
  n->deleted = r.state != kSlotLive;
  n->inv_norm = r.inv_norm;
  n->lists.assign(level + 1, {});
  return Status::Ok();
}

Status TxnGraph::SetNeighbors(uint32_t slot, int level, std::span<const uint32_t> ids) {
  Node* n = Load(slot);
  if (level < 0 || level > n->level) return Status::InvalidArgument("SetNeighbors above the node's level");
  if (ids.size() > params_.MaxDegree(level)) return Status::InvalidArgument("neighbour list over its maximum degree");
  n->lists[level].assign(ids.begin(), ids.end());
  return Status::Ok();
}

Status TxnGraph::SetEntryPoint(uint32_t slot, int level) {
  entry_ = slot;
  max_level_ = level;
  return Status::Ok();
}

Status TxnGraph::ClearEntryPoint() {
  entry_ = kNoSlot;
  max_level_ = 0;
  return Status::Ok();
}

Status TxnGraph::RemoveNode(uint32_t slot) {
  Node* n = Load(slot);
  n->level = -1;
  n->deleted = false;
  n->lists.clear();
  return Status::Ok();
}

Status TxnGraph::MarkDeleted(uint32_t slot) {
  Node* n = Load(slot);
  if (n->level >= 0) n->deleted = true;
  return Status::Ok();
}

Status TxnGraph::Flush() {
  MetaBody& meta = txn_->meta_;
  std::vector<std::pair<uint32_t, Node*>> all;
  for (auto& sh : shards_)
    for (auto& [slot, n] : sh.nodes) all.emplace_back(slot, n.get());
  std::sort(all.begin(), all.end());
  const uint32_t m = params_.m, m0 = params_.MaxDegree0();
  const uint32_t rec_size = GraphRecordSize(m0);
  const uint32_t per_page = kPagePayload / rec_size;
  const uint32_t list_size = UpperListSize(m);
  for (auto& [slot, n] : all) {
    if (slot >= meta.slot_hwm) return Status::Corruption("graph node beyond the slots in use");
    ExtentPos ep = ExtentOf(slot);
    if (meta.graph_extents[ep.extent] == 0) {
      VDB_ASSIGN_OR_RETURN(meta.graph_extents[ep.extent], txn_->AllocPages(SealedExtentPages(ep.extent, rec_size)));
    }
    uint64_t pgno = meta.graph_extents[ep.extent] + ep.index / per_page;
    uint32_t off = static_cast<uint32_t>((ep.index % per_page) * rec_size);
    GraphRecord old = DecodeGraphRecordHeader(txn_->Page(pgno) + off);
    if (old.level > static_cast<int>(kGraphMaxLevel)) old.level = -1;
    GraphRecord r;
    r.level = n->level;
    r.deleted = n->level >= 0 && n->deleted;
    r.inv_norm = n->inv_norm;
    r.count = n->level >= 0 ? static_cast<uint16_t>(std::min<size_t>(n->lists[0].size(), m0)) : 0;
    if (n->level >= 1) {
      if (old.level == n->level && old.upper_ref != 0) {
        r.upper_ref = old.upper_ref;
      } else {
        VDB_ASSIGN_OR_RETURN(r.upper_ref, txn_->AllocUpper(static_cast<uint64_t>(n->level) * list_size));
      }
      std::string bytes(static_cast<size_t>(n->level) * list_size, '\0');
      for (int lv = 1; lv <= n->level; lv++) {
        uint8_t* p = reinterpret_cast<uint8_t*>(bytes.data()) + static_cast<size_t>(lv - 1) * list_size;
        const auto& l = n->lists[lv];
        uint32_t c = static_cast<uint32_t>(std::min<size_t>(l.size(), m));
        PutU32(p, c);
        for (uint32_t i = 0; i < c; i++) PutU32(p + 4 + 4 * i, l[i]);
      }
      txn_->WritePayload(r.upper_ref, bytes);
    }
    uint8_t* rec = txn_->MutablePage(pgno) + off;
    std::memset(rec, 0, rec_size);
    EncodeGraphRecordHeader(r, rec);
    for (uint32_t i = 0; i < r.count; i++) PutU32(rec + kGraphOffNeighbors + 4 * i, n->lists[0][i]);
    if (old.level < 0 && r.level >= 0) meta.graph_nodes++;
    if (old.level >= 0 && r.level < 0) meta.graph_nodes--;
    meta.graph_edges0 += r.count;
    meta.graph_edges0 -= std::min<uint64_t>(meta.graph_edges0, old.level >= 0 ? std::min<uint32_t>(old.count, m0) : 0);
  }
  meta.graph_entry = entry_.load();
  meta.graph_max_level = meta.graph_entry == kNoSlot ? 0 : static_cast<uint32_t>(max_level_.load());
  meta.graph_record_size = rec_size;
  for (auto& sh : shards_) sh.nodes.clear();
  return Status::Ok();
}

}  // namespace vdb
