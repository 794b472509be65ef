#include "recovery/wal_writer.h"

#include <array>
#include <algorithm>
#include <cstring>

#include "format/constants.h"
#include "format/wal_format.h"

namespace vdb::recovery {

using namespace vdb::format;

WalWriter::WalWriter(std::unique_ptr<File> f, const uint8_t uuid[16], uint64_t generation)
    : file_(std::move(f)), generation_(generation), seed_(WalRecordSeed(uuid, generation)) {
  std::memcpy(uuid_, uuid, 16);
}

Result<std::unique_ptr<WalWriter>> WalWriter::Create(Env* env, const std::string& path, const uint8_t uuid[16],
                                                     uint64_t generation) {
  FileOpenOptions o;
  o.create = true;
  VDB_ASSIGN_OR_RETURN(auto f, env->Open(path, o));
  std::unique_ptr<WalWriter> w(new WalWriter(std::move(f), uuid, generation));
  VDB_RETURN_IF_ERROR(w->WriteHeader());
  VDB_RETURN_IF_ERROR(w->file_->Sync());
  VDB_RETURN_IF_ERROR(env->SyncDir(DirName(path)));
  return w;
}

namespace {
// The log grows in zero-filled steps of this size, so most commits' fdatasync
// writes data only, not the file's size.
constexpr uint64_t kWalGrowStep = 1u << 20;
constexpr uint64_t kWalKeepBytes = 256ull << 20;
const char kZeros[kWalGrowStep] = {};
}  // namespace

Status WalWriter::WriteHeader() {
  uint8_t hdr[kWalHeaderSize] = {};
  WalHeader h;
  std::memcpy(h.uuid, uuid_, 16);
  h.generation = generation_;
  EncodeWalHeader(h, hdr);
  VDB_RETURN_IF_ERROR(file_->Write(0, hdr, kWalHeaderSize));
  if (written_ == 0 || written_ > kWalKeepBytes) {
    VDB_RETURN_IF_ERROR(file_->Truncate(kWalHeaderSize));
    written_ = kWalHeaderSize;
  }
  size_ = kWalHeaderSize;
  return Status::Ok();
}

Status WalWriter::Append(uint64_t commit_seq, const std::vector<std::string>& payloads, bool* unusable) {
  *unusable = false;
  std::vector<std::array<uint8_t, kWalRecordHeaderSize>> headers(payloads.size());
  std::vector<WriteOp> ops;
  ops.reserve(payloads.size() * 2);
  uint64_t off = size_;
  for (size_t i = 0; i < payloads.size(); i++) {
    uint32_t flags = (i + 1 == payloads.size()) ? kWalFlagCommitEnd : 0;
    EncodeWalRecordHeader(commit_seq, flags, payloads[i], seed_, headers[i].data());
    ops.push_back({off, headers[i].data(), kWalRecordHeaderSize});
    off += kWalRecordHeaderSize;
    ops.push_back({off, payloads[i].data(), payloads[i].size()});
    off += payloads[i].size();
  }
  uint64_t new_written = written_;
  if (off > written_) {
    // Zero-fill ahead so the file size changes once per kWalGrowStep.
    uint64_t fill_end = (off + kWalGrowStep - 1) / kWalGrowStep * kWalGrowStep;
    for (uint64_t z = std::max(off, written_); z < fill_end; z += kWalGrowStep)
      ops.push_back({z, kZeros, std::min<uint64_t>(kWalGrowStep, fill_end - z)});
    new_written = fill_end;
  }
  Status s = file_->Write(ops);
  if (!s.ok()) {
    // Cut the partial record off so the next commit follows the last good one.
    Status t = file_->Truncate(size_);
    written_ = size_;
    if (!t.ok()) {
      *unusable = true;
      return s.WithContext("WAL append failed and could not be cut back (" + t.ToString() + ")");
    }
    return s.WithContext("WAL append");
  }
  size_ = off;
  written_ = new_written;
  return Status::Ok();
}

Status WalWriter::Sync() { return file_->Sync(); }

Status WalWriter::Reset(uint64_t new_generation) {
  generation_ = new_generation;
  seed_ = WalRecordSeed(uuid_, generation_);
  VDB_RETURN_IF_ERROR(WriteHeader());
  return file_->Sync();
}

}  // namespace vdb::recovery
