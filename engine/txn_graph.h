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
// Storage: a table indexed by slot (chunks of kChunk entries, allocated on
// first use) of pointers to decoded nodes. A node is decoded from the pages
// the first time any method touches its slot and published with a
// compare-and-swap, so readers take no lock: after the first touch, Level,
// Vector, InvNorm, IsDeleted and Neighbors are two loads and a copy. A
// node's vector pointer is resolved once, when it is decoded.
//
// Thread-safety: honours hnsw::GraphWriter's concurrency contract. Reader
// methods and SetNeighbors of distinct slots may run concurrently; AddNode
// replaces the node object (the old one stays allocated until Flush or
// destruction), so a concurrent reader of another slot never sees freed
// memory. Reserve, MarkDeleted, RemoveNode and Flush are single-threaded.
// Invariant: the pages of graph records are not written between Reserve and
// Flush except by Flush itself (decoded nodes mirror them).
class TxnGraph final : public hnsw::GraphWriter {
 public:
  explicit TxnGraph(WriteTxn* txn);
  ~TxnGraph() override;

  // Sizes the table for slots < limit (never shrinks). Slots at or beyond
  // the reserved limit are read straight from the pages and cannot be
  // changed. Not thread-safe: call while no other method runs.
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
  // One slot as the transaction sees it.
  // Invariant: lists holds ListWords(level) words: layer 0 as [count,
  // ids[m0]], then layers 1..level as [count, ids[m]] each; every count is
  // <= its layer's capacity.
  struct Node {
    const float* vec = nullptr;
    float inv_norm = 0;
    int level = -1;  // -1: the slot holds no graph node
    bool deleted = false;
    bool dirty = false;  // changed in this transaction; encoded by Flush
    std::unique_ptr<uint32_t[]> lists;
  };
  static constexpr uint32_t kChunkBits = 12;
  static constexpr uint32_t kChunk = 1u << kChunkBits;
  using Chunk = std::atomic<Node*>;

  size_t ListWords(int level) const;
  uint32_t* List(Node* n, int level) const;
  // The published node of slot, or nullptr if none yet.
  Node* Find(uint32_t slot) const {
    const uint32_t c = slot >> kChunkBits;
    if (c >= n_chunks_) return nullptr;
    Chunk* chunk = chunks_[c].load(std::memory_order_acquire);
    return chunk == nullptr ? nullptr : chunk[slot & (kChunk - 1)].load(std::memory_order_acquire);
  }
  // The node of slot, decoded and published on first use; nullptr if slot is
  // at or beyond the reserved limit.
  Node* Get(uint32_t slot) const {
    Node* n = Find(slot);
    return n != nullptr ? n : Load(slot);
  }
  Node* Load(uint32_t slot) const;
  // Decodes slot's node from the pages (not published).
  std::unique_ptr<Node> Decode(uint32_t slot) const;
  // Publishes a replacement for slot's node; the old one is retired.
  void Replace(uint32_t slot, std::unique_ptr<Node> n);
  void Clear();
  GraphPages Pages() const;

  WriteTxn* txn_;
  hnsw::Params params_;
  uint32_t m_, m0_;
  // chunks_[0..n_chunks_) point to kChunk node pointers each (nullptr until
  // first use). The array itself only changes in Reserve.
  std::unique_ptr<std::atomic<Chunk*>[]> chunks_;
  uint32_t n_chunks_ = 0;
  // Nodes replaced by AddNode; freed at Flush / destruction.
  std::mutex retired_mu_;
  std::vector<std::unique_ptr<Node>> retired_;
  std::atomic<uint32_t> entry_;
  std::atomic<int> max_level_;
};

}  // namespace vdb
