#include "engine/txn_graph.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <type_traits>

#include "engine/write_txn.h"
#include "format/coding.h"
#include "format/pages.h"

namespace vdb {

using namespace vdb::format;

namespace {
template <typename T>
T LoadAcquire(T& x) {
  return std::atomic_ref<T>(x).load(std::memory_order_acquire);
}
template <typename T>
T LoadRelaxed(T& x) {
  return std::atomic_ref<T>(x).load(std::memory_order_relaxed);
}
}  // namespace

TxnGraph::TxnGraph(WriteTxn* txn)
    : txn_(txn), params_(GraphParams(*txn->layout_->header)), m_(params_.m), m0_(params_.MaxDegree0()) {
  entry_ = txn->meta_.graph_entry;
  max_level_ = static_cast<int>(txn->meta_.graph_max_level);
}

TxnGraph::~TxnGraph() {
  Clear();
  FreeArrays();
}

GraphPages TxnGraph::Pages() const { return GraphPages(txn_, &txn_->meta_, txn_->layout_); }

uint32_t TxnGraph::SlotLimit() const { return static_cast<uint32_t>(txn_->meta_.slot_hwm); }

void TxnGraph::Reserve(uint32_t limit) {
  if (limit <= cap_) return;
  const uint32_t cap = static_cast<uint32_t>(
      std::min<uint64_t>(kMaxSlots, std::max<uint64_t>({limit, uint64_t{cap_} * 2, 1024})));
  auto grow = [&](auto* old, auto** out) {
    using T = std::remove_pointer_t<decltype(old)>;
    T* p = static_cast<T*>(std::calloc(cap, sizeof(T)));
    if (p == nullptr) std::abort();  // out of memory, like operator new
    if (old != nullptr) std::memcpy(p, old, sizeof(T) * cap_);
    std::free(old);
    *out = p;
  };
  grow(refs_, &refs_);
  grow(inv_norms_, &inv_norms_);
  grow(levels_, &levels_);
  cap_ = cap;
}

void TxnGraph::FreeArrays() {
  std::free(refs_);
  std::free(inv_norms_);
  std::free(levels_);
  refs_ = nullptr;
  inv_norms_ = nullptr;
  levels_ = nullptr;
  cap_ = 0;
}

void TxnGraph::Clear() {
  for (uint32_t slot = 0; slot < cap_; slot++) {
    if (levels_[slot] == kUnloaded) continue;
    refs_[slot] = SlotRef{nullptr, nullptr};
    inv_norms_[slot] = 0;
    levels_[slot] = kUnloaded;
  }
  std::lock_guard<std::mutex> l(arena_mu_);
  blocks_.clear();
  bump_ = nullptr;
  bump_left_ = 0;
}

size_t TxnGraph::ListWords(int level) const {
  return level < 0 ? 0 : 1 + m0_ + static_cast<size_t>(level) * (1 + m_);
}

void* TxnGraph::ArenaAlloc(size_t bytes, size_t align) const {
  std::lock_guard<std::mutex> l(arena_mu_);
  size_t pad = (align - reinterpret_cast<uintptr_t>(bump_) % align) % align;
  if (bump_ == nullptr || bump_left_ < pad + bytes) {
    const size_t block = std::max(kArenaBlock, bytes + align);
    blocks_.push_back(std::make_unique_for_overwrite<uint8_t[]>(block));
    bump_ = blocks_.back().get();
    bump_left_ = block;
    pad = (align - reinterpret_cast<uintptr_t>(bump_) % align) % align;
  }
  uint8_t* p = bump_ + pad;
  bump_ += pad + bytes;
  bump_left_ -= pad + bytes;
  return p;
}

TxnGraph::Node* TxnGraph::NewNode(int level) const {
  static_assert(std::is_trivially_destructible_v<Node> && alignof(Node) <= 8);
  const size_t words = ListWords(level);
  const size_t bytes = (sizeof(Node) + words * sizeof(uint32_t) + 7) & ~size_t{7};
  Node* n = new (ArenaAlloc(bytes, 8)) Node;
  n->level = level;
  std::memset(Words(n), 0, words * sizeof(uint32_t));  // all counts 0
  return n;
}

const float* TxnGraph::AlignedCopy(const float* v) const {
  if (v == nullptr || reinterpret_cast<uintptr_t>(v) % 64 == 0) return v;
  const size_t bytes = static_cast<size_t>(params_.dim) * sizeof(float);
  void* p = ArenaAlloc((bytes + 63) & ~size_t{63}, 64);
  std::memcpy(p, v, bytes);
  return static_cast<const float*>(p);
}

uint32_t* TxnGraph::List(Node* n, int level) const {
  if (level == 0) return Words(n);
  return Words(n) + 1 + m0_ + static_cast<size_t>(level - 1) * (1 + m_);
}

void TxnGraph::SetSlot(uint32_t slot, int level, const float* vec, float inv_norm) const {
  std::atomic_ref<const float*>(refs_[slot].vec).store(vec, std::memory_order_relaxed);
  std::atomic_ref<float>(inv_norms_[slot]).store(inv_norm, std::memory_order_relaxed);
  std::atomic_ref<int8_t>(levels_[slot]).store(static_cast<int8_t>(level + 2), std::memory_order_release);
}

TxnGraph::Node* TxnGraph::Get(uint32_t slot) const {
  if (slot >= cap_) return nullptr;
  Node* n = LoadAcquire(refs_[slot].node);
  return n != nullptr ? n : Load(slot);
}

TxnGraph::Node* TxnGraph::Load(uint32_t slot) const {
  if (slot >= cap_ || slot >= SlotLimit()) return nullptr;
  GraphPages gp = Pages();
  GraphRecord r = gp.Header(slot);
  Node* n = NewNode(r.level);
  if (r.level >= 0) {
    n->deleted = r.deleted;
    for (int lv = 0; lv <= r.level; lv++) {
      const uint32_t cap = lv == 0 ? m0_ : m_;
      uint32_t* list = List(n, lv);
      // Counts from the pages are untrusted: the store clamps them to the
      // layer's degree, and so does this copy.
      list[0] = std::min(gp.Neighbors(slot, lv, list + 1, cap), cap);
    }
  }
  // A slot without a node keeps no vector or norm: they are read from the
  // slot when asked (only for a slot being inserted).
  const float* vec = r.level >= 0 ? txn_->Vector(slot) : nullptr;
  // Two threads decoding the same slot store the same values.
  SetSlot(slot, r.level, vec, r.level >= 0 ? r.inv_norm : 0.0f);
  Node* expected = nullptr;
  if (std::atomic_ref<Node*>(refs_[slot].node).compare_exchange_strong(expected, n, std::memory_order_acq_rel)) {
    return n;
  }
  return expected;  // decoded concurrently by another thread; ours stays unused in the arena
}

void TxnGraph::Replace(uint32_t slot, Node* n) {
  // REQUIRES: Get(slot) != nullptr (the slot is published).
  std::atomic_ref<Node*>(refs_[slot].node).store(n, std::memory_order_release);
}

int TxnGraph::Level(uint32_t slot) const {
  if (slot < cap_) {
    const int8_t l = LoadAcquire(levels_[slot]);
    if (l != kUnloaded) return l - 2;
    if (Load(slot) != nullptr) return LoadAcquire(levels_[slot]) - 2;
  }
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

int TxnGraph::ScanLevel(uint32_t slot) const {
  if (slot < cap_) {
    const int8_t l = LoadAcquire(levels_[slot]);
    if (l != kUnloaded) return l - 2;
  }
  return slot < SlotLimit() ? Pages().Header(slot).level : -1;
}

uint32_t TxnGraph::ScanNeighbors(uint32_t slot, int level, uint32_t* out, uint32_t capacity) const {
  if (slot < cap_ && LoadAcquire(refs_[slot].node) != nullptr) return Neighbors(slot, level, out, capacity);
  return slot < SlotLimit() ? Pages().Neighbors(slot, level, out, capacity) : 0;
}

const float* TxnGraph::Vector(uint32_t slot) const {
  if (slot < cap_) {
    SlotRef& r = refs_[slot];
    if (const float* v = LoadRelaxed(r.vec)) {
      // The node's header and the head of its layer-0 list (a third line
      // prefetched too measured slower). Only a hint: the node read here may
      // be replaced before it is used.
      if (const Node* n = LoadRelaxed(r.node)) {
        const char* p = reinterpret_cast<const char*>(n);
        _mm_prefetch(p, _MM_HINT_T0);
        _mm_prefetch(p + 64, _MM_HINT_T0);
      }
      return v;
    }
    if (LoadAcquire(levels_[slot]) == kUnloaded && Load(slot) != nullptr) {
      if (const float* v = LoadRelaxed(r.vec)) return v;
    }
  }
  return txn_->Vector(slot);
}

float TxnGraph::InvNorm(uint32_t slot) const {
  if (Level(slot) >= 0) {
    if (slot < cap_ && LoadAcquire(levels_[slot]) != kUnloaded) return LoadRelaxed(inv_norms_[slot]);
    return Pages().Header(slot).inv_norm;
  }
  auto r = txn_->reader().Slot(slot);
  return r.ok() ? r->inv_norm : 0.0f;
}

bool TxnGraph::IsDeleted(uint32_t slot) const {
  if (Node* n = Get(slot)) {
    if (n->level >= 0) return n->deleted;
  } else if (slot < SlotLimit()) {
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
  Node* n = NewNode(level);
  n->deleted = r.state != kSlotLive;
  n->dirty = true;
  SetSlot(slot, level, AlignedCopy(txn_->Vector(slot)), r.inv_norm);
  Replace(slot, n);
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
  n->level = -1;  // its list words stay allocated, unused
  n->deleted = false;
  n->dirty = true;
  SetSlot(slot, -1, nullptr, 0.0f);
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
  const uint32_t end = static_cast<uint32_t>(std::min<uint64_t>(cap_, meta.slot_hwm));
  for (uint32_t slot = 0; slot < end; slot++) {
    Node* n = levels_[slot] == kUnloaded ? nullptr : refs_[slot].node;
    if (n == nullptr || !n->dirty) continue;
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
    r.inv_norm = n->level >= 0 ? inv_norms_[slot] : 0.0f;
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
  meta.graph_entry = entry_.load();
  meta.graph_max_level = meta.graph_entry == kNoSlot ? 0 : static_cast<uint32_t>(max_level_.load());
  meta.graph_record_size = rec_size;
  Clear();
  return Status::Ok();
}

}  // namespace vdb
