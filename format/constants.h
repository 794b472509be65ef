// Every number of the on-disk format. See docs/format.md; each constant
// there is checked here by static_assert.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vdb::format {

// --- File layout (docs/format.md#file-layout) ---
inline constexpr uint32_t kPageSize = 4096;
inline constexpr uint64_t kHeaderPage = 0;
inline constexpr uint64_t kMetaPageA = 1;
inline constexpr uint64_t kMetaPageB = 2;
inline constexpr uint64_t kFirstDataPage = 3;
inline constexpr uint32_t kFormatVersion = 2;
// Version 2 added the unindexed-records list (meta body 936-947). Files of
// version 1 never defer indexing (their meta bytes there stay zero).
inline constexpr uint32_t kFirstVersionWithUnindexedList = 2;

// --- Sealed pages (docs/format.md#sealed-pages): payload + XXH3 trailer ---
inline constexpr uint32_t kPageTrailerSize = 8;
inline constexpr uint32_t kPagePayload = kPageSize - kPageTrailerSize;  // 4088

// --- Header page (docs/format.md#header-page) ---
inline constexpr char kHeaderMagic[8] = {'V', 'D', 'B', 'F', 'I', 'L', 'E', '\0'};
inline constexpr uint32_t kHeaderOffMagic = 0;
inline constexpr uint32_t kHeaderOffVersion = 8;
inline constexpr uint32_t kHeaderOffPageSize = 12;
inline constexpr uint32_t kHeaderOffDim = 16;
inline constexpr uint32_t kHeaderOffElementType = 20;
inline constexpr uint32_t kHeaderOffMetric = 21;
inline constexpr uint32_t kHeaderOffVectorStride = 24;
inline constexpr uint32_t kHeaderOffHnswM = 28;
inline constexpr uint32_t kHeaderOffHnswEfConstruction = 32;
inline constexpr uint32_t kHeaderOffHnswM0 = 36;
inline constexpr uint32_t kHeaderOffHnswSeed = 40;
inline constexpr uint32_t kHeaderOffUuid = 48;
inline constexpr uint32_t kHeaderOffCreatedMicros = 64;
inline constexpr uint32_t kHeaderOffFirstExtentSlots = 72;
inline constexpr uint32_t kHeaderOffChecksum = kPagePayload;  // 4088
inline constexpr uint32_t kHeaderUsedBytes = 76;             // bytes 76..4087 are zero

// --- Elements and metrics (docs/format.md#header-page) ---
inline constexpr uint8_t kElemFloat32 = 1;
inline constexpr uint8_t kMetricCosine = 1;
inline constexpr uint8_t kMetricL2 = 2;
inline constexpr uint8_t kMetricDot = 3;
inline constexpr uint32_t kVectorAlign = 64;  // stride is a multiple of this
inline constexpr uint32_t kMaxDim = 65536;

// --- Slot-indexed regions (docs/format.md#extents) ---
// Extent k of a region holds kFirstExtentSlots << k slots.
inline constexpr uint32_t kFirstExtentSlots = 1024;
inline constexpr uint32_t kMaxExtents = 32;
inline constexpr uint32_t kNoSlot = 0xFFFFFFFFu;
inline constexpr uint32_t kMaxSlots = 0xFFFFFFF0u;

// --- Slot records (docs/format.md#slot-records) ---
inline constexpr uint32_t kSlotRecordSize = 32;
inline constexpr uint32_t kSlotRecordsPerPage = kPagePayload / kSlotRecordSize;  // 127
inline constexpr uint8_t kSlotFree = 0;
inline constexpr uint8_t kSlotLive = 1;
inline constexpr uint8_t kSlotDeleted = 2;  // tombstone: still in the graph, awaiting repair
inline constexpr uint8_t kSlotFlagMetaZstd = 1;

// --- Id map (docs/format.md#id-map) ---
inline constexpr uint32_t kIdMapEntrySize = 16;
inline constexpr uint32_t kIdMapEntriesPerPage = kPagePayload / kIdMapEntrySize;  // 255
inline constexpr uint64_t kIdHashEmpty = 0;
inline constexpr uint64_t kIdHashTombstone = 1;
inline constexpr uint64_t kIdMapMinCapacity = 1024;
inline constexpr uint64_t kIdHashSeed = 0x7664622d69646d61ull;  // "vdb-idma"

// --- Unindexed list (docs/format.md#unindexed-list) ---
// Live records not yet linked into the HNSW graph: u32 slot ids packed in the
// payload of kUnindexedPages sealed pages. Searches scan them exactly.
inline constexpr uint32_t kUnindexedPages = 1;
inline constexpr uint32_t kUnindexedPerPage = kPagePayload / 4;  // 1022
inline constexpr uint32_t kUnindexedCapacity = kUnindexedPages * kUnindexedPerPage;
// OpenOptions::index_batch default: the list is linked into the graph when
// it reaches this many records.
inline constexpr uint32_t kDefaultIndexBatch = 512;

// --- Blob heap (docs/format.md#blob-heap) ---
inline constexpr uint32_t kBlobExtentMinPages = 64;
inline constexpr uint32_t kMetaZstdThreshold = 256;  // metadata at least this long is compressed
inline constexpr uint32_t kMaxIdBytes = 512;
inline constexpr uint32_t kMaxMetadataBytes = 16u << 20;

// --- Meta pages (docs/format.md#meta-pages) ---
inline constexpr char kMetaMagic[8] = {'V', 'D', 'B', 'M', 'E', 'T', 'A', '\0'};
inline constexpr uint32_t kMetaOffMagic = 0;
inline constexpr uint32_t kMetaOffMetaSeq = 8;
inline constexpr uint32_t kMetaOffCommitSeq = 16;
inline constexpr uint32_t kMetaOffWalGeneration = 24;
inline constexpr uint32_t kMetaOffUuid = 32;
inline constexpr uint32_t kMetaOffBody = 48;
inline constexpr uint32_t kMetaBodySize = 1024;
inline constexpr uint32_t kMetaOffChecksum = kPagePayload;

// --- WAL (docs/format.md#wal) ---
inline constexpr char kWalMagic[8] = {'V', 'D', 'B', 'W', 'A', 'L', '\0', '\0'};
inline constexpr uint32_t kWalHeaderSize = 4096;  // records start here
inline constexpr uint32_t kWalOffMagic = 0;
inline constexpr uint32_t kWalOffVersion = 8;
inline constexpr uint32_t kWalOffUuid = 16;
inline constexpr uint32_t kWalOffGeneration = 32;
inline constexpr uint32_t kWalOffHeaderChecksum = 40;
inline constexpr uint32_t kWalHeaderUsedBytes = 48;
inline constexpr uint32_t kWalRecordMagic = 0x52424456u;  // "VDBR"
inline constexpr uint32_t kWalRecordHeaderSize = 32;
inline constexpr uint32_t kWalRecOffMagic = 0;
inline constexpr uint32_t kWalRecOffPayloadLen = 4;
inline constexpr uint32_t kWalRecOffCommitSeq = 8;
inline constexpr uint32_t kWalRecOffFlags = 16;
inline constexpr uint32_t kWalRecOffChecksum = 24;
inline constexpr uint32_t kWalFlagCommitEnd = 1;
inline constexpr uint32_t kWalMaxPayload = 8u << 20;
inline constexpr uint8_t kWalEntryPage = 1;   // u64 pgno, 4096 bytes
inline constexpr uint8_t kWalEntryBytes = 2;  // u64 offset, u32 len, len bytes
inline constexpr uint8_t kWalEntryMeta = 3;   // kMetaBodySize bytes
// Page deltas: changed ranges of a page closer than this many bytes are
// logged as one bytes entry (an entry's own overhead is 13 bytes).
inline constexpr uint32_t kWalDeltaMergeGap = 16;

static_assert(kPageSize == 4096);
static_assert(kPagePayload == 4088);
static_assert(kSlotRecordsPerPage == 127);
static_assert(kIdMapEntriesPerPage == 255);
static_assert(kUnindexedPerPage == 1022 && kDefaultIndexBatch <= kUnindexedCapacity);
static_assert(kMetaOffBody + kMetaBodySize <= kMetaOffChecksum);
static_assert(kHeaderUsedBytes <= kHeaderOffChecksum);
static_assert(kWalHeaderUsedBytes <= kWalHeaderSize);
static_assert((kFirstExtentSlots * kVectorAlign) % kPageSize == 0, "vector extents are whole pages");
static_assert(kWalMaxPayload > kPageSize + 9 + kMetaBodySize + 1);
static_assert(kMaxIdBytes < 0xFFFF);

}  // namespace vdb::format
