// The write path: transactions, group commit, checkpoints.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "engine/db_impl.h"
#include "engine/test_hooks.h"
#include "format/pages.h"
#include "format/wal_format.h"

namespace vdb {

using namespace vdb::format;

const uint8_t* DbImpl::WriterPage(uint64_t pgno) const {
  const uint8_t* p = pages_->FindLatest(pgno);
  return p ? p : map_ + pgno * kPageSize;
}

const float* DbImpl::WriterVector(uint32_t slot, uint64_t offset,
                                  std::shared_ptr<const std::vector<float>>* pin) const {
  // Only the writer adds to staged_ (under the writer lock, which the caller
  // holds), so a zero count cannot miss this caller's own staged vectors.
  if (staged_count_.load(std::memory_order_acquire) != 0) {
    std::lock_guard<std::mutex> l(staged_mu_);
    auto it = staged_.find(slot);
    if (it != staged_.end()) {
      // The group-commit leader may drop the entry at any moment: the
      // caller holds a reference for as long as it uses the pointer.
      *pin = it->second;
      return (*pin)->data();
    }
  }
  return reinterpret_cast<const float*>(map_ + offset);
}

bool DbImpl::SlotReusable(uint32_t slot) const {
  auto it = free_seq_.find(slot);
  if (it == free_seq_.end()) return true;  // freed before this session
  // No reader may still see the old record, and the free must be durable.
  return it->second <= durable_seq_.load() && readers_.MinSnapshot() >= it->second;
}

uint32_t DbImpl::index_batch() const {
  // Version 1 files have no unindexed list.
  if (header_.format_version < kFirstVersionWithUnindexedList) return 1;
  if (opts_.index_batch == 0) return kDefaultIndexBatch;
  return std::min(opts_.index_batch, kUnindexedCapacity);
}

void DbImpl::Poison(const Status& s) {
  bool was = poisoned_.exchange(true);
  if (!was) {
    std::lock_guard<std::mutex> l(sync_mu_);
    poison_ = Status::IOError("the database refuses writes after an I/O error until it is reopened (" + s.ToString() +
                              ")");
  }
  sync_cv_.notify_all();
}

Status DbImpl::WritableCheck() const {
  if (closed_) return Status::InvalidArgument("the database is closed");
  if (read_only_) return Status::ReadOnly(path_ + " was opened read-only");
  // A checkpoint may wait for the reads in progress to finish: one started
  // by this thread (a search filter writing back) would never finish.
  if (readers_.HeldByThisThread())
    return Status::InvalidArgument("writes to a database from inside one of its own read calls (a search filter) "
                                   "are not allowed");
  if (poisoned_.load()) {
    std::lock_guard<std::mutex> l(sync_mu_);
    return poison_;
  }
  return Status::Ok();
}

Status DbImpl::Put(std::string_view id, std::span<const float> vector, std::string_view metadata_json) {
  return RunGrouped([&](WriteTxn& t) { return t.Put(id, vector, metadata_json); }, 1);
}

Status DbImpl::Delete(std::string_view id) {
  return RunGrouped([&](WriteTxn& t) { return t.Delete(id); }, 1);
}

Status DbImpl::SetEmbeddingModel(std::string_view identity) {
  return RunGrouped([&](WriteTxn& t) { return t.SetModel(identity); }, 1);
}

namespace {
// Applies every operation of batch to t (the body of Write and Submit).
Status ApplyBatch(const WriteBatch& batch, WriteTxn& t) {
  for (size_t i = 0; i < batch.ops().size(); i++) {
    const auto& op = batch.ops()[i];
    Status s = op.is_delete ? t.Delete(op.id) : t.Put(op.id, op.vector, op.metadata);
    if (!s.ok()) return s.WithContext("batch operation " + std::to_string(i) + " (id '" + op.id + "')");
  }
  return Status::Ok();
}
}  // namespace

Status DbImpl::Write(const WriteBatch& batch) {
  return RunGrouped([&](WriteTxn& t) { return ApplyBatch(batch, t); }, batch.ops().size());
}

Result<uint64_t> DbImpl::Submit(const WriteBatch& batch) {
  uint64_t seq = 0;
  Housekeeping hk;
  VDB_RETURN_IF_ERROR(Apply([&](WriteTxn& t) { return ApplyBatch(batch, t); }, true, &seq, &hk));
  if (seq == 0) return uint64_t{0};
  {
    // The log thread makes the commit durable and visible while the caller
    // goes on (its next batch links meanwhile).
    std::lock_guard<std::mutex> l(sync_mu_);
    if (!log_stop_ && !log_thread_.joinable()) log_thread_ = std::thread([this] { LogLoop(); });
  }
  sync_cv_.notify_all();
  if (hk.repair || hk.checkpoint) {
    // Rare (a WAL past the checkpoint size, or 10% tombstones): this commit
    // is waited for first, as Write does.
    VDB_RETURN_IF_ERROR(WaitVisible(seq));
    Housekeep(hk);
  }
  return seq;
}

Status DbImpl::Wait(uint64_t seq) {
  if (seq == 0) return Status::Ok();
  {
    std::lock_guard<std::mutex> l(sync_mu_);
    if (seq > appended_seq_)
      return Status::InvalidArgument("commit " + std::to_string(seq) + " was not submitted to this database (the last is " +
                                     std::to_string(appended_seq_) + ")");
  }
  return WaitVisible(seq);
}

void DbImpl::LogLoop() {
  std::unique_lock<std::mutex> l(sync_mu_);
  for (;;) {
    sync_cv_.wait(l, [&] {
      return log_stop_ || (!syncing_ && !poisoned_.load() && appended_seq_ > LoadSnapshot()->seq);
    });
    if (log_stop_) return;
    const uint64_t target = appended_seq_;
    l.unlock();
    // A failure poisons the database; Wait and every later call report it.
    (void)WaitVisible(target);
    l.lock();
  }
}

void DbImpl::StopLogThread() {
  {
    std::lock_guard<std::mutex> l(sync_mu_);
    log_stop_ = true;
  }
  sync_cv_.notify_all();
  if (log_thread_.joinable()) log_thread_.join();
}

Status DbImpl::Compact(uint64_t* freed) {
  uint64_t n = 0;
  Status s = RunWrite(
      [&](WriteTxn& t) {
        t.IndexAll(WriteTxn::ReachPass::kAlways);
        return t.RepairGraph(&n);
      },
      false);
  if (freed) *freed = n;
  return s;
}

namespace {
// std::thread::hardware_concurrency reads /sys/devices/system/cpu/online
// (open, read, close) on every call: asked once per process, not per commit.
int OnlineCpus() {
  static const int n = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  return n;
}
}  // namespace

Status DbImpl::Apply(const std::function<Status(WriteTxn&)>& fn, bool allow_auto_repair, uint64_t* seq,
                     Housekeeping* hk) {
  *seq = 0;
  VDB_RETURN_IF_ERROR(WritableCheck());
  std::lock_guard<std::mutex> l(writer_mu_);
  VDB_RETURN_IF_ERROR(WritableCheck());
  WriteTxn txn(this, meta_, last_seq_ + 1);
  VDB_RETURN_IF_ERROR(fn(txn));
  VDB_RETURN_IF_ERROR(txn.Finish(opts_.build_threads > 0 ? opts_.build_threads : OnlineCpus()));
  VDB_RETURN_IF_ERROR(CommitLocked(txn, seq));
  linked_since_reach_pass_ = txn.reach_pass_ran() ? 0 : linked_since_reach_pass_ + txn.linked();
  hk->checkpoint = wal_ && wal_->size() >= opts_.checkpoint_wal_bytes;
  hk->repair = allow_auto_repair && meta_.deleted_count >= 32 && meta_.deleted_count * 10 >= meta_.graph_nodes;
  return Status::Ok();
}

void DbImpl::Housekeep(const Housekeeping& hk) {
  // Runs after the commit that asked for it is durable, and does not change
  // that. Its I/O failures poison the database (the next call reports them);
  // a repair that fails otherwise leaves the tombstones for the next attempt.
  if (hk.repair) (void)Compact(nullptr);
  if (hk.checkpoint) {
    std::lock_guard<std::mutex> l(writer_mu_);
    if (!poisoned_.load() && wal_->size() >= opts_.checkpoint_wal_bytes) (void)CheckpointLocked();
  }
}

Status DbImpl::RunWrite(const std::function<Status(WriteTxn&)>& fn, bool allow_auto_repair) {
  uint64_t seq = 0;
  Housekeeping hk;
  VDB_RETURN_IF_ERROR(Apply(fn, allow_auto_repair, &seq, &hk));
  if (seq == 0) return Status::Ok();
  VDB_RETURN_IF_ERROR(WaitVisible(seq));
  Housekeep(hk);
  return Status::Ok();
}

struct DbImpl::QueuedWrite {
  const std::function<Status(WriteTxn&)>* fn = nullptr;
  size_t ops = 0;
  Status status;
  bool done = false;  // status is final; set by the group's leader
  std::condition_variable cv;
};

namespace {
// A write group holds at most this many operations (but always its leader's
// write, whatever its size), so a thread that queues behind a few small
// writes is not held up by a large batch applied with them.
constexpr size_t kMaxGroupOps = 1024;
}  // namespace

Status DbImpl::RunGrouped(const std::function<Status(WriteTxn&)>& fn, size_t ops) {
  // Checked in the caller's thread: a write from inside one of this
  // thread's read calls must be refused here, not by another thread leading
  // its group.
  VDB_RETURN_IF_ERROR(WritableCheck());
  QueuedWrite w;
  w.fn = &fn;
  w.ops = ops;
  std::vector<QueuedWrite*> group;
  {
    std::unique_lock<std::mutex> q(queue_mu_);
    queue_.push_back(&w);
    w.cv.wait(q, [&] { return w.done || queue_.front() == &w; });
    if (w.done) return w.status;
    // Head of the queue: lead a group of the writes queued behind.
    size_t total = 0;
    for (QueuedWrite* m : queue_) {
      if (!group.empty() && total + m->ops > kMaxGroupOps) break;
      group.push_back(m);
      total += m->ops;
    }
  }
  uint64_t seq = 0;
  Housekeeping hk;
  Status s = Apply(
      [&](WriteTxn& t) {
        for (QueuedWrite* m : group) VDB_RETURN_IF_ERROR((*m->fn)(t));
        return Status::Ok();
      },
      true, &seq, &hk);
  if (s.ok() || group.size() == 1) {
    for (QueuedWrite* m : group) m->status = s;
  } else {
    // Something in the group failed (a member's write, or the transaction):
    // each member gets a transaction of its own and its own error, as if it
    // had committed alone. Nothing of the failed transaction was logged.
    seq = 0;
    for (QueuedWrite* m : group) {
      uint64_t own = 0;
      Housekeeping h;
      m->status = Apply(*m->fn, true, &own, &h);
      seq = std::max(seq, own);
      hk.checkpoint |= h.checkpoint;
      hk.repair |= h.repair;
    }
  }
  const Status durable = seq == 0 ? Status::Ok() : WaitVisible(seq);
  {
    std::lock_guard<std::mutex> q(queue_mu_);
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(group.size()));
    if (!queue_.empty()) queue_.front()->cv.notify_one();
    for (QueuedWrite* m : group) {
      if (m->status.ok()) m->status = durable;
      if (m == &w) continue;
      // Notified under the lock: the member returns (destroying *m) only
      // after it reacquires queue_mu_.
      m->done = true;
      m->cv.notify_one();
    }
  }
  if (durable.ok() && seq != 0) Housekeep(hk);
  return w.status;
}

Status DbImpl::EnsureWalLocked() {
  if (wal_) return Status::Ok();
  auto w = recovery::WalWriter::Create(env_, wal_path_, header_.uuid, wal_generation_);
  if (!w.ok()) {
    // Its fsync may have failed: like every fsync failure, this poisons.
    Poison(w.status());
    return w.status();
  }
  wal_ = std::move(*w);
  return Status::Ok();
}

Status DbImpl::CommitLocked(WriteTxn& txn, uint64_t* seq_out) {
  *seq_out = 0;
  if (txn.empty()) return Status::Ok();
  VDB_RETURN_IF_ERROR(EnsureWalLocked().WithContext("create " + wal_path_));
  const uint64_t seq = txn.seq();
  const MetaBody& m = txn.meta();
  // Grow the file first: a full disk fails here, before anything is logged.
  if (m.page_count > file_pages_) {
    Status s = main_->Allocate(file_pages_ * kPageSize, (m.page_count - file_pages_) * kPageSize);
    if (!s.ok()) return s.WithContext("grow " + path_);
    file_pages_ = m.page_count;
  }
  for (auto& [pgno, buf] : txn.dirty()) SealPage(buf->data, pgno, layout_.uuid_seed);

  // WAL payloads: the meta body first, then page images and vector bytes.
  std::vector<std::string> payloads(1);
  uint8_t body[kMetaBodySize];
  EncodeMetaBody(m, body);
  AppendMetaEntry(&payloads.back(), body);
  auto room = [&](size_t n) {
    if (payloads.back().size() + n > kWalMaxPayload) payloads.emplace_back();
  };
  // A page's first change in this WAL generation is logged as its full
  // image, so replay can rebuild it whatever state a torn checkpoint write
  // left in the main file; later changes log only the bytes that differ from
  // its newest version (what replay has rebuilt by then), unless the delta
  // would not be smaller.
  std::vector<uint64_t> imaged;
  for (auto& [pgno, buf] : txn.dirty()) {
    if (logged_pages_.contains(pgno) || test_hooks::Bugs().delta_without_image.load()) {
      const size_t n = DiffPage(WriterPage(pgno), buf->data, &delta_);
      if (n < PageEntrySize()) {
        for (const PageRange& r : delta_) {
          room(BytesEntrySize(r.len));
          AppendBytesEntry(&payloads.back(), pgno * kPageSize + r.off, buf->data + r.off, r.len);
        }
        continue;
      }
    }
    room(PageEntrySize());
    AppendPageEntry(&payloads.back(), pgno, buf->data);
    imaged.push_back(pgno);
  }
  const uint32_t vbytes = header_.dim * 4;
  for (const auto& fv : txn.fresh()) {
    room(BytesEntrySize(vbytes));
    AppendBytesEntry(&payloads.back(), fv.offset, fv.values->data(), vbytes);
  }

  if (test_hooks::Bugs().write_before_wal.load()) {
    // Planted bug: main-file bytes ahead of their log record.
    std::vector<WriteOp> ops;
    for (auto& [pgno, buf] : txn.dirty()) ops.push_back({pgno * kPageSize, buf->data, kPageSize});
    for (const auto& fv : txn.fresh()) ops.push_back({fv.offset, fv.values->data(), vbytes});
    (void)main_->Write(ops);
  }

  wal_->Append(seq, payloads);
  logged_pages_.insert(imaged.begin(), imaged.end());
  // Logged: publish to the writer's view (readers still see older snapshots).
  last_seq_ = seq;
  meta_ = m;
  for (auto& [pgno, buf] : txn.dirty()) pages_->Add(pgno, seq, buf->data);
  if (pages_->PruneDue()) {
    // Versions superseded before the oldest snapshot a reader holds or can
    // still take. The visible commit is loaded first: a reader registering
    // after the registry scan takes a snapshot at least that new.
    const uint64_t visible = LoadSnapshot()->seq;
    pages_->Prune(std::min(visible, readers_.MinSnapshot()), &readers_);
  }
  for (uint32_t slot : txn.freed()) free_seq_[slot] = seq;
  {
    std::lock_guard<std::mutex> l(staged_mu_);
    for (const auto& fv : txn.fresh()) staged_[fv.slot] = fv.values;
    staged_count_.store(staged_.size(), std::memory_order_release);
  }
  auto snap = std::make_shared<const Snapshot>(Snapshot{seq, m});
  {
    std::lock_guard<std::mutex> l(sync_mu_);
    pending_.push_back({seq, std::move(snap), txn.fresh()});
    appended_seq_ = seq;
  }
  *seq_out = seq;
  return Status::Ok();
}

std::vector<WriteOp> DbImpl::FreshWrites(const std::vector<FreshVector>& fresh, std::vector<char>* buf) const {
  const uint64_t vbytes = header_.dim * 4;
  std::vector<const FreshVector*> order;
  order.reserve(fresh.size());
  for (const auto& fv : fresh) order.push_back(&fv);
  // New records take consecutive slots, whose vectors lie back to back: one
  // write per run of adjacent vectors (copied together into *buf) instead of
  // one per vector. A slot written twice keeps its last vector.
  std::stable_sort(order.begin(), order.end(),
                   [](const FreshVector* a, const FreshVector* b) { return a->offset < b->offset; });
  std::vector<std::pair<size_t, size_t>> runs;  // [first, last] indexes into order
  size_t merged_bytes = 0;
  for (size_t i = 0; i < order.size(); i++) {
    if (i + 1 < order.size() && order[i + 1]->offset == order[i]->offset) continue;  // a later one wins
    if (!runs.empty() && order[runs.back().second]->offset + vbytes == order[i]->offset)
      runs.back().second = i;
    else
      runs.push_back({i, i});
  }
  for (const auto& [first, last] : runs)
    if (first != last) merged_bytes += order[last]->offset + vbytes - order[first]->offset;
  buf->clear();
  buf->reserve(merged_bytes);  // no reallocation below: the ops point into it
  std::vector<WriteOp> ops;
  ops.reserve(runs.size());
  for (const auto& [first, last] : runs) {
    if (first == last) {
      ops.push_back({order[first]->offset, order[first]->values->data(), vbytes});
      continue;
    }
    const size_t at = buf->size();
    for (size_t i = first; i <= last; i++) {
      if (i < last && order[i + 1]->offset == order[i]->offset) continue;
      const char* v = reinterpret_cast<const char*>(order[i]->values->data());
      buf->insert(buf->end(), v, v + vbytes);
    }
    ops.push_back({order[first]->offset, buf->data() + at, buf->size() - at});
  }
  return ops;
}

Status DbImpl::WaitVisible(uint64_t seq) {
  const bool sync = opts_.sync == SyncMode::kFull;
  std::unique_lock<std::mutex> l(sync_mu_);
  for (;;) {
    if (LoadSnapshot()->seq >= seq) return Status::Ok();
    if (poisoned_.load()) return poison_;
    if (syncing_) {
      sync_cv_.wait(l);
      continue;
    }
    // Become the leader: one durable log write for every commit appended so
    // far (CommitLocked queues a commit in pending_ as it sets appended_seq_).
    syncing_ = true;
    const uint64_t target = appended_seq_;
    std::vector<Pending> batch;
    while (!pending_.empty() && pending_.front().seq <= target) {
      batch.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    l.unlock();
    std::vector<FreshVector> all;
    for (auto& p : batch) all.insert(all.end(), p.fresh.begin(), p.fresh.end());
    // The vectors reach the main file only once the log is durable: in the
    // same request as the log write, linked behind it (SyncThenWrite).
    Status s;
    bool logged = false;
    std::vector<char> merged;
    const std::vector<WriteOp> vector_writes = FreshWrites(all, &merged);
    if (sync && !test_hooks::Bugs().skip_wal_sync.load()) {
      s = wal_->SyncThenWrite(main_.get(), vector_writes, &logged);
    } else {
      s = wal_->Flush();
      logged = s.ok();
      if (logged) s = main_->Write(vector_writes);
    }
    if (logged && s.ok() && !batch.empty()) {
      StoreSnapshot(batch.back().snap);
      std::lock_guard<std::mutex> sl(staged_mu_);
      for (const auto& fv : all) {
        auto it = staged_.find(fv.slot);
        if (it != staged_.end() && it->second == fv.values) staged_.erase(it);
      }
      staged_count_.store(staged_.size(), std::memory_order_release);
    }
    // A failure poisons before the next leader can start.
    if (!s.ok()) Poison(s);
    l.lock();
    if (logged && sync) durable_seq_ = std::max(durable_seq_.load(), target);
    syncing_ = false;
    sync_cv_.notify_all();
    if (!s.ok()) {
      if (!logged) return s.WithContext("commit " + std::to_string(seq) + " is not durable");
      return s.WithContext("write vectors of commit " + std::to_string(seq));
    }
  }
}

void DbImpl::BackgroundSyncLoop() {
  std::unique_lock<std::mutex> l(sync_mu_);
  while (!bg_stop_) {
    sync_cv_.wait_for(l, std::chrono::milliseconds(opts_.background_sync_ms));
    if (bg_stop_ || poisoned_.load()) break;
    uint64_t target = LoadSnapshot()->seq;
    if (target <= durable_seq_.load()) continue;
    l.unlock();
    Status s = wal_->Sync();
    l.lock();
    if (!s.ok()) {
      l.unlock();
      Poison(s);
      l.lock();
      break;
    }
    durable_seq_ = std::max(durable_seq_.load(), target);
  }
}

Status DbImpl::Checkpoint() {
  VDB_RETURN_IF_ERROR(WritableCheck());
  std::lock_guard<std::mutex> l(writer_mu_);
  return CheckpointLocked();
}

Status DbImpl::CheckpointLocked() {
  VDB_RETURN_IF_ERROR(WritableCheck());
  if (!wal_) {
    // Nothing was committed in this session: the main file is the durable
    // state. A log left by an earlier session still gets a full checkpoint
    // (it may sit beside a meta page torn by an interrupted checkpoint, which
    // only a new meta page write repairs) before Close removes it.
    if (!env_->Exists(wal_path_)) return Status::Ok();
    VDB_RETURN_IF_ERROR(EnsureWalLocked());
  }
  VDB_RETURN_IF_ERROR(WaitVisible(last_seq_));
  // 0. The WAL rule holds in every SyncMode: the log covering the pages is
  // durable before any of them reaches the main file.
  Status ls = wal_->Sync();
  if (!ls.ok()) {
    Poison(ls);
    return ls.WithContext("checkpoint");
  }
  durable_seq_ = std::max(durable_seq_.load(), last_seq_);
  // 1. Newest version of every changed page into the main file.
  std::vector<uint64_t> dirty = pages_->DirtyPages();
  // A reader older than every version of a page reads that page from the
  // map. Its old image is copied into the chain for the reads that look the
  // page up from now on; reads that took a pointer into the map before the
  // copy was linked are waited for (a grace period over read calls, which are
  // bounded) before the page is overwritten. Without readers that old, the
  // checkpoint waits for nobody.
  uint64_t min_reader = readers_.MinSnapshot();
  std::vector<WriteOp> ops;
  ops.reserve(dirty.size());
  bool copied = false;
  for (uint64_t pgno : dirty) {
    copied |= pages_->PreserveBase(pgno, map_ + pgno * kPageSize, min_reader);
    ops.push_back({pgno * kPageSize, pages_->FindLatest(pgno), kPageSize});
  }
  if (copied) readers_.AwaitReadersBefore(readers_.BumpEpoch());
  Status s = main_->Write(ops);
  // 2. Durable main file (also covers the vectors written since the last checkpoint).
  if (s.ok()) s = main_->Sync();
  if (!s.ok()) {
    Poison(s);
    return s.WithContext("checkpoint");
  }
  pages_->MarkCheckpointed(last_seq_);
  // 3. The meta page moves the checkpoint to the next WAL generation...
  uint64_t gen = wal_->generation() + 1;
  VDB_RETURN_IF_ERROR(WriteMetaPage(last_seq_, gen, meta_));
  checkpoint_seq_ = last_seq_;
  logged_pages_.clear();  // the next generation starts from the main file
  durable_seq_ = std::max(durable_seq_.load(), last_seq_);
  // 4. ...and only then is the log emptied.
  s = wal_->Reset(gen);
  if (!s.ok()) {
    Poison(s);
    return s.WithContext("reset WAL");
  }
  pages_->Trim(readers_.MinSnapshot(), &readers_);
  return Status::Ok();
}

}  // namespace vdb
