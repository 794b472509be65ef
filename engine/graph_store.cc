#include "engine/graph_store.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "engine/hnsw/search_layer.h"
#include "format/coding.h"
#include "format/pages.h"

namespace vdb {

using namespace vdb::format;

hnsw::Params GraphParams(const FileHeader& h) {
  hnsw::Params p;
  p.metric = h.metric == kMetricL2 ? hnsw::Metric::kL2 : h.metric == kMetricDot ? hnsw::Metric::kDot : hnsw::Metric::kCosine;
  p.dim = h.dim;
  p.m = h.hnsw_m;
  p.m0 = h.hnsw_m0;
  p.ef_construction = h.hnsw_ef_construction;
  p.seed = h.hnsw_seed;
  return p;
}

namespace {
// Copies len bytes starting skip bytes into the payload run that begins at
// file offset ref (sealed pages, trailers skipped). False if out of bounds.
bool ReadPayload(const PageSource* src, const MetaBody& m, uint64_t ref, uint64_t skip, size_t len, uint8_t* out) {
  uint64_t pgno = ref / kPageSize;
  uint64_t in = ref % kPageSize;
  if (ref == 0 || in >= kPagePayload || pgno < kFirstDataPage) return false;
  uint64_t pos = in + skip;
  pgno += pos / kPagePayload;
  in = pos % kPagePayload;
  size_t done = 0;
  while (done < len) {
    if (pgno >= m.page_count) return false;
    size_t n = std::min<size_t>(len - done, kPagePayload - in);
    std::memcpy(out + done, src->Page(pgno) + in, n);
    done += n;
    pgno++;
    in = 0;
  }
  return true;
}
}  // namespace

GraphPages::GraphPages(const PageSource* src, const MetaBody* meta, const Layout* layout)
    : src_(src), meta_(meta), layout_(layout) {
  m_ = layout->header->hnsw_m;
  m0_ = layout->header->hnsw_m0;
  record_size_ = GraphRecordSize(m0_);
  per_page_ = kPagePayload / record_size_;
}

bool GraphPages::RecordLoc(uint32_t slot, uint64_t* pgno, uint32_t* off) const {
  if (slot >= meta_->slot_hwm) return false;
  ExtentPos ep = ExtentOf(slot);
  uint64_t first = meta_->graph_extents[ep.extent];
  if (first == 0) return false;
  uint64_t p = first + ep.index / per_page_;
  if (p >= meta_->page_count) return false;
  *pgno = p;
  *off = static_cast<uint32_t>((ep.index % per_page_) * record_size_);
  return true;
}

GraphRecord GraphPages::Header(uint32_t slot) const {
  uint64_t pgno;
  uint32_t off;
  if (!RecordLoc(slot, &pgno, &off)) return {};
  GraphRecord r = DecodeGraphRecordHeader(src_->Page(pgno) + off);
  if (r.level > static_cast<int>(kGraphMaxLevel)) r.level = -1;
  return r;
}

uint32_t GraphPages::Neighbors(uint32_t slot, int level, uint32_t* out, uint32_t capacity) const {
  uint64_t pgno;
  uint32_t off;
  if (!RecordLoc(slot, &pgno, &off)) return 0;
  const uint8_t* rec = src_->Page(pgno) + off;
  GraphRecord r = DecodeGraphRecordHeader(rec);
  if (level < 0 || level > r.level || r.level > static_cast<int>(kGraphMaxLevel)) return 0;
  if (level == 0) {
    uint32_t n = std::min<uint32_t>({r.count, capacity, m0_});
    std::memcpy(out, rec + kGraphOffNeighbors, static_cast<size_t>(n) * 4);  // little-endian u32s
    return std::min<uint32_t>(r.count, m0_);
  }
  // M <= 256 (the header decoder's bound), so one list fits on the stack.
  uint8_t buf[UpperListSize(256)];
  uint32_t list = UpperListSize(m_);
  if (list > sizeof(buf)) return 0;
  if (!ReadPayload(src_, *meta_, r.upper_ref, static_cast<uint64_t>(level - 1) * list, list, buf)) return 0;
  uint32_t count = std::min<uint32_t>(GetU32(buf), m_);
  uint32_t n = std::min(count, capacity);
  std::memcpy(out, buf + 4, static_cast<size_t>(n) * 4);
  return count;
}

void ReadHitRecords(const StateReader& rd, std::span<const hnsw::SearchHit> hits, SlotRecord* recs,
                    const uint8_t** where) {
  for (size_t i = 0; i < hits.size(); ++i) {
    uint64_t pgno;
    uint32_t off;
    where[i] = nullptr;
    if (!rd.SlotRecordLoc(hits[i].slot, &pgno, &off).ok()) continue;
    where[i] = rd.source()->Page(pgno) + off;
    _mm_prefetch(reinterpret_cast<const char*>(where[i]), _MM_HINT_T0);
  }
  const MetaBody& m = rd.meta();
  for (size_t i = 0; i < hits.size(); ++i) {
    if (where[i] == nullptr) continue;
    recs[i] = DecodeSlotRecord(where[i]);
    const uint64_t ref = recs[i].id_ref;
    const uint64_t id_page = ref / kPageSize;
    if (ref % kPageSize < kPagePayload && id_page >= kFirstDataPage && id_page < m.page_count) {
      _mm_prefetch(reinterpret_cast<const char*>(rd.source()->Page(id_page) + ref % kPageSize), _MM_HINT_T0);
    }
  }
}

template <typename P>
MappedGraph<P>::MappedGraph(P pages, uint64_t map_pages, const MetaBody& meta, const FileHeader& header)
    : pages_(pages) {
  limit_ = static_cast<uint32_t>(std::min<uint64_t>(meta.slot_hwm, kMaxSlots));
  entry_ = meta.graph_entry;
  max_level_ = static_cast<int>(std::min<uint32_t>(meta.graph_max_level, kGraphMaxLevel));
  tombstones_ = meta.deleted_count != 0;
  m_ = header.hnsw_m;
  m0_ = header.hnsw_m0;
  rec_size_ = GraphRecordSize(m0_);
  per_page_ = kPagePayload / rec_size_;
  div_magic_ = per_page_ > 1 ? ~uint64_t{0} / per_page_ + 1 : 0;
  stride_ = header.vector_stride;
  page_count_ = std::min(meta.page_count, map_pages);
  // Extents past the one of the last slot in use are never addressed.
  const uint32_t used = limit_ == 0 ? 0 : ExtentOf(limit_ - 1).extent + 1;
  vvalid_ = 0;
  static_assert(kMaxExtents <= 64, "vvalid_ has one bit per extent");
  for (uint32_t k = used; k < kMaxExtents; k++) {
    gfirst_[k] = 0;
    gpages_[k] = 0;
    vorigin_[k] = 0;
  }
  for (uint32_t k = 0; k < used; k++) {
    const uint64_t g = meta.graph_extents[k];
    gfirst_[k] = g;
    gpages_[k] = g >= kFirstDataPage && g < page_count_
                     ? std::min<uint64_t>(SealedExtentPages(k, rec_size_), page_count_ - g)
                     : 0;
    const uint64_t v = meta.vector_extents[k];
    const bool inside = v >= kFirstDataPage && v < page_count_ && VectorExtentPages(k, stride_) <= page_count_ - v;
    // Vector pages are never versioned: always the map.
    vorigin_[k] = inside ? reinterpret_cast<uintptr_t>(pages.map + v * kPageSize) - ExtentFirstSlot(k) * stride_ : 0;
    if (inside) vvalid_ |= uint64_t{1} << k;
  }
}

template <typename P>
const uint8_t* MappedGraph<P>::UpperList(const uint8_t* rec, int level, uint8_t* buf) const {
  if (level < 1 || level > RecordLevel(rec)) return nullptr;
  // The list of `level` in the upper heap: payload addressing, trailers skipped.
  const uint64_t ref = GetU64(rec + kGraphOffUpperRef);
  const uint32_t list = UpperListSize(m_);
  if (list > UpperListSize(256)) return nullptr;  // M <= 256 (the header decoder's bound)
  uint64_t pgno = ref / kPageSize;
  uint64_t in = ref % kPageSize;
  if (ref == 0 || in >= kPagePayload || pgno < kFirstDataPage) return nullptr;
  const uint64_t pos = in + static_cast<uint64_t>(level - 1) * list;
  pgno += pos / kPagePayload;
  in = pos % kPagePayload;
  if (in + list <= kPagePayload) return pgno < page_count_ ? pages_.Page(pgno) + in : nullptr;
  for (size_t done = 0; done < list;) {
    if (pgno >= page_count_) return nullptr;
    const size_t n = std::min<size_t>(list - done, kPagePayload - in);
    std::memcpy(buf + done, pages_.Page(pgno) + in, n);
    done += n;
    pgno++;
    in = 0;
  }
  return buf;
}

template <typename P>
const uint32_t* MappedGraph<P>::UpperView(const uint8_t* rec, int level, uint32_t* buf, uint32_t cap,
                                          uint32_t* n) const {
  uint8_t bytes[UpperListSize(256)];
  const uint8_t* list = UpperList(rec, level, bytes);
  *n = 0;
  if (list == nullptr) return buf;
  const uint32_t count = std::min({GetU32(list), m_, cap});
  *n = count;
  // In place when 4-aligned (little-endian u32s; state.cc asserts the host is).
  if (list != bytes && reinterpret_cast<uintptr_t>(list) % alignof(uint32_t) == 0) {
    return reinterpret_cast<const uint32_t*>(list + 4);
  }
  std::memcpy(buf, list + 4, static_cast<size_t>(count) * 4);
  return buf;
}

template <typename P>
uint32_t MappedGraph<P>::Neighbors(uint32_t slot, int level, uint32_t* out, uint32_t capacity) const {
  const uint8_t* rec = Record(slot);
  const int node_level = RecordLevel(rec);
  if (level < 0 || level > node_level) return 0;
  if (level == 0) {
    const uint32_t count = std::min<uint32_t>(GetU16(rec + kGraphOffCount), m0_);
    std::memcpy(out, rec + kGraphOffNeighbors, static_cast<size_t>(std::min(count, capacity)) * 4);
    return count;
  }
  uint8_t buf[UpperListSize(256)];
  const uint8_t* list = UpperList(rec, level, buf);
  if (list == nullptr) return 0;
  const uint32_t count = std::min<uint32_t>(GetU32(list), m_);
  std::memcpy(out, list + 4, static_cast<size_t>(std::min(count, capacity)) * 4);
  return count;
}

template class MappedGraph<graph_pages::MapOnly>;
template class MappedGraph<graph_pages::Versioned>;

SnapshotSearcher::SnapshotSearcher(const SnapshotPages& where, const MetaBody& meta, const FileHeader& header)
    : where_(where),
      meta_(meta),
      header_(header),
      direct_(graph_pages::MapOnly{where.map}, where.map_pages, meta, header) {}

Status SnapshotSearcher::Search(const hnsw::Params& params, const float* query, const hnsw::SearchOptions& options,
                                std::vector<hnsw::SearchHit>* out) const {
  // See PageTable::ChainedPages for the protocol.
  const PageTable* table = where_.table;
  const uint64_t writes = table->BaseWrites();
  if (table->ChainedPages() == 0) {
    Status s = hnsw::internal::SearchWith(direct_, params, query, options, out);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (table->BaseWrites() == writes) return s;
  }
  const MappedGraph<graph_pages::Versioned> versioned(graph_pages::Versioned{where_.map, table, where_.seq},
                                                      where_.map_pages, meta_, header_);
  return hnsw::internal::SearchWith(versioned, params, query, options, out);
}

}  // namespace vdb
