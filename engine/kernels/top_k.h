// Internal to engine/kernels: a bounded selection of the k smallest keys.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace vdb::kernels {

// Keeps the k entries with the smallest (key, slot) pairs seen so far: a
// max-heap whose top is the worst kept entry, so most candidates are rejected
// by one comparison against threshold(). Not thread-safe.
// Invariant: heap_.size() <= k_, and heap_ is a max-heap under Before.
class TopK {
 public:
  struct Entry {
    float key;  // lower is better; never NaN
    uint32_t slot;
  };

  explicit TopK(size_t k) : k_(k) { heap_.reserve(std::min<size_t>(k, 1u << 16)); }

  // Any key strictly above this cannot enter (+inf until the heap is full).
  float threshold() const { return threshold_; }

  // Offers one candidate; NaN keys are treated as +inf.
  void Push(float key, uint32_t slot) {
    if (std::isnan(key)) key = std::numeric_limits<float>::infinity();
    if (heap_.size() < k_) {
      heap_.push_back({key, slot});
      std::push_heap(heap_.begin(), heap_.end(), Before);
      if (heap_.size() == k_) threshold_ = heap_.front().key;
      return;
    }
    if (k_ == 0) return;
    const Entry& top = heap_.front();
    if (key > top.key || (key == top.key && slot >= top.slot)) return;
    std::pop_heap(heap_.begin(), heap_.end(), Before);
    heap_.back() = {key, slot};
    std::push_heap(heap_.begin(), heap_.end(), Before);
    threshold_ = heap_.front().key;
  }

  void Merge(const TopK& other) {
    for (const Entry& e : other.heap_) Push(e.key, e.slot);
  }

  // The kept entries, best (smallest key, then lowest slot) first. Leaves the
  // selection empty.
  std::vector<Entry> TakeSorted() {
    std::sort_heap(heap_.begin(), heap_.end(), Before);
    threshold_ = std::numeric_limits<float>::infinity();
    return std::move(heap_);
  }

 private:
  // Strict weak order "a ranks before b"; the heap's front is its maximum,
  // i.e. the entry that ranks last.
  static bool Before(const Entry& a, const Entry& b) { return a.key < b.key || (a.key == b.key && a.slot < b.slot); }

  size_t k_;
  float threshold_ = std::numeric_limits<float>::infinity();
  std::vector<Entry> heap_;
};

}  // namespace vdb::kernels
