// Page deltas in the WAL (docs/format.md#payload-entries, docs/recovery.md):
// a page's first change in a WAL generation is logged as its image, later
// changes as the bytes that differ, and replay rebuilds the same pages, also
// over pages a crash tore in the main file.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "format/wal_format.h"
#include "recovery/check_test_util.h"
#include "recovery/checker.h"
#include "recovery/wal_reader.h"
#include "support/temp_dir.h"
#include "support/test_db.h"
#include "vdb/db.h"
#include "vdb/env.h"

namespace vdb {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;
using checktest::IdFor;
using checktest::MetadataFor;
using checktest::VectorFor;

constexpr uint32_t kDim = 8;

std::unique_ptr<Database> Create(const std::string& path) { return testing::MustCreate(path, kDim); }

// What one commit put in the log.
struct LoggedCommit {
  std::set<uint64_t> images;  // pages logged whole
  uint64_t byte_entries = 0;
  uint64_t payload_bytes = 0;
};

// Reads the current generation of the WAL at wal_path: commit seq -> entries.
std::map<uint64_t, LoggedCommit> ReadLog(const std::string& wal_path) {
  std::map<uint64_t, LoggedCommit> out;
  FileOpenOptions o;
  o.read_only = true;
  auto f = Env::Default()->Open(wal_path, o);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  if (!f.ok()) return out;
  uint8_t hb[format::kWalHeaderUsedBytes];
  size_t got = 0;
  EXPECT_TRUE((*f)->Read(0, hb, sizeof hb, &got).ok());
  format::WalHeader h;
  EXPECT_TRUE(format::DecodeWalHeader(hb, got, &h).ok());
  auto size = (*f)->Size();
  EXPECT_TRUE(size.ok());
  recovery::WalReader reader(f->get(), *size, format::WalRecordSeed(h.uuid, h.generation),
                             format::WalRecordSeed(h.uuid, h.generation - 1));
  recovery::WalRecord rec;
  while (reader.Next(&rec)) {
    LoggedCommit& c = out[rec.header.commit_seq];
    c.payload_bytes += rec.payload.size();
    format::WalEntryReader er(rec.payload);
    format::WalEntry e;
    while (er.Next(&e)) {
      if (e.type == format::kWalEntryPage) c.images.insert(e.where);
      if (e.type == format::kWalEntryBytes) c.byte_entries++;
    }
    EXPECT_TRUE(er.status().ok()) << er.status().ToString();
  }
  return out;
}

TEST(PageDelta, FirstChangeOfAPageIsLoggedAsItsImage) {
  TempDir dir;
  const std::string path = dir.File("a.vdb");
  auto db = Create(path);
  ASSERT_TRUE(db->Put(IdFor(0), VectorFor(0, kDim)).ok());
  auto log = ReadLog(path + "-wal");
  ASSERT_EQ(log.size(), 1u);
  EXPECT_GE(log.begin()->second.images.size(), 2u);  // at least the slot record and id map pages
}

// A database at path after two single-record commits to the same pages.
std::unique_ptr<Database> CreateWithTwoPuts(const std::string& path) {
  auto db = Create(path);
  if (db == nullptr) return nullptr;
  EXPECT_TRUE(db->Put(IdFor(0), VectorFor(0, kDim)).ok());
  EXPECT_TRUE(db->Put(IdFor(1), VectorFor(1, kDim)).ok());
  return db;
}

TEST(PageDelta, LaterChangesToThosePagesAreLoggedAsDeltas) {
  TempDir dir;
  const std::string path = dir.File("a.vdb");
  auto db = CreateWithTwoPuts(path);
  ASSERT_NE(db, nullptr);
  auto log = ReadLog(path + "-wal");
  ASSERT_EQ(log.size(), 2u);
  const LoggedCommit& second = log.rbegin()->second;
  EXPECT_TRUE(second.images.empty());
  EXPECT_GE(second.byte_entries, 3u);  // the vector and at least two page deltas
  EXPECT_LT(second.payload_bytes, format::kPageSize);
}

TEST(PageDelta, TheFirstChangeAfterACheckpointIsAnImageAgain) {
  TempDir dir;
  const std::string path = dir.File("a.vdb");
  auto db = CreateWithTwoPuts(path);
  ASSERT_NE(db, nullptr);
  auto before = ReadLog(path + "-wal");
  ASSERT_TRUE(db->Checkpoint().ok());
  ASSERT_TRUE(db->Put(IdFor(2), VectorFor(2, kDim)).ok());
  auto after = ReadLog(path + "-wal");
  ASSERT_EQ(after.size(), 1u);
  // Pages the old generation held images of (and then deltas) are imaged anew.
  const std::set<uint64_t>& again = after.begin()->second.images;
  EXPECT_GE(again.size(), 2u);
  for (uint64_t pgno : again) EXPECT_TRUE(before.begin()->second.images.contains(pgno)) << "page " << pgno;
}

// A database whose WAL holds images and many deltas of the same pages (puts,
// replacements with metadata, deletes), copied as a crash right after the
// last commit would leave it. Returns the pages imaged in the log.
std::set<uint64_t> CrashCopyWithDeltas(const TempDir& dir, const std::string& copy) {
  const std::string path = dir.File("a.vdb");
  auto db = Create(path);
  for (uint32_t i = 0; i < 60; i++) EXPECT_TRUE(db->Put(IdFor(i), VectorFor(i, kDim), MetadataFor(i)).ok());
  for (uint32_t i = 0; i < 60; i += 4) EXPECT_TRUE(db->Put(IdFor(i), VectorFor(i + 1000, kDim), MetadataFor(i + 3)).ok());
  for (uint32_t i = 1; i < 60; i += 5) EXPECT_TRUE(db->Delete(IdFor(i)).ok());
  fs::copy_file(path, copy);
  fs::copy_file(path + "-wal", copy + "-wal");
  std::set<uint64_t> imaged;
  uint64_t deltas = 0;
  for (const auto& [seq, c] : ReadLog(copy + "-wal")) {
    imaged.insert(c.images.begin(), c.images.end());
    deltas += c.byte_entries;
  }
  EXPECT_GT(deltas, 2u * 90);  // beyond the 90 vectors: page deltas were logged
  return imaged;
}

// Every record of the workload above, as reopening must find it.
void ExpectWorkloadState(const Database& db) {
  for (uint32_t i = 0; i < 60; i++) {
    auto r = db.Get(IdFor(i));
    if (i % 5 == 1) {
      EXPECT_TRUE(r.status().IsNotFound()) << IdFor(i);
      continue;
    }
    ASSERT_TRUE(r.ok()) << IdFor(i) << ": " << r.status().ToString();
    const bool replaced = i % 4 == 0;
    EXPECT_EQ(r->vector, VectorFor(replaced ? i + 1000 : i, kDim)) << IdFor(i);
    EXPECT_EQ(r->metadata, MetadataFor(replaced ? i + 3 : i)) << IdFor(i);
  }
}

TEST(PageDelta, ReplayOfImagesAndDeltasRebuildsEveryRecord) {
  TempDir dir;
  const std::string copy = dir.File("copy.vdb");
  CrashCopyWithDeltas(dir, copy);
  auto db = Database::Open(copy, OpenOptions{});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ExpectWorkloadState(**db);
  ASSERT_TRUE((*db)->Close().ok());
  recovery::CheckReport r = recovery::CheckFile(copy);
  EXPECT_EQ(r.ExitCode(), 0) << r.ToText();
}

TEST(PageDelta, ReplayRepairsTornPagesThatLaterCommitsChangedByDeltas) {
  TempDir dir;
  const std::string copy = dir.File("copy.vdb");
  const std::set<uint64_t> imaged = CrashCopyWithDeltas(dir, copy);
  ASSERT_FALSE(imaged.empty());
  // As an interrupted checkpoint could leave them: every page the log
  // changed holds garbage in the main file.
  for (uint64_t pgno : imaged)
    for (uint32_t i = 0; i < format::kPageSize; i += 512)
      checktest::SetByte(copy, pgno * format::kPageSize + i, static_cast<uint8_t>(0xA5 ^ i));
  auto db = Database::Open(copy, OpenOptions{});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ExpectWorkloadState(**db);
  ASSERT_TRUE((*db)->Close().ok());
  recovery::CheckReport r = recovery::CheckFile(copy);
  EXPECT_EQ(r.ExitCode(), 0) << r.ToText();
}

}  // namespace
}  // namespace vdb
