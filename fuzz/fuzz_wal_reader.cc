// Fuzzes the WAL reader, replay's scan (no main file: nothing is applied)
// and the checker's WAL overlay index on arbitrary log bytes. The file id and
// generation come from the input's own header when it decodes, so intact
// records are read. Invariants: records are contiguous from the header on,
// every returned record's checksum verifies, the reader never passes the
// end, and replay's valid end and discarded bytes add up to the log's size.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "format/constants.h"
#include "format/wal_format.h"
#include "recovery/check_image.h"
#include "recovery/replay.h"
#include "recovery/wal_reader.h"

namespace {

class MemFile final : public vdb::File {
 public:
  explicit MemFile(std::string bytes) : bytes_(std::move(bytes)) {}
  const std::string& path() const override { return path_; }
  int fd() const override { return -1; }
  vdb::Status Read(uint64_t off, void* buf, size_t n, size_t* got) override {
    *got = off >= bytes_.size() ? 0 : std::min<uint64_t>(n, bytes_.size() - off);
    if (*got) std::memcpy(buf, bytes_.data() + off, *got);
    return vdb::Status::Ok();
  }
  vdb::Status Write(std::span<const vdb::WriteOp>) override { std::abort(); }
  vdb::Status WriteAndSync(std::span<const vdb::WriteOp>) override { std::abort(); }
  vdb::Status Sync() override { return vdb::Status::Ok(); }
  vdb::Status Truncate(uint64_t) override { std::abort(); }
  vdb::Status Allocate(uint64_t, uint64_t) override { std::abort(); }
  vdb::Result<uint64_t> Size() override { return static_cast<uint64_t>(bytes_.size()); }

 private:
  std::string path_ = "mem-wal";
  std::string bytes_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vdb::format;
  MemFile wal(std::string(reinterpret_cast<const char*>(data), size));
  WalHeader wh;
  wh.generation = 1;
  (void)DecodeWalHeader(data, size, &wh);
  const uint64_t seed = WalRecordSeed(wh.uuid, wh.generation);
  vdb::recovery::WalReader reader(&wal, size, seed, WalRecordSeed(wh.uuid, wh.generation - 1));
  vdb::recovery::WalRecord rec;
  uint64_t expect = kWalHeaderSize, first_seq = 0, n = 0;
  while (reader.Next(&rec)) {
    if (rec.offset != expect || rec.payload.size() != rec.header.payload_len) std::abort();
    std::string raw(reinterpret_cast<const char*>(data) + rec.offset, kWalRecordHeaderSize);
    if (!WalRecordChecksumOk(reinterpret_cast<const uint8_t*>(raw.data()), rec.payload, seed)) std::abort();
    expect += kWalRecordHeaderSize + rec.payload.size();
    if (reader.offset() != expect || expect > size) std::abort();
    if (n++ == 0) first_seq = rec.header.commit_seq;
  }
  if (reader.stop_reason().empty()) std::abort();

  FileHeader fh;
  std::memcpy(fh.uuid, wh.uuid, 16);
  fh.dim = 4;
  fh.vector_stride = 64;
  MetaPage meta;
  std::memcpy(meta.uuid, wh.uuid, 16);
  meta.wal_generation = wh.generation;
  meta.commit_seq = first_seq > 0 ? first_seq - 1 : 0;
  meta.body.page_count = 1 << 20;
  auto rr = vdb::recovery::ReplayWal(&wal, nullptr, fh, meta);
  if (rr.ok()) {
    // valid_end starts at the end of the 4096-byte header region, even in a
    // log shorter than that (the header itself needs only 48 bytes).
    const uint64_t end = std::max<uint64_t>(size, kWalHeaderSize);
    if (rr->valid_end > end || rr->commits > rr->records) std::abort();
    if (rr->wal_header_ok && rr->wal_generation == meta.wal_generation && rr->valid_end + rr->discarded_bytes != end &&
        size >= kWalHeaderSize)
      std::abort();
    if (rr->commits > 0) {
      MemFile main(std::string(8 * kPageSize, '\0'));
      vdb::recovery::DbImage image(&main, 8 * kPageSize, &wal);
      if (!image.IndexWal(rr->records, seed, WalRecordSeed(wh.uuid, wh.generation - 1), rr->valid_end).ok())
        std::abort();
      uint8_t page[kPageSize];
      for (uint64_t p = 0; p < 16; p++)
        if (!image.ReadPage(p, page).ok()) std::abort();
    }
  }
  return 0;
}
