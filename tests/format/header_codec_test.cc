// The header page codec: round trip and byte-level corruption detection.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "format/checksum.h"
#include "format/coding.h"
#include "format/constants.h"
#include "format/header.h"

namespace vdb::format {
namespace {

FileHeader Sample() {
  FileHeader h;
  h.format_version = kFormatVersion;
  h.page_size = kPageSize;
  h.dim = 96;
  h.element_type = kElemFloat32;
  h.metric = kMetricL2;
  h.vector_stride = VectorStrideFor(96);
  h.hnsw_m = 16;
  h.hnsw_m0 = 32;
  h.hnsw_ef_construction = 200;
  h.hnsw_seed = 0x1234567890abcdefull;
  for (int i = 0; i < 16; i++) h.uuid[i] = static_cast<uint8_t>(i * 17 + 3);
  h.created_micros = 1700000000000000ull;
  h.first_extent_slots = kFirstExtentSlots;
  return h;
}

std::vector<uint8_t> Encoded(const FileHeader& h) {
  std::vector<uint8_t> page(kPageSize);
  EncodeHeader(h, page.data());
  return page;
}

void FixChecksum(std::vector<uint8_t>* page) {
  PutU64(page->data() + kHeaderOffChecksum, Checksum64(page->data(), kHeaderOffChecksum, 0));
}

TEST(HeaderCodec, RoundTripsEveryField) {
  FileHeader h = Sample(), out;
  auto page = Encoded(h);
  ASSERT_TRUE(DecodeHeader(page.data(), &out).ok());
  EXPECT_EQ(out.format_version, h.format_version);
  EXPECT_EQ(out.dim, h.dim);
  EXPECT_EQ(out.metric, h.metric);
  EXPECT_EQ(out.vector_stride, h.vector_stride);
  EXPECT_EQ(out.hnsw_m, h.hnsw_m);
  EXPECT_EQ(out.hnsw_m0, h.hnsw_m0);
  EXPECT_EQ(out.hnsw_ef_construction, h.hnsw_ef_construction);
  EXPECT_EQ(out.hnsw_seed, h.hnsw_seed);
  EXPECT_EQ(std::memcmp(out.uuid, h.uuid, 16), 0);
  EXPECT_EQ(out.created_micros, h.created_micros);
  EXPECT_EQ(out.first_extent_slots, h.first_extent_slots);
}

TEST(HeaderCodec, UnusedBytesAreZero) {
  auto page = Encoded(Sample());
  for (uint32_t i = kHeaderUsedBytes; i < kHeaderOffChecksum; i++) ASSERT_EQ(page[i], 0) << i;
}

TEST(HeaderCodec, StrideIsDimTimesFourRoundedToAlignment) {
  EXPECT_EQ(VectorStrideFor(1), kVectorAlign);
  EXPECT_EQ(VectorStrideFor(16), 64u);
  EXPECT_EQ(VectorStrideFor(17), 128u);
  EXPECT_EQ(VectorStrideFor(kMaxDim) % kVectorAlign, 0u);
}

TEST(HeaderCodec, BadMagicIsCorruption) {
  auto page = Encoded(Sample());
  page[3] ^= 1;
  FileHeader out;
  Status s = DecodeHeader(page.data(), &out);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_NE(s.message().find("magic"), std::string::npos);
}

TEST(HeaderCodec, EveryByteIncrementIsDetected) {
  const auto good = Encoded(Sample());
  for (uint32_t i = 0; i < kPageSize; i++) {
    auto page = good;
    page[i]++;
    FileHeader out;
    EXPECT_FALSE(DecodeHeader(page.data(), &out).ok()) << "byte " << i;
  }
}

TEST(HeaderCodec, NewerVersionIsNotSupported) {
  FileHeader h = Sample();
  h.format_version = kFormatVersion + 1;
  auto page = Encoded(h);
  FileHeader out;
  EXPECT_TRUE(DecodeHeader(page.data(), &out).IsNotSupported());
}

TEST(HeaderCodec, NewerVersionWithBadChecksumIsStillNotSupported) {
  FileHeader h = Sample();
  h.format_version = kFormatVersion + 1;
  auto page = Encoded(h);
  page[kHeaderOffChecksum] ^= 0xFF;
  FileHeader out;
  EXPECT_TRUE(DecodeHeader(page.data(), &out).IsNotSupported());
}

TEST(HeaderCodec, VersionZeroIsCorruption) {
  FileHeader h = Sample();
  h.format_version = 0;
  auto page = Encoded(h);
  FileHeader out;
  EXPECT_TRUE(DecodeHeader(page.data(), &out).IsCorruption());
}

TEST(HeaderCodec, WrongStrideWithGoodChecksumIsCorruption) {
  auto page = Encoded(Sample());
  PutU32(page.data() + kHeaderOffVectorStride, 64);
  FixChecksum(&page);
  FileHeader out;
  EXPECT_TRUE(DecodeHeader(page.data(), &out).IsCorruption());
}

TEST(HeaderCodec, UnknownMetricWithGoodChecksumIsCorruption) {
  auto page = Encoded(Sample());
  page[kHeaderOffMetric] = 9;
  FixChecksum(&page);
  FileHeader out;
  EXPECT_TRUE(DecodeHeader(page.data(), &out).IsCorruption());
}

TEST(HeaderCodec, UnknownElementTypeIsNotSupported) {
  auto page = Encoded(Sample());
  page[kHeaderOffElementType] = 7;
  FixChecksum(&page);
  FileHeader out;
  EXPECT_TRUE(DecodeHeader(page.data(), &out).IsNotSupported());
}

TEST(HeaderCodec, ZeroDimensionIsCorruption) {
  auto page = Encoded(Sample());
  PutU32(page.data() + kHeaderOffDim, 0);
  FixChecksum(&page);
  FileHeader out;
  EXPECT_TRUE(DecodeHeader(page.data(), &out).IsCorruption());
}

}  // namespace
}  // namespace vdb::format
