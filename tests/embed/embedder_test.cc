// Embedder: golden embeddings of the tiny models, batching, identity, specs.
#include "engine/embed/embedder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace vdb::embed {
namespace {

const std::string kModels = std::string(VDB_SHARED_DIR) + "/models/";

struct Golden {
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::vector<double>> embeddings;
};

Golden ReadGolden(const std::string& model) {
  Golden g;
  std::ifstream in(kModels + model + "/golden_embeddings.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    g.texts.push_back(j["text"]);
    g.ids.push_back(j["input_ids"].get<std::vector<int32_t>>());
    g.embeddings.push_back(j["embedding"].get<std::vector<double>>());
  }
  return g;
}

double Cosine(const std::vector<float>& a, const std::vector<double>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += a[i] * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += b[i] * b[i];
  }
  return dot / std::sqrt(na * nb);
}

void ExpectMatchesGolden(const std::string& model) {
  auto e = Embedder::Load(kModels + model);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  Golden g = ReadGolden(model);
  ASSERT_EQ(g.texts.size(), 433u);
  auto ids = (*e)->Tokenize(g.texts);
  ASSERT_TRUE(ids.ok());
  auto vecs = (*e)->Embed(g.texts);
  ASSERT_TRUE(vecs.ok()) << vecs.status().ToString();
  double worst = 1.0;
  for (size_t i = 0; i < g.texts.size(); ++i) {
    EXPECT_EQ((*ids)[i], g.ids[i]) << "text #" << i;
    ASSERT_EQ((*vecs)[i].size(), g.embeddings[i].size());
    double c = Cosine((*vecs)[i], g.embeddings[i]);
    worst = std::min(worst, c);
    EXPECT_GE(c, 0.99999) << "text #" << i << ": " << g.texts[i].substr(0, 80);
  }
  ::testing::Test::RecordProperty("worst_cosine", std::to_string(worst));
}

TEST(EmbedderTest, TinyMiniLmAMatchesGoldenEmbeddings) { ExpectMatchesGolden("tiny-minilm-a"); }

TEST(EmbedderTest, TinyMiniLmBMatchesGoldenEmbeddings) { ExpectMatchesGolden("tiny-minilm-b"); }

TEST(EmbedderTest, BatchEqualsOneAtATime) {
  auto e = Embedder::Load(kModels + "tiny-minilm-a");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  Golden g = ReadGolden("tiny-minilm-a");
  std::vector<std::string> texts(g.texts.begin(), g.texts.begin() + 64);
  auto batch = (*e)->Embed(texts);
  ASSERT_TRUE(batch.ok());
  double max_diff = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto one = (*e)->EmbedOne(texts[i]);
    ASSERT_TRUE(one.ok());
    for (size_t j = 0; j < one->size(); ++j) {
      max_diff = std::max(max_diff, static_cast<double>(std::fabs((*one)[j] - (*batch)[i][j])));
    }
  }
  EXPECT_LE(max_diff, 1e-5);
}

TEST(EmbedderTest, SmallBatchTokenBudgetGivesSameVectors) {
  EmbedderOptions small;
  small.max_batch_tokens = 1;  // one text per forward pass
  small.num_threads = 1;
  auto a = Embedder::Load(kModels + "tiny-minilm-b", small);
  auto b = Embedder::Load(kModels + "tiny-minilm-b");
  ASSERT_TRUE(a.ok() && b.ok());
  Golden g = ReadGolden("tiny-minilm-b");
  std::vector<std::string> texts(g.texts.end() - 40, g.texts.end());
  auto va = (*a)->Embed(texts);
  auto vb = (*b)->Embed(texts);
  ASSERT_TRUE(va.ok() && vb.ok());
  for (size_t i = 0; i < texts.size(); ++i) {
    for (size_t j = 0; j < (*va)[i].size(); ++j) {
      ASSERT_NEAR((*va)[i][j], (*vb)[i][j], 1e-5) << "text " << i << " dim " << j;
    }
  }
}

TEST(EmbedderTest, EmptyInputGivesNoVectors) {
  auto e = Embedder::Load(kModels + "tiny-minilm-b");
  ASSERT_TRUE(e.ok());
  auto v = (*e)->Embed({});
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->empty());
}

TEST(EmbedderTest, IdentityIsStableAndDistinguishesModels) {
  auto a1 = Embedder::Load(kModels + "tiny-minilm-a");
  auto a2 = Embedder::Load(kModels + "tiny-minilm-a/");
  auto b = Embedder::Load(kModels + "tiny-minilm-b");
  ASSERT_TRUE(a1.ok() && a2.ok() && b.ok());
  ModelIdentity ia = (*a1)->identity();
  EXPECT_EQ(ia.name, "tiny-minilm-a");
  EXPECT_EQ(ia.dim, 96u);
  EXPECT_EQ(ia.hash.size(), 32u);
  EXPECT_TRUE(ia.SameModel((*a2)->identity()));
  EXPECT_FALSE(ia.SameModel((*b)->identity()));
  EXPECT_FALSE((*a1)->is_lexical());
}

TEST(EmbedderTest, EmptySpecUsesVdbModelEnvironment) {
  setenv("VDB_MODEL", (kModels + "tiny-minilm-b").c_str(), 1);
  auto e = Embedder::Load("");
  unsetenv("VDB_MODEL");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ((*e)->dim(), 64u);
}

TEST(EmbedderTest, UnknownModelNameSaysWhereItLookedAndHowToGetOne) {
  setenv("HF_HOME", "/nonexistent-hf-home", 1);
  auto e = Embedder::Load("no-such-model-xyz");
  unsetenv("HF_HOME");
  ASSERT_FALSE(e.ok());
  const std::string& m = e.status().message();
  EXPECT_TRUE(e.status().IsNotFound());
  EXPECT_NE(m.find("/nonexistent-hf-home/hub/models--sentence-transformers--no-such-model-xyz"),
            std::string::npos) << m;
  EXPECT_NE(m.find("git clone https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2"),
            std::string::npos) << m;
}

TEST(EmbedderTest, ModelNameIsFoundInHuggingFaceCache) {
  std::string home = std::string(VDB_BINARY_DIR) + "/embed_test_hf_home";
  std::string snap = home + "/hub/models--acme--tiny/snapshots/abc123";
  ASSERT_EQ(std::system(("rm -rf '" + home + "' && mkdir -p '" + snap + "' && cp -r " + kModels +
                         "tiny-minilm-b/. '" + snap + "/'").c_str()), 0);
  setenv("HF_HOME", home.c_str(), 1);
  auto e = Embedder::Load("acme/tiny");
  unsetenv("HF_HOME");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ((*e)->identity().name, "acme/tiny");
  EXPECT_EQ((*e)->dim(), 64u);
  std::system(("rm -rf '" + home + "'").c_str());
}

}  // namespace
}  // namespace vdb::embed
