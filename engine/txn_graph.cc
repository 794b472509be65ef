#include "engine/txn_graph.h"

#include <algorithm>
#include <cstring>

#include "engine/write_txn.h"
#include "format/coding.h"
#include "format/pages.h"

namespace vdb {

using namespace vdb::format;

TxnGraph::TxnGraph(WriteTxn* txn)
    : txn_(txn), params_(GraphParams(*txn->layout_->header)), m_(params_.m), m0_(params_.MaxDegree0()) {
  entry_ = txn->meta_.graph_entry;
  max_level_ = static_cast<int>(txn->meta_.graph_max_level);
}

TxnGraph::~TxnGraph() { Clear(); }

GraphPages TxnGraph::Pages() const { return GraphPages(txn_, &txn_->meta_, txn_->layout_); }

uint32_t TxnGraph::SlotLimit() const { return static_cast<uint32_t>(txn_->meta_.slot_hwm); }

void TxnGraph::Reserve(uint32_t limit) {
  const uint32_t need = static_cast<uint32_t>((static_cast<uint64_t>(limit) + kChunk - 1) >> kChunkBits);
  if (need <= n_chunks_) return;
  auto grown = std::make_unique<std::atomic<Chunk*>[]>(need);
  for (uint32_t c = 0; c < need; c++) {
    grown[c].store(c < n_chunks_ ? chunks_[c].load() : nullptr, std::memory_order_relaxed);
  }
  chunks_ = std::move(grown);
  n_chunks_ = need;
}

void TxnGraph::Clear() {
  for (uint32_t c = 0; c < n_chunks_; c++) {
    Chunk* chunk = chunks_[c].exchange(nullptr);
    if (chunk == nullptr) continue;
    for (uint32_t i = 0; i < kChunk; i++) delete chunk[i].load(std::memory_order_relaxed);
    delete[] chunk;
  }
  std::lock_guard<std::mutex> l(retired_mu_);
  retired_.clear();
}

size_t TxnGraph::ListWords(int level) const {
  return level < 0 ? 0 : 1 + m0_ + static_cast<size_t>(level) * (1 + m_);
}

uint32_t* TxnGraph::List(Node* n, int level) const {
  if (level == 0) return n->lists.get();
  return n->lists.get() + 1 + m0_ + static_cast<size_t>(level - 1) * (1 + m_);
}

std::unique_ptr<TxnGraph::Node> TxnGraph::Decode(uint32_t slot) const {
  auto n = std::make_unique<Node>();
  GraphPages gp = Pages();
  GraphRecord r = gp.Header(slot);
  if (r.level < 0) return n;  // no node: vector, norm and state are read from the slot when asked
  n->level = r.level;
  n->deleted = r.deleted;
  n->inv_norm = r.inv_norm;
  n->vec = txn_->Vector(slot);
  n->lists = std::make_unique<uint32_t[]>(ListWords(r.level));
  for (int lv = 0; lv <= r.level; lv++) {
    const uint32_t cap = lv == 0 ? m0_ : m_;
    uint32_t* list = List(n.get(), lv);
    // Counts from the pages are untrusted: the store clamps them to the
    // layer's degree, and so does this copy.
    list[0] = std::min(gp.Neighbors(slot, lv, list + 1, cap), cap);
  }
  return n;
}

TxnGraph::Node* TxnGraph::Load(uint32_t slot) const {
  if (slot >= SlotLimit()) return nullptr;
  const uint32_t c = slot >> kChunkBits;
  if (c >= n_chunks_) return nullptr;
  Chunk* chunk = chunks_[c].load(std::memory_order_acquire);
  if (chunk == nullptr) {
    Chunk* fresh = new Chunk[kChunk]();
    if (chunks_[c].compare_exchange_strong(chunk, fresh, std::memory_order_acq_rel)) {
      chunk = fresh;
    } else {
      delete[] fresh;  // another thread's chunk won; `chunk` holds it
    }
  }
  std::unique_ptr<Node> n = Decode(slot);
  Node* expected = nullptr;
  if (chunk[slot & (kChunk - 1)].compare_exchange_strong(expected, n.get(), std::memory_order_acq_rel)) {
    return n.release();
  }
  return expected;  // decoded concurrently by another thread; ours is dropped
}

void TxnGraph::Replace(uint32_t slot, std::unique_ptr<Node> n) {
  // REQUIRES: Get(slot) != nullptr (so the chunk exists).
  Chunk* chunk = chunks_[slot >> kChunkBits].load(std::memory_order_acquire);
  Node* old = chunk[slot & (kChunk - 1)].exchange(n.release(), std::memory_order_acq_rel);
  std::lock_guard<std::mutex> l(retired_mu_);
  retired_.emplace_back(old);
}

int TxnGraph::Level(uint32_t slot) const {
  if (Node* n = Get(slot)) return n->level;
  return slot < SlotLimit() ? Pages().Header(slot).level : -1;
}

uint32_t TxnGraph::Neighbors(uint32_t slot, int level, uint32_t* out, uint32_t capacity) const {
  Node* n = Get(slot);
  if (n == nullptr) return slot < SlotLimit() ? Pages().Neighbors(slot, level, out, capacity) : 0;
  if (level < 0 || level > n->level) return 0;
  const uint32_t* list = List(n, level);
  const uint32_t count = list[0];
  std::memcpy(out, list + 1, static_cast<size_t>(std::min(count, capacity)) * sizeof(uint32_t));
  return count;
}

const float* TxnGraph::Vector(uint32_t slot) const {
  Node* n = Get(slot);
  if (n != nullptr && n->level >= 0) return n->vec;
  return txn_->Vector(slot);
}

float TxnGraph::InvNorm(uint32_t slot) const {
  Node* n = Get(slot);
  if (n != nullptr && n->level >= 0) return n->inv_norm;
  if (n == nullptr && slot < SlotLimit()) {
    GraphRecord r = Pages().Header(slot);
    if (r.level >= 0) return r.inv_norm;
  }
  auto r = txn_->reader().Slot(slot);
  return r.ok() ? r->inv_norm : 0.0f;
}

bool TxnGraph::IsDeleted(uint32_t slot) const {
  Node* n = Get(slot);
  if (n != nullptr && n->level >= 0) return n->deleted;
  if (n == nullptr && slot < SlotLimit()) {
    GraphRecord r = Pages().Header(slot);
    if (r.level >= 0) return r.deleted;
  }
  auto r = txn_->reader().Slot(slot);
  return !r.ok() || r->state != kSlotLive;
}

Status TxnGraph::AddNode(uint32_t slot, int level) {
  if (level < 0 || level > static_cast<int>(kGraphMaxLevel)) return Status::InvalidArgument("graph level out of range");
  if (Get(slot) == nullptr) return Status::InvalidArgument("graph node " + std::to_string(slot) + " beyond the slots in use");
  VDB_ASSIGN_OR_RETURN(SlotRecord r, txn_->reader().Slot(slot));
  auto n = std::make_unique<Node>();
  n->level = level;
  n->deleted = r.state != kSlotLive;
  n->inv_norm = r.inv_norm;
  n->vec = txn_->Vector(slot);
  n->dirty = true;
  n->lists = std::make_unique<uint32_t[]>(ListWords(level));  // all counts 0
  Replace(slot, std::move(n));
  return Status::Ok();
}

Status TxnGraph::SetNeighbors(uint32_t slot, int level, std::span<const uint32_t> ids) {
  Node* n = Get(slot);
  if (n == nullptr) return Status::InvalidArgument("graph node " + std::to_string(slot) + " beyond the slots in use");
  if (level < 0 || level > n->level) return Status::InvalidArgument("SetNeighbors above the node's level");
  if (ids.size() > params_.MaxDegree(level)) return Status::InvalidArgument("neighbour list over its maximum degree");
  uint32_t* list = List(n, level);
  std::copy(ids.begin(), ids.end(), list + 1);
  list[0] = static_cast<uint32_t>(ids.size());
  n->dirty = true;
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
  Node* n = Get(slot);
  if (n == nullptr) return Status::InvalidArgument("graph node " + std::to_string(slot) + " beyond the slots in use");
  n->level = -1;
  n->deleted = false;
  n->lists.reset();
  n->dirty = true;
  return Status::Ok();
}

Status TxnGraph::MarkDeleted(uint32_t slot) {
  Node* n = Get(slot);
  if (n == nullptr) return Status::InvalidArgument("graph node " + std::to_string(slot) + " beyond the slots in use");
  if (n->level >= 0) {
    n->deleted = true;
    n->dirty = true;
  }
  return Status::Ok();
}

Status TxnGraph::Flush() {
  MetaBody& meta = txn_->meta_;
  const uint32_t m = m_, m0 = m0_;
  const uint32_t rec_size = GraphRecordSize(m0);
  const uint32_t per_page = kPagePayload / rec_size;
  const uint32_t list_size = UpperListSize(m);
  std::string bytes;
  for (uint32_t c = 0; c < n_chunks_; c++) {
    Chunk* chunk = chunks_[c].load();
    if (chunk == nullptr) continue;
    for (uint32_t i = 0; i < kChunk; i++) {
      Node* n = chunk[i].load(std::memory_order_relaxed);
      if (n == nullptr || !n->dirty) continue;
      const uint32_t slot = (c << kChunkBits) | i;
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
      const uint32_t* list0 = n->level >= 0 ? List(n, 0) : nullptr;
      r.count = list0 != nullptr ? static_cast<uint16_t>(std::min(list0[0], m0)) : 0;
      if (n->level >= 1) {
        if (old.level == n->level && old.upper_ref != 0) {
          r.upper_ref = old.upper_ref;
        } else {
          VDB_ASSIGN_OR_RETURN(r.upper_ref, txn_->AllocUpper(static_cast<uint64_t>(n->level) * list_size));
        }
        bytes.assign(static_cast<size_t>(n->level) * list_size, '\0');
        for (int lv = 1; lv <= n->level; lv++) {
          uint8_t* p = reinterpret_cast<uint8_t*>(bytes.data()) + static_cast<size_t>(lv - 1) * list_size;
          const uint32_t* l = List(n, lv);
          const uint32_t cnt = std::min(l[0], m);
          PutU32(p, cnt);
          for (uint32_t k = 0; k < cnt; k++) PutU32(p + 4 + 4 * k, l[1 + k]);
        }
        txn_->WritePayload(r.upper_ref, bytes);
      }
      uint8_t* rec = txn_->MutablePage(pgno) + off;
      std::memset(rec, 0, rec_size);
      EncodeGraphRecordHeader(r, rec);
      for (uint32_t k = 0; k < r.count; k++) PutU32(rec + kGraphOffNeighbors + 4 * k, list0[1 + k]);
      if (old.level < 0 && r.level >= 0) meta.graph_nodes++;
      if (old.level >= 0 && r.level < 0) meta.graph_nodes--;
      meta.graph_edges0 += r.count;
      meta.graph_edges0 -= std::min<uint64_t>(meta.graph_edges0, old.level >= 0 ? std::min<uint32_t>(old.count, m0) : 0);
    }
  }
  meta.graph_entry = entry_.load();
  meta.graph_max_level = meta.graph_entry == kNoSlot ? 0 : static_cast<uint32_t>(max_level_.load());
  meta.graph_record_size = rec_size;
  Clear();
  return Status::Ok();
}

}  // namespace vdb
