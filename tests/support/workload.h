// Seeded random workloads over vdb::Database, the model of acknowledged state
// they must leave, and the crash-simulation runner built on FaultEnv.
//
// A workload is a sequence of WorkloadOps drawn by a WorkloadGenerator from a
// seed and the current model (deletes pick live ids, updates reuse them), so
// the same seed and starting model always give the same sequence. A commit
// (Put, Delete, Batch) is acknowledged when its call returned Ok; the Model
// is the id -> record map every acknowledged commit built.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "support/fault_env.h"
#include "vdb/db.h"

namespace vdb::testing {

// The records a database must hold, by id.
using Model = std::map<std::string, Record>;

struct WorkloadOptions {
  uint32_t dim = 8;
  // Ids are "k0" .. "k<id_space-1>".
  uint32_t id_space = 48;
  // Relative weights of the kinds of op.
  double put_new = 30;       // upsert of an id (new or replacing)
  double update = 12;        // new vector and metadata for a live id
  double metadata_only = 10; // same vector, new metadata
  double remove = 10;        // Delete of a live id
  double small_batch = 20;   // 2..small_batch_max mixed ops
  double big_batch = 4;      // big_batch_min..big_batch_max mixed ops
  double checkpoint = 6;
  double reopen = 3;         // Close, then Open again
  double repair = 4;         // Compact(): the HNSW repair pass
  size_t small_batch_max = 6;
  size_t big_batch_min = 16;
  size_t big_batch_max = 48;
  // Probability that a record's metadata is a few KB (the compressed path).
  double large_metadata = 0.05;
};

struct WorkloadOp {
  enum class Kind : uint8_t { kPut, kDelete, kBatch, kCheckpoint, kReopen, kRepair };
  Kind kind = Kind::kPut;
  // kPut / kDelete: batch holds exactly that one op; kBatch: all its ops.
  WriteBatch batch;

  bool IsCommit() const { return kind == Kind::kPut || kind == Kind::kDelete || kind == Kind::kBatch; }
  std::string Describe() const;
};

// Draws ops. Not thread-safe.
class WorkloadGenerator {
 public:
  WorkloadGenerator(uint64_t seed, WorkloadOptions options);
  WorkloadOp Next(const Model& model);
  // A fresh record (random vector, random metadata) for id.
  Record MakeRecord(const std::string& id);
  std::mt19937_64& rng() { return rng_; }
  const WorkloadOptions& options() const { return opts_; }

 private:
  std::string PickLive(const Model& model);
  std::string PickAny();
  std::string MakeMetadata();

  WorkloadOptions opts_;
  std::mt19937_64 rng_;
  uint64_t counter_ = 0;
};

// Applies a commit op to model (no-op for checkpoint / reopen / repair,
// which change no record).
void ApplyToModel(const WorkloadOp& op, Model* model);

// Runs op on *db. kReopen closes *db and opens path again with options
// (on failure *db is reset to null).
Status ExecuteOp(const WorkloadOp& op, const std::string& path, const OpenOptions& options,
                 std::unique_ptr<Database>* db);

// Runs the checker behind vdbcheck (recovery::CheckFile) on the database
// at path without opening it; returns "" when it finds the file consistent,
// else its summary and first findings.
std::string VdbcheckProblems(const std::string& path);
// Whether harness tests run that checker on crash states: VDB_HARNESS_CHECKER
// (default 1; 0 turns it off, to look at the acknowledged-state invariants
// alone).
bool HarnessCheckerEnabled();

// Compares db with model over the ids of the generator's id space (plus any
// id in model): every model record present with bit-identical vector and
// equal metadata, every other id NotFound, Stats count equal, exact and HNSW
// search finding a model vector at distance 0. Returns "" when they agree, else a
// description of the first differences.
std::string DiffDatabase(const Database& db, const Model& model, const WorkloadOptions& options);

// Creation options used by harness workloads (L2, so vectors are stored as
// given).
CreateOptions HarnessCreateOptions(const WorkloadOptions& options);
// Open options for harness runs: small checkpoint threshold, small map.
OpenOptions HarnessOpenOptions(Env* env);

// A directory for scratch databases: $VDB_HARNESS_DIR, else /dev/shm, else
// the system temp directory; with a per-process suffix. Created; the
// per-process directory is removed when the process exits.
std::string HarnessScratchDir(const std::string& name);

// Reads an unsigned integer from the environment (default when unset/bad).
uint64_t EnvU64(const char* name, uint64_t dflt);

// --- Crash simulation ---

struct CrashSimConfig {
  uint64_t seed = 1;
  WorkloadOptions workload;
  size_t ops = 40;                 // workload ops per run
  size_t random_points = 8;        // random crash points besides the sync points
  // Policies tried at each crash point (all of them at every point when
  // policies_per_point >= policies.size(), else a seeded choice).
  std::vector<CrashPolicy> policies = CrashPolicy::All();
  size_t policies_per_point = 2;
  // Every nth state also takes new writes and a second crash.
  size_t second_crash_every = 10;
  // Only this crash point (replay), if set.
  int64_t only_point = -1;
  std::string scratch;             // directory for the run (made if missing)
  // Stop after this many violations.
  size_t max_violations = 5;
  // Also run vdbcheck's checker on every crash state before opening it.
  bool run_checker = HarnessCheckerEnabled();
  // Batches go through Database::Submit, each waited for only after the
  // next one is submitted, so two commits can be in flight at a crash.
  bool pipelined = false;
};

struct CrashSimResult {
  uint64_t states = 0;             // crash states opened and checked
  uint64_t second_level_states = 0;
  uint64_t commits = 0;            // acknowledged commits in the workload
  uint64_t ops_logged = 0;         // FaultEnv ops recorded
  std::vector<std::string> violations;  // each names seed, crash point, policy
};

// Runs one seeded workload through a FaultEnv, then materializes and checks
// every crash state. Never throws; engine errors become violations.
CrashSimResult RunCrashSim(const CrashSimConfig& config);

}  // namespace vdb::testing
