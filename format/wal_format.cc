#include "format/wal_format.h"

#include <cstring>

#include "format/checksum.h"
#include "format/coding.h"

namespace vdb::format {

void EncodeWalHeader(const WalHeader& h, uint8_t* out) {
  std::memset(out, 0, kWalHeaderUsedBytes);
  std::memcpy(out + kWalOffMagic, kWalMagic, 8);
  PutU32(out + kWalOffVersion, h.version);
  std::memcpy(out + kWalOffUuid, h.uuid, 16);
  PutU64(out + kWalOffGeneration, h.generation);
  PutU64(out + kWalOffHeaderChecksum, Checksum64(out, kWalOffHeaderChecksum, 0));
}

Status DecodeWalHeader(const uint8_t* in, size_t len, WalHeader* out) {
  if (len < kWalHeaderUsedBytes) return Status::Corruption("WAL header: file shorter than its header");
  if (std::memcmp(in + kWalOffMagic, kWalMagic, 8) != 0) return Status::Corruption("WAL header: bad magic");
  if (GetU64(in + kWalOffHeaderChecksum) != Checksum64(in, kWalOffHeaderChecksum, 0))
    return Status::Corruption("WAL header: checksum mismatch");
  WalHeader h;
  h.version = GetU32(in + kWalOffVersion);
  if (h.version > kFormatVersion)
    return Status::NotSupported("WAL header: version " + std::to_string(h.version) + " is newer than supported");
  std::memcpy(h.uuid, in + kWalOffUuid, 16);
  h.generation = GetU64(in + kWalOffGeneration);
  *out = h;
  return Status::Ok();
}

uint64_t WalRecordSeed(const uint8_t uuid[16], uint64_t generation) {
  return UuidSeed(uuid) ^ (generation * 0xD6E8FEB86659FD93ull) ^ 0x57414cull;
}

void EncodeWalRecordHeader(uint64_t commit_seq, uint32_t flags, std::string_view payload, uint64_t seed,
                           uint8_t out[kWalRecordHeaderSize]) {
  std::memset(out, 0, kWalRecordHeaderSize);
  PutU32(out + kWalRecOffMagic, kWalRecordMagic);
  PutU32(out + kWalRecOffPayloadLen, static_cast<uint32_t>(payload.size()));
  PutU64(out + kWalRecOffCommitSeq, commit_seq);
  PutU32(out + kWalRecOffFlags, flags);
  Checksummer c(seed);
  c.Update(out, kWalRecOffChecksum);
  c.Update(payload.data(), payload.size());
  PutU64(out + kWalRecOffChecksum, c.Digest());
}

Status DecodeWalRecordHeader(const uint8_t* in, WalRecordHeader* out) {
  if (GetU32(in + kWalRecOffMagic) != kWalRecordMagic) return Status::Corruption("WAL record: bad magic");
  WalRecordHeader h;
  h.payload_len = GetU32(in + kWalRecOffPayloadLen);
  h.commit_seq = GetU64(in + kWalRecOffCommitSeq);
  h.flags = GetU32(in + kWalRecOffFlags);
  h.checksum = GetU64(in + kWalRecOffChecksum);
  if (h.payload_len > kWalMaxPayload)
    return Status::Corruption("WAL record: payload length " + std::to_string(h.payload_len) + " exceeds the maximum");
  if ((h.flags & ~kWalFlagCommitEnd) != 0) return Status::Corruption("WAL record: unknown flags");
  *out = h;
  return Status::Ok();
}

bool WalRecordChecksumOk(const uint8_t* header, std::string_view payload, uint64_t seed) {
  Checksummer c(seed);
  c.Update(header, kWalRecOffChecksum);
  c.Update(payload.data(), payload.size());
  return c.Digest() == GetU64(header + kWalRecOffChecksum);
}

void AppendPageEntry(std::string* payload, uint64_t pgno, const uint8_t* page) {
  AppendU8(payload, kWalEntryPage);
  AppendU64(payload, pgno);
  payload->append(reinterpret_cast<const char*>(page), kPageSize);
}

void AppendBytesEntry(std::string* payload, uint64_t offset, const void* data, uint32_t len) {
  AppendU8(payload, kWalEntryBytes);
  AppendU64(payload, offset);
  AppendU32(payload, len);
  payload->append(static_cast<const char*>(data), len);
}

void AppendMetaEntry(std::string* payload, const uint8_t* body) {
  AppendU8(payload, kWalEntryMeta);
  payload->append(reinterpret_cast<const char*>(body), kMetaBodySize);
}

size_t PageEntrySize() { return 1 + 8 + kPageSize; }
size_t BytesEntrySize(uint32_t len) { return 1 + 8 + 4 + len; }
size_t MetaEntrySize() { return 1 + kMetaBodySize; }

size_t DiffPage(const uint8_t* before, const uint8_t* after, std::vector<PageRange>* out) {
  out->clear();
  size_t total = 0;
  constexpr uint32_t kWord = 8;
  uint32_t i = 0;
  while (i < kPageSize) {
    // Skip equal words, then extend over unequal ones.
    while (i < kPageSize && std::memcmp(before + i, after + i, kWord) == 0) i += kWord;
    if (i >= kPageSize) break;
    uint32_t start = i;
    while (i < kPageSize && std::memcmp(before + i, after + i, kWord) != 0) i += kWord;
    // Trim to the first and last differing byte.
    while (before[start] == after[start]) start++;
    uint32_t end = i;
    while (before[end - 1] == after[end - 1]) end--;
    if (!out->empty() && start - (out->back().off + out->back().len) < kWalDeltaMergeGap) {
      total -= out->back().len;
      out->back().len = end - out->back().off;
      total += out->back().len;
    } else {
      out->push_back({start, end - start});
      total += BytesEntrySize(0) + (end - start);
    }
  }
  return total;
}

bool WalEntryReader::Next(WalEntry* e) {
  if (pos_ >= p_.size()) return false;
  const auto* b = reinterpret_cast<const uint8_t*>(p_.data());
  size_t left = p_.size() - pos_;
  uint8_t type = b[pos_];
  auto fail = [&](const char* what) {
    status_ = Status::Corruption(std::string("WAL entry at payload offset ") + std::to_string(pos_) + ": " + what);
    return false;
  };
  switch (type) {
    case kWalEntryPage:
      if (left < PageEntrySize()) return fail("truncated page entry");
      e->type = type;
      e->where = GetU64(b + pos_ + 1);
      e->data = p_.substr(pos_ + 9, kPageSize);
      pos_ += PageEntrySize();
      return true;
    case kWalEntryBytes: {
      if (left < 13) return fail("truncated bytes entry");
      uint32_t len = GetU32(b + pos_ + 9);
      if (left - 13 < len) return fail("bytes entry longer than its record");
      e->type = type;
      e->where = GetU64(b + pos_ + 1);
      e->data = p_.substr(pos_ + 13, len);
      pos_ += 13 + len;
      return true;
    }
    case kWalEntryMeta:
      if (left < MetaEntrySize()) return fail("truncated meta entry");
      e->type = type;
      e->where = 0;
      e->data = p_.substr(pos_ + 1, kMetaBodySize);
      pos_ += MetaEntrySize();
      return true;
    default:
      return fail("unknown entry type");
  }
}

}  // namespace vdb::format
