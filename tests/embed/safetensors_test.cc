// safetensors reader: valid files, dtype conversion, and every kind of
// malformed header or truncated data refused with a named problem.
#include "engine/embed/safetensors.h"

#include <gtest/gtest.h>

#include "embed/embed_test_util.h"

namespace vdb::embed {
namespace {

using testing::BuildSafetensors;
using testing::FloatBytes;
using testing::RawTensor;
using testing::SafetensorsBytes;
using testing::ScratchDir;

Result<SafetensorsHeader> Parse(const std::string& bytes) {
  return ParseSafetensorsHeader(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
      "test.safetensors");
}

void ExpectCorruption(const std::string& bytes, const std::string& needle) {
  auto h = Parse(bytes);
  ASSERT_FALSE(h.ok()) << "accepted: " << needle;
  EXPECT_TRUE(h.status().IsCorruption()) << h.status().ToString();
  EXPECT_NE(h.status().message().find(needle), std::string::npos) << h.status().ToString();
}

TEST(SafetensorsTest, ParsesTensorsSortedByOffset) {
  std::string f = BuildSafetensors({{"b", "F32", {2}, FloatBytes({1, 2})},
                                    {"a", "F32", {1, 1}, FloatBytes({3})}});
  auto h = Parse(f);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->tensors.size(), 2u);
  EXPECT_EQ(h->tensors[0].name, "b");
  EXPECT_EQ(h->tensors[1].shape, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(h->data_size, 12u);
  EXPECT_EQ(h->metadata.at("format"), "pt");
}

TEST(SafetensorsTest, ConvertsF16AndBf16ToFloat) {
  // F16: 1.0 = 0x3C00, -2.0 = 0xC000, smallest subnormal 0x0001; BF16 1.5 = 0x3FC0.
  std::string f16("\x00\x3C\x00\xC0\x01\x00", 6);
  std::string bf16("\xC0\x3F", 2);
  ScratchDir dir;
  testing::WriteAll(dir / "m.safetensors",
                    BuildSafetensors({{"h", "F16", {3}, f16}, {"b", "BF16", {1}, bf16}}));
  auto f = SafetensorsFile::Open(dir / "m.safetensors");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  auto h = (*f)->ReadFloats("h");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ((*h)[0], 1.0f);
  EXPECT_EQ((*h)[1], -2.0f);
  EXPECT_FLOAT_EQ((*h)[2], 5.9604645e-8f);
  auto b = (*f)->ReadFloats("b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)[0], 1.5f);
}

TEST(SafetensorsTest, HalfInfinityAndNanConvert) {
  EXPECT_TRUE(std::isinf(HalfToFloat(0x7C00)));
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7E00)));
  EXPECT_EQ(HalfToFloat(0x8000), -0.0f);
}

TEST(SafetensorsTest, FileShorterThanLengthPrefixIsRefused) {
  ExpectCorruption(std::string("\x02\x00", 2), "too short");
}

TEST(SafetensorsTest, HeaderLengthBeyondFileIsRefused) {
  std::string f = SafetensorsBytes("{}", "");
  f[0] = 50;
  ExpectCorruption(f, "exceeds the 2 bytes");
}

TEST(SafetensorsTest, HugeHeaderLengthIsRefused) {
  std::string f = SafetensorsBytes("{}", "");
  f[6] = 1;
  ExpectCorruption(f, "exceeds the limit");
}

TEST(SafetensorsTest, InvalidJsonIsRefused) {
  ExpectCorruption(SafetensorsBytes("{\"a\": [}", ""), "invalid JSON");
}

TEST(SafetensorsTest, UnknownDtypeNamesTensor) {
  ExpectCorruption(SafetensorsBytes(R"({"w":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}})",
                                    std::string(1, '\0')),
                   "tensor \"w\": unknown dtype \"F8\"");
}

TEST(SafetensorsTest, ShapeNotMatchingByteSpanIsRefused) {
  ExpectCorruption(SafetensorsBytes(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                                    std::string(8, '\0')),
                   "tensor \"w\": data_offsets span 8 bytes but shape and dtype need 12");
}

TEST(SafetensorsTest, NegativeShapeIsRefused) {
  ExpectCorruption(SafetensorsBytes(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})",
                                    std::string(4, '\0')),
                   "not a non-negative integer");
}

TEST(SafetensorsTest, ReversedOffsetsAreRefused) {
  ExpectCorruption(SafetensorsBytes(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})",
                                    std::string(4, '\0')),
                   "is after end");
}

TEST(SafetensorsTest, OverlappingTensorsAreRefused) {
  ExpectCorruption(SafetensorsBytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                    std::string(8, '\0')),
                   "overlap");
}

TEST(SafetensorsTest, HoleBetweenTensorsIsRefused) {
  ExpectCorruption(SafetensorsBytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                                    std::string(12, '\0')),
                   "leaves a hole");
}

TEST(SafetensorsTest, NonStringMetadataIsRefused) {
  ExpectCorruption(SafetensorsBytes(R"({"__metadata__":{"x":1}})", ""), "__metadata__");
}

TEST(SafetensorsTest, MissingDataOffsetsIsRefused) {
  ExpectCorruption(SafetensorsBytes(R"({"w":{"dtype":"F32","shape":[1]}})", ""),
                   "tensor \"w\": data_offsets");
}

TEST(SafetensorsTest, TruncatedDataOpensButNamesTheCutTensor) {
  std::string f = BuildSafetensors({{"a", "F32", {2}, FloatBytes({1, 2})},
                                    {"b", "F32", {2}, FloatBytes({3, 4})}});
  f.resize(f.size() - 4);
  ScratchDir dir;
  testing::WriteAll(dir / "t.safetensors", f);
  auto file = SafetensorsFile::Open(dir / "t.safetensors");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_FALSE((*file)->complete());
  Status s = (*file)->CheckComplete();
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_NE(s.message().find("truncated: tensor \"b\""), std::string::npos) << s.ToString();
  EXPECT_TRUE((*file)->ReadFloats("a").ok());
  EXPECT_FALSE((*file)->ReadFloats("b").ok());
}

TEST(SafetensorsTest, RealTruncatedMiniLmHeaderIsIntact) {
  auto file = SafetensorsFile::Open(testing::kModelsDir +
                                    "all-MiniLM-L6-v2/model.safetensors.TRUNCATED-851968B");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ((*file)->header().tensors.size(), 104u);
  EXPECT_EQ((*file)->header().data_start + (*file)->header().data_size, 90868376u);
  Status s = (*file)->CheckComplete();
  EXPECT_NE(s.message().find("embeddings.word_embeddings.weight"), std::string::npos) << s.ToString();
}

TEST(SafetensorsTest, EveryHeaderByteFlipIsHandled) {
  std::string f = testing::ReadAll(testing::kModelsDir + "tiny-minilm-b/model.safetensors");
  auto good = Parse(f);
  ASSERT_TRUE(good.ok());
  size_t header_end = 8 + good->header_size;
  int refused = 0;
  for (size_t i = 0; i < header_end; ++i) {
    std::string bad = f.substr(0, header_end);
    bad[i] ^= 0x5A;
    auto h = Parse(bad);  // must not crash; most flips must be refused
    if (!h.ok()) ++refused;
  }
  EXPECT_GT(refused, static_cast<int>(header_end / 2));
}

}  // namespace
}  // namespace vdb::embed
