// Sealed pages, extents, slot records and id-map entries.
// See docs/format.md#sealed-pages, #extents, #slot-records, #id-map
#pragma once

#include <bit>
#include <cstdint>

#include "format/constants.h"
#include "vdb/status.h"

namespace vdb::format {

// --- Sealed pages: bytes [0, 4088) payload, [4088, 4096) XXH3-64 of the
// payload seeded with UuidSeed(uuid) ^ page number.
void SealPage(uint8_t* page, uint64_t pgno, uint64_t uuid_seed);
bool PageChecksumOk(const uint8_t* page, uint64_t pgno, uint64_t uuid_seed);

// --- Extents: extent k of a slot-indexed region holds kFirstExtentSlots << k
// slots, starting at slot kFirstExtentSlots * (2^k - 1).
struct ExtentPos {
  uint32_t extent;  // k
  uint64_t index;   // slot - first slot of extent k
};
inline uint64_t ExtentSlots(uint32_t k) { return static_cast<uint64_t>(kFirstExtentSlots) << k; }
inline uint64_t ExtentFirstSlot(uint32_t k) { return static_cast<uint64_t>(kFirstExtentSlots) * ((1ull << k) - 1); }
inline ExtentPos ExtentOf(uint64_t slot) {
  uint64_t q = slot / kFirstExtentSlots + 1;  // >= 1
  uint32_t k = static_cast<uint32_t>(63 - std::countl_zero(q));
  return {k, slot - ExtentFirstSlot(k)};
}
// Pages extent k needs for records of record_size bytes, packed
// floor(kPagePayload / record_size) per sealed page.
uint64_t SealedExtentPages(uint32_t k, uint32_t record_size);
// Pages extent k of the vector region needs (stride bytes per slot, unsealed).
uint64_t VectorExtentPages(uint32_t k, uint32_t stride);

// --- Slot records (32 bytes; 127 per sealed page).
struct SlotRecord {
  uint8_t state = kSlotFree;
  uint8_t flags = 0;
  uint16_t id_len = 0;
  uint32_t meta_len = 0;   // stored (possibly compressed) metadata bytes
  uint64_t id_ref = 0;     // blob reference of the id; for free slots: next free slot (kNoSlot ends)
  uint64_t meta_ref = 0;   // blob reference of the metadata (0 = none)
  float inv_norm = 0;      // 1/|v| (0 for a zero vector)
  uint32_t check = 0;      // low 32 bits of XXH3(vector || id || stored metadata, seed = slot)
};
void EncodeSlotRecord(const SlotRecord& r, uint8_t* out);
SlotRecord DecodeSlotRecord(const uint8_t* in);

// --- Id map entries (16 bytes; 255 per sealed page).
struct IdMapEntry {
  uint64_t hash = kIdHashEmpty;  // kIdHashEmpty, kIdHashTombstone, or IdHash(id) (>= 2)
  uint32_t slot = kNoSlot;
};
void EncodeIdMapEntry(const IdMapEntry& e, uint8_t* out);
IdMapEntry DecodeIdMapEntry(const uint8_t* in);
uint64_t IdHash(const void* id, size_t len);

// --- Blob references: the file offset of a blob's first byte. Blobs live in
// sealed pages of a blob extent and skip each page's trailer; a blob never
// crosses the end of its extent.
// Byte offset in the file of payload byte `pos` of an extent starting at page.
inline uint64_t SealedPayloadOffset(uint64_t first_page, uint64_t pos) {
  return (first_page + pos / kPagePayload) * kPageSize + pos % kPagePayload;
}

}  // namespace vdb::format
