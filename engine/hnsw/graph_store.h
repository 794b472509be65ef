// The storage seam of the HNSW algorithm: what it reads and writes of a graph.
//
// The algorithm (engine/hnsw/hnsw.h) never owns graph memory. A store keeps,
// per slot: a vector, its inverse norm, a tombstone flag, a level fixed at
// insert and one neighbour list per layer 0..level, each an array of uint32
// slot ids bounded by the layer's maximum degree (Params::MaxDegree). That
// shape maps onto pages: a fixed-stride layer-0 record per slot and fixed-size
// upper-layer records. InMemoryGraph (memory_graph.h) is the reference store.
#pragma once

#include <cstdint>
#include <span>

#include "vdb/status.h"

namespace vdb::hnsw {

inline constexpr uint32_t kNoSlot = 0xFFFFFFFFu;

// A consistent read view of a graph.
//
// Thread-safety: every method is const and must be safe to call from many
// threads at once. Stores serving searches while a writer works (the page
// store) must hand each reader a snapshot; InMemoryGraph leaves that to the
// caller.
//
// Trust: implementations backed by untrusted bytes may return anything in
// counts and ids; the algorithm clamps counts to the capacity it passes,
// ignores ids >= SlotLimit() and slots with Vector() == nullptr, and never
// indexes memory with an id it has not checked. It must never crash on a
// corrupted graph, only search it worse (CheckInvariants reports the damage).
class GraphReader {
 public:
  virtual ~GraphReader() = default;

  // Entry point of the search: a node on the top layer (MaxLevel()).
  virtual bool HasEntryPoint() const = 0;
  // kNoSlot if there is none.
  virtual uint32_t EntryPoint() const = 0;
  // Level of the entry point; -1 if the graph is empty.
  virtual int MaxLevel() const = 0;

  // All slot ids are < SlotLimit(). Sizes per-slot scratch (visited marks).
  virtual uint32_t SlotLimit() const = 0;
  // Level of the node in `slot`, or -1 if the slot holds no graph node.
  virtual int Level(uint32_t slot) const = 0;
  // Copies the neighbour list of `slot` on `level` into out[0..capacity) and
  // returns the number of ids the store holds for it (which a corrupted store
  // may report above `capacity`; only min(count, capacity) ids are copied).
  // Returns 0 if the slot has no node or no such level. Copying (rather than
  // returning a pointer) lets a page store validate the list it hands out.
  virtual uint32_t Neighbors(uint32_t slot, int level, uint32_t* out,
                             uint32_t capacity) const = 0;
  // The vector in `slot` (Params::dim floats, valid as long as the view); may
  // be nullptr for a slot outside the store's vector region. Only asked for
  // slots that are nodes or that are being inserted.
  virtual const float* Vector(uint32_t slot) const = 0;
  // 1 / |Vector(slot)| (0 for a zero vector). Only used by Metric::kCosine.
  virtual float InvNorm(uint32_t slot) const = 0;
  // Tombstoned nodes are traversed by searches but never returned; inserts
  // may still link to them (keeping new nodes reachable). Repair() unlinks
  // them.
  virtual bool IsDeleted(uint32_t slot) const = 0;

  // Level and Neighbors for walks over the whole graph (the reachability
  // pass): the same answers, but a store that caches what it reads may skip
  // the cache, so one walk does not copy every node.
  virtual int ScanLevel(uint32_t slot) const { return Level(slot); }
  virtual uint32_t ScanNeighbors(uint32_t slot, int level, uint32_t* out, uint32_t capacity) const {
    return Neighbors(slot, level, out, capacity);
  }
};

// Mutations of a graph, all made by the algorithm.
//
// Concurrency contract (ParallelBuild, Insert with a LockTable): the algorithm
// calls SetNeighbors concurrently from several threads, never for the same
// slot at once (it holds a per-slot lock around every read-modify-write of a
// list, and around every Neighbors() read of a list that may be written), and
// concurrently with reader methods on any slot. AddNode, SetEntryPoint and
// ClearEntryPoint are serialised by the algorithm (one at a time) but may run
// concurrently with Neighbors/SetNeighbors/Vector/Level of other slots, so an
// implementation must not move existing lists or vectors when adding a node.
// RemoveNode is only called single-threaded (Repair).
class GraphWriter : public GraphReader {
 public:
  // Makes `slot` a node of level `level` with empty lists on 0..level.
  // REQUIRES: Vector(slot) is set; the slot holds no node; 0 <= level <=
  // Params::max_level.
  virtual Status AddNode(uint32_t slot, int level) = 0;
  // Replaces the list of `slot` on `level`. REQUIRES: ids.size() <=
  // Params::MaxDegree(level), every id a node with Level(id) >= level, no
  // duplicates, no self-link (the algorithm guarantees all four).
  virtual Status SetNeighbors(uint32_t slot, int level,
                              std::span<const uint32_t> ids) = 0;
  // Makes `slot` the entry point; `level` is its level and becomes MaxLevel().
  virtual Status SetEntryPoint(uint32_t slot, int level) = 0;
  // Marks the graph empty (after the last live node was removed).
  virtual Status ClearEntryPoint() = 0;
  // Drops the node in `slot` (its lists and level; the tombstone is cleared)
  // so the slot can be reused by a new insert. Called by Repair() once no
  // list refers to the slot any more.
  virtual Status RemoveNode(uint32_t slot) = 0;
};

}  // namespace vdb::hnsw
