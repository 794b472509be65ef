// The checker on real files: clean states check clean, and each kind of
// targeted damage gets its specific diagnosis.
#include "recovery/checker.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "format/meta.h"
#include "format/pages.h"
#include "recovery/check_internal.h"
#include "recovery/check_test_util.h"
#include "support/temp_dir.h"

namespace vdb::recovery {
namespace {

using namespace vdb::checktest;
using format::kPageSize;

class CheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("db.vdb");
    ASSERT_TRUE(MakeClosedDb(path_));
  }
  format::MetaPage ActiveMeta() {
    format::FileHeader h = Header(path_);
    format::MetaPage a, b;
    std::string pa = ReadPage(path_, 1), pb = ReadPage(path_, 2);
    bool oka = format::DecodeMetaPage(reinterpret_cast<const uint8_t*>(pa.data()), 1, h.uuid, &a).ok();
    bool okb = format::DecodeMetaPage(reinterpret_cast<const uint8_t*>(pb.data()), 2, h.uuid, &b).ok();
    active_pgno_ = (oka && (!okb || a.meta_seq > b.meta_seq)) ? 1 : 2;
    return active_pgno_ == 1 ? a : b;
  }
  testing::TempDir dir_;
  std::string path_;
  uint64_t active_pgno_ = 0;
};

TEST_F(CheckerTest, ClosedFileIsConsistent) {
  CheckReport r = CheckFile(path_);
  EXPECT_TRUE(r.consistent()) << r.ToText();
  EXPECT_EQ(r.ExitCode(), 0);
  EXPECT_EQ(r.warning_count, 0u) << r.ToText();
  DbSpec spec;
  EXPECT_EQ(r.stats.live_records, spec.records - (spec.records + 4) / 6 + spec.records / 8 - 1);
  EXPECT_GT(r.stats.free_slots + r.stats.deleted_slots, 0u);
  EXPECT_EQ(r.stats.records_verified, r.stats.live_records);
  EXPECT_GT(r.stats.metadata_decoded, 0u);
  EXPECT_EQ(r.stats.free_chain_length, r.stats.free_slots);
  EXPECT_FALSE(r.replay.wal_present);
}

TEST_F(CheckerTest, EmptyDatabaseIsConsistent) {
  std::string p = dir_.File("empty.vdb");
  DbSpec spec;
  spec.records = 0;
  ASSERT_TRUE(MakeClosedDb(p, spec));
  CheckReport r = CheckFile(p);
  EXPECT_TRUE(r.consistent()) << r.ToText();
  EXPECT_EQ(r.stats.live_records, 0u);
}

TEST_F(CheckerTest, SummaryLineEndsTextReport) {
  CheckReport r = CheckFile(path_);
  std::string text = r.ToText();
  ASSERT_FALSE(text.empty());
  std::string last = text.substr(text.rfind('\n', text.size() - 2) + 1);
  EXPECT_EQ(last, r.Summary() + "\n");
  EXPECT_NE(r.Summary().find("consistent"), std::string::npos);
}

TEST_F(CheckerTest, JsonReportParsesAndCarriesTheVerdict) {
  IncrementByte(path_, 1 * kPageSize + 100);
  CheckReport r = CheckFile(path_);
  std::string j = r.ToJson();
  EXPECT_NE(j.find("\"consistent\": false"), std::string::npos) << j;
  EXPECT_NE(j.find("\"code\": \"meta.checksum\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"exit_code\": 1"), std::string::npos) << j;
}

TEST_F(CheckerTest, MissingFileCannotBeChecked) {
  CheckReport r = CheckFile(dir_.File("nope.vdb"));
  EXPECT_FALSE(r.status.ok());
  EXPECT_EQ(r.ExitCode(), 2);
}

TEST_F(CheckerTest, BadMagicIsNotAVdbFile) {
  SetByte(path_, 0, 'X');
  CheckReport r = CheckFile(path_);
  EXPECT_EQ(r.ExitCode(), 1);
  EXPECT_TRUE(r.Has("header.magic")) << r.ToText();
}

TEST_F(CheckerTest, NewerVersionCannotBeChecked) {
  PutU64At(path_, format::kHeaderOffVersion, 0);  // clears version and page size
  SetByte(path_, format::kHeaderOffVersion, format::kFormatVersion + 1);
  SetByte(path_, format::kHeaderOffPageSize + 1, 0x10);  // page size 4096 again
  FixHeaderChecksum(path_);
  CheckReport r = CheckFile(path_);
  EXPECT_EQ(r.ExitCode(), 2) << r.ToText();
  EXPECT_TRUE(r.status.IsNotSupported());
  EXPECT_TRUE(r.Has("header.version")) << r.ToText();
}

TEST_F(CheckerTest, HeaderChecksumMismatchIsDiagnosedAndCheckGoesOn) {
  IncrementByte(path_, 200);  // reserved (zero) byte of the header page
  CheckReport r = CheckFile(path_);
  EXPECT_TRUE(r.Has("header.checksum")) << r.ToText();
  EXPECT_EQ(r.damage_count, 1u) << r.ToText();
  EXPECT_GT(r.stats.live_records, 0u);
}

TEST_F(CheckerTest, TornActiveMetaPageIsDiagnosed) {
  ActiveMeta();
  for (uint32_t i = 2048; i < kPageSize; i++) SetByte(path_, active_pgno_ * kPageSize + i, 0xAB);
  CheckReport r = CheckFile(path_);
  EXPECT_EQ(r.ExitCode(), 1);
  EXPECT_TRUE(r.Has("meta.checksum")) << r.ToText();
  EXPECT_EQ(r.stats.meta_page_used, active_pgno_ == 1 ? 2 : 1);
}

TEST_F(CheckerTest, BothMetaPagesDamagedIsDiagnosed) {
  IncrementByte(path_, 1 * kPageSize + 3000);
  IncrementByte(path_, 2 * kPageSize + 3000);
  CheckReport r = CheckFile(path_);
  EXPECT_TRUE(r.Has("meta.none_valid")) << r.ToText();
  EXPECT_EQ(r.ExitCode(), 1);
}

TEST_F(CheckerTest, TruncatedFileIsDiagnosed) {
  ShrinkSize(path_, 5 * kPageSize);
  CheckReport r = CheckFile(path_);
  EXPECT_EQ(r.ExitCode(), 1);
  EXPECT_TRUE(r.Has("file.truncated")) << r.ToText();
}

TEST_F(CheckerTest, TooShortFileIsDiagnosed) {
  std::filesystem::resize_file(path_, 100);
  CheckReport r = CheckFile(path_);
  EXPECT_EQ(r.ExitCode(), 1);
  EXPECT_TRUE(r.Has("file.too_short")) << r.ToText();
}

TEST_F(CheckerTest, DanglingIdMapEntryIsDiagnosed) {
  format::MetaPage m = ActiveMeta();
  // Find a used entry and point it at a free slot, keeping the page sealed.
  std::string all = ReadAll(path_);
  uint32_t free_slot = m.body.free_head;
  ASSERT_NE(free_slot, format::kNoSlot);
  bool done = false;
  for (uint64_t i = 0; i < m.body.idmap_capacity && !done; i++) {
    uint64_t pgno = m.body.idmap_page + i / format::kIdMapEntriesPerPage;
    uint64_t off = pgno * kPageSize + (i % format::kIdMapEntriesPerPage) * format::kIdMapEntrySize;
    auto e = format::DecodeIdMapEntry(reinterpret_cast<const uint8_t*>(all.data() + off));
    if (e.hash < 2) continue;
    uint8_t b[4];
    format::PutU32(b, free_slot);
    for (int k = 0; k < 4; k++) SetByte(path_, off + 8 + k, b[k]);
    FixSealedChecksum(path_, pgno);
    done = true;
  }
  ASSERT_TRUE(done);
  CheckReport r = CheckFile(path_);
  EXPECT_EQ(r.ExitCode(), 1);
  EXPECT_TRUE(r.Has("idmap.dangling")) << r.ToText();
  EXPECT_TRUE(r.Has("idmap.unmapped_slot")) << r.ToText();  // the slot it pointed at lost its entry
}

TEST_F(CheckerTest, MetadataThatDoesNotDecodeIsDiagnosed) {
  format::MetaPage m = ActiveMeta();
  format::FileHeader h = Header(path_);
  // Slot 8 holds rec-8, live, with small (uncompressed) metadata.
  const uint32_t slot = 8;
  std::string all = ReadAll(path_);
  auto ep = format::ExtentOf(slot);
  uint64_t pgno = m.body.slot_extents[ep.extent] + ep.index / format::kSlotRecordsPerPage;
  uint64_t roff = pgno * kPageSize + (ep.index % format::kSlotRecordsPerPage) * format::kSlotRecordSize;
  auto rec = format::DecodeSlotRecord(reinterpret_cast<const uint8_t*>(all.data() + roff));
  ASSERT_EQ(rec.state, format::kSlotLive);
  ASSERT_GT(rec.meta_len, 0u);
  ASSERT_EQ(rec.flags, 0);
  // 0xc1 is never used in MessagePack. Reseal the blob page and recompute the
  // record check, so that only the decoding fails.
  SetByte(path_, rec.meta_ref, 0xc1);
  FixSealedChecksum(path_, rec.meta_ref / kPageSize);
  all = ReadAll(path_);
  std::string id = all.substr(rec.id_ref, rec.id_len);
  std::string meta = all.substr(rec.meta_ref, rec.meta_len);  // within one page here
  ASSERT_EQ(id, IdFor(slot));
  uint64_t voff = m.body.vector_extents[ep.extent] * kPageSize + ep.index * h.vector_stride;
  uint32_t check = check::RecordCheck(slot, reinterpret_cast<const uint8_t*>(all.data() + voff), h.dim * 4, id, meta);
  uint8_t b[4];
  format::PutU32(b, check);
  for (int i = 0; i < 4; i++) SetByte(path_, roff + 28 + i, b[i]);
  FixSealedChecksum(path_, pgno);
  CheckReport r = CheckFile(path_);
  EXPECT_TRUE(r.Has("slot.metadata")) << r.ToText();
  EXPECT_EQ(r.damage_count, 1u) << r.ToText();
  EXPECT_EQ(r.ExitCode(), 1);
}

TEST_F(CheckerTest, FreeListCycleIsDiagnosedWithoutHanging) {
  format::MetaPage m = ActiveMeta();
  ASSERT_GE(m.body.free_count, 2u);
  uint32_t tail = m.body.free_tail;
  auto ep = format::ExtentOf(tail);
  uint64_t pgno = m.body.slot_extents[ep.extent] + ep.index / format::kSlotRecordsPerPage;
  uint64_t roff = pgno * kPageSize + (ep.index % format::kSlotRecordsPerPage) * format::kSlotRecordSize;
  PutU64At(path_, roff + 8, m.body.free_head);  // tail links back to head
  FixSealedChecksum(path_, pgno);
  CheckReport r = CheckFile(path_);
  EXPECT_TRUE(r.Has("free.cycle")) << r.ToText();
}

TEST_F(CheckerTest, CountMismatchIsDiagnosed) {
  ActiveMeta();
  // live_count and idmap_used both +1, and deleted -1 ... simpler: bump
  // free_count and slot_hwm consistency breaks; instead bump live and hwm.
  uint64_t body = active_pgno_ * kPageSize + format::kMetaOffBody;
  format::MetaPage m = ActiveMeta();
  PutU64At(path_, body + 8, m.body.live_count + 1);   // live_count
  PutU64At(path_, body + 64, m.body.idmap_used + 1);  // idmap_used
  PutU64At(path_, body + 24, m.body.free_count - 1);  // free_count
  FixMetaChecksum(path_, active_pgno_);
  CheckReport r = CheckFile(path_);
  EXPECT_TRUE(r.Has("count.live")) << r.ToText();
  EXPECT_TRUE(r.Has("idmap.count")) << r.ToText();
}

TEST_F(CheckerTest, DamagedVectorFailsRecordCheck) {
  format::MetaPage m = ActiveMeta();
  auto ep = format::ExtentOf(0);
  uint64_t voff = m.body.vector_extents[ep.extent] * kPageSize;  // slot 0's vector
  IncrementByte(path_, voff + 2);
  CheckReport r = CheckFile(path_);
  EXPECT_TRUE(r.Has("slot.record_check")) << r.ToText();
  EXPECT_EQ(r.findings[0].slot, 0);
}

TEST_F(CheckerTest, MaxFindingsCapsTheListButNotTheCount) {
  format::MetaPage m = ActiveMeta();
  uint64_t vbase = m.body.vector_extents[0] * kPageSize;
  format::FileHeader h = Header(path_);
  for (uint32_t s = 0; s < 10; s++) IncrementByte(path_, vbase + s * h.vector_stride);
  CheckOptions o;
  o.max_findings = 2;
  CheckReport r = CheckFile(path_, o);
  EXPECT_EQ(r.findings.size(), 2u);
  EXPECT_GT(r.damage_count, 2u);
}

TEST_F(CheckerTest, CheckNeverModifiesTheFile) {
  IncrementByte(path_, 2 * kPageSize + 10);
  std::string before = ReadAll(path_);
  (void)CheckFile(path_);
  EXPECT_EQ(ReadAll(path_), before);
  EXPECT_FALSE(std::filesystem::exists(path_ + "-wal"));
}

}  // namespace
}  // namespace vdb::recovery
