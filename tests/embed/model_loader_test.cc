// Bad model directories give clear errors that name the file and problem.
#include <gtest/gtest.h>

#include <filesystem>

#include "embed/embed_test_util.h"
#include "engine/embed/embedder.h"
#include "engine/embed/model_config.h"

namespace vdb::embed {
namespace {

using testing::CopyModel;
using testing::ScratchDir;

// Loads dir and expects an error whose message contains every needle.
void ExpectLoadError(const std::string& dir, std::initializer_list<std::string> needles) {
  auto e = Embedder::Load(dir);
  ASSERT_FALSE(e.ok()) << "loaded " << dir;
  for (const std::string& n : needles) {
    EXPECT_NE(e.status().message().find(n), std::string::npos)
        << "missing \"" << n << "\" in: " << e.status().ToString();
  }
}

void EditJson(const std::string& path, const std::function<void(nlohmann::json&)>& edit) {
  auto j = nlohmann::json::parse(testing::ReadAll(path));
  edit(j);
  testing::WriteAll(path, j.dump(2));
}

TEST(ModelLoaderTest, CopiedTinyModelLoads) {
  ScratchDir s;
  auto e = Embedder::Load(CopyModel("tiny-minilm-b", s / "m"));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ((*e)->dim(), 64u);
}

TEST(ModelLoaderTest, MissingConfigJsonIsNamed) {
  ScratchDir s;
  std::string dir = CopyModel("tiny-minilm-b", s / "m");
  std::filesystem::remove(dir + "/config.json");
  ExpectLoadError(dir, {"missing config.json"});
}

TEST(ModelLoaderTest, MissingWeightsAreNamed) {
  ScratchDir s;
  std::string dir = CopyModel("tiny-minilm-b", s / "m");
  std::filesystem::remove(dir + "/model.safetensors");
  ExpectLoadError(dir, {"missing model.safetensors"});
}

TEST(ModelLoaderTest, MissingTokenizerFilesAreNamed) {
  ScratchDir s;
  std::string dir = CopyModel("tiny-minilm-b", s / "m");
  std::filesystem::remove(dir + "/vocab.txt");
  std::filesystem::remove(dir + "/tokenizer.json");
  ExpectLoadError(dir, {"no tokenizer", "vocab.txt"});
}

TEST(ModelLoaderTest, MissingPoolingConfigIsNamed) {
  ScratchDir s;
  std::string dir = CopyModel("tiny-minilm-b", s / "m");
  std::filesystem::remove_all(dir + "/1_Pooling");
  ExpectLoadError(dir, {"1_Pooling/config.json", "modules.json"});
}

TEST(ModelLoaderTest, TruncatedWeightsNameTheTensor) {
  ScratchDir s;
  std::string dir = CopyModel("tiny-minilm-b", s / "m");
  std::filesystem::resize_file(dir + "/model.safetensors",
                               std::filesystem::file_size(dir + "/model.safetensors") / 2);
  ExpectLoadError(dir, {"truncated: tensor", "bytes"});
}

TEST(ModelLoaderTest, RealTruncatedMiniLmIsRefusedAsTruncated) {
  ScratchDir s;
  std::string dir = s / "minilm";
  std::filesystem::create_directories(dir + "/1_Pooling");
  const std::string src = testing::kModelsDir + "all-MiniLM-L6-v2/";
  for (const char* f : {"config.json", "modules.json", "1_Pooling/config.json",
                        "sentence_bert_config.json", "vocab.txt", "tokenizer.json",
                        "tokenizer_config.json", "special_tokens_map.json"}) {
    std::filesystem::copy_file(src + f, dir + "/" + f);
  }
  std::filesystem::create_symlink(src + "model.safetensors.TRUNCATED-851968B",
                                  dir + "/model.safetensors");
  ExpectLoadError(dir, {"truncated", "embeddings.word_embeddings.weight", "90868376"});
}

TEST(ModelLoaderTest, WrongShapeNamesTensorAndShapes) {
  ScratchDir s;
  std::string dir = CopyModel("tiny-minilm-b", s / "m");
  EditJson(dir + "/config.json", [](nlohmann::json& j) { j["intermediate_size"] = 128; });
  ExpectLoadError(dir, {"encoder.layer.0.intermediate.dense.weight", "[256, 64]", "[128, 64]"});
}

TEST(ModelLoaderTest, FewerLayersInConfigThanWeightsIsRefused) {
  ScratchDir s;
  std::string dir = CopyModel("tiny-minilm-b", s / "m");
  EditJson(dir + "/config.json", [](nlohmann::json& j) { j["num_hidden_layers"] = 2; });
  ExpectLoadError(dir, {"encoder.layer.2.", "does not have"});
}

TEST(ModelLoaderTest, MoreLayersInConfigThanWeightsNamesMissingTensor) {
  ScratchDir s;
  std::string dir = CopyModel("tiny-minilm-b", s / "m");
  EditJson(dir + "/config.json", [](nlohmann::json& j) { j["num_hidden_layers"] = 4; });
  ExpectLoadError(dir, {"missing tensor \"encoder.layer.3.attention.self.query.weight\""});
}

TEST(ModelLoaderTest, HeadsNotDividingHiddenIsRefused) {
  ScratchDir s;
  std::string dir = CopyModel("tiny-minilm-b", s / "m");
  EditJson(dir + "/config.json", [](nlohmann::json& j) { j["num_attention_heads"] = 5; });
  ExpectLoadError(dir, {"not a multiple of num_attention_heads"});
}

TEST(ModelLoaderTest, VocabTxtDisagreeingWithTokenizerJsonIsRefused) {
  ScratchDir s;
  std::string dir = CopyModel("tiny-minilm-b", s / "m");
  std::string vocab = testing::ReadAll(dir + "/vocab.txt");
  size_t pos = vocab.find("\nthe\n");
  ASSERT_NE(pos, std::string::npos);
  vocab.replace(pos, 5, "\nthz\n");
  testing::WriteAll(dir + "/vocab.txt", vocab);
  ExpectLoadError(dir, {"vocab mismatch", "\"thz\""});
}

TEST(ModelLoaderTest, VocabLargerThanEmbeddingTableIsRefused) {
  ScratchDir s;
  std::string dir = CopyModel("tiny-minilm-b", s / "m");
  EditJson(dir + "/config.json", [](nlohmann::json& j) { j["vocab_size"] = 1000; });
  ExpectLoadError(dir, {"vocab mismatch", "30522", "1000"});
}

TEST(ModelLoaderTest, UnsupportedModuleIsNamed) {
  ScratchDir s;
  std::string dir = CopyModel("tiny-minilm-b", s / "m");
  EditJson(dir + "/modules.json", [](nlohmann::json& j) {
    j.push_back({{"idx", 3}, {"name", "3"}, {"path", "3_Dense"},
                 {"type", "sentence_transformers.models.Dense"}});
  });
  ExpectLoadError(dir, {"sentence_transformers.models.Dense", "not supported"});
}

TEST(ModelLoaderTest, InvalidConfigJsonNamesFile) {
  ScratchDir s;
  std::string dir = CopyModel("tiny-minilm-b", s / "m");
  testing::WriteAll(dir + "/config.json", "{\"hidden_size\": ");
  ExpectLoadError(dir, {"config.json", "invalid JSON"});
}

TEST(ModelLoaderTest, ConfigFieldOfWrongTypeIsNamed) {
  ScratchDir s;
  std::string dir = CopyModel("tiny-minilm-b", s / "m");
  EditJson(dir + "/config.json", [](nlohmann::json& j) { j["hidden_size"] = "64"; });
  ExpectLoadError(dir, {"\"hidden_size\" must be an integer"});
}

TEST(ModelLoaderTest, NoPoolingModeIsRefused) {
  ScratchDir s;
  std::string dir = CopyModel("tiny-minilm-b", s / "m");
  EditJson(dir + "/1_Pooling/config.json",
           [](nlohmann::json& j) { j["pooling_mode_mean_tokens"] = false; });
  ExpectLoadError(dir, {"no pooling mode"});
}

TEST(ModelLoaderTest, ClsPoolingWithoutNormalizeUsesFirstToken) {
  ScratchDir s;
  std::string dir = CopyModel("tiny-minilm-b", s / "m");
  EditJson(dir + "/1_Pooling/config.json", [](nlohmann::json& j) {
    j["pooling_mode_mean_tokens"] = false;
    j["pooling_mode_cls_token"] = true;
    j["pooling_mode_max_tokens"] = true;
  });
  EditJson(dir + "/modules.json", [](nlohmann::json& j) { j.erase(2); });
  auto e = Embedder::Load(dir);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ((*e)->dim(), 128u);  // cls + max, concatenated
  auto v = (*e)->EmbedOne("pooling check");
  ASSERT_TRUE(v.ok());
  double norm = 0;
  for (float x : *v) norm += x * x;
  EXPECT_GT(std::abs(norm - 1.0), 1e-3);  // not normalized
  for (size_t j = 0; j < 64; ++j) EXPECT_LE((*v)[j], (*v)[64 + j] + 1e-6);  // cls <= max
}

TEST(ModelLoaderTest, MaxSeqLengthComesFromSentenceBertConfig) {
  ScratchDir s;
  std::string dir = CopyModel("tiny-minilm-b", s / "m");
  EditJson(dir + "/sentence_bert_config.json", [](nlohmann::json& j) { j["max_seq_length"] = 16; });
  auto e = Embedder::Load(dir);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  std::vector<std::string> texts{
      "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
      "fifteen sixteen seventeen"};
  auto ids = (*e)->Tokenize(texts);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ((*ids)[0].size(), 16u);
}

}  // namespace
}  // namespace vdb::embed
