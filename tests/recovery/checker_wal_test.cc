// The checker on crash states: a WAL still to replay is normal (exit 0) and
// the report says what replay will do; damage in or around the WAL is
// diagnosed; checking never changes the file or its WAL.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "format/checksum.h"
#include "format/wal_format.h"
#include "recovery/check_test_util.h"
#include "recovery/checker.h"
#include "support/temp_dir.h"

namespace vdb::recovery {
namespace {

using namespace vdb::checktest;
using format::kPageSize;

class CheckerWalTest : public ::testing::Test {
 protected:
  // A crash copy: files copied while the database is open, after `extra`
  // committed puts that follow the last checkpoint.
  void MakeCrashCopy(const std::string& out, uint32_t extra = 6) {
    std::string live = dir_.File("live-" + std::to_string(n_++) + ".vdb");
    DbSpec spec;
    spec.records = 30;
    auto db = Build(live, spec);
    ASSERT_NE(db, nullptr);
    ASSERT_TRUE(db->Checkpoint().ok());
    for (uint32_t i = 0; i < extra; i++)
      ASSERT_TRUE(db->Put(IdFor(500 + i), VectorFor(500 + i, spec.dim), MetadataFor(i)).ok());
    ASSERT_TRUE(db->Delete(IdFor(0)).ok());
    std::filesystem::copy_file(live, out);
    std::filesystem::copy_file(live + "-wal", out + "-wal");
    ASSERT_TRUE(db->Close().ok());
  }
  testing::TempDir dir_;
  int n_ = 0;
};

TEST_F(CheckerWalTest, CrashLeftWalChecksCleanAndSaysWhatReplayWillDo) {
  std::string p = dir_.File("crash.vdb");
  MakeCrashCopy(p);
  CheckReport r = CheckFile(p);
  EXPECT_TRUE(r.consistent()) << r.ToText();
  EXPECT_EQ(r.ExitCode(), 0);
  EXPECT_TRUE(r.replay.wal_present);
  EXPECT_EQ(r.replay.commits, 7u);
  EXPECT_GT(r.replay.page_images, 0u);
  EXPECT_EQ(r.replay.vector_bytes, 6u * 8 * sizeof(float));  // the six puts' vectors
  EXPECT_GT(r.replay.delta_bytes, 0u);  // later commits to the same pages log deltas
  EXPECT_NE(r.ToText().find("replay will apply 7 commits"), std::string::npos) << r.ToText();
}

TEST_F(CheckerWalTest, WhatCheckAcceptsOpenAcceptsWithTheSameRecords) {
  std::string p = dir_.File("crash.vdb");
  MakeCrashCopy(p);
  CheckReport r = CheckFile(p);
  ASSERT_TRUE(r.consistent()) << r.ToText();
  auto db = Database::Open(p, {});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ((*db)->GetStats().count, r.stats.live_records);
  auto rec = (*db)->Get(IdFor(505));
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->vector, VectorFor(505, 8));
  ASSERT_TRUE((*db)->Close().ok());
  CheckReport after = CheckFile(p);
  EXPECT_TRUE(after.consistent()) << after.ToText();
  EXPECT_EQ(after.stats.live_records, r.stats.live_records);
}

TEST_F(CheckerWalTest, TornWalTailIsNotDamage) {
  std::string p = dir_.File("crash.vdb");
  MakeCrashCopy(p);
  CheckReport full = CheckFile(p);
  ASSERT_TRUE(full.consistent());
  // Cut the log in the middle of its last commit.
  std::filesystem::resize_file(p + "-wal", full.replay.valid_end - 100);
  CheckReport r = CheckFile(p);
  EXPECT_TRUE(r.consistent()) << r.ToText();
  EXPECT_EQ(r.replay.commits, full.replay.commits - 1);
  EXPECT_GT(r.replay.discarded_bytes, 0u);
}

TEST_F(CheckerWalTest, DamagedRecordBeforeLaterCommitsIsReported) {
  std::string p = dir_.File("crash.vdb");
  MakeCrashCopy(p);
  // The first record's payload starts right after the 4096-byte header.
  IncrementByte(p + "-wal", format::kWalHeaderSize + format::kWalRecordHeaderSize + 100);
  CheckReport r = CheckFile(p);
  EXPECT_TRUE(r.Has("wal.records_after_tear")) << r.ToText();
  EXPECT_EQ(r.replay.commits, 0u);
  EXPECT_TRUE(r.consistent()) << r.ToText();  // the checkpoint alone is consistent
}

TEST_F(CheckerWalTest, WalOfAnotherDatabaseIsDamage) {
  std::string p = dir_.File("crash.vdb"), q = dir_.File("other.vdb");
  MakeCrashCopy(p);
  MakeCrashCopy(q);
  std::filesystem::copy_file(q + "-wal", p + "-wal", std::filesystem::copy_options::overwrite_existing);
  CheckReport r = CheckFile(p);
  EXPECT_EQ(r.ExitCode(), 1);
  EXPECT_TRUE(r.Has("wal.foreign")) << r.ToText();
}

TEST_F(CheckerWalTest, WalNewerThanTheCheckpointIsDamage) {
  std::string p = dir_.File("crash.vdb");
  MakeCrashCopy(p);
  std::string w = p + "-wal";
  std::string hdr = ReadAll(w).substr(0, format::kWalHeaderUsedBytes);
  uint64_t gen = format::GetU64(reinterpret_cast<const uint8_t*>(hdr.data()) + format::kWalOffGeneration);
  PutU64At(w, format::kWalOffGeneration, gen + 5);
  hdr = ReadAll(w).substr(0, format::kWalHeaderUsedBytes);
  PutU64At(w, format::kWalOffHeaderChecksum, format::Checksum64(hdr.data(), format::kWalOffHeaderChecksum, 0));
  CheckReport r = CheckFile(p);
  EXPECT_TRUE(r.Has("wal.generation")) << r.ToText();
  EXPECT_EQ(r.ExitCode(), 1);
}

TEST_F(CheckerWalTest, DamagedWalHeaderHidingCommitsIsDamage) {
  std::string p = dir_.File("crash.vdb");
  MakeCrashCopy(p);
  IncrementByte(p + "-wal", 0);  // magic
  CheckReport r = CheckFile(p);
  EXPECT_TRUE(r.Has("wal.header")) << r.ToText();
  EXPECT_EQ(r.ExitCode(), 1);
}

TEST_F(CheckerWalTest, MetaPageTornByCheckpointIsAWarning) {
  std::string p = dir_.File("crash.vdb");
  MakeCrashCopy(p);
  CheckReport before = CheckFile(p);
  ASSERT_TRUE(before.consistent());
  uint64_t inactive = before.stats.meta_page_used == 1 ? 2 : 1;
  for (uint32_t i = 1000; i < kPageSize; i++) SetByte(p, inactive * kPageSize + i, 0x77);
  CheckReport r = CheckFile(p);
  EXPECT_TRUE(r.consistent()) << r.ToText();
  EXPECT_TRUE(r.Has("meta.checksum")) << r.ToText();
  EXPECT_EQ(r.warning_count, 1u) << r.ToText();
}

TEST_F(CheckerWalTest, CheckingChangesNeitherFileNorWal) {
  std::string p = dir_.File("crash.vdb");
  MakeCrashCopy(p);
  std::string main_before = ReadAll(p), wal_before = ReadAll(p + "-wal");
  (void)CheckFile(p);
  EXPECT_EQ(ReadAll(p), main_before);
  EXPECT_EQ(ReadAll(p + "-wal"), wal_before);
}

TEST_F(CheckerWalTest, CopiesTakenDuringARandomWorkloadAllCheckClean) {
  std::string live = dir_.File("live.vdb");
  CreateOptions co;
  co.dim = 6;
  OpenOptions oo;
  oo.sync = SyncMode::kNone;
  oo.checkpoint_wal_bytes = 1;  // the engine's minimum: checkpoints come often
  auto db = Database::Create(live, co, oo);
  ASSERT_TRUE(db.ok());
  std::mt19937 rng(7);
  for (int step = 0; step < 240; step++) {
    uint32_t id = rng() % 60;
    int op = static_cast<int>(rng() % 10);
    if (op < 6) {
      ASSERT_TRUE((*db)->Put(IdFor(id), VectorFor(id + step, co.dim), MetadataFor(id + step)).ok());
    } else if (op < 9) {
      Status s = (*db)->Delete(IdFor(id));
      ASSERT_TRUE(s.ok() || s.IsNotFound()) << s.ToString();
    } else {
      ASSERT_TRUE((*db)->Compact().ok());
    }
    if (step % 20 == 19) {
      std::string copy = dir_.File("copy" + std::to_string(step) + ".vdb");
      std::filesystem::copy_file(live, copy);
      if (std::filesystem::exists(live + "-wal")) std::filesystem::copy_file(live + "-wal", copy + "-wal");
      CheckReport r = CheckFile(copy);
      EXPECT_TRUE(r.consistent()) << "step " << step << "\n" << r.ToText();
      EXPECT_EQ(r.warning_count, 0u) << r.ToText();
    }
  }
  ASSERT_TRUE((*db)->Close().ok());
  CheckReport r = CheckFile(live);
  EXPECT_TRUE(r.consistent()) << r.ToText();
}

}  // namespace
}  // namespace vdb::recovery
