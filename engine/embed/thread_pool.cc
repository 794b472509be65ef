#include "engine/embed/thread_pool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace vdb::embed {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

// Short spins keep back-to-back loops cheap without burning a busy machine.
constexpr int kSpinIterations = 1000;

}  // namespace

ThreadPool::ThreadPool(int num_threads) : num_threads_(num_threads < 1 ? 1 : num_threads) {
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

bool ThreadPool::ClaimPart(uint32_t gen, size_t num_parts, size_t* part) {
  uint64_t s = claim_.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<uint32_t>(s >> 32) != gen) return false;
    uint64_t next = s & 0xffffffffu;
    if (next >= num_parts) return false;
    if (claim_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) {
      *part = static_cast<size_t>(next);
      return true;
    }
  }
}

void ThreadPool::FinishPart(size_t num_parts) {
  if (parts_done_.fetch_add(1, std::memory_order_acq_rel) + 1 == num_parts) {
    std::lock_guard<std::mutex> l(mu_);
    done_cv_.notify_all();
  }
}

void ThreadPool::WorkerLoop() {
  uint32_t seen = 0;
  for (;;) {
    for (int i = 0; i < kSpinIterations && generation_.load(std::memory_order_acquire) == seen; ++i) {
      CpuRelax();
    }
    uint32_t gen;
    const std::function<void(size_t, size_t)>* fn;
    size_t n;
    {
      std::unique_lock<std::mutex> l(mu_);
      work_cv_.wait(l, [&] { return generation_.load() != seen; });
      if (stop_) return;
      gen = seen = generation_.load();
      fn = fn_;
      n = num_parts_;
    }
    size_t part;
    while (ClaimPart(gen, n, &part)) {
      (*fn)(part, n);
      FinishPart(n);
    }
  }
}

void ThreadPool::ParallelFor(size_t num_parts, const std::function<void(size_t, size_t)>& fn) {
  if (num_parts == 0) return;
  if (workers_.empty() || num_parts == 1) {
    for (size_t p = 0; p < num_parts; ++p) fn(p, num_parts);
    return;
  }
  std::lock_guard<std::mutex> run(run_mu_);
  uint32_t gen;
  {
    std::lock_guard<std::mutex> l(mu_);
    gen = generation_.load() + 1;
    fn_ = &fn;
    num_parts_ = num_parts;
    parts_done_.store(0);
    claim_.store(static_cast<uint64_t>(gen) << 32, std::memory_order_release);
    generation_.store(gen, std::memory_order_release);
  }
  work_cv_.notify_all();
  size_t part;
  while (ClaimPart(gen, num_parts, &part)) {
    fn(part, num_parts);
    FinishPart(num_parts);
  }
  for (int i = 0; i < kSpinIterations && parts_done_.load(std::memory_order_acquire) < num_parts; ++i) {
    CpuRelax();
  }
  std::unique_lock<std::mutex> l(mu_);
  done_cv_.wait(l, [&] { return parts_done_.load() == num_parts; });
}

}  // namespace vdb::embed
