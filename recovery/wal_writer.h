// WalWriter appends commit records to the write-ahead log file
// (<database>-wal). See docs/format.md#wal and docs/recovery.md.
//
// Appends only encode into an in-memory buffer; Flush and Sync write the
// buffered records with one io_uring submission. When every earlier byte of
// the log is already durable, Sync's write carries RWF_DSYNC (File::WriteDsync)
// and needs no separate fdatasync. So the writer's serial section costs a
// memcpy per commit and the group-commit leader pays one durable write for
// every commit appended since the previous flush.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
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

  // Encodes the records of one commit (one payload per record; the last gets
  // kWalFlagCommitEnd) into the buffer. Nothing is written until Flush/Sync.
  // REQUIRES: external serialization of Append and Reset calls.
  void Append(uint64_t commit_seq, const std::vector<std::string>& payloads);
  // Writes every record appended so far to the file (not durable).
  // Thread-safe (concurrent with Append). After a failed write the log is
  // unusable: this and every later Flush/Sync/Reset return the error, and the
  // records not written are lost (their commits were never acknowledged).
  Status Flush();
  // Flush, then fdatasync of the log. Thread-safe.
  Status Sync();
  // Sync, then (only once the log is durable) then->Write(then_ops); when
  // the log's write can carry RWF_DSYNC both go out as one chained request
  // (File::WriteDsyncThen). *synced is set when the log part succeeded, so
  // a failure of the second write leaves the commits durable. Thread-safe.
  Status SyncThenWrite(File* then, std::span<const WriteOp> then_ops, bool* synced);
  // Starts a new generation: rewrites the header and syncs. The old records
  // stay in the file and are overwritten in place (so syncs need not update
  // the file size); their checksums are seeded with the old generation, so
  // they can never be replayed. A log past kWalKeepBytes is cut back.
  Status Reset(uint64_t new_generation);

  // Bytes of this generation, buffered records included.
  uint64_t size() const { return size_.load(std::memory_order_relaxed); }
  uint64_t generation() const { return generation_; }
  File* file() { return file_.get(); }

 private:
  WalWriter(std::unique_ptr<File> f, const uint8_t uuid[16], uint64_t generation);
  Status WriteHeader();
  Status WriteBuffered(bool sync, File* then = nullptr, std::span<const WriteOp> then_ops = {},
                       bool* synced = nullptr);

  std::unique_ptr<File> file_;
  uint8_t uuid_[16];
  uint64_t generation_;
  uint64_t seed_;
  std::atomic<uint64_t> size_{0};  // bytes of this generation (header + records, buffered too)

  // Guards buf_ and buf_start_. Held only to append to or take the buffer.
  std::mutex buf_mu_;
  std::string buf_;         // encoded records not yet written
  uint64_t buf_start_ = 0;  // file offset of buf_[0]

  // Serializes writes and syncs of the file; guards written_, synced_ and broken_.
  std::mutex io_mu_;
  uint64_t written_ = 0;  // the file's bytes [0, written_) have been written (records or zero fill)
  // The file's bytes [0, synced_) are durable. Invariant: synced_ <= written_.
  uint64_t synced_ = 0;
  Status broken_;         // first failed write
};

}  // namespace vdb::recovery
