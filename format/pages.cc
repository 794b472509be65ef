#include "format/pages.h"

#include <bit>

#include "format/checksum.h"
#include "format/coding.h"

namespace vdb::format {

void SealPage(uint8_t* page, uint64_t pgno, uint64_t uuid_seed) {
  PutU64(page + kPagePayload, Checksum64(page, kPagePayload, uuid_seed ^ pgno));
}

bool PageChecksumOk(const uint8_t* page, uint64_t pgno, uint64_t uuid_seed) {
  return GetU64(page + kPagePayload) == Checksum64(page, kPagePayload, uuid_seed ^ pgno);
}

uint64_t SealedExtentPages(uint32_t k, uint32_t record_size) {
  uint64_t per_page = kPagePayload / record_size;
  return (ExtentSlots(k) + per_page - 1) / per_page;
}

uint64_t VectorExtentPages(uint32_t k, uint32_t stride) {
  return (ExtentSlots(k) * stride + kPageSize - 1) / kPageSize;
}

void EncodeSlotRecord(const SlotRecord& r, uint8_t* out) {
  PutU8(out + 0, r.state);
  PutU8(out + 1, r.flags);
  PutU16(out + 2, r.id_len);
  PutU32(out + 4, r.meta_len);
  PutU64(out + 8, r.id_ref);
  PutU64(out + 16, r.meta_ref);
  PutF32(out + 24, r.inv_norm);
  PutU32(out + 28, r.check);
}

SlotRecord DecodeSlotRecord(const uint8_t* in) {
  SlotRecord r;
  r.state = GetU8(in + 0);
  r.flags = GetU8(in + 1);
  r.id_len = GetU16(in + 2);
  r.meta_len = GetU32(in + 4);
  r.id_ref = GetU64(in + 8);
  r.meta_ref = GetU64(in + 16);
  r.inv_norm = GetF32(in + 24);
  r.check = GetU32(in + 28);
  return r;
}

void EncodeIdMapEntry(const IdMapEntry& e, uint8_t* out) {
  PutU64(out, e.hash);
  PutU32(out + 8, e.slot);
  PutU32(out + 12, 0);
}

IdMapEntry DecodeIdMapEntry(const uint8_t* in) { return {GetU64(in), GetU32(in + 8)}; }

uint64_t IdHash(const void* id, size_t len) {
  uint64_t h = Checksum64(id, len, kIdHashSeed);
  return h < 2 ? h + 2 : h;
}

}  // namespace vdb::format
