// Tests of FaultEnv itself: what it records, which ops it treats as durable,
// how it tears, garbles and drops unsynced changes, and how it fails calls.
#include "support/fault_env.h"

#include <sys/mman.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace vdb::testing {
namespace {

namespace fs = std::filesystem;

std::string TempRoot() {
  const char* shm = "/dev/shm";
  std::string base = fs::exists(shm) ? shm : fs::temp_directory_path().string();
  return base + "/vdb_fault_env_test_" + std::to_string(::getpid());
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class FaultEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempRoot() + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_ + "/db");
    env_ = std::make_unique<FaultEnv>(Env::Default(), dir_ + "/db");
  }
  void TearDown() override {
    fs::remove_all(dir_);
    std::error_code ec;
    fs::remove(TempRoot(), ec);  // only once empty
  }

  std::unique_ptr<File> Create(const std::string& name) {
    auto f = env_->Open(Db(name), FileOpenOptions{.create = true});
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return f.ok() ? std::move(f).value() : nullptr;
  }
  std::string Db(const std::string& name) const { return dir_ + "/db/" + name; }
  std::string Out(const std::string& name) const { return dir_ + "/out/" + name; }

  // Materializes the crash at point p into dir_/out.
  void Crash(uint64_t p, const CrashPolicy& policy, uint64_t seed = 1, CrashStats* stats = nullptr) {
    std::mt19937_64 rng(seed);
    Status st = env_->MaterializeCrash(p, policy, rng, dir_ + "/out", stats);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  std::string dir_;
  std::unique_ptr<FaultEnv> env_;
};

TEST_F(FaultEnvTest, SyncedWriteSurvivesDropPolicy) {
  auto f = Create("a");
  ASSERT_TRUE(f->Write(0, "hello", 5).ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db").ok());
  Crash(env_->OpCount(), CrashPolicy::DropUnsynced());
  EXPECT_EQ(Slurp(Out("a")), "hello");
}

TEST_F(FaultEnvTest, UnsyncedWriteIsDroppedUnderDropPolicy) {
  auto f = Create("a");
  ASSERT_TRUE(f->Write(0, "hello", 5).ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db").ok());
  ASSERT_TRUE(f->Write(0, "HE", 2).ok());
  Crash(env_->OpCount(), CrashPolicy::DropUnsynced());
  EXPECT_EQ(Slurp(Out("a")), "hello");
}

TEST_F(FaultEnvTest, UnsyncedWriteIsKeptUnderProcessCrashPolicy) {
  auto f = Create("a");
  ASSERT_TRUE(f->Write(0, "hello", 5).ok());
  Crash(env_->OpCount(), CrashPolicy::ProcessCrash());
  EXPECT_EQ(Slurp(Out("a")), "hello");
}

TEST_F(FaultEnvTest, WriteAndSyncIsDurable) {
  auto f = Create("a");
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db").ok());
  WriteOp ops[2] = {{0, "ab", 2}, {10, "cd", 2}};
  ASSERT_TRUE(f->WriteAndSync(ops).ok());
  Crash(env_->OpCount(), CrashPolicy::DropUnsynced());
  std::string expect("ab\0\0\0\0\0\0\0\0cd", 12);
  EXPECT_EQ(Slurp(Out("a")), expect);
}

// WriteDsync makes its own bytes durable and nothing written before them.
TEST_F(FaultEnvTest, WriteDsyncIsDurableForItsOwnBytesOnly) {
  auto f = Create("a");
  ASSERT_TRUE(f->Write(0, "xxxx", 4).ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db").ok());
  ASSERT_TRUE(f->Write(0, "AB", 2).ok());  // never synced
  WriteOp ops[1] = {{2, "CD", 2}};
  ASSERT_TRUE(f->WriteDsync(ops).ok());
  Crash(env_->OpCount(), CrashPolicy::DropUnsynced());
  EXPECT_EQ(Slurp(Out("a")), "xxCD");
}

TEST_F(FaultEnvTest, CrashPointBeforeSyncLeavesWritesVolatile) {
  auto f = Create("a");
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db").ok());
  ASSERT_TRUE(f->Write(0, "hello", 5).ok());
  ASSERT_TRUE(f->Sync().ok());
  std::vector<uint64_t> syncs = env_->SyncOpIndices();
  ASSERT_EQ(syncs.size(), 2u);
  Crash(syncs[1], CrashPolicy::DropUnsynced());
  EXPECT_EQ(Slurp(Out("a")), "");
  Crash(syncs[1] + 1, CrashPolicy::DropUnsynced());
  EXPECT_EQ(Slurp(Out("a")), "hello");
}

TEST_F(FaultEnvTest, LaterOpsDoNotAffectEarlierCrashPoint) {
  auto f = Create("a");
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db").ok());
  ASSERT_TRUE(f->Write(0, "one", 3).ok());
  ASSERT_TRUE(f->Sync().ok());
  uint64_t p = env_->OpCount();
  ASSERT_TRUE(f->Write(0, "two", 3).ok());
  ASSERT_TRUE(f->Sync().ok());
  Crash(p, CrashPolicy::ProcessCrash());
  EXPECT_EQ(Slurp(Out("a")), "one");
}

TEST_F(FaultEnvTest, TornWriteKeepsWholeSectorsOnly) {
  auto f = Create("a");
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db").ok());
  std::string old(4096, 'o');
  ASSERT_TRUE(f->Write(0, old.data(), old.size()).ok());
  ASSERT_TRUE(f->Sync().ok());
  std::string fresh(4096, 'n');
  ASSERT_TRUE(f->Write(0, fresh.data(), fresh.size()).ok());
  CrashPolicy torn;
  torn.name = "all-torn";
  torn.keep = torn.drop = 0;
  torn.torn = 1;
  bool saw_mixed = false;
  for (uint64_t seed = 1; seed <= 20; seed++) {
    CrashStats stats;
    Crash(env_->OpCount(), torn, seed, &stats);
    EXPECT_EQ(stats.writes_torn, 1u);
    std::string got = Slurp(Out("a"));
    ASSERT_EQ(got.size(), 4096u);
    int news = 0;
    for (size_t s = 0; s < 8; s++) {
      std::string sector = got.substr(s * 512, 512);
      bool all_new = sector == std::string(512, 'n');
      EXPECT_TRUE(all_new || sector == std::string(512, 'o')) << "sector " << s << " mixes bytes";
      news += all_new;
    }
    if (news > 0 && news < 8) saw_mixed = true;
  }
  EXPECT_TRUE(saw_mixed);
}

TEST_F(FaultEnvTest, TornUnalignedWriteSplitsAtAbsoluteSectors) {
  auto f = Create("a");
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db").ok());
  std::string old(2048, 'o');
  ASSERT_TRUE(f->Write(0, old.data(), old.size()).ok());
  ASSERT_TRUE(f->Sync().ok());
  std::string fresh(1000, 'n');  // [300, 1300): pieces [300,512) [512,1024) [1024,1300)
  ASSERT_TRUE(f->Write(300, fresh.data(), fresh.size()).ok());
  CrashPolicy torn;
  torn.keep = torn.drop = 0;
  torn.torn = 1;
  for (uint64_t seed = 1; seed <= 10; seed++) {
    Crash(env_->OpCount(), torn, seed);
    std::string got = Slurp(Out("a"));
    ASSERT_EQ(got.size(), 2048u);
    EXPECT_EQ(got.substr(0, 300), std::string(300, 'o'));
    EXPECT_EQ(got.substr(1300), std::string(748, 'o'));
    for (auto [b, e] : {std::pair{300, 512}, {512, 1024}, {1024, 1300}}) {
      std::string piece = got.substr(b, e - b);
      EXPECT_TRUE(piece == std::string(e - b, 'n') || piece == std::string(e - b, 'o'));
    }
  }
}

TEST_F(FaultEnvTest, ShornWriteLandsUpToSomeByteOnly) {
  auto f = Create("a");
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db").ok());
  std::string old(1024, 'o');
  ASSERT_TRUE(f->Write(0, old.data(), old.size()).ok());
  ASSERT_TRUE(f->Sync().ok());
  std::string fresh(1024, 'n');
  ASSERT_TRUE(f->Write(0, fresh.data(), fresh.size()).ok());
  CrashPolicy shorn;
  shorn.keep = shorn.drop = 0;
  shorn.shorn = 1;
  bool saw_mid_sector_cut = false;
  for (uint64_t seed = 1; seed <= 20; seed++) {
    CrashStats stats;
    Crash(env_->OpCount(), shorn, seed, &stats);
    EXPECT_EQ(stats.writes_shorn, 1u);
    std::string got = Slurp(Out("a"));
    ASSERT_EQ(got.size(), 1024u);
    size_t cut = got.find_first_not_of('n');
    if (cut == std::string::npos) cut = got.size();
    EXPECT_EQ(got.substr(cut), std::string(1024 - cut, 'o')) << "not a prefix cut";
    if (cut % kSectorSize != 0) saw_mid_sector_cut = true;
  }
  EXPECT_TRUE(saw_mid_sector_cut);
}

TEST_F(FaultEnvTest, GarbageStaysInsideTheUnsyncedWrite) {
  auto f = Create("a");
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db").ok());
  std::string old(4096, 'o');
  ASSERT_TRUE(f->Write(0, old.data(), old.size()).ok());
  ASSERT_TRUE(f->Sync().ok());
  std::string fresh(1024, 'n');
  ASSERT_TRUE(f->Write(1024, fresh.data(), fresh.size()).ok());
  CrashPolicy garble;
  garble.keep = garble.drop = garble.torn = 0;
  garble.garbage = 1;
  bool saw_garbage = false;
  for (uint64_t seed = 1; seed <= 20; seed++) {
    CrashStats stats;
    Crash(env_->OpCount(), garble, seed, &stats);
    EXPECT_EQ(stats.writes_garbled, 1u);
    std::string got = Slurp(Out("a"));
    ASSERT_EQ(got.size(), 4096u);
    EXPECT_EQ(got.substr(0, 1024), std::string(1024, 'o'));
    EXPECT_EQ(got.substr(2048), std::string(2048, 'o'));
    for (size_t s = 2; s < 4; s++) {
      std::string sector = got.substr(s * 512, 512);
      if (sector != std::string(512, 'n') && sector != std::string(512, 'o')) saw_garbage = true;
    }
  }
  EXPECT_TRUE(saw_garbage);
}

TEST_F(FaultEnvTest, FileWhoseCreationWasNotDirSyncedMayVanish) {
  auto f = Create("a");
  ASSERT_TRUE(f->Write(0, "data", 4).ok());
  ASSERT_TRUE(f->Sync().ok());
  Crash(env_->OpCount(), CrashPolicy::DropUnsynced());
  EXPECT_FALSE(fs::exists(Out("a")));
  Crash(env_->OpCount(), CrashPolicy::ProcessCrash());
  EXPECT_EQ(Slurp(Out("a")), "data");
}

TEST_F(FaultEnvTest, DirSyncMakesCreationDurable) {
  auto f = Create("a");
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db/").ok());  // trailing slash normalized
  Crash(env_->OpCount(), CrashPolicy::DropUnsynced());
  EXPECT_TRUE(fs::exists(Out("a")));
}

TEST_F(FaultEnvTest, UnsyncedRenameMayNotHaveHappened) {
  auto f = Create("tmp");
  ASSERT_TRUE(f->Write(0, "new", 3).ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db").ok());
  ASSERT_TRUE(env_->Rename(Db("tmp"), Db("final")).ok());
  Crash(env_->OpCount(), CrashPolicy::DropUnsynced());
  EXPECT_TRUE(fs::exists(Out("tmp")));
  EXPECT_FALSE(fs::exists(Out("final")));
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db").ok());
  Crash(env_->OpCount(), CrashPolicy::DropUnsynced());
  EXPECT_FALSE(fs::exists(Out("tmp")));
  EXPECT_EQ(Slurp(Out("final")), "new");
}

TEST_F(FaultEnvTest, RenameReplacesTargetAndKeepsWritingTheSameInode) {
  auto a = Create("a");
  auto b = Create("b");
  ASSERT_TRUE(a->Write(0, "AAA", 3).ok());
  ASSERT_TRUE(b->Write(0, "BBB", 3).ok());
  ASSERT_TRUE(env_->Rename(Db("a"), Db("b")).ok());
  ASSERT_TRUE(a->Write(3, "!", 1).ok());  // the handle follows the file
  Crash(env_->OpCount(), CrashPolicy::ProcessCrash());
  EXPECT_FALSE(fs::exists(Out("a")));
  EXPECT_EQ(Slurp(Out("b")), "AAA!");
}

TEST_F(FaultEnvTest, UnsyncedRemoveMayBeUndone) {
  auto f = Create("a");
  ASSERT_TRUE(f->Write(0, "x", 1).ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db").ok());
  f.reset();
  ASSERT_TRUE(env_->Remove(Db("a")).ok());
  Crash(env_->OpCount(), CrashPolicy::DropUnsynced());
  EXPECT_EQ(Slurp(Out("a")), "x");
  Crash(env_->OpCount(), CrashPolicy::ProcessCrash());
  EXPECT_FALSE(fs::exists(Out("a")));
}

TEST_F(FaultEnvTest, UnsyncedTruncateMayBeLost) {
  auto f = Create("a");
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db").ok());
  ASSERT_TRUE(f->Write(0, "0123456789", 10).ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->Truncate(4).ok());
  Crash(env_->OpCount(), CrashPolicy::DropUnsynced());
  EXPECT_EQ(Slurp(Out("a")), "0123456789");
  ASSERT_TRUE(f->Sync().ok());
  Crash(env_->OpCount(), CrashPolicy::DropUnsynced());
  EXPECT_EQ(Slurp(Out("a")), "0123");
}

TEST_F(FaultEnvTest, AllocateExtendsWithZeros) {
  auto f = Create("a");
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db").ok());
  ASSERT_TRUE(f->Allocate(0, 1024).ok());
  ASSERT_TRUE(f->Sync().ok());
  Crash(env_->OpCount(), CrashPolicy::DropUnsynced());
  EXPECT_EQ(Slurp(Out("a")), std::string(1024, '\0'));
}

TEST_F(FaultEnvTest, FilesPresentAtStartAreDurable) {
  {
    std::ofstream out(Db("old"), std::ios::binary);
    out << "before";
  }
  FaultEnv env(Env::Default(), dir_ + "/db");
  auto f = env.Open(Db("old"), FileOpenOptions{});
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Write(0, "BE", 2).ok());
  std::mt19937_64 rng(1);
  ASSERT_TRUE(env.MaterializeCrash(env.OpCount(), CrashPolicy::DropUnsynced(), rng, dir_ + "/out").ok());
  EXPECT_EQ(Slurp(Out("old")), "before");
  ASSERT_TRUE(env.MaterializeCrash(env.OpCount(), CrashPolicy::ProcessCrash(), rng, dir_ + "/out").ok());
  EXPECT_EQ(Slurp(Out("old")), "BEfore");
}

TEST_F(FaultEnvTest, MaterializeRemovesStaleFilesFromOutDir) {
  fs::create_directories(dir_ + "/out");
  { std::ofstream(Out("stale")) << "x"; }
  Crash(env_->OpCount(), CrashPolicy::ProcessCrash());
  EXPECT_FALSE(fs::exists(Out("stale")));
}

TEST_F(FaultEnvTest, CrashPointBeyondLogIsRejected) {
  std::mt19937_64 rng(1);
  Status st = env_->MaterializeCrash(env_->OpCount() + 1, CrashPolicy::ProcessCrash(), rng, dir_ + "/out");
  EXPECT_TRUE(st.IsInvalidArgument());
}

TEST_F(FaultEnvTest, DescriptorSeesWritesThroughMmap) {
  auto f = Create("a");
  ASSERT_TRUE(f->Allocate(0, 4096).ok());
  void* map = ::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, f->fd(), 0);
  ASSERT_NE(map, MAP_FAILED);
  ASSERT_TRUE(f->Write(100, "mapped", 6).ok());
  EXPECT_EQ(std::string(static_cast<const char*>(map) + 100, 6), "mapped");
  ::munmap(map, 4096);
}

TEST_F(FaultEnvTest, FailedSyncLeavesEarlierWritesVolatileForever) {
  auto f = Create("a");
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db").ok());
  ASSERT_TRUE(f->Write(0, "lost", 4).ok());
  env_->InjectFault({.call = CallType::kSync, .nth = 1, .kind = FaultKind::kEIO});
  EXPECT_TRUE(f->Sync().IsIOError());
  ASSERT_TRUE(f->Write(4, "kept", 4).ok());
  ASSERT_TRUE(f->Sync().ok());  // the retry "succeeds"
  Crash(env_->OpCount(), CrashPolicy::DropUnsynced());
  EXPECT_EQ(Slurp(Out("a")), std::string("\0\0\0\0kept", 8));
}

TEST_F(FaultEnvTest, InjectedEioFailsTheNthWriteOnly) {
  auto f = Create("a");
  env_->InjectFault({.call = CallType::kWrite, .nth = 2, .kind = FaultKind::kEIO});
  EXPECT_TRUE(f->Write(0, "1", 1).ok());
  Status st = f->Write(1, "2", 1);
  EXPECT_TRUE(st.IsIOError()) << st.ToString();
  EXPECT_NE(st.message().find("injected"), std::string::npos);
  EXPECT_TRUE(f->Write(2, "3", 1).ok());
  EXPECT_TRUE(env_->FaultFired());
  EXPECT_EQ(Slurp(Db("a")), std::string("1\0" "3", 3));
}

TEST_F(FaultEnvTest, InjectedNoSpaceOnAllocateReturnsNoSpace) {
  auto f = Create("a");
  env_->InjectFault({.call = CallType::kAllocate, .nth = 1, .kind = FaultKind::kNoSpace});
  EXPECT_TRUE(f->Allocate(0, 1 << 20).IsNoSpace());
  EXPECT_EQ(*f->Size(), 0u);
}

TEST_F(FaultEnvTest, ShortWriteStoresAPrefix) {
  auto f = Create("a");
  env_->InjectFault({.call = CallType::kWrite, .nth = 1, .kind = FaultKind::kShortWrite});
  EXPECT_TRUE(f->Write(0, "abcdefgh", 8).IsIOError());
  EXPECT_EQ(Slurp(Db("a")), "abcd");
  Crash(env_->OpCount(), CrashPolicy::ProcessCrash());
  EXPECT_EQ(Slurp(Out("a")), "abcd");
}

TEST_F(FaultEnvTest, EioOnWriteAndSyncWritesButFailsTheSync) {
  auto f = Create("a");
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db").ok());
  env_->InjectFault({.call = CallType::kWriteAndSync, .nth = 1, .kind = FaultKind::kEIO});
  WriteOp op{0, "data", 4};
  EXPECT_TRUE(f->WriteAndSync(std::span<const WriteOp>(&op, 1)).IsIOError());
  EXPECT_EQ(Slurp(Db("a")), "data");
  EXPECT_EQ(env_->Op(env_->OpCount() - 1).kind, OpRecord::Kind::kSyncFailed);
  ASSERT_TRUE(f->Sync().ok());
  Crash(env_->OpCount(), CrashPolicy::DropUnsynced());
  EXPECT_EQ(Slurp(Out("a")), "");
}

TEST_F(FaultEnvTest, InjectedCreateFailureCreatesNothing) {
  env_->InjectFault({.call = CallType::kCreate, .nth = 1, .kind = FaultKind::kNoSpace});
  auto f = env_->Open(Db("a"), FileOpenOptions{.create = true});
  EXPECT_FALSE(f.ok());
  EXPECT_TRUE(f.status().IsNoSpace());
  EXPECT_FALSE(fs::exists(Db("a")));
}

TEST_F(FaultEnvTest, InjectedSyncDirFailureLeavesEntryVolatile) {
  auto f = Create("a");
  env_->InjectFault({.call = CallType::kSyncDir, .nth = 1, .kind = FaultKind::kEIO});
  EXPECT_TRUE(env_->SyncDir(dir_ + "/db").IsIOError());
  Crash(env_->OpCount(), CrashPolicy::DropUnsynced());
  EXPECT_FALSE(fs::exists(Out("a")));
}

TEST_F(FaultEnvTest, AnyCallCountsEveryMutatingCall) {
  auto f = Create("a");
  ASSERT_TRUE(f->Write(0, "x", 1).ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db").ok());
  EXPECT_EQ(env_->CallCount(CallType::kAny), 4u);
  EXPECT_EQ(env_->CallCount(CallType::kCreate), 1u);
  EXPECT_EQ(env_->CallCount(CallType::kSync), 1u);
  env_->InjectFault({.call = CallType::kAny, .nth = 2, .kind = FaultKind::kEIO});
  EXPECT_TRUE(f->Write(0, "y", 1).ok());
  EXPECT_TRUE(f->Sync().IsIOError());
  EXPECT_TRUE(f->Sync().ok());
}

TEST_F(FaultEnvTest, StickyFaultKeepsFailing) {
  auto f = Create("a");
  env_->InjectFault({.call = CallType::kWrite, .nth = 1, .kind = FaultKind::kNoSpace, .sticky = true});
  EXPECT_TRUE(f->Write(0, "x", 1).IsNoSpace());
  EXPECT_TRUE(f->Write(0, "x", 1).IsNoSpace());
  EXPECT_TRUE(f->Sync().ok());  // other call types are unaffected
  env_->ClearFault();
  EXPECT_TRUE(f->Write(0, "x", 1).ok());
}

TEST_F(FaultEnvTest, MaterializeIsDeterministicForASeed) {
  auto f = Create("a");
  ASSERT_TRUE(env_->SyncDir(dir_ + "/db").ok());
  for (int i = 0; i < 16; i++) {
    std::string block(700, static_cast<char>('a' + i));
    ASSERT_TRUE(f->Write(static_cast<uint64_t>(i) * 333, block.data(), block.size()).ok());
  }
  Crash(env_->OpCount(), CrashPolicy::Chaos(), 42);
  std::string first = Slurp(Out("a"));
  Crash(env_->OpCount(), CrashPolicy::Chaos(), 42);
  EXPECT_EQ(Slurp(Out("a")), first);
}

}  // namespace
}  // namespace vdb::testing
