// The default Env: POSIX files; writes and syncs through io_uring (one ring
// per file), with a pwrite/fdatasync fallback when io_uring is unavailable.
#include <fcntl.h>
#include <liburing.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <string>
#include <vector>

#include "engine/test_hooks.h"
#include "vdb/env.h"

namespace vdb {

std::string DirName(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

namespace {

constexpr unsigned kRingDepth = 64;
// Completions that mean io_uring did not perform the request (interrupted,
// no resources for it now, or cancelled, as when the worker thread that
// would run it could not be created): nothing was written or synced by it,
// so it is issued again. After kMaxIdleRounds such rounds in a row the
// request is made with a plain system call instead.
constexpr int kMaxIdleRounds = 8;
inline bool NotPerformed(int res) { return res == -EINTR || res == -EAGAIN || res == -ECANCELED; }

// user_data of requests this file makes for itself, whose completions are
// not a caller's: the cancel requests below, liburing's own timeout
// (LIBURING_UDATA_TIMEOUT on kernels without IORING_FEAT_EXT_ARG), and a
// test's planted request.
constexpr uint64_t kInternalTag = uint64_t{1} << 62;
constexpr uint64_t kCancelTag = kInternalTag + 1;
constexpr uint64_t kPlantedTag = kInternalTag + 2;

// A request that has not completed after this long is asked to be
// cancelled (every request of the ring: IORING_ASYNC_CANCEL_ANY), and the
// wait goes on. One that had not started yet (queued for a worker thread
// that never came) completes with ECANCELED — not performed — and is issued
// again like any other; one that is running is not cancelled, and is waited
// for. So a request io_uring lost costs this long instead of hanging the
// database forever.
constexpr int kStuckMs = 30000;

int StuckMs() {
  const int ms = test_hooks::Bugs().io_stuck_ms.load();
  return ms > 0 ? ms : kStuckMs;
}

// Waits for the next completion on ring that is a caller's (not internal)
// and returns it in *out (0), or a negative errno from the wait itself.
// Signals (EINTR) are waited through; a wait that times out cancels what is
// stuck (above).
int WaitOwnCqe(io_uring* ring, io_uring_cqe** out) {
  for (;;) {
    const int ms = StuckMs();
    __kernel_timespec ts{ms / 1000, static_cast<long long>(ms % 1000) * 1000000};
    io_uring_cqe* cqe = nullptr;
    const int r = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
    if (r == -EINTR) continue;
    if (r == -ETIME) {
      io_uring_sqe* sqe = io_uring_get_sqe(ring);
      if (sqe != nullptr) {
        io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
        io_uring_sqe_set_data64(sqe, kCancelTag);
        int sub;
        do {
          sub = io_uring_submit(ring);
        } while (sub == -EINTR);
      }
      continue;
    }
    if (r < 0) return r;
    if (io_uring_cqe_get_data64(cqe) >= kInternalTag) {
      io_uring_cqe_seen(ring, cqe);
      continue;
    }
    *out = cqe;
    return 0;
  }
}

class PosixFile final : public File {
 public:
  // The rings are set up by the first write or sync, not here: opening a
  // file (and a database read-only) costs no io_uring setup.
  PosixFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixFile() override {
    if (ring_set_up_) io_uring_queue_exit(&ring_);
    if (have_sync_ring_) io_uring_queue_exit(&sync_ring_);
    ::close(fd_);
  }
  const std::string& path() const override { return path_; }
  int fd() const override { return fd_; }

  Status Read(uint64_t off, void* buf, size_t n, size_t* got) override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, static_cast<char*>(buf) + done, n - done, static_cast<off_t>(off + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "read " + path_);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    *got = done;
    return Status::Ok();
  }

  Status Write(std::span<const WriteOp> ops) override {
    std::lock_guard<std::mutex> lock(mu_);
    return WriteLocked(ops);
  }

  Status WriteAndSync(std::span<const WriteOp> ops) override {
    std::lock_guard<std::mutex> lock(mu_);
    VDB_RETURN_IF_ERROR(WriteLocked(ops));
    return SyncLocked();
  }

  // One write per op carrying RWF_DSYNC: the kernel syncs each op's range
  // (and the metadata to read it) before completing it, so a commit costs
  // one submission and one wait instead of a write, then an fsync that
  // io_uring hands to a worker thread of its own. Kernels that reject
  // rw_flags get a write, then a sync.
  Status WriteDsync(std::span<const WriteOp> ops) override {
    std::lock_guard<std::mutex> lock(mu_);
    InitRingLocked();
    if (have_ring_ && !dsync_rejected_) {
      bool rejected = false;
      Status s = WriteLocked(ops, RWF_DSYNC, &rejected);
      if (!rejected) return s;
      dsync_rejected_ = true;
    }
    VDB_RETURN_IF_ERROR(WriteLocked(ops));
    return SyncLocked();
  }

  // When next is a PosixFile, ops (with RWF_DSYNC) and next_ops go to the
  // kernel in one submission, next_ops linked behind ops (IOSQE_IO_LINK):
  // the kernel starts a linked write only after the one before it completed
  // in full, and a failed or short write cancels the rest of the chain. So a
  // group commit's log write and its vector writes cost one system call and
  // one hand-off to io_uring's worker thread. Whatever the chain left undone
  // is finished here, in the same order.
  Status WriteDsyncThen(std::span<const WriteOp> ops, File* next, std::span<const WriteOp> next_ops,
                        bool* durable) override {
    *durable = false;
    auto* nf = dynamic_cast<PosixFile*>(next);
    std::vector<WriteOp> rest;
    bool chained = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      InitRingLocked();
      if (nf != nullptr && have_ring_ && !dsync_rejected_ && ops.size() + next_ops.size() <= kRingDepth) {
        VDB_RETURN_IF_ERROR(ChainLocked(ops, nf, next_ops, durable, &rest));
        chained = *durable;
      }
    }
    if (!chained) return File::WriteDsyncThen(ops, next, next_ops, durable);
    return rest.empty() ? Status::Ok() : next->Write(rest);
  }

  // Syncs use their own ring, so a group-commit fdatasync does not hold up
  // the next commit's log append.
  Status Sync() override {
    std::lock_guard<std::mutex> lock(sync_mu_);
    if (!tried_sync_ring_) {
      tried_sync_ring_ = true;
      have_sync_ring_ = io_uring_queue_init(4, &sync_ring_, 0) == 0;
    }
    return SyncOn(have_sync_ring_ ? &sync_ring_ : nullptr);
  }

  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return Status::FromErrno(errno, "truncate " + path_);
    return Status::Ok();
  }

  Status Allocate(uint64_t off, uint64_t len) override {
    int r = ::posix_fallocate(fd_, static_cast<off_t>(off), static_cast<off_t>(len));
    if (r == EOPNOTSUPP || r == EINVAL) {
      // Filesystems without fallocate: extend the size instead.
      struct stat st;
      if (::fstat(fd_, &st) != 0) return Status::FromErrno(errno, "stat " + path_);
      if (static_cast<uint64_t>(st.st_size) < off + len) return Truncate(off + len);
      return Status::Ok();
    }
    if (r != 0) return Status::FromErrno(r, "allocate " + path_);
    return Status::Ok();
  }

  Result<uint64_t> Size() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return Status::FromErrno(errno, "stat " + path_);
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  struct Pending {
    uint64_t off;
    const char* data;
    size_t len;
  };

  // REQUIRES: mu_ held.
  void InitRingLocked() {
    if (tried_ring_) return;
    tried_ring_ = true;
    have_ring_ = ring_set_up_ = io_uring_queue_init(kRingDepth, &ring_, 0) == 0;
  }

  // Writes every op with rw_flags (RWF_*). If the kernel rejects the flags
  // (EOPNOTSUPP, EINVAL) and rejected is given, sets *rejected and returns:
  // the caller retries without them (ops may have been written partly).
  // REQUIRES: mu_ held.
  Status WriteLocked(std::span<const WriteOp> ops, int rw_flags = 0, bool* rejected = nullptr) {
    InitRingLocked();
    std::vector<Pending> todo;
    todo.reserve(ops.size());
    for (const auto& op : ops)
      if (op.len > 0) todo.push_back({op.offset, static_cast<const char*>(op.data), op.len});
    if (!have_ring_) return WritePlain(todo, rw_flags);
    // Rounds whose writes all came back not done (EINTR, EAGAIN, ECANCELED:
    // io_uring did not perform them, e.g. when its worker thread could not be
    // started); after a few, the rest is written with pwrite.
    int idle_rounds = 0;
    while (!todo.empty()) {
      if (idle_rounds >= kMaxIdleRounds) return WritePlain(todo, rw_flags);
      size_t batch = std::min<size_t>(todo.size(), kRingDepth - 1);
      size_t internal = 0;
      const int plant_fd = test_hooks::Bugs().plant_stuck_read_fd.exchange(-1);
      if (plant_fd >= 0) {
        // Test only: a read that never completes, linked ahead of the
        // writes, stands for a request io_uring lost.
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        io_uring_prep_read(sqe, plant_fd, planted_buf_, sizeof planted_buf_, 0);
        sqe->flags |= IOSQE_IO_LINK;
        io_uring_sqe_set_data64(sqe, kPlantedTag);
        internal = 1;
      }
      for (size_t i = 0; i < batch; i++) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        // Writes larger than 1 GiB are split by the loop below (short writes).
        unsigned len = static_cast<unsigned>(std::min<size_t>(todo[i].len, 1u << 30));
        io_uring_prep_write(sqe, fd_, todo[i].data, len, todo[i].off);
        sqe->rw_flags = rw_flags;
        io_uring_sqe_set_data64(sqe, i);
      }
      std::vector<Pending> again;
      Status first_error;
      VDB_RETURN_IF_ERROR(SubmitAndReapLocked(batch, internal, [&](size_t idx, int res) {
        if (res < 0) {
          if (rw_flags != 0 && rejected != nullptr && (res == -EOPNOTSUPP || res == -EINVAL)) {
            *rejected = true;
          } else if (NotPerformed(res)) {
            again.push_back(todo[idx]);
          } else if (first_error.ok()) {
            first_error = Status::FromErrno(-res, "write " + path_);
          }
          return;
        }
        if (res == 0) {
          if (first_error.ok()) first_error = Status::IOError("write " + path_ + ": wrote 0 bytes");
          return;
        }
        size_t w = static_cast<size_t>(res);
        if (w < todo[idx].len) again.push_back({todo[idx].off + w, todo[idx].data + w, todo[idx].len - w});
      }));
      if (!first_error.ok()) return first_error;
      if (rejected != nullptr && *rejected) return Status::Ok();
      idle_rounds = again.size() == batch ? idle_rounds + 1 : 0;
      todo.erase(todo.begin(), todo.begin() + static_cast<long>(batch));
      todo.insert(todo.end(), again.begin(), again.end());
    }
    return Status::Ok();
  }

  // Submits ops (RWF_DSYNC) and next_ops (to nf) as one linked chain and
  // waits for all of it. Finishes ops itself if the chain broke; sets
  // *durable once they are durable and appends to *rest what of next_ops is
  // still unwritten. Leaves *durable false without an error, and nothing of
  // next_ops written, if the kernel rejected RWF_DSYNC or a write is too
  // large to chain: the caller takes the unlinked path then.
  // REQUIRES: mu_ held; have_ring_; ops.size() + next_ops.size() <= kRingDepth.
  Status ChainLocked(std::span<const WriteOp> ops, PosixFile* nf, std::span<const WriteOp> next_ops, bool* durable,
                     std::vector<WriteOp>* rest) {
    struct Item {
      int fd;
      Pending p;
      int res;
    };
    // A write the kernel is asked for only in part would complete "in full"
    // and let the chain go on: writes over 1 GiB take the unlinked path.
    constexpr size_t kMaxChained = 1u << 30;
    for (const auto& op : ops)
      if (op.len > kMaxChained) return Status::Ok();
    for (const auto& op : next_ops)
      if (op.len > kMaxChained) return Status::Ok();
    std::vector<Item> items;
    items.reserve(ops.size() + next_ops.size());
    for (const auto& op : ops)
      if (op.len > 0) items.push_back({fd_, {op.offset, static_cast<const char*>(op.data), op.len}, 0});
    const size_t nw = items.size();
    for (const auto& op : next_ops)
      if (op.len > 0) items.push_back({nf->fd_, {op.offset, static_cast<const char*>(op.data), op.len}, 0});
    for (size_t i = 0; i < items.size(); i++) {
      const Item& it = items[i];
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      io_uring_prep_write(sqe, it.fd, it.p.data, static_cast<unsigned>(it.p.len), it.p.off);
      if (i < nw) sqe->rw_flags = RWF_DSYNC;
      if (i + 1 < items.size()) sqe->flags |= IOSQE_IO_LINK;
      io_uring_sqe_set_data64(sqe, i);
    }
    if (!items.empty())
      VDB_RETURN_IF_ERROR(SubmitAndReapLocked(items.size(), 0, [&](size_t i, int res) { items[i].res = res; }));
    // Every write the chain did not finish, in chain order.
    auto unfinished = [&](const Item& it, std::vector<WriteOp>* out, const std::string& path) -> Status {
      if (it.res >= 0 && static_cast<size_t>(it.res) == it.p.len) return Status::Ok();
      if (it.res > 0) {
        const size_t w = static_cast<size_t>(it.res);
        out->push_back({it.p.off + w, it.p.data + w, it.p.len - w});
        return Status::Ok();
      }
      if (NotPerformed(it.res)) {
        out->push_back({it.p.off, it.p.data, it.p.len});
        return Status::Ok();
      }
      if (it.res == 0) return Status::IOError("write " + path + ": wrote 0 bytes");
      return Status::FromErrno(-it.res, "write " + path);
    };
    if (nw > 0 && (items[0].res == -EOPNOTSUPP || items[0].res == -EINVAL)) {
      dsync_rejected_ = true;  // the caller falls back to a write, then a sync
      return Status::Ok();
    }
    std::vector<WriteOp> log_rest;
    for (size_t i = 0; i < nw; i++) VDB_RETURN_IF_ERROR(unfinished(items[i], &log_rest, path_));
    if (!log_rest.empty()) {
      bool rejected = false;
      VDB_RETURN_IF_ERROR(WriteLocked(log_rest, RWF_DSYNC, &rejected));
      if (rejected) {
        dsync_rejected_ = true;
        VDB_RETURN_IF_ERROR(WriteLocked(log_rest));
        VDB_RETURN_IF_ERROR(SyncLocked());
      }
    }
    *durable = true;
    for (size_t i = nw; i < items.size(); i++) VDB_RETURN_IF_ERROR(unfinished(items[i], rest, nf->path_));
    return Status::Ok();
  }

  // Submits the n SQEs queued on ring_ (after `internal` queued ahead of
  // them with an internal tag) and passes each completion of the n (its
  // user_data, res) to done; returns when all n completed. If the kernel
  // took only some of them, waits for those, then stops using the ring (the
  // rest must never be submitted: their buffers belong to this call).
  // REQUIRES: mu_ held; have_ring_.
  template <typename Done>
  Status SubmitAndReapLocked(size_t n, size_t internal, Done done) {
    int sub;
    do {
      sub = io_uring_submit(&ring_);
    } while (sub == -EINTR);  // interrupted before anything was submitted: the SQEs are still queued
    sub = std::max(0, sub - static_cast<int>(internal));
    for (int i = 0; i < sub; i++) {
      io_uring_cqe* cqe = nullptr;
      const int r = WaitOwnCqe(&ring_, &cqe);
      if (r < 0) {
        have_ring_ = false;  // in-flight writes may still use their buffers: never touch this ring again
        return Status::FromErrno(-r, "io_uring wait on " + path_);
      }
      done(static_cast<size_t>(io_uring_cqe_get_data64(cqe)), cqe->res);
      io_uring_cqe_seen(&ring_, cqe);
    }
    if (static_cast<size_t>(sub) < n) {
      have_ring_ = false;
      return Status::IOError("io_uring took " + std::to_string(sub) + " of " + std::to_string(n) + " writes to " +
                             path_ + "; later writes use pwrite");
    }
    return Status::Ok();
  }

  // pwrite of every op; with RWF_DSYNC in rw_flags, then fdatasync.
  Status WritePlain(const std::vector<Pending>& todo, int rw_flags) {
    for (const auto& p : todo) {
      size_t done = 0;
      while (done < p.len) {
        ssize_t r = ::pwrite(fd_, p.data + done, p.len - done, static_cast<off_t>(p.off + done));
        if (r < 0) {
          if (errno == EINTR) continue;
          return Status::FromErrno(errno, "write " + path_);
        }
        if (r == 0) return Status::IOError("write " + path_ + ": wrote 0 bytes");
        done += static_cast<size_t>(r);
      }
    }
    if ((rw_flags & RWF_DSYNC) != 0 && ::fdatasync(fd_) != 0) return Status::FromErrno(errno, "fdatasync " + path_);
    return Status::Ok();
  }

  // REQUIRES: mu_ held.
  Status SyncLocked() {
    InitRingLocked();
    return SyncOn(have_ring_ ? &ring_ : nullptr);
  }

  // REQUIRES: the mutex of ring held (mu_ for ring_, sync_mu_ for sync_ring_).
  Status SyncOn(io_uring* ring, int attempt = 0) {
    if (ring == nullptr) {
      if (::fdatasync(fd_) != 0) return Status::FromErrno(errno, "fdatasync " + path_);
      return Status::Ok();
    }
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    if (sqe == nullptr) return SyncOn(nullptr);  // only if a cancel request still holds the queue
    io_uring_prep_fsync(sqe, fd_, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data64(sqe, 0);
    // A signal (an application's timer, a profiler) interrupts the system
    // call, not the fsync: EINTR before submission leaves the SQE queued,
    // and after it the fsync is still in flight. Either way, call again; an
    // interrupted wait is not a failed sync.
    int sub;
    do {
      sub = io_uring_submit(ring);
    } while (sub == -EINTR);
    if (sub < 0) return Status::FromErrno(-sub, "io_uring submit fsync to " + path_);
    io_uring_cqe* cqe = nullptr;
    const int r = WaitOwnCqe(ring, &cqe);
    if (r < 0) return Status::FromErrno(-r, "io_uring wait on " + path_);
    int res = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    if (NotPerformed(res)) {
      // The fsync did not run (it did not fail: no writeback error was
      // reported and consumed), so running it again is safe.
      if (++attempt < kMaxIdleRounds) return SyncOn(ring, attempt);
      return SyncOn(nullptr);
    }
    if (res < 0) return Status::FromErrno(-res, "fdatasync " + path_);
    return Status::Ok();
  }

  std::string path_;
  int fd_;
  std::mutex mu_;  // guards ring_, tried_ring_, ring_set_up_, have_ring_, dsync_rejected_
  io_uring ring_{};
  bool tried_ring_ = false;
  bool ring_set_up_ = false;  // ring_ was initialized (and is torn down by the destructor)
  // ring_ is in use. Cleared for good if the kernel took only part of a
  // submission (the rest of it must never be submitted): writes use pwrite.
  // Invariant: implies ring_set_up_ and tried_ring_.
  bool have_ring_ = false;
  bool dsync_rejected_ = false;  // the kernel refused RWF_DSYNC on a write
  char planted_buf_[1];           // target of a test's planted read
  std::mutex sync_mu_;  // guards sync_ring_, tried_sync_ring_, have_sync_ring_
  io_uring sync_ring_{};
  bool tried_sync_ring_ = false;
  bool have_sync_ring_ = false;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<File>> Open(const std::string& path, const FileOpenOptions& opts) override {
    int flags = O_CLOEXEC | (opts.read_only ? O_RDONLY : O_RDWR);
    if (opts.create) flags |= O_CREAT;
    if (opts.exclusive) flags |= O_EXCL;
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) {
      int e = errno;
      if (e == ENOENT) return Status::NotFound(path + ": no such file");
      if (e == EEXIST) return Status::InvalidArgument(path + ": file already exists");
      return Status::FromErrno(e, "open " + path);
    }
    return std::unique_ptr<File>(new PosixFile(path, fd));
  }
  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) return Status::NotFound(path + ": no such file");
      return Status::FromErrno(errno, "remove " + path);
    }
    return Status::Ok();
  }
  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return Status::FromErrno(errno, "rename " + from + " to " + to);
    return Status::Ok();
  }
  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "open directory " + dir);
    int r = ::fsync(fd);
    int e = errno;
    ::close(fd);
    if (r != 0 && e != EINVAL) return Status::FromErrno(e, "fsync directory " + dir);
    return Status::Ok();
  }
  bool Exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }
  Status Lock(File* file, bool exclusive) override {
    if (::flock(file->fd(), (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK)
        return Status::Busy(file->path() + " is locked by another process (one writer at a time)");
      return Status::FromErrno(errno, "lock " + file->path());
    }
    return Status::Ok();
  }
};

}  // namespace

Env* Env::Default() {
  static Env* env = new PosixEnv();
  return env;
}

}  // namespace vdb
