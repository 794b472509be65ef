#include "format/meta.h"

#include <cstring>
#include <string>

#include "format/checksum.h"
#include "format/coding.h"

namespace vdb::format {

namespace {
// Offsets inside the meta body (docs/format.md#meta-body).
constexpr uint32_t kBodyOffPageCount = 0;
constexpr uint32_t kBodyOffLiveCount = 8;
constexpr uint32_t kBodyOffSlotHwm = 16;
constexpr uint32_t kBodyOffFreeCount = 24;
constexpr uint32_t kBodyOffFreeHead = 32;
constexpr uint32_t kBodyOffFreeTail = 36;
constexpr uint32_t kBodyOffDeletedCount = 40;
constexpr uint32_t kBodyOffIdmapPage = 48;
constexpr uint32_t kBodyOffIdmapCapacity = 56;
constexpr uint32_t kBodyOffIdmapUsed = 64;
constexpr uint32_t kBodyOffIdmapTombstones = 72;
constexpr uint32_t kBodyOffBlobPage = 80;
constexpr uint32_t kBodyOffBlobPages = 88;
constexpr uint32_t kBodyOffBlobUsed = 96;
constexpr uint32_t kBodyOffModelRef = 104;
constexpr uint32_t kBodyOffModelLen = 112;
constexpr uint32_t kBodyOffGraphEntry = 116;
constexpr uint32_t kBodyOffGraphMaxLevel = 120;
constexpr uint32_t kBodyOffGraphRecordSize = 124;
constexpr uint32_t kBodyOffGraphNodes = 128;
constexpr uint32_t kBodyOffUpperPage = 136;
constexpr uint32_t kBodyOffUpperPages = 144;
constexpr uint32_t kBodyOffUpperUsed = 152;
constexpr uint32_t kBodyOffVectorExtents = 160;
constexpr uint32_t kBodyOffSlotExtents = kBodyOffVectorExtents + 8 * kMaxExtents;  // 416
constexpr uint32_t kBodyOffGraphExtents = kBodyOffSlotExtents + 8 * kMaxExtents;   // 672
constexpr uint32_t kBodyOffGraphEdges0 = kBodyOffGraphExtents + 8 * kMaxExtents;    // 928
constexpr uint32_t kBodyOffUnindexedPage = kBodyOffGraphEdges0 + 8;                 // 936
constexpr uint32_t kBodyOffUnindexedCount = kBodyOffUnindexedPage + 8;              // 944
constexpr uint32_t kBodyUsed = kBodyOffUnindexedCount + 4 + 4;                      // 952 (4 zero bytes)
static_assert(kBodyOffSlotExtents == 416 && kBodyOffGraphExtents == 672 && kBodyOffUnindexedPage == 936 &&
              kBodyUsed == 952);
static_assert(kBodyUsed <= kMetaBodySize);
}  // namespace

void EncodeMetaBody(const MetaBody& b, uint8_t* out) {
  std::memset(out, 0, kMetaBodySize);
  PutU64(out + kBodyOffPageCount, b.page_count);
  PutU64(out + kBodyOffLiveCount, b.live_count);
  PutU64(out + kBodyOffSlotHwm, b.slot_hwm);
  PutU64(out + kBodyOffFreeCount, b.free_count);
  PutU32(out + kBodyOffFreeHead, b.free_head);
  PutU32(out + kBodyOffFreeTail, b.free_tail);
  PutU64(out + kBodyOffDeletedCount, b.deleted_count);
  PutU64(out + kBodyOffIdmapPage, b.idmap_page);
  PutU64(out + kBodyOffIdmapCapacity, b.idmap_capacity);
  PutU64(out + kBodyOffIdmapUsed, b.idmap_used);
  PutU64(out + kBodyOffIdmapTombstones, b.idmap_tombstones);
  PutU64(out + kBodyOffBlobPage, b.blob_page);
  PutU64(out + kBodyOffBlobPages, b.blob_pages);
  PutU64(out + kBodyOffBlobUsed, b.blob_used);
  PutU64(out + kBodyOffModelRef, b.model_ref);
  PutU32(out + kBodyOffModelLen, b.model_len);
  PutU32(out + kBodyOffGraphEntry, b.graph_entry);
  PutU32(out + kBodyOffGraphMaxLevel, b.graph_max_level);
  PutU32(out + kBodyOffGraphRecordSize, b.graph_record_size);
  PutU64(out + kBodyOffGraphNodes, b.graph_nodes);
  PutU64(out + kBodyOffGraphEdges0, b.graph_edges0);
  PutU64(out + kBodyOffUnindexedPage, b.unindexed_page);
  PutU32(out + kBodyOffUnindexedCount, b.unindexed_count);
  PutU64(out + kBodyOffUpperPage, b.upper_page);
  PutU64(out + kBodyOffUpperPages, b.upper_pages);
  PutU64(out + kBodyOffUpperUsed, b.upper_used);
  for (uint32_t k = 0; k < kMaxExtents; k++) {
    PutU64(out + kBodyOffVectorExtents + 8 * k, b.vector_extents[k]);
    PutU64(out + kBodyOffSlotExtents + 8 * k, b.slot_extents[k]);
    PutU64(out + kBodyOffGraphExtents + 8 * k, b.graph_extents[k]);
  }
}

Status DecodeMetaBody(const uint8_t* in, MetaBody* out) {
  MetaBody b;
  b.page_count = GetU64(in + kBodyOffPageCount);
  b.live_count = GetU64(in + kBodyOffLiveCount);
  b.slot_hwm = GetU64(in + kBodyOffSlotHwm);
  b.free_count = GetU64(in + kBodyOffFreeCount);
  b.free_head = GetU32(in + kBodyOffFreeHead);
  b.free_tail = GetU32(in + kBodyOffFreeTail);
  b.deleted_count = GetU64(in + kBodyOffDeletedCount);
  b.idmap_page = GetU64(in + kBodyOffIdmapPage);
  b.idmap_capacity = GetU64(in + kBodyOffIdmapCapacity);
  b.idmap_used = GetU64(in + kBodyOffIdmapUsed);
  b.idmap_tombstones = GetU64(in + kBodyOffIdmapTombstones);
  b.blob_page = GetU64(in + kBodyOffBlobPage);
  b.blob_pages = GetU64(in + kBodyOffBlobPages);
  b.blob_used = GetU64(in + kBodyOffBlobUsed);
  b.model_ref = GetU64(in + kBodyOffModelRef);
  b.model_len = GetU32(in + kBodyOffModelLen);
  b.graph_entry = GetU32(in + kBodyOffGraphEntry);
  b.graph_max_level = GetU32(in + kBodyOffGraphMaxLevel);
  b.graph_record_size = GetU32(in + kBodyOffGraphRecordSize);
  b.graph_nodes = GetU64(in + kBodyOffGraphNodes);
  b.graph_edges0 = GetU64(in + kBodyOffGraphEdges0);
  b.unindexed_page = GetU64(in + kBodyOffUnindexedPage);
  b.unindexed_count = GetU32(in + kBodyOffUnindexedCount);
  b.upper_page = GetU64(in + kBodyOffUpperPage);
  b.upper_pages = GetU64(in + kBodyOffUpperPages);
  b.upper_used = GetU64(in + kBodyOffUpperUsed);
  for (uint32_t k = 0; k < kMaxExtents; k++) {
    b.vector_extents[k] = GetU64(in + kBodyOffVectorExtents + 8 * k);
    b.slot_extents[k] = GetU64(in + kBodyOffSlotExtents + 8 * k);
    b.graph_extents[k] = GetU64(in + kBodyOffGraphExtents + 8 * k);
  }
  auto bad = [](const std::string& what) { return Status::Corruption("meta body: " + what); };
  if (b.page_count < kFirstDataPage || b.page_count > (1ull << 40)) return bad("page count out of range");
  if (b.slot_hwm > kMaxSlots) return bad("slot high-water mark out of range");
  if (b.live_count + b.free_count + b.deleted_count != b.slot_hwm)
    return bad("live " + std::to_string(b.live_count) + " + free " + std::to_string(b.free_count) +
               " + deleted " + std::to_string(b.deleted_count) + " != slots " + std::to_string(b.slot_hwm));
  if ((b.free_count == 0) != (b.free_head == kNoSlot) || (b.free_count == 0) != (b.free_tail == kNoSlot))
    return bad("free list ends disagree with free count");
  if (b.free_head != kNoSlot && (b.free_head >= b.slot_hwm || b.free_tail >= b.slot_hwm))
    return bad("free list end beyond the slot high-water mark");
  if (b.idmap_capacity != 0 && (b.idmap_capacity & (b.idmap_capacity - 1)) != 0)
    return bad("id map capacity is not a power of two");
  if ((b.idmap_page == 0) != (b.idmap_capacity == 0)) return bad("id map page and capacity disagree");
  if (b.idmap_used + b.idmap_tombstones > b.idmap_capacity) return bad("id map overfull");
  if (b.idmap_used != b.live_count) return bad("id map entries != live records");
  if (b.blob_used > b.blob_pages * kPagePayload) return bad("blob heap use beyond its extent");
  if (b.upper_used > b.upper_pages * kPagePayload) return bad("upper-layer heap use beyond its extent");
  if (b.graph_entry != kNoSlot && b.graph_entry >= b.slot_hwm) return bad("graph entry point beyond slots");
  if (b.graph_max_level > 31) return bad("graph max level out of range");
  if (b.graph_nodes > b.slot_hwm) return bad("more graph nodes than slots");
  if (b.unindexed_count > kUnindexedCapacity) return bad("unindexed list longer than its capacity");
  if (b.unindexed_count > b.live_count) return bad("more unindexed records than live ones");
  if (b.unindexed_count != 0 && b.unindexed_page == 0) return bad("unindexed records but no list page");
  if (b.unindexed_page != 0 &&
      (b.unindexed_page < kFirstDataPage || b.unindexed_page + kUnindexedPages > b.page_count))
    return bad("unindexed list page " + std::to_string(b.unindexed_page) + " outside the file");
  for (uint32_t k = 0; k < kMaxExtents; k++) {
    for (uint64_t p : {b.vector_extents[k], b.slot_extents[k], b.graph_extents[k]})
      if (p != 0 && (p < kFirstDataPage || p >= b.page_count))
        return bad("extent " + std::to_string(k) + " starts at page " + std::to_string(p) + " outside the file");
  }
  *out = b;
  return Status::Ok();
}

void EncodeMetaPage(const MetaPage& m, uint64_t pgno, uint8_t* page) {
  std::memset(page, 0, kPageSize);
  std::memcpy(page + kMetaOffMagic, kMetaMagic, 8);
  PutU64(page + kMetaOffMetaSeq, m.meta_seq);
  PutU64(page + kMetaOffCommitSeq, m.commit_seq);
  PutU64(page + kMetaOffWalGeneration, m.wal_generation);
  std::memcpy(page + kMetaOffUuid, m.uuid, 16);
  EncodeMetaBody(m.body, page + kMetaOffBody);
  PutU64(page + kMetaOffChecksum, Checksum64(page, kMetaOffChecksum, UuidSeed(m.uuid) ^ pgno));
}

Status DecodeMetaPage(const uint8_t* page, uint64_t pgno, const uint8_t uuid[16], MetaPage* out,
                      bool verify_checksum) {
  std::string where = "meta page " + std::to_string(pgno) + " (offset " + std::to_string(pgno * kPageSize) + ")";
  if (std::memcmp(page + kMetaOffMagic, kMetaMagic, 8) != 0) return Status::Corruption(where + ": bad magic");
  if (verify_checksum && GetU64(page + kMetaOffChecksum) != Checksum64(page, kMetaOffChecksum, UuidSeed(uuid) ^ pgno))
    return Status::Corruption(where + ": checksum mismatch");
  if (std::memcmp(page + kMetaOffUuid, uuid, 16) != 0)
    return Status::Corruption(where + ": file id differs from the header's");
  MetaPage m;
  m.meta_seq = GetU64(page + kMetaOffMetaSeq);
  m.commit_seq = GetU64(page + kMetaOffCommitSeq);
  m.wal_generation = GetU64(page + kMetaOffWalGeneration);
  std::memcpy(m.uuid, uuid, 16);
  Status s = DecodeMetaBody(page + kMetaOffBody, &m.body);
  if (!s.ok()) return s.WithContext(where);
  *out = m;
  return Status::Ok();
}

}  // namespace vdb::format
