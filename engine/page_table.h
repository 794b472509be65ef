// PageTable: committed page versions that are newer than the main file, and
// the registry of active readers' snapshots.
//
// Pages other than the vector region are never modified in place in the main
// file between checkpoints. A commit adds a version (a full page image tagged
// with its commit sequence number) to the page's chain; a checkpoint writes
// the newest version to the main file. A reader with snapshot s reads the
// newest chained version with seq <= s, or the mapped main file when no such
// version is chained (then the file holds the page as of s). So readers see exactly the state as of s, are never
// blocked, and never see a page the writer is in the middle of changing.
//
// A version a newer one supersedes is dropped once no reader can need it:
// between checkpoints by Prune (every few hundred added versions), and at a
// checkpoint by Trim. So a page changed by many commits keeps a short chain.
//
// Thread-safety: Find/FindLatest are lock-free and may run concurrently with
// one writer (Add/PreserveBase/MarkCheckpointed/Prune/Trim are writer-only,
// externally serialized). Memory of unlinked versions is reused or freed only
// once no reader that started before the unlink is still active (epoch-based
// reclamation).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "format/constants.h"

namespace vdb {

struct PageVersion {
  uint64_t seq = 0;  // commit that wrote this image; 0 = copy of the main file kept for old readers
  std::atomic<PageVersion*> next{nullptr};  // older version
  alignas(64) uint8_t data[format::kPageSize];  // left uninitialized until the writer fills it
};

class ReaderRegistry;

class PageTable {
 public:
  explicit PageTable(uint64_t max_pages);
  ~PageTable();
  PageTable(const PageTable&) = delete;
  PageTable& operator=(const PageTable&) = delete;

  // The image of page pgno as of snapshot seq, or nullptr if the mapped main
  // file holds it.
  const uint8_t* Find(uint64_t pgno, uint64_t seq) const;
  // The newest committed image (any seq), or nullptr: the writer's view.
  const uint8_t* FindLatest(uint64_t pgno) const;

  // Reader fast path (lock-free). When ChainedPages() is 0, the mapped main
  // file holds every page as of any registered reader's snapshot, and it
  // stays so until a checkpoint overwrites pages, which first bumps
  // BaseWrites() (PreserveBase). So a reader that loads BaseWrites(), then
  // sees ChainedPages() == 0, may read pages straight from the map; the bytes
  // it read are as of its snapshot if BaseWrites() still has the same value
  // afterwards (load it after std::atomic_thread_fence(acquire)). Otherwise
  // some may be newer (memory-safe but inconsistent): read again via Find.
  uint64_t BaseWrites() const { return base_writes_.load(std::memory_order_seq_cst); }
  uint64_t ChainedPages() const { return chained_count_.load(std::memory_order_seq_cst); }

  // Writer: publishes image as the version of pgno at commit seq.
  void Add(uint64_t pgno, uint64_t seq, const uint8_t* image);

  // True once enough versions were added since the last Prune that one is
  // worth its cost (two scans of the reader registry).
  bool PruneDue() const { return added_since_prune_ >= kPruneEvery; }
  // Writer: unlinks, on every page added to since the last Prune, the
  // versions older than the newest one with seq <= min_needed_seq, and
  // reclaims memory that is safe to reclaim. min_needed_seq must be at most
  // the oldest snapshot any reader holds or can still take: the minimum of
  // the visible commit (loaded first) and ReaderRegistry::MinSnapshot().
  void Prune(uint64_t min_needed_seq, ReaderRegistry* readers);

  // Checkpoint support. Pages with versions newer than the main file:
  std::vector<uint64_t> DirtyPages() const;
  // Before the main file's copy of pgno is overwritten: if a reader with a
  // snapshot older than every version may still read the main file, keep a
  // copy of main_image for it. Returns true if it kept one. The copy serves
  // Find calls from now on; a reader that already took a pointer into the
  // map may still be reading it, so the caller must not overwrite the page
  // before ReaderRegistry::AwaitReadersBefore(BumpEpoch()) returns.
  bool PreserveBase(uint64_t pgno, const uint8_t* main_image, uint64_t min_reader_seq);
  // After the main file durably holds the newest version of every dirty page.
  void MarkCheckpointed(uint64_t checkpoint_seq);
  // Unlinks versions no reader can need (min_reader_seq: oldest active
  // snapshot; UINT64_MAX when none) and frees memory that is safe to free.
  void Trim(uint64_t min_reader_seq, ReaderRegistry* readers);
  // Versions linked or waiting for reclamation (not the spare ones).
  size_t version_count() const { return versions_.load(std::memory_order_relaxed); }
  // Memory held in versions, spare ones included.
  size_t bytes() const {
    return (version_count() + spare_count_.load(std::memory_order_relaxed)) * sizeof(PageVersion);
  }
  // Reclaimed versions kept for reuse (writer's view).
  size_t spare_count() const { return spare_count_.load(std::memory_order_relaxed); }

 private:
  struct Slot {
    std::atomic<PageVersion*> head{nullptr};
    std::atomic<uint64_t> base_seq{0};  // seq of the version the main file holds
  };
  // Two-level directory: top_[i] -> Dir -> Chunk -> Slot. Dirs and chunks
  // are allocated by the writer on first use, so constructing a PageTable
  // touches only top_ (a few hundred bytes per TiB of map), not memory in
  // proportion to max_pages.
  static constexpr uint64_t kChunkBits = 12;
  static constexpr uint64_t kChunkPages = 1ull << kChunkBits;
  static constexpr uint64_t kDirBits = 9;  // a Dir is one 4 KiB page of pointers
  static constexpr uint64_t kDirChunks = 1ull << kDirBits;
  struct Chunk {
    Slot slots[kChunkPages];
  };
  struct Dir {
    std::atomic<Chunk*> chunks[kDirChunks] = {};
  };
  Slot* SlotFor(uint64_t pgno) const;
  Slot* SlotForWrite(uint64_t pgno);
  // A version to fill: a spare one (no reader can hold it) or a new one.
  PageVersion* NewVersion();
  // Queues the chain starting at v for reclamation after the readers that
  // may hold it have left.
  void Retire(const std::vector<PageVersion*>& chains, ReaderRegistry* readers);
  // Reuses or frees retired chains no active reader can hold.
  void Reclaim(ReaderRegistry* readers);

  static constexpr size_t kPruneEvery = 256;  // added versions between Prune calls
  // Spare versions kept for reuse at most (about 8 MiB); more are freed.
  static constexpr size_t kMaxSpare = 2048;

  uint64_t max_pages_;
  std::unique_ptr<std::atomic<Dir*>[]> top_;
  uint64_t top_size_;
  std::unordered_set<uint64_t> dirty_;      // writer-only
  std::unordered_set<uint64_t> chained_;    // pages with any version; writer-only
  struct Retired {
    PageVersion* v;
    uint64_t epoch;
  };
  std::vector<Retired> retired_;  // writer-only
  // Reclaimed versions for NewVersion; writer-only. Invariant: no reader
  // holds a pointer into any of them.
  std::vector<PageVersion*> spare_;
  std::atomic<size_t> spare_count_{0};  // spare_.size()
  std::vector<uint64_t> touched_;       // pages added to since the last Prune (may repeat); writer-only
  size_t added_since_prune_ = 0;        // writer-only
  std::atomic<size_t> versions_{0};
  // Invariant: chained_count_ == chained_.size() whenever the writer is not
  // inside Add/Trim.
  std::atomic<uint64_t> chained_count_{0};
  std::atomic<uint64_t> base_writes_{0};  // PreserveBase calls (pages about to be overwritten)
};

inline PageTable::Slot* PageTable::SlotFor(uint64_t pgno) const {
  const uint64_t t = pgno >> (kChunkBits + kDirBits);
  if (t >= top_size_) return nullptr;
  Dir* d = top_[t].load(std::memory_order_acquire);
  if (d == nullptr) return nullptr;
  Chunk* c = d->chunks[(pgno >> kChunkBits) & (kDirChunks - 1)].load(std::memory_order_acquire);
  if (c == nullptr) return nullptr;
  return &c->slots[pgno & (kChunkPages - 1)];
}

inline const uint8_t* PageTable::Find(uint64_t pgno, uint64_t seq) const {
  const Slot* sl = SlotFor(pgno);
  if (sl == nullptr) return nullptr;
  // The newest version <= seq is exactly the page as of seq. Without one,
  // the main file holds it: every version the file held that a registered
  // reader could need is either still chained or was copied by PreserveBase
  // before the file's copy was overwritten.
  for (PageVersion* v = sl->head.load(std::memory_order_acquire); v != nullptr;
       v = v->next.load(std::memory_order_acquire)) {
    if (v->seq <= seq) return v->data;
  }
  return nullptr;
}

// Readers register their snapshot here for the duration of a read.
class ReaderRegistry {
 public:
  static constexpr size_t kSlots = 1024;
  static constexpr uint64_t kBusy = ~0ull - 1;
  static constexpr uint64_t kIdle = ~0ull;

  // Claims a slot; *epoch_out is the epoch the reader started in. The caller
  // then loads its snapshot seq and calls SetSnapshot.
  size_t Enter();
  void SetSnapshot(size_t slot, uint64_t seq);
  void Leave(size_t slot);
  // Oldest snapshot of any active reader (kIdle if none); a reader still
  // registering counts as 0.
  uint64_t MinSnapshot() const;
  // Oldest start epoch of any active reader (kIdle if none).
  uint64_t MinEpoch() const;
  // Writer: advances the epoch and returns the previous one.
  uint64_t BumpEpoch() { return epoch_.fetch_add(1, std::memory_order_seq_cst); }
  // Writer: returns once every reader that started in an epoch <= epoch has
  // left (an RCU grace period). Readers that start meanwhile do not hold it
  // up. Read calls are bounded, so this waits at most for the longest read
  // in progress.
  void AwaitReadersBefore(uint64_t epoch) const;
  // True if the calling thread is inside a read call registered here (a
  // search filter runs inside one). Such a thread must not wait for readers.
  bool HeldByThisThread() const;

 private:
  struct alignas(64) Entry {
    std::atomic<uint64_t> epoch{kIdle};
    std::atomic<uint64_t> seq{kIdle};
  };
  Entry entries_[kSlots];
  std::atomic<uint64_t> epoch_{1};
  std::mutex overflow_mu_;
};

// RAII registration of one reader.
// Marks the calling thread as working inside a read call of a registry
// (without registering a snapshot): a worker thread of a multi-threaded scan
// that calls the caller's search filter. HeldByThisThread is then true.
class ReadScope {
 public:
  explicit ReadScope(const ReaderRegistry* r);
  ~ReadScope();
  ReadScope(const ReadScope&) = delete;
  ReadScope& operator=(const ReadScope&) = delete;
};

class ReaderGuard {
 public:
  explicit ReaderGuard(ReaderRegistry* r);
  ~ReaderGuard();
  void SetSnapshot(uint64_t seq) { reg_->SetSnapshot(slot_, seq); }
  ReaderGuard(const ReaderGuard&) = delete;
  ReaderGuard& operator=(const ReaderGuard&) = delete;

 private:
  ReaderRegistry* reg_;
  size_t slot_;
  ReadScope scope_;  // HeldByThisThread() while registered
};

}  // namespace vdb
