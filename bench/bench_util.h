// Small helpers shared by the benchmarks: clocks, flags, latency summaries,
// scratch directories and a plain-text table printer. Header-only; nothing
// here is part of the vdb library.
#pragma once

#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <span>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "format/constants.h"
#include "format/meta.h"
#include "format/pages.h"
#include "format/wal_format.h"
#include "vdb/env.h"

namespace vdb::bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// CPU time of the whole process (all threads), in seconds.
inline double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Waits, at most max_wait_s, until no other thread of this process has been
// running for three polls in a row. Libraries start worker threads that spin
// for a while (OpenBLAS's thread server polls with sched_yield for ~0.1 s
// after start-up before it sleeps); a timed phase that starts meanwhile would
// count their CPU time (CpuSeconds covers every thread) and share the cores
// with them. Returns the seconds waited.
inline double WaitForQuietThreads(double max_wait_s = 2.0) {
  const auto t0 = Clock::now();
  const std::string self = std::to_string(::gettid());
  int quiet = 0;
  while (quiet < 3 && Seconds(t0, Clock::now()) < max_wait_s) {
    bool busy = false;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/task", ec)) {
      const std::string tid = e.path().filename().string();
      if (tid == self) continue;
      FILE* f = std::fopen(("/proc/self/task/" + tid + "/stat").c_str(), "r");
      if (f == nullptr) continue;
      char buf[512] = {};
      const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
      std::fclose(f);
      // "tid (comm) S ...": the state follows the last ')'.
      const char* close = std::strrchr(buf, ')');
      if (close != nullptr && close + 2 < buf + n && close[2] == 'R') busy = true;
    }
    quiet = busy ? 0 : quiet + 1;
    ::usleep(5000);
  }
  return Seconds(t0, Clock::now());
}

// Command-line flags of the form "--name value" or "--name=value", plus
// positional words. A flag not given on the command line falls back to the
// environment variable VDB_BENCH_<NAME> (upper case, '-' -> '_').
class Flags {
 public:
  Flags(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0) {
        positional_.push_back(a);
        continue;
      }
      a = a.substr(2);
      const size_t eq = a.find('=');
      if (eq != std::string::npos) {
        values_[a.substr(0, eq)] = a.substr(eq + 1);
      } else if (i + 1 < argc) {
        values_[a] = argv[++i];
      } else {
        values_[a] = "";
      }
    }
  }

  // The raw value of a flag (or its environment variable), or def.
  std::string Str(const std::string& name, const std::string& def) {
    known_.push_back(name);
    auto it = values_.find(name);
    if (it != values_.end()) return it->second;
    std::string env = "VDB_BENCH_" + name;
    for (char& c : env) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const char* e = std::getenv(env.c_str());
    return e ? std::string(e) : def;
  }
  int64_t Int(const std::string& name, int64_t def) {
    const std::string v = Str(name, "");
    return v.empty() ? def : std::strtoll(v.c_str(), nullptr, 10);
  }
  // A comma-separated list of integers ("10000,100000,1e6" is not accepted;
  // "1m"/"100k" suffixes are).
  std::vector<uint64_t> IntList(const std::string& name, const std::string& def) {
    std::vector<uint64_t> out;
    const std::string v = Str(name, def);
    size_t pos = 0;
    while (pos < v.size()) {
      size_t end = v.find(',', pos);
      if (end == std::string::npos) end = v.size();
      std::string item = v.substr(pos, end - pos);
      uint64_t mul = 1;
      if (!item.empty() && (item.back() == 'k' || item.back() == 'K')) mul = 1000, item.pop_back();
      if (!item.empty() && (item.back() == 'm' || item.back() == 'M')) mul = 1000000, item.pop_back();
      if (!item.empty()) out.push_back(std::strtoull(item.c_str(), nullptr, 10) * mul);
      pos = end + 1;
    }
    return out;
  }
  const std::vector<std::string>& positional() const { return positional_; }
  // Flags given on the command line that no Str/Int/IntList call asked for.
  std::vector<std::string> Unknown() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : values_)
      if (std::find(known_.begin(), known_.end(), k) == known_.end()) out.push_back(k);
    return out;
  }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
  std::vector<std::string> known_;
};

// Latency samples in seconds; percentiles by nearest rank.
struct Latencies {
  std::vector<double> samples;
  void Add(double s) { samples.push_back(s); }
  void Merge(const Latencies& o) { samples.insert(samples.end(), o.samples.begin(), o.samples.end()); }
  double Percentile(double p) {
    if (samples.empty()) return 0;
    std::sort(samples.begin(), samples.end());
    size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(samples.size()));
    return samples[std::min(i, samples.size() - 1)];
  }
};

// A fresh scratch directory under base (created with mkdtemp), removed with
// everything in it when the object goes out of scope.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& base, const std::string& prefix) {
    std::string tmpl = base + "/" + prefix + "XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) != nullptr) path_ = buf.data();
  }
  ~ScratchDir() {
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A left-aligned first column and right-aligned others, widths fitted to
// the content. Rows may be shorter than the header.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print() const {
    std::vector<size_t> w;
    for (const auto& r : rows_) {
      if (w.size() < r.size()) w.resize(r.size(), 0);
      for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
    }
    for (size_t ri = 0; ri < rows_.size(); ++ri) {
      std::string line;
      for (size_t i = 0; i < rows_[ri].size(); ++i) {
        if (i) line += "  ";
        line += i == 0 ? fmt::format("{:<{}}", rows_[ri][i], w[i]) : fmt::format("{:>{}}", rows_[ri][i], w[i]);
      }
      fmt::print("{}\n", line);
      if (ri == 0) {
        size_t total = 0;
        for (size_t x : w) total += x + 2;
        fmt::print("{}\n", std::string(total > 2 ? total - 2 : 0, '-'));
      }
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

inline std::string Fixed(double v, int digits) { return fmt::format("{:.{}f}", v, digits); }
inline std::string Ratio(double a, double b) { return b > 0 ? fmt::format("{:.2f}x", a / b) : "-"; }
inline std::string Ms(double seconds) { return fmt::format("{:.3f}", seconds * 1e3); }

// What a database asked of the disk, counted by CountingEnv. Thread-safe.
struct IoCounters {
  std::atomic<uint64_t> syncs{0};        // Sync, WriteAndSync, WriteDsync
  std::atomic<uint64_t> bytes{0};        // bytes written (all files)
  std::atomic<uint64_t> wal_bytes{0};    // bytes written to the -wal file (log records and zero-fill)
  std::atomic<uint64_t> wal_zero_bytes{0};  // of which all-zero writes (the WAL's grow-ahead fill)
  std::atomic<uint64_t> io_ns{0};        // wall time inside Write/Sync calls
  std::atomic<uint64_t> sync_ns{0};      // wall time inside syncs (WriteDsyncThen: with its chained write)
  std::atomic<uint64_t> wal_write_ns{0}; // wall time inside (unsynced) writes to the -wal file
  // Page images logged in WAL records, by the region of the page (from the
  // meta body each commit logs first).
  enum Region { kGraph, kSlots, kIdMap, kBlobs, kUpper, kOther, kRegions };
  std::atomic<uint64_t> wal_pages[kRegions] = {};
  // Bytes entries logged (vectors and page deltas).
  std::atomic<uint64_t> wal_byte_entries{0};
  struct Snap {
    uint64_t syncs, bytes, wal_bytes, io_ns, sync_ns, wal_write_ns, wal_zero_bytes;
  };
  Snap Take() const {
    return {syncs.load(),  bytes.load(),        wal_bytes.load(),     io_ns.load(),
            sync_ns.load(), wal_write_ns.load(), wal_zero_bytes.load()};
  }
};

inline uint64_t NowNs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

// A File that forwards every call and counts writes and syncs into *c.
class CountingFile : public ::vdb::File {
 public:
  CountingFile(std::unique_ptr<::vdb::File> f, IoCounters* c)
      : f_(std::move(f)), c_(c), wal_(f_->path().size() > 4 && f_->path().ends_with("-wal")) {}
  const std::string& path() const override { return f_->path(); }
  int fd() const override { return f_->fd(); }
  ::vdb::Status Read(uint64_t off, void* buf, size_t n, size_t* got) override { return f_->Read(off, buf, n, got); }
  ::vdb::Status Write(std::span<const ::vdb::WriteOp> ops) override {
    Count(ops);
    const uint64_t t0 = NowNs();
    ::vdb::Status s = f_->Write(ops);
    const uint64_t dt = NowNs() - t0;
    c_->io_ns += dt;
    if (wal_) c_->wal_write_ns += dt;
    return s;
  }
  ::vdb::Status WriteAndSync(std::span<const ::vdb::WriteOp> ops) override {
    Count(ops);
    c_->syncs++;
    const uint64_t t0 = NowNs();
    ::vdb::Status s = f_->WriteAndSync(ops);
    const uint64_t dt = NowNs() - t0;
    c_->io_ns += dt;
    c_->sync_ns += dt;
    return s;
  }
  ::vdb::Status WriteDsync(std::span<const ::vdb::WriteOp> ops) override {
    Count(ops);
    c_->syncs++;
    const uint64_t t0 = NowNs();
    ::vdb::Status s = f_->WriteDsync(ops);
    const uint64_t dt = NowNs() - t0;
    c_->io_ns += dt;
    c_->sync_ns += dt;
    return s;
  }
  // Forwards to the wrapped file with next unwrapped too, so the default
  // Env can still chain both writes into one request.
  ::vdb::Status WriteDsyncThen(std::span<const ::vdb::WriteOp> ops, ::vdb::File* next,
                               std::span<const ::vdb::WriteOp> next_ops, bool* durable) override {
    auto* counted = dynamic_cast<CountingFile*>(next);
    Count(ops);
    if (counted != nullptr) counted->Count(next_ops);
    c_->syncs++;
    const uint64_t t0 = NowNs();
    ::vdb::Status s = f_->WriteDsyncThen(ops, counted != nullptr ? counted->f_.get() : next, next_ops, durable);
    const uint64_t dt = NowNs() - t0;
    c_->io_ns += dt;
    c_->sync_ns += dt;
    return s;
  }
  ::vdb::Status Sync() override {
    c_->syncs++;
    const uint64_t t0 = NowNs();
    ::vdb::Status s = f_->Sync();
    const uint64_t dt = NowNs() - t0;
    c_->io_ns += dt;
    c_->sync_ns += dt;
    return s;
  }
  ::vdb::Status Truncate(uint64_t size) override { return f_->Truncate(size); }
  ::vdb::Status Allocate(uint64_t off, uint64_t len) override { return f_->Allocate(off, len); }
  ::vdb::Result<uint64_t> Size() override { return f_->Size(); }

 private:
  void Count(std::span<const ::vdb::WriteOp> ops) {
    uint64_t n = 0;
    for (const auto& op : ops) n += op.len;
    c_->bytes += n;
    if (!wal_) return;
    c_->wal_bytes += n;
    static const unsigned char kZero[4096] = {};
    for (const auto& op : ops) {
      // Log records start with a non-zero byte; the grow-ahead fill is zeros.
      const auto* p = static_cast<const unsigned char*>(op.data);
      if (op.len == 0 || p[0] != 0) continue;
      size_t i = 0;
      while (i < op.len && std::memcmp(p + i, kZero, std::min<size_t>(sizeof kZero, op.len - i)) == 0)
        i += sizeof kZero;
      if (i >= op.len) c_->wal_zero_bytes += op.len;
    }
    CountPages(ops);
  }
  // Walks the records in each write to the log (the writer hands over whole
  // records, many per write) and counts their entries.
  void CountPages(std::span<const ::vdb::WriteOp> ops) {
    namespace f = ::vdb::format;
    for (const auto& op : ops) {
      const auto* p = static_cast<const uint8_t*>(op.data);
      size_t pos = 0;
      while (op.len - pos >= f::kWalRecordHeaderSize) {
        f::WalRecordHeader h;
        if (!f::DecodeWalRecordHeader(p + pos, &h).ok() || op.len - pos - f::kWalRecordHeaderSize < h.payload_len)
          break;
        f::WalEntryReader r({reinterpret_cast<const char*>(p + pos + f::kWalRecordHeaderSize), h.payload_len});
        f::WalEntry e;
        while (r.Next(&e)) {
          if (e.type == f::kWalEntryMeta) {
            (void)f::DecodeMetaBody(reinterpret_cast<const uint8_t*>(e.data.data()), &meta_);
          } else if (e.type == f::kWalEntryPage) {
            c_->wal_pages[RegionOf(e.where)]++;
          } else if (e.type == f::kWalEntryBytes) {
            c_->wal_byte_entries++;
          }
        }
        pos += f::kWalRecordHeaderSize + h.payload_len;
      }
    }
  }
  IoCounters::Region RegionOf(uint64_t pgno) const {
    namespace f = ::vdb::format;
    auto in = [&](uint64_t first, uint64_t n) { return first != 0 && pgno >= first && pgno < first + n; };
    for (uint32_t k = 0; k < f::kMaxExtents; ++k) {
      if (meta_.graph_record_size && in(meta_.graph_extents[k], f::SealedExtentPages(k, meta_.graph_record_size)))
        return IoCounters::kGraph;
      if (in(meta_.slot_extents[k], f::SealedExtentPages(k, f::kSlotRecordSize))) return IoCounters::kSlots;
    }
    if (in(meta_.idmap_page, (meta_.idmap_capacity + f::kIdMapEntriesPerPage - 1) / f::kIdMapEntriesPerPage))
      return IoCounters::kIdMap;
    if (in(meta_.blob_page, meta_.blob_pages)) return IoCounters::kBlobs;
    if (in(meta_.upper_page, meta_.upper_pages)) return IoCounters::kUpper;
    return IoCounters::kOther;
  }
  std::unique_ptr<::vdb::File> f_;
  IoCounters* c_;
  bool wal_;
  ::vdb::format::MetaBody meta_;  // of the last logged commit (WAL files only)
};

// A pass-through Env over Env::Default() that counts what the database asks
// of the disk (syncs, bytes, time inside the calls) into *c, which must
// outlive it. The wrapping costs two clock reads per call.
class CountingEnv : public ::vdb::Env {
 public:
  explicit CountingEnv(IoCounters* c) : base_(::vdb::Env::Default()), c_(c) {}
  ::vdb::Result<std::unique_ptr<::vdb::File>> Open(const std::string& path, const ::vdb::FileOpenOptions& o) override {
    auto f = base_->Open(path, o);
    if (!f.ok()) return f.status();
    return std::unique_ptr<::vdb::File>(new CountingFile(std::move(*f), c_));
  }
  ::vdb::Status Remove(const std::string& p) override { return base_->Remove(p); }
  ::vdb::Status Rename(const std::string& a, const std::string& b) override { return base_->Rename(a, b); }
  ::vdb::Status SyncDir(const std::string& d) override {
    c_->syncs++;
    return base_->SyncDir(d);
  }
  bool Exists(const std::string& p) override { return base_->Exists(p); }
  ::vdb::Status Lock(::vdb::File* f, bool ex) override { return base_->Lock(f, ex); }

 private:
  ::vdb::Env* base_;
  IoCounters* c_;
};

}  // namespace vdb::bench
