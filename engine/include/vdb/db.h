// vdb: an embedded vector database in one memory-mapped file.
//
// Quick start:
//   vdb::CreateOptions co; co.dim = 384; co.metric = vdb::Metric::kCosine;
//   auto db = vdb::Database::Create("notes.vdb", co, {});
//   if (!db.ok()) ... db.status().ToString() ...
//   (*db)->Put("a", vec, R"({"topic":"x"})");
//   auto hits = (*db)->Search(query, {.k = 10});
//
// Durability: with SyncMode::kFull (the default) a Put/Delete/Write returns
// only once its WAL record is on disk (fdatasync). Concurrent committers share
// one fdatasync (group commit); Put/Delete/Write calls that queue while a
// commit is in flight are committed together as one transaction, each still
// atomic and with its own status (docs/recovery.md, "Write groups"). Submit + Wait pipeline bulk loads: a batch
// is linked while the previous one's log write is made durable.
//
// Isolation: one writer at a time (per process; a second process is locked
// out with Busy). Readers never block and are never blocked by the writer.
// Every read call (Get, Search, Stats) runs against one snapshot: the state
// after the last commit that had been published when the call started (with
// SyncMode::kFull, published means durable); it never sees part of a
// transaction, an uncommitted change, or a torn write.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vdb/env.h"
#include "vdb/status.h"

namespace vdb {

enum class Metric : uint8_t { kCosine = 1, kL2 = 2, kDot = 3 };
enum class ElementType : uint8_t { kFloat32 = 1 };  // room for f16 / int8

const char* MetricName(Metric m);
Result<Metric> ParseMetric(std::string_view name);

// When a commit is made durable.
enum class SyncMode : uint8_t {
  // fdatasync of the WAL before every commit returns (group-shared). A
  // returned commit survives power loss. The default.
  kFull = 0,
  // Commits return after the WAL write; a background thread syncs the WAL
  // every background_sync_ms. A process crash loses nothing (the write is in
  // the OS page cache); a power loss can lose the last interval's commits,
  // never corrupt the file or keep part of a transaction.
  kBackground = 1,
  // Never sync except at checkpoint and close. A process crash loses nothing
  // the OS already has; a power loss can lose every commit since the last
  // checkpoint (the file stays consistent: recovery stops at the first torn
  // WAL record). Freed slots are reused only after a checkpoint. Like LMDB's
  // MDB_NOSYNC.
  kNone = 2,
};

// Fixed at creation, stored in the header page.
struct CreateOptions {
  uint32_t dim = 0;
  Metric metric = Metric::kCosine;
  ElementType element_type = ElementType::kFloat32;
  // HNSW parameters (Malkov & Yashunin, 2018): M, and efConstruction.
  uint32_t hnsw_m = 16;
  uint32_t hnsw_ef_construction = 200;
  uint64_t hnsw_seed = 0x5eed;  // level draws are derived from seed and slot
};

struct OpenOptions {
  Env* env = nullptr;  // nullptr: Env::Default()
  bool read_only = false;
  SyncMode sync = SyncMode::kFull;
  uint32_t background_sync_ms = 100;
  // Automatic checkpoint once the WAL holds this many bytes.
  uint64_t checkpoint_wal_bytes = 64ull << 20;
  // Virtual address space reserved for the map; the file can grow to this.
  uint64_t map_size = 1ull << 40;
  // Threads used by exact search scans (1 = the calling thread only).
  int search_threads = 1;
  // Threads used to link large batches into the HNSW graph (0 = all cores).
  int build_threads = 0;
  // Indexing is batched. A commit of fewer than 256 new records does not
  // link them into the HNSW graph: they go on the file's unindexed list
  // (at most 1022 records), which every search scans exactly, so they are
  // found at once. The commit that brings the list to index_batch records
  // links the whole list (with the graph's parallel build); so do a commit of
  // 256 or more new records, Compact and Close. 1 links every commit's
  // records in that commit. Range 1..1022; 0 = the default, 512. Small
  // commits then cost a WAL record of a few page deltas instead of the graph pages
  // of every changed neighbour, and HNSW linking runs in large batches.
  uint32_t index_batch = 0;
  // Default HNSW ef_search (0 = the built-in default, which gives
  // recall@10 >= 0.95 on the reference datasets).
  uint32_t ef_search = 0;
};

// Limits on what a record may hold.
inline constexpr size_t kMaxIdBytes = 512;
inline constexpr size_t kMaxMetadataBytes = 16u << 20;
inline constexpr uint32_t kMaxDim = 65536;

struct Record {
  std::string id;
  std::vector<float> vector;
  std::string metadata;  // a JSON object, compact text; "" when none
};

// A set of changes applied atomically by Database::Write.
class WriteBatch {
 public:
  // Insert or replace. metadata_json must be "" or a JSON object.
  void Put(std::string id, std::vector<float> vector, std::string metadata_json = "");
  void Delete(std::string id);
  size_t size() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }
  void Clear() { ops_.clear(); }

  struct Op {
    bool is_delete = false;
    std::string id;
    std::vector<float> vector;
    std::string metadata;
  };
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
};

struct SearchOptions {
  size_t k = 10;
  bool exact = false;     // brute force instead of the HNSW graph
  uint32_t ef = 0;        // HNSW ef_search; 0 = the database default
  int threads = 0;        // exact scan threads; 0 = OpenOptions::search_threads
  // Optional filter over slots, applied during the scan / graph traversal.
  // It runs inside the read call: it may read this database, but a write,
  // Checkpoint or Close on it from the filter returns InvalidArgument.
  std::function<bool(uint32_t slot)> filter;
};

// Scores: cosine similarity (higher is better) for kCosine, inner product
// (higher is better) for kDot, squared Euclidean distance (lower is better)
// for kL2. Results are sorted best first.
struct SearchHit {
  std::string id;
  float score = 0;
  uint32_t slot = 0;
};

struct Stats {
  uint32_t dim = 0;
  Metric metric = Metric::kCosine;
  uint64_t count = 0;          // live records
  uint64_t slots = 0;          // slot high-water mark
  uint64_t free_slots = 0;
  uint64_t file_bytes = 0;
  uint64_t wal_bytes = 0;
  uint64_t commit_seq = 0;     // last durable commit
  uint64_t checkpoint_seq = 0; // last checkpointed commit
  uint64_t page_size = 0;
  // HNSW figures (zero until a graph exists).
  uint32_t hnsw_m = 0;
  uint32_t hnsw_ef_construction = 0;
  uint32_t graph_levels = 0;
  double graph_mean_degree = 0;
  uint64_t graph_deleted = 0;
  int64_t graph_entry_point = -1;
  uint64_t unindexed = 0;  // live records on the unindexed list (searched exactly)
};


class Database {
 public:
  virtual ~Database() = default;

  // Creates a new database file (fails if path exists).
  static Result<std::unique_ptr<Database>> Create(const std::string& path, const CreateOptions& create,
                                                  const OpenOptions& options);
  // Opens an existing file, replaying its WAL if a crash left one.
  static Result<std::unique_ptr<Database>> Open(const std::string& path, const OpenOptions& options);

  // Insert or replace one record; durable on return (per SyncMode).
  virtual Status Put(std::string_view id, std::span<const float> vector, std::string_view metadata_json = "") = 0;
  virtual Status Delete(std::string_view id) = 0;  // NotFound if absent
  // Applies every op in the batch atomically: all or nothing.
  virtual Status Write(const WriteBatch& batch) = 0;

  // Pipelined writes, for bulk loading. Submit applies the batch as Write
  // does (validated, atomic, linked into the HNSW graph) and appends its
  // commit to the WAL, then returns the commit's sequence number without
  // waiting for it: a background thread writes the log and syncs it (per
  // SyncMode) while the caller prepares and submits the next batch, whose
  // graph linking overlaps that I/O. Commits become durable and visible to
  // readers in submission order. Wait(seq) returns once commit seq is durable
  // and visible, or the error that made that impossible (the database is
  // then poisoned, as after a failed Write). Until Wait returns, a crash may
  // lose the commit (whole, never part of it); Close makes every submitted
  // commit durable. An empty batch commits nothing: Submit returns 0, and
  // Wait(0) returns at once. Wait of a number beyond the last commit made
  // (one no Submit returned yet) is InvalidArgument.
  virtual Result<uint64_t> Submit(const WriteBatch& batch) = 0;
  virtual Status Wait(uint64_t commit_seq) = 0;

  virtual Result<Record> Get(std::string_view id) const = 0;
  virtual Result<std::vector<SearchHit>> Search(std::span<const float> query, const SearchOptions& opts) const = 0;
  // Many queries at once (exact search uses matrix products for these).
  virtual Result<std::vector<std::vector<SearchHit>>> SearchBatch(std::span<const float> queries, size_t nq,
                                                                  const SearchOptions& opts) const = 0;
  virtual Stats GetStats() const = 0;

  // The embedding model that produced the vectors: an opaque identity
  // string (the embed module writes JSON with name, dimension and a hash of
  // config and weights). Recorded durably; "" until set.
  virtual Status SetEmbeddingModel(std::string_view identity) = 0;
  virtual Result<std::string> EmbeddingModel() const = 0;

  // HNSW repair pass: re-links the neighbours of deleted records, removes
  // them from the graph and frees their slots for reuse. Also runs
  // automatically once tombstones reach 10% of the graph. *freed (optional)
  // receives the number of slots freed.
  virtual Status Compact(uint64_t* freed = nullptr) = 0;

  // Makes the main file durable and empties the WAL.
  virtual Status Checkpoint() = 0;
  // Checkpoints and closes; afterwards the database is the single file.
  virtual Status Close() = 0;
};

}  // namespace vdb
