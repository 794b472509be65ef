#include "engine/hnsw/memory_graph.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "engine/kernels/distance.h"

namespace vdb::hnsw {
namespace {

uint64_t PackEntry(uint32_t slot, int level) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(level)) << 32) | slot;
}
constexpr uint64_t kEmptyEntry = (static_cast<uint64_t>(0xFFFFFFFFu) << 32) | kNoSlot;

std::string SlotMsg(const char* what, uint32_t slot) {
  return std::string(what) + " (slot " + std::to_string(slot) + ")";
}

Status CheckFinite(const float* vec, uint32_t dim, uint32_t slot) {
  if (vec == nullptr) return Status::InvalidArgument(SlotMsg("null vector", slot));
  for (uint32_t i = 0; i < dim; ++i) {
    if (!std::isfinite(vec[i])) {
      return Status::InvalidArgument(SlotMsg("vector component is not a finite number", slot));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<InMemoryGraph>> InMemoryGraph::Create(const Params& params,
                                                             uint32_t capacity) {
  VDB_RETURN_IF_ERROR(params.Validate());
  if (capacity == 0 || capacity == kNoSlot) {
    return Status::InvalidArgument("InMemoryGraph: capacity must be in [1, 2^32-1)");
  }
  std::unique_ptr<InMemoryGraph> g(new (std::nothrow) InMemoryGraph(params, capacity));
  if (g == nullptr || g->vectors_ == nullptr) {
    return Status::NoSpace("InMemoryGraph: cannot allocate " + std::to_string(capacity) +
                           " slots");
  }
  return g;
}

InMemoryGraph::InMemoryGraph(const Params& params, uint32_t capacity)
    : params_(params),
      capacity_(capacity),
      stride_((params.dim + 15) / 16 * 16),
      rec0_(1 + params.MaxDegree0()),
      rec_upper_(1 + params.m),
      entry_(kEmptyEntry) {
  const size_t bytes = static_cast<size_t>(capacity) * stride_ * sizeof(float);
  vectors_ = static_cast<float*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
  if (vectors_ == nullptr) return;
  std::memset(vectors_, 0, bytes);
  inv_norms_.reset(new float[capacity]());
  has_vector_.reset(new uint8_t[capacity]());
  levels_.reset(new std::atomic<int8_t>[capacity]);
  deleted_.reset(new std::atomic<uint8_t>[capacity]);
  for (uint32_t i = 0; i < capacity; ++i) {
    levels_[i].store(-1, std::memory_order_relaxed);
    deleted_[i].store(0, std::memory_order_relaxed);
  }
  layer0_.reset(new uint32_t[static_cast<size_t>(capacity) * rec0_]());
  upper_.reset(new std::unique_ptr<uint32_t[]>[capacity]);
}

InMemoryGraph::~InMemoryGraph() { std::free(vectors_); }

Status InMemoryGraph::SetVector(uint32_t slot, const float* vec) {
  if (slot >= capacity_) return Status::InvalidArgument(SlotMsg("SetVector: slot out of range", slot));
  if (Level(slot) >= 0) {
    return Status::InvalidArgument(SlotMsg("SetVector: slot holds a node; use UpdateVector", slot));
  }
  VDB_RETURN_IF_ERROR(CheckFinite(vec, params_.dim, slot));
  float* dst = vectors_ + static_cast<size_t>(slot) * stride_;
  std::memcpy(dst, vec, params_.dim * sizeof(float));
  const float norm_sqr = kernels::NormSqr(dst, params_.dim);
  inv_norms_[slot] = norm_sqr > 0.0f ? 1.0f / std::sqrt(norm_sqr) : 0.0f;
  has_vector_[slot] = 1;
  return Status::Ok();
}

Status InMemoryGraph::UpdateVector(uint32_t slot, const float* vec) {
  if (slot >= capacity_ || Level(slot) < 0) {
    return Status::InvalidArgument(SlotMsg("UpdateVector: slot holds no node", slot));
  }
  VDB_RETURN_IF_ERROR(CheckFinite(vec, params_.dim, slot));
  float* dst = vectors_ + static_cast<size_t>(slot) * stride_;
  std::memcpy(dst, vec, params_.dim * sizeof(float));
  const float norm_sqr = kernels::NormSqr(dst, params_.dim);
  inv_norms_[slot] = norm_sqr > 0.0f ? 1.0f / std::sqrt(norm_sqr) : 0.0f;
  return Status::Ok();
}

Status InMemoryGraph::MarkDeleted(uint32_t slot) {
  if (slot >= capacity_ || Level(slot) < 0) {
    return Status::InvalidArgument(SlotMsg("MarkDeleted: slot holds no node", slot));
  }
  deleted_[slot].store(1, std::memory_order_release);
  return Status::Ok();
}

std::vector<uint32_t> InMemoryGraph::DeletedSlots() const {
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < capacity_; ++i) {
    if (Level(i) >= 0 && IsDeleted(i)) out.push_back(i);
  }
  return out;
}

uint32_t InMemoryGraph::FindFreeSlot() const {
  for (uint32_t i = 0; i < capacity_; ++i) {
    if (!has_vector_[i] && Level(i) < 0) return i;
  }
  return kNoSlot;
}

uint64_t InMemoryGraph::MemoryBytes() const {
  uint64_t bytes = static_cast<uint64_t>(capacity_) *
                   (stride_ * sizeof(float) + sizeof(float) + 3 + rec0_ * sizeof(uint32_t) +
                    sizeof(void*));
  for (uint32_t i = 0; i < capacity_; ++i) {
    const int level = Level(i);
    if (level > 0) bytes += static_cast<uint64_t>(level) * rec_upper_ * sizeof(uint32_t);
  }
  return bytes;
}

bool InMemoryGraph::HasEntryPoint() const {
  return (entry_.load(std::memory_order_acquire) & 0xFFFFFFFFu) != kNoSlot;
}

uint32_t InMemoryGraph::EntryPoint() const {
  return static_cast<uint32_t>(entry_.load(std::memory_order_acquire));
}

int InMemoryGraph::MaxLevel() const {
  return static_cast<int32_t>(entry_.load(std::memory_order_acquire) >> 32);
}

Status InMemoryGraph::AddNode(uint32_t slot, int level) {
  if (slot >= capacity_) return Status::InvalidArgument(SlotMsg("AddNode: slot out of range", slot));
  if (level < 0 || level > params_.max_level) {
    return Status::InvalidArgument(SlotMsg("AddNode: level out of range", slot));
  }
  if (Level(slot) >= 0) return Status::InvalidArgument(SlotMsg("AddNode: slot holds a node", slot));
  if (!has_vector_[slot]) return Status::InvalidArgument(SlotMsg("AddNode: slot has no vector", slot));
  layer0_[static_cast<size_t>(slot) * rec0_] = 0;
  if (level > 0) {
    upper_[slot].reset(new (std::nothrow) uint32_t[static_cast<size_t>(level) * rec_upper_]());
    if (upper_[slot] == nullptr) return Status::NoSpace(SlotMsg("AddNode: out of memory", slot));
  }
  deleted_[slot].store(0, std::memory_order_relaxed);
  levels_[slot].store(static_cast<int8_t>(level), std::memory_order_release);
  return Status::Ok();
}

Status InMemoryGraph::SetNeighbors(uint32_t slot, int level, std::span<const uint32_t> ids) {
  uint32_t* list = List(slot, level);
  if (list == nullptr) {
    return Status::InvalidArgument(SlotMsg("SetNeighbors: no such node/level", slot));
  }
  if (ids.size() > params_.MaxDegree(level)) {
    return Status::InvalidArgument(SlotMsg("SetNeighbors: list longer than the layer's degree", slot));
  }
  for (uint32_t id : ids) {
    if (id >= capacity_) {
      return Status::InvalidArgument(SlotMsg("SetNeighbors: neighbour id out of range", slot));
    }
  }
  std::memcpy(list + 1, ids.data(), ids.size() * sizeof(uint32_t));
  list[0] = static_cast<uint32_t>(ids.size());
  return Status::Ok();
}

Status InMemoryGraph::SetEntryPoint(uint32_t slot, int level) {
  if (slot >= capacity_ || Level(slot) != level) {
    return Status::InvalidArgument(SlotMsg("SetEntryPoint: not a node of that level", slot));
  }
  entry_.store(PackEntry(slot, level), std::memory_order_release);
  return Status::Ok();
}

Status InMemoryGraph::ClearEntryPoint() {
  entry_.store(kEmptyEntry, std::memory_order_release);
  return Status::Ok();
}

Status InMemoryGraph::RemoveNode(uint32_t slot) {
  if (slot >= capacity_ || Level(slot) < 0) {
    return Status::InvalidArgument(SlotMsg("RemoveNode: slot holds no node", slot));
  }
  if (EntryPoint() == slot) {
    return Status::InvalidArgument(SlotMsg("RemoveNode: slot is the entry point", slot));
  }
  levels_[slot].store(-1, std::memory_order_release);
  upper_[slot].reset();
  layer0_[static_cast<size_t>(slot) * rec0_] = 0;
  deleted_[slot].store(0, std::memory_order_relaxed);
  has_vector_[slot] = 0;
  inv_norms_[slot] = 0.0f;
  return Status::Ok();
}

}  // namespace vdb::hnsw
