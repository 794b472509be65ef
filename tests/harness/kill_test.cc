// Real process kills. A forked child opens the database with the default
// (io_uring) Env and runs a seeded workload (with a concurrent reader thread
// doing Get and exact Search), reporting on a pipe when each op
// starts and after each one returned Ok; the parent SIGKILLs it at a random
// moment (inside open/recovery, a commit, a batch, a checkpoint, a reopen, an
// HNSW repair),
// then checks a copy of the files: every acknowledged commit present with its
// exact bytes, the in-flight one all or nothing. The next child continues on
// the original files, so it also recovers them (and may be killed doing so).
//
// Replay: VDB_KILL_SEED=<seed> (the rounds' seeds derive from it).
// More kills: VDB_KILL_ROUNDS=<n>; soak: VDB_SOAK_SECONDS=<n>.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <shared_mutex>
#include <thread>

#include <gtest/gtest.h>

#include "support/workload.h"

namespace vdb::testing {
namespace {

namespace fs = std::filesystem;

struct Event {
  char kind;       // 'O' opened, 'B' op begins, 'A' op acknowledged, 'F' op failed
  uint32_t index;  // op index within the round
};

void Send(int fd, char kind, uint32_t index) {
  Event e{kind, index};
  ssize_t ignored = ::write(fd, &e, sizeof(e));
  (void)ignored;
}

WorkloadOptions KillWorkload() {
  WorkloadOptions wo;
  wo.dim = 16;
  wo.id_space = 96;
  wo.big_batch = 10;
  wo.checkpoint = 8;
  wo.reopen = 3;
  wo.repair = 6;
  return wo;
}

OpenOptions KillOpenOptions() {
  OpenOptions oo = HarnessOpenOptions(nullptr);
  oo.checkpoint_wal_bytes = 128 << 10;
  return oo;
}

// Reads concurrently with the child's writer until killed: Get of random ids
// and exact searches. Any error other than NotFound is reported as 'R'.
void ReaderLoop(int fd, std::shared_mutex* mu, const std::unique_ptr<Database>* db, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const WorkloadOptions wo = KillWorkload();
  std::vector<float> q(wo.dim);
  for (;; std::this_thread::sleep_for(std::chrono::microseconds(20))) {
    std::shared_lock<std::shared_mutex> l(*mu);
    if (!*db) continue;
    auto got = (*db)->Get("k" + std::to_string(rng() % wo.id_space));
    if (!got.ok() && !got.status().IsNotFound()) {
      std::fprintf(stderr, "kill child reader: Get: %s\n", got.status().ToString().c_str());
      Send(fd, 'R', 0);
      return;
    }
    if (got.ok() && got->vector.size() != wo.dim) {
      std::fprintf(stderr, "kill child reader: Get returned %zu floats\n", got->vector.size());
      Send(fd, 'R', 0);
      return;
    }
    for (auto& x : q) x = static_cast<float>(rng() % 2000) / 1000.0f - 1.0f;
    SearchOptions so;
    so.k = 5;
    so.exact = true;
    auto hits = (*db)->Search(q, so);
    if (!hits.ok()) {
      std::fprintf(stderr, "kill child reader: Search: %s\n", hits.status().ToString().c_str());
      Send(fd, 'R', 0);
      return;
    }
  }
}

// The child: never returns. A reader thread runs beside the writer.
[[noreturn]] void ChildMain(int fd, const std::string& path, uint64_t seed, Model model) {
  OpenOptions oo = KillOpenOptions();
  auto r = Database::Open(path, oo);
  if (!r.ok()) {
    std::fprintf(stderr, "kill child: open failed: %s\n", r.status().ToString().c_str());
    Send(fd, 'F', 0);
    ::_exit(3);
  }
  std::unique_ptr<Database> db = std::move(r).value();
  Send(fd, 'O', 0);
  std::shared_mutex db_mu;  // held exclusively only while a reopen swaps db
  std::thread reader(ReaderLoop, fd, &db_mu, &db, seed ^ 0x5eed);
  reader.detach();
  WorkloadGenerator gen(seed, KillWorkload());
  for (uint32_t i = 0;; i++) {
    WorkloadOp op = gen.Next(model);
    Send(fd, 'B', i);
    Status st;
    if (op.kind == WorkloadOp::Kind::kReopen) {
      std::unique_lock<std::shared_mutex> l(db_mu);
      st = ExecuteOp(op, path, oo, &db);
    } else {
      st = ExecuteOp(op, path, oo, &db);
    }
    if (!st.ok()) {
      std::fprintf(stderr, "kill child: %s failed: %s\n", op.Describe().c_str(), st.ToString().c_str());
      Send(fd, 'F', i);
      ::_exit(4);
    }
    ApplyToModel(op, &model);
    Send(fd, 'A', i);
  }
}

std::string CopyFiles(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::remove_all(to, ec);
  fs::create_directories(to, ec);
  for (const auto& e : fs::directory_iterator(from, ec)) {
    if (!e.is_regular_file()) continue;
    fs::copy_file(e.path(), fs::path(to) / e.path().filename(), ec);
    if (ec) return "copy " + e.path().string() + ": " + ec.message();
  }
  return "";
}

// A killed process's io_uring instance is torn down asynchronously and keeps
// its file references (and so its flock) for a moment after the process is
// reaped. Waits until the write lock on path can be taken; returns the wait
// in microseconds, or -1 after 10 s.
int64_t WaitForLockRelease(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  const auto start = std::chrono::steady_clock::now();
  int64_t waited = -1;
  for (;;) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      ::flock(fd, LOCK_UN);
      waited = us.count();
      break;
    }
    if (us > std::chrono::seconds(10)) break;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ::close(fd);
  return waited;
}

TEST(KillTest, SigkillNeverLosesAcknowledgedCommits) {
  const uint64_t base_seed = EnvU64("VDB_KILL_SEED", 20240611);
  const uint64_t soak_s = EnvU64("VDB_SOAK_SECONDS", 0);
  const uint64_t rounds = soak_s > 0 ? ~0ull : EnvU64("VDB_KILL_ROUNDS", 220);
  const std::string dir = HarnessScratchDir("kill");
  const std::string db_dir = dir + "/db", copy_dir = dir + "/verify";
  fs::remove_all(dir);
  fs::create_directories(db_dir);
  const std::string path = db_dir + "/test.vdb";
  {
    auto db = Database::Create(path, HarnessCreateOptions(KillWorkload()), KillOpenOptions());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)->Close().ok());
  }

  Model model;
  std::mt19937_64 rng(base_seed);
  const auto start = std::chrono::steady_clock::now();
  uint64_t kills = 0, in_open = 0, in_commit = 0, in_batch = 0, in_checkpoint = 0, in_reopen = 0, in_repair = 0,
           between = 0,
           acked_total = 0, inflight_applied = 0, lock_waits = 0;
  int64_t max_lock_wait_us = 0;
  for (uint64_t round = 0; round < rounds; round++) {
    if (soak_s > 0 && std::chrono::steady_clock::now() - start >= std::chrono::seconds(soak_s)) break;
    const uint64_t seed = base_seed * 7919 + round;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    std::fflush(nullptr);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      ChildMain(fds[1], path, seed, model);
    }
    ::close(fds[1]);
    // Mostly a few to tens of milliseconds in; sometimes at once (inside
    // open and recovery).
    uint64_t delay_us = rng() % 8 == 0 ? rng() % 1500 : 1000 + rng() % 40000;
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
    ::kill(pid, SIGKILL);
    int wstatus = 0;
    ::waitpid(pid, &wstatus, 0);
    std::vector<Event> events;
    Event e;
    while (::read(fds[0], &e, sizeof(e)) == static_cast<ssize_t>(sizeof(e))) events.push_back(e);
    ::close(fds[0]);
    const std::string tag = "kill round " + std::to_string(round) + " seed " + std::to_string(seed) +
                            " (replay: VDB_KILL_SEED=" + std::to_string(base_seed) + ")";
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
        << tag << ": the child ended by itself (status " << wstatus << "); see its stderr";
    kills++;
    const int64_t lock_wait = WaitForLockRelease(path);
    ASSERT_GE(lock_wait, 0) << tag << ": the killed child's lock was never released";
    max_lock_wait_us = std::max(max_lock_wait_us, lock_wait);
    lock_waits += lock_wait > 0;

    // Rebuild what the child did: acknowledged ops and the one in flight.
    int64_t last_ack = -1, last_begin = -1;
    bool opened = false;
    for (const Event& ev : events) {
      ASSERT_NE(ev.kind, 'R') << tag << ": a concurrent reader in the child got an error (see stderr)";
      if (ev.kind == 'O') opened = true;
      if (ev.kind == 'A') last_ack = ev.index;
      if (ev.kind == 'B') last_begin = ev.index;
    }
    WorkloadGenerator gen(seed, KillWorkload());
    Model acked = model;
    for (int64_t i = 0; i <= last_ack; i++) ApplyToModel(gen.Next(acked), &acked);
    std::optional<Model> inflight;
    if (!opened) {
      in_open++;
    } else if (last_begin > last_ack) {
      WorkloadOp op = gen.Next(acked);
      switch (op.kind) {
        case WorkloadOp::Kind::kBatch: in_batch++; break;
        case WorkloadOp::Kind::kCheckpoint: in_checkpoint++; break;
        case WorkloadOp::Kind::kReopen: in_reopen++; break;
        case WorkloadOp::Kind::kRepair: in_repair++; break;
        default: in_commit++; break;
      }
      if (op.IsCommit()) {
        inflight = acked;
        ApplyToModel(op, &*inflight);
      }
    } else {
      between++;
    }
    acked_total += static_cast<uint64_t>(last_ack + 1);

    ASSERT_EQ(CopyFiles(db_dir, copy_dir), "") << tag;
    if (HarnessCheckerEnabled()) {
      std::string damage = VdbcheckProblems(copy_dir + "/test.vdb");
      ASSERT_EQ(damage, "") << tag;
    }
    auto db = Database::Open(copy_dir + "/test.vdb", KillOpenOptions());
    ASSERT_TRUE(db.ok()) << tag << ": open after kill failed: " << db.status().ToString();
    std::string d1 = DiffDatabase(**db, acked, KillWorkload());
    if (d1.empty()) {
      model = acked;
    } else {
      ASSERT_TRUE(inflight.has_value()) << tag << ": acknowledged state differs:\n" << d1;
      std::string d2 = DiffDatabase(**db, *inflight, KillWorkload());
      ASSERT_EQ(d2, "") << tag << ": state is neither acknowledged nor acknowledged + in-flight\n"
                        << "vs acknowledged:\n" << d1;
      model = *inflight;
      inflight_applied++;
    }
    ASSERT_TRUE((*db)->Close().ok()) << tag;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto n = [](uint64_t x) { return std::to_string(x); };
  std::string line = "[kill] " + n(kills) + " SIGKILLs in " + std::to_string(static_cast<int>(secs)) + " s: " +
                     n(in_open) + " in open/recovery, " + n(in_commit) + " in a single-record commit, " +
                     n(in_batch) + " in a batch, " + n(in_checkpoint) + " in a checkpoint, " + n(in_reopen) +
                     " in a reopen, " + n(in_repair) + " in a repair, " + n(between) + " between ops; " +
                     n(acked_total) + " acknowledged ops checked, " + n(inflight_applied) +
                     " in-flight commits found applied; " + std::to_string(model.size()) +
                     " records at the end; lock still held after reaping the child " + n(lock_waits) +
                     " times (longest " + std::to_string(max_lock_wait_us / 1000) + " ms)";
  std::printf("%s\n", line.c_str());
  if (soak_s == 0) {
    EXPECT_EQ(kills, rounds);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vdb::testing
