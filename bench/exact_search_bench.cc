// Exact search on fashion-mnist (60,000 x 784, f32 = 188 MB), one thread:
// one query at a time (bound by memory bandwidth) and batched (bound by the
// matrix product), side by side with faiss IndexFlatL2 when available.
//
//   exact_search_bench [--single N] [--batch N] [--k K] [--threads T] [--rounds R]
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
#include <cstring>
#include <ctime>
#include <limits>
#include <string>
#include <vector>

#include "engine/dataset.h"
#include "engine/kernels/distance.h"
#include "engine/kernels/exact_search.h"

#ifdef VDB_HAVE_FAISS
#include <faiss/IndexFlat.h>
extern "C" void omp_set_num_threads(int);
using FaissIdx = faiss::Index::idx_t;
#endif

namespace {

using vdb::kernels::ScanHit;
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
};

// The vectors under search. The exact-search calls below are the part to
// replace when the benchmark goes through vdb::Database.
struct Corpus {
  vdb::dataset::Matrix<float> base;
  vdb::dataset::Matrix<float> queries;
  vdb::dataset::Matrix<int32_t> truth;
  vdb::kernels::VectorBlock block;
};

std::vector<ScanHit> VdbSearch(const Corpus& c, const float* query, const Options& o) {
  return vdb::kernels::ExactTopK({&c.block, 1}, query, c.base.dim, vdb::kernels::ScanMetric::kL2, o.k, o.threads,
                                 nullptr);
}

std::vector<std::vector<ScanHit>> VdbSearchBatch(const Corpus& c, const float* queries, size_t nq, const Options& o) {
  return vdb::kernels::ExactTopKBatch({&c.block, 1}, queries, nq, c.base.dim, vdb::kernels::ScanMetric::kL2, o.k,
                                      o.threads, nullptr);
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

std::vector<int64_t> Ids(const std::vector<ScanHit>& hits) {
  std::vector<int64_t> ids;
  for (const ScanHit& h : hits) ids.push_back(h.slot);
  return ids;
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
  c.block = {c.base.data.data(), 0, static_cast<uint32_t>(c.base.rows), c.base.dim * sizeof(float), nullptr, nullptr};
  const double corpus_bytes = static_cast<double>(c.base.rows) * c.base.dim * sizeof(float);
  const double bandwidth = MeasureReadBandwidth(c.base.data);
  fmt::print("exact_search_bench: fashion-mnist {} x {} f32 ({:.0f} MB), k={}, threads={}, kernels={}\n", c.base.rows,
             c.base.dim, corpus_bytes / 1e6, o.k, o.threads, vdb::kernels::KernelName());
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
  std::vector<Row> rows = {{"vdb exact", "single", o.single, vdb_single}, {"vdb exact", "batch", o.batch, vdb_batch}};
#ifdef VDB_HAVE_FAISS
  rows.push_back({"faiss IndexFlatL2", "single", o.single, faiss_single});
  rows.push_back({"faiss IndexFlatL2", "batch", o.batch, faiss_batch});
#else
  fmt::print("faiss not available: peer rows omitted\n");
#endif
  PrintTable(rows, bandwidth, corpus_bytes);
  return 0;
}
