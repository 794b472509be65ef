// Create, open (with crash recovery) and close.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "engine/db_impl.h"
#include "engine/test_hooks.h"
#include "format/checksum.h"
#include "format/pages.h"
#include "recovery/replay.h"

namespace vdb {

using namespace vdb::format;

namespace test_hooks {
PlantedBugs& Bugs() {
  static PlantedBugs bugs;
  return bugs;
}
}  // namespace test_hooks

const char* MetricName(Metric m) {
  switch (m) {
    case Metric::kCosine: return "cosine";
    case Metric::kL2: return "l2";
    case Metric::kDot: return "dot";
  }
  return "unknown";
}

Result<Metric> ParseMetric(std::string_view name) {
  if (name == "cosine") return Metric::kCosine;
  if (name == "l2") return Metric::kL2;
  if (name == "dot" || name == "ip") return Metric::kDot;
  return Status::InvalidArgument("unknown metric '" + std::string(name) + "' (expected cosine, l2 or dot)");
}

void WriteBatch::Put(std::string id, std::vector<float> vector, std::string metadata_json) {
  ops_.push_back({false, std::move(id), std::move(vector), std::move(metadata_json)});
}
void WriteBatch::Delete(std::string id) { ops_.push_back({true, std::move(id), {}, {}}); }

Result<std::unique_ptr<Database>> Database::Create(const std::string& path, const CreateOptions& create,
                                                   const OpenOptions& options) {
  return DbImpl::CreateImpl(path, create, options);
}

Result<std::unique_ptr<Database>> Database::Open(const std::string& path, const OpenOptions& options) {
  return DbImpl::OpenImpl(path, options);
}

DbImpl::~DbImpl() {
  if (!closed_) (void)Close();
}

Result<std::unique_ptr<Database>> DbImpl::CreateImpl(const std::string& path, const CreateOptions& c,
                                                     const OpenOptions& options) {
  if (c.dim == 0 || c.dim > format::kMaxDim)
    return Status::InvalidArgument("dimension must be between 1 and " + std::to_string(format::kMaxDim) + ", got " +
                                   std::to_string(c.dim));
  if (c.metric != Metric::kCosine && c.metric != Metric::kL2 && c.metric != Metric::kDot)
    return Status::InvalidArgument("unknown metric");
  if (c.element_type != ElementType::kFloat32) return Status::NotSupported("only float32 vectors are supported");
  if (c.hnsw_m < 2 || c.hnsw_m > 128) return Status::InvalidArgument("HNSW M must be between 2 and 128");
  if (c.hnsw_ef_construction == 0 || c.hnsw_ef_construction > 100000)
    return Status::InvalidArgument("ef_construction must be between 1 and 100000");
  if (options.read_only) return Status::InvalidArgument("cannot create a database read-only");
  Env* env = options.env ? options.env : Env::Default();
  if (env->Exists(path)) return Status::InvalidArgument(path + " already exists");

  FileHeader h;
  h.format_version = kFormatVersion;
  h.page_size = kPageSize;
  h.dim = c.dim;
  h.element_type = kElemFloat32;
  h.metric = static_cast<uint8_t>(c.metric);
  h.vector_stride = VectorStrideFor(c.dim);
  h.hnsw_m = c.hnsw_m;
  h.hnsw_m0 = 2 * c.hnsw_m;
  h.hnsw_ef_construction = c.hnsw_ef_construction;
  h.hnsw_seed = c.hnsw_seed;
  std::random_device rd;
  for (int i = 0; i < 16; i += 4) {
    uint32_t r = rd();
    std::memcpy(h.uuid + i, &r, 4);
  }
  h.uuid[6] = (h.uuid[6] & 0x0F) | 0x40;  // RFC 4122 version 4
  h.uuid[8] = (h.uuid[8] & 0x3F) | 0x80;
  h.created_micros = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  h.first_extent_slots = kFirstExtentSlots;

  std::vector<uint8_t> buf(3 * kPageSize, 0);
  EncodeHeader(h, buf.data());
  MetaPage m;
  std::memcpy(m.uuid, h.uuid, 16);
  m.meta_seq = 1;
  m.wal_generation = 1;
  EncodeMetaPage(m, kMetaPageB, buf.data() + 2 * kPageSize);  // seq 1 lives on page 1 + (1 % 2)
  m.meta_seq = 0;
  EncodeMetaPage(m, kMetaPageA, buf.data() + kPageSize);

  FileOpenOptions fo;
  fo.create = true;
  fo.exclusive = true;
  VDB_ASSIGN_OR_RETURN(auto f, env->Open(path, fo));
  Status s = f->Write(0, buf.data(), buf.size());
  if (s.ok()) s = f->Sync();
  if (s.ok()) s = env->SyncDir(DirName(path));
  if (!s.ok()) {
    f.reset();
    (void)env->Remove(path);
    return s.WithContext("create " + path);
  }
  f.reset();
  return OpenImpl(path, options);
}

Result<std::unique_ptr<Database>> DbImpl::OpenImpl(const std::string& path, const OpenOptions& options) {
  std::unique_ptr<DbImpl> db(new DbImpl());
  VDB_RETURN_IF_ERROR(db->OpenFiles(path, options, false));
  return std::unique_ptr<Database>(std::move(db));
}

Status DbImpl::OpenFiles(const std::string& path, const OpenOptions& options, bool) {
  if (options.index_batch > kUnindexedCapacity)
    return Status::InvalidArgument("index_batch must be between 1 and " + std::to_string(kUnindexedCapacity) +
                                   " (0 = default), got " + std::to_string(options.index_batch));
  opts_ = options;
  env_ = options.env ? options.env : Env::Default();
  path_ = path;
  wal_path_ = path + "-wal";
  read_only_ = options.read_only;
  map_size_ = std::max<uint64_t>(options.map_size, 1ull << 24) / kPageSize * kPageSize;
  if (opts_.checkpoint_wal_bytes < (1u << 20)) opts_.checkpoint_wal_bytes = 1u << 20;

  FileOpenOptions fo;
  fo.read_only = read_only_;
  auto f = env_->Open(path, fo);
  if (!f.ok()) {
    if (f.status().IsNotFound()) return Status::NotFound(path + ": no such database file");
    if (f.status().IsReadOnly() && !read_only_)
      return Status::ReadOnly(path + " is not writable (" + f.status().message() + "); open it read-only");
    return f.status();
  }
  main_ = std::move(*f);
  // A killed writer's lock can outlive it by a few milliseconds (the kernel
  // tears its io_uring down asynchronously): retry briefly before Busy.
  Status ls = env_->Lock(main_.get(), !read_only_);
  for (int i = 0; i < 20 && ls.IsBusy(); i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ls = env_->Lock(main_.get(), !read_only_);
  }
  VDB_RETURN_IF_ERROR(ls);
  VDB_ASSIGN_OR_RETURN(uint64_t size, main_->Size());
  if (size < 3 * kPageSize)
    return Status::Corruption(path + " is not a vdb file (only " + std::to_string(size) + " bytes)");
  std::vector<uint8_t> head(3 * kPageSize);
  size_t got = 0;
  VDB_RETURN_IF_ERROR(main_->Read(0, head.data(), head.size(), &got));
  if (got != head.size()) return Status::IOError("short read of " + path);
  Status hs = DecodeHeader(head.data(), &header_);
  if (!hs.ok()) return hs.WithContext(path);
  layout_.header = &header_;
  layout_.uuid_seed = UuidSeed(header_.uuid);

  bool verify = !test_hooks::Bugs().skip_meta_checksum.load();
  MetaPage ma, mb;
  Status sa = DecodeMetaPage(head.data() + kPageSize, kMetaPageA, header_.uuid, &ma, verify);
  Status sb = DecodeMetaPage(head.data() + 2 * kPageSize, kMetaPageB, header_.uuid, &mb, verify);
  if (!sa.ok() && !sb.ok())
    return Status::Corruption(path + ": both meta pages are damaged (" + sa.message() + "; " + sb.message() +
                              "); run vdbcheck --repair");
  MetaPage meta = (!sb.ok() || (sa.ok() && ma.meta_seq > mb.meta_seq)) ? ma : mb;
  meta_seq_ = meta.meta_seq;

  // Replay the WAL, if a crash left one.
  std::unique_ptr<File> walf;
  if (env_->Exists(wal_path_)) {
    FileOpenOptions wo;
    wo.read_only = read_only_;
    VDB_ASSIGN_OR_RETURN(walf, env_->Open(wal_path_, wo));
  }
  VDB_ASSIGN_OR_RETURN(recovery::ReplayResult rr,
                       recovery::ReplayWal(walf.get(), read_only_ ? nullptr : main_.get(), header_, meta));
  if (read_only_ && rr.commits > 0)
    return Status::ReadOnly(path + " has " + std::to_string(rr.commits) +
                            " committed transactions still in its WAL; open it read-write once to recover");
  meta_ = rr.body;
  last_seq_ = rr.last_commit_seq;
  checkpoint_seq_ = meta.commit_seq;
  uint64_t wal_gen = meta.wal_generation;

  VDB_ASSIGN_OR_RETURN(size, main_->Size());
  if (size < meta_.page_count * kPageSize) {
    if (read_only_) return Status::Corruption(path + " is shorter than its meta page says");
    VDB_RETURN_IF_ERROR(main_->Allocate(size, meta_.page_count * kPageSize - size));
  }
  file_pages_ = meta_.page_count;
  if (meta_.page_count > max_pages())
    return Status::InvalidArgument(path + " is larger than OpenOptions::map_size; reopen with a larger map size");
  for (uint32_t k = 0; k < kMaxExtents; k++) {
    if (meta_.vector_extents[k] && meta_.vector_extents[k] + VectorExtentPages(k, header_.vector_stride) > meta_.page_count)
      return Status::Corruption(path + ": vector extent " + std::to_string(k) + " runs past the file");
    if (meta_.slot_extents[k] && meta_.slot_extents[k] + SealedExtentPages(k, kSlotRecordSize) > meta_.page_count)
      return Status::Corruption(path + ": slot extent " + std::to_string(k) + " runs past the file");
  }
  if (meta_.slot_hwm > 0) {
    ExtentPos last = ExtentOf(meta_.slot_hwm - 1);
    for (uint32_t k = 0; k <= last.extent; k++)
      if (meta_.vector_extents[k] == 0 || meta_.slot_extents[k] == 0)
        return Status::Corruption(path + ": extent " + std::to_string(k) + " of the slots in use is missing");
  }

  VDB_RETURN_IF_ERROR(MapFile());
  pages_ = std::make_unique<PageTable>(max_pages());

  if (!read_only_) {
    if (rr.commits > 0) {
      // Make the replayed state the checkpoint, then start a fresh log.
      VDB_RETURN_IF_ERROR(main_->Sync());
      VDB_RETURN_IF_ERROR(WriteMetaPage(last_seq_, wal_gen + 1, meta_));
      wal_gen++;
      checkpoint_seq_ = last_seq_;
    }
    walf.reset();
    wal_generation_ = wal_gen;
    // A log with replayed commits is reset now; otherwise the log is created
    // by the first commit (opening costs no fsync; a leftover log holds
    // nothing to replay and is truncated then).
    if (rr.commits > 0) VDB_RETURN_IF_ERROR(EnsureWalLocked());
  }
  durable_seq_ = last_seq_;
  appended_seq_ = last_seq_;
  StoreSnapshot(std::make_shared<const Snapshot>(Snapshot{last_seq_, meta_}));
  opened_ = true;
  if (!read_only_ && opts_.sync == SyncMode::kBackground) bg_sync_ = std::thread([this] { BackgroundSyncLoop(); });
  return Status::Ok();
}

Status DbImpl::MapFile() {
  // Reserve map_size once so addresses never move as the file grows. Where
  // the address space is tight (ulimit -v, sanitizers), settle for less —
  // but never less than the file needs now; growth past the smaller map
  // then fails with NoSpace naming OpenOptions::map_size.
  const uint64_t need = std::max<uint64_t>(file_pages_ * kPageSize, 1ull << 24);
  for (uint64_t size = map_size_;; size /= 2) {
    size = std::max(size, need) / kPageSize * kPageSize;  // need is a whole number of pages
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED | MAP_NORESERVE, main_->fd(), 0);
    if (p != MAP_FAILED) {
      map_ = static_cast<const uint8_t*>(p);
      map_size_ = size;
      return Status::Ok();
    }
    if (errno != ENOMEM || size <= need) return Status::FromErrno(errno, "mmap " + path_);
  }
}

Status DbImpl::WriteMetaPage(uint64_t commit_seq, uint64_t wal_generation, const MetaBody& body) {
  MetaPage m;
  m.meta_seq = meta_seq_ + 1;
  m.commit_seq = commit_seq;
  m.wal_generation = wal_generation;
  std::memcpy(m.uuid, header_.uuid, 16);
  m.body = body;
  uint64_t pgno = kMetaPageA + (m.meta_seq % 2);
  alignas(64) uint8_t page[kPageSize];
  EncodeMetaPage(m, pgno, page);
  Status s = main_->Write(pgno * kPageSize, page, kPageSize);
  if (s.ok()) s = main_->Sync();
  if (!s.ok()) {
    Poison(s);
    return s.WithContext("write meta page");
  }
  meta_seq_ = m.meta_seq;
  return Status::Ok();
}

Status DbImpl::Close() {
  if (closed_) return Status::Ok();
  if (readers_.HeldByThisThread())
    return Status::InvalidArgument("a database cannot be closed from inside one of its own read calls (a search filter)");
  Status s;
  if (opened_ && !read_only_ && !poisoned_.load()) {
    // Link what is still on the unindexed list, so a closed file is searched
    // by the graph alone. A failure here leaves the list valid.
    (void)RunWrite(
        [](WriteTxn& t) {
          t.IndexAll(WriteTxn::ReachPass::kIfLinked);
          return Status::Ok();
        },
        false);
  }
  if (bg_sync_.joinable()) {
    {
      std::lock_guard<std::mutex> l(sync_mu_);
      bg_stop_ = true;
    }
    sync_cv_.notify_all();
    bg_sync_.join();
  }
  StopLogThread();
  if (opened_ && !read_only_ && !poisoned_.load()) {
    std::lock_guard<std::mutex> l(writer_mu_);
    s = CheckpointLocked();
    if (s.ok() && (wal_ || env_->Exists(wal_path_))) {
      wal_.reset();
      s = env_->Remove(wal_path_);
      if (s.ok()) s = env_->SyncDir(DirName(wal_path_));
    }
  }
  if (s.ok() && opened_ && poisoned_.load()) {
    std::lock_guard<std::mutex> l(sync_mu_);
    s = poison_;
  }
  closed_ = true;
  wal_.reset();
  if (map_ != nullptr) ::munmap(const_cast<uint8_t*>(map_), map_size_);
  map_ = nullptr;
  pages_.reset();
  main_.reset();
  return s;
}

}  // namespace vdb

static_assert(vdb::kMaxIdBytes == vdb::format::kMaxIdBytes);
static_assert(vdb::kMaxMetadataBytes == vdb::format::kMaxMetadataBytes);
static_assert(vdb::kMaxDim == vdb::format::kMaxDim);
