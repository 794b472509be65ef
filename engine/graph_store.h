// The HNSW graph stored in pages of the database file (format/graph.h):
// SnapshotGraph serves searches straight from a reader's snapshot of the
// mapped pages; TxnGraph is the writer's view inside a WriteTxn, buffering
// changed nodes and encoding them into pages at Flush.
#pragma once

#include <cstdint>

#include "engine/hnsw/graph_store.h"
#include "engine/hnsw/params.h"
#include "engine/state.h"
#include "format/graph.h"

namespace vdb {

hnsw::Params GraphParams(const format::FileHeader& h);

// Decoding of graph records through a PageSource; validates every location.
class GraphPages {
 public:
  GraphPages(const PageSource* src, const format::MetaBody* meta, const Layout* layout);
  // Record of slot; false if the slot is outside the graph region.
  bool RecordLoc(uint32_t slot, uint64_t* pgno, uint32_t* off) const;
  format::GraphRecord Header(uint32_t slot) const;  // level -1 if none/unreadable
  uint32_t Neighbors(uint32_t slot, int level, uint32_t* out, uint32_t capacity) const;
  uint32_t record_size() const { return record_size_; }
  uint32_t m() const { return m_; }
  uint32_t m0() const { return m0_; }
  const PageSource* source() const { return src_; }
  const format::MetaBody& meta() const { return *meta_; }

 private:
  const PageSource* src_;
  const format::MetaBody* meta_;
  const Layout* layout_;
  uint32_t record_size_, per_page_, m_, m0_;
};

// Read-only graph of one snapshot. Thread-safe.
class SnapshotGraph final : public hnsw::GraphReader {
 public:
  SnapshotGraph(const PageSource* src, const format::MetaBody* meta, const Layout* layout)
      : pages_(src, meta, layout) {}
  bool HasEntryPoint() const override { return pages_.meta().graph_entry != format::kNoSlot; }
  uint32_t EntryPoint() const override { return pages_.meta().graph_entry; }
  int MaxLevel() const override { return HasEntryPoint() ? static_cast<int>(pages_.meta().graph_max_level) : -1; }
  uint32_t SlotLimit() const override { return static_cast<uint32_t>(pages_.meta().slot_hwm); }
  int Level(uint32_t slot) const override { return pages_.Header(slot).level; }
  uint32_t Neighbors(uint32_t slot, int level, uint32_t* out, uint32_t capacity) const override {
    return pages_.Neighbors(slot, level, out, capacity);
  }
  const float* Vector(uint32_t slot) const override { return pages_.source()->Vector(slot); }
  float InvNorm(uint32_t slot) const override { return pages_.Header(slot).inv_norm; }
  bool IsDeleted(uint32_t slot) const override { return pages_.Header(slot).deleted; }

 private:
  GraphPages pages_;
};

}  // namespace vdb
