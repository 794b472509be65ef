// Metadata: JSON object <-> MessagePack (zstd above the threshold).
#include <gtest/gtest.h>

#include <string>

#include "format/constants.h"
#include "format/metadata_codec.h"

namespace vdb::format {
namespace {

TEST(MetadataCodec, SmallObjectRoundTripsUncompressed) {
  auto e = EncodeMetadata(R"({"a": 1, "b": [true, null, "x"], "c": {"d": 2.5}})");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->compressed);
  auto d = DecodeMetadata(e->bytes, false);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, R"({"a":1,"b":[true,null,"x"],"c":{"d":2.5}})");
}

TEST(MetadataCodec, LargeObjectIsCompressedAndRoundTrips) {
  std::string json = R"({"text": ")" + std::string(2000, 'q') + R"("})";
  auto e = EncodeMetadata(json);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->compressed);
  EXPECT_LT(e->bytes.size(), 500u);
  auto d = DecodeMetadata(e->bytes, true);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, R"({"text":")" + std::string(2000, 'q') + R"("})");
}

TEST(MetadataCodec, EmptyMeansNoMetadata) {
  auto e = EncodeMetadata("");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->bytes.empty());
  auto d = DecodeMetadata("", false);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, "");
}

TEST(MetadataCodec, NonObjectJsonIsInvalidArgument) {
  EXPECT_TRUE(EncodeMetadata("[1,2]").status().IsInvalidArgument());
  EXPECT_TRUE(EncodeMetadata("{not json").status().IsInvalidArgument());
}

TEST(MetadataCodec, GarbageBytesAreCorruption) {
  EXPECT_TRUE(DecodeMetadata(std::string("\xc1\x00\x01", 3), false).status().IsCorruption());
}

TEST(MetadataCodec, StoredNonObjectIsCorruption) {
  // MessagePack positive fixint 5: valid, but not an object.
  EXPECT_TRUE(DecodeMetadata(std::string("\x05", 1), false).status().IsCorruption());
}

TEST(MetadataCodec, TruncatedMessagePackIsCorruption) {
  auto e = EncodeMetadata(R"({"key": "value"})");
  ASSERT_TRUE(e.ok());
  std::string cut = e->bytes.substr(0, e->bytes.size() - 2);
  EXPECT_TRUE(DecodeMetadata(cut, false).status().IsCorruption());
}

TEST(MetadataCodec, BadZstdFrameIsCorruption) {
  EXPECT_TRUE(DecodeMetadata("definitely not zstd", true).status().IsCorruption());
}

TEST(MetadataCodec, EveryByteIncrementOfCompressedMetadataIsDetectedOrHarmless) {
  // zstd frames carry a content checksum only optionally; a flip must never
  // crash and must either fail or decode to some object.
  std::string json = R"({"text": ")" + std::string(600, 'z') + R"(", "n": 12})";
  auto e = EncodeMetadata(json);
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE(e->compressed);
  for (size_t i = 0; i < e->bytes.size(); i++) {
    std::string b = e->bytes;
    b[i]++;
    auto d = DecodeMetadata(b, true);
    if (d.ok()) {
      EXPECT_EQ(d->front(), '{');
    }
  }
}

TEST(MetadataCodec, CanonicalJsonIsCompact) {
  auto c = CanonicalMetadataJson(R"({ "b" : 1 , "a" : "x" })");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, R"({"a":"x","b":1})");
}

}  // namespace
}  // namespace vdb::format
