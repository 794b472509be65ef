// Tokenizer: token ids must equal Hugging Face's for the golden texts.
#include "engine/embed/tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace vdb::embed {
namespace {

const std::string kModelDir = std::string(VDB_SHARED_DIR) + "/models/all-MiniLM-L6-v2";

std::unique_ptr<Tokenizer> LoadTokenizer(size_t max_length = 256) {
  auto t = Tokenizer::FromDirectory(kModelDir, max_length);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : nullptr;
}

TEST(TokenizerTest, MatchesGoldenTokensForAllTexts) {
  auto tok = LoadTokenizer();
  ASSERT_NE(tok, nullptr);
  std::ifstream in(std::string(VDB_SHARED_DIR) + "/models/golden_tokens.jsonl");
  ASSERT_TRUE(in.good());
  std::string line;
  int count = 0, mismatches = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    std::string text = j["text"];
    std::vector<int32_t> want = j["input_ids"].get<std::vector<int32_t>>();
    std::vector<int32_t> got = tok->Encode(text);
    if (got != want) {
      ++mismatches;
      ADD_FAILURE() << "text #" << count << ": " << text.substr(0, 120);
    }
    ++count;
  }
  EXPECT_EQ(count, 433);
  EXPECT_EQ(mismatches, 0);
}

TEST(TokenizerTest, EmptyTextIsClsSep) {
  auto tok = LoadTokenizer();
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode(""), (std::vector<int32_t>{101, 102}));
}

TEST(TokenizerTest, TruncatesToMaxLengthKeepingFirstPieces) {
  auto tok = LoadTokenizer(8);
  ASSERT_NE(tok, nullptr);
  std::vector<int32_t> ids = tok->Encode("one two three four five six seven eight nine");
  ASSERT_EQ(ids.size(), 8u);
  EXPECT_EQ(ids.front(), 101);
  EXPECT_EQ(ids.back(), 102);
  auto full = LoadTokenizer(64)->Encode("one two three four five six seven eight nine");
  EXPECT_TRUE(std::equal(ids.begin(), ids.end() - 1, full.begin()));
}

TEST(TokenizerTest, WordOverHundredCharactersIsUnknown) {
  auto tok = LoadTokenizer();
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode(std::string(101, 'a')), (std::vector<int32_t>{101, 100, 102}));
}

TEST(TokenizerTest, SplitsPunctuationAndContinuations) {
  auto tok = LoadTokenizer();
  ASSERT_NE(tok, nullptr);
  std::vector<std::string> pieces = tok->Pieces("Héllo, unaffable!");
  EXPECT_EQ(pieces, (std::vector<std::string>{"hello", ",", "una", "##ffa", "##ble", "!"}));
}

TEST(TokenizerTest, PadsCjkCharactersIntoSeparateWords) {
  auto tok = LoadTokenizer();
  ASSERT_NE(tok, nullptr);
  std::vector<std::string> pieces = tok->Pieces("日本語");
  EXPECT_EQ(pieces.size(), 3u);
}

TEST(TokenizerTest, SpecialTokenInTextIsKept) {
  auto tok = LoadTokenizer();
  ASSERT_NE(tok, nullptr);
  std::vector<int32_t> ids = tok->Encode("a [SEP] b");
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(ids[2], 102);
}

TEST(TokenizerTest, InvalidUtf8IsDroppedNotFatal) {
  auto tok = LoadTokenizer();
  ASSERT_NE(tok, nullptr);
  std::vector<int32_t> ids = tok->Encode(std::string("ok\xff\xfe ok"));
  EXPECT_EQ(ids.front(), 101);
  EXPECT_EQ(ids.back(), 102);
}

TEST(TokenizerTest, MissingSpecialTokenIsRefused) {
  auto t = Tokenizer::Create({"a", "b"}, TokenizerOptions{}, {});
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("[UNK]"), std::string::npos);
}

}  // namespace
}  // namespace vdb::embed
