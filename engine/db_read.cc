// The read path: snapshots, Get, exact search, Stats.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/db_impl.h"
#include "format/coding.h"
#include "format/metadata_codec.h"
#include "format/pages.h"
#include "engine/graph_check.h"
#include "engine/graph_store.h"
#include "engine/hnsw/hnsw.h"
#include "kernels/exact_search.h"

namespace vdb {

using namespace vdb::format;

// A reader's view: page versions as of its snapshot, else the mapped file.
class SnapshotView final : public PageSource {
 public:
  SnapshotView(const DbImpl* db, const Snapshot* snap) : db_(db), snap_(snap) {
    // Vector extents that lie inside the file, resolved once per read.
    const MetaBody& m = snap->meta;
    stride_ = db->header_.vector_stride;
    for (uint32_t k = 0; k < kMaxExtents; k++) {
      uint64_t first = m.vector_extents[k];
      bool inside = first != 0 && first + VectorExtentPages(k, stride_) <= m.page_count;
      vec_base_[k] = inside ? db->map_ + first * kPageSize : nullptr;
    }
  }
  const uint8_t* Page(uint64_t pgno) const override {
    const uint8_t* p = db_->pages_->Find(pgno, snap_->seq);
    return p ? p : db_->map_ + pgno * kPageSize;
  }
  const float* Vector(uint32_t slot) const override {
    if (slot >= snap_->meta.slot_hwm) return nullptr;
    ExtentPos ep = ExtentOf(slot);
    const uint8_t* base = vec_base_[ep.extent];
    return base ? reinterpret_cast<const float*>(base + ep.index * stride_) : nullptr;
  }

 private:
  const DbImpl* db_;
  const Snapshot* snap_;
  uint32_t stride_;
  const uint8_t* vec_base_[kMaxExtents];
};

namespace {

kernels::ScanMetric ScanMetricOf(uint32_t metric) {
  return metric == kMetricL2 ? kernels::ScanMetric::kL2
         : metric == kMetricDot ? kernels::ScanMetric::kDot
                                : kernels::ScanMetric::kCosine;
}

// The unindexed list of a snapshot as one-vector blocks for the exact
// kernels. *inv holds their inverse norms (the blocks point into it).
Status UnindexedBlocks(const StateReader& rd, const PageSource& view, uint32_t stride,
                       std::vector<kernels::VectorBlock>* blocks, std::vector<float>* inv) {
  blocks->clear();
  inv->clear();
  if (rd.meta().unindexed_count == 0) return Status::Ok();
  std::vector<uint32_t> slots;
  VDB_RETURN_IF_ERROR(rd.UnindexedSlots(&slots));
  inv->reserve(slots.size());
  for (uint32_t slot : slots) {
    VDB_ASSIGN_OR_RETURN(SlotRecord r, rd.Slot(slot));
    const float* v = view.Vector(slot);
    if (r.state != kSlotLive || v == nullptr) continue;  // damaged list: skip, vdbcheck reports it
    inv->push_back(r.inv_norm);
    kernels::VectorBlock b;
    b.base = v;
    b.first_slot = slot;
    b.count = 1;
    b.stride_bytes = stride;
    b.inv_norms = &inv->back();
    blocks->push_back(b);
  }
  return Status::Ok();
}

// Merges the exact hits of the unindexed records into the graph's hits:
// best first, at most k.
void MergeHits(std::vector<hnsw::SearchHit>* hits, const std::vector<kernels::ScanHit>& extra,
               kernels::ScanMetric metric, size_t k) {
  for (const auto& e : extra) hits->push_back({e.slot, e.score});
  const bool lower_better = metric == kernels::ScanMetric::kL2;
  std::stable_sort(hits->begin(), hits->end(), [&](const hnsw::SearchHit& a, const hnsw::SearchHit& b) {
    return lower_better ? a.score < b.score : a.score > b.score;
  });
  if (hits->size() > k) hits->resize(k);
}

}  // namespace

std::shared_ptr<const Snapshot> DbImpl::AcquireSnapshot(ReaderGuard* g) const {
  auto snap = LoadSnapshot();
  g->SetSnapshot(snap->seq);
  return snap;
}

Result<Record> DbImpl::Get(std::string_view id) const {
  if (closed_) return Status::InvalidArgument("the database is closed");
  if (id.empty()) return Status::InvalidArgument("id is empty");
  if (id.size() > format::kMaxIdBytes) return Status::InvalidArgument("id is longer than " + std::to_string(format::kMaxIdBytes) + " bytes");
  ReaderGuard g(&readers_);
  auto snap = AcquireSnapshot(&g);
  SnapshotView view(this, snap.get());
  StateReader rd(&view, &snap->meta, &layout_);
  VDB_ASSIGN_OR_RETURN(uint32_t slot, rd.FindId(id));
  VDB_ASSIGN_OR_RETURN(SlotRecord r, rd.Slot(slot));
  const float* v = view.Vector(slot);
  if (v == nullptr) return Status::Corruption("vector of slot " + std::to_string(slot) + " is outside the file");
  VDB_ASSIGN_OR_RETURN(std::string stored_meta, rd.ReadBlob(r.meta_ref, r.meta_len));
  if (StateReader::RecordCheck(slot, v, header_.dim, id, stored_meta) != r.check)
    return Status::Corruption("record '" + std::string(id) + "' (slot " + std::to_string(slot) +
                              ") fails its checksum: vector, id or metadata bytes are damaged");
  Record rec;
  rec.id = std::string(id);
  rec.vector.assign(v, v + header_.dim);
  VDB_ASSIGN_OR_RETURN(rec.metadata, DecodeMetadata(stored_meta, (r.flags & kSlotFlagMetaZstd) != 0));
  return rec;
}

Result<std::vector<SearchHit>> DbImpl::Search(std::span<const float> query, const SearchOptions& opts) const {
  VDB_ASSIGN_OR_RETURN(auto all, SearchImpl(query, 1, opts));
  return std::move(all[0]);
}

Result<std::vector<std::vector<SearchHit>>> DbImpl::SearchBatch(std::span<const float> queries, size_t nq,
                                                                const SearchOptions& opts) const {
  return SearchImpl(queries, nq, opts);
}

Result<std::vector<std::vector<SearchHit>>> DbImpl::SearchImpl(std::span<const float> queries, size_t nq,
                                                               const SearchOptions& opts) const {
  if (closed_) return Status::InvalidArgument("the database is closed");
  const uint32_t dim = header_.dim;
  if (nq == 0) return std::vector<std::vector<SearchHit>>{};
  if (queries.size() != nq * dim)
    return Status::InvalidArgument("query has " + std::to_string(queries.size() / std::max<size_t>(nq, 1)) +
                                   " components; the database has dimension " + std::to_string(dim));
  if (!kernels::AllFinite(queries.data(), queries.size()))
    return Status::InvalidArgument("query contains NaN or infinite components");
  if (opts.k == 0) return std::vector<std::vector<SearchHit>>(nq);
  if (opts.k > 100000) return Status::InvalidArgument("k must be at most 100000");

  ReaderGuard g(&readers_);
  auto snap = AcquireSnapshot(&g);
  SnapshotView view(this, snap.get());
  StateReader rd(&view, &snap->meta, &layout_);
  const MetaBody& m = snap->meta;

  if (!opts.exact && m.graph_entry != kNoSlot) {
    const SnapshotSearcher graph({map_, max_pages(), pages_.get(), snap->seq}, m, header_);
    hnsw::Params params = GraphParams(header_);
    if (opts_.ef_search > 0) params.ef_search = opts_.ef_search;
    std::vector<std::vector<SearchHit>> out(nq);
    std::vector<hnsw::SearchHit> hits;
    // Records of one query's hits: on the stack for the usual k.
    constexpr size_t kStackHits = 32;
    SlotRecord recs_stack[kStackHits];
    const uint8_t* where_stack[kStackHits];
    std::vector<SlotRecord> recs_heap;
    std::vector<const uint8_t*> where_heap;
    auto accept = [&](uint32_t slot) { return opts.filter(slot); };
    // Records on the unindexed list are not in the graph: scan them exactly.
    const kernels::ScanMetric metric = ScanMetricOf(header_.metric);
    const std::function<bool(uint32_t)>* filter = opts.filter ? &opts.filter : nullptr;
    std::vector<kernels::VectorBlock> unindexed;
    std::vector<float> unindexed_inv;
    VDB_RETURN_IF_ERROR(UnindexedBlocks(rd, view, header_.vector_stride, &unindexed, &unindexed_inv));
    for (size_t q = 0; q < nq; q++) {
      hnsw::SearchOptions so;
      so.k = static_cast<uint32_t>(opts.k);
      so.ef = opts.ef;
      if (opts.filter) so.filter = hnsw::SlotFilter(accept);
      VDB_RETURN_IF_ERROR(graph.Search(params, queries.data() + q * dim, so, &hits));
      if (!unindexed.empty())
        MergeHits(&hits, kernels::ExactTopK(unindexed, queries.data() + q * dim, dim, metric, opts.k, 1, filter),
                  metric, opts.k);
      SlotRecord* recs = recs_stack;
      const uint8_t** where = where_stack;
      if (hits.size() > kStackHits) {
        recs_heap.resize(hits.size());
        where_heap.resize(hits.size());
        recs = recs_heap.data();
        where = where_heap.data();
      }
      ReadHitRecords(rd, hits, recs, where);
      out[q].reserve(hits.size());
      for (size_t i = 0; i < hits.size(); ++i) {
        const hnsw::SearchHit& h = hits[i];
        if (where[i] == nullptr) return rd.Slot(h.slot).status();  // the location's error
        const SlotRecord& r = recs[i];
        if (r.state != kSlotLive) continue;  // a damaged graph can name a freed slot
        VDB_ASSIGN_OR_RETURN(std::string id, rd.SlotId(h.slot, r));
        out[q].push_back({std::move(id), h.score, h.slot});
      }
    }
    return out;
  }

  // Live flags and inverse norms from the slot records, vectors in place.
  std::vector<kernels::VectorBlock> blocks;
  std::vector<uint8_t> live(m.slot_hwm);
  std::vector<float> inv(m.slot_hwm);
  uint64_t cur_pgno = ~0ull;
  const uint8_t* page = nullptr;
  for (uint64_t slot = 0; slot < m.slot_hwm; slot++) {
    uint64_t pgno;
    uint32_t off;
    VDB_RETURN_IF_ERROR(rd.SlotRecordLoc(static_cast<uint32_t>(slot), &pgno, &off));
    if (pgno != cur_pgno) {
      page = view.Page(pgno);
      cur_pgno = pgno;
    }
    live[slot] = page[off] == kSlotLive;
    inv[slot] = GetF32(page + off + 24);
  }
  for (uint32_t k = 0; k < kMaxExtents; k++) {
    uint64_t first = ExtentFirstSlot(k);
    if (first >= m.slot_hwm) break;
    uint64_t count = std::min<uint64_t>(ExtentSlots(k), m.slot_hwm - first);
    kernels::VectorBlock b;
    b.base = reinterpret_cast<const float*>(map_ + m.vector_extents[k] * kPageSize);
    b.first_slot = static_cast<uint32_t>(first);
    b.count = static_cast<uint32_t>(count);
    b.stride_bytes = header_.vector_stride;
    b.inv_norms = inv.data() + first;
    b.live = live.data() + first;
    blocks.push_back(b);
  }
  const kernels::ScanMetric metric = ScanMetricOf(header_.metric);
  int threads = opts.threads > 0 ? opts.threads : std::max(1, opts_.search_threads);
  const std::function<bool(uint32_t)>* filter = opts.filter ? &opts.filter : nullptr;
  // Scan workers call the filter on their own threads: mark them as inside
  // this read, so a write from the filter is refused there too (it could
  // otherwise wait, through a checkpoint, for the read it runs in).
  std::function<bool(uint32_t)> scoped_filter;
  if (filter != nullptr && threads > 1) {
    scoped_filter = [this, &opts](uint32_t slot) {
      ReadScope in_read(&readers_);
      return opts.filter(slot);
    };
    filter = &scoped_filter;
  }
  std::vector<std::vector<kernels::ScanHit>> raw;
  if (nq == 1) {
    raw.push_back(kernels::ExactTopK(blocks, queries.data(), dim, metric, opts.k, threads, filter));
  } else {
    raw = kernels::ExactTopKBatch(blocks, queries.data(), nq, dim, metric, opts.k, threads, filter);
  }
  std::vector<std::vector<SearchHit>> out(nq);
  for (size_t q = 0; q < nq; q++) {
    out[q].reserve(raw[q].size());
    for (const auto& h : raw[q]) {
      VDB_ASSIGN_OR_RETURN(SlotRecord r, rd.Slot(h.slot));
      VDB_ASSIGN_OR_RETURN(std::string id, rd.SlotId(h.slot, r));
      out[q].push_back({std::move(id), h.score, h.slot});
    }
  }
  return out;
}

Result<std::string> DbImpl::EmbeddingModel() const {
  if (closed_) return Status::InvalidArgument("the database is closed");
  ReaderGuard g(&readers_);
  auto snap = AcquireSnapshot(&g);
  SnapshotView view(this, snap.get());
  StateReader rd(&view, &snap->meta, &layout_);
  return rd.ReadBlob(snap->meta.model_ref, snap->meta.model_len);
}

hnsw::InvariantReport DbImpl::CheckGraphInvariants() const {
  ReaderGuard g(&readers_);
  auto snap = AcquireSnapshot(&g);
  SnapshotView view(this, snap.get());
  SnapshotGraph graph(&view, &snap->meta, &layout_);
  return hnsw::CheckInvariants(graph, GraphParams(header_));
}

Result<hnsw::InvariantReport> CheckGraph(const Database& db) {
  const auto* impl = dynamic_cast<const DbImpl*>(&db);
  if (impl == nullptr) return Status::InvalidArgument("not a vdb database handle");
  return impl->CheckGraphInvariants();
}

Stats DbImpl::GetStats() const {
  Stats st;
  st.dim = header_.dim;
  st.metric = static_cast<Metric>(header_.metric);
  st.page_size = kPageSize;
  st.hnsw_m = header_.hnsw_m;
  st.hnsw_ef_construction = header_.hnsw_ef_construction;
  if (closed_) return st;
  auto snap = LoadSnapshot();
  st.count = snap->meta.live_count;
  st.slots = snap->meta.slot_hwm;
  st.free_slots = snap->meta.free_count;
  st.commit_seq = snap->seq;
  st.checkpoint_seq = checkpoint_seq_.load();
  auto fs = const_cast<File*>(main_.get())->Size();
  st.file_bytes = fs.ok() ? *fs : 0;
  if (env_->Exists(wal_path_)) {
    FileOpenOptions o;
    o.read_only = true;
    auto w = env_->Open(wal_path_, o);
    if (w.ok()) {
      auto ws = (*w)->Size();
      st.wal_bytes = ws.ok() ? *ws : 0;
    }
  }
  st.graph_deleted = snap->meta.deleted_count;
  st.graph_mean_degree = snap->meta.graph_nodes ? static_cast<double>(snap->meta.graph_edges0) / snap->meta.graph_nodes : 0;
  st.graph_levels = snap->meta.graph_entry == kNoSlot ? 0 : snap->meta.graph_max_level + 1;
  st.graph_entry_point = snap->meta.graph_entry == kNoSlot ? -1 : static_cast<int64_t>(snap->meta.graph_entry);
  st.unindexed = snap->meta.unindexed_count;
  return st;
}

}  // namespace vdb
