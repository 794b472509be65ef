// PageTable: version chains as of a snapshot, pruning of superseded versions
// and reuse of their memory only after the readers that could hold them left.
#include "engine/page_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

namespace vdb {
namespace {

constexpr uint64_t kPages = 1 << 20;

// A page image tagged with seq: its first 8 bytes hold seq, the rest the low byte of seq.
std::vector<uint8_t> Image(uint64_t seq) {
  std::vector<uint8_t> img(format::kPageSize, static_cast<uint8_t>(seq));
  std::memcpy(img.data(), &seq, sizeof(seq));
  return img;
}

uint64_t SeqOf(const uint8_t* page) {
  uint64_t seq;
  std::memcpy(&seq, page, sizeof(seq));
  return seq;
}

// True if page is exactly Image(seq).
bool IsImage(const uint8_t* page, uint64_t seq) {
  const std::vector<uint8_t> want = Image(seq);
  return std::memcmp(page, want.data(), want.size()) == 0;
}

TEST(PageTableTest, FindReturnsNewestVersionAtOrBeforeSnapshot) {
  PageTable pt(kPages);
  for (uint64_t seq : {2, 5, 9}) pt.Add(7, seq, Image(seq).data());
  EXPECT_EQ(pt.Find(7, 1), nullptr);  // older than every version: the main file
  EXPECT_EQ(SeqOf(pt.Find(7, 2)), 2u);
  EXPECT_EQ(SeqOf(pt.Find(7, 4)), 2u);
  EXPECT_EQ(SeqOf(pt.Find(7, 5)), 5u);
  EXPECT_EQ(SeqOf(pt.Find(7, 100)), 9u);
  EXPECT_TRUE(IsImage(pt.FindLatest(7), 9));
  EXPECT_EQ(pt.Find(8, 100), nullptr);
}

TEST(PageTableTest, PruneDropsVersionsNoSnapshotCanNeed) {
  PageTable pt(kPages);
  ReaderRegistry readers;
  for (uint64_t seq = 1; seq <= 6; seq++) pt.Add(3, seq, Image(seq).data());
  ASSERT_EQ(pt.version_count(), 6u);
  pt.Prune(4, &readers);  // every snapshot is >= 4: versions 1-3 are needed by none
  EXPECT_EQ(pt.version_count(), 3u);
  EXPECT_EQ(SeqOf(pt.Find(3, 4)), 4u);
  EXPECT_EQ(SeqOf(pt.Find(3, 5)), 5u);
  EXPECT_EQ(SeqOf(pt.Find(3, 6)), 6u);
  EXPECT_EQ(pt.Find(3, 3), nullptr);
}

TEST(PageTableTest, PruneKeepsTheNewestVersionWhateverTheSnapshot) {
  PageTable pt(kPages);
  ReaderRegistry readers;
  for (uint64_t seq = 1; seq <= 3; seq++) pt.Add(3, seq, Image(seq).data());
  pt.Prune(ReaderRegistry::kIdle, &readers);
  EXPECT_EQ(pt.version_count(), 1u);
  EXPECT_TRUE(IsImage(pt.FindLatest(3), 3));
}

TEST(PageTableTest, PruneTouchesOnlyPagesAddedSinceTheLastPrune) {
  PageTable pt(kPages);
  ReaderRegistry readers;
  pt.Add(1, 1, Image(1).data());
  pt.Add(1, 2, Image(2).data());
  pt.Prune(0, &readers);  // a snapshot 0 may exist: nothing to drop
  EXPECT_EQ(pt.version_count(), 2u);
  pt.Add(2, 3, Image(3).data());
  pt.Prune(3, &readers);  // page 1 was not added to since: left as it is
  EXPECT_EQ(pt.version_count(), 3u);
  EXPECT_EQ(SeqOf(pt.Find(1, 1)), 1u);
}

TEST(PageTableTest, UnlinkedMemoryIsReusedOnlyAfterReadersThatCouldHoldItLeave) {
  PageTable pt(kPages);
  ReaderRegistry readers;
  pt.Add(5, 1, Image(1).data());
  pt.Add(5, 2, Image(2).data());
  const uint8_t* held;
  {
    ReaderGuard g(&readers);
    g.SetSnapshot(2);
    held = pt.Find(5, 2);  // the reader reads version 2 through this pointer
    ASSERT_NE(held, nullptr);
    // A checkpoint puts version 2 in the main file and unlinks the chain.
    pt.MarkCheckpointed(2);
    pt.Trim(readers.MinSnapshot(), &readers);
    EXPECT_EQ(pt.Find(5, 2), nullptr);
    pt.Add(6, 3, Image(3).data());
    pt.Prune(2, &readers);
    EXPECT_EQ(pt.spare_count(), 0u);  // the reader may still hold them
    EXPECT_TRUE(IsImage(held, 2));
  }
  pt.Prune(3, &readers);  // the reader left: both unlinked versions become spares
  EXPECT_EQ(pt.spare_count(), 2u);
  EXPECT_EQ(pt.version_count(), 1u);
  pt.Add(7, 4, Image(4).data());
  EXPECT_EQ(pt.spare_count(), 1u);
  EXPECT_TRUE(IsImage(pt.FindLatest(7), 4));
}

TEST(PageTableTest, TrimAfterCheckpointLeavesPagesToTheMainFile) {
  PageTable pt(kPages);
  ReaderRegistry readers;
  pt.Add(9, 1, Image(1).data());
  pt.Add(9, 2, Image(2).data());
  EXPECT_EQ(pt.ChainedPages(), 1u);
  pt.MarkCheckpointed(2);
  pt.Trim(ReaderRegistry::kIdle, &readers);
  EXPECT_EQ(pt.ChainedPages(), 0u);
  EXPECT_EQ(pt.Find(9, 2), nullptr);
  EXPECT_EQ(pt.version_count(), 0u);
}

TEST(PageTableTest, PreserveBaseKeepsMainFileImageForOlderReaders) {
  PageTable pt(kPages);
  const std::vector<uint8_t> base = Image(0);
  pt.Add(4, 5, Image(5).data());
  EXPECT_TRUE(pt.PreserveBase(4, base.data(), 3));  // a reader at 3 read the main file
  EXPECT_TRUE(IsImage(pt.Find(4, 3), 0));
  EXPECT_FALSE(pt.PreserveBase(4, base.data(), 3));  // kept once
  PageTable pt2(kPages);
  pt2.Add(4, 5, Image(5).data());
  EXPECT_FALSE(pt2.PreserveBase(4, base.data(), 5));  // no reader that old
}

// Readers check every image they find against their snapshot while the
// writer adds a version of each page per commit and prunes as DbImpl does.
TEST(PageTableTest, ConcurrentReadersSeeTheirSnapshotWhilePruning) {
  constexpr uint64_t kCommitPages = 8;
  constexpr uint64_t kCommits = 3000;
  PageTable pt(kPages);
  ReaderRegistry readers;
  std::atomic<uint64_t> visible{0};
  std::atomic<bool> done{false};
  std::atomic<uint64_t> bad{0}, reads{0};
  auto reader = [&] {
    while (!done.load()) {
      ReaderGuard g(&readers);
      const uint64_t s = visible.load();
      g.SetSnapshot(s);
      if (s == 0) continue;
      for (uint64_t p = 0; p < kCommitPages; p++) {
        const uint8_t* img = pt.Find(p * 4099, s);
        // Every commit writes every page: the version as of s is s's own.
        if (img == nullptr || !IsImage(img, s)) bad.fetch_add(1);
        reads.fetch_add(1);
      }
    }
  };
  std::thread r1(reader), r2(reader);
  for (uint64_t seq = 1; seq <= kCommits; seq++) {
    const std::vector<uint8_t> img = Image(seq);
    for (uint64_t p = 0; p < kCommitPages; p++) pt.Add(p * 4099, seq, img.data());
    if (pt.PruneDue()) {
      const uint64_t v = visible.load();
      pt.Prune(std::min(v, readers.MinSnapshot()), &readers);
    }
    visible.store(seq);
  }
  done.store(true);
  r1.join();
  r2.join();
  EXPECT_EQ(bad.load(), 0u) << "of " << reads.load() << " reads";
  // Pruned as it went: far fewer versions than were added.
  EXPECT_LT(pt.version_count(), kCommitPages * kCommits / 4);
}

}  // namespace
}  // namespace vdb
