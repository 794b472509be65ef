// Every byte flip in a small closed file's checksummed regions is detected:
// the header page, both meta pages, every sealed page reachable from the
// meta page (slot records, id map, blobs, graph records, upper-layer lists)
// and the vector bytes of live records (covered by their record checks).
//
// Header and meta pages are flipped at every byte. Sealed pages and vectors
// at every byte of their first and last 64 bytes and every kStride-th byte in
// between (a full sweep of all ~60,000 bytes takes minutes under sanitizers);
// set VDB_FLIP_ALL=1 to flip every byte of every region.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "format/graph.h"
#include "format/meta.h"
#include "format/pages.h"
#include "recovery/check_test_util.h"
#include "recovery/checker.h"
#include "support/temp_dir.h"

namespace vdb::recovery {
namespace {

using namespace vdb::checktest;
using format::kPageSize;

constexpr uint64_t kStride = 13;

struct Region {
  std::string name;
  uint64_t begin, end;  // file offsets
  bool every_byte;
};

class FlipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("db.vdb");
    DbSpec spec;
    spec.records = 24;
    ASSERT_TRUE(MakeClosedDb(path_, spec));
    CheckReport r = CheckFile(path_);
    ASSERT_TRUE(r.consistent()) << r.ToText();
    body_ = r.stats.body;
    header_ = r.stats.header;
    all_ = std::getenv("VDB_FLIP_ALL") != nullptr;
  }

  // Flips (increments) each chosen byte of the region, checks, restores.
  void FlipRegion(const Region& reg) {
    uint64_t flips = 0, missed = 0;
    int fd = ::open(path_.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    for (uint64_t off = reg.begin; off < reg.end; off++) {
      bool edge = off < reg.begin + 64 || off + 64 >= reg.end;
      if (!all_ && !reg.every_byte && !edge && (off - reg.begin) % kStride != 0) continue;
      uint8_t old = 0, flipped;
      ASSERT_EQ(::pread(fd, &old, 1, static_cast<off_t>(off)), 1);
      flipped = static_cast<uint8_t>(old ^ 0x5A);
      ASSERT_EQ(::pwrite(fd, &flipped, 1, static_cast<off_t>(off)), 1);
      CheckOptions o;
      o.max_findings = 4;
      CheckReport r = CheckFile(path_, o);
      ASSERT_EQ(::pwrite(fd, &old, 1, static_cast<off_t>(off)), 1);
      flips++;
      if (r.ExitCode() == 0) {
        missed++;
        ADD_FAILURE() << reg.name << ": flip at offset " << off << " not detected\n" << r.ToText();
        if (missed > 3) break;
      }
    }
    ::close(fd);
    EXPECT_GT(flips, 0u) << reg.name;
  }

  std::vector<uint64_t> SealedPagesInUse() {
    std::set<uint64_t> pages;
    const uint64_t hwm = body_.slot_hwm;
    for (uint64_t s = 0; s < hwm; s++) {
      auto ep = format::ExtentOf(s);
      pages.insert(body_.slot_extents[ep.extent] + ep.index / format::kSlotRecordsPerPage);
    }
    uint64_t idmap_pages = (body_.idmap_capacity + format::kIdMapEntriesPerPage - 1) / format::kIdMapEntriesPerPage;
    for (uint64_t p = 0; p < idmap_pages; p++) pages.insert(body_.idmap_page + p);
    for (uint64_t p = 0; p * format::kPagePayload < body_.blob_used; p++) pages.insert(body_.blob_page + p);
    for (uint64_t p = 0; p * format::kPagePayload < body_.upper_used; p++) pages.insert(body_.upper_page + p);
    uint32_t per = format::kPagePayload / format::GraphRecordSize(header_.hnsw_m0);
    for (uint64_t s = 0; s < hwm; s++) {
      auto ep = format::ExtentOf(s);
      if (body_.graph_extents[ep.extent]) pages.insert(body_.graph_extents[ep.extent] + ep.index / per);
    }
    return {pages.begin(), pages.end()};
  }

  testing::TempDir dir_;
  std::string path_;
  format::MetaBody body_;
  format::FileHeader header_;
  bool all_ = false;
};

TEST_F(FlipTest, EveryHeaderByteFlipIsDetected) { FlipRegion({"header page", 0, kPageSize, true}); }

TEST_F(FlipTest, EveryMetaPageAByteFlipIsDetected) { FlipRegion({"meta page 1", kPageSize, 2 * kPageSize, true}); }

TEST_F(FlipTest, EveryMetaPageBByteFlipIsDetected) {
  FlipRegion({"meta page 2", 2 * kPageSize, 3 * kPageSize, true});
}

TEST_F(FlipTest, EverySealedPageByteFlipIsDetected) {
  auto pages = SealedPagesInUse();
  ASSERT_GE(pages.size(), 8u);  // slot records, 5 id map pages, blobs, graph
  for (uint64_t p : pages) FlipRegion({"sealed page " + std::to_string(p), p * kPageSize, (p + 1) * kPageSize, false});
}

TEST_F(FlipTest, EveryLiveVectorByteFlipIsDetected) {
  CheckReport r = CheckFile(path_);
  ASSERT_GT(r.stats.live_records, 0u);
  // Live slots: those the id map points at are exactly the live ones; use the
  // slot records themselves.
  std::string all = ReadAll(path_);
  for (uint64_t s = 0; s < body_.slot_hwm; s++) {
    auto ep = format::ExtentOf(s);
    uint64_t pg = body_.slot_extents[ep.extent] + ep.index / format::kSlotRecordsPerPage;
    auto rec = format::DecodeSlotRecord(reinterpret_cast<const uint8_t*>(
        all.data() + pg * kPageSize + (ep.index % format::kSlotRecordsPerPage) * format::kSlotRecordSize));
    if (rec.state != format::kSlotLive) continue;
    uint64_t v = body_.vector_extents[ep.extent] * kPageSize + ep.index * header_.vector_stride;
    FlipRegion({"vector of slot " + std::to_string(s), v, v + header_.dim * 4, true});
  }
}

}  // namespace
}  // namespace vdb::recovery
