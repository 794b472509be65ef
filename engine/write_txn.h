// WriteTxn: the private, uncommitted changes of one write transaction.
// Pages are copied on first write; vectors are staged in memory. Nothing is
// visible to readers until DbImpl commits it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/state.h"
#include "format/meta.h"

namespace vdb {

class DbImpl;
class TxnGraph;

struct alignas(64) PageBuf {
  uint8_t data[format::kPageSize];
};

// A vector write into the vector region (a slot no snapshot can see yet).
struct FreshVector {
  uint32_t slot = 0;
  uint64_t offset = 0;  // in the main file
  std::shared_ptr<const std::vector<float>> values;
};

class WriteTxn final : public PageSource {
 public:
  // REQUIRES: the caller holds the database's writer lock for the lifetime
  // of the transaction.
  WriteTxn(DbImpl* db, const format::MetaBody& meta, uint64_t seq);

  const uint8_t* Page(uint64_t pgno) const override;
  const float* Vector(uint32_t slot) const override;
  StateReader reader() const { return StateReader(this, &meta_, layout_); }

  // Validated upsert / delete (NotFound when id is absent).
  Status Put(std::string_view id, std::span<const float> vec, std::string_view metadata_json);
  Status Delete(std::string_view id);
  Status SetModel(std::string_view identity);
  // Links the records put by this transaction into the HNSW graph, or puts
  // them on the unindexed list (OpenOptions::index_batch), and encodes the
  // graph and list changes into pages. Call once, after the last op.
  Status Finish(int threads);
  // When Finish runs the reachability pass (hnsw::ConnectUnreachable): by
  // the 1/16 rule alone, also if the session linked anything since the last
  // pass (Close), or always (Compact).
  enum class ReachPass { kAuto, kIfLinked, kAlways };
  // Makes Finish link every unindexed record, whatever the batch size.
  void IndexAll(ReachPass reach = ReachPass::kAuto) {
    force_index_ = true;
    reach_mode_ = reach;
  }
  // After Finish: records linked into the graph, and whether the reachability
  // pass (hnsw::ConnectUnreachable) ran over the whole graph.
  uint64_t linked() const { return linked_; }
  bool reach_pass_ran() const { return reach_pass_ran_; }
  // Re-links the neighbours of tombstoned nodes, removes them from the graph
  // and frees their slots. *freed: how many slots were freed.
  Status RepairGraph(uint64_t* freed);

  bool empty() const { return dirty_.empty() && fresh_.empty(); }
  const format::MetaBody& meta() const { return meta_; }
  std::unordered_map<uint64_t, std::unique_ptr<PageBuf>>& dirty() { return dirty_; }
  const std::vector<FreshVector>& fresh() const { return fresh_; }
  const std::vector<uint32_t>& freed() const { return freed_; }
  ~WriteTxn() override;
  uint64_t seq() const { return seq_; }

 private:
  friend class TxnGraph;
  TxnGraph* Graph();
  // A record stops being live: a graph node becomes a tombstone (freed by
  // repair), a slot not in the graph is freed at once.
  Status RetireSlot(uint32_t slot);
  Status FreeSlotRecord(uint32_t slot);  // any state -> free-list tail
  Result<uint64_t> AllocUpper(uint64_t len);
  void WritePayload(uint64_t ref, std::string_view bytes);
  uint8_t* MutablePage(uint64_t pgno);
  Result<uint64_t> AllocPages(uint64_t n);
  Result<uint32_t> AllocSlot();
  Status WriteSlotRecord(uint32_t slot, const format::SlotRecord& r);
  Result<uint64_t> AppendBlob(std::string_view bytes);
  Status IdMapInsert(uint64_t hash, uint32_t slot);
  Status IdMapReplace(uint64_t hash, uint32_t old_slot, uint32_t new_slot);  // new_slot kNoSlot: remove
  Status IdMapGrow();
  // The unindexed list, read on first use (slots bounds-checked only).
  Status LoadUnindexed();
  // Corruption unless every slot is a distinct live record with no node.
  Status ValidateUnindexed(const std::vector<uint32_t>& slots);
  Status StoreUnindexed();

  DbImpl* db_;
  const Layout* layout_;
  format::MetaBody meta_;
  uint64_t seq_;
  uint64_t first_new_page_;  // pages >= this were allocated by this txn (zero-filled)
  std::unordered_map<uint64_t, std::unique_ptr<PageBuf>> dirty_;
  std::vector<FreshVector> fresh_;
  std::unordered_map<uint32_t, size_t> fresh_index_;
  std::vector<uint32_t> freed_;
  std::unordered_set<uint32_t> freed_set_;
  std::vector<uint32_t> new_slots_;  // put by this txn, to link into the graph
  bool force_index_ = false;
  ReachPass reach_mode_ = ReachPass::kAuto;
  uint64_t linked_ = 0;
  bool reach_pass_ran_ = false;
  bool unindexed_loaded_ = false;
  bool unindexed_dirty_ = false;
  std::vector<uint32_t> unindexed_;  // valid once loaded
  // Staged vectors of earlier, not yet visible commits that this transaction
  // read: kept alive until it ends. Guarded by pinned_mu_ (graph building
  // reads vectors from several threads).
  mutable std::mutex pinned_mu_;
  mutable std::unordered_map<uint32_t, std::shared_ptr<const std::vector<float>>> pinned_;
  std::unique_ptr<TxnGraph> graph_;
};

}  // namespace vdb
