#include "recovery/salvage.h"

#include <cmath>
#include <cstring>
#include <memory>

#include "format/checksum.h"
#include "format/coding.h"
#include "format/meta.h"
#include "format/metadata_codec.h"
#include "format/pages.h"
#include "format/wal_format.h"
#include "recovery/check_image.h"
#include "recovery/check_internal.h"
#include "recovery/replay.h"

namespace vdb::recovery {

using namespace vdb::format;

namespace {

// A blob read trusting nothing but the bounds (the record check vouches for
// the bytes).
bool ReadBlobBounded(DbImage* image, const MetaBody& b, uint64_t ref, uint64_t len, std::string* out, Status* io) {
  out->clear();
  if (len == 0) return true;
  uint64_t pgno = ref / kPageSize, in = ref % kPageSize;
  uint64_t pages = (in + len + kPagePayload - 1) / kPagePayload;
  if (in >= kPagePayload || pgno < kFirstDataPage || pgno >= b.page_count || pages > b.page_count - pgno) return false;
  out->resize(len);
  uint8_t page[kPageSize];
  size_t done = 0;
  while (done < len) {
    ImageOrigin origin;
    *io = image->ReadPage(pgno, page, &origin);
    if (!io->ok() || origin.past_end) return false;
    size_t n = std::min<uint64_t>(len - done, kPagePayload - in);
    std::memcpy(out->data() + done, page + in, n);
    done += n;
    pgno++;
    in = 0;
  }
  return true;
}

void Lost(SalvageSummary* s, uint64_t slot, const std::string& id, const std::string& why) {
  s->lost++;
  if (s->lost_detail.size() < SalvageSummary::kMaxDetail)
    s->lost_detail.push_back("slot " + std::to_string(slot) + (id.empty() ? "" : " (id '" + id.substr(0, 64) + "')") +
                             ": " + why);
}

}  // namespace

Status SalvageRecords(const std::string& path, const SalvageOptions& options,
                      const std::function<Status(SalvagedRecord&&)>& sink, SalvageSummary* summary) {
  *summary = SalvageSummary();
  VDB_ASSIGN_OR_RETURN(auto main, ReadOnlyFile::Open(path));
  VDB_ASSIGN_OR_RETURN(uint64_t size, main->Size());
  std::vector<uint8_t> head(3 * kPageSize, 0);
  size_t got = 0;
  VDB_RETURN_IF_ERROR(main->Read(0, head.data(), head.size(), &got));

  // Header: as is, or with its checksum set aside if every field is sound.
  FileHeader h;
  Status hs = DecodeHeader(head.data(), &h);
  if (hs.IsNotSupported()) return hs;
  if (!hs.ok()) {
    std::vector<uint8_t> copy(head.begin(), head.begin() + kPageSize);
    PutU64(copy.data() + kHeaderOffChecksum, Checksum64(copy.data(), kHeaderOffChecksum, 0));
    Status again = DecodeHeader(copy.data(), &h);
    if (!again.ok()) return Status::Corruption("header page unusable, nothing can be salvaged: " + hs.message());
  } else {
    summary->header_checksum_ok = true;
  }
  summary->header = h;
  summary->header_ok = true;

  // Meta: the valid one with the higher sequence, else the sounder of two
  // whose checksums fail.
  MetaPage ma, mb;
  bool va = DecodeMetaPage(head.data() + kPageSize, kMetaPageA, h.uuid, &ma).ok();
  bool vb = DecodeMetaPage(head.data() + 2 * kPageSize, kMetaPageB, h.uuid, &mb).ok();
  summary->meta_checksum_ok = va || vb;
  if (!va && !vb) {
    va = DecodeMetaPage(head.data() + kPageSize, kMetaPageA, h.uuid, &ma, false).ok();
    vb = DecodeMetaPage(head.data() + 2 * kPageSize, kMetaPageB, h.uuid, &mb, false).ok();
  }
  if (!va && !vb) return Status::Corruption("neither meta page is usable, nothing can be salvaged");
  const bool use_a = va && (!vb || ma.meta_seq > mb.meta_seq);
  const MetaPage& meta = use_a ? ma : mb;
  summary->meta_page_used = use_a ? 1 : 2;

  std::unique_ptr<ReadOnlyFile> wal;
  {
    auto w = ReadOnlyFile::Open(options.wal_path.empty() ? path + "-wal" : options.wal_path);
    if (w.ok())
      wal = std::move(*w);
    else if (!w.status().IsNotFound())
      return w.status();
  }
  DbImage image(main.get(), size, wal.get());
  MetaBody b = meta.body;
  auto rr = ReplayWal(wal.get(), nullptr, h, meta);
  if (!rr.ok() && !rr.status().IsCorruption()) return rr.status();
  if (rr.ok() && rr->commits > 0) {
    VDB_RETURN_IF_ERROR(image.IndexWal(rr->records, WalRecordSeed(h.uuid, meta.wal_generation),
                                       WalRecordSeed(h.uuid, meta.wal_generation - 1), rr->valid_end));
    b = rr->body;
    summary->wal_applied = true;
    summary->wal_commits = rr->commits;
  }
  summary->slots_in_use = b.slot_hwm;
  Status io;
  if (b.model_len > 0) {
    std::string model;
    if (ReadBlobBounded(&image, b, b.model_ref, b.model_len, &model, &io)) summary->model_identity = model;
    VDB_RETURN_IF_ERROR(io);
  }

  const uint32_t dim = h.dim;
  const size_t vbytes = static_cast<size_t>(dim) * 4;
  const uint64_t max_slots = image.available_pages() * kSlotRecordsPerPage;
  const uint64_t n = std::min<uint64_t>(b.slot_hwm, max_slots);
  std::vector<uint8_t> vec(vbytes);
  uint8_t page[kPageSize];
  uint64_t cur = ~0ull;
  bool page_ok = false;
  std::string id, stored;
  for (uint64_t s = 0; s < n; s++) {
    ExtentPos ep = ExtentOf(s);
    uint64_t first = b.slot_extents[ep.extent];
    uint64_t pgno = first + ep.index / kSlotRecordsPerPage;
    if (first == 0 || pgno >= b.page_count) {
      // The rest of this extent is unreachable.
      uint64_t end = std::min<uint64_t>(n, ExtentFirstSlot(ep.extent) + ExtentSlots(ep.extent));
      if (summary->lost_detail.size() < SalvageSummary::kMaxDetail)
        summary->lost_detail.push_back("slots " + std::to_string(s) + ".." + std::to_string(end - 1) +
                                       ": their slot records lie outside the file; not scanned");
      s = end - 1;
      continue;
    }
    if (pgno != cur) {
      ImageOrigin origin;
      VDB_RETURN_IF_ERROR(image.ReadPage(pgno, page, &origin));
      page_ok = !origin.past_end;
      cur = pgno;
    }
    summary->slots_scanned++;
    if (!page_ok) continue;
    SlotRecord r = DecodeSlotRecord(page + (ep.index % kSlotRecordsPerPage) * kSlotRecordSize);
    if (r.state != kSlotLive) continue;
    summary->live_seen++;
    id.clear();
    if (r.id_len == 0 || r.id_len > kMaxIdBytes || !ReadBlobBounded(&image, b, r.id_ref, r.id_len, &id, &io)) {
      VDB_RETURN_IF_ERROR(io);
      Lost(summary, s, "", "id unreadable");
      continue;
    }
    if (r.meta_len > 4ull * kMaxMetadataBytes || !ReadBlobBounded(&image, b, r.meta_ref, r.meta_len, &stored, &io)) {
      VDB_RETURN_IF_ERROR(io);
      Lost(summary, s, id, "metadata unreadable");
      continue;
    }
    uint64_t vfirst = b.vector_extents[ep.extent];
    uint64_t voff = vfirst * kPageSize + ep.index * h.vector_stride;
    if (vfirst == 0 || voff + vbytes > b.page_count * kPageSize) {
      Lost(summary, s, id, "vector outside the file");
      continue;
    }
    ImageOrigin vo;
    VDB_RETURN_IF_ERROR(image.Read(voff, vbytes, vec.data(), &vo));
    const bool verified =
        !vo.past_end && check::RecordCheck(static_cast<uint32_t>(s), vec.data(), vbytes, id, stored) == r.check;
    if (!verified && !options.keep_unverified) {
      Lost(summary, s, id, vo.past_end ? "vector past the end of the file" : "record check mismatch");
      continue;
    }
    SalvagedRecord rec;
    rec.slot = static_cast<uint32_t>(s);
    rec.verified = verified;
    rec.vector.resize(dim);
    bool finite = true;
    for (uint32_t i = 0; i < dim; i++) {
      rec.vector[i] = GetF32(vec.data() + 4 * i);
      finite = finite && std::isfinite(rec.vector[i]);
    }
    auto md = DecodeMetadata(stored, (r.flags & kSlotFlagMetaZstd) != 0);
    if (!finite || !md.ok()) {
      Lost(summary, s, id, !finite ? "vector has non-finite components" : "metadata does not decode");
      continue;
    }
    rec.id = id;
    rec.metadata_json = std::move(*md);
    summary->saved++;
    if (!verified) summary->saved_unverified++;
    VDB_RETURN_IF_ERROR(sink(std::move(rec)));
  }
  if (n < b.slot_hwm) {
    summary->lost_detail.push_back("slots " + std::to_string(n) + ".." + std::to_string(b.slot_hwm - 1) +
                                   " lie past the end of the file and were not scanned");
  }
  return Status::Ok();
}

}  // namespace vdb::recovery
