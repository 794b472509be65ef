// The database as crash recovery would leave it, read without changing
// anything: the main file's bytes with the page images and vector bytes of
// the WAL's complete commits overlaid, bytes past the end of the file reading
// as zero. Used by the checker and by salvage. See docs/vdbcheck.md.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "format/constants.h"
#include "vdb/env.h"

namespace vdb::recovery {

// A read-only file through pread(2); independent of the engine's Env, so the
// checker links without the engine. Every mutating method fails ReadOnly.
class ReadOnlyFile final : public File {
 public:
  // NotFound if path does not exist; IOError / ReadOnly for other failures.
  static Result<std::unique_ptr<ReadOnlyFile>> Open(const std::string& path);
  ~ReadOnlyFile() override;

  const std::string& path() const override { return path_; }
  int fd() const override { return fd_; }
  Status Read(uint64_t off, void* buf, size_t n, size_t* got) override;
  Status Write(std::span<const WriteOp> ops) override;
  Status WriteAndSync(std::span<const WriteOp> ops) override;
  Status Sync() override;
  Status Truncate(uint64_t size) override;
  Status Allocate(uint64_t off, uint64_t len) override;
  Result<uint64_t> Size() override;

 private:
  ReadOnlyFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
};

// Where a byte range of the image came from.
struct ImageOrigin {
  bool from_wal = false;   // some bytes came from the WAL
  bool past_end = false;   // some bytes lie past the end of the main file and no WAL entry covers them
};

// Thread-compatible (not thread-safe: it caches).
class DbImage {
 public:
  // main and wal (may be null) must outlive the image.
  DbImage(File* main, uint64_t main_size, File* wal);

  // Indexes the entries of the first `records` records of the WAL (those of
  // the complete commits replay applies), read with `seed`. Memory: one small
  // entry per page image / bytes entry.
  Status IndexWal(uint64_t records, uint64_t seed, uint64_t prev_seed, uint64_t wal_size);

  // Reads [off, off + n) of the image. Fails only on I/O errors.
  Status Read(uint64_t off, size_t n, uint8_t* out, ImageOrigin* origin = nullptr);
  // Reads page pgno (kPageSize bytes) through a small cache.
  Status ReadPage(uint64_t pgno, uint8_t* out, ImageOrigin* origin = nullptr);

  uint64_t main_size() const { return main_size_; }
  // How many pages physically exist: the main file's whole pages plus the
  // distinct pages past its end that the WAL supplies. Every walk over the
  // image is bounded by this (so by the size of the input), never by counts
  // read from the file.
  uint64_t available_pages() const { return available_pages_; }
  uint64_t wal_page_images() const { return wal_pages_; }
  // Bytes entries: page deltas (into a page an earlier record imaged) and
  // the rest (vectors).
  uint64_t wal_vector_bytes() const { return wal_bytes_; }
  uint64_t wal_delta_bytes() const { return wal_delta_bytes_; }

 private:
  struct Piece {
    uint64_t file_off;
    uint64_t len;
    uint64_t wal_off;
    uint64_t order;  // log order: later pieces win
  };
  struct CacheEntry {
    uint64_t pgno = ~0ull;
    ImageOrigin origin;
    std::unique_ptr<uint8_t[]> data;
  };
  static constexpr size_t kCacheEntries = 64;

  File* main_;
  uint64_t main_size_;
  File* wal_;
  uint64_t available_pages_;
  uint64_t order_ = 0;
  uint64_t wal_pages_ = 0, wal_bytes_ = 0, wal_delta_bytes_ = 0;
  std::unordered_map<uint64_t, Piece> page_pieces_;  // pgno -> newest image
  std::multimap<uint64_t, Piece> byte_pieces_;       // by file offset
  uint64_t max_byte_piece_ = 0;
  std::vector<CacheEntry> cache_;
};

}  // namespace vdb::recovery
