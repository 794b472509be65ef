// hnsw_bench: vdb's HNSW against hnswlib and faiss IndexHNSWFlat, one search
// thread, same M and ef_construction. Three parts:
//
//  recall  recall@10 vs queries/s on siftsmall and fashion-mnist for
//          ef in {10, 16, ..., 512}: vdb-mem (the algorithm over the in-memory
//          store), vdb-file (the product: a .vdb file built with durable
//          WriteBatches, closed, reopened and searched through
//          Database::Search from the memory map), hnswlib, faiss. Passes of
//          the libraries are interleaved so machine load hits all alike.
//  build   insert rate per build thread count: vdb-file (SyncMode::kFull,
//          Write of --batch records each) vs hnswlib and vdb-mem in memory;
//          with --build-reps R, R alternating rounds and their medians.
//  big     clustered synthetic vectors (--big-n x 128, files cached in
//          --cache-dir): open-to-first-result of a vdb file vs hnswlib's
//          loadIndex + first searchKnn, and resident memory while serving
//          --big-queries queries, each engine in a fresh child process.
//
//   hnsw_bench [--quick] [--parts recall,build,big] [--dataset siftsmall|fashion-mnist|all]
//              [--n ROWS] [--queries Q] [--threads T] [--build-threads 1,2] [--build-reps R] [--batch B]
//              [--m M] [--ef-construction EFC] [--min-time S] [--out DIR] [--dir DIR]
//              [--big-n N] [--big-queries Q] [--big-ef EF] [--cache-dir DIR]
//
// Writes DIR/hnsw_<dataset>.dat (gnuplot blocks "recall qps ef", one per
// library) and, with gnuplot installed, DIR/hnsw_<dataset>.png.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/dataset.h"
#include "engine/hnsw/hnsw.h"
#include "engine/hnsw/memory_graph.h"
#include "engine/kernels/distance.h"
#include "engine/kernels/exact_search.h"
#include "vdb/db.h"

#ifdef VDB_HAVE_HNSWLIB
// hnswlib picks its distance kernels at compile time (SSE unless __AVX__);
// with GCC compile its AVX kernels (chosen at run time only on AVX CPUs), so
// the peer runs as ann-benchmarks builds it (-march=native).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define USE_AVX
#include <hnswlib/hnswlib.h>
#pragma GCC pop_options
constexpr const char* kHnswlibKernels = "avx";
#else
#include <hnswlib/hnswlib.h>
constexpr const char* kHnswlibKernels = "sse";
#endif
#endif
#ifdef VDB_HAVE_FAISS
#include <faiss/IndexHNSW.h>
#include <omp.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;
double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
double Ms(Clock::time_point a, Clock::time_point b) { return 1e3 * Seconds(a, b); }

constexpr uint32_t kEfs[] = {10, 16, 24, 32, 48, 64, 96, 128, 256, 512};
constexpr size_t kK = 10;
constexpr uint32_t kBigDim = 128;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "hnsw_bench: %s\n", what.c_str());
  std::exit(1);
}
void Check(const vdb::Status& s, const std::string& what) {
  if (!s.ok()) Die(what + ": " + s.ToString());
}

struct Options {
  std::string parts = "recall,build,big";
  std::string dataset = "all";
  size_t n = 0;        // 0: all base rows
  size_t queries = 0;  // 0: all queries
  int threads = 1;     // build threads of the recall part
  std::vector<int> build_threads = {1, 2};
  int build_reps = 1;  // builds per engine and thread count (medians reported)
  size_t batch = 1000;
  uint32_t m = 16;
  uint32_t efc = 200;
  double min_time = 0.5;
  std::string out = ".";
  std::string dir = "/tmp";
  size_t big_n = 200000;  // 1000000 for the 1M figure (builds take ~15+ min here)
  size_t big_queries = 1000;
  uint32_t big_ef = 40;
  size_t big_truth = 100;  // queries whose recall is checked
  std::string cache_dir = "/tmp";
  uint64_t map_mb = 0;  // OpenOptions::map_size in MiB (0: default; valgrind needs a small one)
  // Child mode (internal): serve the big file with one engine and report.
  std::string serve_engine, serve_path;
  bool serve_cold = false;
  bool Has(const char* part) const { return ("," + parts + ",").find(std::string(",") + part + ",") != std::string::npos; }
};

struct Data {
  std::string name;
  uint32_t dim = 0;
  size_t n = 0, nq = 0;
  std::vector<float> base, queries;
  std::vector<std::vector<int32_t>> truth;  // kK ids per query
};

struct Point {
  uint32_t ef;
  double recall;
  double qps;
};

// search(first, count, out) answers queries [first, first + count) with up to
// kK ids each.
using SearchFn = std::function<void(size_t, size_t, std::vector<std::vector<int64_t>>*)>;

// One library's index over one dataset; the closures own the index.
struct Engine {
  Engine(std::string name, int t) : lib(std::move(name)), threads(t) {}
  std::string lib;
  int threads = 1;
  double build_s = 0;
  double close_s = 0;  // vdb-file: Close (checkpoint) after the build
  std::function<void(uint32_t)> set_ef;
  SearchFn search;
  std::vector<Point> points;
};

bool Load(const std::string& name, const Options& o, Data* d) {
  const std::string dir = std::string(VDB_SHARED_DIR) + "/datasets/" + name + "/";
  std::string base_path, query_path, gt_path;
  if (name == "siftsmall") {
    base_path = dir + "siftsmall_base.fvecs";
    query_path = dir + "siftsmall_query.fvecs";
    gt_path = dir + "siftsmall_groundtruth.ivecs";
  } else {
    base_path = dir + "fashion-mnist-784_base.bvecs";
    query_path = dir + "fashion-mnist-784_query.bvecs";
    gt_path = dir + "fashion-mnist-784_groundtruth.ivecs";
  }
  auto base = vdb::dataset::LoadVecsAsFloat(base_path);
  auto query = vdb::dataset::LoadVecsAsFloat(query_path);
  auto gt = vdb::dataset::LoadIvecs(gt_path);
  if (!base.ok() || !query.ok() || !gt.ok()) {
    std::fprintf(stderr, "cannot load %s\n", name.c_str());
    return false;
  }
  d->name = name;
  d->dim = static_cast<uint32_t>(base->dim);
  d->n = o.n != 0 ? std::min(o.n, base->rows) : base->rows;
  d->nq = o.queries != 0 ? std::min(o.queries, query->rows) : query->rows;
  d->base.assign(base->data.begin(), base->data.begin() + d->n * d->dim);
  d->queries.assign(query->data.begin(), query->data.begin() + d->nq * d->dim);
  d->truth.resize(d->nq);
  if (d->n == base->rows) {
    for (size_t i = 0; i < d->nq; ++i) d->truth[i].assign(gt->row(i), gt->row(i) + kK);
  } else {  // a subset: exact search over it with the shared kernels
    vdb::kernels::VectorBlock block;
    block.base = d->base.data();
    block.count = static_cast<uint32_t>(d->n);
    block.stride_bytes = d->dim * sizeof(float);
    for (size_t i = 0; i < d->nq; ++i) {
      auto hits = vdb::kernels::ExactTopK({&block, 1}, &d->queries[i * d->dim], d->dim,
                                          vdb::kernels::ScanMetric::kL2, kK, 2, nullptr);
      for (const auto& h : hits) d->truth[i].push_back(static_cast<int32_t>(h.slot));
    }
  }
  return true;
}

// Runs every query at each ef, for every engine. Passes over all queries are
// interleaved across engines and repeated until each engine has run for
// min_time (at least twice); each engine keeps its fastest pass, so that
// other processes on the machine disturb the figures less.
void Sweep(const Data& d, double min_time, std::vector<Engine>* engines) {
  std::vector<std::vector<std::vector<int64_t>>> got(engines->size(),
                                                     std::vector<std::vector<int64_t>>(d.nq));
  for (uint32_t ef : kEfs) {
    std::vector<double> best(engines->size(), 1e30), total(engines->size(), 0);
    for (Engine& e : *engines) e.set_ef(ef);
    for (int pass = 0; pass < 1000; ++pass) {
      if (pass >= 2 && *std::min_element(total.begin(), total.end()) >= min_time) break;
      for (size_t i = 0; i < engines->size(); ++i) {
        const auto t0 = Clock::now();
        (*engines)[i].search(0, d.nq, &got[i]);
        const double s = Seconds(t0, Clock::now());
        best[i] = std::min(best[i], s);
        total[i] += s;
      }
    }
    for (size_t i = 0; i < engines->size(); ++i) {
      size_t hit = 0;
      for (size_t q = 0; q < d.nq; ++q) {
        for (int64_t id : got[i][q]) hit += std::count(d.truth[q].begin(), d.truth[q].end(), id);
      }
      (*engines)[i].points.push_back({ef, hit / double(kK * d.nq), d.nq / best[i]});
    }
  }
}

Engine MakeVdbMem(const Data& d, const Options& o, int threads) {
  Engine e{"vdb-mem", threads};
  vdb::hnsw::Params p;
  p.dim = d.dim;
  p.m = o.m;
  p.ef_construction = o.efc;
  auto created = vdb::hnsw::InMemoryGraph::Create(p, static_cast<uint32_t>(d.n));
  if (!created.ok()) Die("in-memory graph: " + created.status().ToString());
  std::shared_ptr<vdb::hnsw::InMemoryGraph> g(std::move(*created));
  std::vector<uint32_t> slots(d.n);
  std::iota(slots.begin(), slots.end(), 0u);
  const auto t0 = Clock::now();
  for (uint32_t i = 0; i < d.n; ++i) (void)g->SetVector(i, &d.base[size_t{i} * d.dim]);
  Check(vdb::hnsw::ParallelBuild(*g, p, slots, threads), "vdb-mem build");
  e.build_s = Seconds(t0, Clock::now());
  auto so = std::make_shared<vdb::hnsw::SearchOptions>();
  so->k = kK;
  e.set_ef = [so](uint32_t ef) { so->ef = ef; };
  e.search = [g, so, p, &d](size_t first, size_t count, std::vector<std::vector<int64_t>>* out) {
    std::vector<vdb::hnsw::SearchHit> hits;
    for (size_t q = first; q < first + count; ++q) {
      (void)vdb::hnsw::Search(*g, p, &d.queries[q * d.dim], *so, &hits);
      (*out)[q].clear();
      for (const auto& h : hits) (*out)[q].push_back(h.slot);
    }
  };
  return e;
}

// A scratch database file, removed with the handle.
struct ScratchDb {
  std::string path;
  std::unique_ptr<vdb::Database> db;
  ~ScratchDb() {
    if (db) (void)db->Close();
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
  }
};

// The product: rows written durably in WriteBatches (row number = id), the
// database closed and reopened, then searched from the mapped file. The
// batches are built first; the timed build either submits them pipelined
// (Database::Submit, each batch linking while the previous one's log write
// is synced, as `vdb import` does) and ends when Wait for the last returns,
// or (pipelined = false) calls Write per batch, each waiting for its sync.
Engine MakeVdbFile(const Data& d, const Options& o, int threads, bool searchable, bool pipelined = true) {
  Engine e{"vdb-file", threads};
  auto s = std::make_shared<ScratchDb>();
  s->path = o.dir + "/hnsw_bench_" + d.name + ".vdb";
  std::filesystem::remove(s->path);
  std::filesystem::remove(s->path + "-wal");
  vdb::CreateOptions co;
  co.dim = d.dim;
  co.metric = vdb::Metric::kL2;
  co.hnsw_m = o.m;
  co.hnsw_ef_construction = o.efc;
  vdb::OpenOptions oo;
  oo.sync = vdb::SyncMode::kFull;
  oo.build_threads = threads;
  if (o.map_mb != 0) oo.map_size = o.map_mb << 20;
  auto created = vdb::Database::Create(s->path, co, oo);
  if (!created.ok()) Die("create " + s->path + ": " + created.status().ToString());
  s->db = std::move(*created);
  std::vector<vdb::WriteBatch> batches;  // built outside the timed region
  for (size_t b0 = 0; b0 < d.n; b0 += o.batch) {
    vdb::WriteBatch& b = batches.emplace_back();
    for (size_t i = b0; i < std::min(d.n, b0 + o.batch); ++i) {
      b.Put(std::to_string(i), std::vector<float>(&d.base[i * d.dim], &d.base[(i + 1) * d.dim]));
    }
  }
  const auto t0 = Clock::now();
  if (pipelined) {
    uint64_t last = 0;
    for (const vdb::WriteBatch& b : batches) {
      auto seq = s->db->Submit(b);
      if (!seq.ok()) Die("vdb-file submit: " + seq.status().ToString());
      last = *seq;
    }
    Check(s->db->Wait(last), "vdb-file wait");
  } else {
    for (const vdb::WriteBatch& b : batches) Check(s->db->Write(b), "vdb-file write");
  }
  e.build_s = Seconds(t0, Clock::now());
  batches.clear();
  const auto c0 = Clock::now();
  Check(s->db->Close(), "close " + s->path);
  e.close_s = Seconds(c0, Clock::now());
  s->db.reset();
  if (!searchable) return e;
  auto opened = vdb::Database::Open(s->path, oo);
  if (!opened.ok()) Die("open " + s->path + ": " + opened.status().ToString());
  s->db = std::move(*opened);
  auto so = std::make_shared<vdb::SearchOptions>();
  so->k = kK;
  e.set_ef = [so](uint32_t ef) { so->ef = ef; };
  e.search = [s, so, &d](size_t first, size_t count, std::vector<std::vector<int64_t>>* out) {
    for (size_t q = first; q < first + count; ++q) {
      auto hits = s->db->Search({&d.queries[q * d.dim], d.dim}, *so);
      if (!hits.ok()) Die("vdb-file search: " + hits.status().ToString());
      (*out)[q].clear();
      for (const auto& h : *hits) (*out)[q].push_back(static_cast<int64_t>(std::stoul(h.id)));
    }
  };
  return e;
}

#ifdef VDB_HAVE_HNSWLIB
struct Hnsw {
  explicit Hnsw(uint32_t dim) : space(dim) {}
  hnswlib::L2Space space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index;
};

// Adds rows [0, n) from threads threads; row(i, buf) yields row i.
void HnswlibAdd(hnswlib::HierarchicalNSW<float>* index, size_t n, uint32_t dim, int threads,
                const std::function<const float*(size_t, float*)>& row) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    std::vector<float> buf(dim);
    for (size_t i; (i = next.fetch_add(1)) < n;) index->addPoint(row(i, buf.data()), i);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

Engine MakeHnswlib(const Data& d, const Options& o, int threads) {
  Engine e{"hnswlib", threads};
  auto h = std::make_shared<Hnsw>(d.dim);
  h->index = std::make_unique<hnswlib::HierarchicalNSW<float>>(&h->space, d.n, o.m, o.efc, 100);
  const auto t0 = Clock::now();
  HnswlibAdd(h->index.get(), d.n, d.dim, threads, [&](size_t i, float*) { return &d.base[i * d.dim]; });
  e.build_s = Seconds(t0, Clock::now());
  e.set_ef = [h](uint32_t ef) { h->index->setEf(ef); };
  e.search = [h, &d](size_t first, size_t count, std::vector<std::vector<int64_t>>* out) {
    for (size_t q = first; q < first + count; ++q) {
      auto pq = h->index->searchKnn(&d.queries[q * d.dim], kK);
      (*out)[q].clear();
      for (; !pq.empty(); pq.pop()) (*out)[q].push_back(static_cast<int64_t>(pq.top().second));
    }
  };
  return e;
}
#endif

#ifdef VDB_HAVE_FAISS
Engine MakeFaiss(const Data& d, const Options& o, int threads) {
  Engine e{"faiss", threads};
  omp_set_num_threads(threads);
  auto index = std::make_shared<faiss::IndexHNSWFlat>(static_cast<int>(d.dim), static_cast<int>(o.m));
  index->hnsw.efConstruction = static_cast<int>(o.efc);
  const auto t0 = Clock::now();
  index->add(static_cast<faiss::Index::idx_t>(d.n), d.base.data());
  e.build_s = Seconds(t0, Clock::now());
  omp_set_num_threads(1);
  e.set_ef = [index](uint32_t ef) { index->hnsw.efSearch = static_cast<int>(ef); };
  // One batch call per pass (faiss's per-call overhead would dominate
  // single-query calls), on one OpenMP thread.
  e.search = [index, &d](size_t first, size_t count, std::vector<std::vector<int64_t>>* out) {
    std::vector<float> dist(kK * count);
    std::vector<faiss::Index::idx_t> ids(kK * count);
    index->search(static_cast<faiss::Index::idx_t>(count), &d.queries[first * d.dim], kK, dist.data(), ids.data());
    for (size_t q = 0; q < count; ++q) (*out)[first + q].assign(ids.begin() + q * kK, ids.begin() + (q + 1) * kK);
  };
  return e;
}
#endif

// QPS at recall `target`, interpolated (log QPS, linear recall) between the
// sweep's points; 0 if the sweep never reaches it.
double QpsAtRecall(const Engine& r, double target) {
  for (size_t i = 0; i < r.points.size(); ++i) {
    if (r.points[i].recall < target) continue;
    if (i == 0) return r.points[0].qps;
    const Point& a = r.points[i - 1];
    const Point& b = r.points[i];
    if (b.recall <= a.recall) return b.qps;
    const double t = (target - a.recall) / (b.recall - a.recall);
    return std::exp(std::log(a.qps) + t * (std::log(b.qps) - std::log(a.qps)));
  }
  return 0.0;
}

const Engine* FindLib(const std::vector<Engine>& es, const std::string& lib) {
  for (const Engine& e : es) if (e.lib == lib) return &e;
  return nullptr;
}

void Report(const Data& d, const Options& o, const std::vector<Engine>& libs) {
  std::printf("\n== recall: %s, %zu base x %u dims, %zu queries, M %u, ef_construction %u, "
              "build threads %d, search threads 1, vdb kernels %s",
              d.name.c_str(), d.n, d.dim, d.nq, o.m, o.efc, o.threads, vdb::kernels::KernelName());
#ifdef VDB_HAVE_HNSWLIB
  std::printf(", hnswlib kernels %s", kHnswlibKernels);
#endif
  std::printf("\n%-9s %10s %11s\n", "library", "build s", "inserts/s");
  for (const Engine& r : libs) std::printf("%-9s %10.2f %11.0f\n", r.lib.c_str(), r.build_s, d.n / r.build_s);
  std::printf("(vdb-file: durable WriteBatches of %zu, SyncMode::kFull; then Close %.2f s, reopen)\n\n%5s", o.batch,
              libs.size() > 1 ? FindLib(libs, "vdb-file")->close_s : 0.0, "ef");
  for (const Engine& r : libs) std::printf(" | %9s recall %7s", r.lib.c_str(), "QPS");
  std::printf("\n");
  for (size_t i = 0; i < std::size(kEfs); ++i) {
    std::printf("%5u", kEfs[i]);
    for (const Engine& r : libs) std::printf(" | %16.4f %7.0f", r.points[i].recall, r.points[i].qps);
    std::printf("\n");
  }
  std::printf("\nQPS at recall@10 = 0.95 (interpolated):");
  for (const Engine& r : libs) std::printf("  %s %.0f", r.lib.c_str(), QpsAtRecall(r, 0.95));
  std::printf("\n");
  const Engine* hl = FindLib(libs, "hnswlib");
  const Engine* mem = FindLib(libs, "vdb-mem");
  const Engine* file = FindLib(libs, "vdb-file");
  if (hl != nullptr && QpsAtRecall(*hl, 0.95) > 0) {
    std::printf("  vdb-file/hnswlib %.2fx (target >= 1.3x), vdb-mem/hnswlib %.2fx, vdb-file/vdb-mem %.2fx\n",
                QpsAtRecall(*file, 0.95) / QpsAtRecall(*hl, 0.95), QpsAtRecall(*mem, 0.95) / QpsAtRecall(*hl, 0.95),
                QpsAtRecall(*file, 0.95) / QpsAtRecall(*mem, 0.95));
  }

  const std::string stem = o.out + "/hnsw_" + d.name;
  std::FILE* f = std::fopen((stem + ".dat").c_str(), "w");
  if (f == nullptr) return;
  std::fprintf(f, "# %s recall@10 vs QPS, one search thread; blocks: ", d.name.c_str());
  for (const Engine& r : libs) std::fprintf(f, "%s ", r.lib.c_str());
  std::fprintf(f, "\n");
  for (const Engine& r : libs) {
    std::fprintf(f, "# %s\n", r.lib.c_str());
    for (const Point& pt : r.points) std::fprintf(f, "%.5f %.1f %u\n", pt.recall, pt.qps, pt.ef);
    std::fprintf(f, "\n\n");
  }
  std::fclose(f);
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) return;
  const std::string gp = stem + ".gp";
  f = std::fopen(gp.c_str(), "w");
  if (f == nullptr) return;
  std::fprintf(f,
               "set terminal pngcairo size 900,600 noenhanced\nset output '%s.png'\n"
               "set title '%s: recall@10 vs queries/s (1 thread, M %u, efC %u)'\n"
               "set xlabel 'recall@10'\nset ylabel 'queries per second'\nset logscale y\n"
               "set grid\nset key bottom left\nplot ",
               stem.c_str(), d.name.c_str(), o.m, o.efc);
  for (size_t i = 0; i < libs.size(); ++i) {
    std::fprintf(f, "%s'%s.dat' index %zu using 1:2 with linespoints title '%s'", i ? ", " : "", stem.c_str(), i,
                 libs[i].lib.c_str());
  }
  std::fprintf(f, "\n");
  std::fclose(f);
  const std::string cmd = "gnuplot '" + gp + "'";
  if (std::system(cmd.c_str()) == 0) std::printf("wrote %s.dat and %s.png\n", stem.c_str(), stem.c_str());
  std::fflush(stdout);
}

struct BuildRow {
  std::string dataset;
  size_t n;
  int threads;
  double file_s, file_close_s, mem_s, hnswlib_s;  // medians over the repetitions
  double file_write_s = 0;  // vdb-file with Write per batch (each waits for its sync)
  int reps = 1;
  // file/hnswlib per repetition (the two builds ran back to back): median, range.
  double ratio_med = 0, ratio_min = 0, ratio_max = 0;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
}

void ReportBuild(const Options& o, const std::vector<BuildRow>& rows) {
  std::printf("\n== build: inserts/s; vdb-file durable (SyncMode::kFull, WriteBatches of %zu submitted pipelined, "
              "from the first Submit until Wait for the last returns; Write: each batch written with Write, which waits "
              "for its sync), vdb-mem and hnswlib in memory; M %u, ef_construction %u\n", o.batch, o.m, o.efc);
  std::printf("%-14s %7s %7s | %10s %10s %10s | %10s %10s | %14s %13s\n", "dataset", "rows", "threads", "vdb-file",
              "Write", "close s", "vdb-mem", "hnswlib", "file/hnswlib", "file/vdb-mem");
  bool repeated = false;
  for (const BuildRow& r : rows) {
    const double ratio = r.hnswlib_s > 0 ? (r.reps > 1 ? r.ratio_med : r.hnswlib_s / r.file_s) : 0.0;
    std::printf("%-14s %7zu %7d | %10.0f %10.0f %10.2f | %10.0f %10.0f | %13.2fx %12.2fx", r.dataset.c_str(), r.n,
                r.threads, r.n / r.file_s, r.file_write_s > 0 ? r.n / r.file_write_s : 0.0, r.file_close_s,
                r.n / r.mem_s, r.hnswlib_s > 0 ? r.n / r.hnswlib_s : 0.0, ratio, r.mem_s / r.file_s);
    if (r.reps > 1 && r.hnswlib_s > 0) {
      std::printf("   (%d reps, file/hnswlib %.2f..%.2f)", r.reps, r.ratio_min, r.ratio_max);
      repeated = true;
    }
    std::printf("\n");
  }
  if (repeated)
    std::printf("(with reps: rates are medians; file/hnswlib is the median of the per-rep ratios, the two builds of a "
                "rep run back to back)\n");
  std::printf("(target: vdb-file/hnswlib >= 1.0x at the same thread count)\n");
  std::fflush(stdout);
}

// --- big: open-to-first-result and resident memory on a large file ---

// Clustered synthetic vectors: 1024 centres uniform in [-1, 1]^128; a row is
// a centre plus Gaussian noise whose scale decays along the dimensions
// (0.4 * 0.97^j), so the data has a lowish intrinsic dimension like real
// embeddings. Row i is the same in every run; queries are rows from 2^40 on.
class Clustered {
 public:
  static constexpr uint64_t kQueryBase = 1ull << 40;
  Clustered() : centres_(kCentres * kBigDim) {
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (float& x : centres_) x = u(rng);
    for (uint32_t j = 0; j < kBigDim; ++j) scale_[j] = 0.4f * std::pow(0.97f, static_cast<float>(j));
  }
  void Row(uint64_t i, float* out) const {
    std::mt19937_64 rng(i * 0x9E3779B97F4A7C15ull + 12345);
    std::normal_distribution<float> g(0.f, 1.f);
    const float* c = &centres_[(rng() % kCentres) * kBigDim];
    for (uint32_t j = 0; j < kBigDim; ++j) out[j] = c[j] + scale_[j] * g(rng);
  }

 private:
  static constexpr size_t kCentres = 1024;
  std::vector<float> centres_;
  float scale_[kBigDim];
};

std::string SizeLabel(size_t n) {
  if (n % 1000000 == 0) return std::to_string(n / 1000000) + "m";
  if (n % 1000 == 0) return std::to_string(n / 1000) + "k";
  return std::to_string(n);
}
std::string BigVdbPath(const Options& o) { return o.cache_dir + "/vdb-hnsw-" + SizeLabel(o.big_n) + ".vdb"; }
std::string BigHnswlibPath(const Options& o) { return o.cache_dir + "/hnswlib-hnsw-" + SizeLabel(o.big_n) + ".bin"; }

// Builds the vdb file unless a complete one with the same parameters is
// there. Returns the build time in seconds, 0 when reused.
double EnsureBigVdb(const Options& o, const Clustered& gen) {
  const std::string path = BigVdbPath(o);
  vdb::OpenOptions ro;
  ro.read_only = true;
  if (auto r = vdb::Database::Open(path, ro); r.ok()) {
    const vdb::Stats st = (*r)->GetStats();
    (void)(*r)->Close();
    if (st.count == o.big_n && st.dim == kBigDim && st.hnsw_m == o.m && st.hnsw_ef_construction == o.efc &&
        st.graph_entry_point >= 0) {
      return 0;
    }
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  vdb::CreateOptions co;
  co.dim = kBigDim;
  co.metric = vdb::Metric::kL2;
  co.hnsw_m = o.m;
  co.hnsw_ef_construction = o.efc;
  auto r = vdb::Database::Create(path, co, {});  // SyncMode::kFull, all cores
  if (!r.ok()) Die("create " + path + ": " + r.status().ToString());
  const auto t0 = Clock::now();
  constexpr size_t kBatch = 10000;
  for (size_t b0 = 0; b0 < o.big_n; b0 += kBatch) {
    vdb::WriteBatch b;
    for (size_t i = b0; i < std::min(o.big_n, b0 + kBatch); ++i) {
      std::vector<float> v(kBigDim);
      gen.Row(i, v.data());
      b.Put(std::to_string(i), std::move(v));
    }
    Check((*r)->Write(b), "build " + path);
    const size_t done = std::min(o.big_n, b0 + kBatch);
    std::fprintf(stderr, "\r  building %s: %zu/%zu, %.0f rows/s   ", path.c_str(), done, o.big_n,
                 done / Seconds(t0, Clock::now()));
  }
  Check((*r)->Close(), "close " + path);
  std::fprintf(stderr, "\n");
  return Seconds(t0, Clock::now());
}

#ifdef VDB_HAVE_HNSWLIB
double EnsureBigHnswlib(const Options& o, const Clustered& gen) {
  const std::string path = BigHnswlibPath(o);
  const std::string params = std::to_string(o.big_n) + " " + std::to_string(kBigDim) + " " + std::to_string(o.m) +
                             " " + std::to_string(o.efc) + "\n";
  {
    std::ifstream in(path + ".params");
    std::stringstream ss;
    ss << in.rdbuf();
    if (in && ss.str() == params && std::filesystem::exists(path)) return 0;
  }
  hnswlib::L2Space space(kBigDim);
  hnswlib::HierarchicalNSW<float> index(&space, o.big_n, o.m, o.efc, 100);
  const auto t0 = Clock::now();
  const int threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  HnswlibAdd(&index, o.big_n, kBigDim, threads, [&](size_t i, float* buf) {
    gen.Row(i, buf);
    return buf;
  });
  index.saveIndex(path);
  std::ofstream(path + ".params") << params;
  return Seconds(t0, Clock::now());
}
#endif

struct MemStatus {
  double rss = 0, anon = 0, file = 0, hwm = 0;  // MB
};
MemStatus ReadMem() {
  MemStatus m;
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    const double mb = std::atof(line.c_str() + std::min(line.size(), line.find(':') + 1)) / 1024.0;
    if (line.rfind("VmRSS:", 0) == 0) m.rss = mb;
    if (line.rfind("RssAnon:", 0) == 0) m.anon = mb;
    if (line.rfind("RssFile:", 0) == 0) m.file = mb;
    if (line.rfind("VmHWM:", 0) == 0) m.hwm = mb;
  }
  return m;
}

// Drops path's (clean) pages from the page cache, or reads it all in.
void Evict(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  (void)::fdatasync(fd);
  (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}
void Warm(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> buf(1 << 20);
  while (in.read(buf.data(), buf.size()) || in.gcount() > 0) {
  }
}

// Child process: opens the big index with one engine, answers one query,
// then the rest, and prints "ids Q id..." for the first big_truth queries and
// "result open_ms first_ms qps rss anon file hwm rss_at_start" (MB).
int Serve(const Options& o) {
  Clustered gen;
  const size_t nq = std::max<size_t>(o.big_queries, 2);
  std::vector<float> qs(nq * kBigDim);
  for (size_t i = 0; i < nq; ++i) gen.Row(Clustered::kQueryBase + i, &qs[i * kBigDim]);
  if (o.serve_cold) {
    Evict(o.serve_path);
    Evict(o.serve_path + "-wal");
  }
  const MemStatus m0 = ReadMem();
  std::vector<std::vector<int64_t>> ids(nq);
  Clock::time_point t0, t1, t2, t3;
  MemStatus m;
  if (o.serve_engine == "vdb" || o.serve_engine == "vdb-ro") {
    vdb::OpenOptions oo;
    oo.read_only = o.serve_engine == "vdb-ro";
    if (o.map_mb != 0) oo.map_size = o.map_mb << 20;
    vdb::SearchOptions so;
    so.k = kK;
    so.ef = o.big_ef;
    t0 = Clock::now();
    auto r = vdb::Database::Open(o.serve_path, oo);
    if (!r.ok()) Die("open " + o.serve_path + ": " + r.status().ToString());
    t1 = Clock::now();
    for (size_t q = 0; q < nq; ++q) {
      auto hits = (*r)->Search({&qs[q * kBigDim], kBigDim}, so);
      if (!hits.ok()) Die("search: " + hits.status().ToString());
      for (const auto& h : *hits) ids[q].push_back(static_cast<int64_t>(std::stoul(h.id)));
      if (q == 0) t2 = Clock::now();
    }
    t3 = Clock::now();
    m = ReadMem();  // with the database still open
#ifdef VDB_HAVE_HNSWLIB
  } else if (o.serve_engine == "hnswlib") {
    hnswlib::L2Space space(kBigDim);
    t0 = Clock::now();
    hnswlib::HierarchicalNSW<float> index(&space, o.serve_path);
    index.setEf(o.big_ef);
    t1 = Clock::now();
    for (size_t q = 0; q < nq; ++q) {
      for (auto pq = index.searchKnn(&qs[q * kBigDim], kK); !pq.empty(); pq.pop()) {
        ids[q].push_back(static_cast<int64_t>(pq.top().second));
      }
      if (q == 0) t2 = Clock::now();
    }
    t3 = Clock::now();
    m = ReadMem();
#endif
  } else {
    Die("unknown engine " + o.serve_engine);
  }
  for (size_t q = 0; q < std::min(nq, o.big_truth); ++q) {
    std::printf("ids %zu", q);
    for (int64_t id : ids[q]) std::printf(" %lld", static_cast<long long>(id));
    std::printf("\n");
  }
  std::printf("result %.4f %.4f %.1f %.1f %.1f %.1f %.1f %.1f\n", Ms(t0, t1), Ms(t1, t2),
              (nq - 1) / Seconds(t2, t3), m.rss, m.anon, m.file, m.hwm, m0.rss);
  return 0;
}

struct ServeResult {
  std::string engine, cache;
  double open_ms = 0, first_ms = 0, qps = 0, recall = 0;
  MemStatus mem;
  double rss_start = 0;
};

ServeResult RunChild(const Options& o, const std::string& engine, const std::string& path, bool cold,
                     const std::vector<std::vector<int64_t>>& truth) {
  char exe[4096];
  const ssize_t len = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (len <= 0) Die("readlink /proc/self/exe");
  exe[len] = '\0';
  const std::string cmd = std::string("'") + exe + "' --serve-engine " + engine + " --serve-path '" + path +
                          "' --serve-cold " + (cold ? "1" : "0") + " --big-queries " +
                          std::to_string(o.big_queries) + " --big-ef " + std::to_string(o.big_ef) +
                          " --big-truth " + std::to_string(truth.size());
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) Die("cannot run " + cmd);
  ServeResult r;
  r.engine = engine;
  r.cache = cold ? "cold" : "warm";
  size_t hit = 0;
  bool got = false;
  char line[8192];
  while (std::fgets(line, sizeof(line), p) != nullptr) {
    std::istringstream ss(line);
    std::string tag;
    ss >> tag;
    if (tag == "ids") {
      size_t q;
      ss >> q;
      for (int64_t id; ss >> id;) {
        if (q < truth.size()) hit += std::count(truth[q].begin(), truth[q].end(), id);
      }
    } else if (tag == "result") {
      ss >> r.open_ms >> r.first_ms >> r.qps >> r.mem.rss >> r.mem.anon >> r.mem.file >> r.mem.hwm >> r.rss_start;
      got = true;
    }
  }
  if (::pclose(p) != 0 || !got) Die("child failed: " + cmd);
  r.recall = truth.empty() ? 0 : hit / double(kK * truth.size());
  return r;
}

void Big(const Options& o) {
  Clustered gen;
  const std::string vpath = BigVdbPath(o);
  const double vb = EnsureBigVdb(o, gen);
  std::printf("\n== big: %zu x %u clustered synthetic, L2, M %u, ef_construction %u; ef %u, k %zu, %zu queries, "
              "one search thread, each engine in a fresh process\n", o.big_n, kBigDim, o.m, o.efc, o.big_ef, kK,
              o.big_queries);
  if (vb > 0) std::printf("built %s in %.1f s (%.0f rows/s; WriteBatches of 10000, kFull, all cores)\n",
                          vpath.c_str(), vb, o.big_n / vb);
  std::printf("%s: %.1f MB\n", vpath.c_str(), std::filesystem::file_size(vpath) / 1e6);
#ifdef VDB_HAVE_HNSWLIB
  const std::string hpath = BigHnswlibPath(o);
  const double hb = EnsureBigHnswlib(o, gen);
  if (hb > 0) std::printf("built %s in %.1f s (%.0f rows/s, all cores, saveIndex included)\n", hpath.c_str(), hb,
                          o.big_n / hb);
  std::printf("%s: %.1f MB\n", hpath.c_str(), std::filesystem::file_size(hpath) / 1e6);
#endif
  // Ground truth of the first big_truth queries: exact search on the file.
  std::vector<std::vector<int64_t>> truth(std::min(o.big_truth, o.big_queries));
  {
    vdb::OpenOptions ro;
    ro.read_only = true;
    auto db = vdb::Database::Open(vpath, ro);
    if (!db.ok()) Die("open " + vpath + ": " + db.status().ToString());
    vdb::SearchOptions so;
    so.k = kK;
    so.exact = true;
    std::vector<float> q(kBigDim);
    for (size_t i = 0; i < truth.size(); ++i) {
      gen.Row(Clustered::kQueryBase + i, q.data());
      auto hits = (*db)->Search(q, so);
      if (!hits.ok()) Die("exact search: " + hits.status().ToString());
      for (const auto& h : *hits) truth[i].push_back(static_cast<int64_t>(std::stoul(h.id)));
    }
    (void)(*db)->Close();
  }
  std::vector<ServeResult> rs;
  for (bool cold : {false, true}) {
    std::vector<std::pair<std::string, std::string>> engines = {{"vdb", vpath}, {"vdb-ro", vpath}};
#ifdef VDB_HAVE_HNSWLIB
    engines.push_back({"hnswlib", hpath});
#endif
    for (const auto& [engine, path] : engines) {
      if (!cold) Warm(path);
      rs.push_back(RunChild(o, engine, path, cold, truth));
    }
  }
  std::printf("%-8s %5s | %9s %11s %11s | %9s %9s | %8s %8s %8s %8s %9s\n", "engine", "cache", "open ms",
              "1st query", "open->1st", "QPS", "recall@10", "RSS MB", "anon", "file", "peak", "at start");
  for (const ServeResult& r : rs) {
    std::printf("%-8s %5s | %9.3f %11.3f %11.3f | %9.0f %9.4f | %8.1f %8.1f %8.1f %8.1f %9.1f\n", r.engine.c_str(),
                r.cache.c_str(), r.open_ms, r.first_ms, r.open_ms + r.first_ms, r.qps, r.recall, r.mem.rss,
                r.mem.anon, r.mem.file, r.mem.hwm, r.rss_start);
  }
  std::printf("(vdb: read-write Open; vdb-ro: read-only. RSS after serving every query; 'at start' is the "
              "process before opening)\n");
  for (const ServeResult& h : rs) {
    if (h.engine != "hnswlib") continue;
    for (const ServeResult& v : rs) {
      if (v.engine == "hnswlib" || v.cache != h.cache) continue;
      std::printf("%s %s: open-to-first-result hnswlib/%s %.0fx (target >= 100x); RSS %s/hnswlib %.3fx, "
                  "over start %.3fx (target <= 1.0x); QPS %s/hnswlib %.2fx\n", v.engine.c_str(), h.cache.c_str(),
                  v.engine.c_str(), (h.open_ms + h.first_ms) / (v.open_ms + v.first_ms), v.engine.c_str(),
                  v.mem.rss / h.mem.rss, (v.mem.rss - v.rss_start) / (h.mem.rss - h.rss_start), v.engine.c_str(),
                  v.qps / h.qps);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      quick = true;
      continue;
    }
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (v == nullptr) {
      std::fprintf(stderr, "missing value for %s\n", a.c_str());
      return 2;
    }
    if (a == "--parts") o.parts = v;
    else if (a == "--dataset") o.dataset = v;
    else if (a == "--n") o.n = std::strtoull(v, nullptr, 10);
    else if (a == "--queries") o.queries = std::strtoull(v, nullptr, 10);
    else if (a == "--threads") o.threads = std::atoi(v);
    else if (a == "--build-threads") {
      o.build_threads.clear();
      std::stringstream ss(v);
      for (std::string t; std::getline(ss, t, ',');) o.build_threads.push_back(std::atoi(t.c_str()));
    } else if (a == "--build-reps") o.build_reps = std::max(1, std::atoi(v));
    else if (a == "--batch") o.batch = std::max<size_t>(1, std::strtoull(v, nullptr, 10));
    else if (a == "--m") o.m = static_cast<uint32_t>(std::atoi(v));
    else if (a == "--ef-construction") o.efc = static_cast<uint32_t>(std::atoi(v));
    else if (a == "--min-time") o.min_time = std::atof(v);
    else if (a == "--out") o.out = v;
    else if (a == "--dir") o.dir = v;
    else if (a == "--big-n") o.big_n = std::strtoull(v, nullptr, 10);
    else if (a == "--big-queries") o.big_queries = std::strtoull(v, nullptr, 10);
    else if (a == "--big-ef") o.big_ef = static_cast<uint32_t>(std::atoi(v));
    else if (a == "--big-truth") o.big_truth = std::strtoull(v, nullptr, 10);
    else if (a == "--cache-dir") o.cache_dir = v;
    else if (a == "--map-mb") o.map_mb = std::strtoull(v, nullptr, 10);
    else if (a == "--serve-engine") o.serve_engine = v;
    else if (a == "--serve-path") o.serve_path = v;
    else if (a == "--serve-cold") o.serve_cold = std::atoi(v) != 0;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
    ++i;
  }
  if (!o.serve_engine.empty()) return Serve(o);
  if (quick) {  // every part in well under two minutes
    if (o.n == 0) o.n = 5000;
    if (o.queries == 0) o.queries = 200;
    o.min_time = std::min(o.min_time, 0.1);
    o.big_n = std::min<size_t>(o.big_n, 20000);
    o.big_queries = std::min<size_t>(o.big_queries, 200);
  }
  std::vector<std::string> names;
  if (o.dataset == "all") names = {"siftsmall", "fashion-mnist"};
  else names = {o.dataset};
  std::vector<BuildRow> builds;
  for (const std::string& name : names) {
    if (!o.Has("recall") && !o.Has("build")) break;
    Data d;
    if (!Load(name, o, &d)) return 1;
    if (o.Has("recall")) {
      std::vector<Engine> libs;
      libs.push_back(MakeVdbMem(d, o, o.threads));
      libs.push_back(MakeVdbFile(d, o, o.threads, true));
#ifdef VDB_HAVE_HNSWLIB
      libs.push_back(MakeHnswlib(d, o, o.threads));
#endif
#ifdef VDB_HAVE_FAISS
      libs.push_back(MakeFaiss(d, o, o.threads));
#endif
      Sweep(d, o.min_time, &libs);
      Report(d, o, libs);
      const Engine* hl = FindLib(libs, "hnswlib");
      builds.push_back({name, d.n, o.threads, libs[1].build_s, libs[1].close_s, libs[0].build_s,
                        hl ? hl->build_s : 0.0});
    }
    if (!o.Has("build")) continue;
    for (int t : o.build_threads) {
      if (o.Has("recall") && t == o.threads) continue;  // measured above
      BuildRow r{name, d.n, t, 0, 0, 0, 0};
      // Repetitions alternate the engines, so a burst of machine load hits
      // one repetition rather than one engine.
      std::vector<double> file_s, file_write_s, close_s, mem_s, hnswlib_s, ratios;
      for (int rep = 0; rep < o.build_reps; ++rep) {
        const Engine file = MakeVdbFile(d, o, t, false);
        file_s.push_back(file.build_s);
        close_s.push_back(file.close_s);
        file_write_s.push_back(MakeVdbFile(d, o, t, false, /*pipelined=*/false).build_s);
#ifdef VDB_HAVE_HNSWLIB
        hnswlib_s.push_back(MakeHnswlib(d, o, t).build_s);
        ratios.push_back(hnswlib_s.back() / file.build_s);
#endif
        mem_s.push_back(MakeVdbMem(d, o, t).build_s);
      }
      r.reps = o.build_reps;
      r.file_s = Median(file_s);
      r.file_write_s = Median(file_write_s);
      r.file_close_s = Median(close_s);
      r.mem_s = Median(mem_s);
      r.hnswlib_s = Median(hnswlib_s);
      r.ratio_med = Median(ratios);
      if (!ratios.empty()) {
        r.ratio_min = *std::min_element(ratios.begin(), ratios.end());
        r.ratio_max = *std::max_element(ratios.begin(), ratios.end());
      }
      builds.push_back(r);
    }
  }
  if (!builds.empty()) ReportBuild(o, builds);
  if (o.Has("big")) Big(o);
  return 0;
}
