// Meta pages (pages 1 and 2) and the meta body that every WAL commit carries.
// See docs/format.md#meta-pages
#pragma once

#include <array>
#include <cstdint>

#include "format/constants.h"
#include "vdb/status.h"

namespace vdb::format {

// The logical state of the database after a commit: counts, region extents
// and roots. A checkpoint stores it in a meta page; every WAL commit record
// carries the body as of that commit.
struct MetaBody {
  uint64_t page_count = kFirstDataPage;  // pages allocated; the file is at least this long
  uint64_t live_count = 0;               // live records
  uint64_t slot_hwm = 0;                 // slots [0, slot_hwm) have been allocated
  uint64_t free_count = 0;               // free slots, chained head -> tail
  uint32_t free_head = kNoSlot;
  uint32_t free_tail = kNoSlot;
  uint64_t deleted_count = 0;  // tombstoned slots awaiting graph repair
  // Id map: an open-addressing hash table in sealed pages.
  uint64_t idmap_page = 0;      // first page (0 = none yet)
  uint64_t idmap_capacity = 0;  // entries, a power of two
  uint64_t idmap_used = 0;      // live entries
  uint64_t idmap_tombstones = 0;
  // Blob heap: ids and metadata. Current extent and bytes used in it.
  uint64_t blob_page = 0;
  uint64_t blob_pages = 0;
  uint64_t blob_used = 0;  // payload bytes used in the current extent
  // The embedding model that produced the vectors (a blob), if any.
  uint64_t model_ref = 0;
  uint32_t model_len = 0;
  // HNSW graph roots.
  uint32_t graph_entry = kNoSlot;
  uint32_t graph_max_level = 0;
  uint32_t graph_record_size = 0;  // bytes per layer-0 record
  uint64_t graph_nodes = 0;
  uint64_t graph_edges0 = 0;  // sum of layer-0 list lengths (for the mean degree)
  // Live records not linked into the graph yet (format version >= 2).
  uint64_t unindexed_page = 0;   // first page of the list (0 = none yet)
  uint32_t unindexed_count = 0;  // entries in use, <= kUnindexedCapacity
  uint64_t upper_page = 0;   // current extent of upper-layer lists
  uint64_t upper_pages = 0;
  uint64_t upper_used = 0;
  // First page of extent k of each slot-indexed region (0 = not allocated).
  std::array<uint64_t, kMaxExtents> vector_extents{};
  std::array<uint64_t, kMaxExtents> slot_extents{};
  std::array<uint64_t, kMaxExtents> graph_extents{};
};

struct MetaPage {
  uint64_t meta_seq = 0;        // increases with every checkpoint
  uint64_t commit_seq = 0;      // last commit contained in the main file
  uint64_t wal_generation = 0;  // WAL generation whose records follow this checkpoint
  uint8_t uuid[16] = {};
  MetaBody body;
};

void EncodeMetaBody(const MetaBody& b, uint8_t* out /* kMetaBodySize */);
// Structural checks only (ranges that need the file size are checked by the engine).
Status DecodeMetaBody(const uint8_t* in, MetaBody* out);

// Writes a full page with checksum (seeded with the page number and file id).
void EncodeMetaPage(const MetaPage& m, uint64_t pgno, uint8_t* page);
// verify_checksum=false is only for the planted-bug tests of the crash harness.
Status DecodeMetaPage(const uint8_t* page, uint64_t pgno, const uint8_t uuid[16], MetaPage* out,
                      bool verify_checksum = true);

}  // namespace vdb::format
