#include "recovery/wal_reader.h"

namespace vdb::recovery {

using namespace vdb::format;

WalReader::WalReader(File* file, uint64_t file_size, uint64_t seed, uint64_t prev_seed)
    : file_(file), size_(file_size), seed_(seed), prev_seed_(prev_seed), off_(kWalHeaderSize) {}

bool WalReader::Next(WalRecord* r) {
  if (off_ >= size_) {
    stop_reason_ = "end of log";
    clean_end_ = true;
    return false;
  }
  std::string at = " at WAL offset " + std::to_string(off_);
  if (size_ - off_ < kWalRecordHeaderSize) {
    stop_reason_ = "torn record header" + at;
    return false;
  }
  uint8_t hdr[kWalRecordHeaderSize];
  size_t got = 0;
  Status s = file_->Read(off_, hdr, kWalRecordHeaderSize, &got);
  if (!s.ok() || got != kWalRecordHeaderSize) {
    io_status_ = s.ok() ? Status::IOError("short read of WAL") : s;
    stop_reason_ = "read error" + at;
    return false;
  }
  WalRecordHeader h;
  s = DecodeWalRecordHeader(hdr, &h);
  if (!s.ok()) {
    // A zero-filled tail (preallocated or never written) is a clean end.
    bool zeros = true;
    for (uint8_t b : hdr) zeros = zeros && b == 0;
    clean_end_ = zeros;
    stop_reason_ = zeros ? "end of log (zero fill)" + at : s.message() + at;
    return false;
  }
  if (size_ - off_ - kWalRecordHeaderSize < h.payload_len) {
    stop_reason_ = "torn record (payload runs past end of file)" + at;
    return false;
  }
  r->payload.resize(h.payload_len);
  s = file_->Read(off_ + kWalRecordHeaderSize, r->payload.data(), h.payload_len, &got);
  if (!s.ok() || got != h.payload_len) {
    io_status_ = s.ok() ? Status::IOError("short read of WAL") : s;
    stop_reason_ = "read error" + at;
    return false;
  }
  if (!WalRecordChecksumOk(hdr, r->payload, seed_)) {
    if (WalRecordChecksumOk(hdr, r->payload, prev_seed_)) {
      stop_reason_ = "end of log (records of the previous generation follow)" + at;
      clean_end_ = true;
    } else {
      stop_reason_ = "record checksum mismatch" + at;
    }
    return false;
  }
  r->offset = off_;
  r->header = h;
  off_ += kWalRecordHeaderSize + h.payload_len;
  return true;
}

}  // namespace vdb::recovery
