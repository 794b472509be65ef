// FaultEnv: an Env for tests that wraps a real Env, records every mutating
// operation with its bytes, rebuilds the disk as a power loss at any point of
// the recorded history would have left it, and fails chosen calls.
//
// The engine runs on real files (reads are by mmap of File::fd(), so the
// descriptors are the base Env's). Every write, sync, truncate, allocate,
// create, remove, rename and directory sync is appended to an op log while it
// is performed, under one mutex, so the log order is the order the calls took
// effect. MaterializeCrash(P, ...) then writes into another directory the
// state "the machine lost power after the first P ops": everything durable,
// plus each non-durable change kept, dropped, torn at 512-byte sectors or
// garbled, as the CrashPolicy chooses.
//
// Durability rules (POSIX, as strict as Linux allows):
//  - A write/truncate/allocate of a file is durable once a later successful
//    Sync (or WriteAndSync) of the same file completed. A successful
//    WriteDsync makes its own bytes durable, and nothing written before them. A Sync that FAILED
//    leaves the writes before it volatile for ever, even if a later Sync
//    succeeds (Linux may drop the dirty pages: "fsyncgate").
//  - A create, remove or rename is durable once a later SyncDir of its
//    directory (of both directories, for a rename) completed. Until then it
//    may or may not have happened; a file whose creation was never made
//    durable may vanish with its data.
//  - Files present in the root directory when the FaultEnv was made, or first
//    seen when opened, count as durable with their contents at that moment.
//
// Thread-safety: every method may be called concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "vdb/env.h"
#include "vdb/status.h"

namespace vdb::testing {

// A kind of mutating call, for counting calls and choosing which one fails.
enum class CallType : uint8_t {
  kAny = 0,        // every call below
  kWrite,          // File::Write
  kWriteAndSync,   // File::WriteAndSync
  kSync,           // File::Sync
  kTruncate,       // File::Truncate
  kAllocate,       // File::Allocate
  kCreate,         // Env::Open with create = true
  kRemove,         // Env::Remove
  kRename,         // Env::Rename
  kSyncDir,        // Env::SyncDir
};
inline constexpr int kNumCallTypes = 10;
const char* CallTypeName(CallType t);

// What an injected fault does.
enum class FaultKind : uint8_t {
  // The call fails with EIO. A failing Write writes nothing; a failing
  // WriteAndSync writes its data and then fails the sync (the dangerous case);
  // a failing Sync leaves the file's unsynced writes volatile for ever.
  kEIO,
  // The call fails with ENOSPC (Status::NoSpace) and changes nothing.
  kNoSpace,
  // Writes (Write, WriteAndSync) store a prefix of their data, about half,
  // then fail with IOError; other calls fail as with kEIO.
  kShortWrite,
};
const char* FaultKindName(FaultKind k);

struct FaultSpec {
  CallType call = CallType::kAny;
  // The nth call of that type (1-based) counted from InjectFault fails.
  // 0 disarms.
  uint64_t nth = 0;
  FaultKind kind = FaultKind::kEIO;
  // Once fired, every later call of that type fails the same way (a disk
  // that stays full or broken).
  bool sticky = false;
};

// One recorded operation. Crash point P means "ops [0, P) happened".
struct OpRecord {
  enum class Kind : uint8_t {
    kCreate,      // path created as a new, empty file
    kWrite,       // data written at offset
    kSync,        // successful sync of inode
    kSyncFailed,  // failed sync of inode: its unsynced writes stay volatile
    kTruncate,    // size set to offset
    kAllocate,    // size extended to at least offset + length
    kRemove,      // path unlinked
    kRename,      // path renamed to path2 (replacing it)
    kSyncDir,     // directory path synced
  };
  Kind kind = Kind::kWrite;
  uint32_t inode = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::string data;
  std::string path;
  std::string path2;
  // kWrite by File::WriteDsync: durable on its own once recorded (it is
  // recorded after the call succeeded); it makes no earlier write durable.
  bool dsync = false;
};

// The fate of each change that is not durable at the crash point.
struct CrashPolicy {
  std::string name;
  // Relative weights of the fate of each unsynced write: applied entirely;
  // not applied; torn (each 512-byte sector of it independently applied or
  // not); shorn (applied up to a random byte, not beyond: a device whose
  // sector writes are not atomic, see Zheng et al., "Understanding the
  // robustness of SSDs under power fault", FAST 2013; half the cuts fall in
  // the write's first 512 bytes, where headers live); garbled (each sector
  // independently new, old, or random bytes).
  double keep = 0;
  double drop = 1;
  double torn = 0;
  double shorn = 0;
  double garbage = 0;
  // Probability that an unsynced truncate/allocate took effect.
  double keep_resize = 0.5;
  // Probability that a create/remove/rename not yet made durable by a
  // directory sync took effect.
  double keep_namespace = 0.5;

  // What a killed process leaves: everything the OS accepted survives.
  static CrashPolicy ProcessCrash();
  // Nothing that was not synced survives (LevelDB's FaultInjectionTestEnv).
  static CrashPolicy DropUnsynced();
  // Each unsynced write is kept, dropped or torn at sector granularity.
  static CrashPolicy TornSectors();
  // Each unsynced write is kept, dropped or shorn at a random byte.
  static CrashPolicy ShornWrites();
  // SQLite-style: kept, dropped, torn, shorn or garbled, namespace ops at
  // random.
  static CrashPolicy Chaos();
  // The five above.
  static std::vector<CrashPolicy> All();
};

// What MaterializeCrash did, for messages.
struct CrashStats {
  uint64_t durable_ops = 0;
  uint64_t writes_kept = 0;
  uint64_t writes_dropped = 0;
  uint64_t writes_torn = 0;
  uint64_t writes_shorn = 0;
  uint64_t writes_garbled = 0;
  uint64_t resizes_dropped = 0;
  uint64_t namespace_ops_dropped = 0;
  uint64_t files = 0;
  std::string ToString() const;
};

inline constexpr uint64_t kSectorSize = 512;

class FaultEnv final : public Env {
 public:
  // base: the real Env (not owned; must outlive this and every File this
  // hands out). root: the directory materialized by MaterializeCrash; its
  // regular files are snapshot now as the durable starting state.
  FaultEnv(Env* base, std::string root);
  ~FaultEnv() override;
  FaultEnv(const FaultEnv&) = delete;
  FaultEnv& operator=(const FaultEnv&) = delete;

  Result<std::unique_ptr<File>> Open(const std::string& path, const FileOpenOptions& opts) override;
  Status Remove(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& dir) override;
  bool Exists(const std::string& path) override;
  Status Lock(File* file, bool exclusive) override;

  const std::string& root() const { return root_; }

  // --- Recording ---
  // Number of recorded ops; valid crash points are 0..OpCount().
  uint64_t OpCount() const;
  // Indices of the successful Sync / SyncDir ops (a WriteAndSync records its
  // writes then a Sync). Crashing at index i loses the sync; at i + 1 the
  // sync is complete.
  std::vector<uint64_t> SyncOpIndices() const;
  // A copy of op i (for tests and messages).
  OpRecord Op(uint64_t i) const;
  // "#12 write wal inode 2 [4096, +512)" etc.
  std::string DescribeOp(uint64_t i) const;
  // The last n ops before crash point p, one per line (for failure messages).
  std::string DescribeOpsBefore(uint64_t p, uint64_t n) const;

  // --- Error injection ---
  // Arms spec; restarts the per-type call counts used to find the nth call.
  void InjectFault(const FaultSpec& spec);
  void ClearFault();
  // Whether the armed fault has fired, and the op count when it first did.
  bool FaultFired() const;
  uint64_t FaultOpIndex() const;
  // The type of the call the fault first fired on (kAny if none yet).
  CallType FaultFiredCall() const;
  // Calls of type t since the last InjectFault/ResetCallCounts.
  uint64_t CallCount(CallType t) const;
  void ResetCallCounts();

  // --- Crash simulation ---
  // Writes into out_dir (created if missing; existing files there are
  // removed first) the files of root as a power loss after the first
  // crash_point ops could have left them. Deterministic given rng's state.
  Status MaterializeCrash(uint64_t crash_point, const CrashPolicy& policy, std::mt19937_64& rng,
                          const std::string& out_dir, CrashStats* stats = nullptr) const;

 private:
  friend class FaultFile;
  struct Inode {
    std::string initial;  // contents when first seen (durable)
  };

  // All REQUIRE mu_ held.
  uint32_t NewInodeLocked(std::string initial);
  // Returns the inode named path, snapshotting (as durable) an existing file
  // not seen before; NotFound if there is none.
  Result<uint32_t> InodeForPathLocked(const std::string& path);
  // Counts one call of type t; returns the fault to inject, if it fires.
  bool ShouldFailLocked(CallType t, FaultKind* kind);
  void RecordLocked(OpRecord op);
  Status FaultStatus(FaultKind kind, const std::string& what) const;

  Env* const base_;
  const std::string root_;
  mutable std::mutex mu_;
  std::vector<Inode> inodes_;                  // index = inode number
  std::map<std::string, uint32_t> initial_ns_;  // durable names at start
  std::map<std::string, uint32_t> live_ns_;     // names now
  std::vector<OpRecord> log_;
  FaultSpec fault_;
  bool fault_fired_ = false;
  uint64_t fault_op_index_ = 0;
  CallType fault_fired_call_ = CallType::kAny;
  uint64_t counts_[kNumCallTypes] = {};
};

// Normalizes a path lexically ("a//b/./c" -> "a/b/c"), no trailing slash.
std::string NormalizePath(const std::string& path);

}  // namespace vdb::testing
