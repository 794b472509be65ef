// Meta pages and the meta body: round trip and corruption detection.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "format/checksum.h"
#include "format/coding.h"
#include "format/meta.h"

namespace vdb::format {
namespace {

const uint8_t kUuid[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 10, 11, 12, 13, 14, 15};

MetaPage Sample() {
  MetaPage m;
  m.meta_seq = 7;
  m.commit_seq = 1234;
  m.wal_generation = 5;
  std::memcpy(m.uuid, kUuid, 16);
  MetaBody& b = m.body;
  b.page_count = 500;
  b.slot_hwm = 100;
  b.live_count = 90;
  b.free_count = 6;
  b.deleted_count = 4;
  b.free_head = 3;
  b.free_tail = 77;
  b.idmap_page = 40;
  b.idmap_capacity = 1024;
  b.idmap_used = 90;
  b.idmap_tombstones = 2;
  b.blob_page = 60;
  b.blob_pages = 64;
  b.blob_used = 5000;
  b.model_ref = 60 * 4096 + 10;
  b.model_len = 33;
  b.graph_entry = 12;
  b.graph_max_level = 3;
  b.graph_record_size = 144;
  b.graph_nodes = 94;
  b.graph_edges0 = 2000;
  b.upper_page = 200;
  b.upper_pages = 16;
  b.upper_used = 300;
  b.vector_extents[0] = 3;
  b.slot_extents[0] = 19;
  b.graph_extents[0] = 130;
  return m;
}

std::vector<uint8_t> Page(const MetaPage& m, uint64_t pgno) {
  std::vector<uint8_t> p(kPageSize);
  EncodeMetaPage(m, pgno, p.data());
  return p;
}

TEST(MetaCodec, PageRoundTripsEveryField) {
  MetaPage m = Sample(), out;
  auto p = Page(m, kMetaPageB);
  ASSERT_TRUE(DecodeMetaPage(p.data(), kMetaPageB, kUuid, &out).ok());
  EXPECT_EQ(out.meta_seq, m.meta_seq);
  EXPECT_EQ(out.commit_seq, m.commit_seq);
  EXPECT_EQ(out.wal_generation, m.wal_generation);
  const MetaBody &a = m.body, &b = out.body;
  EXPECT_EQ(b.page_count, a.page_count);
  EXPECT_EQ(b.slot_hwm, a.slot_hwm);
  EXPECT_EQ(b.live_count, a.live_count);
  EXPECT_EQ(b.free_count, a.free_count);
  EXPECT_EQ(b.deleted_count, a.deleted_count);
  EXPECT_EQ(b.free_head, a.free_head);
  EXPECT_EQ(b.free_tail, a.free_tail);
  EXPECT_EQ(b.idmap_page, a.idmap_page);
  EXPECT_EQ(b.idmap_capacity, a.idmap_capacity);
  EXPECT_EQ(b.idmap_used, a.idmap_used);
  EXPECT_EQ(b.idmap_tombstones, a.idmap_tombstones);
  EXPECT_EQ(b.blob_page, a.blob_page);
  EXPECT_EQ(b.blob_pages, a.blob_pages);
  EXPECT_EQ(b.blob_used, a.blob_used);
  EXPECT_EQ(b.model_ref, a.model_ref);
  EXPECT_EQ(b.model_len, a.model_len);
  EXPECT_EQ(b.graph_entry, a.graph_entry);
  EXPECT_EQ(b.graph_max_level, a.graph_max_level);
  EXPECT_EQ(b.graph_record_size, a.graph_record_size);
  EXPECT_EQ(b.graph_nodes, a.graph_nodes);
  EXPECT_EQ(b.graph_edges0, a.graph_edges0);
  EXPECT_EQ(b.upper_page, a.upper_page);
  EXPECT_EQ(b.upper_pages, a.upper_pages);
  EXPECT_EQ(b.upper_used, a.upper_used);
  EXPECT_EQ(b.vector_extents, a.vector_extents);
  EXPECT_EQ(b.slot_extents, a.slot_extents);
  EXPECT_EQ(b.graph_extents, a.graph_extents);
}

TEST(MetaCodec, BodyRoundTripsAlone) {
  MetaBody a = Sample().body, b;
  uint8_t buf[kMetaBodySize];
  EncodeMetaBody(a, buf);
  ASSERT_TRUE(DecodeMetaBody(buf, &b).ok());
  EXPECT_EQ(b.free_tail, a.free_tail);
  EXPECT_EQ(b.graph_extents, a.graph_extents);
}

TEST(MetaCodec, EveryByteIncrementIsDetected) {
  const auto good = Page(Sample(), kMetaPageA);
  for (uint32_t i = 0; i < kPageSize; i++) {
    auto p = good;
    p[i]++;
    MetaPage out;
    EXPECT_FALSE(DecodeMetaPage(p.data(), kMetaPageA, kUuid, &out).ok()) << "byte " << i;
  }
}

TEST(MetaCodec, PageWrittenForTheOtherSlotFailsItsChecksum) {
  auto p = Page(Sample(), kMetaPageA);
  MetaPage out;
  Status s = DecodeMetaPage(p.data(), kMetaPageB, kUuid, &out);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_NE(s.message().find("checksum"), std::string::npos);
}

TEST(MetaCodec, PageOfAnotherFileIsRejected) {
  auto p = Page(Sample(), kMetaPageA);
  uint8_t other[16] = {1};
  MetaPage out;
  EXPECT_TRUE(DecodeMetaPage(p.data(), kMetaPageA, other, &out).IsCorruption());
}

TEST(MetaCodec, ZeroPageHasBadMagic) {
  std::vector<uint8_t> p(kPageSize, 0);
  MetaPage out;
  Status s = DecodeMetaPage(p.data(), kMetaPageA, kUuid, &out);
  EXPECT_NE(s.message().find("magic"), std::string::npos);
}

Status DecodeEdited(void (*edit)(MetaBody*)) {
  MetaBody b = Sample().body, out;
  edit(&b);
  uint8_t buf[kMetaBodySize];
  EncodeMetaBody(b, buf);
  return DecodeMetaBody(buf, &out);
}

TEST(MetaCodec, CountsThatDoNotAddUpAreCorruption) {
  EXPECT_TRUE(DecodeEdited([](MetaBody* b) { b->live_count++; }).IsCorruption());
}

TEST(MetaCodec, FreeListEndsWithoutFreeSlotsAreCorruption) {
  EXPECT_TRUE(DecodeEdited([](MetaBody* b) {
                b->free_head = kNoSlot;
              }).IsCorruption());
}

TEST(MetaCodec, IdMapCapacityNotPowerOfTwoIsCorruption) {
  EXPECT_TRUE(DecodeEdited([](MetaBody* b) { b->idmap_capacity = 1000; }).IsCorruption());
}

TEST(MetaCodec, ExtentOutsideTheFileIsCorruption) {
  EXPECT_TRUE(DecodeEdited([](MetaBody* b) { b->slot_extents[3] = 501; }).IsCorruption());
}

TEST(MetaCodec, GraphEntryBeyondSlotsIsCorruption) {
  EXPECT_TRUE(DecodeEdited([](MetaBody* b) { b->graph_entry = 100; }).IsCorruption());
}

TEST(MetaCodec, BlobUseBeyondItsExtentIsCorruption) {
  EXPECT_TRUE(DecodeEdited([](MetaBody* b) { b->blob_used = 64 * kPagePayload + 1; }).IsCorruption());
}

}  // namespace
}  // namespace vdb::format
