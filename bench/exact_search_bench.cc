// Exact search on fashion-mnist (60,000 x 784, f32 = 188 MB), one thread:
// one query at a time (bound by memory bandwidth) and batched (bound by the
// matrix product), side by side with faiss IndexFlatL2 when available.
//
//   exact_search_bench [--single N] [--batch N] [--k K] [--threads T] [--rounds R] [--db PATH]
//
// vdb is measured through its public API: Database::Search / SearchBatch
// with SearchOptions::exact on a database file (l2, dim 784) holding the base
// vectors, read in place from the memory map. The file is built once (bulk
// WriteBatches of 5,000; the HNSW graph is linked too, which takes minutes)
// at PATH (default /tmp/vdb-bench-fashion-mnist.vdb) and reused by later runs
// when it holds exactly the base vectors' count and dimension.
//
// Each engine runs each mode R times, interleaved with its peer; the table
// keeps the best round. QPS is wall-clock; "cpu QPS" divides by the process
// CPU time instead, which stays meaningful on a machine shared with other
// work. The memory-bandwidth yardstick is measured here: the best of several
// streaming sums over the corpus (far larger than the caches); "GB/s" and
// "% of BW" compare the scan with it, both per CPU second.
#include <cblas.h>
#include <fmt/core.h>
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "engine/dataset.h"
#include "engine/kernels/distance.h"
#include "vdb/db.h"

#ifdef VDB_HAVE_FAISS
#include <faiss/IndexFlat.h>
extern "C" void omp_set_num_threads(int);
using FaissIdx = faiss::Index::idx_t;
#endif

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Best (lowest) wall and CPU time over the rounds of one engine and mode.
struct Timing {
  double wall = std::numeric_limits<double>::infinity();
  double cpu = std::numeric_limits<double>::infinity();
  double recall = 0;
};

// Times fn() (which returns the mean recall of its queries) into *t.
template <typename Fn>
void TimeRound(Timing* t, Fn fn) {
  const double c0 = CpuSeconds();
  const auto t0 = Clock::now();
  const double recall = fn();
  t->wall = std::min(t->wall, Seconds(t0, Clock::now()));
  t->cpu = std::min(t->cpu, CpuSeconds() - c0);
  t->recall = recall;
}

struct Options {
  size_t single = 50;   // queries run one at a time
  size_t batch = 1000;  // queries in the batched run
  size_t k = 10;
  int threads = 1;
  int rounds = 3;
  std::string db = "/tmp/vdb-bench-fashion-mnist.vdb";
};

// The vectors under search: in memory for faiss and the bandwidth yardstick,
// and in the vdb database (record id = row number in decimal).
struct Corpus {
  vdb::dataset::Matrix<float> base;
  vdb::dataset::Matrix<float> queries;
  vdb::dataset::Matrix<int32_t> truth;
  std::unique_ptr<vdb::Database> db;
};

[[noreturn]] void Die(const std::string& what) {
  fmt::print(stderr, "exact_search_bench: {}\n", what);
  std::exit(1);
}

// Opens the database at o.db read-only, first building it from c.base when
// it is missing or does not hold exactly those rows. Returns the build time
// in seconds (0 when the file was reused).
double OpenDatabase(Corpus* c, const Options& o) {
  vdb::OpenOptions ro;
  ro.read_only = true;
  ro.search_threads = o.threads;
  auto r = vdb::Database::Open(o.db, ro);
  if (r.ok()) {
    const vdb::Stats st = (*r)->GetStats();
    if (st.count == c->base.rows && st.dim == c->base.dim && st.metric == vdb::Metric::kL2) {
      c->db = std::move(*r);
      return 0;
    }
    (void)(*r)->Close();
    fmt::print(stderr, "{} holds {} x {} records, not {} x {}: rebuilding\n", o.db, st.count, st.dim, c->base.rows,
               c->base.dim);
  }
  std::remove(o.db.c_str());
  std::remove((o.db + "-wal").c_str());
  vdb::CreateOptions co;
  co.dim = static_cast<uint32_t>(c->base.dim);
  co.metric = vdb::Metric::kL2;
  auto w = vdb::Database::Create(o.db, co, {});
  if (!w.ok()) Die("create " + o.db + ": " + w.status().ToString());
  const auto t0 = Clock::now();
  constexpr size_t kBatch = 5000;
  for (size_t b0 = 0; b0 < c->base.rows; b0 += kBatch) {
    vdb::WriteBatch b;
    for (size_t i = b0; i < std::min(c->base.rows, b0 + kBatch); ++i)
      b.Put(std::to_string(i), std::vector<float>(c->base.row(i), c->base.row(i) + c->base.dim));
    vdb::Status s = (*w)->Write(b);
    if (!s.ok()) Die("load " + o.db + ": " + s.ToString());
    fmt::print(stderr, "\r  building {}: {}/{} rows   ", o.db, std::min(c->base.rows, b0 + kBatch), c->base.rows);
  }
  fmt::print(stderr, "\n");
  vdb::Status s = (*w)->Close();
  if (!s.ok()) Die("close " + o.db + ": " + s.ToString());
  const double build = Seconds(t0, Clock::now());
  r = vdb::Database::Open(o.db, ro);
  if (!r.ok()) Die("open " + o.db + ": " + r.status().ToString());
  c->db = std::move(*r);
  return build;
}

vdb::SearchOptions ExactOptions(const Options& o) {
  vdb::SearchOptions so;
  so.k = o.k;
  so.exact = true;
  so.threads = o.threads;
  return so;
}

// Row numbers of the hits (their ids), best first.
std::vector<int64_t> Ids(const std::vector<vdb::SearchHit>& hits) {
  std::vector<int64_t> ids;
  ids.reserve(hits.size());
  for (const vdb::SearchHit& h : hits) ids.push_back(std::strtoll(h.id.c_str(), nullptr, 10));
  return ids;
}

std::vector<vdb::SearchHit> VdbSearch(const Corpus& c, const float* query, const Options& o) {
  auto r = c.db->Search({query, c.base.dim}, ExactOptions(o));
  if (!r.ok()) Die("search: " + r.status().ToString());
  return std::move(*r);
}

std::vector<std::vector<vdb::SearchHit>> VdbSearchBatch(const Corpus& c, const float* queries, size_t nq,
                                                        const Options& o) {
  auto r = c.db->SearchBatch({queries, nq * c.base.dim}, nq, ExactOptions(o));
  if (!r.ok()) Die("search batch: " + r.status().ToString());
  return std::move(*r);
}

__attribute__((target("avx2"))) float StreamSum(const float* p, size_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  for (size_t i = 0; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  float s = 0;
  for (float x : lanes) s += x;
  return s;
}

// Single-core read bandwidth in bytes per CPU second over the corpus itself
// (far larger than the caches): the best of 5 streaming sums.
double MeasureReadBandwidth(const std::vector<float>& data) {
  double best = 0;
  volatile float sink = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const double c0 = CpuSeconds();
    sink = sink + StreamSum(data.data(), data.size());
    best = std::max(best, data.size() * sizeof(float) / (CpuSeconds() - c0));
  }
  return best;
}

// Share of the first min(k, 10) ground-truth ids found (ties may swap ids at
// equal distance, so a little under 1.0 is still exact).
double RecallAt(const Corpus& c, size_t qi, const std::vector<int64_t>& ids) {
  const size_t n = std::min<size_t>({ids.size(), c.truth.dim, 10});
  if (n == 0) return 0;
  size_t hit = 0;
  for (size_t i = 0; i < n; ++i) {
    const int32_t want = c.truth.row(qi)[i];
    for (size_t j = 0; j < n; ++j) hit += (ids[j] == want);
  }
  return static_cast<double>(hit) / n;
}

struct Row {
  std::string engine;
  std::string mode;
  size_t queries;
  Timing t;
};

void PrintTable(const std::vector<Row>& rows, double bandwidth, double corpus_bytes) {
  fmt::print("\n{:<18} {:<7} {:>7} {:>8} {:>9} {:>8} {:>9} {:>6} {:>7} {:>9}\n", "engine", "mode", "queries", "QPS",
             "vs faiss", "cpu QPS", "vs faiss", "GB/s", "% of BW", "recall@10");
  for (const Row& r : rows) {
    const double qps = r.queries / r.t.wall;
    const double cpu_qps = r.queries / r.t.cpu;
    std::string ratio = "-", cpu_ratio = "-";
    for (const Row& f : rows) {
      if (f.engine.rfind("faiss", 0) == 0 && f.mode == r.mode) {
        ratio = fmt::format("{:.2f}x", qps / (f.queries / f.t.wall));
        cpu_ratio = fmt::format("{:.2f}x", cpu_qps / (f.queries / f.t.cpu));
      }
    }
    // Bytes streamed per query only make sense one query at a time; both
    // sides of the comparison are per CPU second.
    const bool single = r.mode == "single";
    const std::string gbs = single ? fmt::format("{:.1f}", cpu_qps * corpus_bytes / 1e9) : "-";
    const std::string pct = single ? fmt::format("{:.0f}%", 100 * cpu_qps * corpus_bytes / bandwidth) : "-";
    fmt::print("{:<18} {:<7} {:>7} {:>8.1f} {:>9} {:>8.1f} {:>9} {:>6} {:>7} {:>9.3f}\n", r.engine, r.mode, r.queries,
               qps, ratio, cpu_qps, cpu_ratio, gbs, pct, r.t.recall);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const long v = std::strtol(argv[i + 1], nullptr, 10);
    if (flag == "--single")
      o.single = static_cast<size_t>(v);
    else if (flag == "--batch")
      o.batch = static_cast<size_t>(v);
    else if (flag == "--k")
      o.k = static_cast<size_t>(v);
    else if (flag == "--threads")
      o.threads = static_cast<int>(v);
    else if (flag == "--rounds")
      o.rounds = std::max(1, static_cast<int>(v));
    else if (flag == "--db")
      o.db = argv[i + 1];
    else {
      fmt::print(stderr, "unknown flag {}\n", flag);
      return 2;
    }
  }
#ifdef OPENBLAS_VERSION
  openblas_set_num_threads(o.threads);
#endif
#ifdef VDB_HAVE_FAISS
  omp_set_num_threads(o.threads);
#endif

  const std::string dir = VDB_SHARED_DIR "/datasets/fashion-mnist/";
  Corpus c;
  {
    auto base = vdb::dataset::LoadVecsAsFloat(dir + "fashion-mnist-784_base.bvecs");
    auto queries = vdb::dataset::LoadVecsAsFloat(dir + "fashion-mnist-784_query.bvecs");
    auto truth = vdb::dataset::LoadIvecs(dir + "fashion-mnist-784_groundtruth.ivecs");
    for (const vdb::Status* s : {&base.status(), &queries.status(), &truth.status()}) {
      if (!s->ok()) {
        fmt::print(stderr, "{}\n", s->ToString());
        return 1;
      }
    }
    c.base = std::move(base).value();
    c.queries = std::move(queries).value();
    c.truth = std::move(truth).value();
  }
  o.single = std::min(o.single, c.queries.rows);
  o.batch = std::min(o.batch, c.queries.rows);
  const double build_s = OpenDatabase(&c, o);
  if (build_s > 0)
    fmt::print("built {} in {:.1f} s (bulk WriteBatches of 5000, HNSW graph included)\n", o.db, build_s);
  else
    fmt::print("reusing {} ({} records)\n", o.db, c.db->GetStats().count);
  const double corpus_bytes = static_cast<double>(c.base.rows) * c.base.dim * sizeof(float);
  const double bandwidth = MeasureReadBandwidth(c.base.data);
  fmt::print(
      "exact_search_bench: fashion-mnist {} x {} f32 ({:.0f} MB), k={}, threads={}, kernels={}; vdb through "
      "Database::Search/SearchBatch (exact)\n",
      c.base.rows, c.base.dim, corpus_bytes / 1e6, o.k, o.threads, vdb::kernels::KernelName());
  fmt::print(
      "measured single-core read bandwidth (streaming sum, per CPU second): {:.1f} GB/s -> bound {:.1f} QPS "
      "one query at a time\n",
      bandwidth / 1e9, bandwidth / corpus_bytes);

  Timing vdb_single, vdb_batch;
  auto run_vdb_single = [&] {
    double recall = 0;
    for (size_t i = 0; i < o.single; ++i) recall += RecallAt(c, i, Ids(VdbSearch(c, c.queries.row(i), o)));
    return recall / o.single;
  };
  auto run_vdb_batch = [&] {
    const auto results = VdbSearchBatch(c, c.queries.data.data(), o.batch, o);
    double recall = 0;
    for (size_t i = 0; i < o.batch; ++i) recall += RecallAt(c, i, Ids(results[i]));
    return recall / o.batch;
  };
  VdbSearch(c, c.queries.row(0), o);  // warm up
#ifdef VDB_HAVE_FAISS
  Timing faiss_single, faiss_batch;
  faiss::IndexFlatL2 index(static_cast<FaissIdx>(c.base.dim));
  index.add(static_cast<FaissIdx>(c.base.rows), c.base.data.data());
  std::vector<float> dist(o.batch * o.k);
  std::vector<FaissIdx> labels(o.batch * o.k);
  auto ids_of = [&](size_t qi) {
    return std::vector<int64_t>(labels.begin() + qi * o.k, labels.begin() + (qi + 1) * o.k);
  };
  auto run_faiss_single = [&] {
    double recall = 0;
    for (size_t i = 0; i < o.single; ++i) {
      index.search(1, c.queries.row(i), static_cast<FaissIdx>(o.k), dist.data(), labels.data());
      recall += RecallAt(c, i, ids_of(0));
    }
    return recall / o.single;
  };
  auto run_faiss_batch = [&] {
    index.search(static_cast<FaissIdx>(o.batch), c.queries.data.data(), static_cast<FaissIdx>(o.k), dist.data(),
                 labels.data());
    double recall = 0;
    for (size_t i = 0; i < o.batch; ++i) recall += RecallAt(c, i, ids_of(i));
    return recall / o.batch;
  };
  index.search(1, c.queries.row(0), static_cast<FaissIdx>(o.k), dist.data(), labels.data());  // warm up
#endif
  for (int round = 0; round < o.rounds; ++round) {
    TimeRound(&vdb_single, run_vdb_single);
    TimeRound(&vdb_batch, run_vdb_batch);
#ifdef VDB_HAVE_FAISS
    TimeRound(&faiss_single, run_faiss_single);
    TimeRound(&faiss_batch, run_faiss_batch);
#endif
  }
  std::vector<Row> rows = {{"vdb Search exact", "single", o.single, vdb_single},
                           {"vdb Search exact", "batch", o.batch, vdb_batch}};
#ifdef VDB_HAVE_FAISS
  rows.push_back({"faiss IndexFlatL2", "single", o.single, faiss_single});
  rows.push_back({"faiss IndexFlatL2", "batch", o.batch, faiss_batch});
#else
  fmt::print("faiss not available: peer rows omitted\n");
#endif
  PrintTable(rows, bandwidth, corpus_bytes);
  return 0;
}
