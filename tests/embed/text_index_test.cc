// TextIndex: records put and searched by text through a Database, and the
// model identity recorded in the file guarding against mixed models.
#include <gtest/gtest.h>

#include "engine/embed/text/text_index.h"
#include "support/temp_dir.h"

namespace vdb::embed {
namespace {

using vdb::testing::TempDir;

std::unique_ptr<Database> MakeDb(const std::string& path, uint32_t dim) {
  CreateOptions c;
  c.dim = dim;
  c.metric = Metric::kCosine;
  auto db = Database::Create(path, c, {});
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return std::move(*db);
}

TEST(TextIndex, PutAndSearchByText) {
  TempDir dir;
  auto db = MakeDb(dir.File("t.vdb"), 96);
  auto emb = Embedder::Load(std::string(VDB_SHARED_DIR) + "/models/tiny-minilm-a");
  ASSERT_TRUE(emb.ok()) << emb.status().ToString();
  auto idx = TextIndex::Attach(db.get(), emb->get());
  ASSERT_TRUE(idx.ok()) << idx.status().ToString();
  std::vector<TextRecord> recs = {{"p", "Plants turn sunlight into sugar.", R"({"topic":"biology"})"},
                                  {"m", "The moon orbits the earth every month.", ""}};
  ASSERT_TRUE(idx->PutBatch(recs).ok());
  SearchOptions o;
  o.k = 1;
  o.exact = true;
  auto hits = idx->Search("Plants turn sunlight into sugar.", o);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].id, "p");
  EXPECT_NEAR((*hits)[0].score, 1.0f, 1e-5);
}

TEST(TextIndex, RecordsTheModelAndRefusesAnother) {
  TempDir dir;
  std::string path = dir.File("t.vdb");
  auto db = MakeDb(path, 96);
  auto a = Embedder::Load(std::string(VDB_SHARED_DIR) + "/models/tiny-minilm-a");
  auto h = Embedder::Load("hash:96");
  ASSERT_TRUE(a.ok() && h.ok());
  ASSERT_TRUE(TextIndex::Attach(db.get(), a->get()).ok());
  auto recorded = db->EmbeddingModel();
  ASSERT_TRUE(recorded.ok());
  EXPECT_TRUE(SameModelAs(*recorded, (*a)->identity()));
  ASSERT_TRUE(db->Close().ok());
  auto reopened = Database::Open(path, {});
  ASSERT_TRUE(reopened.ok());
  auto refused = TextIndex::Attach(reopened->get(), h->get());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("made by model"), std::string::npos) << refused.status().message();
  EXPECT_TRUE(TextIndex::Attach(reopened->get(), a->get()).ok());
}

TEST(TextIndex, RefusesAModelOfAnotherDimension) {
  TempDir dir;
  auto db = MakeDb(dir.File("t.vdb"), 64);
  auto a = Embedder::Load(std::string(VDB_SHARED_DIR) + "/models/tiny-minilm-a");
  ASSERT_TRUE(a.ok());
  auto r = TextIndex::Attach(db.get(), a->get());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("dimension 64"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace vdb::embed
