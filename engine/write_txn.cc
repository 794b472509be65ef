#include "engine/write_txn.h"

#include <cmath>
#include <cstring>

#include "engine/db_impl.h"
#include "engine/txn_graph.h"
#include "engine/hnsw/hnsw.h"
#include "format/coding.h"
#include "format/graph.h"
#include "format/metadata_codec.h"
#include "kernels/distance.h"
#include "kernels/exact_search.h"

namespace vdb {

using namespace vdb::format;

WriteTxn::WriteTxn(DbImpl* db, const MetaBody& meta, uint64_t seq)
    : db_(db), layout_(&db->layout()), meta_(meta), seq_(seq), first_new_page_(meta.page_count) {}

WriteTxn::~WriteTxn() = default;

TxnGraph* WriteTxn::Graph() {
  if (!graph_) graph_ = std::make_unique<TxnGraph>(this);
  graph_->Reserve(static_cast<uint32_t>(meta_.slot_hwm));  // slots only grow between graph calls
  return graph_.get();
}

const uint8_t* WriteTxn::Page(uint64_t pgno) const {
  auto it = dirty_.find(pgno);
  if (it != dirty_.end()) return it->second->data;
  if (pgno >= first_new_page_) {
    // Allocated by this transaction and not written yet: zeros (the file may
    // not extend that far until commit).
    alignas(64) static const uint8_t kZeroPage[kPageSize] = {};
    return kZeroPage;
  }
  return db_->WriterPage(pgno);
}

const float* WriteTxn::Vector(uint32_t slot) const {
  auto it = fresh_index_.find(slot);
  if (it != fresh_index_.end()) return fresh_[it->second].values->data();
  uint64_t off;
  if (!reader().VectorOffset(slot, &off).ok()) return nullptr;
  std::shared_ptr<const std::vector<float>> pin;
  const float* v = db_->WriterVector(slot, off, &pin);
  if (pin) {
    std::lock_guard<std::mutex> l(pinned_mu_);
    auto& slot_pin = pinned_[slot];
    if (!slot_pin) slot_pin = std::move(pin);
    return slot_pin->data();
  }
  return v;
}

uint8_t* WriteTxn::MutablePage(uint64_t pgno) {
  auto it = dirty_.find(pgno);
  if (it != dirty_.end()) return it->second->data;
  auto buf = std::make_unique<PageBuf>();
  if (pgno >= first_new_page_)
    std::memset(buf->data, 0, kPageSize);
  else
    std::memcpy(buf->data, db_->WriterPage(pgno), kPageSize);
  uint8_t* p = buf->data;
  dirty_.emplace(pgno, std::move(buf));
  return p;
}

Result<uint64_t> WriteTxn::AllocPages(uint64_t n) {
  uint64_t first = meta_.page_count;
  if (first + n > db_->max_pages())
    return Status::NoSpace("the database would outgrow its map size (" + std::to_string(db_->max_pages()) +
                           " pages); reopen with a larger OpenOptions::map_size");
  meta_.page_count += n;
  return first;
}

Result<uint32_t> WriteTxn::AllocSlot() {
  if (meta_.free_head != kNoSlot && !freed_set_.count(meta_.free_head) && db_->SlotReusable(meta_.free_head)) {
    uint32_t slot = meta_.free_head;
    VDB_ASSIGN_OR_RETURN(SlotRecord r, reader().Slot(slot));
    if (r.state != kSlotFree) return Status::Corruption("free list holds slot " + std::to_string(slot) + " that is not free");
    uint64_t next = r.id_ref;
    if (next != kNoSlot && next >= meta_.slot_hwm)
      return Status::Corruption("free list link of slot " + std::to_string(slot) + " points beyond the slots");
    meta_.free_head = static_cast<uint32_t>(next);
    if (meta_.free_head == kNoSlot) meta_.free_tail = kNoSlot;
    meta_.free_count--;
    return slot;
  }
  if (meta_.slot_hwm >= kMaxSlots) return Status::NoSpace("the database holds the maximum number of slots");
  uint32_t slot = static_cast<uint32_t>(meta_.slot_hwm);
  ExtentPos ep = ExtentOf(slot);
  if (meta_.vector_extents[ep.extent] == 0) {
    VDB_ASSIGN_OR_RETURN(meta_.vector_extents[ep.extent],
                         AllocPages(VectorExtentPages(ep.extent, layout_->header->vector_stride)));
  }
  if (meta_.slot_extents[ep.extent] == 0) {
    VDB_ASSIGN_OR_RETURN(meta_.slot_extents[ep.extent], AllocPages(SealedExtentPages(ep.extent, kSlotRecordSize)));
  }
  meta_.slot_hwm++;
  return slot;
}

Status WriteTxn::WriteSlotRecord(uint32_t slot, const SlotRecord& r) {
  uint64_t pgno;
  uint32_t off;
  VDB_RETURN_IF_ERROR(reader().SlotRecordLoc(slot, &pgno, &off));
  EncodeSlotRecord(r, MutablePage(pgno) + off);
  return Status::Ok();
}

Status WriteTxn::FreeSlotRecord(uint32_t slot) {
  SlotRecord r;
  r.state = kSlotFree;
  r.id_ref = kNoSlot;
  VDB_RETURN_IF_ERROR(WriteSlotRecord(slot, r));
  if (meta_.free_tail != kNoSlot) {
    VDB_ASSIGN_OR_RETURN(SlotRecord t, reader().Slot(meta_.free_tail));
    t.id_ref = slot;
    VDB_RETURN_IF_ERROR(WriteSlotRecord(meta_.free_tail, t));
  } else {
    meta_.free_head = slot;
  }
  meta_.free_tail = slot;
  meta_.free_count++;
  freed_.push_back(slot);
  freed_set_.insert(slot);
  return Status::Ok();
}

Status WriteTxn::RetireSlot(uint32_t slot) {
  auto it = std::find(new_slots_.begin(), new_slots_.end(), slot);
  const bool put_here = it != new_slots_.end();  // not listed, not linked yet
  bool in_graph = !put_here && Graph()->Level(slot) >= 0;
  if (put_here) new_slots_.erase(it);
  meta_.live_count--;
  if (!in_graph) {
    if (!put_here && (meta_.unindexed_count > 0 || unindexed_loaded_)) {
      VDB_RETURN_IF_ERROR(LoadUnindexed());
      auto u = std::find(unindexed_.begin(), unindexed_.end(), slot);
      if (u != unindexed_.end()) {
        *u = unindexed_.back();
        unindexed_.pop_back();
        unindexed_dirty_ = true;
      }
    }
    return FreeSlotRecord(slot);
  }
  VDB_ASSIGN_OR_RETURN(SlotRecord r, reader().Slot(slot));
  r.state = kSlotDeleted;
  VDB_RETURN_IF_ERROR(WriteSlotRecord(slot, r));
  meta_.deleted_count++;
  return Graph()->MarkDeleted(slot);
}

Result<uint64_t> WriteTxn::AllocUpper(uint64_t len) {
  uint64_t capacity = meta_.upper_pages * kPagePayload;
  if (meta_.upper_page == 0 || meta_.upper_used + len > capacity) {
    uint64_t pages = std::max<uint64_t>(kUpperExtentMinPages, std::min<uint64_t>(meta_.upper_pages * 2, 4096));
    pages = std::max<uint64_t>(pages, (len + kPagePayload - 1) / kPagePayload);
    VDB_ASSIGN_OR_RETURN(meta_.upper_page, AllocPages(pages));
    meta_.upper_pages = pages;
    meta_.upper_used = 0;
  }
  uint64_t ref = SealedPayloadOffset(meta_.upper_page, meta_.upper_used);
  meta_.upper_used += len;
  return ref;
}

void WriteTxn::WritePayload(uint64_t ref, std::string_view bytes) {
  uint64_t pgno = ref / kPageSize;
  uint64_t in = ref % kPageSize;
  size_t done = 0;
  while (done < bytes.size()) {
    size_t n = std::min<size_t>(bytes.size() - done, kPagePayload - in);
    std::memcpy(MutablePage(pgno) + in, bytes.data() + done, n);
    done += n;
    pgno++;
    in = 0;
  }
}

Result<uint64_t> WriteTxn::AppendBlob(std::string_view bytes) {
  if (bytes.empty()) return uint64_t{0};
  uint64_t capacity = meta_.blob_pages * kPagePayload;
  if (meta_.blob_page == 0 || meta_.blob_used + bytes.size() > capacity) {
    uint64_t pages = std::max<uint64_t>(kBlobExtentMinPages, std::min<uint64_t>(meta_.blob_pages * 2, 4096));
    pages = std::max<uint64_t>(pages, (bytes.size() + kPagePayload - 1) / kPagePayload);
    VDB_ASSIGN_OR_RETURN(meta_.blob_page, AllocPages(pages));
    meta_.blob_pages = pages;
    meta_.blob_used = 0;
  }
  uint64_t ref = SealedPayloadOffset(meta_.blob_page, meta_.blob_used);
  WritePayload(ref, bytes);
  meta_.blob_used += bytes.size();
  return ref;
}

Status WriteTxn::IdMapGrow() {
  uint64_t cap = kIdMapMinCapacity;
  while (cap * 7 / 10 < (meta_.idmap_used + 1) * 2) cap *= 2;
  uint64_t pages = (cap + kIdMapEntriesPerPage - 1) / kIdMapEntriesPerPage;
  MetaBody old = meta_;
  VDB_ASSIGN_OR_RETURN(uint64_t first, AllocPages(pages));
  for (uint64_t p = 0; p < pages; p++) MutablePage(first + p);  // zero-filled: all entries empty
  StateReader old_reader(this, &old, layout_);
  meta_.idmap_page = first;
  meta_.idmap_capacity = cap;
  meta_.idmap_used = 0;
  meta_.idmap_tombstones = 0;
  for (uint64_t i = 0; i < old.idmap_capacity; i++) {
    uint64_t pgno;
    uint32_t off;
    old_reader.IdMapLoc(i, &pgno, &off);
    IdMapEntry e = DecodeIdMapEntry(Page(pgno) + off);
    if (e.hash >= 2) VDB_RETURN_IF_ERROR(IdMapInsert(e.hash, e.slot));
  }
  if (meta_.idmap_used != old.idmap_used)
    return Status::Corruption("id map holds " + std::to_string(meta_.idmap_used) + " entries, meta says " +
                              std::to_string(old.idmap_used));
  return Status::Ok();
}

Status WriteTxn::IdMapInsert(uint64_t hash, uint32_t slot) {
  if (meta_.idmap_capacity == 0 || (meta_.idmap_used + meta_.idmap_tombstones + 1) * 10 > meta_.idmap_capacity * 7)
    VDB_RETURN_IF_ERROR(IdMapGrow());
  StateReader rd = reader();
  uint64_t mask = meta_.idmap_capacity - 1;
  for (uint64_t probe = 0, i = hash & mask; probe < meta_.idmap_capacity; probe++, i = (i + 1) & mask) {
    uint64_t pgno;
    uint32_t off;
    rd.IdMapLoc(i, &pgno, &off);
    IdMapEntry e = DecodeIdMapEntry(Page(pgno) + off);
    if (e.hash == kIdHashEmpty || e.hash == kIdHashTombstone) {
      if (e.hash == kIdHashTombstone) meta_.idmap_tombstones--;
      EncodeIdMapEntry({hash, slot}, MutablePage(pgno) + off);
      meta_.idmap_used++;
      return Status::Ok();
    }
  }
  return Status::Corruption("id map is full");
}

Status WriteTxn::IdMapReplace(uint64_t hash, uint32_t old_slot, uint32_t new_slot) {
  StateReader rd = reader();
  VDB_RETURN_IF_ERROR(rd.CheckIdMapLocation());
  uint64_t mask = meta_.idmap_capacity - 1;
  for (uint64_t probe = 0, i = hash & mask; probe < meta_.idmap_capacity; probe++, i = (i + 1) & mask) {
    uint64_t pgno;
    uint32_t off;
    rd.IdMapLoc(i, &pgno, &off);
    IdMapEntry e = DecodeIdMapEntry(Page(pgno) + off);
    if (e.hash == kIdHashEmpty) break;
    if (e.hash != hash || e.slot != old_slot) continue;
    if (new_slot == kNoSlot) {
      EncodeIdMapEntry({kIdHashTombstone, kNoSlot}, MutablePage(pgno) + off);
      meta_.idmap_used--;
      meta_.idmap_tombstones++;
    } else {
      EncodeIdMapEntry({hash, new_slot}, MutablePage(pgno) + off);
    }
    return Status::Ok();
  }
  return Status::Corruption("id map has no entry for slot " + std::to_string(old_slot));
}

Status WriteTxn::Put(std::string_view id, std::span<const float> vec, std::string_view metadata_json) {
  const uint32_t dim = layout_->dim();
  if (id.empty()) return Status::InvalidArgument("id is empty");
  if (id.size() > format::kMaxIdBytes)
    return Status::InvalidArgument("id is " + std::to_string(id.size()) + " bytes; the limit is " +
                                   std::to_string(format::kMaxIdBytes));
  if (vec.size() != dim)
    return Status::InvalidArgument("vector has " + std::to_string(vec.size()) + " components; the database has dimension " +
                                   std::to_string(dim));
  for (size_t i = 0; i < vec.size(); i++)
    if (!std::isfinite(vec[i]))
      return Status::InvalidArgument("vector component " + std::to_string(i) + " is " +
                                     (std::isnan(vec[i]) ? "NaN" : "infinite"));
  VDB_ASSIGN_OR_RETURN(EncodedMetadata md, EncodeMetadata(metadata_json));

  StateReader rd = reader();
  uint32_t existing = kNoSlot;
  SlotRecord old;
  auto found = rd.FindId(id);
  if (found.ok()) {
    existing = *found;
    VDB_ASSIGN_OR_RETURN(old, rd.Slot(existing));
  } else if (!found.status().IsNotFound()) {
    return found.status();
  }

  VDB_ASSIGN_OR_RETURN(uint32_t slot, AllocSlot());
  uint64_t voff;
  VDB_RETURN_IF_ERROR(reader().VectorOffset(slot, &voff));
  auto values = std::make_shared<std::vector<float>>(vec.begin(), vec.end());
  fresh_index_[slot] = fresh_.size();
  fresh_.push_back({slot, voff, values});

  SlotRecord r;
  r.state = kSlotLive;
  r.flags = md.compressed ? kSlotFlagMetaZstd : 0;
  r.id_len = static_cast<uint16_t>(id.size());
  if (existing != kNoSlot) {
    r.id_ref = old.id_ref;  // same id bytes: share the blob
  } else {
    VDB_ASSIGN_OR_RETURN(r.id_ref, AppendBlob(id));
  }
  r.meta_len = static_cast<uint32_t>(md.bytes.size());
  VDB_ASSIGN_OR_RETURN(r.meta_ref, AppendBlob(md.bytes));
  float n2 = kernels::NormSqr(values->data(), dim);
  r.inv_norm = n2 > 0 ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(n2))) : 0.0f;
  r.check = StateReader::RecordCheck(slot, values->data(), dim, id, md.bytes);
  VDB_RETURN_IF_ERROR(WriteSlotRecord(slot, r));
  meta_.live_count++;
  new_slots_.push_back(slot);

  uint64_t h = IdHash(id.data(), id.size());
  if (existing != kNoSlot) {
    VDB_RETURN_IF_ERROR(RetireSlot(existing));
    return IdMapReplace(h, existing, slot);
  }
  return IdMapInsert(h, slot);
}

Status WriteTxn::Delete(std::string_view id) {
  if (id.empty()) return Status::InvalidArgument("id is empty");
  if (id.size() > format::kMaxIdBytes) return Status::InvalidArgument("id is longer than " + std::to_string(format::kMaxIdBytes) + " bytes");
  VDB_ASSIGN_OR_RETURN(uint32_t slot, reader().FindId(id));
  VDB_RETURN_IF_ERROR(RetireSlot(slot));
  return IdMapReplace(IdHash(id.data(), id.size()), slot, kNoSlot);
}

}  // namespace vdb

namespace vdb {

Status WriteTxn::SetModel(std::string_view identity) {
  if (identity.empty()) return Status::InvalidArgument("model identity is empty");
  if (identity.size() > format::kMaxMetadataBytes) return Status::InvalidArgument("model identity is too long");
  VDB_ASSIGN_OR_RETURN(meta_.model_ref, AppendBlob(identity));
  meta_.model_len = static_cast<uint32_t>(identity.size());
  return Status::Ok();
}

}  // namespace vdb

namespace vdb {

Status WriteTxn::LoadUnindexed() {
  if (unindexed_loaded_) return Status::Ok();
  VDB_RETURN_IF_ERROR(reader().UnindexedSlots(&unindexed_));  // bounds-checked slots
  unindexed_loaded_ = true;
  return Status::Ok();
}

Status WriteTxn::ValidateUnindexed(const std::vector<uint32_t>& slots) {
  // Linking a slot that is not a live, unlinked record would corrupt the graph.
  std::unordered_set<uint32_t> seen;
  StateReader rd = reader();
  for (uint32_t slot : slots) {
    VDB_ASSIGN_OR_RETURN(SlotRecord r, rd.Slot(slot));
    if (r.state != kSlotLive || !seen.insert(slot).second || Graph()->Level(slot) >= 0)
      return Status::Corruption("unindexed list names slot " + std::to_string(slot) +
                                ", which is not a live record outside the graph (or is listed twice)");
  }
  return Status::Ok();
}

Status WriteTxn::StoreUnindexed() {
  if (unindexed_.size() > kUnindexedCapacity) return Status::Corruption("unindexed list overflow");
  if (meta_.unindexed_page == 0) {
    if (unindexed_.empty()) return Status::Ok();
    VDB_ASSIGN_OR_RETURN(meta_.unindexed_page, AllocPages(kUnindexedPages));
  }
  for (uint32_t p = 0; p < kUnindexedPages; p++) {
    const uint32_t first = p * kUnindexedPerPage;
    if (first >= std::max<size_t>(unindexed_.size(), meta_.unindexed_count)) break;  // untouched page
    uint8_t* page = MutablePage(meta_.unindexed_page + p);
    std::memset(page, 0, kPagePayload);
    for (uint32_t i = first; i < unindexed_.size() && i < first + kUnindexedPerPage; i++)
      PutU32(page + (i - first) * 4, unindexed_[i]);
  }
  meta_.unindexed_count = static_cast<uint32_t>(unindexed_.size());
  unindexed_dirty_ = false;
  return Status::Ok();
}

Status WriteTxn::Finish(int threads) {
  constexpr size_t kParallelMin = 256;  // batches this large use every build thread
  constexpr uint64_t kReachPassRatio = 16;
  const uint32_t batch = db_->index_batch();
  std::vector<uint32_t> link;
  // Whether this commit decides anything about the list; when it does, the
  // list is loaded (so linking it never drops an entry unread).
  const bool touch_list = !new_slots_.empty() || force_index_ || unindexed_dirty_ || batch <= 1;
  if (touch_list) {
    if (meta_.unindexed_count > 0) VDB_RETURN_IF_ERROR(LoadUnindexed());
    const size_t waiting = unindexed_.size() + new_slots_.size();
    const bool link_all = force_index_ || batch <= 1 || new_slots_.size() >= kParallelMin || waiting >= batch ||
                          waiting > kUnindexedCapacity;
    if (link_all) {
      // Checked only now: appending to the list and removing from it never
      // use the entries' records.
      VDB_RETURN_IF_ERROR(ValidateUnindexed(unindexed_));
      link = std::move(unindexed_);
      link.insert(link.end(), new_slots_.begin(), new_slots_.end());
      unindexed_.clear();
      if (meta_.unindexed_count > 0) unindexed_dirty_ = true;
    } else if (!new_slots_.empty()) {
      unindexed_.insert(unindexed_.end(), new_slots_.begin(), new_slots_.end());
      unindexed_dirty_ = true;
    }
    new_slots_.clear();
  }
  if (unindexed_dirty_) VDB_RETURN_IF_ERROR(StoreUnindexed());
  // An insert can prune the last in-link of an older node (as in hnswlib),
  // cutting it, and what only it reached, off the entry point. The
  // reachability pass re-links such nodes; it walks the whole graph (about
  // 0.4 us per node), so it runs once the records linked since the last pass
  // reach 1/16 of the graph, which keeps it under ~10% of the linking cost,
  // and at Close.
  const uint64_t since = db_->linked_since_reach_pass() + link.size();
  const bool reach_pass = (since > 0 && since * kReachPassRatio >= meta_.graph_nodes + link.size()) ||
                          (reach_mode_ == ReachPass::kIfLinked && since > 0) ||
                          (reach_mode_ == ReachPass::kAlways && (meta_.graph_nodes > 0 || !link.empty()));
  if (link.empty() && !graph_ && !reach_pass) return Status::Ok();
  TxnGraph* g = Graph();
  hnsw::Params params = GraphParams(*layout_->header);
  if (!link.empty()) {
    // Large batches use both cores; small ones insert in order.
    bool parallel = threads > 1 && link.size() >= kParallelMin;
    if (parallel) {
      VDB_RETURN_IF_ERROR(hnsw::ParallelBuild(*g, params, link, threads, reach_pass));
    } else {
      for (uint32_t slot : link) VDB_RETURN_IF_ERROR(hnsw::Insert(*g, params, slot));
      if (reach_pass) VDB_RETURN_IF_ERROR(hnsw::ConnectUnreachable(*g, params).status());
    }
  } else if (reach_pass) {
    VDB_RETURN_IF_ERROR(hnsw::ConnectUnreachable(*g, params).status());
  }
  linked_ = link.size();
  reach_pass_ran_ = reach_pass;
  return g->Flush();
}

Status WriteTxn::RepairGraph(uint64_t* freed) {
  *freed = 0;
  std::vector<uint32_t> removed;
  StateReader rd = reader();
  for (uint64_t slot = 0; slot < meta_.slot_hwm; slot++) {
    VDB_ASSIGN_OR_RETURN(SlotRecord r, rd.Slot(static_cast<uint32_t>(slot)));
    if (r.state == kSlotDeleted) removed.push_back(static_cast<uint32_t>(slot));
  }
  if (removed.empty()) return Status::Ok();
  TxnGraph* g = Graph();
  hnsw::RepairStats stats;
  VDB_RETURN_IF_ERROR(hnsw::Repair(*g, GraphParams(*layout_->header), removed, &stats));
  VDB_RETURN_IF_ERROR(g->Flush());
  for (uint32_t slot : removed) {
    VDB_RETURN_IF_ERROR(FreeSlotRecord(slot));
    meta_.deleted_count--;
  }
  *freed = removed.size();
  return Status::Ok();
}

}  // namespace vdb
