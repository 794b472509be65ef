// The default Env's durable write paths: WriteDsync and WriteDsyncThen (the
// log write chained before main-file writes in one io_uring submission).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/time.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <chrono>
#include <future>
#include <string>

#include "engine/test_hooks.h"
#include "vdb/env.h"

namespace vdb {
namespace {

class EnvPosixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vdb-env-posix-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<File> OpenFile(const std::string& name, bool read_only) {
    FileOpenOptions o;
    o.create = !read_only;
    o.read_only = read_only;
    auto f = Env::Default()->Open(dir_ + "/" + name, o);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return f.ok() ? std::move(*f) : nullptr;
  }
  static std::string ReadAll(File* f, uint64_t off, size_t n) {
    std::string s(n, '\0');
    size_t got = 0;
    EXPECT_TRUE(f->Read(off, s.data(), n, &got).ok());
    s.resize(got);
    return s;
  }
  std::string dir_;
};

TEST_F(EnvPosixTest, WriteDsyncWritesTheBytes) {
  auto f = OpenFile("log", false);
  const std::string a(1900, 'a');
  WriteOp op{4096, a.data(), a.size()};
  ASSERT_TRUE(f->WriteDsync(std::span<const WriteOp>(&op, 1)).ok());
  EXPECT_EQ(ReadAll(f.get(), 4096, a.size()), a);
}

TEST_F(EnvPosixTest, WriteDsyncThenWritesBothFiles) {
  auto log = OpenFile("log", false);
  auto main = OpenFile("main", false);
  const std::string a(1900, 'a'), b(512, 'b'), c(512, 'c');
  WriteOp ops[] = {{0, a.data(), a.size()}};
  WriteOp next[] = {{4096, b.data(), b.size()}, {8192, c.data(), c.size()}};
  bool durable = false;
  ASSERT_TRUE(log->WriteDsyncThen(ops, main.get(), next, &durable).ok());
  EXPECT_TRUE(durable);
  EXPECT_EQ(ReadAll(log.get(), 0, a.size()), a);
  EXPECT_EQ(ReadAll(main.get(), 4096, b.size()), b);
  EXPECT_EQ(ReadAll(main.get(), 8192, c.size()), c);
}

TEST_F(EnvPosixTest, WriteDsyncThenMayTargetItsOwnFile) {
  auto log = OpenFile("log", false);
  const std::string a(100, 'a'), b(100, 'b');
  WriteOp ops[] = {{0, a.data(), a.size()}};
  WriteOp next[] = {{200, b.data(), b.size()}};
  bool durable = false;
  ASSERT_TRUE(log->WriteDsyncThen(ops, log.get(), next, &durable).ok());
  EXPECT_TRUE(durable);
  EXPECT_EQ(ReadAll(log.get(), 200, b.size()), b);
}

TEST_F(EnvPosixTest, FailedLogWriteCancelsTheChainedWrites) {
  { auto create = OpenFile("log", false); }
  auto log_ro = OpenFile("log", true);  // writes fail with EBADF
  auto main = OpenFile("main", false);
  const std::string a(100, 'a'), b(100, 'b');
  WriteOp ops[] = {{0, a.data(), a.size()}};
  WriteOp next[] = {{0, b.data(), b.size()}};
  bool durable = true;
  EXPECT_FALSE(log_ro->WriteDsyncThen(ops, main.get(), next, &durable).ok());
  EXPECT_FALSE(durable);
  auto size = main->Size();
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 0u);  // nothing reached the main file
}

TEST_F(EnvPosixTest, FailedChainedWriteLeavesTheLogDurable) {
  auto log = OpenFile("log", false);
  { auto create = OpenFile("main", false); }
  auto main_ro = OpenFile("main", true);
  const std::string a(100, 'a'), b(100, 'b');
  WriteOp ops[] = {{0, a.data(), a.size()}};
  WriteOp next[] = {{0, b.data(), b.size()}};
  bool durable = false;
  EXPECT_FALSE(log->WriteDsyncThen(ops, main_ro.get(), next, &durable).ok());
  EXPECT_TRUE(durable);
  EXPECT_EQ(ReadAll(log.get(), 0, a.size()), a);
}

// A process with an interval timer (profilers, libFuzzer's -timeout, an
// application's SIGALRM) has its system calls interrupted by signals: a wait
// for an fdatasync's completion that returns EINTR must be waited again, not
// reported as a failed sync (which would poison a database).
std::atomic<uint64_t> g_alarms{0};
void CountAlarm(int) { g_alarms.fetch_add(1, std::memory_order_relaxed); }

TEST_F(EnvPosixTest, SyncsAndWritesSurviveSignals) {
  auto f = OpenFile("s", false);
  auto g = OpenFile("t", false);
  ASSERT_NE(f, nullptr);
  ASSERT_NE(g, nullptr);
  struct sigaction sa = {}, old = {};
  sa.sa_handler = CountAlarm;  // no SA_RESTART: interrupted calls fail with EINTR
  ASSERT_EQ(::sigaction(SIGALRM, &sa, &old), 0);
  itimerval every{{0, 50}, {0, 50}};  // every 50 us
  ASSERT_EQ(::setitimer(ITIMER_REAL, &every, nullptr), 0);
  const std::string page(4096, 'x');
  int failures = 0;
  std::string first;
  for (int i = 0; i < 400 && failures == 0; i++) {
    Status s = f->Write(static_cast<uint64_t>(i % 16) * 4096, page.data(), page.size());
    if (s.ok()) s = f->Sync();
    const WriteOp op{static_cast<uint64_t>(i % 16) * 4096, page.data(), page.size()};
    if (s.ok()) s = f->WriteDsync({&op, 1});
    bool durable = false;
    if (s.ok()) s = f->WriteDsyncThen({&op, 1}, g.get(), {&op, 1}, &durable);
    if (!s.ok()) {
      failures++;
      first = s.ToString();
    }
  }
  itimerval off{{0, 0}, {0, 0}};
  ::setitimer(ITIMER_REAL, &off, nullptr);
  ::sigaction(SIGALRM, &old, nullptr);
  EXPECT_EQ(failures, 0) << first;
  EXPECT_GT(g_alarms.load(), 0u);
}

// A request io_uring never completes (seen once: a write consumed from the
// submission queue that no worker thread ever ran) must not hang the
// database: after the stuck timeout the ring's requests are cancelled and
// the write, not performed, is issued again. A read of an empty pipe linked
// ahead of the write stands for the lost request.
TEST_F(EnvPosixTest, AWriteHeldUpByAStuckRequestIsCancelledAndIssuedAgain) {
  auto f = OpenFile("stuck", false);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->Write(0, "warm", 4).ok());  // the ring exists before the plant
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  auto& hooks = test_hooks::Bugs();
  hooks.io_stuck_ms = 100;
  hooks.plant_stuck_read_fd = pipefd[0];
  const std::string data(8192, 'w');
  const auto t0 = std::chrono::steady_clock::now();
  auto done = std::async(std::launch::async, [&] { return f->Write(4096, data.data(), data.size()); });
  const bool finished = done.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  if (!finished) {
    // Release the planted read so that the test ends (and fails).
    ASSERT_EQ(::write(pipefd[1], "x", 1), 1);
  }
  const Status s = done.get();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  hooks.io_stuck_ms = 0;
  hooks.plant_stuck_read_fd = -1;
  ::close(pipefd[0]);
  ::close(pipefd[1]);
  EXPECT_TRUE(finished) << "the write was still waiting for the stuck request after 20 s";
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_GE(secs, 0.1);  // it did wait for the stuck timeout
  EXPECT_EQ(ReadAll(f.get(), 4096, data.size()), data);
  // The ring stays usable.
  ASSERT_TRUE(f->Write(0, "next", 4).ok());
  EXPECT_TRUE(f->Sync().ok());
  EXPECT_EQ(ReadAll(f.get(), 0, 4), "next");
}

}  // namespace
}  // namespace vdb
