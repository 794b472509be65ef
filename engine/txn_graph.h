// TxnGraph: the writer's view of the HNSW graph inside a WriteTxn. It
// decodes the nodes it touches from the transaction's pages into a flat
// per-slot table, lets the algorithm change them there, and encodes the
// changed ones into the transaction's pages at Flush (format/graph.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "engine/graph_store.h"

namespace vdb {

class WriteTxn;

// The writer's graph inside a transaction.
//
// Storage: flat per-slot arrays (sized by Reserve, indexed by slot) hold each
// touched slot's level and inverse norm, and a 16-byte entry with its vector
// pointer and a pointer to its decoded node (flags and neighbour lists in one
// allocation). A slot is decoded from the pages the first time any method
// touches it and published with a compare-and-swap, so readers take no lock:
// after the first touch, Level, Vector and InvNorm are one array load each
// and Neighbors two loads and a copy. A search reads a slot's vector before
// it expands the slot, so Vector, whose load brings the node pointer into
// cache with it, also prefetches the node's layer-0 list. A node's vector
// pointer is resolved once, when it is decoded.
//
// Thread-safety: honours hnsw::GraphWriter's concurrency contract. Reader
// methods and SetNeighbors of distinct slots may run concurrently; AddNode
// replaces the node object (the old one stays in the arena until Flush or
// destruction), so a reader that still holds it never sees freed memory.
// Reserve, MarkDeleted, RemoveNode and Flush are single-threaded.
// Invariant: the pages of graph records are not written between Reserve and
// Flush except by Flush itself (decoded nodes mirror them).
class TxnGraph final : public hnsw::GraphWriter {
 public:
  explicit TxnGraph(WriteTxn* txn);
  ~TxnGraph() override;
  TxnGraph(const TxnGraph&) = delete;
  TxnGraph& operator=(const TxnGraph&) = delete;

  // Sizes the per-slot arrays for slots < limit (never shrinks; grows
  // geometrically). Slots at or beyond the reserved limit are read straight
  // from the pages and cannot be changed. Not thread-safe: call while no
  // other method runs.
  void Reserve(uint32_t limit);

  bool HasEntryPoint() const override { return entry_.load() != format::kNoSlot; }
  uint32_t EntryPoint() const override { return entry_.load(); }
  int MaxLevel() const override { return HasEntryPoint() ? max_level_.load() : -1; }
  uint32_t SlotLimit() const override;
  int Level(uint32_t slot) const override;
  uint32_t Neighbors(uint32_t slot, int level, uint32_t* out, uint32_t capacity) const override;
  const float* Vector(uint32_t slot) const override;
  float InvNorm(uint32_t slot) const override;
  bool IsDeleted(uint32_t slot) const override;
  // Decoded nodes as they are; other slots straight from the pages.
  int ScanLevel(uint32_t slot) const override;
  uint32_t ScanNeighbors(uint32_t slot, int level, uint32_t* out, uint32_t capacity) const override;

  Status AddNode(uint32_t slot, int level) override;
  Status SetNeighbors(uint32_t slot, int level, std::span<const uint32_t> ids) override;
  Status SetEntryPoint(uint32_t slot, int level) override;
  Status ClearEntryPoint() override;
  Status RemoveNode(uint32_t slot) override;

  // Marks slot's node a tombstone (no-op if the slot holds no node).
  Status MarkDeleted(uint32_t slot);
  // Encodes every changed node into the transaction's pages and meta, then
  // drops the decoded nodes.
  Status Flush();

 private:
  // A decoded slot, allocated with its lists right behind it (Words()).
  // Trivially destructible: the arena frees it.
  // Invariant: a node of level L >= 0 holds ListWords(L) words: layer 0 as
  // [count, ids[m0]], then layers 1..L as [count, ids[m]] each; every count
  // is <= its layer's capacity. A slot without a graph node has level -1 and
  // no words.
  struct Node {
    int level = -1;
    bool deleted = false;
    bool dirty = false;  // changed in this transaction; encoded by Flush
  };
  // level_ entries: 0 = slot not decoded yet, else level + 2.
  static constexpr int8_t kUnloaded = 0;

  size_t ListWords(int level) const;
  // A node of `level` with empty lists, from the arena (thread-safe).
  Node* NewNode(int level) const;
  // bytes from the arena at an `align`-byte boundary (thread-safe).
  void* ArenaAlloc(size_t bytes, size_t align) const;
  // v itself if it is 64-byte aligned, else a 64-byte aligned copy of its
  // dim floats in the arena. The vectors a transaction puts are heap copies
  // aligned to 16 only; the distance kernels load 64-byte aligned rows, and
  // the search prefetches whole rows, faster.
  const float* AlignedCopy(const float* v) const;
  static uint32_t* Words(Node* n) { return reinterpret_cast<uint32_t*>(n + 1); }
  uint32_t* List(Node* n, int level) const;
  // The published node of slot, decoding it on first use; nullptr if slot is
  // at or beyond the reserved limit or SlotLimit().
  Node* Get(uint32_t slot) const;
  Node* Load(uint32_t slot) const;
  // Publishes slot's per-slot values (before its node).
  void SetSlot(uint32_t slot, int level, const float* vec, float inv_norm) const;
  // Publishes a replacement for slot's node (the old one stays in the
  // arena until Clear).
  void Replace(uint32_t slot, Node* n);
  void Clear();
  void FreeArrays();
  GraphPages Pages() const;

  WriteTxn* txn_;
  hnsw::Params params_;
  uint32_t m_, m0_;
  // A slot's node and vector pointers, side by side so that one cache line
  // serves the vector lookup and the list lookup of a slot.
  struct alignas(16) SlotRef {
    Node* node;
    const float* vec;
  };
  // Per-slot arrays of cap_ entries (calloc'ed: untouched pages stay
  // unmapped), accessed through std::atomic_ref. Only Reserve and Clear
  // replace or reset them.
  uint32_t cap_ = 0;
  SlotRef* refs_ = nullptr;
  float* inv_norms_ = nullptr;
  int8_t* levels_ = nullptr;
  // Node arena: nodes are bump-allocated from blocks_ (better locality than
  // one allocation each) and all freed together by Clear.
  static constexpr size_t kArenaBlock = size_t{1} << 20;
  mutable std::mutex arena_mu_;
  mutable std::vector<std::unique_ptr<uint8_t[]>> blocks_;
  mutable uint8_t* bump_ = nullptr;
  mutable size_t bump_left_ = 0;
  std::atomic<uint32_t> entry_;
  std::atomic<int> max_level_;
};

}  // namespace vdb
