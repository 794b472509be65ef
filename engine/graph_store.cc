#include "engine/graph_store.h"

#include <algorithm>
#include <cstring>

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

}  // namespace vdb
