#include "engine/state.h"

#include <bit>
#include <cstring>

#include "format/checksum.h"
#include "format/coding.h"
#include "format/record_check.h"

namespace vdb {

using namespace vdb::format;

Status StateReader::SlotRecordLoc(uint32_t slot, uint64_t* pgno, uint32_t* off) const {
  if (slot >= meta_->slot_hwm) return Status::InvalidArgument("slot " + std::to_string(slot) + " beyond the slots in use");
  ExtentPos ep = ExtentOf(slot);
  uint64_t first = ep.extent < kMaxExtents ? meta_->slot_extents[ep.extent] : 0;
  if (first == 0) return Status::Corruption("slot extent " + std::to_string(ep.extent) + " is not allocated");
  uint64_t p = first + ep.index / kSlotRecordsPerPage;
  if (p >= meta_->page_count) return Status::Corruption("slot record page " + std::to_string(p) + " beyond the file");
  *pgno = p;
  *off = static_cast<uint32_t>((ep.index % kSlotRecordsPerPage) * kSlotRecordSize);
  return Status::Ok();
}

Result<SlotRecord> StateReader::Slot(uint32_t slot) const {
  uint64_t pgno;
  uint32_t off;
  VDB_RETURN_IF_ERROR(SlotRecordLoc(slot, &pgno, &off));
  return DecodeSlotRecord(src_->Page(pgno) + off);
}

Status StateReader::VectorOffset(uint32_t slot, uint64_t* off) const {
  if (slot >= meta_->slot_hwm) return Status::InvalidArgument("slot " + std::to_string(slot) + " beyond the slots in use");
  ExtentPos ep = ExtentOf(slot);
  uint64_t first = ep.extent < kMaxExtents ? meta_->vector_extents[ep.extent] : 0;
  if (first == 0) return Status::Corruption("vector extent " + std::to_string(ep.extent) + " is not allocated");
  uint64_t o = first * kPageSize + ep.index * layout_->header->vector_stride;
  if (o + layout_->header->vector_stride > meta_->page_count * kPageSize)
    return Status::Corruption("vector of slot " + std::to_string(slot) + " beyond the file");
  *off = o;
  return Status::Ok();
}

Result<std::string> StateReader::ReadBlob(uint64_t ref, uint32_t len) const {
  std::string out;
  if (len == 0) return out;
  uint64_t pgno = ref / kPageSize;
  uint64_t in = ref % kPageSize;
  if (in >= kPagePayload || pgno < kFirstDataPage)
    return Status::Corruption("blob reference " + std::to_string(ref) + " is not inside a page payload");
  uint64_t pages = (in + len + kPagePayload - 1) / kPagePayload;
  if (pgno + pages > meta_->page_count)
    return Status::Corruption("blob at " + std::to_string(ref) + " (" + std::to_string(len) + " bytes) runs past the file");
  out.resize(len);
  size_t done = 0;
  while (done < len) {
    size_t n = std::min<size_t>(len - done, kPagePayload - in);
    std::memcpy(out.data() + done, src_->Page(pgno) + in, n);
    done += n;
    pgno++;
    in = 0;
  }
  return out;
}

void StateReader::IdMapLoc(uint64_t i, uint64_t* pgno, uint32_t* off) const {
  *pgno = meta_->idmap_page + i / kIdMapEntriesPerPage;
  *off = static_cast<uint32_t>((i % kIdMapEntriesPerPage) * kIdMapEntrySize);
}

Status StateReader::CheckIdMapLocation() const {
  if (meta_->idmap_capacity == 0) return Status::Ok();
  uint64_t pages = (meta_->idmap_capacity + kIdMapEntriesPerPage - 1) / kIdMapEntriesPerPage;
  if (meta_->idmap_page < kFirstDataPage || meta_->idmap_page + pages > meta_->page_count)
    return Status::Corruption("id map pages lie outside the file");
  return Status::Ok();
}

Result<std::string> StateReader::SlotId(uint32_t slot, const SlotRecord& r) const {
  if (r.id_len == 0 || r.id_len > kMaxIdBytes)
    return Status::Corruption("slot " + std::to_string(slot) + ": id length " + std::to_string(r.id_len));
  return ReadBlob(r.id_ref, r.id_len);
}

Result<uint32_t> StateReader::FindId(std::string_view id) const {
  if (meta_->idmap_capacity == 0) return Status::NotFound("no record with id '" + std::string(id) + "'");
  VDB_RETURN_IF_ERROR(CheckIdMapLocation());
  uint64_t h = IdHash(id.data(), id.size());
  uint64_t mask = meta_->idmap_capacity - 1;
  for (uint64_t probe = 0, i = h & mask; probe < meta_->idmap_capacity; probe++, i = (i + 1) & mask) {
    uint64_t pgno;
    uint32_t off;
    IdMapLoc(i, &pgno, &off);
    IdMapEntry e = DecodeIdMapEntry(src_->Page(pgno) + off);
    if (e.hash == kIdHashEmpty) break;
    if (e.hash != h) continue;
    auto rec = Slot(e.slot);
    if (!rec.ok()) return rec.status().WithContext("id map entry " + std::to_string(i));
    if (rec->state != kSlotLive) continue;
    VDB_ASSIGN_OR_RETURN(std::string stored, SlotId(e.slot, *rec));
    if (stored == id) return e.slot;
  }
  return Status::NotFound("no record with id '" + std::string(id) + "'");
}

uint32_t StateReader::RecordCheck(uint32_t slot, const float* vec, uint32_t dim, std::string_view id,
                                  std::string_view meta) {
  // Little-endian hosts only (checked below): the vector bytes are as stored.
  return format::RecordCheck(slot, vec, static_cast<size_t>(dim) * 4, id, meta);
}

static_assert(std::endian::native == std::endian::little, "vdb stores vectors little-endian in place");

void StateReader::UnindexedLoc(uint32_t i, uint64_t* pgno, uint32_t* off) const {
  *pgno = meta_->unindexed_page + i / kUnindexedPerPage;
  *off = (i % kUnindexedPerPage) * 4;
}

Status StateReader::UnindexedSlots(std::vector<uint32_t>* out) const {
  out->clear();
  const uint32_t n = meta_->unindexed_count;
  if (n == 0) return Status::Ok();
  // DecodeMetaBody checked n <= capacity and the pages inside the file.
  out->reserve(n);
  for (uint32_t i = 0; i < n; i++) {
    uint64_t pgno;
    uint32_t off;
    UnindexedLoc(i, &pgno, &off);
    uint32_t slot = GetU32(src_->Page(pgno) + off);
    if (slot >= meta_->slot_hwm)
      return Status::Corruption("unindexed list entry " + std::to_string(i) + " names slot " + std::to_string(slot) +
                                " beyond the high-water mark " + std::to_string(meta_->slot_hwm));
    out->push_back(slot);
  }
  return Status::Ok();
}

}  // namespace vdb
