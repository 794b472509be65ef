// Behaviour of the public Database API: create, put, get, delete, batches,
// reopen, exact search, and refusal of bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "support/temp_dir.h"
#include "support/test_db.h"
#include "vdb/db.h"

namespace vdb {
namespace {

using testing::TempDir;

using testing::MustCreate;

std::vector<float> RandomVec(std::mt19937& rng, uint32_t dim) {
  std::normal_distribution<float> nd;
  std::vector<float> v(dim);
  for (auto& x : v) x = nd(rng);
  return v;
}

TEST(DbBasic, PutThenGetReturnsSameBytes) {
  TempDir dir;
  auto db = MustCreate(dir.File("a.vdb"), 4);
  std::vector<float> v{1, 2, 3, 4};
  ASSERT_TRUE(db->Put("x", v, R"({"k": "v", "n": 3})").ok());
  auto r = db->Get("x");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->vector, v);
  EXPECT_EQ(r->metadata, R"({"k":"v","n":3})");
  EXPECT_EQ(db->GetStats().count, 1u);
}

TEST(DbBasic, GetOfMissingIdIsNotFound) {
  TempDir dir;
  auto db = MustCreate(dir.File("a.vdb"), 4);
  EXPECT_TRUE(db->Get("nope").status().IsNotFound());
}

TEST(DbBasic, UpsertReplacesVectorAndMetadata) {
  TempDir dir;
  auto db = MustCreate(dir.File("a.vdb"), 2);
  ASSERT_TRUE(db->Put("x", std::vector<float>{1, 1}, R"({"v":1})").ok());
  ASSERT_TRUE(db->Put("x", std::vector<float>{2, 2}, R"({"v":2})").ok());
  auto r = db->Get("x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->vector, (std::vector<float>{2, 2}));
  EXPECT_EQ(r->metadata, R"({"v":2})");
  EXPECT_EQ(db->GetStats().count, 1u);
}

TEST(DbBasic, DeleteOfAnUnindexedRecordFreesItsSlotAtOnce) {
  TempDir dir;
  auto db = MustCreate(dir.File("a.vdb"), 2);
  ASSERT_TRUE(db->Put("x", std::vector<float>{1, 1}).ok());
  EXPECT_EQ(db->GetStats().unindexed, 1u);
  ASSERT_TRUE(db->Delete("x").ok());
  EXPECT_TRUE(db->Get("x").status().IsNotFound());
  Stats st = db->GetStats();
  EXPECT_EQ(st.count, 0u);
  EXPECT_EQ(st.unindexed, 0u);
  EXPECT_EQ(st.graph_deleted, 0u);  // never linked: no tombstone
  EXPECT_EQ(st.free_slots, 1u);
}

TEST(DbBasic, DeleteRemovesRecordAndFreesSlot) {
  TempDir dir;
  OpenOptions o;
  o.index_batch = 1;  // link every commit: the delete leaves a tombstone
  auto db = MustCreate(dir.File("a.vdb"), 2, Metric::kL2, o);
  ASSERT_TRUE(db->Put("x", std::vector<float>{1, 1}).ok());
  ASSERT_TRUE(db->Delete("x").ok());
  EXPECT_TRUE(db->Get("x").status().IsNotFound());
  EXPECT_TRUE(db->Delete("x").IsNotFound());
  Stats st = db->GetStats();
  EXPECT_EQ(st.count, 0u);
  EXPECT_EQ(st.graph_deleted, 1u);  // a tombstone in the graph until repair
  uint64_t freed = 0;
  ASSERT_TRUE(db->Compact(&freed).ok());
  EXPECT_EQ(freed, 1u);
  st = db->GetStats();
  EXPECT_EQ(st.graph_deleted, 0u);
  EXPECT_EQ(st.free_slots, 1u);
  EXPECT_EQ(st.graph_entry_point, -1);
}

TEST(DbBasic, ReopenKeepsEverythingAndLeavesOneFile) {
  TempDir dir;
  std::string path = dir.File("a.vdb");
  std::mt19937 rng(1);
  std::vector<std::vector<float>> vs;
  {
    auto db = MustCreate(path, 16);
    for (int i = 0; i < 600; i++) {
      vs.push_back(RandomVec(rng, 16));
      WriteBatch b;
      b.Put("id" + std::to_string(i), vs.back(), i % 7 == 0 ? R"({"seven":true})" : "");
      if (i % 100 == 99) ASSERT_TRUE(db->Write(b).ok());
      else ASSERT_TRUE(db->Put("id" + std::to_string(i), vs.back(), i % 7 == 0 ? R"({"seven":true})" : "").ok());
    }
    for (int i = 0; i < 600; i += 3) ASSERT_TRUE(db->Delete("id" + std::to_string(i)).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  EXPECT_FALSE(std::ifstream(path + "-wal").good());
  auto db = Database::Open(path, {});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ((*db)->GetStats().count, 400u);
  for (int i = 0; i < 600; i++) {
    auto r = (*db)->Get("id" + std::to_string(i));
    if (i % 3 == 0) {
      EXPECT_TRUE(r.status().IsNotFound()) << i;
    } else {
      ASSERT_TRUE(r.ok()) << i << " " << r.status().ToString();
      EXPECT_EQ(r->vector, vs[i]);
      EXPECT_EQ(r->metadata, i % 7 == 0 ? R"({"seven":true})" : "");
    }
  }
}

TEST(DbBasic, ReopenWithoutCloseReplaysWal) {
  TempDir dir;
  std::string path = dir.File("a.vdb");
  auto db = MustCreate(path, 3);
  ASSERT_TRUE(db->Put("a", std::vector<float>{1, 2, 3}).ok());
  ASSERT_TRUE(db->Put("b", std::vector<float>{4, 5, 6}).ok());
  ASSERT_TRUE(db->Delete("a").ok());
  // What a killed process leaves: the file and its WAL, never checkpointed.
  std::filesystem::copy_file(path, dir.File("copy.vdb"));
  std::filesystem::copy_file(path + "-wal", dir.File("copy.vdb-wal"));
  auto reopened = Database::Open(dir.File("copy.vdb"), {});
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_TRUE((*reopened)->Get("a").status().IsNotFound());
  auto b = (*reopened)->Get("b");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->vector, (std::vector<float>{4, 5, 6}));
  EXPECT_EQ((*reopened)->GetStats().count, 1u);
}

TEST(DbBasic, BatchIsAtomicOnError) {
  TempDir dir;
  auto db = MustCreate(dir.File("a.vdb"), 2);
  WriteBatch b;
  b.Put("ok", {1, 2});
  b.Put("bad", {1, 2, 3});
  Status s = db->Write(b);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_TRUE(db->Get("ok").status().IsNotFound());
  EXPECT_EQ(db->GetStats().count, 0u);
}

TEST(DbBasic, RejectsWrongDimension) {
  TempDir dir;
  auto db = MustCreate(dir.File("a.vdb"), 3);
  Status s = db->Put("x", std::vector<float>{1, 2});
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("dimension 3"), std::string::npos) << s.message();
}

TEST(DbBasic, RejectsNaNAndInf) {
  TempDir dir;
  auto db = MustCreate(dir.File("a.vdb"), 2);
  EXPECT_TRUE(db->Put("x", std::vector<float>{NAN, 1}).IsInvalidArgument());
  EXPECT_TRUE(db->Put("x", std::vector<float>{1, INFINITY}).IsInvalidArgument());
  EXPECT_EQ(db->GetStats().count, 0u);
}

TEST(DbBasic, RejectsEmptyAndOverlongIds) {
  TempDir dir;
  auto db = MustCreate(dir.File("a.vdb"), 2);
  EXPECT_TRUE(db->Put("", std::vector<float>{1, 1}).IsInvalidArgument());
  EXPECT_TRUE(db->Put(std::string(kMaxIdBytes + 1, 'x'), std::vector<float>{1, 1}).IsInvalidArgument());
  EXPECT_TRUE(db->Put(std::string(kMaxIdBytes, 'x'), std::vector<float>{1, 1}).ok());
}

TEST(DbBasic, RejectsMetadataThatIsNotAnObject) {
  TempDir dir;
  auto db = MustCreate(dir.File("a.vdb"), 2);
  EXPECT_TRUE(db->Put("x", std::vector<float>{1, 1}, "[1,2]").IsInvalidArgument());
  EXPECT_TRUE(db->Put("x", std::vector<float>{1, 1}, "{bad json").IsInvalidArgument());
  EXPECT_TRUE(db->Put("x", std::vector<float>{1, 1}, "42").IsInvalidArgument());
}

TEST(DbBasic, LargeMetadataRoundTripsCompressed) {
  TempDir dir;
  auto db = MustCreate(dir.File("a.vdb"), 2);
  std::string big = R"({"text":")" + std::string(20000, 'a') + R"("})";
  ASSERT_TRUE(db->Put("x", std::vector<float>{1, 1}, big).ok());
  auto r = db->Get("x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->metadata, big);
}

TEST(DbBasic, CreateRefusesExistingFile) {
  TempDir dir;
  auto db = MustCreate(dir.File("a.vdb"), 2);
  CreateOptions c;
  c.dim = 2;
  EXPECT_FALSE(Database::Create(dir.File("a.vdb"), c, {}).ok());
}

TEST(DbBasic, OpenRefusesNonVdbFile) {
  TempDir dir;
  std::ofstream(dir.File("junk")) << std::string(20000, 'j');
  auto db = Database::Open(dir.File("junk"), {});
  ASSERT_FALSE(db.ok());
  EXPECT_TRUE(db.status().IsCorruption());
  EXPECT_NE(db.status().message().find("not a vdb file"), std::string::npos) << db.status().message();
}

TEST(DbBasic, SecondWriterIsLockedOut) {
  TempDir dir;
  auto db = MustCreate(dir.File("a.vdb"), 2);
  auto second = Database::Open(dir.File("a.vdb"), {});
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().IsBusy()) << second.status().ToString();
}

TEST(DbBasic, ExactSearchL2FindsNearest) {
  TempDir dir;
  auto db = MustCreate(dir.File("a.vdb"), 2, Metric::kL2);
  ASSERT_TRUE(db->Put("origin", std::vector<float>{0, 0}).ok());
  ASSERT_TRUE(db->Put("far", std::vector<float>{10, 10}).ok());
  ASSERT_TRUE(db->Put("near", std::vector<float>{1, 0}).ok());
  SearchOptions o;
  o.k = 2;
  o.exact = true;
  auto hits = db->Search(std::vector<float>{0.9f, 0}, o);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  ASSERT_EQ(hits->size(), 2u);
  EXPECT_EQ((*hits)[0].id, "near");
  EXPECT_EQ((*hits)[1].id, "origin");
  EXPECT_NEAR((*hits)[0].score, 0.01f, 1e-5);
}

TEST(DbBasic, ExactSearchCosineIgnoresLength) {
  TempDir dir;
  auto db = MustCreate(dir.File("a.vdb"), 2, Metric::kCosine);
  ASSERT_TRUE(db->Put("same-dir-long", std::vector<float>{10, 0}).ok());
  ASSERT_TRUE(db->Put("diagonal", std::vector<float>{1, 1}).ok());
  SearchOptions o;
  o.k = 2;
  o.exact = true;
  auto hits = db->Search(std::vector<float>{1, 0}, o);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ((*hits)[0].id, "same-dir-long");
  EXPECT_NEAR((*hits)[0].score, 1.0f, 1e-6);
  EXPECT_NEAR((*hits)[1].score, std::sqrt(0.5f), 1e-6);
}

TEST(DbBasic, SearchNeverReturnsDeleted) {
  TempDir dir;
  auto db = MustCreate(dir.File("a.vdb"), 2, Metric::kL2);
  ASSERT_TRUE(db->Put("a", std::vector<float>{0, 0}).ok());
  ASSERT_TRUE(db->Put("b", std::vector<float>{5, 5}).ok());
  ASSERT_TRUE(db->Delete("a").ok());
  SearchOptions o;
  o.k = 5;
  o.exact = true;
  auto hits = db->Search(std::vector<float>{0, 0}, o);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].id, "b");
}

TEST(DbBasic, SearchRejectsBadQuery) {
  TempDir dir;
  auto db = MustCreate(dir.File("a.vdb"), 2);
  SearchOptions o;
  EXPECT_TRUE(db->Search(std::vector<float>{1}, o).status().IsInvalidArgument());
  EXPECT_TRUE(db->Search(std::vector<float>{NAN, 1}, o).status().IsInvalidArgument());
}

}  // namespace
}  // namespace vdb
