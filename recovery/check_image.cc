#include "recovery/check_image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "format/wal_format.h"
#include "recovery/wal_reader.h"

namespace vdb::recovery {

using namespace vdb::format;

Result<std::unique_ptr<ReadOnlyFile>> ReadOnlyFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::FromErrno(err, "open " + path);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno(err, "stat " + path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(path + " is not a regular file");
  }
  return std::unique_ptr<ReadOnlyFile>(new ReadOnlyFile(path, fd));
}

ReadOnlyFile::~ReadOnlyFile() { ::close(fd_); }

Status ReadOnlyFile::Read(uint64_t off, void* buf, size_t n, size_t* got) {
  *got = 0;
  auto* p = static_cast<uint8_t*>(buf);
  while (*got < n) {
    ssize_t r = ::pread(fd_, p + *got, n - *got, static_cast<off_t>(off + *got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read " + path_ + " at offset " + std::to_string(off + *got));
    }
    if (r == 0) break;
    *got += static_cast<size_t>(r);
  }
  return Status::Ok();
}

Status ReadOnlyFile::Write(std::span<const WriteOp>) { return Status::ReadOnly(path_ + " is opened read-only"); }
Status ReadOnlyFile::WriteAndSync(std::span<const WriteOp>) { return Status::ReadOnly(path_ + " is opened read-only"); }
Status ReadOnlyFile::Sync() { return Status::Ok(); }
Status ReadOnlyFile::Truncate(uint64_t) { return Status::ReadOnly(path_ + " is opened read-only"); }
Status ReadOnlyFile::Allocate(uint64_t, uint64_t) { return Status::ReadOnly(path_ + " is opened read-only"); }

Result<uint64_t> ReadOnlyFile::Size() {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return Status::FromErrno(errno, "stat " + path_);
  return static_cast<uint64_t>(st.st_size);
}

DbImage::DbImage(File* main, uint64_t main_size, File* wal)
    : main_(main), main_size_(main_size), wal_(wal), available_pages_(main_size / kPageSize), cache_(kCacheEntries) {}

Status DbImage::IndexWal(uint64_t records, uint64_t seed, uint64_t prev_seed, uint64_t wal_size) {
  if (records == 0 || wal_ == nullptr) return Status::Ok();
  WalReader reader(wal_, wal_size, seed, prev_seed);
  WalRecord rec;
  for (uint64_t i = 0; i < records; i++) {
    if (!reader.Next(&rec)) {
      if (!reader.io_status().ok()) return reader.io_status();
      return Status::IOError("WAL changed while being read: " + reader.stop_reason());
    }
    WalEntryReader er(rec.payload);
    WalEntry e;
    const uint64_t base = rec.offset + kWalRecordHeaderSize;
    while (er.Next(&e)) {
      uint64_t data_off = base + static_cast<uint64_t>(e.data.data() - rec.payload.data());
      if (e.type == kWalEntryPage) {
        auto [it, fresh] = page_pieces_.insert_or_assign(e.where, Piece{e.where * kPageSize, kPageSize, data_off, order_++});
        if (fresh && e.where >= main_size_ / kPageSize) available_pages_++;
        wal_pages_++;
      } else if (e.type == kWalEntryBytes) {
        byte_pieces_.emplace(e.where, Piece{e.where, e.data.size(), data_off, order_++});
        max_byte_piece_ = std::max<uint64_t>(max_byte_piece_, e.data.size());
        if (page_pieces_.contains(e.where / kPageSize))
          wal_delta_bytes_ += e.data.size();
        else
          wal_bytes_ += e.data.size();
      }
    }
  }
  for (auto& c : cache_) c.pgno = ~0ull;
  return Status::Ok();
}

Status DbImage::Read(uint64_t off, size_t n, uint8_t* out, ImageOrigin* origin) {
  ImageOrigin o;
  std::memset(out, 0, n);
  if (off < main_size_) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(n, main_size_ - off));
    size_t got = 0;
    VDB_RETURN_IF_ERROR(main_->Read(off, out, want, &got));
    if (got != want) return Status::IOError(main_->path() + ": short read at offset " + std::to_string(off));
  }
  const uint64_t end = off + n;
  std::vector<const Piece*> pieces;
  if (!page_pieces_.empty() && n > 0) {
    for (uint64_t p = off / kPageSize; p <= (end - 1) / kPageSize; p++) {
      auto it = page_pieces_.find(p);
      if (it != page_pieces_.end()) pieces.push_back(&it->second);
    }
  }
  if (!byte_pieces_.empty()) {
    auto it = byte_pieces_.lower_bound(off > max_byte_piece_ ? off - max_byte_piece_ : 0);
    for (; it != byte_pieces_.end() && it->first < end; ++it)
      if (it->first + it->second.len > off) pieces.push_back(&it->second);
  }
  std::sort(pieces.begin(), pieces.end(), [](const Piece* a, const Piece* b) { return a->order < b->order; });
  // Bytes past the file's end that no WAL entry supplies.
  if (end > main_size_) {
    uint64_t covered_from = std::max(off, main_size_);
    // Coverage test: every byte in [covered_from, end) must be in some piece.
    std::vector<std::pair<uint64_t, uint64_t>> spans;
    for (const Piece* p : pieces) spans.push_back({p->file_off, p->file_off + p->len});
    std::sort(spans.begin(), spans.end());
    uint64_t at = covered_from;
    for (auto& [s, e] : spans) {
      if (s > at) break;
      at = std::max(at, e);
    }
    if (at < end) o.past_end = true;
  }
  for (const Piece* p : pieces) {
    uint64_t s = std::max(off, p->file_off);
    uint64_t e = std::min(end, p->file_off + p->len);
    if (s >= e) continue;
    size_t got = 0;
    VDB_RETURN_IF_ERROR(wal_->Read(p->wal_off + (s - p->file_off), out + (s - off), e - s, &got));
    if (got != e - s) return Status::IOError(wal_->path() + ": short read at offset " + std::to_string(p->wal_off));
    o.from_wal = true;
  }
  if (origin) *origin = o;
  return Status::Ok();
}

Status DbImage::ReadPage(uint64_t pgno, uint8_t* out, ImageOrigin* origin) {
  CacheEntry& c = cache_[pgno % kCacheEntries];
  if (c.pgno != pgno) {
    if (!c.data) c.data.reset(new uint8_t[kPageSize]);
    c.pgno = ~0ull;
    if (pgno > (~0ull / kPageSize) - 1) return Status::InvalidArgument("page number out of range");
    VDB_RETURN_IF_ERROR(Read(pgno * kPageSize, kPageSize, c.data.get(), &c.origin));
    c.pgno = pgno;
  }
  std::memcpy(out, c.data.get(), kPageSize);
  if (origin) *origin = c.origin;
  return Status::Ok();
}

}  // namespace vdb::recovery
