// Fuzzes the meta page and meta body decoders. Input: u8 page selector (odd:
// page 1, even: page 2) then one page; the file id is the page's own. The
// decoders run with and without the checksum. Invariant: whatever decodes
// re-encodes to bytes that decode to the same values.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "format/constants.h"
#include "format/meta.h"

namespace {
bool SameBody(const vdb::format::MetaBody& a, const vdb::format::MetaBody& b) {
  return a.page_count == b.page_count && a.live_count == b.live_count && a.slot_hwm == b.slot_hwm &&
         a.free_count == b.free_count && a.free_head == b.free_head && a.free_tail == b.free_tail &&
         a.deleted_count == b.deleted_count && a.idmap_page == b.idmap_page && a.idmap_capacity == b.idmap_capacity &&
         a.idmap_used == b.idmap_used && a.idmap_tombstones == b.idmap_tombstones && a.blob_page == b.blob_page &&
         a.blob_pages == b.blob_pages && a.blob_used == b.blob_used && a.model_ref == b.model_ref &&
         a.model_len == b.model_len && a.graph_entry == b.graph_entry && a.graph_max_level == b.graph_max_level &&
         a.graph_record_size == b.graph_record_size && a.graph_nodes == b.graph_nodes &&
         a.graph_edges0 == b.graph_edges0 && a.upper_page == b.upper_page && a.upper_pages == b.upper_pages &&
         a.upper_used == b.upper_used && a.vector_extents == b.vector_extents && a.slot_extents == b.slot_extents &&
         a.graph_extents == b.graph_extents;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vdb::format;
  if (size < 1) return 0;
  const uint64_t pgno = (data[0] & 1) ? kMetaPageA : kMetaPageB;
  std::vector<uint8_t> page(kPageSize, 0);
  std::memcpy(page.data(), data + 1, std::min<size_t>(size - 1, kPageSize));
  uint8_t uuid[16];
  std::memcpy(uuid, page.data() + kMetaOffUuid, 16);
  for (bool verify : {true, false}) {
    MetaPage m;
    if (!DecodeMetaPage(page.data(), pgno, uuid, &m, verify).ok()) continue;
    std::vector<uint8_t> again(kPageSize);
    EncodeMetaPage(m, pgno, again.data());
    MetaPage m2;
    if (!DecodeMetaPage(again.data(), pgno, uuid, &m2).ok()) std::abort();
    if (m2.meta_seq != m.meta_seq || m2.commit_seq != m.commit_seq || m2.wal_generation != m.wal_generation ||
        !SameBody(m.body, m2.body))
      std::abort();
  }
  MetaBody b;
  if (DecodeMetaBody(page.data() + kMetaOffBody, &b).ok()) {
    uint8_t buf[kMetaBodySize];
    EncodeMetaBody(b, buf);
    MetaBody b2;
    if (!DecodeMetaBody(buf, &b2).ok() || !SameBody(b, b2)) std::abort();
  }
  return 0;
}
