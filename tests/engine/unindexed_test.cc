// Batched indexing: small commits put their records on the unindexed list
// (docs/format.md#unindexed-list), searches scan the list exactly, and the
// list is linked into the graph at index_batch, on Compact and on Close.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <set>

#include "engine/graph_check.h"
#include "format/meta.h"
#include "recovery/check_test_util.h"
#include "recovery/checker.h"
#include "support/temp_dir.h"
#include "support/test_db.h"
#include "vdb/db.h"

namespace vdb {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

constexpr uint32_t kDim = 16;

std::vector<float> Vec(uint32_t i) {
  std::mt19937 rng(i * 7919 + 1);
  std::normal_distribution<float> nd;
  std::vector<float> v(kDim);
  for (auto& x : v) x = nd(rng);
  return v;
}

std::unique_ptr<Database> Create(const std::string& path, uint32_t index_batch = 0) {
  OpenOptions o;
  o.index_batch = index_batch;
  return testing::MustCreate(path, kDim, Metric::kL2, o);
}

std::unique_ptr<Database> Open(const std::string& path, uint32_t index_batch = 0) {
  OpenOptions o;
  o.index_batch = index_batch;
  auto db = Database::Open(path, o);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? std::move(*db) : nullptr;
}

// A linked graph of n records "g<i>" (one batch of >= 256 is linked at once).
void PutGraph(Database& db, uint32_t n) {
  WriteBatch b;
  for (uint32_t i = 0; i < n; i++) b.Put("g" + std::to_string(i), Vec(i));
  ASSERT_TRUE(db.Write(b).ok());
}

// The top hit of an HNSW search for the vector of record i.
std::string Top(const Database& db, const std::vector<float>& q) {
  SearchOptions so;
  so.k = 1;
  auto r = db.Search(q, so);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() && !r->empty() ? (*r)[0].id : "";
}

TEST(Unindexed, SmallCommitsGoOnTheListAndAreFoundAtOnce) {
  TempDir dir;
  auto db = Create(dir.File("a.vdb"));
  PutGraph(*db, 300);
  EXPECT_EQ(db->GetStats().unindexed, 0u);
  for (uint32_t i = 1000; i < 1010; i++) ASSERT_TRUE(db->Put("u" + std::to_string(i), Vec(i)).ok());
  EXPECT_EQ(db->GetStats().unindexed, 10u);
  for (uint32_t i = 1000; i < 1010; i++) EXPECT_EQ(Top(*db, Vec(i)), "u" + std::to_string(i));
}

TEST(Unindexed, FilterAppliesToListedRecords) {
  TempDir dir;
  auto db = Create(dir.File("a.vdb"));
  PutGraph(*db, 300);
  ASSERT_TRUE(db->Put("u", Vec(5000)).ok());
  auto hit = db->Get("u");
  ASSERT_TRUE(hit.ok());
  SearchOptions so;
  so.k = 3;
  auto all = db->Search(Vec(5000), so);
  ASSERT_TRUE(all.ok());
  ASSERT_FALSE(all->empty());
  ASSERT_EQ((*all)[0].id, "u");
  const uint32_t slot = (*all)[0].slot;
  so.filter = [slot](uint32_t s) { return s != slot; };
  auto filtered = db->Search(Vec(5000), so);
  ASSERT_TRUE(filtered.ok());
  for (const auto& h : *filtered) EXPECT_NE(h.id, "u");
  EXPECT_EQ(filtered->size(), 3u);
}

TEST(Unindexed, ListIsLinkedWhenItReachesIndexBatch) {
  TempDir dir;
  auto db = Create(dir.File("a.vdb"), 16);
  PutGraph(*db, 300);
  for (uint32_t i = 0; i < 15; i++) ASSERT_TRUE(db->Put("u" + std::to_string(i), Vec(2000 + i)).ok());
  EXPECT_EQ(db->GetStats().unindexed, 15u);
  ASSERT_TRUE(db->Put("u15", Vec(2015)).ok());
  EXPECT_EQ(db->GetStats().unindexed, 0u);
  auto inv = CheckGraph(*db);
  ASSERT_TRUE(inv.ok());
  EXPECT_TRUE(inv->ok()) << (inv->errors.empty() ? "" : inv->errors[0]);
  for (uint32_t i = 0; i < 16; i++) EXPECT_EQ(Top(*db, Vec(2000 + i)), "u" + std::to_string(i));
}

TEST(Unindexed, IndexBatchOfOneLinksEveryCommit) {
  TempDir dir;
  auto db = Create(dir.File("a.vdb"), 1);
  PutGraph(*db, 300);
  ASSERT_TRUE(db->Put("u", Vec(3000)).ok());
  EXPECT_EQ(db->GetStats().unindexed, 0u);
  EXPECT_EQ(Top(*db, Vec(3000)), "u");
}

TEST(Unindexed, IndexBatchAboveTheListCapacityIsRejected) {
  TempDir dir;
  CreateOptions c;
  c.dim = kDim;
  OpenOptions o;
  o.index_batch = 1023;
  auto db = Database::Create(dir.File("a.vdb"), c, o);
  ASSERT_FALSE(db.ok());
  EXPECT_TRUE(db.status().IsInvalidArgument()) << db.status().ToString();
  EXPECT_NE(db.status().message().find("index_batch"), std::string::npos);
}

TEST(Unindexed, CloseLinksTheList) {
  TempDir dir;
  const std::string path = dir.File("a.vdb");
  {
    auto db = Create(path);
    PutGraph(*db, 300);
    for (uint32_t i = 0; i < 5; i++) ASSERT_TRUE(db->Put("u" + std::to_string(i), Vec(4000 + i)).ok());
    ASSERT_EQ(db->GetStats().unindexed, 5u);
    ASSERT_TRUE(db->Close().ok());
  }
  auto db = Open(path);
  EXPECT_EQ(db->GetStats().unindexed, 0u);
  EXPECT_EQ(db->GetStats().count, 305u);
  auto inv = CheckGraph(*db);
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->nodes, 305u);
  EXPECT_TRUE(inv->ok()) << (inv->errors.empty() ? "" : inv->errors[0]);
  for (uint32_t i = 0; i < 5; i++) EXPECT_EQ(Top(*db, Vec(4000 + i)), "u" + std::to_string(i));
}

// A 300-record graph plus records "u0".."u<n-1>" (vectors Vec(base + i)) on
// the unindexed list, copied to `copy` as a crash right after the last
// commit would leave the files (every commit was synced).
void CrashCopyWithList(const TempDir& dir, uint32_t n, uint32_t base, const std::string& copy) {
  const std::string path = dir.File("a.vdb");
  auto db = Create(path);
  PutGraph(*db, 300);
  for (uint32_t i = 0; i < n; i++) ASSERT_TRUE(db->Put("u" + std::to_string(i), Vec(base + i)).ok());
  fs::copy_file(path, copy);
  fs::copy_file(path + "-wal", copy + "-wal");
}

TEST(Unindexed, ListSurvivesACrashThroughTheWal) {
  TempDir dir;
  const std::string copy = dir.File("copy.vdb");
  CrashCopyWithList(dir, 7, 6000, copy);
  auto recovered = Open(copy);
  ASSERT_NE(recovered, nullptr);
  EXPECT_EQ(recovered->GetStats().unindexed, 7u);
  for (uint32_t i = 0; i < 7; i++) EXPECT_EQ(Top(*recovered, Vec(6000 + i)), "u" + std::to_string(i));
}

TEST(Unindexed, CommitWithoutNewRecordsUnderIndexBatchOneLinksAnInheritedList) {
  TempDir dir;
  const std::string copy = dir.File("copy.vdb");
  CrashCopyWithList(dir, 3, 6500, copy);
  auto reopened = Open(copy, 1);  // index every commit from now on
  ASSERT_NE(reopened, nullptr);
  ASSERT_EQ(reopened->GetStats().unindexed, 3u);
  ASSERT_TRUE(reopened->Delete("g0").ok());  // puts nothing, but decides about the list
  EXPECT_EQ(reopened->GetStats().unindexed, 0u);
  for (uint32_t i = 0; i < 3; i++) EXPECT_EQ(Top(*reopened, Vec(6500 + i)), "u" + std::to_string(i));
}

TEST(Unindexed, ReplacingAListedRecordKeepsOnlyTheNewVector) {
  TempDir dir;
  auto db = Create(dir.File("a.vdb"));
  PutGraph(*db, 300);
  ASSERT_TRUE(db->Put("u", Vec(7000)).ok());
  ASSERT_TRUE(db->Put("u", Vec(7001)).ok());
  Stats st = db->GetStats();
  EXPECT_EQ(st.unindexed, 1u);
  EXPECT_EQ(st.graph_deleted, 0u);  // the old slot was never a node
  EXPECT_EQ(st.free_slots, 1u);
  EXPECT_EQ(Top(*db, Vec(7001)), "u");
  SearchOptions so;
  so.k = 1;
  auto r = db->Search(Vec(7000), so);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  if ((*r)[0].id == "u") {
    EXPECT_GT((*r)[0].score, 0.0f);  // the old vector is gone
  }
}

TEST(Unindexed, CompactLinksTheList) {
  TempDir dir;
  auto db = Create(dir.File("a.vdb"));
  PutGraph(*db, 300);
  for (uint32_t i = 0; i < 4; i++) ASSERT_TRUE(db->Put("u" + std::to_string(i), Vec(8000 + i)).ok());
  ASSERT_TRUE(db->Compact().ok());
  EXPECT_EQ(db->GetStats().unindexed, 0u);
  for (uint32_t i = 0; i < 4; i++) EXPECT_EQ(Top(*db, Vec(8000 + i)), "u" + std::to_string(i));
}

// A checkpointed copy of a database whose unindexed list holds 3 records;
// returns the list's page.
uint64_t MakeCheckpointedCopyWithList(const TempDir& dir, const std::string& copy) {
  const std::string path = dir.File("a.vdb");
  auto db = Create(path);
  PutGraph(*db, 300);
  for (uint32_t i = 0; i < 3; i++) EXPECT_TRUE(db->Put("u" + std::to_string(i), Vec(9000 + i)).ok());
  EXPECT_TRUE(db->Checkpoint().ok());  // the list is in the main file; the WAL holds nothing to replay
  fs::copy_file(path, copy);
  format::FileHeader h = checktest::Header(copy);
  format::MetaPage best;
  for (uint64_t p : {format::kMetaPageA, format::kMetaPageB}) {
    std::string page = checktest::ReadPage(copy, p);
    format::MetaPage m;
    if (format::DecodeMetaPage(reinterpret_cast<const uint8_t*>(page.data()), p, h.uuid, &m).ok() &&
        m.meta_seq >= best.meta_seq)
      best = m;
  }
  EXPECT_EQ(best.body.unindexed_count, 3u);
  return best.body.unindexed_page;
}

// Overwrites list entry 1 with entry 0 (then reseals the page), so one slot
// is listed twice and another not at all.
void DuplicateFirstListEntry(const std::string& copy, uint64_t pgno) {
  const uint64_t at = pgno * format::kPageSize;
  for (int i = 0; i < 4; i++) checktest::SetByte(copy, at + 4 + i, checktest::GetByte(copy, at + i));
  checktest::FixSealedChecksum(copy, pgno);
}

TEST(Unindexed, CheckedCopyWithAListIsConsistent) {
  TempDir dir;
  const std::string copy = dir.File("copy.vdb");
  ASSERT_NE(MakeCheckpointedCopyWithList(dir, copy), 0u);
  recovery::CheckReport r = recovery::CheckFile(copy);
  EXPECT_EQ(r.ExitCode(), 0) << r.ToText();
}

TEST(Unindexed, DuplicateListEntryIsReported) {
  TempDir dir;
  const std::string copy = dir.File("copy.vdb");
  const uint64_t pgno = MakeCheckpointedCopyWithList(dir, copy);
  ASSERT_NE(pgno, 0u);
  DuplicateFirstListEntry(copy, pgno);
  recovery::CheckReport r = recovery::CheckFile(copy);
  EXPECT_TRUE(r.Has("unindexed.duplicate")) << r.ToText();
  EXPECT_TRUE(r.Has("graph.missing_node")) << r.ToText();  // the overwritten entry's record is now unlisted
}

TEST(Unindexed, ListEntryNamingAGraphNodeIsReported) {
  TempDir dir;
  const std::string copy = dir.File("copy.vdb");
  const uint64_t pgno = MakeCheckpointedCopyWithList(dir, copy);
  ASSERT_NE(pgno, 0u);
  // Slot 0 holds "g0", a graph node.
  checktest::PutU64At(copy, pgno * format::kPageSize + 8, 0);
  checktest::FixSealedChecksum(copy, pgno);
  recovery::CheckReport r = recovery::CheckFile(copy);
  EXPECT_TRUE(r.Has("unindexed.in_graph")) << r.ToText();
}

TEST(Unindexed, DamagedListPageFailsItsChecksum) {
  TempDir dir;
  const std::string copy = dir.File("copy.vdb");
  const uint64_t pgno = MakeCheckpointedCopyWithList(dir, copy);
  ASSERT_NE(pgno, 0u);
  checktest::IncrementByte(copy, pgno * format::kPageSize + 1);
  recovery::CheckReport r = recovery::CheckFile(copy);
  EXPECT_TRUE(r.Has("page.checksum")) << r.ToText();
  EXPECT_NE(r.ExitCode(), 0);
}

TEST(Unindexed, LinkingADamagedListFailsWithCorruption) {
  TempDir dir;
  const std::string copy = dir.File("copy.vdb");
  const uint64_t pgno = MakeCheckpointedCopyWithList(dir, copy);
  ASSERT_NE(pgno, 0u);
  DuplicateFirstListEntry(copy, pgno);
  auto db = Open(copy);
  ASSERT_NE(db, nullptr);
  Status s = db->Compact();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("unindexed list"), std::string::npos) << s.ToString();
}


// Inner-product vectors with norms spread over two orders of magnitude: the
// case where pruning most often cuts a node's last in-link.
std::vector<float> SpreadVec(uint32_t i) {
  std::mt19937 rng(i * 104729 + 7);
  std::normal_distribution<float> nd;
  std::vector<float> v(kDim);
  const float scale = std::exp(nd(rng));
  for (auto& x : v) x = nd(rng) * scale;
  return v;
}

TEST(Unindexed, ListLinksIntoALargerGraphLeaveEveryLiveNodeReachable) {
  TempDir dir;
  CreateOptions c;
  c.dim = kDim;
  c.metric = Metric::kDot;
  c.hnsw_m = 4;  // small lists: pruning drops in-links often
  auto db = Database::Create(dir.File("a.vdb"), c, OpenOptions{});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  WriteBatch b;
  for (uint32_t i = 0; i < 3000; i++) b.Put("g" + std::to_string(i), SpreadVec(i));
  ASSERT_TRUE((*db)->Write(b).ok());
  uint32_t next = 3000;
  for (int link = 0; link < 6; link++) {
    // 8 commits of 64 records reach the default index_batch (512): the
    // 8th links the list into the graph.
    for (int commit = 0; commit < 8; commit++) {
      WriteBatch small;
      for (int i = 0; i < 64; i++, next++) small.Put("s" + std::to_string(next), SpreadVec(next));
      ASSERT_TRUE((*db)->Write(small).ok());
    }
    ASSERT_EQ((*db)->GetStats().unindexed, 0u);
    auto inv = CheckGraph(**db);
    ASSERT_TRUE(inv.ok());
    EXPECT_EQ(inv->unreachable, 0u) << "after link " << link;
    EXPECT_TRUE(inv->ok()) << (inv->errors.empty() ? "" : inv->errors[0]);
  }
}


// A 3040-record inner-product graph whose last 40 records were linked after
// the last reachability pass (far below 1/16 of the graph), so that some
// nodes are cut off, as Close or Compact must find them.
std::unique_ptr<Database> GraphWithACutOffNode(const std::string& path, const OpenOptions& o) {
  CreateOptions c;
  c.dim = kDim;
  c.metric = Metric::kDot;
  c.hnsw_m = 4;
  auto db = Database::Create(path, c, o);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return nullptr;
  WriteBatch b;
  for (uint32_t i = 0; i < 3000; i++) b.Put("g" + std::to_string(i), SpreadVec(i));
  EXPECT_TRUE((*db)->Write(b).ok());
  WriteBatch small;
  for (uint32_t i = 3000; i < 3040; i++) small.Put("s" + std::to_string(i), SpreadVec(i));
  EXPECT_TRUE((*db)->Write(small).ok());
  auto inv = CheckGraph(**db);
  EXPECT_TRUE(inv.ok());
  if (inv.ok()) {
    EXPECT_GT(inv->unreachable, 0u);
  }
  return std::move(*db);
}

OpenOptions LinkEveryCommitInOrder() {
  OpenOptions o;
  o.index_batch = 1;    // every commit links its records, in order
  o.build_threads = 1;  // deterministic graph
  return o;
}

TEST(Unindexed, CloseReconnectsWhatLinksSinceTheLastReachabilityPassCutOff) {
  TempDir dir;
  const std::string path = dir.File("a.vdb");
  const OpenOptions o = LinkEveryCommitInOrder();
  auto first = GraphWithACutOffNode(path, o);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->Close().ok());
  auto db = Database::Open(path, o);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto inv = CheckGraph(**db);
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->unreachable, 0u);
  EXPECT_TRUE(inv->ok()) << (inv->errors.empty() ? "" : inv->errors[0]);
  recovery::CheckReport r = recovery::CheckFile(path);
  EXPECT_FALSE(r.Has("graph.unreachable")) << r.ToText();
}

TEST(Unindexed, CompactReconnectsCutOffNodes) {
  TempDir dir;
  auto db = GraphWithACutOffNode(dir.File("a.vdb"), LinkEveryCommitInOrder());
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Compact().ok());
  auto inv = CheckGraph(*db);
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->unreachable, 0u);
}

TEST(Unindexed, CutOffNodesAreAWarningNotDamage) {
  TempDir dir;
  const std::string path = dir.File("a.vdb");
  auto db = GraphWithACutOffNode(path, LinkEveryCommitInOrder());
  ASSERT_NE(db, nullptr);
  // As a crash would leave it: the files copied before Close.
  const std::string copy = dir.File("copy.vdb");
  fs::copy_file(path, copy);
  fs::copy_file(path + "-wal", copy + "-wal");
  recovery::CheckReport r = recovery::CheckFile(copy);
  EXPECT_TRUE(r.Has("graph.unreachable")) << r.ToText();
  EXPECT_EQ(r.ExitCode(), 0) << r.ToText();
}

}  // namespace
}  // namespace vdb
