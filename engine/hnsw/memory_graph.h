// InMemoryGraph: the reference GraphWriter, holding a whole graph and its
// vectors in process memory. Used by tests and benchmarks, and as the model a
// page-backed store must behave like.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "engine/hnsw/graph_store.h"
#include "engine/hnsw/params.h"
#include "vdb/status.h"

namespace vdb::hnsw {

// Layout: vectors in one 64-byte-aligned array (row stride = dim rounded up to
// 16 floats); layer-0 lists as fixed-stride records [count, ids[M0]] in one
// array; upper lists per node in one allocation of level * (1 + M) uint32,
// made by AddNode. Capacity (the slot limit) is fixed at construction, so
// nothing that a reader may be looking at ever moves.
//
// Thread-safety: satisfies GraphWriter's concurrency contract (concurrent
// SetNeighbors on distinct slots, AddNode serialised by the caller). The
// entry point is published atomically. A list being rewritten while another
// thread reads it without the algorithm's LockTable may be read torn (count
// and ids from different versions): ids stay in range, so a reader sees a
// wrong but safe list. SetVector/MarkDeleted on a slot must not race with
// readers of that slot.
class InMemoryGraph final : public GraphWriter {
 public:
  // REQUIRES: params.Validate().ok(). `capacity` slots, all empty.
  static Result<std::unique_ptr<InMemoryGraph>> Create(const Params& params,
                                                       uint32_t capacity);
  ~InMemoryGraph() override;
  InMemoryGraph(const InMemoryGraph&) = delete;
  InMemoryGraph& operator=(const InMemoryGraph&) = delete;

  // Stores the vector of `slot` (dim floats) and its inverse norm. The slot
  // must hold no graph node (Insert after, or Relink for a node).
  Status SetVector(uint32_t slot, const float* vec);
  // Replaces the vector of a node in place; follow with Relink().
  Status UpdateVector(uint32_t slot, const float* vec);
  // Tombstones the node in `slot` (see GraphReader::IsDeleted).
  Status MarkDeleted(uint32_t slot);
  // Slots currently tombstoned, in increasing order.
  std::vector<uint32_t> DeletedSlots() const;
  // A slot holding neither a node nor a pending vector, lowest first;
  // kNoSlot if full. Not thread-safe with writers.
  uint32_t FindFreeSlot() const;
  uint32_t capacity() const { return capacity_; }
  const Params& params() const { return params_; }
  // Bytes held (vectors + lists); for benchmarks.
  uint64_t MemoryBytes() const;

  // GraphReader.
  bool HasEntryPoint() const override;
  uint32_t EntryPoint() const override;
  int MaxLevel() const override;
  uint32_t SlotLimit() const override { return capacity_; }
  // The accessors used in the search loop are defined inline so a search
  // through the final type (see Search) can inline them.
  int Level(uint32_t slot) const override {
    return slot < capacity_ ? levels_[slot].load(std::memory_order_acquire) : -1;
  }
  uint32_t Neighbors(uint32_t slot, int level, uint32_t* out,
                     uint32_t capacity) const override {
    const uint32_t* list = List(slot, level);
    if (list == nullptr) return 0;
    const uint32_t count = list[0];
    std::memcpy(out, list + 1, (count < capacity ? count : capacity) * sizeof(uint32_t));
    return count;
  }
  const float* Vector(uint32_t slot) const override {
    return slot < capacity_ ? vectors_ + static_cast<size_t>(slot) * stride_ : nullptr;
  }
  float InvNorm(uint32_t slot) const override {
    return slot < capacity_ ? inv_norms_[slot] : 0.0f;
  }
  bool IsDeleted(uint32_t slot) const override {
    return slot < capacity_ && deleted_[slot].load(std::memory_order_acquire) != 0;
  }

  // GraphWriter.
  Status AddNode(uint32_t slot, int level) override;
  Status SetNeighbors(uint32_t slot, int level,
                      std::span<const uint32_t> ids) override;
  Status SetEntryPoint(uint32_t slot, int level) override;
  Status ClearEntryPoint() override;
  Status RemoveNode(uint32_t slot) override;

 private:
  InMemoryGraph(const Params& params, uint32_t capacity);
  uint32_t* List(uint32_t slot, int level) const {
    if (level < 0 || level > Level(slot)) return nullptr;
    if (level == 0) return layer0_.get() + static_cast<size_t>(slot) * rec0_;
    return upper_[slot].get() + static_cast<size_t>(level - 1) * rec_upper_;
  }

  const Params params_;
  const uint32_t capacity_;
  const uint32_t stride_;      // floats per vector row
  const uint32_t rec0_;        // uint32 per layer-0 record: 1 + M0
  const uint32_t rec_upper_;   // uint32 per upper-layer record: 1 + M
  float* vectors_ = nullptr;   // capacity_ * stride_, 64-byte aligned
  std::unique_ptr<float[]> inv_norms_;
  std::unique_ptr<uint8_t[]> has_vector_;
  std::unique_ptr<std::atomic<int8_t>[]> levels_;   // -1: no node
  std::unique_ptr<std::atomic<uint8_t>[]> deleted_;
  std::unique_ptr<uint32_t[]> layer0_;               // capacity_ * rec0_
  std::unique_ptr<std::unique_ptr<uint32_t[]>[]> upper_;
  // Entry point and its level packed as (level << 32 | slot); level -1 empty.
  std::atomic<uint64_t> entry_;
};

}  // namespace vdb::hnsw
