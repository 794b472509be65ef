// hnsw_bench: recall@10 vs queries/s of vdb's HNSW (in-memory store) against
// hnswlib and faiss IndexHNSWFlat on siftsmall and fashion-mnist, one search
// thread, same M and ef_construction; plus build rate (inserts/s).
//
//   hnsw_bench [--dataset siftsmall|fashion-mnist|all] [--n ROWS] [--queries Q]
//              [--threads T] [--m M] [--ef-construction EFC] [--out DIR]
//
// Prints one table per dataset, writes DIR/hnsw_<dataset>.dat (gnuplot data
// blocks "recall qps ef", one per library) and, if gnuplot is installed,
// DIR/hnsw_<dataset>.png, a recall/QPS plot like ann-benchmarks'.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "engine/dataset.h"
#include "engine/hnsw/hnsw.h"
#include "engine/hnsw/memory_graph.h"
#include "engine/kernels/distance.h"
#include "engine/kernels/exact_search.h"

#ifdef VDB_HAVE_HNSWLIB
#include <hnswlib/hnswlib.h>
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

constexpr uint32_t kEfs[] = {10, 16, 24, 32, 48, 64, 96, 128, 256, 512};
constexpr size_t kK = 10;

struct Options {
  std::string dataset = "all";
  size_t n = 0;        // 0: all base rows
  size_t queries = 0;  // 0: all queries
  int threads = 1;
  uint32_t m = 16;
  uint32_t efc = 200;
  std::string out = ".";
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

struct LibResult {
  std::string lib;
  double build_s = 0;
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

// Runs every query at each ef; search(first, count, out) answers queries
// [first, first + count) with up to kK ids each. A pass over all queries is
// repeated until 0.5 s have passed (at least twice) and the fastest pass is
// kept, so that other processes on the machine disturb the figure less.
using SearchFn = std::function<void(size_t, size_t, std::vector<std::vector<int64_t>>*)>;
void Sweep(const Data& d, const std::function<void(uint32_t)>& set_ef, const SearchFn& search,
           LibResult* r) {
  std::vector<std::vector<int64_t>> got(d.nq);
  for (uint32_t ef : kEfs) {
    set_ef(ef);
    double best = 1e30, total = 0;
    for (int pass = 0; pass < 2 || (total < 0.5 && pass < 1000); ++pass) {
      const auto t0 = Clock::now();
      search(0, d.nq, &got);
      const double s = Seconds(t0, Clock::now());
      best = std::min(best, s);
      total += s;
    }
    size_t hit = 0;
    for (size_t q = 0; q < d.nq; ++q) {
      for (int64_t id : got[q]) hit += std::count(d.truth[q].begin(), d.truth[q].end(), id);
    }
    r->points.push_back({ef, hit / double(kK * d.nq), d.nq / best});
  }
}

LibResult RunVdb(const Data& d, const Options& o) {
  LibResult r;
  r.lib = "vdb";
  vdb::hnsw::Params p;
  p.dim = d.dim;
  p.m = o.m;
  p.ef_construction = o.efc;
  auto g = vdb::hnsw::InMemoryGraph::Create(p, static_cast<uint32_t>(d.n));
  if (!g.ok()) return r;
  std::vector<uint32_t> slots(d.n);
  std::iota(slots.begin(), slots.end(), 0u);
  const auto t0 = Clock::now();
  for (uint32_t i = 0; i < d.n; ++i) (void)(*g)->SetVector(i, &d.base[size_t{i} * d.dim]);
  vdb::Status st = vdb::hnsw::ParallelBuild(**g, p, slots, o.threads);
  r.build_s = Seconds(t0, Clock::now());
  if (!st.ok()) std::fprintf(stderr, "vdb build: %s\n", st.message().c_str());
  vdb::hnsw::SearchOptions so;
  so.k = kK;
  std::vector<vdb::hnsw::SearchHit> hits;
  Sweep(
      d, [&](uint32_t ef) { so.ef = ef; },
      [&](size_t first, size_t count, std::vector<std::vector<int64_t>>* out) {
        for (size_t q = first; q < first + count; ++q) {
          (void)vdb::hnsw::Search(**g, p, &d.queries[q * d.dim], so, &hits);
          (*out)[q].clear();
          for (const auto& h : hits) (*out)[q].push_back(h.slot);
        }
      },
      &r);
  return r;
}

#ifdef VDB_HAVE_HNSWLIB
LibResult RunHnswlib(const Data& d, const Options& o) {
  LibResult r;
  r.lib = "hnswlib";
  hnswlib::L2Space space(d.dim);
  hnswlib::HierarchicalNSW<float> index(&space, d.n, o.m, o.efc, 100);
  const auto t0 = Clock::now();
  if (o.threads <= 1) {
    for (size_t i = 0; i < d.n; ++i) index.addPoint(&d.base[i * d.dim], i);
  } else {
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < o.threads; ++t) {
      pool.emplace_back([&] {
        for (size_t i; (i = next.fetch_add(1)) < d.n;) index.addPoint(&d.base[i * d.dim], i);
      });
    }
    for (auto& t : pool) t.join();
  }
  r.build_s = Seconds(t0, Clock::now());
  Sweep(
      d, [&](uint32_t ef) { index.setEf(ef); },
      [&](size_t first, size_t count, std::vector<std::vector<int64_t>>* out) {
        for (size_t q = first; q < first + count; ++q) {
          auto pq = index.searchKnn(&d.queries[q * d.dim], kK);
          (*out)[q].clear();
          while (!pq.empty()) {
            (*out)[q].push_back(static_cast<int64_t>(pq.top().second));
            pq.pop();
          }
        }
      },
      &r);
  return r;
}
#endif

#ifdef VDB_HAVE_FAISS
LibResult RunFaiss(const Data& d, const Options& o) {
  LibResult r;
  r.lib = "faiss";
  omp_set_num_threads(o.threads);
  faiss::IndexHNSWFlat index(static_cast<int>(d.dim), static_cast<int>(o.m));
  index.hnsw.efConstruction = static_cast<int>(o.efc);
  const auto t0 = Clock::now();
  index.add(static_cast<faiss::Index::idx_t>(d.n), d.base.data());
  r.build_s = Seconds(t0, Clock::now());
  omp_set_num_threads(1);
  // One batch call per pass (faiss's per-call overhead would dominate
  // single-query calls), on one OpenMP thread.
  std::vector<float> dist(kK * d.nq);
  std::vector<faiss::Index::idx_t> ids(kK * d.nq);
  Sweep(
      d, [&](uint32_t ef) { index.hnsw.efSearch = static_cast<int>(ef); },
      [&](size_t first, size_t count, std::vector<std::vector<int64_t>>* out) {
        index.search(static_cast<faiss::Index::idx_t>(count), &d.queries[first * d.dim], kK,
                     dist.data(), ids.data());
        for (size_t q = 0; q < count; ++q) {
          (*out)[first + q].assign(ids.begin() + q * kK, ids.begin() + (q + 1) * kK);
        }
      },
      &r);
  return r;
}
#endif

// QPS at recall `target`, interpolated (log QPS, linear recall) between the
// sweep's points; 0 if the sweep never reaches it.
double QpsAtRecall(const LibResult& r, double target) {
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

void Report(const Data& d, const Options& o, const std::vector<LibResult>& libs) {
  std::printf("\n== %s: %zu base x %u dims, %zu queries, M %u, ef_construction %u, "
              "build threads %d, search threads 1, kernels %s\n",
              d.name.c_str(), d.n, d.dim, d.nq, o.m, o.efc, o.threads, vdb::kernels::KernelName());
  std::printf("%-8s %12s %12s\n", "library", "build s", "inserts/s");
  for (const LibResult& r : libs) {
    std::printf("%-8s %12.2f %12.0f\n", r.lib.c_str(), r.build_s, d.n / r.build_s);
  }
  std::printf("\n%5s", "ef");
  for (const LibResult& r : libs) std::printf(" | %8s recall %9s", r.lib.c_str(), "QPS");
  std::printf("\n");
  for (size_t i = 0; i < std::size(kEfs); ++i) {
    std::printf("%5u", kEfs[i]);
    for (const LibResult& r : libs) {
      std::printf(" | %15.4f %9.0f", r.points[i].recall, r.points[i].qps);
    }
    std::printf("\n");
  }
  std::printf("\nQPS at recall@10 = 0.95:");
  for (const LibResult& r : libs) std::printf("  %s %.0f", r.lib.c_str(), QpsAtRecall(r, 0.95));
  for (const LibResult& r : libs) {
    if (r.lib == "hnswlib" && QpsAtRecall(r, 0.95) > 0) {
      std::printf("  (vdb/hnswlib %.2fx; build vdb/hnswlib %.2fx)",
                  QpsAtRecall(libs[0], 0.95) / QpsAtRecall(r, 0.95), r.build_s / libs[0].build_s);
    }
  }
  std::printf("\n");

  const std::string stem = o.out + "/hnsw_" + d.name;
  std::FILE* f = std::fopen((stem + ".dat").c_str(), "w");
  if (f == nullptr) return;
  std::fprintf(f, "# %s recall@10 vs QPS, one search thread; blocks: ", d.name.c_str());
  for (const LibResult& r : libs) std::fprintf(f, "%s ", r.lib.c_str());
  std::fprintf(f, "\n");
  for (const LibResult& r : libs) {
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
    std::fprintf(f, "%s'%s.dat' index %zu using 1:2 with linespoints title '%s'",
                 i ? ", " : "", stem.c_str(), i, libs[i].lib.c_str());
  }
  std::fprintf(f, "\n");
  std::fclose(f);
  const std::string cmd = "gnuplot '" + gp + "'";
  if (std::system(cmd.c_str()) == 0) std::printf("wrote %s.dat and %s.png\n", stem.c_str(), stem.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (v == nullptr) {
      std::fprintf(stderr, "missing value for %s\n", a.c_str());
      return 2;
    }
    if (a == "--dataset") o.dataset = v;
    else if (a == "--n") o.n = std::strtoull(v, nullptr, 10);
    else if (a == "--queries") o.queries = std::strtoull(v, nullptr, 10);
    else if (a == "--threads") o.threads = std::atoi(v);
    else if (a == "--m") o.m = static_cast<uint32_t>(std::atoi(v));
    else if (a == "--ef-construction") o.efc = static_cast<uint32_t>(std::atoi(v));
    else if (a == "--out") o.out = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
    ++i;
  }
  std::vector<std::string> names;
  if (o.dataset == "all") names = {"siftsmall", "fashion-mnist"};
  else names = {o.dataset};
  for (const std::string& name : names) {
    Data d;
    if (!Load(name, o, &d)) return 1;
    std::vector<LibResult> libs;
    libs.push_back(RunVdb(d, o));
#ifdef VDB_HAVE_HNSWLIB
    libs.push_back(RunHnswlib(d, o));
#endif
#ifdef VDB_HAVE_FAISS
    libs.push_back(RunFaiss(d, o));
#endif
    Report(d, o, libs);
  }
  return 0;
}
