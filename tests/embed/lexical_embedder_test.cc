// The built-in lexical ("hash") embedder: deterministic, normalized, and
// similar for texts that share words.
#include "engine/embed/lexical_embedder.h"

#include <gtest/gtest.h>

#include <cmath>

#include "engine/embed/embedder.h"

namespace vdb::embed {
namespace {

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d += a[i] * b[i];
  return d;  // both unit length
}

std::unique_ptr<Embedder> Load(const std::string& spec) {
  auto e = Embedder::Load(spec);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? std::move(e).value() : nullptr;
}

TEST(LexicalEmbedderTest, DefaultDimensionIs384AndVectorsAreUnitLength) {
  auto e = Load("hash");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->dim(), 384u);
  EXPECT_TRUE(e->is_lexical());
  auto v = e->EmbedOne("Vector databases store embeddings");
  ASSERT_TRUE(v.ok());
  double n = 0;
  for (float x : *v) n += x * x;
  EXPECT_NEAR(n, 1.0, 1e-5);
}

TEST(LexicalEmbedderTest, DimensionIsConfigurable) {
  auto e = Load("hash:1024");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->dim(), 1024u);
  EXPECT_EQ(e->identity().dim, 1024u);
}

TEST(LexicalEmbedderTest, BadDimensionIsRefused) {
  for (const char* spec : {"hash:", "hash:0", "hash:7", "hash:x", "hash:99999999", "hash:12a"}) {
    auto e = Embedder::Load(spec);
    EXPECT_FALSE(e.ok()) << spec;
  }
}

TEST(LexicalEmbedderTest, SameTextGivesIdenticalVector) {
  auto e = Load("hash");
  ASSERT_NE(e, nullptr);
  auto a = e->EmbedOne("Same text, same vector.");
  auto b = e->EmbedOne("Same text, same vector.");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

TEST(LexicalEmbedderTest, CaseAndAccentsDoNotMatter) {
  auto e = Load("hash");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(*e->EmbedOne("Café Crème"), *e->EmbedOne("cafe creme"));
}

TEST(LexicalEmbedderTest, SharedWordsScoreHigherThanUnrelatedText) {
  auto e = Load("hash");
  ASSERT_NE(e, nullptr);
  auto q = *e->EmbedOne("how do vector databases index embeddings");
  auto near = *e->EmbedOne("vector databases index embeddings with HNSW graphs");
  auto far = *e->EmbedOne("the recipe needs two eggs and some flour");
  EXPECT_GT(Cosine(q, near), 0.4);
  EXPECT_LT(Cosine(q, far), 0.2);
}

TEST(LexicalEmbedderTest, WordFormsShareCharacterNgrams) {
  auto e = Load("hash");
  ASSERT_NE(e, nullptr);
  EXPECT_GT(Cosine(*e->EmbedOne("indexing"), *e->EmbedOne("indexes")), 0.2);
}

TEST(LexicalEmbedderTest, TextWithoutWordsIsZeroVector) {
  auto e = Load("hash:16");
  ASSERT_NE(e, nullptr);
  auto v = e->EmbedOne(" ... !!! ");
  ASSERT_TRUE(v.ok());
  for (float x : *v) EXPECT_EQ(x, 0.0f);
}

TEST(LexicalEmbedderTest, IdentityIsFixedForADimension) {
  auto a = Load("hash");
  auto b = Load("hash:384");
  auto c = Load("hash:256");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->identity().name, "hash");
  EXPECT_TRUE(a->identity().SameModel(b->identity()));
  EXPECT_FALSE(a->identity().SameModel(c->identity()));
  EXPECT_NE(a->Describe().find("matches words, not meaning"), std::string::npos);
}

TEST(LexicalEmbedderTest, HasNoTokenIds) {
  auto e = Load("hash");
  ASSERT_NE(e, nullptr);
  std::vector<std::string> t{"x"};
  auto ids = e->Tokenize(t);
  ASSERT_FALSE(ids.ok());
  EXPECT_TRUE(ids.status().IsNotSupported());
}

}  // namespace
}  // namespace vdb::embed
