#include "support/fault_env.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <set>
#include <sstream>

namespace vdb::testing {

namespace fs = std::filesystem;

const char* CallTypeName(CallType t) {
  switch (t) {
    case CallType::kAny: return "any";
    case CallType::kWrite: return "write";
    case CallType::kWriteAndSync: return "write+sync";
    case CallType::kSync: return "sync";
    case CallType::kTruncate: return "truncate";
    case CallType::kAllocate: return "allocate";
    case CallType::kCreate: return "create";
    case CallType::kRemove: return "remove";
    case CallType::kRename: return "rename";
    case CallType::kSyncDir: return "syncdir";
  }
  return "?";
}

const char* FaultKindName(FaultKind k) {
  switch (k) {
    case FaultKind::kEIO: return "EIO";
    case FaultKind::kNoSpace: return "ENOSPC";
    case FaultKind::kShortWrite: return "short-write";
  }
  return "?";
}

CrashPolicy CrashPolicy::ProcessCrash() {
  CrashPolicy p;
  p.name = "process-crash";
  p.keep = 1;
  p.drop = 0;
  p.keep_resize = 1;
  p.keep_namespace = 1;
  return p;
}

CrashPolicy CrashPolicy::DropUnsynced() {
  CrashPolicy p;
  p.name = "drop-unsynced";
  p.keep = 0;
  p.drop = 1;
  p.keep_resize = 0;
  p.keep_namespace = 0;
  return p;
}

CrashPolicy CrashPolicy::TornSectors() {
  CrashPolicy p;
  p.name = "torn-sectors";
  p.keep = 1;
  p.drop = 1;
  p.torn = 2;
  p.keep_resize = 0.5;
  p.keep_namespace = 0.5;
  return p;
}

CrashPolicy CrashPolicy::ShornWrites() {
  CrashPolicy p;
  p.name = "shorn-writes";
  p.keep = 1;
  p.drop = 1;
  p.shorn = 2;
  p.keep_resize = 0.5;
  p.keep_namespace = 0.5;
  return p;
}

CrashPolicy CrashPolicy::Chaos() {
  CrashPolicy p;
  p.name = "chaos";
  p.keep = 1;
  p.drop = 1;
  p.torn = 1;
  p.shorn = 1;
  p.garbage = 1;
  p.keep_resize = 0.5;
  p.keep_namespace = 0.5;
  return p;
}

std::vector<CrashPolicy> CrashPolicy::All() {
  return {ProcessCrash(), DropUnsynced(), TornSectors(), ShornWrites(), Chaos()};
}

std::string CrashStats::ToString() const {
  std::ostringstream os;
  os << "durable_ops=" << durable_ops << " kept=" << writes_kept << " dropped=" << writes_dropped
     << " torn=" << writes_torn << " shorn=" << writes_shorn << " garbled=" << writes_garbled
     << " resizes_dropped=" << resizes_dropped << " ns_dropped=" << namespace_ops_dropped << " files=" << files;
  return os.str();
}

std::string NormalizePath(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(fs::path(path), ec);
  if (ec) p = fs::path(path);
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

namespace {

std::string DirOf(const std::string& normalized_path) { return NormalizePath(DirName(normalized_path)); }

Status ReadWhole(File* f, std::string* out) {
  VDB_ASSIGN_OR_RETURN(uint64_t size, f->Size());
  out->assign(size, '\0');
  size_t got = 0;
  if (size > 0) VDB_RETURN_IF_ERROR(f->Read(0, out->data(), size, &got));
  out->resize(got);
  return Status::Ok();
}

void ApplyBytes(std::string* image, uint64_t off, const char* data, size_t len) {
  if (len == 0) return;
  if (image->size() < off + len) image->resize(off + len, '\0');
  std::copy(data, data + len, image->begin() + static_cast<std::ptrdiff_t>(off));
}

}  // namespace

// A File whose mutating calls are recorded by (and may be failed by) its
// FaultEnv. Owns the base File.
class FaultFile final : public File {
 public:
  FaultFile(FaultEnv* env, std::unique_ptr<File> base, uint32_t inode)
      : env_(env), base_(std::move(base)), inode_(inode) {}

  const std::string& path() const override { return base_->path(); }
  int fd() const override { return base_->fd(); }
  File* base() const { return base_.get(); }

  Status Read(uint64_t off, void* buf, size_t n, size_t* got) override { return base_->Read(off, buf, n, got); }

  Status Write(std::span<const WriteOp> ops) override {
    std::lock_guard<std::mutex> lock(env_->mu_);
    FaultKind kind;
    if (env_->ShouldFailLocked(CallType::kWrite, &kind)) {
      if (kind == FaultKind::kShortWrite) WritePrefixLocked(ops);
      return env_->FaultStatus(kind, "write " + path());
    }
    VDB_RETURN_IF_ERROR(base_->Write(ops));
    RecordWritesLocked(ops);
    return Status::Ok();
  }

  Status WriteAndSync(std::span<const WriteOp> ops) override {
    std::lock_guard<std::mutex> lock(env_->mu_);
    FaultKind kind;
    if (env_->ShouldFailLocked(CallType::kWriteAndSync, &kind)) return FailDurableWriteLocked(kind, ops, "write+sync ");
    Status st = base_->WriteAndSync(ops);
    // On a real failure we cannot tell which writes landed: record them all as
    // never made durable, which is the most pessimistic truth.
    RecordWritesLocked(ops);
    RecordSyncLocked(st.ok());
    return st;
  }

  // Faults are drawn as for WriteAndSync (the same CallType), so the I/O
  // error sweeps cover both durable write paths.
  Status WriteDsync(std::span<const WriteOp> ops) override {
    std::lock_guard<std::mutex> lock(env_->mu_);
    FaultKind kind;
    if (env_->ShouldFailLocked(CallType::kWriteAndSync, &kind)) return FailDurableWriteLocked(kind, ops, "write+dsync ");
    Status st = base_->WriteDsync(ops);
    RecordWritesLocked(ops, /*dsync=*/st.ok());
    if (!st.ok()) RecordSyncLocked(false);
    return st;
  }

  Status Sync() override {
    std::lock_guard<std::mutex> lock(env_->mu_);
    FaultKind kind;
    if (env_->ShouldFailLocked(CallType::kSync, &kind)) {
      RecordSyncLocked(false);
      return env_->FaultStatus(kind, "sync " + path());
    }
    Status st = base_->Sync();
    RecordSyncLocked(st.ok());
    return st;
  }

  Status Truncate(uint64_t size) override {
    std::lock_guard<std::mutex> lock(env_->mu_);
    FaultKind kind;
    if (env_->ShouldFailLocked(CallType::kTruncate, &kind)) return env_->FaultStatus(kind, "truncate " + path());
    VDB_RETURN_IF_ERROR(base_->Truncate(size));
    OpRecord op;
    op.kind = OpRecord::Kind::kTruncate;
    op.inode = inode_;
    op.offset = size;
    env_->RecordLocked(std::move(op));
    return Status::Ok();
  }

  Status Allocate(uint64_t off, uint64_t len) override {
    std::lock_guard<std::mutex> lock(env_->mu_);
    FaultKind kind;
    if (env_->ShouldFailLocked(CallType::kAllocate, &kind)) return env_->FaultStatus(kind, "allocate " + path());
    VDB_RETURN_IF_ERROR(base_->Allocate(off, len));
    OpRecord op;
    op.kind = OpRecord::Kind::kAllocate;
    op.inode = inode_;
    op.offset = off;
    op.length = len;
    env_->RecordLocked(std::move(op));
    return Status::Ok();
  }

  Result<uint64_t> Size() override { return base_->Size(); }

 private:
  // REQUIRES: env_->mu_ held.
  void RecordWritesLocked(std::span<const WriteOp> ops, bool dsync = false) {
    for (const WriteOp& w : ops) {
      if (w.len == 0) continue;
      OpRecord op;
      op.kind = OpRecord::Kind::kWrite;
      op.dsync = dsync;
      op.inode = inode_;
      op.offset = w.offset;
      op.length = w.len;
      op.data.assign(static_cast<const char*>(w.data), w.len);
      env_->RecordLocked(std::move(op));
    }
  }

  // An injected fault of a durable write (WriteAndSync, WriteDsync): a short
  // write stores a prefix; EIO lets the bytes reach the page cache and fails
  // their sync.
  // REQUIRES: env_->mu_ held.
  Status FailDurableWriteLocked(FaultKind kind, std::span<const WriteOp> ops, const char* what) {
    if (kind == FaultKind::kShortWrite) {
      WritePrefixLocked(ops);
    } else if (kind == FaultKind::kEIO) {
      if (base_->Write(ops).ok()) RecordWritesLocked(ops);
      RecordSyncLocked(false);
    }
    return env_->FaultStatus(kind, what + path());
  }

  // REQUIRES: env_->mu_ held.
  void RecordSyncLocked(bool ok) {
    OpRecord op;
    op.kind = ok ? OpRecord::Kind::kSync : OpRecord::Kind::kSyncFailed;
    op.inode = inode_;
    env_->RecordLocked(std::move(op));
  }

  // Writes (and records) about the first half of the bytes of ops.
  // REQUIRES: env_->mu_ held.
  void WritePrefixLocked(std::span<const WriteOp> ops) {
    size_t total = 0;
    for (const WriteOp& w : ops) total += w.len;
    size_t budget = total / 2;
    std::vector<WriteOp> prefix;
    for (const WriteOp& w : ops) {
      if (budget == 0) break;
      size_t n = std::min(budget, w.len);
      prefix.push_back({w.offset, w.data, n});
      budget -= n;
    }
    if (prefix.empty()) return;
    if (base_->Write(prefix).ok()) RecordWritesLocked(prefix);
  }

  FaultEnv* const env_;
  std::unique_ptr<File> base_;
  const uint32_t inode_;
};

FaultEnv::FaultEnv(Env* base, std::string root) : base_(base), root_(NormalizePath(root)) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    std::string p = NormalizePath(entry.path().string());
    auto f = base_->Open(p, FileOpenOptions{.read_only = true});
    if (!f.ok()) continue;
    std::string data;
    if (!ReadWhole(f->get(), &data).ok()) continue;
    uint32_t ino = NewInodeLocked(std::move(data));
    live_ns_[p] = ino;
    initial_ns_[p] = ino;
  }
}

FaultEnv::~FaultEnv() = default;

uint32_t FaultEnv::NewInodeLocked(std::string initial) {
  inodes_.push_back(Inode{std::move(initial)});
  return static_cast<uint32_t>(inodes_.size() - 1);
}

void FaultEnv::RecordLocked(OpRecord op) { log_.push_back(std::move(op)); }

bool FaultEnv::ShouldFailLocked(CallType t, FaultKind* kind) {
  counts_[static_cast<int>(CallType::kAny)]++;
  counts_[static_cast<int>(t)]++;
  if (fault_.nth == 0) return false;
  if (fault_.call != CallType::kAny && fault_.call != t) return false;
  bool fire = fault_fired_ ? fault_.sticky : counts_[static_cast<int>(fault_.call)] == fault_.nth;
  if (!fire) return false;
  if (!fault_fired_) {
    fault_op_index_ = log_.size();
    fault_fired_call_ = t;
  }
  fault_fired_ = true;
  *kind = fault_.kind;
  return true;
}

Status FaultEnv::FaultStatus(FaultKind kind, const std::string& what) const {
  switch (kind) {
    case FaultKind::kNoSpace: return Status::FromErrno(ENOSPC, "injected fault: " + what);
    case FaultKind::kShortWrite: return Status::IOError("injected fault: " + what + ": short write");
    case FaultKind::kEIO: break;
  }
  return Status::FromErrno(EIO, "injected fault: " + what);
}

Result<uint32_t> FaultEnv::InodeForPathLocked(const std::string& p) {
  auto it = live_ns_.find(p);
  if (it != live_ns_.end()) return it->second;
  if (base_->Exists(p)) {
    // A file we have not seen (outside root, or made behind our back): its
    // current contents are taken as durable.
    auto f = base_->Open(p, FileOpenOptions{.read_only = true});
    std::string data;
    if (f.ok()) VDB_RETURN_IF_ERROR(ReadWhole(f->get(), &data));
    uint32_t ino = NewInodeLocked(std::move(data));
    live_ns_[p] = ino;
    initial_ns_[p] = ino;
    return ino;
  }
  return Status::NotFound(p + ": no such file");
}

Result<std::unique_ptr<File>> FaultEnv::Open(const std::string& path, const FileOpenOptions& opts) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string p = NormalizePath(path);
  FaultKind kind;
  if (opts.create && ShouldFailLocked(CallType::kCreate, &kind)) return FaultStatus(kind, "create " + path);
  bool existed = live_ns_.count(p) > 0 || base_->Exists(p);
  VDB_ASSIGN_OR_RETURN(std::unique_ptr<File> file, base_->Open(path, opts));
  uint32_t ino = 0;
  if (existed) {
    VDB_ASSIGN_OR_RETURN(ino, InodeForPathLocked(p));
  } else {
    ino = NewInodeLocked("");
    live_ns_[p] = ino;
    OpRecord op;
    op.kind = OpRecord::Kind::kCreate;
    op.inode = ino;
    op.path = p;
    RecordLocked(std::move(op));
  }
  return std::unique_ptr<File>(new FaultFile(this, std::move(file), ino));
}

Status FaultEnv::Remove(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  FaultKind kind;
  if (ShouldFailLocked(CallType::kRemove, &kind)) return FaultStatus(kind, "remove " + path);
  std::string p = NormalizePath(path);
  (void)InodeForPathLocked(p);  // snapshots a file not seen before
  VDB_RETURN_IF_ERROR(base_->Remove(path));
  live_ns_.erase(p);
  OpRecord op;
  op.kind = OpRecord::Kind::kRemove;
  op.path = p;
  RecordLocked(std::move(op));
  return Status::Ok();
}

Status FaultEnv::Rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  FaultKind kind;
  if (ShouldFailLocked(CallType::kRename, &kind)) return FaultStatus(kind, "rename " + from + " to " + to);
  std::string pf = NormalizePath(from), pt = NormalizePath(to);
  (void)InodeForPathLocked(pf);
  (void)InodeForPathLocked(pt);
  VDB_RETURN_IF_ERROR(base_->Rename(from, to));
  auto it = live_ns_.find(pf);
  if (it != live_ns_.end()) {
    uint32_t ino = it->second;
    live_ns_.erase(it);
    live_ns_[pt] = ino;
  }
  OpRecord op;
  op.kind = OpRecord::Kind::kRename;
  op.path = pf;
  op.path2 = pt;
  RecordLocked(std::move(op));
  return Status::Ok();
}

Status FaultEnv::SyncDir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu_);
  FaultKind kind;
  if (ShouldFailLocked(CallType::kSyncDir, &kind)) return FaultStatus(kind, "sync directory " + dir);
  VDB_RETURN_IF_ERROR(base_->SyncDir(dir));
  OpRecord op;
  op.kind = OpRecord::Kind::kSyncDir;
  op.path = NormalizePath(dir);
  RecordLocked(std::move(op));
  return Status::Ok();
}

bool FaultEnv::Exists(const std::string& path) { return base_->Exists(path); }

Status FaultEnv::Lock(File* file, bool exclusive) {
  if (auto* ff = dynamic_cast<FaultFile*>(file)) return base_->Lock(ff->base(), exclusive);
  return base_->Lock(file, exclusive);
}

uint64_t FaultEnv::OpCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_.size();
}

std::vector<uint64_t> FaultEnv::SyncOpIndices() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<uint64_t> out;
  for (uint64_t i = 0; i < log_.size(); i++)
    if (log_[i].kind == OpRecord::Kind::kSync || log_[i].kind == OpRecord::Kind::kSyncDir) out.push_back(i);
  return out;
}

OpRecord FaultEnv::Op(uint64_t i) const {
  std::lock_guard<std::mutex> lock(mu_);
  return i < log_.size() ? log_[i] : OpRecord{};
}

std::string FaultEnv::DescribeOp(uint64_t i) const {
  OpRecord op = Op(i);
  std::ostringstream os;
  os << "#" << i << " ";
  switch (op.kind) {
    case OpRecord::Kind::kCreate: os << "create " << op.path << " (inode " << op.inode << ")"; break;
    case OpRecord::Kind::kWrite:
      os << "write inode " << op.inode << " [" << op.offset << ", +" << op.length << ")";
      if (op.dsync) os << " dsync";
      break;
    case OpRecord::Kind::kSync: os << "sync inode " << op.inode; break;
    case OpRecord::Kind::kSyncFailed: os << "FAILED sync inode " << op.inode; break;
    case OpRecord::Kind::kTruncate: os << "truncate inode " << op.inode << " to " << op.offset; break;
    case OpRecord::Kind::kAllocate:
      os << "allocate inode " << op.inode << " [" << op.offset << ", +" << op.length << ")";
      break;
    case OpRecord::Kind::kRemove: os << "remove " << op.path; break;
    case OpRecord::Kind::kRename: os << "rename " << op.path << " -> " << op.path2; break;
    case OpRecord::Kind::kSyncDir: os << "syncdir " << op.path; break;
  }
  return os.str();
}

std::string FaultEnv::DescribeOpsBefore(uint64_t p, uint64_t n) const {
  std::string out;
  for (uint64_t i = p > n ? p - n : 0; i < p; i++) out += "  " + DescribeOp(i) + "\n";
  return out;
}

void FaultEnv::InjectFault(const FaultSpec& spec) {
  std::lock_guard<std::mutex> lock(mu_);
  fault_ = spec;
  fault_fired_ = false;
  fault_op_index_ = 0;
  fault_fired_call_ = CallType::kAny;
  std::fill(std::begin(counts_), std::end(counts_), 0);
}

void FaultEnv::ClearFault() {
  std::lock_guard<std::mutex> lock(mu_);
  fault_ = FaultSpec{};
}

bool FaultEnv::FaultFired() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fault_fired_;
}

uint64_t FaultEnv::FaultOpIndex() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fault_op_index_;
}

CallType FaultEnv::FaultFiredCall() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fault_fired_call_;
}

uint64_t FaultEnv::CallCount(CallType t) const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_[static_cast<int>(t)];
}

void FaultEnv::ResetCallCounts() {
  std::lock_guard<std::mutex> lock(mu_);
  std::fill(std::begin(counts_), std::end(counts_), 0);
}

Status FaultEnv::MaterializeCrash(uint64_t crash_point, const CrashPolicy& policy, std::mt19937_64& rng,
                                  const std::string& out_dir, CrashStats* stats) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (crash_point > log_.size())
    return Status::InvalidArgument("crash point " + std::to_string(crash_point) + " beyond the " +
                                   std::to_string(log_.size()) + " recorded ops");
  CrashStats local;
  CrashStats& st = stats ? *stats : local;
  st = CrashStats{};
  using Kind = OpRecord::Kind;
  const uint64_t n = crash_point;

  // Which ops are durable: walk backwards remembering, per inode, whether the
  // next sync after this point succeeded, and which directories get synced.
  std::vector<char> durable(n, 0);
  {
    std::vector<int8_t> next_sync(inodes_.size(), 0);  // 0 none, 1 ok, -1 failed
    std::set<std::string> synced_dirs;
    for (uint64_t i = n; i-- > 0;) {
      const OpRecord& op = log_[i];
      switch (op.kind) {
        case Kind::kSync: next_sync[op.inode] = 1; break;
        case Kind::kSyncFailed: next_sync[op.inode] = -1; break;
        case Kind::kWrite: durable[i] = op.dsync || next_sync[op.inode] == 1; break;
        case Kind::kTruncate:
        case Kind::kAllocate: durable[i] = next_sync[op.inode] == 1; break;
        case Kind::kSyncDir: synced_dirs.insert(op.path); break;
        case Kind::kCreate:
        case Kind::kRemove: durable[i] = synced_dirs.count(DirOf(op.path)) > 0; break;
        case Kind::kRename:
          durable[i] = synced_dirs.count(DirOf(op.path)) > 0 && synced_dirs.count(DirOf(op.path2)) > 0;
          break;
      }
      if (durable[i]) st.durable_ops++;
    }
  }

  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto coin = [&](double p) { return p >= 1.0 || (p > 0.0 && unit(rng) < p); };

  // The namespace after the crash.
  std::map<std::string, uint32_t> ns = initial_ns_;
  for (uint64_t i = 0; i < n; i++) {
    const OpRecord& op = log_[i];
    if (op.kind != Kind::kCreate && op.kind != Kind::kRemove && op.kind != Kind::kRename) continue;
    if (!durable[i] && !coin(policy.keep_namespace)) {
      st.namespace_ops_dropped++;
      continue;
    }
    if (op.kind == Kind::kCreate) {
      ns[op.path] = op.inode;
    } else if (op.kind == Kind::kRemove) {
      ns.erase(op.path);
    } else {
      auto it = ns.find(op.path);
      if (it == ns.end()) continue;
      uint32_t ino = it->second;
      ns.erase(it);
      ns[op.path2] = ino;
    }
  }

  // The contents of every inode still named.
  std::map<uint32_t, std::string> images;
  for (const auto& [path, ino] : ns) images.emplace(ino, inodes_[ino].initial);
  const double total_weight = policy.keep + policy.drop + policy.torn + policy.shorn + policy.garbage;
  for (uint64_t i = 0; i < n; i++) {
    const OpRecord& op = log_[i];
    if (op.kind != Kind::kWrite && op.kind != Kind::kTruncate && op.kind != Kind::kAllocate) continue;
    auto it = images.find(op.inode);
    if (it == images.end()) continue;
    std::string& image = it->second;
    if (op.kind != Kind::kWrite) {
      if (!durable[i] && !coin(policy.keep_resize)) {
        st.resizes_dropped++;
        continue;
      }
      if (op.kind == Kind::kTruncate) {
        image.resize(op.offset, '\0');
      } else if (image.size() < op.offset + op.length) {
        image.resize(op.offset + op.length, '\0');
      }
      continue;
    }
    if (durable[i]) {
      ApplyBytes(&image, op.offset, op.data.data(), op.data.size());
      continue;
    }
    double r = total_weight > 0 ? unit(rng) * total_weight : 0;
    if (r < policy.keep || total_weight <= 0) {
      if (total_weight <= 0) {
        st.writes_dropped++;
        continue;
      }
      st.writes_kept++;
      ApplyBytes(&image, op.offset, op.data.data(), op.data.size());
      continue;
    }
    r -= policy.keep;
    if (r < policy.drop) {
      st.writes_dropped++;
      continue;
    }
    r -= policy.drop;
    if (r >= policy.torn && r < policy.torn + policy.shorn) {
      st.writes_shorn++;
      // Half the cuts fall in the first sector, where headers live; the rest
      // anywhere in the write.
      const size_t len = op.data.size();
      size_t cut = rng() % 2 == 0 ? static_cast<size_t>(rng() % (std::min<size_t>(len, kSectorSize) + 1))
                                  : static_cast<size_t>(rng() % (len + 1));
      ApplyBytes(&image, op.offset, op.data.data(), cut);
      continue;
    }
    const bool garble = r >= policy.torn + policy.shorn;
    if (garble) {
      st.writes_garbled++;
    } else {
      st.writes_torn++;
    }
    // Sector by sector (absolute 512-byte sectors).
    uint64_t end = op.offset + op.data.size();
    for (uint64_t s = op.offset; s < end;) {
      uint64_t e = std::min(end, (s / kSectorSize + 1) * kSectorSize);
      const char* src = op.data.data() + (s - op.offset);
      size_t len = static_cast<size_t>(e - s);
      if (!garble) {
        if (coin(0.5)) ApplyBytes(&image, s, src, len);
      } else {
        uint64_t choice = rng() % 3;
        if (choice == 0) {
          ApplyBytes(&image, s, src, len);
        } else if (choice == 1) {
          std::string junk(len, '\0');
          for (auto& c : junk) c = static_cast<char>(rng());
          ApplyBytes(&image, s, junk.data(), len);
        }
      }
      s = e;
    }
  }

  // Write the files.
  std::error_code ec;
  fs::remove_all(out_dir, ec);
  fs::create_directories(out_dir, ec);
  if (ec) return Status::IOError("create " + out_dir + ": " + ec.message());
  const fs::path root(root_);
  for (const auto& [path, ino] : ns) {
    fs::path rel = fs::path(path).lexically_relative(root);
    if (rel.empty() || *rel.begin() == "..") continue;  // outside root
    fs::path dest = fs::path(out_dir) / rel;
    fs::create_directories(dest.parent_path(), ec);
    int fd = ::open(dest.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno(errno, "create " + dest.string());
    const std::string& image = images[ino];
    size_t done = 0;
    while (done < image.size()) {
      ssize_t w = ::write(fd, image.data() + done, image.size() - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        int e = errno;
        ::close(fd);
        return Status::FromErrno(e, "write " + dest.string());
      }
      done += static_cast<size_t>(w);
    }
    ::close(fd);
    st.files++;
  }
  return Status::Ok();
}

}  // namespace vdb::testing
