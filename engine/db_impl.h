// DbImpl: the Database implementation. See docs/recovery.md for the commit
// and checkpoint protocol and docs/format.md for the bytes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "engine/hnsw/hnsw.h"
#include "engine/page_table.h"
#include "engine/state.h"
#include "engine/write_txn.h"
#include "format/header.h"
#include "format/meta.h"
#include "format/wal_format.h"
#include "recovery/wal_writer.h"
#include "vdb/db.h"

namespace vdb {

// The committed state a reader sees.
struct Snapshot {
  uint64_t seq = 0;
  format::MetaBody meta;
};

class DbImpl final : public Database {
 public:
  ~DbImpl() override;
  static Result<std::unique_ptr<Database>> CreateImpl(const std::string& path, const CreateOptions& create,
                                                      const OpenOptions& options);
  static Result<std::unique_ptr<Database>> OpenImpl(const std::string& path, const OpenOptions& options);

  Status Put(std::string_view id, std::span<const float> vector, std::string_view metadata_json) override;
  Status Delete(std::string_view id) override;
  Status Write(const WriteBatch& batch) override;
  Result<uint64_t> Submit(const WriteBatch& batch) override;
  Status Wait(uint64_t commit_seq) override;
  Result<Record> Get(std::string_view id) const override;
  Result<std::vector<SearchHit>> Search(std::span<const float> query, const SearchOptions& opts) const override;
  Result<std::vector<std::vector<SearchHit>>> SearchBatch(std::span<const float> queries, size_t nq,
                                                          const SearchOptions& opts) const override;
  Stats GetStats() const override;
  Status SetEmbeddingModel(std::string_view identity) override;
  Result<std::string> EmbeddingModel() const override;
  Status Compact(uint64_t* freed) override;
  Status Checkpoint() override;
  Status Close() override;

  hnsw::InvariantReport CheckGraphInvariants() const;
  // Writes queued in RunGrouped, the head's included (for tests).
  size_t QueuedWrites() const {
    std::lock_guard<std::mutex> q(queue_mu_);
    return queue_.size();
  }

  // --- For WriteTxn (writer lock held) ---
  const Layout& layout() const { return layout_; }
  const uint8_t* WriterPage(uint64_t pgno) const;
  // The vector of a slot as the writer sees it: a staged copy when its
  // commit has not reached the main file yet (then *pin keeps it alive),
  // else the mapped file.
  const float* WriterVector(uint32_t slot, uint64_t offset, std::shared_ptr<const std::vector<float>>* pin) const;
  bool SlotReusable(uint32_t slot) const;
  // Unindexed-list length that triggers linking (1: link every commit).
  uint32_t index_batch() const;
  // Records linked into the graph by this session's commits since the last
  // reachability pass (writer lock held).
  uint64_t linked_since_reach_pass() const { return linked_since_reach_pass_; }
  uint64_t max_pages() const { return map_size_ / format::kPageSize; }

 private:
  friend class SnapshotView;
  DbImpl() = default;
  Status OpenFiles(const std::string& path, const OpenOptions& options, bool creating);
  Status Recover();
  Status MapFile();

  // What a commit leaves to do once it is durable.
  struct Housekeeping {
    bool checkpoint = false;  // the WAL reached checkpoint_wal_bytes
    bool repair = false;      // tombstones reached 10% of the graph
  };
  // Runs fn inside a write transaction and appends its commit (stage 1,
  // under the writer lock); *seq = 0 when there was nothing to commit.
  Status Apply(const std::function<Status(WriteTxn&)>& fn, bool allow_auto_repair, uint64_t* seq,
               Housekeeping* hk);
  void Housekeep(const Housekeeping& hk);
  // Runs fn inside a write transaction and commits it durably.
  Status RunWrite(const std::function<Status(WriteTxn&)>& fn, bool allow_auto_repair = true);
  // RunWrite for Put, Delete, Write and SetEmbeddingModel: concurrent callers
  // queue, and the one at the head commits the queued writes (up to
  // kMaxGroupOps operations) as one transaction (docs/recovery.md, "Write
  // groups"). ops: how many operations fn applies.
  struct QueuedWrite;
  Status RunGrouped(const std::function<Status(WriteTxn&)>& fn, size_t ops);
  // The log thread (started by the first Submit): leads the group commit of
  // whatever was appended and is not visible yet, so a submitted commit is
  // made durable while its submitter prepares the next one.
  void LogLoop();
  void StopLogThread();
  // Stage 1 (writer lock held): WAL append and in-memory publication to the
  // writer's view. Returns the commit's seq in *seq (0 if nothing to commit).
  Status CommitLocked(WriteTxn& txn, uint64_t* seq);
  // Stage 2: waits until seq is durable (per SyncMode) and visible to readers.
  Status WaitVisible(uint64_t seq);
  // The main-file writes of staged vectors (valid while fresh and *buf are).
  std::vector<WriteOp> FreshWrites(const std::vector<FreshVector>& fresh, std::vector<char>* buf) const;
  Status CheckpointLocked();
  // Creates the WAL (generation wal_generation_) if this session has none.
  Status EnsureWalLocked();
  Status WriteMetaPage(uint64_t commit_seq, uint64_t wal_generation, const format::MetaBody& body);
  void Poison(const Status& s);
  Status WritableCheck() const;
  std::shared_ptr<const Snapshot> AcquireSnapshot(ReaderGuard* g) const;
  void BackgroundSyncLoop();

  Result<std::vector<std::vector<SearchHit>>> SearchImpl(std::span<const float> queries, size_t nq,
                                                         const SearchOptions& opts) const;

  Env* env_ = nullptr;
  OpenOptions opts_;
  std::string path_, wal_path_;
  std::unique_ptr<File> main_;
  // Null until the first commit of a session that replayed nothing; set
  // under writer_mu_, read by the group-commit leader and the background
  // syncer only for commits appended after it was set.
  std::unique_ptr<recovery::WalWriter> wal_;
  uint64_t wal_generation_ = 0;  // generation for a log created by EnsureWalLocked
  format::FileHeader header_;
  Layout layout_;
  const uint8_t* map_ = nullptr;
  uint64_t map_size_ = 0;
  bool read_only_ = false;
  bool closed_ = false;
  bool opened_ = false;  // OpenFiles completed

  std::unique_ptr<PageTable> pages_;
  mutable ReaderRegistry readers_;

  // Writer state. Guarded by writer_mu_.
  std::mutex writer_mu_;
  format::MetaBody meta_;        // after the last appended commit
  uint64_t last_seq_ = 0;        // last appended commit
  // Last commit in the main file. Written under writer_mu_; atomic because
  // GetStats reads it without the lock.
  std::atomic<uint64_t> checkpoint_seq_{0};
  uint64_t meta_seq_ = 0;        // of the newest meta page
  uint64_t file_pages_ = 0;      // the main file is at least this many pages
  std::unordered_map<uint32_t, uint64_t> free_seq_;  // slot -> commit that freed it (this session)
  // Pages whose full image the current WAL generation holds; later commits
  // log only their changed bytes (docs/recovery.md, "Page deltas").
  // Invariant: each has a page version newer than checkpoint_seq_.
  std::unordered_set<uint64_t> logged_pages_;
  uint64_t linked_since_reach_pass_ = 0;
  std::vector<format::PageRange> delta_;  // scratch for CommitLocked

  // Callers of RunGrouped waiting to be committed, oldest first; the head
  // leads the next group. Guarded by queue_mu_ (never held with another lock).
  mutable std::mutex queue_mu_;
  std::deque<QueuedWrite*> queue_;

  // Durability and visibility. Guarded by sync_mu_.
  struct Pending {
    uint64_t seq;
    std::shared_ptr<const Snapshot> snap;
    std::vector<FreshVector> fresh;
  };
  mutable std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::deque<Pending> pending_;
  uint64_t appended_seq_ = 0;
  std::atomic<uint64_t> durable_seq_{0};
  bool syncing_ = false;
  std::atomic<bool> poisoned_{false};
  Status poison_;
  std::thread bg_sync_;
  bool bg_stop_ = false;
  std::thread log_thread_;
  bool log_stop_ = false;

  // Vectors of commits not yet written to the main file (writer reads only).
  mutable std::mutex staged_mu_;
  std::unordered_map<uint32_t, std::shared_ptr<const std::vector<float>>> staged_;
  std::atomic<size_t> staged_count_{0};  // staged_.size(), read without the lock

  // What readers see. snap_mu_ guards only the copy or swap of this
  // pointer (a few nanoseconds); no reader waits on a commit or an fsync.
  // (libstdc++ 12's std::atomic<std::shared_ptr> is not understood by
  // ThreadSanitizer, so a plain mutex it is.)
  std::shared_ptr<const Snapshot> LoadSnapshot() const {
    std::lock_guard<std::mutex> l(snap_mu_);
    return snapshot_;
  }
  void StoreSnapshot(std::shared_ptr<const Snapshot> s) {
    std::lock_guard<std::mutex> l(snap_mu_);
    snapshot_.swap(s);
  }
  mutable std::mutex snap_mu_;
  std::shared_ptr<const Snapshot> snapshot_;
};

}  // namespace vdb
