// The default Env: POSIX files; writes and syncs through io_uring (one ring
// per file), with a pwrite/fdatasync fallback when io_uring is unavailable.
#include <fcntl.h>
#include <liburing.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <vector>

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

class PosixFile final : public File {
 public:
  // The rings are set up by the first write or sync, not here: opening a
  // file (and a database read-only) costs no io_uring setup.
  PosixFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixFile() override {
    if (have_ring_) io_uring_queue_exit(&ring_);
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
    have_ring_ = io_uring_queue_init(kRingDepth, &ring_, 0) == 0;
  }

  // REQUIRES: mu_ held.
  Status WriteLocked(std::span<const WriteOp> ops) {
    InitRingLocked();
    std::vector<Pending> todo;
    todo.reserve(ops.size());
    for (const auto& op : ops)
      if (op.len > 0) todo.push_back({op.offset, static_cast<const char*>(op.data), op.len});
    if (!have_ring_) return WritePlain(todo);
    while (!todo.empty()) {
      size_t batch = std::min<size_t>(todo.size(), kRingDepth);
      for (size_t i = 0; i < batch; i++) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        // Writes larger than 1 GiB are split by the loop below (short writes).
        unsigned len = static_cast<unsigned>(std::min<size_t>(todo[i].len, 1u << 30));
        io_uring_prep_write(sqe, fd_, todo[i].data, len, todo[i].off);
        io_uring_sqe_set_data64(sqe, i);
      }
      int sub = io_uring_submit(&ring_);
      if (sub < 0) return Status::FromErrno(-sub, "io_uring submit to " + path_);
      std::vector<Pending> again;
      Status first_error;
      for (size_t i = 0; i < batch; i++) {
        io_uring_cqe* cqe = nullptr;
        int r = io_uring_wait_cqe(&ring_, &cqe);
        if (r < 0) return Status::FromErrno(-r, "io_uring wait on " + path_);
        size_t idx = io_uring_cqe_get_data64(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&ring_, cqe);
        if (res < 0) {
          if (res == -EINTR || res == -EAGAIN) {
            again.push_back(todo[idx]);
          } else if (first_error.ok()) {
            first_error = Status::FromErrno(-res, "write " + path_);
          }
          continue;
        }
        if (res == 0) {
          if (first_error.ok()) first_error = Status::IOError("write " + path_ + ": wrote 0 bytes");
          continue;
        }
        size_t w = static_cast<size_t>(res);
        if (w < todo[idx].len) again.push_back({todo[idx].off + w, todo[idx].data + w, todo[idx].len - w});
      }
      if (!first_error.ok()) return first_error;
      todo.erase(todo.begin(), todo.begin() + static_cast<long>(batch));
      todo.insert(todo.end(), again.begin(), again.end());
    }
    return Status::Ok();
  }

  Status WritePlain(const std::vector<Pending>& todo) {
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
    return Status::Ok();
  }

  // REQUIRES: mu_ held.
  Status SyncLocked() {
    InitRingLocked();
    return SyncOn(have_ring_ ? &ring_ : nullptr);
  }

  // REQUIRES: the mutex of ring held (mu_ for ring_, sync_mu_ for sync_ring_).
  Status SyncOn(io_uring* ring) {
    if (ring == nullptr) {
      if (::fdatasync(fd_) != 0) return Status::FromErrno(errno, "fdatasync " + path_);
      return Status::Ok();
    }
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    io_uring_prep_fsync(sqe, fd_, IORING_FSYNC_DATASYNC);
    int sub = io_uring_submit(ring);
    if (sub < 0) return Status::FromErrno(-sub, "io_uring submit fsync to " + path_);
    io_uring_cqe* cqe = nullptr;
    int r = io_uring_wait_cqe(ring, &cqe);
    if (r < 0) return Status::FromErrno(-r, "io_uring wait on " + path_);
    int res = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    if (res < 0) return Status::FromErrno(-res, "fdatasync " + path_);
    return Status::Ok();
  }

  std::string path_;
  int fd_;
  std::mutex mu_;  // guards ring_, tried_ring_, have_ring_
  io_uring ring_{};
  bool tried_ring_ = false;
  bool have_ring_ = false;  // Invariant: implies tried_ring_
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
