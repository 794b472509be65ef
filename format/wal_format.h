// The write-ahead log's bytes: file header, record framing, payload entries.
// See docs/format.md#wal
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "format/constants.h"
#include "vdb/status.h"

namespace vdb::format {

struct WalHeader {
  uint32_t version = kFormatVersion;
  uint8_t uuid[16] = {};
  uint64_t generation = 0;
};
// Writes kWalHeaderUsedBytes bytes (the rest of the 4096-byte header is zero).
void EncodeWalHeader(const WalHeader& h, uint8_t* out);
Status DecodeWalHeader(const uint8_t* in, size_t len, WalHeader* out);

struct WalRecordHeader {
  uint32_t payload_len = 0;
  uint64_t commit_seq = 0;
  uint32_t flags = 0;  // kWalFlagCommitEnd on the last record of a commit
  uint64_t checksum = 0;
};
// Seed of record checksums: binds them to the file and the WAL generation.
uint64_t WalRecordSeed(const uint8_t uuid[16], uint64_t generation);
// Encodes a record header for payload; computes the checksum.
void EncodeWalRecordHeader(uint64_t commit_seq, uint32_t flags, std::string_view payload, uint64_t seed,
                           uint8_t out[kWalRecordHeaderSize]);
// Parses framing only (magic, length bound). The checksum is verified by
// WalRecordChecksumOk once the payload has been read.
Status DecodeWalRecordHeader(const uint8_t* in, WalRecordHeader* out);
bool WalRecordChecksumOk(const uint8_t* header, std::string_view payload, uint64_t seed);

// Payload entries. A payload is a sequence of:
//   kWalEntryPage  u64 pgno, kPageSize bytes
//   kWalEntryBytes u64 offset, u32 len, len bytes
//   kWalEntryMeta  kMetaBodySize bytes (exactly once, first in a commit's first record)
void AppendPageEntry(std::string* payload, uint64_t pgno, const uint8_t* page);
void AppendBytesEntry(std::string* payload, uint64_t offset, const void* data, uint32_t len);
void AppendMetaEntry(std::string* payload, const uint8_t* body);
size_t PageEntrySize();
size_t BytesEntrySize(uint32_t len);
size_t MetaEntrySize();

// A page delta: the byte ranges where two images of a page differ, each to
// be logged as a bytes entry at pgno * kPageSize + off. Ranges are sorted,
// disjoint, and no two are closer than kWalDeltaMergeGap bytes.
struct PageRange {
  uint32_t off = 0;
  uint32_t len = 0;
};
// Fills *out with the delta from before to after (kPageSize bytes each) and
// returns the bytes its entries take in a payload (0 when the images are equal).
size_t DiffPage(const uint8_t* before, const uint8_t* after, std::vector<PageRange>* out);

struct WalEntry {
  uint8_t type = 0;
  uint64_t where = 0;      // pgno (page) or file offset (bytes)
  std::string_view data;   // page image, bytes, or meta body
};
// Iterates over a payload; Next returns false at the end or on malformed
// input (then status() says why).
class WalEntryReader {
 public:
  explicit WalEntryReader(std::string_view payload) : p_(payload) {}
  bool Next(WalEntry* e);
  const Status& status() const { return status_; }

 private:
  std::string_view p_;
  size_t pos_ = 0;
  Status status_;
};

}  // namespace vdb::format
