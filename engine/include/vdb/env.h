// Env and File: the I/O seam under the engine.
//
// Every byte vdb writes, every sync, truncate, create, rename, unlink and
// directory sync goes through these interfaces. The default Env issues writes
// and syncs through io_uring (engine/env_posix.cc); tests swap in a
// fault-injecting Env (tests/harness/) that records operations, simulates
// power loss and fails chosen calls. Reads of the main file go through mmap
// of File::fd(), so a wrapping Env must hand out a real descriptor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "vdb/status.h"

namespace vdb {

// One positioned write.
struct WriteOp {
  uint64_t offset = 0;
  const void* data = nullptr;
  size_t len = 0;
};

// An open file. Thread-safety: all methods may be called concurrently.
class File {
 public:
  virtual ~File() = default;
  virtual const std::string& path() const = 0;
  // The descriptor, for mmap and flock. Stays valid until the File dies.
  virtual int fd() const = 0;

  // Reads up to n bytes at off; *got is set to what was read (short at EOF).
  virtual Status Read(uint64_t off, void* buf, size_t n, size_t* got) = 0;
  // Writes all ops (retrying short writes); returns only when every op has
  // completed in the page cache, or the first error. Not durable by itself.
  virtual Status Write(std::span<const WriteOp> ops) = 0;
  Status Write(uint64_t off, const void* data, size_t n) {
    WriteOp op{off, data, n};
    return Write(std::span<const WriteOp>(&op, 1));
  }
  // Writes ops and then makes them durable (fdatasync), ordered so that the
  // sync cannot overtake the writes.
  virtual Status WriteAndSync(std::span<const WriteOp> ops) = 0;
  // Writes ops and makes them durable as a write to a file opened O_DSYNC
  // would: these bytes and the metadata needed to read them back, ordered so
  // that the call returns only when they are. Unlike WriteAndSync, data that
  // earlier Writes left unsynced may stay volatile. A failure poisons the
  // File like a failed Sync. The default calls WriteAndSync (stronger).
  virtual Status WriteDsync(std::span<const WriteOp> ops) { return WriteAndSync(ops); }
  // WriteDsync(ops), then, only once those are durable, next->Write(next_ops)
  // (next may be this File). *durable is set when ops are durable, even if
  // writing next_ops then failed. An Env may issue both in one request to
  // the kernel as long as no byte of next_ops is written before all of ops
  // are durable; the default makes the two calls.
  virtual Status WriteDsyncThen(std::span<const WriteOp> ops, File* next, std::span<const WriteOp> next_ops,
                                bool* durable) {
    *durable = false;
    VDB_RETURN_IF_ERROR(WriteDsync(ops));
    *durable = true;
    return next_ops.empty() ? Status::Ok() : next->Write(next_ops);
  }
  // fdatasync. After a failure the File (and the database using it) must be
  // treated as poisoned: dirty pages may have been dropped.
  virtual Status Sync() = 0;
  virtual Status Truncate(uint64_t size) = 0;
  // Reserves [off, off+len) (fallocate, extending the size).
  virtual Status Allocate(uint64_t off, uint64_t len) = 0;
  virtual Result<uint64_t> Size() = 0;
};

struct FileOpenOptions {
  bool create = false;     // create if missing (O_CREAT)
  bool exclusive = false;  // fail if it exists (O_EXCL)
  bool read_only = false;  // O_RDONLY
};

class Env {
 public:
  virtual ~Env() = default;
  // The process-wide io_uring Env. Never destroyed.
  static Env* Default();

  virtual Result<std::unique_ptr<File>> Open(const std::string& path, const FileOpenOptions& opts) = 0;
  virtual Status Remove(const std::string& path) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // fsync of the directory holding path's entry (makes create/rename/remove durable).
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual bool Exists(const std::string& path) = 0;
  // Advisory lock on the whole file (flock). Busy if another process holds it.
  virtual Status Lock(File* file, bool exclusive) = 0;
};

// Directory part of a path ("." when there is none).
std::string DirName(const std::string& path);

}  // namespace vdb
