// Simulated power loss. Seeded workloads run through FaultEnv; at every sync
// point (just before and just after it) and at random ops, the disk is
// rebuilt as a power loss would leave it under several policies (see
// CrashPolicy) and the real engine opens it: every acknowledged commit must be
// there with its exact bytes, the in-flight one entirely or not at all, and
// the database must take new writes (a sample also survives a second crash).
// With pipelined submits (Database::Submit), any prefix of the commits in
// flight. With concurrent writers (write groups), every acknowledged write,
// and each other write entirely or not at all.
//
// Replay one seed: VDB_CRASH_SEED=<seed> [VDB_CRASH_POINT=<op>] <this binary>
// Soak: VDB_SOAK_SECONDS=<n> <this binary> loops over fresh seeds.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "support/fault_env.h"
#include "support/workload.h"

namespace vdb::testing {
namespace {

struct Totals {
  uint64_t runs = 0, states = 0, second = 0, commits = 0, violations = 0;
};
Totals g_totals;

class CountReporter : public ::testing::Environment {
 public:
  void TearDown() override {
    std::printf("[crash_sim] total: %llu runs, %llu crash states checked (%llu second-level), %llu commits, "
                "%llu violations\n",
                static_cast<unsigned long long>(g_totals.runs), static_cast<unsigned long long>(g_totals.states),
                static_cast<unsigned long long>(g_totals.second), static_cast<unsigned long long>(g_totals.commits),
                static_cast<unsigned long long>(g_totals.violations));
  }
};
[[maybe_unused]] ::testing::Environment* const g_reporter =
    ::testing::AddGlobalTestEnvironment(new CountReporter);

// Runs `runs` seeds from first_seed (or the replay / soak the environment
// asks for) and reports every violation as a test failure.
void RunSeeds(const char* name, CrashSimConfig cfg, uint64_t first_seed, uint64_t runs) {
  const uint64_t replay = EnvU64("VDB_CRASH_SEED", 0);
  const uint64_t soak_s = EnvU64("VDB_SOAK_SECONDS", 0);
  const uint64_t point = EnvU64("VDB_CRASH_POINT", ~0ull);
  cfg.only_point = point == ~0ull ? -1 : static_cast<int64_t>(point);
  // Soak seeds start from the clock (or VDB_SOAK_BASE_SEED) so every soak
  // explores new workloads; each violation names its seed.
  const uint64_t soak_base = EnvU64("VDB_SOAK_BASE_SEED", static_cast<uint64_t>(::time(nullptr)) << 20);
  cfg.scratch = HarnessScratchDir(std::string("crash_sim_") + name);
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::steady_clock::now() - start; };
  Totals t;
  for (uint64_t i = 0;; i++) {
    if (replay != 0) {
      if (i == 1) break;
      cfg.seed = replay;
    } else if (soak_s > 0) {
      if (elapsed() >= std::chrono::seconds(soak_s)) break;
      cfg.seed = soak_base + first_seed * 1000003 + i;
    } else {
      if (i == runs) break;
      cfg.seed = first_seed + i;
    }
    CrashSimResult r = RunCrashSim(cfg);
    t.runs++;
    t.states += r.states;
    t.second += r.second_level_states;
    t.commits += r.commits;
    t.violations += r.violations.size();
    for (const std::string& v : r.violations) ADD_FAILURE() << "[" << name << "] " << v;
    if (soak_s > 0 && t.runs % 10 == 0)
      std::printf("[crash_sim] %s soak: %llu runs, %llu states, %llu violations so far\n", name,
                  static_cast<unsigned long long>(t.runs), static_cast<unsigned long long>(t.states),
                  static_cast<unsigned long long>(t.violations));
  }
  std::printf("[crash_sim] %s: %llu runs, %llu crash states (%llu second-level), %llu commits, %.1f s\n", name,
              static_cast<unsigned long long>(t.runs), static_cast<unsigned long long>(t.states),
              static_cast<unsigned long long>(t.second), static_cast<unsigned long long>(t.commits),
              std::chrono::duration<double>(elapsed()).count());
  g_totals.runs += t.runs;
  g_totals.states += t.states;
  g_totals.second += t.second;
  g_totals.commits += t.commits;
  g_totals.violations += t.violations;
  EXPECT_GT(t.states, 0u);
}

TEST(CrashSimTest, MixedWorkloadKeepsEveryAcknowledgedCommit) {
  CrashSimConfig cfg;
  RunSeeds("mixed", cfg, 1, EnvU64("VDB_CRASH_RUNS", 12));
}

TEST(CrashSimTest, BigBatchesAreAllOrNothing) {
  CrashSimConfig cfg;
  cfg.workload.big_batch = 30;
  cfg.workload.small_batch = 20;
  cfg.workload.id_space = 96;
  cfg.ops = 24;
  RunSeeds("big_batches", cfg, 101, EnvU64("VDB_CRASH_RUNS", 8));
}

TEST(CrashSimTest, PipelinedSubmitsKeepACommitPrefix) {
  // Database::Submit: a batch's log write and sync run on the log thread
  // while the next batch is applied, so a crash can find two commits in
  // flight; it must keep every waited-for commit and a prefix of the rest.
  CrashSimConfig cfg;
  cfg.pipelined = true;
  cfg.workload.big_batch = 30;
  cfg.workload.small_batch = 30;
  cfg.workload.id_space = 96;
  cfg.ops = 24;
  RunSeeds("pipelined", cfg, 501, EnvU64("VDB_CRASH_RUNS", 8));
}

TEST(CrashSimTest, CheckpointsAndReopensLoseNothing) {
  CrashSimConfig cfg;
  cfg.workload.checkpoint = 25;
  cfg.workload.reopen = 12;
  RunSeeds("checkpoints", cfg, 201, EnvU64("VDB_CRASH_RUNS", 6));
}

TEST(CrashSimTest, MetadataOnlyChangesAndLargeMetadataSurvive) {
  CrashSimConfig cfg;
  cfg.workload.metadata_only = 40;
  cfg.workload.large_metadata = 0.4;
  RunSeeds("metadata", cfg, 301, EnvU64("VDB_CRASH_RUNS", 6));
}

TEST(CrashSimTest, DeleteHeavyWorkloadReusesSlotsSafely) {
  CrashSimConfig cfg;
  cfg.workload.remove = 35;
  cfg.workload.id_space = 24;
  RunSeeds("deletes", cfg, 401, EnvU64("VDB_CRASH_RUNS", 6));
}

// Concurrent writers: threads Put and Write disjoint records at once, so the
// head of the writer queue commits several callers' writes as one
// transaction (write groups), with checkpoints between (48 KiB WAL). At every
// sync point and some random ops, under two crash policies, the recovered
// database must hold every write acknowledged before the crash point, none
// begun after it, and each write entirely or not at all, with its bytes.
// Thread interleavings are not replayable: a violation names its crash point
// and policy for the record only.
struct ConcurrentWrite {
  std::vector<std::string> ids;
  uint64_t begin = 0;                // op count before the call
  std::atomic<uint64_t> end{~0ull};  // op count after it returned Ok
};

std::vector<float> ConcurrentVector(const std::string& id, uint32_t dim) {
  std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string>()(id)));
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(dim);
  for (auto& x : v) x = u(rng);
  return v;
}

// "" or what is wrong with the database at path after a crash at point p.
std::string CheckConcurrentState(const std::string& path, const std::vector<std::unique_ptr<ConcurrentWrite>>& writes,
                                 uint64_t p, uint32_t dim) {
  if (HarnessCheckerEnabled()) {
    std::string problems = VdbcheckProblems(path);
    if (!problems.empty()) return "vdbcheck: " + problems;
  }
  auto r = Database::Open(path, HarnessOpenOptions(nullptr));
  if (!r.ok()) return "open after crash failed: " + r.status().ToString();
  std::unique_ptr<Database> db = std::move(r).value();
  uint64_t present_total = 0;
  for (const auto& w : writes) {
    size_t present = 0;
    for (const std::string& id : w->ids) {
      auto rec = db->Get(id);
      if (rec.ok()) {
        present++;
        if (rec->vector != ConcurrentVector(id, dim)) return id + ": wrong vector";
      } else if (!rec.status().IsNotFound()) {
        return id + ": " + rec.status().ToString();
      }
    }
    present_total += present;
    const std::string what = "write of " + w->ids.front() + (w->ids.size() > 1 ? " (+1)" : "");
    if (present != 0 && present != w->ids.size()) return what + " is there in part";
    if (w->end.load() <= p && present == 0) return what + ", acknowledged before the crash, is lost";
    if (w->begin >= p && present != 0) return what + ", begun after the crash point, is there";
  }
  if (db->GetStats().count != present_total)
    return "count " + std::to_string(db->GetStats().count) + " but " + std::to_string(present_total) +
           " records of the workload";
  // The recovered database takes new writes.
  Status s = db->Put("after-crash", ConcurrentVector("after-crash", dim), "");
  if (!s.ok()) return "write after recovery failed: " + s.ToString();
  return "";
}

TEST(CrashSimTest, ConcurrentWritersKeepEveryAcknowledgedWrite) {
  namespace fs = std::filesystem;
  const uint64_t runs = EnvU64("VDB_CRASH_RUNS", 4);
  constexpr int kThreads = 4;
  constexpr int kWritesPerThread = 12;
  WorkloadOptions wo;
  uint64_t states = 0, groups_seen = 0;
  for (uint64_t run = 0; run < runs; run++) {
    const std::string scratch = HarnessScratchDir("crash_sim_concurrent");
    std::error_code ec;
    fs::remove_all(scratch, ec);
    fs::create_directories(scratch + "/db", ec);
    const std::string path = scratch + "/db/test.vdb";
    FaultEnv env(Env::Default(), scratch + "/db");
    std::vector<std::unique_ptr<ConcurrentWrite>> writes;
    {
      auto created = Database::Create(path, HarnessCreateOptions(wo), HarnessOpenOptions(&env));
      ASSERT_TRUE(created.ok()) << created.status().ToString();
      std::unique_ptr<Database> db = std::move(created).value();
      for (int t = 0; t < kThreads; t++)
        for (int i = 0; i < kWritesPerThread; i++) {
          auto w = std::make_unique<ConcurrentWrite>();
          const std::string base = "r" + std::to_string(run) + "-t" + std::to_string(t) + "-" + std::to_string(i);
          w->ids.push_back(base);
          if (i % 2 == 1) w->ids.push_back(base + "b");  // a two-record batch
          writes.push_back(std::move(w));
        }
      const uint64_t seq0 = db->GetStats().commit_seq;
      std::atomic<int> failures{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; t++)
        threads.emplace_back([&, t] {
          for (int i = 0; i < kWritesPerThread; i++) {
            ConcurrentWrite& w = *writes[t * kWritesPerThread + i];
            w.begin = env.OpCount();
            Status s;
            if (w.ids.size() == 1) {
              s = db->Put(w.ids[0], ConcurrentVector(w.ids[0], wo.dim), "");
            } else {
              WriteBatch b;
              for (const std::string& id : w.ids) b.Put(id, ConcurrentVector(id, wo.dim));
              s = db->Write(b);
            }
            if (!s.ok()) {
              failures++;
              continue;
            }
            w.end = env.OpCount();
          }
        });
      for (auto& th : threads) th.join();
      ASSERT_EQ(failures.load(), 0);
      // Fewer commits than writes: some were committed together.
      if (db->GetStats().commit_seq - seq0 < writes.size()) groups_seen++;
      ASSERT_TRUE(db->Close().ok());
    }
    std::set<uint64_t> points;
    for (uint64_t i : env.SyncOpIndices()) {
      points.insert(i);
      points.insert(i + 1);
    }
    std::mt19937_64 rng(0xc0ffee + run);
    for (int i = 0; i < 8; i++) points.insert(rng() % (env.OpCount() + 1));
    const std::vector<CrashPolicy> policies = CrashPolicy::All();
    const uint64_t create_end = writes.front()->begin;
    for (uint64_t p : points) {
      if (p < create_end) continue;  // inside Create: covered by the other crash tests
      std::vector<size_t> pols(policies.size());
      for (size_t i = 0; i < pols.size(); i++) pols[i] = i;
      std::shuffle(pols.begin(), pols.end(), rng);
      pols.resize(std::min<size_t>(2, pols.size()));
      for (size_t pi : pols) {
        const std::string out = scratch + "/crash";
        Status st = env.MaterializeCrash(p, policies[pi], rng, out);
        ASSERT_TRUE(st.ok()) << st.ToString();
        states++;
        const std::string problem = CheckConcurrentState(out + "/test.vdb", writes, p, wo.dim);
        EXPECT_EQ(problem, "") << "run " << run << " crash_point=" << p << " policy=" << policies[pi].name;
        if (!problem.empty()) return;
      }
    }
    fs::remove_all(scratch, ec);
  }
  std::printf("[crash_sim] concurrent: %llu runs, %llu crash states, %llu runs with write groups\n",
              static_cast<unsigned long long>(runs), static_cast<unsigned long long>(states),
              static_cast<unsigned long long>(groups_seen));
  g_totals.runs += runs;
  g_totals.states += states;
  EXPECT_GT(states, 0u);
}

}  // namespace
}  // namespace vdb::testing
