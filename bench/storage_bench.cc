// storage_bench: vdb's storage core against LMDB and the raw disk, in one run.
//
//   storage_bench [commit1] [commit16] [ingest] [open] [--dir DIR] [--rounds R]
//                 [--commits N] [--threads T] [--per-thread N] [--single-commits N]
//                 [--lmdb-per-thread N] [--commit-hnsw-m M] [--map-mib MIB]
//                 [--ingest-rows N] [--ingest-batch N] [--seq-mb MB]
//                 [--open-sizes 10k,100k,1m] [--open-reps N] [--cache-dir DIR]
//
// Workloads (default: all, in this order):
//   commit1   durable single-record commits/s, one writer: vdb Put (16-byte id,
//             128 x f32 = 512-byte vector) vs LMDB mdb_put of the same sizes in
//             one synced transaction per record; plus the raw cost of one
//             4 KiB append + fdatasync on the same filesystem.
//   commit16  T threads (16) committing single records at once vs one writer,
//             vdb and LMDB.
//   ingest    fashion-mnist (60,000 x 784) in large WriteBatches vs LMDB with
//             the same bytes in transactions of the same size, and the disk's
//             sequential write rate (write + fdatasync of a large file).
//   open      open-to-first-query time for 10k / 100k / 1M x 128 files, built
//             once into DIR/vdb-bench-<size>.vdb (cache-dir, default /tmp) and
//             reused afterwards.
// Every flag can also be given as VDB_BENCH_<FLAG> in the environment. Peers
// run interleaved with vdb, round by round, so that a noisy shared machine
// hits both alike. vdb runs on a counting Env (a thin wrapper of the default
// io_uring Env) that reports its fdatasyncs, bytes written and time in I/O.
//
// vdb runs with default OpenOptions: single-record commits go on the
// unindexed list and every 512th commit links the list into the HNSW graph
// (docs/hnsw.md), so the commit figures include that linking, amortized.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <thread>

#include "bench/bench_util.h"
#include "engine/dataset.h"
#include "vdb/db.h"

#ifdef VDB_HAVE_LMDB
#include <lmdb.h>
#endif

namespace {

using namespace vdb::bench;

IoCounters g_io;
CountingEnv g_env(&g_io);

[[noreturn]] void Die(const std::string& what) {
  fmt::print(stderr, "storage_bench: {}\n", what);
  std::exit(1);
}
void Check(const vdb::Status& s, const std::string& what) {
  if (!s.ok()) Die(what + ": " + s.ToString());
}

struct Options {
  std::string dir = "/tmp";
  std::string cache_dir = "/tmp";
  int rounds = 3;
  uint64_t commits = 1000;        // commit1, per engine, over all rounds
  int threads = 16;               // commit16
  uint64_t per_thread = 50;       // commit16, vdb commits per thread per round
  uint64_t single_commits = 300;  // commit16, single-writer commits per engine over all rounds
  uint64_t lmdb_per_thread = 20;  // commit16, LMDB commits per thread per round
  uint32_t commit_hnsw_m = 16;    // commit1/commit16 databases' HNSW M
  uint64_t map_mib = 0;           // OpenOptions::map_size of the commit databases (0: default; valgrind needs ~4096)
  uint64_t ingest_rows = 60000;
  uint64_t ingest_batch = 5000;
  uint64_t seq_mb = 512;
  std::vector<uint64_t> open_sizes;
  int open_reps = 20;
};

// Figures that go into the closing summary: name -> (value, target text).
struct SummaryLine {
  std::string what, value, target;
};
std::vector<SummaryLine> g_summary;

constexpr uint32_t kCommitDim = 128;  // 512-byte values
constexpr size_t kIdBytes = 16;

// A pool of random vectors to cycle through.
std::vector<std::vector<float>> RandomVectors(size_t n, uint32_t dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<std::vector<float>> out(n, std::vector<float>(dim));
  for (auto& v : out)
    for (float& x : v) x = u(rng);
  return out;
}

// 16-byte ids: "t<thread:2>-<serial:12>"; every phase continues the serials
// of the one before, so ids never repeat (every Put inserts).
std::string CommitId(int thread, uint64_t serial) { return fmt::format("t{:02}-{:012}", thread, serial); }

// Runs `threads` threads that each call commit(thread, i) for i in
// [0, per_thread); returns wall seconds from the common start.
double RunThreads(int threads, uint64_t per_thread, Latencies* lat,
                  const std::function<void(int, uint64_t)>& commit) {
  std::vector<Latencies> per(threads);
  std::barrier start(threads + 1);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      start.arrive_and_wait();
      for (uint64_t i = 0; i < per_thread; ++i) {
        const auto t0 = Clock::now();
        commit(t, i);
        per[t].Add(Seconds(t0, Clock::now()));
      }
    });
  }
  start.arrive_and_wait();
  const auto t0 = Clock::now();
  for (auto& th : ts) th.join();
  const double wall = Seconds(t0, Clock::now());
  for (auto& p : per) lat->Merge(p);
  return wall;
}

// One engine's accumulated commit figures.
struct CommitFigures {
  uint64_t commits = 0;
  double wall = 0;
  double cpu = 0;
  Latencies lat;
  IoCounters::Snap io{};  // vdb only: counters accumulated over the timed phases
  uint64_t pages[IoCounters::kRegions] = {};  // vdb only: WAL page images by region
  uint64_t byte_entries = 0;                  // vdb only: WAL bytes entries (vectors, page deltas)
  double Rate() const { return wall > 0 ? commits / wall : 0; }
  void AddIo(const IoCounters::Snap& a, const IoCounters::Snap& b) {
    io.syncs += b.syncs - a.syncs;
    io.bytes += b.bytes - a.bytes;
    io.wal_bytes += b.wal_bytes - a.wal_bytes;
    io.io_ns += b.io_ns - a.io_ns;
    io.sync_ns += b.sync_ns - a.sync_ns;
    io.wal_write_ns += b.wal_write_ns - a.wal_write_ns;
    io.wal_zero_bytes += b.wal_zero_bytes - a.wal_zero_bytes;
  }
};

// A vdb database (dim 128, l2) in its own scratch directory.
struct VdbCommitDb {
  std::unique_ptr<ScratchDir> dir;
  std::unique_ptr<vdb::Database> db;
  std::vector<std::vector<float>> vecs = RandomVectors(1024, kCommitDim, 7);
  uint64_t serial = 0;  // next serial, so every phase writes new ids

  explicit VdbCommitDb(const Options& o) {
    dir = std::make_unique<ScratchDir>(o.dir, "vdb-bench-commit-");
    if (!dir->ok()) Die("cannot create a scratch directory under " + o.dir);
    vdb::CreateOptions co;
    co.dim = kCommitDim;
    co.metric = vdb::Metric::kL2;
    co.hnsw_m = o.commit_hnsw_m;
    vdb::OpenOptions oo;
    oo.env = &g_env;
    if (o.map_mib) oo.map_size = o.map_mib << 20;
    auto r = vdb::Database::Create(dir->path() + "/commit.vdb", co, oo);
    if (!r.ok()) Die("vdb create: " + r.status().ToString());
    db = std::move(*r);
  }
  // threads x per_thread single-record Puts, timed into *f.
  void Run(int threads, uint64_t per_thread, CommitFigures* f) {
    const uint64_t base = serial;
    serial += per_thread;
    const auto io0 = g_io.Take();
    uint64_t pages0[IoCounters::kRegions];
    for (int k = 0; k < IoCounters::kRegions; ++k) pages0[k] = g_io.wal_pages[k].load();
    const uint64_t entries0 = g_io.wal_byte_entries.load();
    const double c0 = CpuSeconds();
    f->wall += RunThreads(threads, per_thread, &f->lat, [&](int t, uint64_t i) {
      const std::string id = CommitId(t, base + i);
      Check(db->Put(id, vecs[(base + i + t * 31) % vecs.size()]), "vdb put");
    });
    f->cpu += CpuSeconds() - c0;
    f->commits += threads * per_thread;
    f->AddIo(io0, g_io.Take());
    for (int k = 0; k < IoCounters::kRegions; ++k) f->pages[k] += g_io.wal_pages[k].load() - pages0[k];
    f->byte_entries += g_io.wal_byte_entries.load() - entries0;
  }
};

#ifdef VDB_HAVE_LMDB
// An LMDB environment with default (synchronous) flags in its own scratch directory.
struct LmdbCommitDb {
  std::unique_ptr<ScratchDir> dir;
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  std::vector<std::vector<float>> vecs = RandomVectors(1024, kCommitDim, 7);
  uint64_t serial = 0;

  LmdbCommitDb(const Options& o, uint64_t map_bytes) {
    dir = std::make_unique<ScratchDir>(o.dir, "lmdb-bench-");
    if (!dir->ok()) Die("cannot create a scratch directory under " + o.dir);
    LmdbCheck(mdb_env_create(&env), "mdb_env_create");
    LmdbCheck(mdb_env_set_mapsize(env, map_bytes), "mdb_env_set_mapsize");
    LmdbCheck(mdb_env_set_maxreaders(env, 64), "mdb_env_set_maxreaders");
    // Flags 0: every commit is synced (data pages, then the meta page).
    LmdbCheck(mdb_env_open(env, dir->path().c_str(), 0, 0644), "mdb_env_open");
    MDB_txn* txn;
    LmdbCheck(mdb_txn_begin(env, nullptr, 0, &txn), "mdb_txn_begin");
    LmdbCheck(mdb_dbi_open(txn, nullptr, 0, &dbi), "mdb_dbi_open");
    LmdbCheck(mdb_txn_commit(txn), "mdb_txn_commit");
  }
  ~LmdbCommitDb() {
    if (env) mdb_env_close(env);
  }
  static void LmdbCheck(int rc, const char* what) {
    if (rc != 0) Die(fmt::format("{}: {}", what, mdb_strerror(rc)));
  }
  // One transaction holding items (key, value) pairs from fill(j).
  void Commit(size_t items, const std::function<void(size_t, MDB_val*, MDB_val*)>& fill) {
    MDB_txn* txn;
    LmdbCheck(mdb_txn_begin(env, nullptr, 0, &txn), "mdb_txn_begin");
    for (size_t j = 0; j < items; ++j) {
      MDB_val k, v;
      fill(j, &k, &v);
      LmdbCheck(mdb_put(txn, dbi, &k, &v, 0), "mdb_put");
    }
    LmdbCheck(mdb_txn_commit(txn), "mdb_txn_commit");
  }
  void Run(int threads, uint64_t per_thread, CommitFigures* f) {
    const uint64_t base = serial;
    serial += per_thread;
    const double c0 = CpuSeconds();
    f->wall += RunThreads(threads, per_thread, &f->lat, [&](int t, uint64_t i) {
      std::string id = CommitId(t, base + i);
      const auto& vec = vecs[(base + i + t * 31) % vecs.size()];
      Commit(1, [&](size_t, MDB_val* k, MDB_val* v) {
        *k = {id.size(), id.data()};
        *v = {vec.size() * sizeof(float), const_cast<float*>(vec.data())};
      });
    });
    f->cpu += CpuSeconds() - c0;
    f->commits += threads * per_thread;
  }
};
#endif

// The raw cost the commit figures sit on: append 4 KiB and fdatasync, n times.
struct RawSync {
  std::unique_ptr<ScratchDir> dir;
  int fd = -1;
  uint64_t off = 0;
  explicit RawSync(const Options& o) {
    dir = std::make_unique<ScratchDir>(o.dir, "raw-sync-");
    fd = ::open((dir->path() + "/f").c_str(), O_CREAT | O_RDWR, 0644);
    if (fd < 0) Die("open raw sync file");
  }
  ~RawSync() {
    if (fd >= 0) ::close(fd);
  }
  void Run(uint64_t n, CommitFigures* f) {
    std::vector<char> page(4096, 'x');
    const double c0 = CpuSeconds();
    const auto t0 = Clock::now();
    for (uint64_t i = 0; i < n; ++i) {
      const auto a = Clock::now();
      if (::pwrite(fd, page.data(), page.size(), static_cast<off_t>(off)) != 4096) Die("pwrite");
      off += 4096;
      if (::fdatasync(fd) != 0) Die("fdatasync");
      f->lat.Add(Seconds(a, Clock::now()));
    }
    f->wall += Seconds(t0, Clock::now());
    f->cpu += CpuSeconds() - c0;
    f->commits += n;
  }
};

std::vector<std::string> CommitRow(const std::string& name, CommitFigures& f, const std::string& ratio,
                                   bool vdb_io) {
  const double n = static_cast<double>(std::max<uint64_t>(f.commits, 1));
  std::vector<std::string> row = {name,
                                  fmt::format("{}", f.commits),
                                  Fixed(f.Rate(), 1),
                                  Ms(f.lat.Percentile(50)),
                                  Ms(f.lat.Percentile(99)),
                                  Ms(f.cpu / n),
                                  ratio};
  if (vdb_io) {
    row.push_back(Fixed(f.io.syncs / n, 2));
    row.push_back(Fixed((f.io.wal_bytes - f.io.wal_zero_bytes) / n / 1024.0, 1));
    row.push_back(Fixed(f.io.bytes / n / 1024.0, 1));
    row.push_back(Ms(f.io.sync_ns * 1e-9 / n));
    row.push_back(Ms(f.io.wal_write_ns * 1e-9 / n));
    // Share of the wall time with an fdatasync of vdb's in flight.
    row.push_back(f.wall > 0 ? fmt::format("{:.0f}%", 100.0 * f.io.sync_ns * 1e-9 / f.wall) : "-");
  }
  return row;
}

// "name: 4 KiB page images logged per commit, by region", and the page
// deltas (bytes entries besides the one vector each commit writes).
void PrintPageMix(const std::string& name, const CommitFigures& f) {
  const double n = static_cast<double>(std::max<uint64_t>(f.commits, 1));
  double total = 0;
  for (uint64_t p : f.pages) total += p;
  fmt::print("{}: {:.2f} page images (4 KiB) logged per commit: graph {:.2f}, upper-layer lists {:.2f}, slot records "
             "{:.2f}, id map {:.2f}, id/metadata blobs {:.2f}, other {:.2f}; {:.1f} page deltas per commit\n",
             name, total / n, f.pages[IoCounters::kGraph] / n, f.pages[IoCounters::kUpper] / n,
             f.pages[IoCounters::kSlots] / n, f.pages[IoCounters::kIdMap] / n, f.pages[IoCounters::kBlobs] / n,
             f.pages[IoCounters::kOther] / n, (static_cast<double>(f.byte_entries) - n) / n);
}

const std::vector<std::string> kCommitHeader = {
    "engine",        "commits",        "commits/s",          "p50 ms",          "p99 ms",
    "cpu ms/commit", "ratio",          "fsyncs/commit",      "WAL KiB/commit",  "written KiB/commit",
    "fsync ms/commit", "WAL write ms/commit", "wall in fsync"};

// ---------------------------------------------------------------------------
void Commit1(const Options& o) {
  fmt::print("\n== commit1: durable single-record commits, one writer (id 16 B, value 128 x f32 = 512 B) ==\n");
  const uint64_t per_round = std::max<uint64_t>(1, o.commits / o.rounds);
  CommitFigures vf, lf, rf;
  VdbCommitDb vdb_db(o);
  RawSync raw(o);
  CommitFigures warm;
  vdb_db.Run(1, 20, &warm);  // warm-up, not counted
#ifdef VDB_HAVE_LMDB
  LmdbCommitDb lmdb(o, 1ull << 30);
  lmdb.Run(1, 20, &warm);
#endif
  for (int r = 0; r < o.rounds; ++r) {
    vdb_db.Run(1, per_round, &vf);
#ifdef VDB_HAVE_LMDB
    lmdb.Run(1, per_round, &lf);
#endif
    raw.Run(per_round / 2 + 1, &rf);
  }
  Table t(kCommitHeader);
  t.Add(CommitRow("vdb Put (kFull)", vf, lf.commits ? Ratio(vf.Rate(), lf.Rate()) + " LMDB" : "-", true));
#ifdef VDB_HAVE_LMDB
  t.Add(CommitRow("LMDB mdb_put+commit", lf, "1.00x LMDB", false));
#else
  fmt::print("LMDB not available: peer row omitted\n");
#endif
  t.Add(CommitRow("raw 4K append+fdatasync", rf, Ratio(rf.Rate(), lf.Rate()) + " LMDB", false));
  t.Print();
  PrintPageMix("vdb", vf);
  fmt::print("dir {}; {} rounds interleaved; each vdb Put also links the record into the HNSW graph (M = {}).\n",
             o.dir, o.rounds, o.commit_hnsw_m);
  if (lf.commits) g_summary.push_back({"commit1: vdb / LMDB single-writer commits/s", Ratio(vf.Rate(), lf.Rate()),
                                       ">= 1.8x"});
  g_summary.push_back({"commit1: vdb commits/s vs one raw fdatasync/s", Ratio(vf.Rate(), rf.Rate()), "~1x (floor)"});
}

void Commit16(const Options& o) {
  fmt::print("\n== commit16: {} threads committing single records at once, vs one writer ==\n", o.threads);
  const uint64_t single_per_round = std::max<uint64_t>(1, o.single_commits / o.rounds);
  CommitFigures v1, vn, l1, ln;
  VdbCommitDb vdb_db(o);
  CommitFigures warm;
  vdb_db.Run(1, 10, &warm);
#ifdef VDB_HAVE_LMDB
  LmdbCommitDb lmdb(o, 1ull << 30);
  lmdb.Run(1, 10, &warm);
#endif
  for (int r = 0; r < o.rounds; ++r) {
    vdb_db.Run(1, single_per_round, &v1);
    vdb_db.Run(o.threads, o.per_thread, &vn);
#ifdef VDB_HAVE_LMDB
    lmdb.Run(1, std::max<uint64_t>(1, single_per_round / 2), &l1);
    lmdb.Run(o.threads, o.lmdb_per_thread, &ln);
#endif
  }
  Table t(kCommitHeader);
  const std::string tn = fmt::format("{} threads", o.threads);
  t.Add(CommitRow("vdb, 1 thread", v1, "1.00x", true));
  t.Add(CommitRow("vdb, " + tn, vn, Ratio(vn.Rate(), v1.Rate()), true));
#ifdef VDB_HAVE_LMDB
  t.Add(CommitRow("LMDB, 1 thread", l1, "1.00x", false));
  t.Add(CommitRow("LMDB, " + tn, ln, Ratio(ln.Rate(), l1.Rate()), false));
#endif
  t.Print();
  PrintPageMix("vdb, 1 thread", v1);
  PrintPageMix("vdb, " + tn, vn);
  fmt::print("ratio = rate vs the same engine's single writer in this run. vdb shares one fdatasync among the\n"
             "commits waiting for it (group commit) and commits the writes queued behind one in flight as one\n"
             "transaction (write groups); LMDB's writers serialize. vdb links every 512 records into HNSW\n"
             "(the unindexed list, default index_batch) inside the timed commits.\n");
  g_summary.push_back({fmt::format("commit16: vdb {} threads / vdb 1 thread", o.threads),
                       Ratio(vn.Rate(), v1.Rate()), ">= 10x"});
#ifdef VDB_HAVE_LMDB
  g_summary.push_back({fmt::format("commit16: vdb {} threads / LMDB {} threads", o.threads, o.threads),
                       Ratio(vn.Rate(), ln.Rate()), "(reference)"});
#endif
}


// ---------------------------------------------------------------------------
// ingest

// Writes mb MiB sequentially in 8 MiB pwrites, then fdatasync; returns MB/s
// (1 MB = 1e6 bytes) over the whole, sync included.
double SequentialWriteRate(const Options& o, uint64_t mb) {
  ScratchDir dir(o.dir, "seq-write-");
  const std::string path = dir.path() + "/seq";
  const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
  if (fd < 0) Die("open " + path);
  std::vector<char> chunk(8u << 20);
  std::mt19937_64 rng(1);
  for (size_t i = 0; i < chunk.size(); i += 8) {
    const uint64_t x = rng();
    std::memcpy(&chunk[i], &x, 8);
  }
  const uint64_t total = mb << 20;
  const auto t0 = Clock::now();
  for (uint64_t off = 0; off < total; off += chunk.size()) {
    if (::pwrite(fd, chunk.data(), chunk.size(), static_cast<off_t>(off)) != static_cast<ssize_t>(chunk.size()))
      Die("pwrite " + path);
  }
  if (::fdatasync(fd) != 0) Die("fdatasync " + path);
  const double s = Seconds(t0, Clock::now());
  ::close(fd);
  return total / s / 1e6;
}

struct IngestFigures {
  double commit_s = 0;  // all Write()/txn commits
  double close_s = 0;   // vdb Close (checkpoint) / LMDB env close
  double cpu_s = 0;
  IoCounters::Snap io{};
  uint64_t file_bytes = 0;
};

void Ingest(const Options& o) {
  const std::string path = VDB_SHARED_DIR "/datasets/fashion-mnist/fashion-mnist-784_base.bvecs";
  fmt::print("\n== ingest: fashion-mnist base vectors in WriteBatches of {} ==\n", o.ingest_batch);
  auto loaded = vdb::dataset::LoadVecsAsFloat(path);
  if (!loaded.ok()) Die(loaded.status().ToString());
  const vdb::dataset::Matrix<float>& base = *loaded;
  const size_t rows = std::min<size_t>(o.ingest_rows, base.rows);
  const size_t dim = base.dim;
  const double payload_mb = static_cast<double>(rows) * dim * sizeof(float) / 1e6;
  const size_t batch = std::max<size_t>(1, o.ingest_batch);

  // The batches are built before the clock starts: only the commits are timed.
  std::vector<vdb::WriteBatch> batches;
  std::vector<std::string> ids(rows);
  for (size_t i = 0; i < rows; ++i) {
    if (i % batch == 0) batches.emplace_back();
    ids[i] = std::to_string(i);
    batches.back().Put(ids[i], std::vector<float>(base.row(i), base.row(i) + dim));
  }

  std::vector<double> disk;
  disk.push_back(SequentialWriteRate(o, o.seq_mb));

#ifdef VDB_HAVE_LMDB
  IngestFigures lf;
  {
    LmdbCommitDb lmdb(o, 8ull << 30);
    const double c0 = CpuSeconds();
    const auto t0 = Clock::now();
    for (size_t b0 = 0; b0 < rows; b0 += batch) {
      lmdb.Commit(std::min(batch, rows - b0), [&](size_t j, MDB_val* k, MDB_val* v) {
        const size_t i = b0 + j;
        *k = {ids[i].size(), ids[i].data()};
        *v = {dim * sizeof(float), const_cast<float*>(base.row(i))};
      });
    }
    lf.commit_s = Seconds(t0, Clock::now());
    const auto t1 = Clock::now();
    mdb_env_close(lmdb.env);
    lmdb.env = nullptr;
    lf.close_s = Seconds(t1, Clock::now());
    lf.cpu_s = CpuSeconds() - c0;
    std::error_code ec;
    lf.file_bytes = std::filesystem::file_size(lmdb.dir->path() + "/data.mdb", ec);
  }
#endif

  IngestFigures vf;
  {
    ScratchDir dir(o.dir, "vdb-bench-ingest-");
    vdb::CreateOptions co;
    co.dim = static_cast<uint32_t>(dim);
    co.metric = vdb::Metric::kL2;
    vdb::OpenOptions oo;
    oo.env = &g_env;
    auto r = vdb::Database::Create(dir.path() + "/ingest.vdb", co, oo);
    if (!r.ok()) Die("vdb create: " + r.status().ToString());
    std::unique_ptr<vdb::Database> db = std::move(*r);
    const auto io0 = g_io.Take();
    const double c0 = CpuSeconds();
    const auto t0 = Clock::now();
    size_t done = 0;
    for (const auto& b : batches) {
      Check(db->Write(b), "vdb write");
      done += b.size();
      fmt::print(stderr, "\r  vdb ingest: {}/{} rows, {:.0f} rows/s   ", done, rows,
                 done / Seconds(t0, Clock::now()));
    }
    fmt::print(stderr, "\n");
    vf.commit_s = Seconds(t0, Clock::now());
    vf.file_bytes = db->GetStats().file_bytes;
    const auto t1 = Clock::now();
    Check(db->Close(), "vdb close");
    vf.close_s = Seconds(t1, Clock::now());
    vf.cpu_s = CpuSeconds() - c0;
    CommitFigures tmp;
    tmp.AddIo(io0, g_io.Take());
    vf.io = tmp.io;
  }
  disk.push_back(SequentialWriteRate(o, o.seq_mb));
  const double disk_mbs = *std::max_element(disk.begin(), disk.end());

  Table t({"engine", "rows", "commit s", "close s", "vectors/s", "MB/s", "vs disk seq", "cpu s", "in I/O s",
           "not in I/O s", "written MB", "file MB"});
  auto row = [&](const std::string& name, const IngestFigures& f, bool io) {
    const double total = f.commit_s + f.close_s;
    t.Add({name, fmt::format("{}", rows), Fixed(f.commit_s, 2), Fixed(f.close_s, 2), Fixed(rows / total, 0),
           Fixed(payload_mb / total, 1), fmt::format("{:.1f}%", 100 * payload_mb / total / disk_mbs),
           Fixed(f.cpu_s, 1), io ? Fixed(f.io.io_ns * 1e-9, 2) : "-", io ? Fixed(total - f.io.io_ns * 1e-9, 2) : "-",
           io ? Fixed(f.io.bytes / 1e6, 0) : "-", Fixed(f.file_bytes / 1e6, 0)});
  };
  row("vdb Write (with HNSW)", vf, true);
#ifdef VDB_HAVE_LMDB
  row("LMDB (same bytes)", lf, false);
#endif
  t.Add({"disk seq write+fdatasync", "-", "-", "-", "-", Fixed(disk_mbs, 1), "100%", "-", "-", "-",
         fmt::format("{}", (o.seq_mb << 20) / 1000000), "-"});
  t.Print();
  fmt::print(
      "payload {:.1f} MB ({} x {} f32); rates over commit + close; disk rate = best of {} runs of {} MiB ({} MB/s).\n"
      "'in I/O s' = wall time inside vdb's writes and fdatasyncs (counted at the Env); the rest is building the\n"
      "transaction, mostly linking every vector into the HNSW graph (build_threads = all cores).\n",
      payload_mb, rows, dim, disk.size(), o.seq_mb, fmt::format("{:.1f}, {:.1f}", disk[0], disk[1]));
  const double vdb_mbs = payload_mb / (vf.commit_s + vf.close_s);
  const double io_share = vf.io.io_ns * 1e-9 / (vf.commit_s + vf.close_s);
  if (io_share < 0.5)
    fmt::print("HNSW graph building dominates vdb ingest: only {:.0f}% of its wall time is I/O.\n", 100 * io_share);
  g_summary.push_back({"ingest: vdb MB/s vs disk sequential write", fmt::format("{:.1f} / {:.1f} MB/s ({:.1f}%)",
                                                                            vdb_mbs, disk_mbs,
                                                                            100 * vdb_mbs / disk_mbs),
                       "(report; HNSW build included)"});
#ifdef VDB_HAVE_LMDB
  g_summary.push_back({"ingest: vdb / LMDB vectors/s", Ratio(rows / (vf.commit_s + vf.close_s),
                                                             rows / (lf.commit_s + lf.close_s)),
                       "(reference; LMDB stores bytes only)"});
#endif
}

// ---------------------------------------------------------------------------
// open

constexpr uint32_t kOpenDim = 128;

std::string SizeLabel(uint64_t n) {
  if (n % 1000000 == 0) return fmt::format("{}m", n / 1000000);
  if (n % 1000 == 0) return fmt::format("{}k", n / 1000);
  return fmt::format("{}", n);
}

// Clustered synthetic vectors: 256 centres in [-1, 1]^dim, points scattered
// around them with sigma 0.15. Row i is the same in every run.
class ClusteredVectors {
 public:
  explicit ClusteredVectors(uint32_t dim) : dim_(dim), centres_(256 * dim) {
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (float& x : centres_) x = u(rng);
  }
  void Row(uint64_t i, float* out) const {
    std::mt19937_64 rng(i * 0x9E3779B97F4A7C15ull + 1);
    std::normal_distribution<float> g(0.f, 0.15f);
    const float* c = &centres_[(rng() % 256) * dim_];
    for (uint32_t d = 0; d < dim_; ++d) out[d] = c[d] + g(rng);
  }

 private:
  uint32_t dim_;
  std::vector<float> centres_;
};

// Builds path with n clustered vectors (with the HNSW graph) unless a
// complete one is there already. Returns the build time, 0 when reused.
double EnsureOpenFile(const std::string& path, uint64_t n) {
  {
    vdb::OpenOptions ro;
    ro.read_only = true;
    auto r = vdb::Database::Open(path, ro);
    if (r.ok()) {
      const vdb::Stats st = (*r)->GetStats();
      if (st.count == n && st.dim == kOpenDim && st.graph_entry_point >= 0) {
        Check((*r)->Close(), "close " + path);
        return 0;
      }
      (void)(*r)->Close();
      fmt::print(stderr, "  {} holds {} records, not {}: rebuilding\n", path, st.count, n);
    }
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  vdb::CreateOptions co;
  co.dim = kOpenDim;
  co.metric = vdb::Metric::kL2;
  auto r = vdb::Database::Create(path, co, {});
  if (!r.ok()) Die("create " + path + ": " + r.status().ToString());
  std::unique_ptr<vdb::Database> db = std::move(*r);
  ClusteredVectors gen(kOpenDim);
  const auto t0 = Clock::now();
  constexpr uint64_t kBatch = 10000;
  for (uint64_t b0 = 0; b0 < n; b0 += kBatch) {
    vdb::WriteBatch b;
    for (uint64_t i = b0; i < std::min(n, b0 + kBatch); ++i) {
      std::vector<float> v(kOpenDim);
      gen.Row(i, v.data());
      b.Put(std::to_string(i), std::move(v));
    }
    Check(db->Write(b), "build " + path);
    const uint64_t done = std::min(n, b0 + kBatch);
    fmt::print(stderr, "\r  building {}: {}/{} rows, {:.0f} rows/s   ", path, done, n,
               done / Seconds(t0, Clock::now()));
  }
  Check(db->Close(), "close " + path);
  fmt::print(stderr, "\n");
  return Seconds(t0, Clock::now());
}

// Drops path's pages from the page cache (clean pages only; no root needed).
void EvictFromPageCache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  (void)::fdatasync(fd);
  (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

// Minor page faults of the process so far.
long MinorFaults() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

struct OpenTimes {
  Latencies open, first_hnsw, open_to_hnsw, second_hnsw, steady_hnsw, exact, close;
  uint64_t first_faults = 0;  // minor page faults during the first query, summed
  uint64_t open_syncs = 0;  // fdatasyncs issued inside Open, summed
};

// Open (read-write with default options, or read-only), one HNSW query, one
// exact query, Close; each step timed into *t.
void OpenOnce(const std::string& path, const std::vector<float>& query, const std::vector<float>& other,
              bool read_only, OpenTimes* t) {
  vdb::OpenOptions oo;
  oo.env = &g_env;
  oo.read_only = read_only;
  const uint64_t syncs0 = g_io.syncs.load();
  const auto t0 = Clock::now();
  auto r = vdb::Database::Open(path, oo);
  if (!r.ok()) Die("open " + path + ": " + r.status().ToString());
  const auto t1 = Clock::now();
  t->open_syncs += g_io.syncs.load() - syncs0;
  vdb::SearchOptions so;
  so.k = 10;
  const long faults0 = MinorFaults();
  auto hits = (*r)->Search(query, so);
  const auto t2 = Clock::now();
  t->first_faults += MinorFaults() - faults0;
  if (!hits.ok() || hits->size() != 10) Die("first query on " + path + " failed");
  const auto s0 = Clock::now();
  if (!(*r)->Search(other, so).ok()) Die("second query on " + path + " failed");
  t->second_hnsw.Add(Seconds(s0, Clock::now()));
  // The same two queries again, now that their pages are mapped: the search itself.
  Latencies steady;
  for (int i = 0; i < 10; ++i) {
    const auto q0 = Clock::now();
    if (!(*r)->Search(i % 2 ? other : query, so).ok()) Die("query on " + path + " failed");
    steady.Add(Seconds(q0, Clock::now()));
  }
  t->steady_hnsw.Add(steady.Percentile(50));
  so.exact = true;
  const auto e0 = Clock::now();
  auto exact = (*r)->Search(query, so);
  const auto t3 = Clock::now();
  if (!exact.ok() || exact->size() != 10) Die("exact query on " + path + " failed");
  Check((*r)->Close(), "close " + path);
  const auto t4 = Clock::now();
  t->open.Add(Seconds(t0, t1));
  t->first_hnsw.Add(Seconds(t1, t2));
  t->open_to_hnsw.Add(Seconds(t0, t2));
  t->exact.Add(Seconds(e0, t3));
  t->close.Add(Seconds(t3, t4));
}

void Open(const Options& o) {
  fmt::print("\n== open: open-to-first-query time, {} x f32 files (cache dir {}) ==\n", kOpenDim, o.cache_dir);
  ClusteredVectors qgen(kOpenDim);
  std::vector<std::vector<float>> queries(o.open_reps + 8, std::vector<float>(kOpenDim));
  for (size_t i = 0; i < queries.size(); ++i) qgen.Row((1ull << 40) + i, queries[i].data());

  Table t({"file", "MB", "open as", "cache", "reps", "fsyncs/open", "open ms p50", "open min", "1st HNSW query",
           "faults", "open+1st query p50", "min", "max", "2nd HNSW query", "repeated query", "exact query ms",
           "close ms"});
  std::vector<std::pair<uint64_t, double>> warm_p50, warm_ro_p50;
  for (uint64_t n : o.open_sizes) {
    const std::string path = o.cache_dir + "/vdb-bench-" + SizeLabel(n) + ".vdb";
    const double build_s = EnsureOpenFile(path, n);
    if (build_s > 0) fmt::print("built {} ({} x {}) in {:.1f} s ({:.0f} rows/s, HNSW included)\n", path, n, kOpenDim,
                                build_s, n / build_s);
    std::error_code ec;
    const double mb = std::filesystem::file_size(path, ec) / 1e6;
    OpenTimes warm_rw, warm_ro, cold;
    OpenTimes ignore;
    OpenOnce(path, queries[0], queries[1], false, &ignore);  // warm the page cache
    for (int i = 0; i < o.open_reps; ++i) {  // interleaved, so that noise hits both alike
      OpenOnce(path, queries[1 + i], queries[2 + i], false, &warm_rw);
      OpenOnce(path, queries[2 + i], queries[1 + i], true, &warm_ro);
    }
    for (int i = 0; i < 3; ++i) {
      EvictFromPageCache(path);
      OpenOnce(path, queries[2 + o.open_reps + i], queries[1 + i], true, &cold);
    }
    auto add = [&](const char* mode, const char* state, OpenTimes& x) {
      const size_t reps = x.open.samples.size();
      t.Add({path, Fixed(mb, 0), mode, state, fmt::format("{}", reps),
             Fixed(static_cast<double>(x.open_syncs) / std::max<size_t>(reps, 1), 1), Ms(x.open.Percentile(50)),
             Ms(x.open.Percentile(0)), Ms(x.first_hnsw.Percentile(50)),
             fmt::format("{}", x.first_faults / std::max<size_t>(reps, 1)), Ms(x.open_to_hnsw.Percentile(50)),
             Ms(x.open_to_hnsw.Percentile(0)), Ms(x.open_to_hnsw.Percentile(100)), Ms(x.second_hnsw.Percentile(50)),
             Ms(x.steady_hnsw.Percentile(50)), Ms(x.exact.Percentile(50)), Ms(x.close.Percentile(50))});
    };
    add("read-write", "warm", warm_rw);
    add("read-only", "warm", warm_ro);
    add("read-only", "cold", cold);
    warm_p50.push_back({n, warm_rw.open_to_hnsw.Percentile(50)});
    warm_ro_p50.push_back({n, warm_ro.open_to_hnsw.Percentile(50)});
  }
  t.Print();
  fmt::print(
      "warm: file in the page cache (after one untimed open); cold: its pages dropped with\n"
      "posix_fadvise(DONTNEED) before each open. 'open+1st query' = Database::Open (default options, or\n"
      "read_only) + one HNSW Search (k=10); 'faults' = minor page faults in that first query (the fresh map);\n"
      "a second HNSW query, the two again 5 times each ('repeated query': their pages are mapped now, median)\n"
      "and an exact query follow on the same handle; then Close\n"
      "(read-write: a checkpoint). A read-write open creates the WAL file: header write, fdatasync, directory\n"
      "fsync, so its time follows the disk's sync latency; a read-only open issues no sync.\n");
  for (auto* v : {&warm_p50, &warm_ro_p50}) {
    if (v->empty()) continue;
    const char* mode = v == &warm_p50 ? "read-write" : "read-only";
    const auto& [n_big, big] = v->back();
    g_summary.push_back({fmt::format("open: warm {} open + first HNSW query, {} x {}", mode, SizeLabel(n_big),
                                     kOpenDim),
                         fmt::format("{} ms", Ms(big)), "<= 5 ms"});
    if (v->size() > 1)
      g_summary.push_back({fmt::format("open: {} / {} warm {} open+query time", SizeLabel(n_big),
                                       SizeLabel(v->front().first), mode),
                           Ratio(big, v->front().second), "~1x (size-independent)"});
  }
}

}  // namespace

int main(int argc, char** argv) {
  Flags f(argc, argv);
  Options o;
  o.dir = f.Str("dir", o.dir);
  o.cache_dir = f.Str("cache-dir", o.cache_dir);
  o.rounds = static_cast<int>(std::max<int64_t>(1, f.Int("rounds", o.rounds)));
  o.commits = f.Int("commits", o.commits);
  o.threads = static_cast<int>(std::max<int64_t>(1, f.Int("threads", o.threads)));
  o.per_thread = f.Int("per-thread", o.per_thread);
  o.single_commits = f.Int("single-commits", o.single_commits);
  o.lmdb_per_thread = f.Int("lmdb-per-thread", o.lmdb_per_thread);
  o.commit_hnsw_m = static_cast<uint32_t>(f.Int("commit-hnsw-m", o.commit_hnsw_m));
  o.map_mib = f.Int("map-mib", o.map_mib);
  o.ingest_rows = f.Int("ingest-rows", o.ingest_rows);
  o.ingest_batch = f.Int("ingest-batch", o.ingest_batch);
  o.seq_mb = f.Int("seq-mb", o.seq_mb);
  o.open_sizes = f.IntList("open-sizes", "10k,100k,1m");
  o.open_reps = static_cast<int>(std::max<int64_t>(1, f.Int("open-reps", o.open_reps)));
  for (const std::string& u : f.Unknown()) Die("unknown flag --" + u);

  const std::vector<std::string> all = {"commit1", "commit16", "ingest", "open"};
  std::vector<std::string> run = f.positional().empty() ? all : f.positional();
  for (std::string& w : run) {
    if (w == "open1m") w = "open";
    if (std::find(all.begin(), all.end(), w) == all.end())
      Die("unknown workload '" + w + "' (commit1, commit16, ingest, open)");
  }
  std::string load;
  if (FILE* la = std::fopen("/proc/loadavg", "r")) {
    char buf[128] = {};
    if (std::fgets(buf, sizeof buf, la)) load = buf;
    std::fclose(la);
    if (!load.empty() && load.back() == '\n') load.pop_back();
  }
  // OpenBLAS (linked in for exact search) starts spinning worker threads at
  // load time; let them settle so the first timed phase neither counts their
  // CPU nor competes with them for the cores.
  const double settle = WaitForQuietThreads();
  fmt::print("storage_bench: {} cores, load average {}, scratch dir {}, waited {:.0f} ms for start-up threads to "
             "sleep\n",
             std::thread::hardware_concurrency(), load, o.dir, settle * 1e3);
  for (const std::string& w : run) {
    if (w == "commit1") Commit1(o);
    if (w == "commit16") Commit16(o);
    if (w == "ingest") Ingest(o);
    if (w == "open") Open(o);
  }
  fmt::print("\n== summary ==\n");
  Table t({"figure", "value", "target"});
  for (const auto& s : g_summary) t.Add({s.what, s.value, s.target});
  t.Print();
  return 0;
}
