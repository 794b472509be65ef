// vdbcheck --repair: everything not damaged is recovered, the result checks
// clean, and the input is never modified (except by --in-place, which keeps
// a backup).
//
// The repair sources are compiled into this test directly, so it does not
// depend on how the tool library is linked into the test executables.
#include "tools/lib/check_repair.cc"  // NOLINT(build/include)

#include <gtest/gtest.h>

#include <filesystem>

#include "format/pages.h"
#include "recovery/check_test_util.h"
#include "support/temp_dir.h"

namespace vdb::tools {
namespace {

using namespace vdb::checktest;
using format::kPageSize;

// id -> record of a database, read through the public API.
std::map<std::string, Record> Contents(const std::string& path, const std::vector<std::string>& ids) {
  std::map<std::string, Record> out;
  OpenOptions o;
  o.read_only = true;
  auto db = Database::Open(path, o);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return out;
  for (const auto& id : ids) {
    auto r = (*db)->Get(id);
    if (r.ok()) out[id] = *r;
  }
  EXPECT_TRUE((*db)->Close().ok());
  return out;
}

std::vector<std::string> AllIds() {
  std::vector<std::string> ids;
  for (uint32_t i = 0; i < 600; i++) ids.push_back(IdFor(i));
  return ids;
}

class RepairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    in_ = dir_.File("in.vdb");
    out_ = dir_.File("out.vdb");
    ASSERT_TRUE(MakeClosedDb(in_));
    expected_ = Contents(in_, AllIds());
    ASSERT_GT(expected_.size(), 20u);
  }
  testing::TempDir dir_;
  std::string in_, out_;
  std::map<std::string, Record> expected_;
};

void ExpectSameRecords(const std::map<std::string, Record>& want, const std::map<std::string, Record>& got,
                       size_t allowed_missing = 0) {
  size_t missing = 0;
  for (const auto& [id, rec] : want) {
    auto it = got.find(id);
    if (it == got.end()) {
      missing++;
      continue;
    }
    EXPECT_EQ(it->second.vector, rec.vector) << id;
    EXPECT_EQ(it->second.metadata, rec.metadata) << id;
  }
  EXPECT_EQ(missing, allowed_missing);
  EXPECT_LE(got.size(), want.size());
}

TEST_F(RepairTest, CleanFileRoundTripsEveryRecord) {
  RepairReport rep = RepairFile(in_, out_, {});
  ASSERT_TRUE(rep.status.ok()) << rep.ToText();
  EXPECT_EQ(rep.ExitCode(), 0) << rep.ToText();
  EXPECT_TRUE(rep.after.consistent()) << rep.after.ToText();
  EXPECT_EQ(rep.salvage.lost, 0u);
  EXPECT_EQ(rep.written, expected_.size());
  ExpectSameRecords(expected_, Contents(out_, AllIds()));
}

TEST_F(RepairTest, DamagedRecordIsLostAndTheRestSaved) {
  recovery::CheckReport r = recovery::CheckFile(in_);
  const auto& b = r.stats.body;
  // Damage the vector of slot 0 (rec-0, live).
  IncrementByte(in_, b.vector_extents[0] * kPageSize + 1);
  std::string before = ReadAll(in_);
  RepairReport rep = RepairFile(in_, out_, {});
  ASSERT_TRUE(rep.status.ok()) << rep.ToText();
  EXPECT_EQ(rep.ExitCode(), 1) << rep.ToText();
  EXPECT_EQ(rep.salvage.lost, 1u) << rep.ToText();
  EXPECT_TRUE(rep.after.consistent());
  auto got = Contents(out_, AllIds());
  EXPECT_EQ(got.count(IdFor(0)), 0u);
  ExpectSameRecords(expected_, got, 1);
  EXPECT_EQ(ReadAll(in_), before);  // the input is untouched
}

TEST_F(RepairTest, DamagedMetaPageIsRebuiltFromTheOther) {
  // A database whose last checkpoint added nothing: both meta pages describe
  // the same records.
  std::string p = dir_.File("two.vdb");
  ASSERT_TRUE(MakeClosedDb(p));
  {
    auto db = Database::Open(p, {});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Checkpoint().ok());
    ASSERT_TRUE((*db)->Close().ok());
  }
  recovery::CheckReport r = recovery::CheckFile(p);
  ASSERT_TRUE(r.consistent()) << r.ToText();
  IncrementByte(p, static_cast<uint64_t>(r.stats.meta_page_used) * kPageSize + 500);
  ASSERT_EQ(recovery::CheckFile(p).ExitCode(), 1);
  RepairReport rep = RepairFile(p, out_, {});
  ASSERT_TRUE(rep.status.ok()) << rep.ToText();
  EXPECT_EQ(rep.ExitCode(), 0) << rep.ToText();
  EXPECT_NE(rep.salvage.meta_page_used, r.stats.meta_page_used);
  ExpectSameRecords(expected_, Contents(out_, AllIds()));
}

TEST_F(RepairTest, CrashLeftWalIsAppliedByRepair) {
  std::string live = dir_.File("live.vdb"), copy = dir_.File("copy.vdb");
  DbSpec spec;
  auto db = Build(live, spec);
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Checkpoint().ok());
  ASSERT_TRUE(db->Put("after-checkpoint", VectorFor(7, spec.dim), R"({"x":1})").ok());
  std::filesystem::copy_file(live, copy);
  std::filesystem::copy_file(live + "-wal", copy + "-wal");
  ASSERT_TRUE(db->Close().ok());
  RepairReport rep = RepairFile(copy, out_, {});
  ASSERT_TRUE(rep.status.ok()) << rep.ToText();
  EXPECT_TRUE(rep.salvage.wal_applied);
  auto got = Contents(out_, {"after-checkpoint"});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got["after-checkpoint"].metadata, R"({"x":1})");
  EXPECT_FALSE(std::filesystem::exists(out_ + "-wal"));  // closed cleanly: one file
}

TEST_F(RepairTest, TruncatedFileKeepsWhatRemains) {
  recovery::CheckReport r = recovery::CheckFile(in_);
  // Cut the file just after the slot records' first page: vectors, records and
  // ids that lie before the cut survive only if all their pieces do.
  ShrinkSize(in_, std::filesystem::file_size(in_) - (r.stats.body.page_count - 2) * kPageSize);
  RepairReport rep = RepairFile(in_, out_, {});
  if (rep.status.ok()) {
    EXPECT_TRUE(rep.after.consistent()) << rep.ToText();
    ExpectSameRecords(expected_, Contents(out_, AllIds()), expected_.size() - rep.written);
  } else {
    EXPECT_FALSE(std::filesystem::exists(out_));
  }
}

TEST_F(RepairTest, ExistingOutputIsRefused) {
  WriteAll(out_, "keep me");
  RepairReport rep = RepairFile(in_, out_, {});
  EXPECT_FALSE(rep.status.ok());
  EXPECT_EQ(rep.ExitCode(), 2);
  EXPECT_EQ(ReadAll(out_), "keep me");
}

TEST_F(RepairTest, InPlaceRepairKeepsABackup) {
  IncrementByte(in_, 1 * kPageSize + 700);  // one meta page damaged
  std::string before = ReadAll(in_);
  RepairOptions o;
  o.in_place = true;
  RepairReport rep = RepairFile(in_, "", o);
  ASSERT_TRUE(rep.status.ok()) << rep.ToText();
  EXPECT_EQ(ReadAll(in_ + ".bak"), before);
  EXPECT_TRUE(recovery::CheckFile(in_).consistent());
  ExpectSameRecords(expected_, Contents(in_, AllIds()));
}

TEST_F(RepairTest, UnreadableHeaderFailsWithoutWritingAnything) {
  SetByte(in_, 0, 'Z');
  RepairReport rep = RepairFile(in_, out_, {});
  EXPECT_FALSE(rep.status.ok());
  EXPECT_EQ(rep.ExitCode(), 2);
  EXPECT_FALSE(std::filesystem::exists(out_));
}

}  // namespace
}  // namespace vdb::tools
