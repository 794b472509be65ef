// Readers running while a writer commits: they never block, never see a
// torn record or an uncommitted one, and group commit keeps every commit.
// Also built with ThreadSanitizer in CI (tools/test.sh --sanitize).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.h"
#include "support/test_db.h"
#include "vdb/db.h"

namespace vdb {
namespace {

using testing::TempDir;

constexpr uint32_t kDim = 16;

bool Small() {
  const char* s = std::getenv("VDB_TEST_SCALE");
  return s != nullptr && std::string(s) == "small";
}

// Every component of version v of a record derives from v, so a reader that
// mixed two versions (a torn read) would see components disagree.
std::vector<float> VersionVector(int v) {
  std::vector<float> x(kDim);
  for (uint32_t j = 0; j < kDim; j++) x[j] = static_cast<float>(v) + static_cast<float>(j) * 0.5f;
  return x;
}

// Version v of key k: distinct per key, every component derived from (k, v).
std::vector<float> KeyVector(int k, int v) {
  std::vector<float> x = VersionVector(v);
  x[0] += static_cast<float>(k) * 1000.0f;
  return x;
}

std::unique_ptr<Database> Create(const std::string& path, OpenOptions o = {}) {
  return testing::MustCreate(path, kDim, Metric::kL2, o);
}

TEST(Concurrency, ReadersNeverSeeTornOrUncommittedRecords) {
  TempDir dir;
  OpenOptions o;
  o.sync = SyncMode::kNone;  // many commits quickly; visibility rules are the same
  o.checkpoint_wal_bytes = 1 << 20;  // checkpoints happen while readers read
  o.index_batch = 64;                // rounds alternate: records on the unindexed list, then linked
  auto db = Create(dir.File("c.vdb"), o);
  const int kKeys = 50;
  const int kRounds = Small() ? 20 : 60;
  for (int k = 0; k < kKeys; k++) ASSERT_TRUE(db->Put("k" + std::to_string(k), KeyVector(k, 0), R"({"v":0})").ok());

  std::atomic<bool> stop{false};
  std::atomic<int> committed_round{0};
  std::atomic<uint64_t> bad{0}, reads{0};
  std::thread writer([&] {
    for (int r = 1; r <= kRounds; r++) {
      WriteBatch b;  // all keys move to version r atomically
      for (int k = 0; k < kKeys; k++)
        b.Put("k" + std::to_string(k), KeyVector(k, r), "{\"v\":" + std::to_string(r) + "}");
      Status ws = db->Write(b);
      if (!ws.ok() && bad++ < 3) ADD_FAILURE() << "write: " << ws.ToString();
      committed_round = r;
      if (r % 10 == 0) (void)db->Delete("k0"), (void)db->Put("k0", KeyVector(0, r), "{\"v\":" + std::to_string(r) + "}");
    }
    stop = true;
  });
  auto reader = [&] {
    while (!stop) {
      int floor_round = committed_round.load();
      for (int k = 1; k < kKeys; k += 7) {
        auto rec = db->Get("k" + std::to_string(k));
        if (!rec.ok()) {
          if (bad++ < 3) ADD_FAILURE() << "get: " << rec.status().ToString();
          continue;
        }
        int v = static_cast<int>(rec->vector[1] - 0.5f);
        rec->vector[0] -= static_cast<float>(k) * 1000.0f;
        for (uint32_t j = 0; j < kDim; j++)
          if (rec->vector[j] != static_cast<float>(v) + static_cast<float>(j) * 0.5f) {
            if (bad++ < 3) ADD_FAILURE() << "torn vector of k" << k << " at " << j;
            break;
          }
        auto meta = nlohmann::json::parse(rec->metadata, nullptr, false);
        if (!meta.is_object() || meta["v"] != v) {
          if (bad++ < 3) ADD_FAILURE() << "metadata " << rec->metadata << " for vector version " << v;
        }
        if (v < floor_round || v > kRounds) {  // older than a returned commit, or invented
          if (bad++ < 3) ADD_FAILURE() << "version " << v << " below committed round " << floor_round;
        }
        reads++;
      }
      SearchOptions so;
      so.k = 5;
      so.exact = (reads % 2) == 0;
      auto hits = db->Search(KeyVector(7, committed_round.load()), so);
      if (!hits.ok() || hits->empty()) {
        if (bad++ < 3) ADD_FAILURE() << "search: " << (hits.ok() ? "no hits" : hits.status().ToString());
      } else if ((*hits)[0].id != "k7") {  // keys lie 1000 apart; versions of one key within kRounds
        if (bad++ < 3) ADD_FAILURE() << "search for k7 (" << (so.exact ? "exact" : "hnsw") << ") found " << (*hits)[0].id;
      }
    }
  };
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; i++) readers.emplace_back(reader);
  writer.join();
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(reads.load(), 0u);
  EXPECT_EQ(db->GetStats().count, static_cast<uint64_t>(kKeys));
}

TEST(Concurrency, ConcurrentCommittersAllLand) {
  TempDir dir;
  std::string path = dir.File("g.vdb");
  const int kThreads = 16;
  const int kPerThread = Small() ? 5 : 20;
  {
    auto db = Create(path);
    std::vector<std::thread> ts;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; t++) {
      ts.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; i++)
          if (!db->Put("t" + std::to_string(t) + "-" + std::to_string(i), VersionVector(t * 100 + i)).ok()) failures++;
      });
    }
    for (auto& th : ts) th.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(db->GetStats().count, static_cast<uint64_t>(kThreads * kPerThread));
    ASSERT_TRUE(db->Close().ok());
  }
  auto db = Database::Open(path, {});
  ASSERT_TRUE(db.ok());
  for (int t = 0; t < kThreads; t++)
    for (int i = 0; i < kPerThread; i++) {
      auto r = (*db)->Get("t" + std::to_string(t) + "-" + std::to_string(i));
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r->vector, VersionVector(t * 100 + i));
    }
}

TEST(Concurrency, ReadersSeeSubmittedBatchesWholeAndInOrder) {
  // Submit returns before its commit is durable; the log thread publishes
  // commits while the submitter applies the next batch. A reader must see
  // whole batches only, in submission order, and each by the time Wait for
  // it returned.
  TempDir dir;
  OpenOptions o;
  o.checkpoint_wal_bytes = 256 << 10;  // checkpoints among the submits
  auto db = Create(dir.File("p.vdb"), o);
  const int kBatch = 260;  // linked by its own commit (256 or more)
  const int kBatches = Small() ? 6 : 16;
  std::atomic<bool> stop{false};
  std::atomic<int> waited{0};  // batches whose Wait returned
  std::atomic<uint64_t> bad{0}, reads{0};
  std::thread reader([&] {
    uint64_t last = 0;
    while (!stop) {
      const int floor_batches = waited.load();
      const uint64_t n = db->GetStats().count;
      if (n % kBatch != 0 || n < last || n < static_cast<uint64_t>(floor_batches) * kBatch) {
        if (bad++ < 3) ADD_FAILURE() << "count " << n << " after " << last << " with " << floor_batches
                                     << " batches waited for";
      }
      last = n;
      // The newest batch seen is whole: its first and last rows are there.
      if (n > 0) {
        const uint64_t b = n / kBatch - 1;
        for (uint64_t r : {b * kBatch, b * kBatch + kBatch - 1}) {
          auto rec = db->Get("b" + std::to_string(r));
          if (!rec.ok() && bad++ < 3) ADD_FAILURE() << "row " << r << " of a visible batch: " << rec.status().ToString();
        }
      }
      reads++;
    }
  });
  uint64_t prev = 0;
  for (int i = 0; i < kBatches; i++) {
    WriteBatch b;
    for (int r = i * kBatch; r < (i + 1) * kBatch; r++) b.Put("b" + std::to_string(r), VersionVector(r));
    auto seq = db->Submit(b);
    ASSERT_TRUE(seq.ok()) << seq.status().ToString();
    if (prev != 0) {
      ASSERT_TRUE(db->Wait(prev).ok());
      waited = i;
    }
    prev = *seq;
  }
  ASSERT_TRUE(db->Wait(prev).ok());
  waited = kBatches;
  // Let the reader look at the final state too.
  const uint64_t seen = reads.load();
  while (reads.load() < seen + 2) std::this_thread::yield();
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_EQ(db->GetStats().count, static_cast<uint64_t>(kBatches) * kBatch);
}

TEST(Concurrency, SnapshotSurvivesCheckpointUnderReader) {
  TempDir dir;
  auto db = Create(dir.File("s.vdb"));
  ASSERT_TRUE(db->Put("a", VersionVector(1)).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::string first_bad;  // written by the reader only, read after join
  std::thread reader([&] {
    while (!stop) {
      auto r = db->Get("a");
      if (!r.ok() || r->vector[1] != r->vector[0] + 0.5f) {
        if (bad++ == 0) {
          first_bad = r.ok() ? "torn vector " + std::to_string(r->vector[0]) + ", " + std::to_string(r->vector[1])
                             : r.status().ToString();
        }
      }
    }
  });
  for (int i = 2; i < (Small() ? 10 : 40); i++) {
    ASSERT_TRUE(db->Put("a", VersionVector(i)).ok());
    ASSERT_TRUE(db->Checkpoint().ok());
  }
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0) << "first: " << first_bad;
}

// A search whose filter holds the read open until Release(): a read call in
// progress, with its snapshot, for as long as a test needs one.
class HeldRead {
 public:
  explicit HeldRead(Database* db) {
    thread_ = std::thread([this, db] {
      SearchOptions so;
      so.k = 1;
      so.exact = true;
      so.filter = [this](uint32_t) {
        std::unique_lock<std::mutex> l(mu_);
        entered_ = true;
        cv_.notify_all();
        cv_.wait(l, [this] { return released_; });
        return true;
      };
      auto r = db->Search(VersionVector(0), so);
      ok_ = r.ok() && r->size() == 1 && (*r)[0].id == "a";
    });
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return entered_; });
  }
  ~HeldRead() { Release(); }
  // Lets the search finish; true if it returned record "a".
  bool Release() {
    {
      std::lock_guard<std::mutex> l(mu_);
      released_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    return ok_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false, released_ = false;
  bool ok_ = false;
  std::thread thread_;
};

// A read that began before a commit may be reading pages of that commit's
// predecessor straight from the map: the checkpoint must not overwrite them
// in the file until that read has finished.
TEST(Concurrency, CheckpointWaitsForAnOlderReadInProgress) {
  TempDir dir;
  auto db = Create(dir.File("w.vdb"));
  ASSERT_TRUE(db->Put("a", VersionVector(1)).ok());
  ASSERT_TRUE(db->Checkpoint().ok());  // the map holds every page; no versions chained
  HeldRead read(db.get());             // snapshot: commit 1
  ASSERT_TRUE(db->Put("a", VersionVector(2)).ok());
  auto checkpoint = std::async(std::launch::async, [&] { return db->Checkpoint(); });
  EXPECT_EQ(checkpoint.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
      << "the checkpoint overwrote pages an older read in progress may be reading";
  EXPECT_TRUE(read.Release());
  EXPECT_TRUE(checkpoint.get().ok());
  auto r = db->Get("a");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->vector, VersionVector(2));
}

// Readers of the newest state read no page the checkpoint changes from the
// map: the checkpoint does not wait for them.
TEST(Concurrency, CheckpointDoesNotWaitForReadsOfTheNewestState) {
  TempDir dir;
  auto db = Create(dir.File("n.vdb"));
  ASSERT_TRUE(db->Put("a", VersionVector(1)).ok());
  ASSERT_TRUE(db->Checkpoint().ok());
  ASSERT_TRUE(db->Put("a", VersionVector(2)).ok());
  HeldRead read(db.get());  // snapshot: commit 2, the newest
  auto checkpoint = std::async(std::launch::async, [&] { return db->Checkpoint(); });
  const bool finished = checkpoint.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  EXPECT_TRUE(finished) << "the checkpoint waited for a read of the newest state";
  EXPECT_TRUE(read.Release());
  EXPECT_TRUE(checkpoint.get().ok());
}

// A filter runs inside a read call; a write from it could wait for that very
// read (through the checkpoint), so it is refused with a clear error.
TEST(Concurrency, WriteFromInsideASearchFilterIsRefused) {
  TempDir dir;
  auto db = Create(dir.File("f.vdb"));
  ASSERT_TRUE(db->Put("a", VersionVector(1)).ok());
  Status put, checkpoint, close;
  Result<Record> get = Status::NotFound("not called");
  SearchOptions so;
  so.exact = true;
  so.filter = [&](uint32_t) {
    put = db->Put("b", VersionVector(2));
    checkpoint = db->Checkpoint();
    close = db->Close();
    get = db->Get("a");  // reading is fine
    return true;
  };
  ASSERT_TRUE(db->Search(VersionVector(1), so).ok());
  EXPECT_EQ(put.code(), Status::Code::kInvalidArgument) << put.ToString();
  EXPECT_NE(put.ToString().find("search filter"), std::string::npos) << put.ToString();
  EXPECT_EQ(checkpoint.code(), Status::Code::kInvalidArgument) << checkpoint.ToString();
  EXPECT_EQ(close.code(), Status::Code::kInvalidArgument) << close.ToString();
  EXPECT_TRUE(get.ok()) << get.status().ToString();
  // Outside the filter, writes work as before.
  EXPECT_TRUE(db->Put("b", VersionVector(2)).ok());
  EXPECT_FALSE(db->Get("b").status().IsNotFound());
}

// A multi-threaded exact scan calls the filter on its worker threads too: a
// write from there is refused the same way.
TEST(Concurrency, WriteFromAScanWorkersFilterIsRefused) {
  TempDir dir;
  CreateOptions c;
  c.dim = 4096;  // 512+ records of 4096 floats: enough work for two scan threads
  c.metric = Metric::kL2;
  OpenOptions o;
  o.index_batch = 1022;  // stay on the unindexed list: no HNSW build needed
  auto created = Database::Create(dir.File("t.vdb"), c, o);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  auto db = std::move(*created);
  for (int b = 0; b < 3; b++) {
    WriteBatch batch;
    for (int i = 0; i < 200; i++) batch.Put("r" + std::to_string(b * 200 + i), std::vector<float>(c.dim, float(i)));
    ASSERT_TRUE(db->Write(batch).ok());
  }
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::vector<Status> puts;
  SearchOptions so;
  so.exact = true;
  so.threads = 2;
  so.filter = [&](uint32_t slot) {
    std::lock_guard<std::mutex> l(mu);
    if (threads.insert(std::this_thread::get_id()).second) puts.push_back(db->Put("x" + std::to_string(slot), std::vector<float>(c.dim, 1.0f)));
    return true;
  };
  ASSERT_TRUE(db->Search(std::vector<float>(c.dim, 0.0f), so).ok());
  ASSERT_EQ(threads.size(), 2u) << "the scan did not run on two threads";
  for (const Status& s : puts) EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
}

}  // namespace
}  // namespace vdb
