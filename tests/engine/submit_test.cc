// Pipelined writes: Database::Submit applies and orders a batch and returns
// its commit number; Database::Wait returns once it is durable and visible.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "support/fault_env.h"
#include "support/temp_dir.h"
#include "support/test_db.h"
#include "vdb/db.h"

namespace vdb {
namespace {

using testing::TempDir;

constexpr uint32_t kDim = 8;

std::unique_ptr<Database> MustCreate(const std::string& path, OpenOptions o = {}) {
  return testing::MustCreate(path, kDim, Metric::kL2, o);
}

std::vector<float> RowVector(int row) {
  std::mt19937 rng(static_cast<uint32_t>(row) * 2654435761u + 1);
  std::normal_distribution<float> nd;
  std::vector<float> v(kDim);
  for (auto& x : v) x = nd(rng);
  return v;
}

// Rows [first, first + n) with ids "r<row>". 300 rows are linked into the
// graph by their own commit (batches of 256 or more are).
WriteBatch Rows(int first, int n) {
  WriteBatch b;
  for (int r = first; r < first + n; r++) b.Put("r" + std::to_string(r), RowVector(r));
  return b;
}

TEST(Submit, CommitNumbersIncreaseInSubmissionOrder) {
  TempDir dir;
  auto db = MustCreate(dir.File("s.vdb"));
  uint64_t last = 0;
  for (int i = 0; i < 4; i++) {
    auto seq = db->Submit(Rows(i * 10, 10));
    ASSERT_TRUE(seq.ok()) << seq.status().ToString();
    EXPECT_GT(*seq, last);
    last = *seq;
  }
  EXPECT_TRUE(db->Wait(last).ok());
}

TEST(Submit, WaitMakesEverySubmittedBatchVisible) {
  TempDir dir;
  auto db = MustCreate(dir.File("s.vdb"));
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 4; i++) {
    auto seq = db->Submit(Rows(i * 300, 300));
    ASSERT_TRUE(seq.ok()) << seq.status().ToString();
    seqs.push_back(*seq);
  }
  ASSERT_TRUE(db->Wait(seqs.back()).ok());
  // Waiting for the last settles the earlier ones too.
  for (uint64_t s : seqs) EXPECT_TRUE(db->Wait(s).ok());
  EXPECT_EQ(db->GetStats().count, 1200u);
  EXPECT_GE(db->GetStats().commit_seq, seqs.back());
  for (int r : {0, 299, 300, 777, 1199}) {
    auto rec = db->Get("r" + std::to_string(r));
    ASSERT_TRUE(rec.ok()) << "r" << r << ": " << rec.status().ToString();
    EXPECT_EQ(rec->vector, RowVector(r));
  }
  // Linked into the graph: the HNSW search finds a row by its own vector.
  SearchOptions so;
  so.k = 1;
  auto hits = db->Search(RowVector(777), so);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].id, "r777");
  EXPECT_EQ(db->GetStats().unindexed, 0u);
}

TEST(Submit, CloseMakesUnwaitedSubmissionsDurable) {
  TempDir dir;
  const std::string path = dir.File("s.vdb");
  {
    auto db = MustCreate(path);
    for (int i = 0; i < 3; i++) ASSERT_TRUE(db->Submit(Rows(i * 300, 300)).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  auto db = Database::Open(path, {});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ((*db)->GetStats().count, 900u);
  auto rec = (*db)->Get("r899");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->vector, RowVector(899));
}

TEST(Submit, RejectedBatchLeavesEarlierSubmissionsCommitted) {
  TempDir dir;
  auto db = MustCreate(dir.File("s.vdb"));
  auto good = db->Submit(Rows(0, 300));
  ASSERT_TRUE(good.ok());
  WriteBatch bad = Rows(300, 5);
  bad.Put("short", std::vector<float>(kDim - 1, 1.0f));
  auto r = db->Submit(bad);
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  EXPECT_NE(r.status().ToString().find("dimension"), std::string::npos) << r.status().ToString();
  ASSERT_TRUE(db->Wait(*good).ok());
  EXPECT_EQ(db->GetStats().count, 300u);
  EXPECT_TRUE(db->Get("r300").status().IsNotFound());
  // The database goes on taking writes.
  auto next = db->Submit(Rows(300, 10));
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(db->Wait(*next).ok());
  EXPECT_EQ(db->GetStats().count, 310u);
}

TEST(Submit, EmptyBatchCommitsNothing) {
  TempDir dir;
  auto db = MustCreate(dir.File("s.vdb"));
  auto seq = db->Submit(WriteBatch{});
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 0u);
  EXPECT_TRUE(db->Wait(0).ok());
  EXPECT_EQ(db->GetStats().commit_seq, 0u);
}

TEST(Submit, WaitForANumberNeverSubmittedIsInvalidArgument) {
  TempDir dir;
  auto db = MustCreate(dir.File("s.vdb"));
  auto seq = db->Submit(Rows(0, 3));
  ASSERT_TRUE(seq.ok());
  Status s = db->Wait(*seq + 1);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.ToString().find("not submitted"), std::string::npos) << s.ToString();
  EXPECT_TRUE(db->Wait(*seq).ok());
}

TEST(Submit, WaitAfterCloseReportsTheSubmittedCommitDurable) {
  TempDir dir;
  auto db = MustCreate(dir.File("s.vdb"));
  auto seq = db->Submit(Rows(0, 300));
  ASSERT_TRUE(seq.ok());
  ASSERT_TRUE(db->Close().ok());
  EXPECT_TRUE(db->Wait(*seq).ok());
  EXPECT_TRUE(db->Wait(*seq + 1).IsInvalidArgument());
}

TEST(Submit, ReadOnlyDatabaseRefusesSubmit) {
  TempDir dir;
  const std::string path = dir.File("s.vdb");
  ASSERT_TRUE(MustCreate(path)->Close().ok());
  OpenOptions o;
  o.read_only = true;
  auto db = Database::Open(path, o);
  ASSERT_TRUE(db.ok());
  EXPECT_TRUE((*db)->Submit(Rows(0, 1)).status().IsReadOnly());
}

TEST(Submit, FailedLogSyncIsReportedByWaitAndStopsWrites) {
  TempDir dir;
  testing::FaultEnv env(Env::Default(), dir.path());
  OpenOptions o;
  o.env = &env;
  auto db = MustCreate(dir.File("s.vdb"), o);
  auto first = db->Submit(Rows(0, 300));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(db->Wait(*first).ok());
  // From here every durable write fails: the log thread's write of the
  // next commit (Submit itself only appends to the log's buffer).
  testing::FaultSpec f;
  f.call = testing::CallType::kWriteAndSync;
  f.nth = 1;
  f.sticky = true;
  env.InjectFault(f);
  auto second = db->Submit(Rows(300, 300));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  Status s = db->Wait(*second);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("injected"), std::string::npos) << s.ToString();
  // Poisoned: later writes report the failure instead of risking the file.
  EXPECT_FALSE(db->Submit(Rows(600, 1)).ok());
  EXPECT_FALSE(db->Put("x", RowVector(1)).ok());
  // The first commit stays readable.
  auto rec = db->Get("r0");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->vector, RowVector(0));
}

}  // namespace
}  // namespace vdb
