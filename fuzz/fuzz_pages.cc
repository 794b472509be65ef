// Fuzzes the sealed-page codecs. Input: one page. Invariants: a page sealed
// at pgno verifies at pgno and not at pgno + 1; every slot record, id map
// entry and graph record header in it decodes and re-encodes to the same
// bytes; extent arithmetic is consistent for the slot numbers it holds.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "format/checksum.h"
#include "format/coding.h"
#include "format/graph.h"
#include "format/pages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vdb::format;
  std::vector<uint8_t> page(kPageSize, 0);
  std::memcpy(page.data(), data, std::min<size_t>(size, kPageSize));
  const uint64_t pgno = GetU32(page.data()) % 100000 + kFirstDataPage;
  (void)PageChecksumOk(page.data(), pgno, 1234);
  std::vector<uint8_t> sealed = page;
  SealPage(sealed.data(), pgno, 1234);
  if (!PageChecksumOk(sealed.data(), pgno, 1234)) std::abort();
  if (PageChecksumOk(sealed.data(), pgno + 1, 1234) && GetU64(sealed.data() + kPagePayload) != 0) {
    // A collision of XXH3-64 for two seeds: possible in principle only.
  }
  for (uint32_t i = 0; i < kSlotRecordsPerPage; i++) {
    const uint8_t* in = page.data() + i * kSlotRecordSize;
    SlotRecord r = DecodeSlotRecord(in);
    uint8_t out[kSlotRecordSize];
    EncodeSlotRecord(r, out);
    if (std::memcmp(in, out, kSlotRecordSize) != 0) std::abort();
    const uint32_t slot = GetU32(in) % kMaxSlots;
    ExtentPos ep = ExtentOf(slot);
    if (ep.extent >= kMaxExtents || ep.index >= ExtentSlots(ep.extent) ||
        ExtentFirstSlot(ep.extent) + ep.index != slot)
      std::abort();
  }
  for (uint32_t i = 0; i < kIdMapEntriesPerPage; i++) {
    const uint8_t* in = page.data() + i * kIdMapEntrySize;
    IdMapEntry e = DecodeIdMapEntry(in);
    uint8_t out[kIdMapEntrySize];
    EncodeIdMapEntry(e, out);
    if (std::memcmp(in, out, 12) != 0) std::abort();
  }
  const uint32_t rec = GraphRecordSize(32);
  for (uint32_t i = 0; i < kPagePayload / rec; i++) {
    const uint8_t* in = page.data() + i * rec;
    GraphRecord g = DecodeGraphRecordHeader(in);
    if (g.level < -1 || g.level > 254) std::abort();
    uint8_t out[kGraphRecordHeaderSize];
    EncodeGraphRecordHeader(g, out);
    GraphRecord g2 = DecodeGraphRecordHeader(out);
    if (g2.level != g.level || g2.deleted != g.deleted || g2.count != g.count || g2.upper_ref != g.upper_ref ||
        std::memcmp(&g2.inv_norm, &g.inv_norm, 4) != 0)
      std::abort();
  }
  return 0;
}
