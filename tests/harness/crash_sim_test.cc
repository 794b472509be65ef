// Simulated power loss. Seeded workloads run through FaultEnv; at every sync
// point (just before and just after it) and at random ops, the disk is
// rebuilt as a power loss would leave it under several policies (see
// CrashPolicy) and the real engine opens it: every acknowledged commit must be
// there with its exact bytes, the in-flight one entirely or not at all, and
// the database must take new writes (a sample also survives a second crash).
// With pipelined submits (Database::Submit), any prefix of the commits in
// flight.
//
// Replay one seed: VDB_CRASH_SEED=<seed> [VDB_CRASH_POINT=<op>] <this binary>
// Soak: VDB_SOAK_SECONDS=<n> <this binary> loops over fresh seeds.
#include <chrono>
#include <cstdio>
#include <ctime>

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace vdb::testing
