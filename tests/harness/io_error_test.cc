// I/O errors at every call site. A fixed workload (commits, a checkpoint, a
// reopen, an HNSW repair, a final close) is run once to count its mutating I/O calls; then,
// for every N in 1..count and each of EIO, ENOSPC, short write and a disk
// that stays full (ENOSPC on the Nth call and every later one), it is run
// again with the Nth call failing. The failing operation must return a
// non-OK Status naming the cause; after a failed fsync the database must
// refuse further writes; and the files (as left, and as a power loss would
// leave them) must reopen with every acknowledged commit intact and the failed
// one entirely present or absent.
//
// The same sweep over Database::Create's own calls checks that a failed create
// leaves nothing that opens as a non-empty database.
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <map>
#include <optional>

#include <gtest/gtest.h>

#include "support/workload.h"

namespace vdb::testing {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kSeed = 77;
constexpr size_t kOps = 12;

WorkloadOptions SweepWorkload() {
  WorkloadOptions wo;
  wo.dim = 8;
  wo.id_space = 24;
  wo.big_batch = 6;
  wo.big_batch_min = 12;
  wo.big_batch_max = 20;
  return wo;
}

// Op i of the sweep workload: commits, with a checkpoint at 4, a reopen at 8
// and an HNSW repair (Compact) at 10.
WorkloadOp SweepOp(WorkloadGenerator& gen, const Model& model, size_t i) {
  WorkloadOp op;
  if (i == 4) {
    op.kind = WorkloadOp::Kind::kCheckpoint;
    return op;
  }
  if (i == 8) {
    op.kind = WorkloadOp::Kind::kReopen;
    return op;
  }
  if (i == 9 && model.size() > 2) {  // something for the repair to do
    op.kind = WorkloadOp::Kind::kBatch;
    op.batch.Delete(model.begin()->first);
    op.batch.Delete(std::next(model.begin())->first);
    return op;
  }
  if (i == 10) {
    op.kind = WorkloadOp::Kind::kRepair;
    return op;
  }
  do op = gen.Next(model);
  while (!op.IsCommit());
  return op;
}

struct Outcome {
  bool fired = false;
  CallType call = CallType::kAny;
  bool op_failed = false;
  bool poison_checked = false;
  std::vector<std::string> problems;
};

struct Sweep {
  std::string scratch;

  // Checks that path opens with the default Env and equals one of the models,
  // then takes a write.
  void CheckFiles(const std::string& path, const Model& acked, const std::optional<Model>& alt,
                  const std::string& what, Outcome* out) {
    if (HarnessCheckerEnabled()) {
      std::string damage = VdbcheckProblems(path);
      if (!damage.empty()) {
        out->problems.push_back(what + ": " + damage);
        return;
      }
    }
    auto r = Database::Open(path, HarnessOpenOptions(nullptr));
    if (!r.ok()) {
      out->problems.push_back(what + ": open failed: " + r.status().ToString());
      return;
    }
    std::string d1 = DiffDatabase(**r, acked, SweepWorkload());
    if (!d1.empty() && (!alt || !DiffDatabase(**r, *alt, SweepWorkload()).empty())) {
      out->problems.push_back(what + ": acknowledged commits not intact:\n" + d1);
      return;
    }
    std::vector<float> v(SweepWorkload().dim, 0.5f);
    Status st = (*r)->Put("after-reopen", v, "");
    if (!st.ok()) out->problems.push_back(what + ": write after reopen failed: " + st.ToString());
    st = (*r)->Close();
    if (!st.ok()) out->problems.push_back(what + ": close after reopen failed: " + st.ToString());
  }

  // Runs the workload with the nth call failing (nth = 0: no fault) and
  // returns the number of mutating calls seen in *calls.
  Outcome RunOnce(FaultKind kind, uint64_t nth, bool during_create, uint64_t* calls, bool sticky = false) {
    Outcome out;
    const std::string db_dir = scratch + "/db", path = db_dir + "/test.vdb";
    std::error_code ec;
    fs::remove_all(scratch, ec);
    fs::create_directories(db_dir, ec);
    FaultEnv env(Env::Default(), db_dir);
    OpenOptions oo = HarnessOpenOptions(&env);
    const FaultSpec spec{.call = CallType::kAny, .nth = nth, .kind = kind, .sticky = sticky};
    if (during_create) env.InjectFault(spec);
    auto created = Database::Create(path, HarnessCreateOptions(SweepWorkload()), oo);
    if (during_create) *calls = env.CallCount(CallType::kAny);
    out.fired = env.FaultFired();
    out.call = env.FaultFiredCall();
    if (!created.ok()) {
      out.op_failed = true;
      if (!out.fired) out.problems.push_back("create failed without a fault: " + created.status().ToString());
      auto r = Database::Open(path, HarnessOpenOptions(nullptr));
      if (r.ok()) {
        std::string d = DiffDatabase(**r, Model{}, SweepWorkload());
        if (!d.empty()) out.problems.push_back("failed create left a non-empty database:\n" + d);
        (void)(*r)->Close();
      }
      return out;
    }
    std::unique_ptr<Database> db = std::move(created).value();
    if (during_create) {
      Status st = db->Close();
      if (!st.ok()) out.problems.push_back("close after create failed: " + st.ToString());
      return out;
    }
    env.InjectFault(spec);

    WorkloadGenerator gen(kSeed, SweepWorkload());
    Model acked;
    std::optional<Model> alt;  // acked + the failed commit, which may or may not have landed
    bool stop = false;
    for (size_t i = 0; i <= kOps && !stop; i++) {
      WorkloadOp op;
      op.kind = WorkloadOp::Kind::kCheckpoint;  // stands for the close below
      std::string what = "close";
      Status st;
      if (i == kOps) {
        st = db->Close();  // the last call sites: close (checkpoint)
        db.reset();
      } else {
        op = SweepOp(gen, acked, i);
        what = op.Describe();
        st = ExecuteOp(op, path, oo, &db);
      }
      if (nth == 0 && EnvU64("VDB_IO_SWEEP_VERBOSE", 0) != 0)
        std::printf("  clean run: %s done after mutating call #%llu\n", what.c_str(),
                    static_cast<unsigned long long>(env.CallCount(CallType::kAny)));
      if (st.ok()) {
        ApplyToModel(op, &acked);
        if (alt) ApplyToModel(op, &*alt);
        continue;
      }
      out.op_failed = true;
      stop = true;
      out.fired = env.FaultFired();
      out.call = env.FaultFiredCall();
      if (!out.fired) {
        out.problems.push_back(what + " failed without an injected fault: " + st.ToString());
        break;
      }
      if (st.message().find("injected fault") == std::string::npos)
        out.problems.push_back(what + ": the failure's Status does not carry its cause: " + st.ToString());
      if (op.IsCommit()) {
        alt = acked;
        ApplyToModel(op, &*alt);
      }
      if (!db) break;
      // After a failed fsync the handle is poisoned: writes must be refused.
      const bool sync_failed = out.call == CallType::kSync ||
                               (out.call == CallType::kWriteAndSync && kind == FaultKind::kEIO);
      WorkloadOp probe;
      probe.kind = WorkloadOp::Kind::kPut;
      Record rec = gen.MakeRecord("k0");
      probe.batch.Put(rec.id, rec.vector, rec.metadata);
      Status ps = ExecuteOp(probe, path, oo, &db);
      if (sync_failed) {
        out.poison_checked = true;
        if (ps.ok()) out.problems.push_back("a write was accepted after a failed fsync (" + st.ToString() + ")");
      }
      if (ps.ok()) {
        ApplyToModel(probe, &acked);
        if (alt) ApplyToModel(probe, &*alt);
      }
      (void)db->Close();
      db.reset();
    }
    db.reset();
    *calls = env.CallCount(CallType::kAny);
    out.fired = env.FaultFired();
    out.call = env.FaultFiredCall();
    if (out.fired && !out.op_failed) {
      if (out.call == CallType::kSync || out.call == CallType::kWriteAndSync)
        out.problems.push_back(std::string("an injected ") + FaultKindName(kind) + " on " +
                               CallTypeName(out.call) + " was swallowed: every op returned OK");
    }
    // As a power loss would leave the files, then as they are.
    const uint64_t end = env.OpCount();
    std::mt19937_64 rng(nth * 31 + static_cast<uint64_t>(kind));
    for (const CrashPolicy& policy : {CrashPolicy::DropUnsynced(), CrashPolicy::Chaos()}) {
      const std::string crash_dir = scratch + "/crash";
      Status st = env.MaterializeCrash(end, policy, rng, crash_dir);
      if (!st.ok()) {
        out.problems.push_back("materialize: " + st.ToString());
        continue;
      }
      CheckFiles(crash_dir + "/test.vdb", acked, alt, "after power loss (" + policy.name + ")", &out);
    }
    CheckFiles(path, acked, alt, "files as left", &out);
    return out;
  }
};

void RunSweep(bool during_create) {
  Sweep sweep{HarnessScratchDir(during_create ? "io_error_create" : "io_error")};
  uint64_t total = 0;
  Outcome clean = sweep.RunOnce(FaultKind::kEIO, 0, during_create, &total);
  for (const auto& p : clean.problems) ADD_FAILURE() << "clean run: " << p;
  ASSERT_GT(total, 0u);
  uint64_t runs = 0, fired = 0, failed = 0, poison = 0, problems = 0;
  std::map<std::string, uint64_t> by_call;
  struct Mode {
    FaultKind kind;
    bool sticky;
  };
  for (Mode mode : {Mode{FaultKind::kEIO, false}, Mode{FaultKind::kNoSpace, false},
                    Mode{FaultKind::kShortWrite, false}, Mode{FaultKind::kNoSpace, true}}) {
    const FaultKind kind = mode.kind;
    for (uint64_t n = 1; n <= total; n++) {
      uint64_t calls = 0;
      Outcome o = sweep.RunOnce(kind, n, during_create, &calls, mode.sticky);
      runs++;
      fired += o.fired;
      failed += o.op_failed;
      poison += o.poison_checked;
      if (o.fired) by_call[CallTypeName(o.call)]++;
      for (const auto& p : o.problems) {
        problems++;
        ADD_FAILURE() << FaultKindName(kind) << (mode.sticky ? " (sticky: the disk stays full)" : "")
                      << " on mutating call #" << n << " (" << CallTypeName(o.call)
                      << (during_create ? ", during create" : "") << "): " << p;
      }
    }
  }
  std::string calls;
  for (const auto& [name, c] : by_call) calls += " " + name + "=" + std::to_string(c);
  std::printf("[io_error] %s sweep: %llu mutating calls x 4 fault modes = %llu runs; %llu faults fired (%s ), "
              "%llu ops failed, %llu poison checks after failed fsync, %llu problems\n",
              during_create ? "create" : "workload", (unsigned long long)total, (unsigned long long)runs,
              (unsigned long long)fired, calls.c_str(), (unsigned long long)failed, (unsigned long long)poison,
              (unsigned long long)problems);
  EXPECT_EQ(fired, runs);
  std::error_code ec;
  fs::remove_all(sweep.scratch, ec);
}

TEST(IoErrorTest, EveryCallSiteFailsCleanlyAndLosesNoAcknowledgedCommit) { RunSweep(false); }

TEST(IoErrorTest, FailedCreateNeverLeavesANonEmptyDatabase) { RunSweep(true); }

}  // namespace
}  // namespace vdb::testing
