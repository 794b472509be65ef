// Sealed pages, extents, slot records, id map entries, graph records.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "format/checksum.h"
#include "format/graph.h"
#include "format/pages.h"

namespace vdb::format {
namespace {

TEST(PagesCodec, SealedPageVerifies) {
  std::vector<uint8_t> p(kPageSize);
  for (uint32_t i = 0; i < kPagePayload; i++) p[i] = static_cast<uint8_t>(i * 7);
  SealPage(p.data(), 42, 0xfeed);
  EXPECT_TRUE(PageChecksumOk(p.data(), 42, 0xfeed));
}

TEST(PagesCodec, EveryByteIncrementOfASealedPageIsDetected) {
  std::vector<uint8_t> good(kPageSize);
  for (uint32_t i = 0; i < kPagePayload; i++) good[i] = static_cast<uint8_t>(i * 13);
  SealPage(good.data(), 9, 77);
  for (uint32_t i = 0; i < kPageSize; i++) {
    auto p = good;
    p[i]++;
    EXPECT_FALSE(PageChecksumOk(p.data(), 9, 77)) << "byte " << i;
  }
}

TEST(PagesCodec, SealedPageAtTheWrongPlaceFails) {
  std::vector<uint8_t> p(kPageSize, 1);
  SealPage(p.data(), 10, 5);
  EXPECT_FALSE(PageChecksumOk(p.data(), 11, 5));
  EXPECT_FALSE(PageChecksumOk(p.data(), 10, 6));
}

TEST(PagesCodec, ExtentOfInvertsExtentFirstSlot) {
  for (uint32_t k = 0; k < 20; k++) {
    uint64_t first = ExtentFirstSlot(k);
    EXPECT_EQ(ExtentOf(first).extent, k);
    EXPECT_EQ(ExtentOf(first).index, 0u);
    EXPECT_EQ(ExtentOf(first + ExtentSlots(k) - 1).extent, k);
    EXPECT_EQ(ExtentOf(first + ExtentSlots(k) - 1).index, ExtentSlots(k) - 1);
  }
  EXPECT_EQ(ExtentOf(kMaxSlots - 1).extent < kMaxExtents, true);
}

TEST(PagesCodec, SealedExtentPagesHoldTheExtent) {
  EXPECT_EQ(SealedExtentPages(0, kSlotRecordSize), (1024u + 126) / 127);
  EXPECT_EQ(VectorExtentPages(0, 64), 1024u * 64 / kPageSize);
}

TEST(PagesCodec, SlotRecordRoundTrips) {
  SlotRecord r;
  r.state = kSlotLive;
  r.flags = kSlotFlagMetaZstd;
  r.id_len = 300;
  r.meta_len = 123456;
  r.id_ref = 0x123456789aull;
  r.meta_ref = 0xabcdef0123ull;
  r.inv_norm = 0.125f;
  r.check = 0xdeadbeef;
  uint8_t buf[kSlotRecordSize];
  EncodeSlotRecord(r, buf);
  SlotRecord o = DecodeSlotRecord(buf);
  EXPECT_EQ(o.state, r.state);
  EXPECT_EQ(o.flags, r.flags);
  EXPECT_EQ(o.id_len, r.id_len);
  EXPECT_EQ(o.meta_len, r.meta_len);
  EXPECT_EQ(o.id_ref, r.id_ref);
  EXPECT_EQ(o.meta_ref, r.meta_ref);
  EXPECT_EQ(o.inv_norm, r.inv_norm);
  EXPECT_EQ(o.check, r.check);
}

TEST(PagesCodec, IdMapEntryRoundTripsWithZeroPadding) {
  uint8_t buf[kIdMapEntrySize];
  std::memset(buf, 0xFF, sizeof(buf));
  EncodeIdMapEntry({0x1122334455667788ull, 99}, buf);
  IdMapEntry e = DecodeIdMapEntry(buf);
  EXPECT_EQ(e.hash, 0x1122334455667788ull);
  EXPECT_EQ(e.slot, 99u);
  EXPECT_EQ(buf[12] | buf[13] | buf[14] | buf[15], 0);
}

TEST(PagesCodec, IdHashNeverCollidesWithReservedValues) {
  for (int i = 0; i < 10000; i++) {
    std::string id = "id" + std::to_string(i);
    EXPECT_GE(IdHash(id.data(), id.size()), 2u);
  }
}

TEST(PagesCodec, GraphRecordHeaderRoundTrips) {
  GraphRecord r;
  r.level = 5;
  r.deleted = true;
  r.count = 31;
  r.inv_norm = 2.5f;
  r.upper_ref = 0x10000 + 17;
  std::vector<uint8_t> buf(GraphRecordSize(32));
  EncodeGraphRecordHeader(r, buf.data());
  GraphRecord o = DecodeGraphRecordHeader(buf.data());
  EXPECT_EQ(o.level, 5);
  EXPECT_TRUE(o.deleted);
  EXPECT_EQ(o.count, 31);
  EXPECT_EQ(o.inv_norm, 2.5f);
  EXPECT_EQ(o.upper_ref, r.upper_ref);
}

TEST(PagesCodec, ZeroGraphRecordHoldsNoNode) {
  std::vector<uint8_t> buf(GraphRecordSize(32), 0);
  EXPECT_EQ(DecodeGraphRecordHeader(buf.data()).level, -1);
}

TEST(PagesCodec, SealedPayloadOffsetSkipsTrailers) {
  EXPECT_EQ(SealedPayloadOffset(10, 0), 10u * kPageSize);
  EXPECT_EQ(SealedPayloadOffset(10, kPagePayload), 11u * kPageSize);
  EXPECT_EQ(SealedPayloadOffset(10, kPagePayload + 5), 11u * kPageSize + 5);
}

}  // namespace
}  // namespace vdb::format
