// The passes over the database state: layout, slot records, id map, free list.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "format/coding.h"
#include "format/graph.h"
#include "format/metadata_codec.h"
#include "recovery/check_internal.h"

namespace vdb::recovery::check {

using namespace vdb::format;

namespace {

std::string SlotName(uint64_t slot) { return "slot record " + Num(slot); }

// Sequential reads of the vector region through a window, so checking every
// vector costs one read per window rather than one per slot.
class VectorWindow {
 public:
  explicit VectorWindow(DbImage* image) : image_(image) {}
  Status Get(uint64_t off, size_t n, const uint8_t** out, ImageOrigin* origin) {
    if (n > kWindow) {
      exact_.resize(n);
      VDB_RETURN_IF_ERROR(image_->Read(off, n, exact_.data(), origin));
      *out = exact_.data();
      return Status::Ok();
    }
    if (off < start_ || off + n > start_ + len_) {
      buf_.resize(kWindow);
      start_ = off;
      len_ = kWindow;
      VDB_RETURN_IF_ERROR(image_->Read(off, kWindow, buf_.data(), &origin_));
    }
    *out = buf_.data() + (off - start_);
    *origin = origin_;
    if (origin_.past_end) {
      // The window reaches past the file's end; ask about these bytes alone.
      exact_.resize(n);
      VDB_RETURN_IF_ERROR(image_->Read(off, n, exact_.data(), origin));
      *out = exact_.data();
    }
    return Status::Ok();
  }

 private:
  static constexpr size_t kWindow = 256 << 10;
  DbImage* image_;
  std::vector<uint8_t> buf_, exact_;
  uint64_t start_ = 0, len_ = 0;
  ImageOrigin origin_;
};

Status ReadSlotRecord(Context* ctx, uint32_t slot, SlotRecord* r, uint64_t* pgno_out) {
  ExtentPos ep = ExtentOf(slot);
  uint64_t pgno = ctx->body.slot_extents[ep.extent] + ep.index / kSlotRecordsPerPage;
  uint8_t page[kPageSize];
  VDB_RETURN_IF_ERROR(ctx->image->ReadPage(pgno, page));
  *r = DecodeSlotRecord(page + (ep.index % kSlotRecordsPerPage) * kSlotRecordSize);
  if (pgno_out) *pgno_out = pgno;
  return Status::Ok();
}

struct Range {
  std::string name;
  uint64_t start, end;  // pages [start, end)
};

}  // namespace

Status CheckLayout(Context* ctx) {
  const MetaBody& b = ctx->body;
  const uint32_t stride = ctx->header.vector_stride;
  std::vector<Range> ranges;
  bool slots_usable = true;
  uint64_t walkable = 0;
  for (uint32_t k = 0; k < kMaxExtents; k++) {
    const bool needed = ExtentFirstSlot(k) < b.slot_hwm;
    const uint64_t vpages = VectorExtentPages(k, stride), spages = SealedExtentPages(k, kSlotRecordSize);
    bool ok = true;
    for (int which = 0; which < 2; which++) {
      uint64_t start = which == 0 ? b.vector_extents[k] : b.slot_extents[k];
      uint64_t pages = which == 0 ? vpages : spages;
      std::string name = std::string(which == 0 ? "vector" : "slot record") + " extent " + Num(k);
      if (start == 0) {
        if (needed) {
          ctx->Damage("layout.extent_missing", name,
                      name + " is not allocated, yet slots up to " + Num(b.slot_hwm) + " are in use");
          ok = false;
        }
        continue;
      }
      if (start < kFirstDataPage || start > b.page_count || pages > b.page_count - start) {
        ctx->Damage("layout.extent_range", name, name + " runs past the file's " + Num(b.page_count) + " pages",
                    static_cast<int64_t>(start), -1, -1, "end <= page " + Num(b.page_count),
                    "end at page " + Num(start + pages));
        ok = false;
        continue;
      }
      ranges.push_back({name, start, start + pages});
    }
    if (b.graph_extents[k] != 0) {
      const uint64_t gpages = SealedExtentPages(k, GraphRecordSize(ctx->header.hnsw_m0));
      const uint64_t g = b.graph_extents[k];
      if (g < kFirstDataPage || g > b.page_count || gpages > b.page_count - g)
        ctx->Damage("layout.extent_range", "graph extent " + Num(k),
                    "graph extent " + Num(k) + " runs past the file's " + Num(b.page_count) + " pages",
                    static_cast<int64_t>(g), -1, -1, "end <= page " + Num(b.page_count), "end at page " + Num(g + gpages));
      else
        ranges.push_back({"graph extent " + Num(k), g, g + gpages});
    }
    if (needed && slots_usable) {
      if (!ok) {
        slots_usable = false;
      } else {
        walkable = std::min<uint64_t>(b.slot_hwm, ExtentFirstSlot(k) + ExtentSlots(k));
      }
    }
  }
  // Bound every walk by the pages that exist.
  const uint64_t max_walk = ctx->image->available_pages() * kSlotRecordsPerPage;
  if (walkable > max_walk) {
    ctx->Damage("layout.slots_past_end", "slot records",
                "the meta page claims " + Num(b.slot_hwm) + " slots, more than the file's pages can hold; checking " +
                    "the first " + Num(max_walk),
                -1, -1, -1, "<= " + Num(max_walk) + " slots", Num(b.slot_hwm) + " slots");
    walkable = max_walk;
  }
  ctx->walkable_slots = walkable;

  if (b.idmap_capacity > 0) {
    uint64_t pages = (b.idmap_capacity + kIdMapEntriesPerPage - 1) / kIdMapEntriesPerPage;
    if (b.idmap_page < kFirstDataPage || b.idmap_page > b.page_count || pages > b.page_count - b.idmap_page) {
      ctx->Damage("layout.idmap_range", "id map",
                  "the id map (" + Num(pages) + " pages from page " + Num(b.idmap_page) + ") runs past the file",
                  static_cast<int64_t>(b.idmap_page));
    } else if (pages > ctx->image->available_pages()) {
      ctx->Damage("layout.idmap_range", "id map",
                  "the id map needs " + Num(pages) + " pages, more than the file holds",
                  static_cast<int64_t>(b.idmap_page));
    } else {
      ranges.push_back({"id map", b.idmap_page, b.idmap_page + pages});
      ctx->idmap_usable = true;
    }
  }
  if (b.blob_pages > 0 || b.blob_page != 0) {
    if (b.blob_page < kFirstDataPage || b.blob_pages == 0 || b.blob_page > b.page_count ||
        b.blob_pages > b.page_count - b.blob_page) {
      ctx->Damage("layout.blob_range", "blob heap",
                  "the current blob extent (" + Num(b.blob_pages) + " pages from page " + Num(b.blob_page) +
                      ") lies outside the file",
                  static_cast<int64_t>(b.blob_page));
    } else {
      ranges.push_back({"blob extent", b.blob_page, b.blob_page + b.blob_pages});
    }
  }
  if (b.upper_pages > 0) {
    if (b.upper_page < kFirstDataPage || b.upper_page > b.page_count || b.upper_pages > b.page_count - b.upper_page)
      ctx->Damage("layout.upper_range", "graph upper layers", "the upper-layer extent lies outside the file",
                  static_cast<int64_t>(b.upper_page));
    else
      ranges.push_back({"upper-layer extent", b.upper_page, b.upper_page + b.upper_pages});
  }
  if (b.unindexed_page != 0) {
    if (b.unindexed_page < kFirstDataPage || b.unindexed_page > b.page_count ||
        kUnindexedPages > b.page_count - b.unindexed_page)
      ctx->Damage("layout.unindexed_range", "unindexed list", "the unindexed list lies outside the file",
                  static_cast<int64_t>(b.unindexed_page));
    else
      ranges.push_back({"unindexed list", b.unindexed_page, b.unindexed_page + kUnindexedPages});
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& x, const Range& y) { return x.start < y.start; });
  for (size_t i = 1; i < ranges.size(); i++) {
    if (ranges[i].start < ranges[i - 1].end)
      ctx->Damage("layout.overlap", ranges[i].name,
                  ranges[i].name + " (from page " + Num(ranges[i].start) + ") overlaps " + ranges[i - 1].name +
                      " (pages " + Num(ranges[i - 1].start) + ".." + Num(ranges[i - 1].end - 1) + ")",
                  static_cast<int64_t>(ranges[i].start));
  }

  // The current blob extent's used pages are sealed.
  if (b.blob_page >= kFirstDataPage && b.blob_pages > 0 && b.blob_pages <= b.page_count - std::min(b.page_count, b.blob_page)) {
    uint64_t used_pages = (b.blob_used + kPagePayload - 1) / kPagePayload;
    used_pages = std::min<uint64_t>(used_pages, ctx->image->available_pages());
    Status io;
    for (uint64_t p = 0; p < used_pages; p++) {
      ctx->VerifySealed(b.blob_page + p, "blob heap page", &io);
      if (!io.ok()) return io;
    }
  }
  if (b.model_len > 0) {
    std::string model;
    Status io;
    ctx->ReadBlob(b.model_ref, b.model_len, "embedding model identity", -1, "meta.model_ref", &model, &io);
    if (!io.ok()) return io;
  }
  return Status::Ok();
}

Status CheckSlots(Context* ctx) {
  const MetaBody& b = ctx->body;
  const uint64_t n = ctx->walkable_slots;
  CheckStats& st = ctx->report_->stats;
  ctx->slot_hash.assign(n, 0);
  ctx->slot_flags.assign(n, 0);
  const uint32_t dim = ctx->header.dim;
  const size_t vbytes = static_cast<size_t>(dim) * 4;
  VectorWindow vectors(ctx->image);
  uint8_t page[kPageSize];
  uint64_t cur_pgno = ~0ull;
  Status io;
  std::string id, stored_meta;
  for (uint64_t s = 0; s < n; s++) {
    const uint32_t slot = static_cast<uint32_t>(s);
    ExtentPos ep = ExtentOf(slot);
    uint64_t pgno = b.slot_extents[ep.extent] + ep.index / kSlotRecordsPerPage;
    if (pgno != cur_pgno) {
      ctx->VerifySealed(pgno, "slot record page", &io);
      if (!io.ok()) return io;
      VDB_RETURN_IF_ERROR(ctx->image->ReadPage(pgno, page));
      cur_pgno = pgno;
    }
    const uint32_t in_page = static_cast<uint32_t>((ep.index % kSlotRecordsPerPage) * kSlotRecordSize);
    const int64_t rec_off = static_cast<int64_t>(pgno * kPageSize + in_page);
    const int64_t pg = static_cast<int64_t>(pgno);
    SlotRecord r = DecodeSlotRecord(page + in_page);
    st.slots_checked++;
    const std::string name = SlotName(s);
    if (r.state == kSlotFree) {
      st.free_slots++;
      ctx->slot_flags[s] |= kFlagFree;
      if (r.flags || r.id_len || r.meta_len || r.meta_ref || r.check || GetU32(page + in_page + 24) != 0)
        ctx->Damage("slot.free_fields", name, "a free slot record has non-zero fields", pg, rec_off,
                    static_cast<int64_t>(s));
      continue;
    }
    if (r.state == kSlotDeleted) {
      st.deleted_slots++;
      ctx->slot_flags[s] |= kFlagDeleted;
      continue;
    }
    if (r.state != kSlotLive) {
      ctx->Damage("slot.state", name, "unknown slot state", pg, rec_off, static_cast<int64_t>(s), "0, 1 or 2",
                  Num(r.state));
      continue;
    }
    st.live_records++;
    ctx->slot_flags[s] |= kFlagLive;
    if (r.flags & ~kSlotFlagMetaZstd)
      ctx->Damage("slot.flags", name, "unknown flag bits in a slot record", pg, rec_off + 1, static_cast<int64_t>(s),
                  "0 or 1", Num(r.flags));
    bool id_ok = false, meta_ok = false;
    if (r.id_len == 0 || r.id_len > kMaxIdBytes) {
      ctx->Damage("slot.id_len", name, "id length out of range", pg, rec_off + 2, static_cast<int64_t>(s),
                  "1.." + Num(kMaxIdBytes), Num(r.id_len));
    } else {
      id_ok = ctx->ReadBlob(r.id_ref, r.id_len, name + " id", static_cast<int64_t>(s), "slot.id_ref", &id, &io);
      if (!io.ok()) return io;
      if (id_ok) {
        ctx->slot_hash[s] = IdHash(id.data(), id.size());
        ctx->slot_flags[s] |= kFlagIdKnown;
      }
    }
    if (r.meta_len > 4ull * kMaxMetadataBytes) {
      ctx->Damage("slot.meta_len", name, "stored metadata length out of range", pg, rec_off + 4,
                  static_cast<int64_t>(s), "<= " + Num(4ull * kMaxMetadataBytes), Num(r.meta_len));
    } else {
      meta_ok = ctx->ReadBlob(r.meta_ref, r.meta_len, name + " metadata", static_cast<int64_t>(s), "slot.meta_ref",
                              &stored_meta, &io);
      if (!io.ok()) return io;
    }
    if (!ctx->options_.verify_records) continue;
    if (meta_ok && r.meta_len > 0) {
      auto decoded = DecodeMetadata(stored_meta, (r.flags & kSlotFlagMetaZstd) != 0);
      if (decoded.ok())
        st.metadata_decoded++;
      else
        ctx->Damage("slot.metadata", name, "metadata does not decode: " + decoded.status().message(), -1,
                    static_cast<int64_t>(r.meta_ref), static_cast<int64_t>(s));
    }
    uint64_t voff = b.vector_extents[ep.extent] * kPageSize + ep.index * ctx->header.vector_stride;
    const uint8_t* v = nullptr;
    ImageOrigin origin;
    VDB_RETURN_IF_ERROR(vectors.Get(voff, vbytes, &v, &origin));
    if (origin.past_end) {
      ctx->Damage("slot.vector_past_end", name + " vector",
                  "the vector lies past the end of the file and no WAL entry supplies it", -1,
                  static_cast<int64_t>(voff), static_cast<int64_t>(s));
      continue;
    }
    double n2 = 0;
    bool finite = true;
    for (uint32_t i = 0; i < dim; i++) {
      float x = GetF32(v + 4 * i);
      if (!std::isfinite(x)) finite = false;
      n2 += static_cast<double>(x) * x;
    }
    if (!finite)
      ctx->Damage("slot.vector_nonfinite", name + " vector", "the vector holds NaN or infinite components", -1,
                  static_cast<int64_t>(voff), static_cast<int64_t>(s));
    if (id_ok && meta_ok) {
      uint32_t want = RecordCheck(slot, v, vbytes, id, stored_meta);
      if (want != r.check)
        ctx->Damage("slot.record_check", name,
                    "record check mismatch: the vector, id or metadata bytes of '" + id.substr(0, 64) +
                        "' are damaged",
                    pg, rec_off + 28, static_cast<int64_t>(s), Hex(want), Hex(r.check));
      else
        st.records_verified++;
    }
    if (finite) {
      double want = n2 > 0 ? 1.0 / std::sqrt(n2) : 0.0;
      if (std::fabs(static_cast<double>(r.inv_norm) - want) > 1e-3 * want + 1e-30 || !std::isfinite(r.inv_norm))
        ctx->Damage("slot.inv_norm", name, "the stored inverse norm disagrees with the vector", pg, rec_off + 24,
                    static_cast<int64_t>(s), std::to_string(want), std::to_string(r.inv_norm));
    }
  }
  return Status::Ok();
}

Status CheckIdMap(Context* ctx) {
  const MetaBody& b = ctx->body;
  CheckStats& st = ctx->report_->stats;
  const uint64_t cap = b.idmap_capacity;
  if (cap == 0 || !ctx->idmap_usable) {
    if (cap == 0) {
      for (uint64_t s = 0; s < ctx->walkable_slots; s++)
        if (ctx->slot_flags[s] & kFlagLive)
          ctx->Damage("idmap.unmapped_slot", SlotName(s), "a live record has no id map entry (there is no id map)",
                      -1, -1, static_cast<int64_t>(s));
    }
    return Status::Ok();
  }
  const uint64_t mask = cap - 1;
  Status io;
  uint8_t page[kPageSize];
  uint64_t cur_pgno = ~0ull;
  auto entry_at = [&](uint64_t i, IdMapEntry* e) -> Status {
    uint64_t pgno = b.idmap_page + i / kIdMapEntriesPerPage;
    if (pgno != cur_pgno) {
      ctx->VerifySealed(pgno, "id map page", &io);
      if (!io.ok()) return io;
      VDB_RETURN_IF_ERROR(ctx->image->ReadPage(pgno, page));
      cur_pgno = pgno;
    }
    *e = DecodeIdMapEntry(page + (i % kIdMapEntriesPerPage) * kIdMapEntrySize);
    return Status::Ok();
  };
  // Start right after an empty entry so that no probe run wraps in scan order.
  IdMapEntry e;
  bool full = true;
  uint64_t start = 0;
  for (uint64_t j = cap; j-- > 0;) {
    VDB_RETURN_IF_ERROR(entry_at(j, &e));
    if (e.hash == kIdHashEmpty) {
      full = false;
      start = (j + 1) & mask;
      break;
    }
  }
  if (full)
    ctx->Damage("idmap.full", "id map", "the id map has no empty entry: lookups of absent ids never stop early",
                static_cast<int64_t>(b.idmap_page));
  uint64_t used = 0, tombstones = 0, run_start = 0;
  std::unordered_map<uint64_t, uint64_t> run_hashes;  // hash -> entry index, within the current probe run
  for (uint64_t j = 0; j < cap; j++) {
    const uint64_t i = (start + j) & mask;
    VDB_RETURN_IF_ERROR(entry_at(i, &e));
    const uint64_t pgno = b.idmap_page + i / kIdMapEntriesPerPage;
    const int64_t off = static_cast<int64_t>(pgno * kPageSize + (i % kIdMapEntriesPerPage) * kIdMapEntrySize);
    const std::string name = "id map entry " + Num(i);
    if (e.hash == kIdHashEmpty) {
      run_hashes.clear();
      run_start = j + 1;
      continue;
    }
    if (e.hash == kIdHashTombstone) {
      tombstones++;
      continue;
    }
    used++;
    st.idmap_entries++;
    const uint64_t home_j = ((e.hash & mask) - start) & mask;
    if (!full && (home_j < run_start || home_j > j))
      ctx->Damage("idmap.unreachable", name,
                  "the entry cannot be found by a lookup: an empty entry lies between its home " +
                      Num(e.hash & mask) + " and its position",
                  static_cast<int64_t>(pgno), off, e.slot == kNoSlot ? -1 : static_cast<int64_t>(e.slot));
    auto [it, fresh] = run_hashes.emplace(e.hash, i);
    if (!fresh)
      ctx->Damage("idmap.duplicate", name,
                  "two id map entries (" + Num(it->second) + " and " + Num(i) + ") hold the same id hash " +
                      Hex(e.hash),
                  static_cast<int64_t>(pgno), off, static_cast<int64_t>(e.slot));
    if (e.slot >= b.slot_hwm) {
      ctx->Damage("idmap.slot_range", name, "the entry points beyond the slots in use", static_cast<int64_t>(pgno),
                  off, -1, "< " + Num(b.slot_hwm), Num(e.slot));
      continue;
    }
    if (e.slot >= ctx->walkable_slots) continue;
    uint8_t& fl = ctx->slot_flags[e.slot];
    if (!(fl & kFlagLive)) {
      ctx->Damage("idmap.dangling", name,
                  "the entry points at slot " + Num(e.slot) + ", which holds no live record",
                  static_cast<int64_t>(pgno), off, static_cast<int64_t>(e.slot), "a live slot",
                  (fl & kFlagFree) ? "a free slot" : (fl & kFlagDeleted) ? "a deleted slot" : "a damaged slot");
      continue;
    }
    if ((fl & kFlagIdKnown) && ctx->slot_hash[e.slot] != e.hash)
      ctx->Damage("idmap.hash_mismatch", name, "the entry's hash is not the hash of slot " + Num(e.slot) + "'s id",
                  static_cast<int64_t>(pgno), off, static_cast<int64_t>(e.slot), Hex(ctx->slot_hash[e.slot]),
                  Hex(e.hash));
    if (fl & kFlagReferenced)
      ctx->Damage("idmap.shared_slot", name, "a second id map entry points at slot " + Num(e.slot),
                  static_cast<int64_t>(pgno), off, static_cast<int64_t>(e.slot));
    fl |= kFlagReferenced;
  }
  if (used != b.idmap_used)
    ctx->Damage("idmap.count", "id map", "the id map's used entries disagree with the meta page",
                static_cast<int64_t>(b.idmap_page), -1, -1, Num(b.idmap_used), Num(used));
  if (tombstones != b.idmap_tombstones)
    ctx->Damage("idmap.tombstone_count", "id map", "the id map's tombstones disagree with the meta page",
                static_cast<int64_t>(b.idmap_page), -1, -1, Num(b.idmap_tombstones), Num(tombstones));
  for (uint64_t s = 0; s < ctx->walkable_slots; s++) {
    uint8_t fl = ctx->slot_flags[s];
    if ((fl & kFlagLive) && (fl & kFlagIdKnown) && !(fl & kFlagReferenced))
      ctx->Damage("idmap.unmapped_slot", SlotName(s), "a live record has no id map entry: lookups cannot find it",
                  -1, -1, static_cast<int64_t>(s));
  }
  return Status::Ok();
}

Status CheckFreeList(Context* ctx) {
  const MetaBody& b = ctx->body;
  CheckStats& st = ctx->report_->stats;
  const bool complete = ctx->walkable_slots == b.slot_hwm;
  if (complete) {
    if (st.live_records != b.live_count)
      ctx->Damage("count.live", "meta page", "live records counted differ from the meta page's count", -1, -1, -1,
                  Num(b.live_count), Num(st.live_records));
    if (st.free_slots != b.free_count)
      ctx->Damage("count.free", "meta page", "free slots counted differ from the meta page's count", -1, -1, -1,
                  Num(b.free_count), Num(st.free_slots));
    if (st.deleted_slots != b.deleted_count)
      ctx->Damage("count.deleted", "meta page", "deleted slots counted differ from the meta page's count", -1, -1,
                  -1, Num(b.deleted_count), Num(st.deleted_slots));
  }
  // Walk the chain; every step is bounded by the slots that exist.
  uint64_t cur = b.free_head, prev = kNoSlot, steps = 0;
  bool broken = false;
  while (cur != kNoSlot) {
    const std::string name = "free list at " + SlotName(cur);
    if (cur >= b.slot_hwm) {
      ctx->Damage("free.link_range", name, "the free list links beyond the slots in use", -1, -1,
                  prev == kNoSlot ? -1 : static_cast<int64_t>(prev), "< " + Num(b.slot_hwm), Num(cur));
      broken = true;
      break;
    }
    if (cur >= ctx->walkable_slots) {
      broken = true;  // unreadable part, already reported
      break;
    }
    uint8_t& fl = ctx->slot_flags[cur];
    if (fl & kFlagOnChain) {
      ctx->Damage("free.cycle", name, "the free list runs in a cycle", -1, -1, static_cast<int64_t>(cur));
      broken = true;
      break;
    }
    if (!(fl & kFlagFree)) {
      ctx->Damage("free.not_free", name, "the free list reaches a slot that is not free", -1, -1,
                  static_cast<int64_t>(cur));
      broken = true;
      break;
    }
    fl |= kFlagOnChain;
    steps++;
    SlotRecord r;
    uint64_t pgno;
    VDB_RETURN_IF_ERROR(ReadSlotRecord(ctx, static_cast<uint32_t>(cur), &r, &pgno));
    prev = cur;
    if (r.id_ref > kNoSlot) {
      ctx->Damage("free.link_range", name, "a free list link is not a slot number", static_cast<int64_t>(pgno), -1,
                  static_cast<int64_t>(cur), "< " + Num(b.slot_hwm), Num(r.id_ref));
      broken = true;
      break;
    }
    cur = r.id_ref;
  }
  st.free_chain_length = steps;
  if (!broken && complete) {
    if (prev != b.free_tail)
      ctx->Damage("free.tail", "meta page", "the free list does not end at the meta page's free tail", -1, -1, -1,
                  prev == kNoSlot ? "none" : Num(b.free_tail),
                  prev == kNoSlot ? "an empty list" : "slot " + Num(prev));
    if (steps != b.free_count)
      ctx->Damage("free.count", "meta page", "the free list's length differs from the meta page's free count", -1,
                  -1, -1, Num(b.free_count), Num(steps));
  }
  if (!broken) {
    for (uint64_t s = 0; s < ctx->walkable_slots; s++) {
      uint8_t fl = ctx->slot_flags[s];
      if ((fl & kFlagFree) && !(fl & kFlagOnChain))
        ctx->Damage("free.unchained", SlotName(s), "a free slot is not on the free list (it can never be reused)",
                    -1, -1, static_cast<int64_t>(s));
    }
  }
  return Status::Ok();
}

}  // namespace vdb::recovery::check
