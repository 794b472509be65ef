// TxnGraph: the writer's view of the HNSW graph inside a WriteTxn. It
// buffers changed nodes and encodes them into the transaction's pages at
// Flush (format/graph.h).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/graph_store.h"

namespace vdb {

class WriteTxn;

// The writer's graph inside a transaction. Honours hnsw::GraphWriter's
// concurrency contract (node buffers are sharded and individually owned).
class TxnGraph final : public hnsw::GraphWriter {
 public:
  explicit TxnGraph(WriteTxn* txn);
  ~TxnGraph() override;

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
  // Encodes every changed node into the transaction's pages and meta.
  Status Flush();

 private:
  struct Node {
    int level = -1;
    bool deleted = false;
    float inv_norm = 0;
    std::vector<std::vector<uint32_t>> lists;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<uint32_t, std::unique_ptr<Node>> nodes;
  };
  static constexpr size_t kShards = 64;
  Node* Find(uint32_t slot) const;
  Node* Load(uint32_t slot);  // finds or decodes from pages
  GraphPages Pages() const;

  WriteTxn* txn_;
  hnsw::Params params_;
  mutable Shard shards_[kShards];
  std::atomic<uint32_t> entry_;
  std::atomic<int> max_level_;
};

}  // namespace vdb
