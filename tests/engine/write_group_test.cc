// Write groups: Put, Delete and Write calls made while another commit is in
// flight queue up, and the head of the queue commits them as one
// transaction; each caller still gets its own status.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/db_impl.h"
#include "support/temp_dir.h"
#include "support/test_db.h"
#include "vdb/db.h"
#include "vdb/env.h"

namespace vdb {
namespace {

using testing::TempDir;

constexpr uint32_t kDim = 4;

// Holds every durable write of the WAL (the commit's log write) while the
// gate is closed; the n-th such write (counting from 1) and later ones fail
// once fail_from reaches n.
class GateEnv final : public Env {
 public:
  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = false;
  }
  void Open() {
    {
      std::lock_guard<std::mutex> l(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void FailFrom(uint64_t n) {
    std::lock_guard<std::mutex> l(mu_);
    fail_from_ = n;
  }
  uint64_t durable_writes() {
    std::lock_guard<std::mutex> l(mu_);
    return passed_;
  }
  // Waits until a durable log write is held at the closed gate.
  void AwaitHeld() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return held_ > 0; });
  }
  Status Pass() {
    std::unique_lock<std::mutex> l(mu_);
    held_++;
    cv_.notify_all();
    cv_.wait(l, [&] { return open_; });
    held_--;
    if (++passed_ >= fail_from_) return Status::IOError("injected log write failure");
    return Status::Ok();
  }

  Result<std::unique_ptr<File>> Open(const std::string& path, const FileOpenOptions& opts) override;
  Status Remove(const std::string& path) override { return base_->Remove(path); }
  Status Rename(const std::string& from, const std::string& to) override { return base_->Rename(from, to); }
  Status SyncDir(const std::string& dir) override { return base_->SyncDir(dir); }
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  Status Lock(File* file, bool exclusive) override { return base_->Lock(file, exclusive); }

 private:
  Env* base_ = Env::Default();
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  uint64_t held_ = 0;
  uint64_t passed_ = 0;
  uint64_t fail_from_ = UINT64_MAX;
};

class GateFile final : public File {
 public:
  GateFile(std::unique_ptr<File> base, GateEnv* env) : base_(std::move(base)), env_(env) {}
  const std::string& path() const override { return base_->path(); }
  int fd() const override { return base_->fd(); }
  Status Read(uint64_t off, void* buf, size_t n, size_t* got) override { return base_->Read(off, buf, n, got); }
  Status Write(std::span<const WriteOp> ops) override { return base_->Write(ops); }
  Status WriteAndSync(std::span<const WriteOp> ops) override {
    VDB_RETURN_IF_ERROR(env_->Pass());
    return base_->WriteAndSync(ops);
  }
  Status WriteDsync(std::span<const WriteOp> ops) override {
    VDB_RETURN_IF_ERROR(env_->Pass());
    return base_->WriteDsync(ops);
  }
  Status WriteDsyncThen(std::span<const WriteOp> ops, File* next, std::span<const WriteOp> next_ops,
                        bool* durable) override {
    *durable = false;
    VDB_RETURN_IF_ERROR(env_->Pass());
    return base_->WriteDsyncThen(ops, next, next_ops, durable);
  }
  Status Sync() override {
    VDB_RETURN_IF_ERROR(env_->Pass());
    return base_->Sync();
  }
  Status Truncate(uint64_t size) override { return base_->Truncate(size); }
  Status Allocate(uint64_t off, uint64_t len) override { return base_->Allocate(off, len); }
  Result<uint64_t> Size() override { return base_->Size(); }

 private:
  std::unique_ptr<File> base_;
  GateEnv* env_;
};

Result<std::unique_ptr<File>> GateEnv::Open(const std::string& path, const FileOpenOptions& opts) {
  VDB_ASSIGN_OR_RETURN(auto f, base_->Open(path, opts));
  if (path.size() < 4 || path.compare(path.size() - 4, 4, "-wal") != 0) return f;
  return std::unique_ptr<File>(new GateFile(std::move(f), this));
}

std::vector<float> Vec(float x) { return {x, 1, 2, 3}; }

// A database whose log exists (one commit made), with the gate open.
struct GroupFixture {
  TempDir dir;
  GateEnv env;
  std::unique_ptr<Database> db;
  GroupFixture() {
    OpenOptions o;
    o.env = &env;
    db = testing::MustCreate(dir.File("g.vdb"), kDim, Metric::kL2, o);
    if (db) {
      EXPECT_TRUE(db->Put("first", Vec(0), "").ok());
    }
  }
  DbImpl* impl() { return static_cast<DbImpl*>(db.get()); }
  // Waits (bounded) until n writes are queued, the head's included.
  bool AwaitQueued(size_t n) {
    for (int i = 0; i < 20000; i++) {
      if (impl()->QueuedWrites() >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }
};

TEST(WriteGroup, WritesQueuedBehindACommitInFlightCommitTogether) {
  GroupFixture f;
  ASSERT_NE(f.db, nullptr);
  const uint64_t seq0 = f.db->GetStats().commit_seq;
  const uint64_t writes0 = f.env.durable_writes();
  f.env.Close();
  Status sa, sb, sc, sd;
  std::thread a([&] { sa = f.db->Put("a", Vec(1), ""); });
  f.env.AwaitHeld();
  std::thread b([&] { sb = f.db->Put("b", Vec(2), ""); });
  std::thread c([&] { sc = f.db->Delete("first"); });
  std::thread d([&] {
    WriteBatch batch;
    batch.Put("d1", Vec(3));
    batch.Put("d2", Vec(4));
    sd = f.db->Write(batch);
  });
  ASSERT_TRUE(f.AwaitQueued(4));
  f.env.Open();
  a.join(), b.join(), c.join(), d.join();
  EXPECT_TRUE(sa.ok()) << sa.ToString();
  EXPECT_TRUE(sb.ok()) << sb.ToString();
  EXPECT_TRUE(sc.ok()) << sc.ToString();
  EXPECT_TRUE(sd.ok()) << sd.ToString();
  // a's commit, then one commit and one log write for b, c and d.
  EXPECT_EQ(f.db->GetStats().commit_seq, seq0 + 2);
  EXPECT_EQ(f.env.durable_writes(), writes0 + 2);
  EXPECT_EQ(f.db->GetStats().count, 4u);  // a, b, d1, d2
  EXPECT_TRUE(f.db->Get("first").status().IsNotFound());
}

TEST(WriteGroup, AFailedWriteInAGroupFailsAloneAndTheOthersCommit) {
  GroupFixture f;
  ASSERT_NE(f.db, nullptr);
  f.env.Close();
  Status sa, sb, sc, sd;
  std::thread a([&] { sa = f.db->Put("a", Vec(1), ""); });
  f.env.AwaitHeld();
  std::thread b([&] { sb = f.db->Put("b", Vec(2), ""); });
  ASSERT_TRUE(f.AwaitQueued(2));
  std::thread c([&] { sc = f.db->Delete("no-such-id"); });
  ASSERT_TRUE(f.AwaitQueued(3));
  std::thread d([&] { sd = f.db->Put("d", Vec(3), "[1]"); });  // metadata not an object
  ASSERT_TRUE(f.AwaitQueued(4));
  f.env.Open();
  a.join(), b.join(), c.join(), d.join();
  EXPECT_TRUE(sa.ok()) << sa.ToString();
  EXPECT_TRUE(sb.ok()) << sb.ToString();
  EXPECT_TRUE(sc.IsNotFound()) << sc.ToString();
  EXPECT_FALSE(sd.ok());
  EXPECT_NE(sd.ToString().find("JSON object"), std::string::npos) << sd.ToString();
  EXPECT_TRUE(f.db->Get("a").ok());
  EXPECT_TRUE(f.db->Get("b").ok());
  EXPECT_TRUE(f.db->Get("d").status().IsNotFound());
}

TEST(WriteGroup, EveryMemberOfAGroupGetsItsLogWriteFailure) {
  GroupFixture f;
  ASSERT_NE(f.db, nullptr);
  // The held write (a's) passes; the next one, the group's, fails.
  f.env.FailFrom(f.env.durable_writes() + 2);
  f.env.Close();
  Status sa, sb, sc;
  std::thread a([&] { sa = f.db->Put("a", Vec(1), ""); });
  f.env.AwaitHeld();
  std::thread b([&] { sb = f.db->Put("b", Vec(2), ""); });
  std::thread c([&] { sc = f.db->Put("c", Vec(3), ""); });
  ASSERT_TRUE(f.AwaitQueued(3));
  f.env.Open();
  a.join(), b.join(), c.join();
  EXPECT_TRUE(sa.ok()) << sa.ToString();
  EXPECT_TRUE(sb.IsIOError()) << sb.ToString();
  EXPECT_TRUE(sc.IsIOError()) << sc.ToString();
  EXPECT_TRUE(f.db->Get("a").ok());
  EXPECT_TRUE(f.db->Get("b").status().IsNotFound());
  EXPECT_TRUE(f.db->Get("c").status().IsNotFound());
}

TEST(WriteGroup, ManyThreadsPuttingLoseNothingAcrossReopen) {
  TempDir dir;
  const std::string path = dir.File("m.vdb");
  {
    auto db = testing::MustCreate(path, kDim, Metric::kL2);
    ASSERT_NE(db, nullptr);
    std::vector<std::thread> threads;
    std::vector<int> failures(8, 0);
    for (int t = 0; t < 8; t++)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 40; i++)
          if (!db->Put("t" + std::to_string(t) + "-" + std::to_string(i), Vec(static_cast<float>(t * 100 + i)), "")
                   .ok())
            failures[t]++;
      });
    for (auto& th : threads) th.join();
    for (int t = 0; t < 8; t++) EXPECT_EQ(failures[t], 0) << "thread " << t;
    EXPECT_TRUE(db->Close().ok());
  }
  auto db = Database::Open(path, {});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ((*db)->GetStats().count, 320u);
  for (int t = 0; t < 8; t++)
    for (int i = 0; i < 40; i++) {
      auto r = (*db)->Get("t" + std::to_string(t) + "-" + std::to_string(i));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->vector[0], static_cast<float>(t * 100 + i));
    }
}

}  // namespace
}  // namespace vdb
