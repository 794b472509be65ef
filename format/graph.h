// HNSW graph records. See docs/format.md#hnsw-graph-pages
//
// Layer 0: one fixed-stride record per slot in the graph region (sealed
// pages, floor(kPagePayload / record size) records per page, same extents
// as the other slot-indexed regions):
//   u8  level_plus_one   0 = the slot holds no graph node
//   u8  flags            bit 0: tombstone (the record was deleted; awaiting repair)
//   u16 count            layer-0 neighbours in use (<= M0)
//   f32 inv_norm         1/|v| of the slot's vector (copied from the slot record)
//   u64 upper_ref        file offset of the node's upper lists (0 = none)
//   u32 neighbours[M0]   slot ids; entries past count are zero
// Upper layers 1..level of a node: `level` consecutive lists in the upper
// heap (sealed pages, payload addressing like blobs), each
//   u32 count, u32 neighbours[M]
#pragma once

#include <cstdint>
#include <vector>

#include "format/constants.h"

namespace vdb::format {

inline constexpr uint32_t kGraphRecordHeaderSize = 16;
inline constexpr uint32_t kGraphOffLevel = 0;
inline constexpr uint32_t kGraphOffFlags = 1;
inline constexpr uint32_t kGraphOffCount = 2;
inline constexpr uint32_t kGraphOffInvNorm = 4;
inline constexpr uint8_t kGraphFlagDeleted = 1;
inline constexpr uint32_t kGraphOffUpperRef = 8;
inline constexpr uint32_t kGraphOffNeighbors = 16;
inline constexpr uint32_t kUpperExtentMinPages = 16;
inline constexpr uint32_t kGraphMaxLevel = 31;

constexpr uint32_t GraphRecordSize(uint32_t m0) { return kGraphRecordHeaderSize + 4 * m0; }
constexpr uint32_t UpperListSize(uint32_t m) { return 4 + 4 * m; }

static_assert(GraphRecordSize(32) == 144);
static_assert(kPagePayload / GraphRecordSize(32) == 28);

struct GraphRecord {
  int level = -1;  // -1: no node
  bool deleted = false;
  uint16_t count = 0;
  float inv_norm = 0;
  uint64_t upper_ref = 0;
};
GraphRecord DecodeGraphRecordHeader(const uint8_t* rec);
void EncodeGraphRecordHeader(const GraphRecord& r, uint8_t* rec);

}  // namespace vdb::format
