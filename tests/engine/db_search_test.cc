// Search through the Database API on real data: exact search matches the
// datasets' ground truth, HNSW reaches recall@10 >= 0.95 at the default ef,
// and the persisted graph keeps its invariants across deletes, repair and
// reopening.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>

#include "engine/dataset.h"
#include "engine/graph_check.h"
#include "support/temp_dir.h"
#include "vdb/db.h"

namespace vdb {
namespace {

using testing::TempDir;

bool Small() {
  const char* s = std::getenv("VDB_TEST_SCALE");
  return s != nullptr && std::string(s) == "small";
}

std::string Shared(const std::string& rel) { return std::string(VDB_SHARED_DIR) + "/" + rel; }

std::unique_ptr<Database> Load(const std::string& path, const dataset::Matrix<float>& base, Metric metric,
                               size_t n) {
  CreateOptions c;
  c.dim = static_cast<uint32_t>(base.dim);
  c.metric = metric;
  auto db = Database::Create(path, c, {});
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return nullptr;
  WriteBatch b;
  for (size_t i = 0; i < n; i++) {
    b.Put(std::to_string(i), std::vector<float>(base.row(i), base.row(i) + base.dim));
    if (b.size() == 2500 || i + 1 == n) {
      Status s = (*db)->Write(b);
      EXPECT_TRUE(s.ok()) << s.ToString();
      b.Clear();
    }
  }
  return std::move(*db);
}

double RecallAt10(Database& db, const dataset::Matrix<float>& queries, size_t nq,
                  const std::vector<std::vector<std::string>>& truth) {
  size_t found = 0;
  for (size_t q = 0; q < nq; q++) {
    SearchOptions o;
    o.k = 10;
    auto hits = db.Search(std::span<const float>(queries.row(q), queries.dim), o);
    EXPECT_TRUE(hits.ok());
    std::set<std::string> want(truth[q].begin(), truth[q].begin() + 10);
    for (const auto& h : *hits) found += want.count(h.id);
  }
  return static_cast<double>(found) / (10.0 * nq);
}

// Ids of the exact top 10 for each of the first nq queries.
std::vector<std::vector<std::string>> ExactTruth(Database& db, const dataset::Matrix<float>& queries, size_t nq) {
  std::vector<std::vector<std::string>> truth(nq);
  for (size_t q = 0; q < nq; q++) {
    SearchOptions o;
    o.k = 10;
    o.exact = true;
    auto hits = db.Search(std::span<const float>(queries.row(q), queries.dim), o);
    EXPECT_TRUE(hits.ok());
    if (hits.ok())
      for (auto& h : *hits) truth[q].push_back(h.id);
  }
  return truth;
}

TEST(DbSearch, ExactSearchMatchesSiftsmallGroundTruth) {
  auto base = dataset::LoadVecsAsFloat(Shared("datasets/siftsmall/siftsmall_base.fvecs"));
  auto queries = dataset::LoadVecsAsFloat(Shared("datasets/siftsmall/siftsmall_query.fvecs"));
  auto gt = dataset::LoadIvecs(Shared("datasets/siftsmall/siftsmall_groundtruth.ivecs"));
  ASSERT_TRUE(base.ok() && queries.ok() && gt.ok());
  TempDir dir;
  auto db = Load(dir.File("sift.vdb"), *base, Metric::kL2, base->rows);
  ASSERT_NE(db, nullptr);
  for (size_t q = 0; q < queries->rows; q++) {
    SearchOptions o;
    o.k = 10;
    o.exact = true;
    auto hits = db->Search(std::span<const float>(queries->row(q), queries->dim), o);
    ASSERT_TRUE(hits.ok());
    ASSERT_EQ(hits->size(), 10u);
    // Equal to the ground truth up to ties in distance.
    for (size_t i = 0; i < 10; i++) {
      int want = gt->row(q)[i];
      if ((*hits)[i].id == std::to_string(want)) continue;
      float dw = 0;
      for (size_t j = 0; j < base->dim; j++) {
        float d = base->row(want)[j] - queries->row(q)[j];
        dw += d * d;
      }
      EXPECT_FLOAT_EQ((*hits)[i].score, dw) << "query " << q << " rank " << i;
    }
  }
}

TEST(DbSearch, HnswRecallOnSiftsmallAtDefaultEf) {
  auto base = dataset::LoadVecsAsFloat(Shared("datasets/siftsmall/siftsmall_base.fvecs"));
  auto queries = dataset::LoadVecsAsFloat(Shared("datasets/siftsmall/siftsmall_query.fvecs"));
  auto gt = dataset::LoadIvecs(Shared("datasets/siftsmall/siftsmall_groundtruth.ivecs"));
  ASSERT_TRUE(base.ok() && queries.ok() && gt.ok());
  TempDir dir;
  size_t n = Small() ? 3000 : base->rows;
  auto db = Load(dir.File("sift.vdb"), *base, Metric::kL2, n);
  ASSERT_NE(db, nullptr);
  auto truth = ExactTruth(*db, *queries, queries->rows);
  if (n == base->rows) {  // the full set: the dataset's own ground truth
    for (size_t q = 0; q < queries->rows; q++) {
      truth[q].clear();
      for (size_t i = 0; i < 10; i++) truth[q].push_back(std::to_string(gt->row(q)[i]));
    }
  }
  double recall = RecallAt10(*db, *queries, queries->rows, truth);
  EXPECT_GE(recall, 0.95);
  auto report = CheckGraph(*db);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << (report->errors.empty() ? "" : report->errors[0]);
  EXPECT_EQ(report->nodes, n);
}

TEST(DbSearch, HnswRecallOnMiniLmVectorsCosine) {
  std::ifstream in(Shared("datasets/sap-fiori-minilm/embeddings.bin"), std::ios::binary);
  ASSERT_TRUE(in.good());
  dataset::Matrix<float> m;
  m.dim = 384;
  m.rows = 778;
  m.data.resize(m.rows * m.dim);
  in.read(reinterpret_cast<char*>(m.data.data()), static_cast<std::streamsize>(m.data.size() * 4));
  ASSERT_TRUE(in.good());
  TempDir dir;
  auto db = Load(dir.File("minilm.vdb"), m, Metric::kCosine, m.rows);
  ASSERT_NE(db, nullptr);
  // Queries: every 7th document; ground truth by exact search.
  dataset::Matrix<float> q;
  q.dim = m.dim;
  std::vector<std::vector<std::string>> truth;
  for (size_t i = 0; i < m.rows; i += 7) {
    q.data.insert(q.data.end(), m.row(i), m.row(i) + m.dim);
    q.rows++;
    SearchOptions o;
    o.k = 10;
    o.exact = true;
    auto hits = db->Search(std::span<const float>(m.row(i), m.dim), o);
    ASSERT_TRUE(hits.ok());
    truth.emplace_back();
    for (auto& h : *hits) truth.back().push_back(h.id);
  }
  EXPECT_GE(RecallAt10(*db, q, q.rows, truth), 0.95);
}

TEST(DbSearch, GraphInvariantsHoldAfterDeleteRepairAndReopen) {
  auto base = dataset::LoadVecsAsFloat(Shared("datasets/siftsmall/siftsmall_base.fvecs"));
  ASSERT_TRUE(base.ok());
  TempDir dir;
  std::string path = dir.File("g.vdb");
  const size_t n = 2000;
  {
    auto db = Load(path, *base, Metric::kL2, n);
    ASSERT_NE(db, nullptr);
    WriteBatch b;
    for (size_t i = 0; i < n; i += 3) b.Delete(std::to_string(i));
    ASSERT_TRUE(db->Write(b).ok());
    auto r1 = CheckGraph(*db);
    ASSERT_TRUE(r1.ok());
    EXPECT_TRUE(r1->ok()) << r1->errors[0];
    uint64_t freed = 0;
    ASSERT_TRUE(db->Compact(&freed).ok());
    Stats st = db->GetStats();
    EXPECT_EQ(st.graph_deleted, 0u);
    EXPECT_EQ(st.free_slots, (n + 2) / 3);
    auto r2 = CheckGraph(*db);
    ASSERT_TRUE(r2.ok());
    EXPECT_TRUE(r2->ok()) << r2->errors[0];
    EXPECT_EQ(r2->nodes, n - (n + 2) / 3);
    ASSERT_TRUE(db->Close().ok());
  }
  auto db = Database::Open(path, {});
  ASSERT_TRUE(db.ok());
  auto r3 = CheckGraph(**db);
  ASSERT_TRUE(r3.ok());
  EXPECT_TRUE(r3->ok());
  // Freed slots are reused: re-inserting the deleted records does not grow the slots.
  uint64_t slots_before = (*db)->GetStats().slots;
  WriteBatch b;
  for (size_t i = 0; i < n; i += 3) b.Put(std::to_string(i), std::vector<float>(base->row(i), base->row(i) + base->dim));
  ASSERT_TRUE((*db)->Write(b).ok());
  EXPECT_EQ((*db)->GetStats().slots, slots_before);
  auto r4 = CheckGraph(**db);
  ASSERT_TRUE(r4.ok());
  EXPECT_TRUE(r4->ok()) << r4->errors[0];
}

TEST(DbSearch, HnswRecallOnFashionMnistSubset) {
  auto base = dataset::LoadVecsAsFloat(Shared("datasets/fashion-mnist/fashion-mnist-784_base.bvecs"));
  auto queries = dataset::LoadVecsAsFloat(Shared("datasets/fashion-mnist/fashion-mnist-784_query.bvecs"));
  ASSERT_TRUE(base.ok() && queries.ok());
  TempDir dir;
  const size_t n = Small() ? 5000 : 20000;
  auto db = Load(dir.File("fm.vdb"), *base, Metric::kL2, n);
  ASSERT_NE(db, nullptr);
  const size_t nq = 100;
  auto truth = ExactTruth(*db, *queries, nq);
  EXPECT_GE(RecallAt10(*db, *queries, nq, truth), 0.95);
}

TEST(DbSearch, DeletingAndReinsertingHalfKeepsRecallAndFileSize) {
  auto base = dataset::LoadVecsAsFloat(Shared("datasets/siftsmall/siftsmall_base.fvecs"));
  auto queries = dataset::LoadVecsAsFloat(Shared("datasets/siftsmall/siftsmall_query.fvecs"));
  ASSERT_TRUE(base.ok() && queries.ok());
  TempDir dir;
  const size_t n = base->rows;  // the full set: recall on tiny graphs is too coarse to compare
  auto db = Load(dir.File("churn.vdb"), *base, Metric::kL2, n);
  ASSERT_NE(db, nullptr);
  auto truth = ExactTruth(*db, *queries, queries->rows);
  double fresh = RecallAt10(*db, *queries, queries->rows, truth);
  uint64_t size_after_first_cycle = 0;
  double churned = 0;
  for (int cycle = 0; cycle < 3; cycle++) {
    // Delete every other record (in batches, so automatic repair runs in
    // between), then put them back.
    WriteBatch b;
    for (size_t i = cycle % 2; i < n; i += 2) {
      b.Delete(std::to_string(i));
      if (b.size() == 1000) {
        Status s = db->Write(b);
        ASSERT_TRUE(s.ok()) << s.ToString();
        b.Clear();
      }
    }
    if (!b.empty()) {
      Status s = db->Write(b);
      ASSERT_TRUE(s.ok()) << s.ToString();
      b.Clear();
    }
    for (size_t i = cycle % 2; i < n; i += 2) {
      b.Put(std::to_string(i), std::vector<float>(base->row(i), base->row(i) + base->dim));
      if (b.size() == 1000) {
        ASSERT_TRUE(db->Write(b).ok());
        b.Clear();
      }
    }
    if (!b.empty()) {
      Status s = db->Write(b);
      ASSERT_TRUE(s.ok()) << s.ToString();
      b.Clear();
    }
    ASSERT_TRUE(db->Compact().ok());
    ASSERT_TRUE(db->Checkpoint().ok());
    if (cycle == 0) {
      size_after_first_cycle = db->GetStats().file_bytes;
      churned = RecallAt10(*db, *queries, queries->rows, truth);
    }
  }
  EXPECT_GE(churned, fresh - 0.01) << "fresh " << fresh << " after deleting and re-inserting half " << churned;
  Stats st = db->GetStats();
  EXPECT_EQ(st.count, n);
  // Freed slots are reused: two more cycles add no more than 10%.
  EXPECT_LE(st.file_bytes, size_after_first_cycle + size_after_first_cycle / 10);
  auto report = CheckGraph(*db);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << report->errors[0];
}

TEST(DbSearch, ReadOnlyOpenRefusesWrites) {
  TempDir dir;
  std::string path = dir.File("r.vdb");
  {
    CreateOptions c;
    c.dim = 2;
    auto db = Database::Create(path, c, {});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Put("a", std::vector<float>{1, 2}).ok());
    ASSERT_TRUE((*db)->Close().ok());
  }
  OpenOptions o;
  o.read_only = true;
  auto db = Database::Open(path, o);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_TRUE((*db)->Put("b", std::vector<float>{1, 2}).IsReadOnly());
  EXPECT_TRUE((*db)->Get("a").ok());
}

}  // namespace
}  // namespace vdb
