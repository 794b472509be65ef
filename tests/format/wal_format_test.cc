// WAL header, record framing and payload entries: round trip and corruption.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "format/coding.h"
#include "format/wal_format.h"

namespace vdb::format {
namespace {

const uint8_t kUuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

std::vector<uint8_t> HeaderBytes(uint64_t gen) {
  WalHeader h;
  std::memcpy(h.uuid, kUuid, 16);
  h.generation = gen;
  std::vector<uint8_t> b(kWalHeaderUsedBytes);
  EncodeWalHeader(h, b.data());
  return b;
}

TEST(WalFormat, HeaderRoundTrips) {
  auto b = HeaderBytes(42);
  WalHeader out;
  ASSERT_TRUE(DecodeWalHeader(b.data(), b.size(), &out).ok());
  EXPECT_EQ(out.generation, 42u);
  EXPECT_EQ(out.version, kFormatVersion);
  EXPECT_EQ(std::memcmp(out.uuid, kUuid, 16), 0);
}

TEST(WalFormat, EveryHeaderByteIncrementIsDetected) {
  const auto good = HeaderBytes(7);
  for (size_t i = 0; i < good.size(); i++) {
    auto b = good;
    b[i]++;
    WalHeader out;
    EXPECT_FALSE(DecodeWalHeader(b.data(), b.size(), &out).ok()) << "byte " << i;
  }
}

TEST(WalFormat, ShortHeaderIsCorruption) {
  auto b = HeaderBytes(7);
  WalHeader out;
  EXPECT_TRUE(DecodeWalHeader(b.data(), kWalHeaderUsedBytes - 1, &out).IsCorruption());
}

TEST(WalFormat, RecordHeaderRoundTripsAndVerifies) {
  std::string payload = "some payload bytes";
  uint64_t seed = WalRecordSeed(kUuid, 3);
  uint8_t h[kWalRecordHeaderSize];
  EncodeWalRecordHeader(99, kWalFlagCommitEnd, payload, seed, h);
  WalRecordHeader out;
  ASSERT_TRUE(DecodeWalRecordHeader(h, &out).ok());
  EXPECT_EQ(out.payload_len, payload.size());
  EXPECT_EQ(out.commit_seq, 99u);
  EXPECT_EQ(out.flags, kWalFlagCommitEnd);
  EXPECT_TRUE(WalRecordChecksumOk(h, payload, seed));
}

TEST(WalFormat, EveryRecordByteIncrementIsDetected) {
  std::string payload(100, 'p');
  uint64_t seed = WalRecordSeed(kUuid, 3);
  uint8_t good[kWalRecordHeaderSize];
  EncodeWalRecordHeader(5, 0, payload, seed, good);
  for (uint32_t i = 0; i < kWalRecordHeaderSize + payload.size(); i++) {
    uint8_t h[kWalRecordHeaderSize];
    std::memcpy(h, good, sizeof(h));
    std::string p = payload;
    if (i < kWalRecordHeaderSize)
      h[i]++;
    else
      p[i - kWalRecordHeaderSize]++;
    WalRecordHeader out;
    bool framing_ok = DecodeWalRecordHeader(h, &out).ok();
    bool detected = !framing_ok || !WalRecordChecksumOk(h, p, seed);
    EXPECT_TRUE(detected) << "byte " << i;
  }
}

TEST(WalFormat, RecordOfAnotherGenerationFailsItsChecksum) {
  std::string payload = "x";
  uint8_t h[kWalRecordHeaderSize];
  EncodeWalRecordHeader(1, 0, payload, WalRecordSeed(kUuid, 3), h);
  EXPECT_FALSE(WalRecordChecksumOk(h, payload, WalRecordSeed(kUuid, 4)));
}

TEST(WalFormat, OverlongPayloadLengthIsCorruption) {
  uint8_t h[kWalRecordHeaderSize];
  EncodeWalRecordHeader(1, 0, "x", 0, h);
  PutU32(h + kWalRecOffPayloadLen, kWalMaxPayload + 1);
  WalRecordHeader out;
  EXPECT_TRUE(DecodeWalRecordHeader(h, &out).IsCorruption());
}

TEST(WalFormat, UnknownFlagsAreCorruption) {
  uint8_t h[kWalRecordHeaderSize];
  EncodeWalRecordHeader(1, 0, "x", 0, h);
  PutU32(h + kWalRecOffFlags, 4);
  WalRecordHeader out;
  EXPECT_TRUE(DecodeWalRecordHeader(h, &out).IsCorruption());
}

TEST(WalFormat, EntriesRoundTripInOrder) {
  std::string payload;
  uint8_t body[kMetaBodySize];
  for (uint32_t i = 0; i < kMetaBodySize; i++) body[i] = static_cast<uint8_t>(i);
  std::vector<uint8_t> page(kPageSize, 0x3C);
  AppendMetaEntry(&payload, body);
  AppendPageEntry(&payload, 17, page.data());
  AppendBytesEntry(&payload, 123456, "vector", 6);
  EXPECT_EQ(payload.size(), MetaEntrySize() + PageEntrySize() + BytesEntrySize(6));
  WalEntryReader r(payload);
  WalEntry e;
  ASSERT_TRUE(r.Next(&e));
  EXPECT_EQ(e.type, kWalEntryMeta);
  EXPECT_EQ(std::memcmp(e.data.data(), body, kMetaBodySize), 0);
  ASSERT_TRUE(r.Next(&e));
  EXPECT_EQ(e.type, kWalEntryPage);
  EXPECT_EQ(e.where, 17u);
  EXPECT_EQ(e.data.size(), kPageSize);
  ASSERT_TRUE(r.Next(&e));
  EXPECT_EQ(e.type, kWalEntryBytes);
  EXPECT_EQ(e.where, 123456u);
  EXPECT_EQ(e.data, "vector");
  EXPECT_FALSE(r.Next(&e));
  EXPECT_TRUE(r.status().ok());
}

TEST(WalFormat, TruncatedEntryIsCorruption) {
  std::string payload;
  std::vector<uint8_t> page(kPageSize, 1);
  AppendPageEntry(&payload, 3, page.data());
  payload.resize(payload.size() - 1);
  WalEntryReader r(payload);
  WalEntry e;
  EXPECT_FALSE(r.Next(&e));
  EXPECT_TRUE(r.status().IsCorruption());
}

TEST(WalFormat, BytesEntryLongerThanItsRecordIsCorruption) {
  std::string payload;
  AppendBytesEntry(&payload, 4096 * 5, "abcd", 4);
  PutU32(reinterpret_cast<uint8_t*>(payload.data()) + 9, 1000);
  WalEntryReader r(payload);
  WalEntry e;
  EXPECT_FALSE(r.Next(&e));
  EXPECT_TRUE(r.status().IsCorruption());
}

TEST(WalFormat, UnknownEntryTypeIsCorruption) {
  std::string payload = "\x09zzzz";
  WalEntryReader r(payload);
  WalEntry e;
  EXPECT_FALSE(r.Next(&e));
  EXPECT_TRUE(r.status().IsCorruption());
}


// Page deltas (DiffPage): the ranges where two page images differ.
std::vector<uint8_t> RandomPage(uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> p(kPageSize);
  for (auto& b : p) b = static_cast<uint8_t>(rng());
  return p;
}

std::vector<uint8_t> Apply(std::vector<uint8_t> before, const std::vector<uint8_t>& after,
                           const std::vector<PageRange>& ranges) {
  for (const PageRange& r : ranges) std::memcpy(before.data() + r.off, after.data() + r.off, r.len);
  return before;
}

TEST(PageDelta, EqualPagesHaveNoDelta) {
  auto a = RandomPage(1);
  std::vector<PageRange> ranges;
  EXPECT_EQ(DiffPage(a.data(), a.data(), &ranges), 0u);
  EXPECT_TRUE(ranges.empty());
}

TEST(PageDelta, OneChangedByteIsOneRangeOfOneByte) {
  auto a = RandomPage(2), b = a;
  b[1234] ^= 0x40;
  std::vector<PageRange> ranges;
  EXPECT_EQ(DiffPage(a.data(), b.data(), &ranges), BytesEntrySize(1));
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0].off, 1234u);
  EXPECT_EQ(ranges[0].len, 1u);
}

TEST(PageDelta, ChangesAtBothEndsOfThePageAreFound) {
  auto a = RandomPage(3), b = a;
  b[0] ^= 1;
  b[kPageSize - 1] ^= 1;
  std::vector<PageRange> ranges;
  DiffPage(a.data(), b.data(), &ranges);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0].off, 0u);
  EXPECT_EQ(ranges[1].off + ranges[1].len, kPageSize);
}

TEST(PageDelta, RangesCloserThanTheMergeGapAreOne) {
  auto a = RandomPage(4), b = a;
  b[100] ^= 1;
  b[100 + kWalDeltaMergeGap] ^= 1;  // gap of kWalDeltaMergeGap - 1 bytes
  b[1000] ^= 1;
  std::vector<PageRange> ranges;
  size_t n = DiffPage(a.data(), b.data(), &ranges);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0].off, 100u);
  EXPECT_EQ(ranges[0].len, kWalDeltaMergeGap + 1);
  EXPECT_EQ(n, BytesEntrySize(kWalDeltaMergeGap + 1) + BytesEntrySize(1));
}

TEST(PageDelta, AppliedToTheOldImageItRebuildsTheNewOne) {
  std::mt19937 rng(5);
  for (int round = 0; round < 200; round++) {
    auto a = RandomPage(100 + round), b = a;
    int changes = static_cast<int>(rng() % 40);
    for (int c = 0; c < changes; c++) {
      uint32_t at = rng() % kPageSize, len = 1 + rng() % 64;
      for (uint32_t i = at; i < std::min<uint32_t>(kPageSize, at + len); i++) b[i] = static_cast<uint8_t>(rng());
    }
    std::vector<PageRange> ranges;
    size_t n = DiffPage(a.data(), b.data(), &ranges);
    EXPECT_EQ(Apply(a, b, ranges), b) << "round " << round;
    size_t want = 0;
    for (size_t i = 0; i < ranges.size(); i++) {
      want += BytesEntrySize(ranges[i].len);
      if (i > 0) EXPECT_GE(ranges[i].off, ranges[i - 1].off + ranges[i - 1].len + kWalDeltaMergeGap);
    }
    EXPECT_EQ(n, want);
  }
}

}  // namespace
}  // namespace vdb::format
