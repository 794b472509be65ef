#include "recovery/wal_writer.h"

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
  {
    std::lock_guard<std::mutex> l(w->io_mu_);
    VDB_RETURN_IF_ERROR(w->WriteHeader());
  }
  VDB_RETURN_IF_ERROR(w->file_->Sync());
  {
    std::lock_guard<std::mutex> l(w->io_mu_);
    w->synced_ = w->written_;
  }
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

// REQUIRES: io_mu_ held; the buffer is empty.
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
  synced_ = 0;  // the new header is not durable yet
  std::lock_guard<std::mutex> b(buf_mu_);
  buf_start_ = kWalHeaderSize;
  size_.store(kWalHeaderSize, std::memory_order_relaxed);
  return Status::Ok();
}

void WalWriter::Append(uint64_t commit_seq, const std::vector<std::string>& payloads) {
  size_t n = 0;
  for (const std::string& p : payloads) n += kWalRecordHeaderSize + p.size();
  std::lock_guard<std::mutex> l(buf_mu_);
  buf_.reserve(buf_.size() + n);
  for (size_t i = 0; i < payloads.size(); i++) {
    uint32_t flags = (i + 1 == payloads.size()) ? kWalFlagCommitEnd : 0;
    uint8_t header[kWalRecordHeaderSize];
    EncodeWalRecordHeader(commit_seq, flags, payloads[i], seed_, header);
    buf_.append(reinterpret_cast<const char*>(header), kWalRecordHeaderSize);
    buf_.append(payloads[i]);
  }
  size_.fetch_add(n, std::memory_order_relaxed);
}

// Writes the buffer (durably if sync), then then_ops to then if given.
// REQUIRES: sync if then_ops is not empty.
Status WalWriter::WriteBuffered(bool sync, File* then, std::span<const WriteOp> then_ops, bool* synced) {
  if (synced != nullptr) *synced = false;
  std::lock_guard<std::mutex> l(io_mu_);
  if (!broken_.ok()) return broken_;
  std::string chunk;
  uint64_t off;
  {
    std::lock_guard<std::mutex> b(buf_mu_);
    chunk.swap(buf_);
    off = buf_start_;
    buf_start_ += chunk.size();
  }
  std::vector<WriteOp> ops;
  const uint64_t end = off + chunk.size();
  if (!chunk.empty()) ops.push_back({off, chunk.data(), chunk.size()});
  uint64_t new_written = written_;
  if (end > written_) {
    // Zero-fill ahead so the file size changes once per kWalGrowStep.
    uint64_t fill_end = (end + kWalGrowStep - 1) / kWalGrowStep * kWalGrowStep;
    for (uint64_t z = std::max(end, written_); z < fill_end; z += kWalGrowStep)
      ops.push_back({z, kZeros, std::min<uint64_t>(kWalGrowStep, fill_end - z)});
    new_written = fill_end;
  }
  Status s;
  bool logged = false;  // the log part succeeded (then_ops may have failed after it)
  // A write with RWF_DSYNC syncs its own bytes only: enough when everything
  // before them is durable and the log does not grow (the grow-ahead fill
  // rides with a full fdatasync, which also makes the new size durable).
  const bool dsync = sync && ops.size() == 1 && end <= written_ && synced_ >= off;
  if (dsync && then != nullptr && !then_ops.empty()) {
    s = file_->WriteDsyncThen(ops, then, then_ops, &logged);
  } else {
    if (dsync)
      s = file_->WriteDsync(ops);
    else if (sync)
      s = ops.empty() ? file_->Sync() : file_->WriteAndSync(ops);
    else if (!ops.empty())
      s = file_->Write(ops);
    logged = s.ok();
    if (logged && then != nullptr && !then_ops.empty()) s = then->Write(then_ops);
  }
  if (!logged) {
    // Records after a hole could never be replayed: the log is done for.
    broken_ = s.WithContext(sync ? "WAL write and sync" : "WAL write");
    return broken_;
  }
  written_ = new_written;
  if (dsync)
    synced_ = std::max(synced_, end);
  else if (sync)
    synced_ = written_;
  if (synced != nullptr) *synced = true;
  return s;
}

Status WalWriter::Flush() { return WriteBuffered(false); }

Status WalWriter::Sync() { return WriteBuffered(true); }

Status WalWriter::SyncThenWrite(File* then, std::span<const WriteOp> then_ops, bool* synced) {
  return WriteBuffered(true, then, then_ops, synced);
}

Status WalWriter::Reset(uint64_t new_generation) {
  VDB_RETURN_IF_ERROR(Sync());  // normally a no-op: the caller synced every record
  std::lock_guard<std::mutex> l(io_mu_);
  generation_ = new_generation;
  seed_ = WalRecordSeed(uuid_, generation_);
  VDB_RETURN_IF_ERROR(WriteHeader());
  VDB_RETURN_IF_ERROR(file_->Sync());
  synced_ = written_;
  return Status::Ok();
}

}  // namespace vdb::recovery
