// WalWriter appends commit records to the write-ahead log file
// (<database>-wal). See docs/format.md#wal and docs/recovery.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vdb/env.h"

namespace vdb::recovery {

class WalWriter {
 public:
  // Creates (or truncates) the WAL at path with a header for generation, and
  // makes the file and its directory entry durable.
  static Result<std::unique_ptr<WalWriter>> Create(Env* env, const std::string& path, const uint8_t uuid[16],
                                                   uint64_t generation);

  // Appends the records of one commit (one payload per record; the last gets
  // kWalFlagCommitEnd). Not durable until Sync. On failure the log is cut
  // back to its previous end, so a later Append starts cleanly; if even that
  // fails, the returned status says so and the log must not be used again.
  // REQUIRES: external serialization of Append/Reset calls.
  Status Append(uint64_t commit_seq, const std::vector<std::string>& payloads, bool* unusable);
  // fdatasync of the log.
  Status Sync();
  // Starts a new generation: rewrites the header and syncs. The old records
  // stay in the file and are overwritten in place (so syncs need not update
  // the file size); their checksums are seeded with the old generation, so
  // they can never be replayed. A log past kWalKeepBytes is cut back.
  Status Reset(uint64_t new_generation);

  uint64_t size() const { return size_; }
  uint64_t generation() const { return generation_; }
  File* file() { return file_.get(); }

 private:
  WalWriter(std::unique_ptr<File> f, const uint8_t uuid[16], uint64_t generation);
  Status WriteHeader();

  std::unique_ptr<File> file_;
  uint8_t uuid_[16];
  uint64_t generation_;
  uint64_t seed_;
  uint64_t size_ = 0;      // bytes of this generation (header + records)
  uint64_t written_ = 0;   // the file's bytes [0, written_) have been written (records or zero fill)
};

}  // namespace vdb::recovery
