// WalReader walks a WAL file record by record, verifying framing and
// checksums, and stops at the first record that is torn, garbled or from
// another generation. See docs/format.md#wal
#pragma once

#include <cstdint>
#include <string>

#include "format/wal_format.h"
#include "vdb/env.h"

namespace vdb::recovery {

struct WalRecord {
  uint64_t offset = 0;  // of the record header in the file
  format::WalRecordHeader header;
  std::string payload;
};

class WalReader {
 public:
  // Reads [kWalHeaderSize, file_size) of file; seed from WalRecordSeed for
  // the log's generation, prev_seed for the one before it (records left from
  // it mark a clean end: the log is reused in place after a checkpoint).
  WalReader(File* file, uint64_t file_size, uint64_t seed, uint64_t prev_seed);
  // False at the end of the valid log; stop_reason() then says why.
  bool Next(WalRecord* r);
  // Offset just past the last record returned.
  uint64_t offset() const { return off_; }
  // "end of log" for a clean end; otherwise what was wrong and where.
  const std::string& stop_reason() const { return stop_reason_; }
  bool clean_end() const { return clean_end_; }
  // An I/O error (not damage) stopped the reader.
  const Status& io_status() const { return io_status_; }

 private:
  File* file_;
  uint64_t size_;
  uint64_t seed_;
  uint64_t prev_seed_;
  uint64_t off_;
  std::string stop_reason_;
  bool clean_end_ = false;
  Status io_status_;
};

}  // namespace vdb::recovery
