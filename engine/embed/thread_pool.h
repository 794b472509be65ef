// A small fixed pool of worker threads for data-parallel loops in the
// forward pass. The calling thread takes part in every loop, so a loop
// completes even when the workers are not scheduled (busy machine).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace vdb::embed {

// Thread-safe: concurrent ParallelFor calls are serialized.
class ThreadPool {
 public:
  // num_threads >= 1 counts the caller; num_threads - 1 workers are started.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Calls fn(part, num_parts) once for every part in [0, num_parts), spread
  // over the threads, and returns when all calls have returned. fn must not
  // call ParallelFor. REQUIRES: num_parts < 2^32.
  void ParallelFor(size_t num_parts, const std::function<void(size_t, size_t)>& fn);

 private:
  void WorkerLoop();
  // Claims the next part of loop `gen`; false when the loop has no parts
  // left or is no longer the current one.
  bool ClaimPart(uint32_t gen, size_t num_parts, size_t* part);
  void FinishPart(size_t num_parts);

  const int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex run_mu_;  // serializes ParallelFor callers

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  // Guarded by mu_; generation_ is also read without it by spinning workers.
  std::atomic<uint32_t> generation_{0};
  bool stop_ = false;
  const std::function<void(size_t, size_t)>* fn_ = nullptr;
  size_t num_parts_ = 0;
  // generation << 32 | next unclaimed part. Invariant: a part can only be
  // claimed while its loop is current, so fn_ outlives every claimed part.
  std::atomic<uint64_t> claim_{0};
  std::atomic<size_t> parts_done_{0};
};

// Splits [0, n) into `parts` near-equal ranges; returns range `part`.
inline std::pair<size_t, size_t> PartRange(size_t n, size_t part, size_t parts) {
  size_t base = n / parts, extra = n % parts;
  size_t begin = part * base + std::min(part, extra);
  return {begin, begin + base + (part < extra ? 1 : 0)};
}

}  // namespace vdb::embed
