#include "engine/page_table.h"

#include <cstring>
#include <functional>
#include <chrono>
#include <thread>

namespace vdb {

PageTable::PageTable(uint64_t max_pages)
    : max_pages_(max_pages), top_size_((max_pages + (kChunkPages << kDirBits) - 1) >> (kChunkBits + kDirBits)) {
  top_.reset(new std::atomic<Dir*>[top_size_]);
  for (uint64_t i = 0; i < top_size_; i++) top_[i].store(nullptr, std::memory_order_relaxed);
}

PageTable::~PageTable() {
  for (uint64_t t = 0; t < top_size_; t++) {
    Dir* d = top_[t].load(std::memory_order_relaxed);
    if (d == nullptr) continue;
    for (auto& slot : d->chunks) {
      Chunk* c = slot.load(std::memory_order_relaxed);
      if (c == nullptr) continue;
      for (auto& s : c->slots) {
        PageVersion* v = s.head.load(std::memory_order_relaxed);
        while (v != nullptr) {
          PageVersion* n = v->next.load(std::memory_order_relaxed);
          delete v;
          v = n;
        }
      }
      delete c;
    }
    delete d;
  }
  for (auto& r : retired_) {
    PageVersion* v = r.v;
    while (v != nullptr) {
      PageVersion* n = v->next.load(std::memory_order_relaxed);
      delete v;
      v = n;
    }
  }
  for (PageVersion* v : spare_) delete v;
}

PageVersion* PageTable::NewVersion() {
  if (spare_.empty()) return new PageVersion;  // default-initialized: data is not zero-filled
  PageVersion* v = spare_.back();
  spare_.pop_back();
  spare_count_.store(spare_.size(), std::memory_order_relaxed);
  v->next.store(nullptr, std::memory_order_relaxed);
  return v;
}

void PageTable::Retire(const std::vector<PageVersion*>& chains, ReaderRegistry* readers) {
  if (chains.empty()) return;
  // Readers that entered before this bump may still be walking the chains.
  const uint64_t tag = readers->BumpEpoch();
  for (PageVersion* v : chains) retired_.push_back({v, tag});
}

void PageTable::Reclaim(ReaderRegistry* readers) {
  if (retired_.empty()) return;
  const uint64_t min_epoch = readers->MinEpoch();
  size_t keep = 0;
  for (auto& r : retired_) {
    if (r.epoch < min_epoch) {
      PageVersion* v = r.v;
      while (v != nullptr) {
        PageVersion* n = v->next.load(std::memory_order_relaxed);
        if (spare_.size() < kMaxSpare)
          spare_.push_back(v);
        else
          delete v;
        versions_.fetch_sub(1, std::memory_order_relaxed);
        v = n;
      }
    } else {
      retired_[keep++] = r;
    }
  }
  retired_.resize(keep);
  spare_count_.store(spare_.size(), std::memory_order_relaxed);
}

void PageTable::Prune(uint64_t min_needed_seq, ReaderRegistry* readers) {
  std::vector<PageVersion*> cut;
  for (uint64_t pgno : touched_) {
    Slot* sl = SlotFor(pgno);
    if (sl == nullptr) continue;
    // A version is needed by snapshots from its seq up to the next newer
    // version's; every snapshot a reader holds or can take is >= min_needed_seq,
    // so what lies behind the newest version with seq <= min_needed_seq is
    // needed by none.
    PageVersion* v = sl->head.load(std::memory_order_relaxed);
    while (v != nullptr && v->seq > min_needed_seq) v = v->next.load(std::memory_order_relaxed);
    if (v == nullptr) continue;
    PageVersion* rest = v->next.load(std::memory_order_relaxed);
    if (rest == nullptr) continue;
    v->next.store(nullptr, std::memory_order_release);
    cut.push_back(rest);
  }
  touched_.clear();
  added_since_prune_ = 0;
  Retire(cut, readers);
  Reclaim(readers);
}

PageTable::Slot* PageTable::SlotForWrite(uint64_t pgno) {
  const uint64_t t = pgno >> (kChunkBits + kDirBits);
  Dir* d = top_[t].load(std::memory_order_acquire);
  if (d == nullptr) {
    d = new Dir();
    top_[t].store(d, std::memory_order_release);
  }
  std::atomic<Chunk*>& entry = d->chunks[(pgno >> kChunkBits) & (kDirChunks - 1)];
  Chunk* c = entry.load(std::memory_order_acquire);
  if (c == nullptr) {
    c = new Chunk();
    entry.store(c, std::memory_order_release);
  }
  return &c->slots[pgno & (kChunkPages - 1)];
}

const uint8_t* PageTable::FindLatest(uint64_t pgno) const {
  const Slot* sl = SlotFor(pgno);
  if (sl == nullptr) return nullptr;
  PageVersion* v = sl->head.load(std::memory_order_acquire);
  return v == nullptr ? nullptr : v->data;
}

void PageTable::Add(uint64_t pgno, uint64_t seq, const uint8_t* image) {
  Slot* sl = SlotForWrite(pgno);
  PageVersion* v = NewVersion();
  v->seq = seq;
  std::memcpy(v->data, image, format::kPageSize);
  v->next.store(sl->head.load(std::memory_order_relaxed), std::memory_order_relaxed);
  sl->head.store(v, std::memory_order_release);
  versions_.fetch_add(1, std::memory_order_relaxed);
  dirty_.insert(pgno);
  if (chained_.insert(pgno).second) chained_count_.store(chained_.size(), std::memory_order_seq_cst);
  touched_.push_back(pgno);
  added_since_prune_++;
}

std::vector<uint64_t> PageTable::DirtyPages() const { return {dirty_.begin(), dirty_.end()}; }

bool PageTable::PreserveBase(uint64_t pgno, const uint8_t* main_image, uint64_t min_reader_seq) {
  // Before the main file's copy changes: readers on the map fast path re-check this.
  base_writes_.fetch_add(1, std::memory_order_seq_cst);
  Slot* sl = SlotForWrite(pgno);
  PageVersion* tail = sl->head.load(std::memory_order_relaxed);
  if (tail == nullptr) return false;
  while (tail->next.load(std::memory_order_relaxed) != nullptr) tail = tail->next.load(std::memory_order_relaxed);
  // Readers older than the oldest version read the main file: keep its image.
  if (tail->seq == 0 || min_reader_seq >= tail->seq) return false;
  PageVersion* v = NewVersion();
  v->seq = 0;
  std::memcpy(v->data, main_image, format::kPageSize);
  tail->next.store(v, std::memory_order_release);
  versions_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void PageTable::MarkCheckpointed(uint64_t checkpoint_seq) {
  for (uint64_t pgno : dirty_) {
    Slot* sl = SlotForWrite(pgno);
    PageVersion* h = sl->head.load(std::memory_order_relaxed);
    if (h != nullptr) sl->base_seq.store(h->seq, std::memory_order_release);
  }
  dirty_.clear();
}

void PageTable::Trim(uint64_t min_reader_seq, ReaderRegistry* readers) {
  std::vector<PageVersion*> cut;
  for (auto it = chained_.begin(); it != chained_.end();) {
    uint64_t pgno = *it;
    if (dirty_.count(pgno)) {
      ++it;
      continue;
    }
    Slot* sl = SlotForWrite(pgno);
    uint64_t base = sl->base_seq.load(std::memory_order_relaxed);
    if (min_reader_seq < base) {
      ++it;
      continue;
    }
    // Every reader reads the main file for versions <= base.
    PageVersion* prev = nullptr;
    PageVersion* v = sl->head.load(std::memory_order_relaxed);
    while (v != nullptr && v->seq > base) {
      prev = v;
      v = v->next.load(std::memory_order_relaxed);
    }
    if (v != nullptr) {
      if (prev == nullptr)
        sl->head.store(nullptr, std::memory_order_release);
      else
        prev->next.store(nullptr, std::memory_order_release);
      cut.push_back(v);
    }
    if (sl->head.load(std::memory_order_relaxed) == nullptr)
      it = chained_.erase(it);
    else
      ++it;
  }
  chained_count_.store(chained_.size(), std::memory_order_seq_cst);
  Retire(cut, readers);
  Reclaim(readers);
}

size_t ReaderRegistry::Enter() {
  size_t start = std::hash<std::thread::id>()(std::this_thread::get_id()) % kSlots;
  for (;;) {
    for (size_t i = 0; i < kSlots; i++) {
      size_t idx = (start + i) % kSlots;
      uint64_t idle = kIdle;
      if (entries_[idx].epoch.compare_exchange_strong(idle, kBusy, std::memory_order_seq_cst)) {
        entries_[idx].seq.store(kBusy, std::memory_order_seq_cst);
        entries_[idx].epoch.store(epoch_.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
        return idx;
      }
    }
    std::this_thread::yield();  // more than kSlots concurrent readers: wait for one
  }
}

void ReaderRegistry::SetSnapshot(size_t slot, uint64_t seq) {
  entries_[slot].seq.store(seq, std::memory_order_seq_cst);
}

void ReaderRegistry::Leave(size_t slot) {
  entries_[slot].seq.store(kIdle, std::memory_order_release);
  entries_[slot].epoch.store(kIdle, std::memory_order_release);
}

uint64_t ReaderRegistry::MinSnapshot() const {
  uint64_t m = kIdle;
  for (const auto& e : entries_) {
    uint64_t s = e.seq.load(std::memory_order_seq_cst);
    if (s == kIdle) continue;
    if (s == kBusy) return 0;
    m = std::min(m, s);
  }
  return m;
}

void ReaderRegistry::AwaitReadersBefore(uint64_t epoch) const {
  for (int round = 0; MinEpoch() <= epoch; round++) {
    if (round < 64)
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(round < 256 ? 20 : 200));
  }
}

namespace {
// The registries of the read calls the current thread is inside, innermost
// last (a search filter may itself read). Deeper nesting is only counted.
constexpr int kHeldSlots = 8;
thread_local const ReaderRegistry* t_held[kHeldSlots];
thread_local int t_depth = 0;
}  // namespace

bool ReaderRegistry::HeldByThisThread() const {
  if (t_depth > kHeldSlots) return true;  // unknown: assume so
  for (int i = 0; i < t_depth; i++)
    if (t_held[i] == this) return true;
  return false;
}

ReadScope::ReadScope(const ReaderRegistry* r) {
  if (t_depth < kHeldSlots) t_held[t_depth] = r;
  t_depth++;
}

ReadScope::~ReadScope() { t_depth--; }

ReaderGuard::ReaderGuard(ReaderRegistry* r) : reg_(r), slot_(r->Enter()), scope_(r) {}

ReaderGuard::~ReaderGuard() { reg_->Leave(slot_); }

uint64_t ReaderRegistry::MinEpoch() const {
  uint64_t m = kIdle;
  for (const auto& e : entries_) {
    uint64_t s = e.epoch.load(std::memory_order_seq_cst);
    if (s == kIdle) continue;
    if (s == kBusy) return 0;
    m = std::min(m, s);
  }
  return m;
}

}  // namespace vdb
