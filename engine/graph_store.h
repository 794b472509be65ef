// The HNSW graph stored in pages of the database file (format/graph.h):
// SnapshotGraph serves searches straight from a reader's snapshot of the
// mapped pages; TxnGraph is the writer's view inside a WriteTxn, buffering
// changed nodes and encoding them into pages at Flush.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/hnsw/graph_store.h"
#include "engine/hnsw/hnsw.h"
#include "engine/hnsw/params.h"
#include "engine/page_table.h"
#include "engine/state.h"
#include "format/coding.h"
#include "format/graph.h"
#include "format/pages.h"

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

// Reads the slot records of `hits` into recs[i] (what rd.Slot(hits[i].slot)
// returns) and sets where[i] to the record's bytes, or to nullptr where its
// location is invalid (rd.Slot reports the error; recs[i] is then unset).
// Prefetches the records, then the first bytes of their ids, ahead of turning
// hits into ids: two rounds of independent cache misses instead of two
// dependent misses per hit, and one location computation per hit. Reads only
// validated locations. REQUIRES: recs and where hold hits.size() elements.
void ReadHitRecords(const StateReader& rd, std::span<const hnsw::SearchHit> hits, format::SlotRecord* recs,
                    const uint8_t** where);

// Where the pages of one reader's snapshot are: the newest version with
// seq <= `seq` in the page table, else the mapped main file.
struct SnapshotPages {
  const uint8_t* map = nullptr;
  uint64_t map_pages = 0;  // pages the mapping covers
  const PageTable* table = nullptr;
  uint64_t seq = 0;
};

// Page resolution policies of MappedGraph.
namespace graph_pages {
// Every page is the mapped file's (see PageTable::ChainedPages).
struct MapOnly {
  const uint8_t* map;
  const uint8_t* Page(uint64_t pgno) const { return map + pgno * format::kPageSize; }
};
// The snapshot's version from the page table, else the map.
struct Versioned {
  const uint8_t* map;
  const PageTable* table;
  uint64_t seq;
  const uint8_t* Page(uint64_t pgno) const {
    const uint8_t* p = table->Find(pgno, seq);
    return p != nullptr ? p : map + pgno * format::kPageSize;
  }
};
}  // namespace graph_pages

// Read-only graph of one snapshot with the record addressing resolved once
// (extent bases, a multiply-shift division by records per page), so that
// searching it through its own final type (hnsw::internal::SearchWith)
// inlines every accessor. Layer-0 lists are handed out in place (ListView);
// every location is validated against the meta body and the mapping, and
// ids are left to the search to check against SlotLimit(). Valid while the
// caller keeps the snapshot registered (ReaderGuard). Thread-safe.
template <typename P>
class MappedGraph final : public hnsw::GraphReader {
 public:
  MappedGraph(P pages, uint64_t map_pages, const format::MetaBody& meta, const format::FileHeader& header);

  bool HasEntryPoint() const override { return entry_ != format::kNoSlot; }
  uint32_t EntryPoint() const override { return entry_; }
  int MaxLevel() const override { return HasEntryPoint() ? max_level_ : -1; }
  uint32_t SlotLimit() const override { return limit_; }
  int Level(uint32_t slot) const override { return RecordLevel(Record(slot)); }
  uint32_t Neighbors(uint32_t slot, int level, uint32_t* out, uint32_t capacity) const override;
  const float* Vector(uint32_t slot) const override {
    if (slot >= limit_) return nullptr;
    const uint32_t k = ExtentIndex(slot);
    if (((vvalid_ >> k) & 1) == 0) return nullptr;
    return reinterpret_cast<const float*>(vorigin_[k] + uint64_t{slot} * stride_);
  }
  float InvNorm(uint32_t slot) const override {
    const uint8_t* rec = Record(slot);
    return rec != nullptr ? format::GetF32(rec + format::kGraphOffInvNorm) : 0.0f;
  }
  // Whether the snapshot counts deleted nodes (meta deleted_count != 0); if
  // not, IsDeleted is false for every slot (see hnsw::internal::SearchWith).
  bool HasTombstones() const { return tombstones_; }
  // Without tombstones in the snapshot (deleted_count == 0) no flag is read.
  bool IsDeleted(uint32_t slot) const override {
    if (!tombstones_) return false;
    const uint8_t* rec = Record(slot);
    return rec != nullptr && (rec[format::kGraphOffFlags] & format::kGraphFlagDeleted) != 0;
  }

  // See hnsw/search_layer.h: the list in place (layer 0) or copied into buf.
  const uint32_t* ListView(uint32_t slot, int level, uint32_t* buf, uint32_t cap, uint32_t* n) const {
    const uint8_t* rec = Record(slot);
    if (level == 0) {
      *n = 0;
      if (RecordLevel(rec) < 0) return buf;
      const uint32_t count = format::GetU16(rec + format::kGraphOffCount);
      *n = std::min({count, m0_, cap});
      // Little-endian u32s (state.cc asserts the host is little-endian).
      return reinterpret_cast<const uint32_t*>(rec + format::kGraphOffNeighbors);
    }
    return UpperView(rec, level, buf, cap, n);
  }
  // Always inlined: GCC takes a function that only prefetches for one without
  // side effects and deletes calls to it that it does not inline.
  [[gnu::always_inline]] void PrefetchNode(uint32_t slot) const {
    const uint8_t* rec = Record(slot);
    if (rec == nullptr) return;
    const char* p = reinterpret_cast<const char*>(rec);
    _mm_prefetch(p, _MM_HINT_T0);
    _mm_prefetch(p + 64, _MM_HINT_T0);
    _mm_prefetch(p + rec_size_ - 1, _MM_HINT_T0);
  }

 private:
  // ListView for level > 0 of the node whose record is rec: in place when the
  // list lies in one page's payload, else copied into buf.
  const uint32_t* UpperView(const uint8_t* rec, int level, uint32_t* buf, uint32_t cap, uint32_t* n) const;
  // The bytes of the list (u32 count, M u32 ids) of `level` >= 1 of the node
  // whose record is rec, or nullptr if the node has no such level or the list
  // is not inside the file; in place, or assembled in buf (UpperListSize(M)
  // bytes) when it crosses a page's end.
  const uint8_t* UpperList(const uint8_t* rec, int level, uint8_t* buf) const;
  // format::ExtentOf(slot).extent in 32-bit arithmetic: the highest set bit
  // of slot / kFirstExtentSlots + 1 (>= 1, so __builtin_clz is defined; one
  // bsr, where std::countl_zero also handles 0).
  static uint32_t ExtentIndex(uint32_t slot) {
    return 31 - static_cast<uint32_t>(__builtin_clz(slot / format::kFirstExtentSlots + 1));
  }
  // The layer-0 record of slot, or nullptr if it lies outside the graph region.
  [[gnu::always_inline]] const uint8_t* Record(uint32_t slot) const {
    if (slot >= limit_) return nullptr;
    const uint32_t k = ExtentIndex(slot);
    const uint32_t idx = slot - format::kFirstExtentSlots * ((uint32_t{1} << k) - 1);  // < 2^32
    // idx / per_page_ (exact for 32-bit idx: Lemire et al., "Faster remainder
    // by direct computation", 2019); div_magic_ == 0 means per_page_ == 1.
    const uint32_t pg = div_magic_ != 0
                            ? static_cast<uint32_t>((static_cast<unsigned __int128>(div_magic_) * idx) >> 64)
                            : idx;
    if (pg >= gpages_[k]) return nullptr;
    return pages_.Page(gfirst_[k] + pg) + static_cast<size_t>(idx - pg * per_page_) * rec_size_;
  }
  static int RecordLevel(const uint8_t* rec) {
    if (rec == nullptr) return -1;
    const int level = static_cast<int>(rec[format::kGraphOffLevel]) - 1;
    return level <= static_cast<int>(format::kGraphMaxLevel) ? level : -1;
  }

  P pages_;
  uint32_t limit_, entry_;
  int max_level_;
  bool tombstones_;
  uint32_t m_, m0_, rec_size_, per_page_, stride_;
  uint64_t div_magic_;
  uint64_t page_count_;  // pages readable: min(meta.page_count, map_pages)
  uint64_t gfirst_[format::kMaxExtents];
  uint64_t gpages_[format::kMaxExtents];  // pages of graph extent k inside the file; 0 = none
  // Vector extent k (when bit k of vvalid_ is set) holds slot s at
  // vorigin_[k] + s * stride_: its base minus its first slot's offset,
  // modulo 2^64, so that Vector needs no subtraction.
  uint64_t vvalid_;
  uintptr_t vorigin_[format::kMaxExtents];
};

// Runs HNSW searches over the graph of one reader's snapshot. While no page
// version is chained (the usual state after a checkpoint) it reads the map
// directly; a query during which a checkpoint began to overwrite pages is
// run again through the page table, so results are always as of the
// snapshot. The page-table view is set up only when a query needs it.
// REQUIRES: the caller keeps the snapshot registered (ReaderGuard) and
// `meta`/`header` alive for the searcher's lifetime. Thread-safe.
class SnapshotSearcher {
 public:
  SnapshotSearcher(const SnapshotPages& where, const format::MetaBody& meta, const format::FileHeader& header);
  Status Search(const hnsw::Params& params, const float* query, const hnsw::SearchOptions& options,
                std::vector<hnsw::SearchHit>* out) const;

 private:
  SnapshotPages where_;
  const format::MetaBody& meta_;
  const format::FileHeader& header_;
  MappedGraph<graph_pages::MapOnly> direct_;
};

}  // namespace vdb
