#include "support/workload.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "recovery/checker.h"

namespace vdb::testing {

namespace fs = std::filesystem;

namespace {

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t Mix(uint64_t a, uint64_t b, uint64_t c = 0) { return SplitMix(SplitMix(SplitMix(a) ^ b) ^ c); }

bool MetadataEqual(const std::string& a, const std::string& b) {
  if (a == b) return true;
  if (a.empty() || b.empty()) return false;
  auto ja = nlohmann::json::parse(a, nullptr, false);
  auto jb = nlohmann::json::parse(b, nullptr, false);
  if (ja.is_discarded() || jb.is_discarded()) return false;
  return ja == jb;
}

std::string Abbrev(const std::string& s) { return s.size() <= 60 ? s : s.substr(0, 57) + "..."; }

// What a fatal signal prints: the workload op or crash state in progress, so
// an engine crash still names its seed and crash point.
char g_current_state[512] = "";

void OnFatalSignal(int sig) {
  const char prefix[] = "\n*** fatal signal in the crash harness at: ";
  ssize_t ignored = ::write(2, prefix, sizeof(prefix) - 1);
  ignored = ::write(2, g_current_state, std::strlen(g_current_state));
  ignored = ::write(2, "\n", 1);
  (void)ignored;
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void InstallSignalReporter() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) ::signal(sig, OnFatalSignal);
}

void SetCurrentState(const std::string& s) {
  size_t n = std::min(s.size(), sizeof(g_current_state) - 1);
  std::memcpy(g_current_state, s.data(), n);
  g_current_state[n] = '\0';
}

}  // namespace

std::string WorkloadOp::Describe() const {
  std::ostringstream os;
  switch (kind) {
    case Kind::kPut: os << "put " << batch.ops()[0].id; break;
    case Kind::kDelete: os << "delete " << batch.ops()[0].id; break;
    case Kind::kBatch: {
      size_t dels = 0;
      for (const auto& o : batch.ops()) dels += o.is_delete;
      os << "batch of " << batch.size() << " (" << dels << " deletes)";
      break;
    }
    case Kind::kCheckpoint: os << "checkpoint"; break;
    case Kind::kReopen: os << "reopen"; break;
    case Kind::kRepair: os << "repair (compact)"; break;
  }
  return os.str();
}

WorkloadGenerator::WorkloadGenerator(uint64_t seed, WorkloadOptions options)
    : opts_(options), rng_(SplitMix(seed)) {}

std::string WorkloadGenerator::PickAny() { return "k" + std::to_string(rng_() % opts_.id_space); }

std::string WorkloadGenerator::PickLive(const Model& model) {
  auto it = model.begin();
  std::advance(it, static_cast<long>(rng_() % model.size()));
  return it->first;
}

std::string WorkloadGenerator::MakeMetadata() {
  std::uniform_real_distribution<double> unit(0, 1);
  double r = unit(rng_);
  if (r < 0.15) return "";
  nlohmann::json j;
  j["n"] = counter_++;
  j["tag"] = "t" + std::to_string(rng_() % 5);
  if (unit(rng_) < opts_.large_metadata) {
    std::string blob(2000 + rng_() % 3000, 'a');
    for (auto& c : blob) c = "abcd"[rng_() % 4];
    j["blob"] = blob;
  }
  return j.dump();
}

Record WorkloadGenerator::MakeRecord(const std::string& id) {
  Record rec;
  rec.id = id;
  std::uniform_real_distribution<float> val(-1.0f, 1.0f);
  rec.vector.resize(opts_.dim);
  for (auto& x : rec.vector) x = val(rng_);
  rec.metadata = MakeMetadata();
  return rec;
}

WorkloadOp WorkloadGenerator::Next(const Model& model) {
  const double w[] = {opts_.put_new,   opts_.update,    opts_.metadata_only, opts_.remove, opts_.small_batch,
                      opts_.big_batch, opts_.checkpoint, opts_.reopen,        opts_.repair};
  constexpr int kKinds = sizeof(w) / sizeof(w[0]);
  double total = 0;
  for (double x : w) total += x;
  double r = std::uniform_real_distribution<double>(0, total)(rng_);
  int pick = 0;
  while (pick < kKinds - 1 && r >= w[pick]) r -= w[pick++];
  if (model.empty() && (pick == 1 || pick == 2 || pick == 3)) pick = 0;

  WorkloadOp op;
  switch (pick) {
    case 0:
    case 1: {
      Record rec = MakeRecord(pick == 0 ? PickAny() : PickLive(model));
      op.kind = WorkloadOp::Kind::kPut;
      op.batch.Put(rec.id, rec.vector, rec.metadata);
      return op;
    }
    case 2: {
      std::string id = PickLive(model);
      op.kind = WorkloadOp::Kind::kPut;
      op.batch.Put(id, model.at(id).vector, MakeMetadata());
      return op;
    }
    case 3:
      op.kind = WorkloadOp::Kind::kDelete;
      op.batch.Delete(PickLive(model));
      return op;
    case 6: op.kind = WorkloadOp::Kind::kCheckpoint; return op;
    case 7: op.kind = WorkloadOp::Kind::kReopen; return op;
    case 8: op.kind = WorkloadOp::Kind::kRepair; return op;
    default: break;
  }
  // A batch: distinct ids; deletes only of ids live at that point.
  size_t lo = pick == 4 ? 2 : opts_.big_batch_min;
  size_t hi = pick == 4 ? opts_.small_batch_max : opts_.big_batch_max;
  size_t n = lo + rng_() % (hi - lo + 1);
  op.kind = WorkloadOp::Kind::kBatch;
  std::set<std::string> used;
  for (size_t i = 0; i < n * 3 && op.batch.size() < n; i++) {
    bool del = !model.empty() && rng_() % 4 == 0;
    std::string id = del ? PickLive(model) : PickAny();
    if (!used.insert(id).second) continue;
    if (del) {
      op.batch.Delete(id);
    } else {
      Record rec = MakeRecord(id);
      op.batch.Put(rec.id, rec.vector, rec.metadata);
    }
  }
  return op;
}

void ApplyToModel(const WorkloadOp& op, Model* model) {
  if (!op.IsCommit()) return;
  for (const auto& o : op.batch.ops()) {
    if (o.is_delete) {
      model->erase(o.id);
    } else {
      (*model)[o.id] = Record{o.id, o.vector, o.metadata};
    }
  }
}

Status ExecuteOp(const WorkloadOp& op, const std::string& path, const OpenOptions& options,
                 std::unique_ptr<Database>* db) {
  if (!*db) return Status::InvalidArgument("no open database");
  switch (op.kind) {
    case WorkloadOp::Kind::kPut: {
      const auto& o = op.batch.ops()[0];
      return (*db)->Put(o.id, o.vector, o.metadata);
    }
    case WorkloadOp::Kind::kDelete: return (*db)->Delete(op.batch.ops()[0].id);
    case WorkloadOp::Kind::kBatch: return (*db)->Write(op.batch);
    case WorkloadOp::Kind::kCheckpoint: return (*db)->Checkpoint();
    case WorkloadOp::Kind::kRepair: return (*db)->Compact();
    case WorkloadOp::Kind::kReopen: {
      Status st = (*db)->Close();
      db->reset();
      if (!st.ok()) return st.WithContext("close");
      auto r = Database::Open(path, options);
      if (!r.ok()) return r.status().WithContext("reopen");
      *db = std::move(r).value();
      return Status::Ok();
    }
  }
  return Status::InvalidArgument("unknown op");
}

std::string DiffDatabase(const Database& db, const Model& model, const WorkloadOptions& options) {
  std::ostringstream err;
  int errors = 0;
  auto note = [&](const std::string& s) {
    if (errors++ < 4) err << "    " << s << "\n";
  };
  std::set<std::string> ids;
  for (uint32_t i = 0; i < options.id_space; i++) ids.insert("k" + std::to_string(i));
  for (const auto& [id, rec] : model) ids.insert(id);
  for (const std::string& id : ids) {
    auto got = db.Get(id);
    auto it = model.find(id);
    if (it == model.end()) {
      if (got.ok()) {
        note("id " + id + " is present, expected absent");
      } else if (!got.status().IsNotFound()) {
        note("Get(" + id + ") of an absent id: " + got.status().ToString());
      }
      continue;
    }
    if (!got.ok()) {
      note("id " + id + " is missing: " + got.status().ToString());
      continue;
    }
    const Record& want = it->second;
    if (got->id != id) note("Get(" + id + ") returned id " + got->id);
    if (got->vector.size() != want.vector.size() ||
        std::memcmp(got->vector.data(), want.vector.data(), want.vector.size() * sizeof(float)) != 0) {
      note("id " + id + " has a different vector");
    }
    if (!MetadataEqual(got->metadata, want.metadata))
      note("id " + id + " metadata " + Abbrev(got->metadata) + ", expected " + Abbrev(want.metadata));
  }
  Stats stats = db.GetStats();
  if (stats.count != model.size())
    note("Stats count " + std::to_string(stats.count) + ", expected " + std::to_string(model.size()));
  if (!model.empty() && errors == 0) {
    const Record& probe = model.begin()->second;
    SearchOptions so;
    so.k = std::min<size_t>(3, model.size());
    so.exact = true;
    auto hits = db.Search(probe.vector, so);
    if (!hits.ok()) {
      note("exact search failed: " + hits.status().ToString());
    } else if (hits->size() != so.k) {
      note("exact search returned " + std::to_string(hits->size()) + " hits, expected " +
           std::to_string(so.k));
    } else {
      for (const auto& h : *hits)
        if (!model.count(h.id)) note("exact search returned absent id " + h.id);
      if ((*hits)[0].score != 0.0f) note("exact search for " + probe.id + " did not find it at distance 0");
    }
    // The HNSW graph: on databases this small a healthy graph finds the
    // stored vector itself.
    so.exact = false;
    auto ann = db.Search(probe.vector, so);
    if (!ann.ok()) {
      note("HNSW search failed: " + ann.status().ToString());
    } else if (ann->empty() || (*ann)[0].score != 0.0f) {
      note("HNSW search for " + probe.id + " did not find it (" + std::to_string(ann->size()) + " hits)");
    } else {
      for (const auto& h : *ann)
        if (!model.count(h.id)) note("HNSW search returned absent id " + h.id);
    }
  }
  if (errors > 4) err << "    (" << errors - 4 << " more differences)\n";
  return err.str();
}

std::string VdbcheckProblems(const std::string& path) {
  recovery::CheckReport rep = recovery::CheckFile(path);
  if (rep.consistent()) return "";
  std::string out = "vdbcheck: " + rep.Summary();
  if (!rep.status.ok()) out += " (" + rep.status.ToString() + ")";
  size_t shown = 0;
  for (const recovery::Finding& f : rep.findings) {
    if (f.severity != recovery::Severity::kDamage) continue;
    if (shown++ == 3) break;
    out += "\n    " + f.code + " in " + f.structure + ": " + f.message;
  }
  return out;
}

bool HarnessCheckerEnabled() { return EnvU64("VDB_HARNESS_CHECKER", 1) != 0; }

CreateOptions HarnessCreateOptions(const WorkloadOptions& options) {
  CreateOptions co;
  co.dim = options.dim;
  co.metric = Metric::kL2;
  co.hnsw_m = 8;
  co.hnsw_ef_construction = 32;
  return co;
}

OpenOptions HarnessOpenOptions(Env* env) {
  OpenOptions oo;
  oo.env = env;
  oo.sync = SyncMode::kFull;
  oo.checkpoint_wal_bytes = 48 << 10;
  oo.map_size = 1ull << 30;
  return oo;
}

uint64_t EnvU64(const char* name, uint64_t dflt) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return dflt;
  char* end = nullptr;
  unsigned long long x = std::strtoull(v, &end, 10);
  return (end && *end == '\0') ? x : dflt;
}

std::string HarnessScratchDir(const std::string& name) {
  std::string base;
  if (const char* v = std::getenv("VDB_HARNESS_DIR"); v && *v) {
    base = v;
  } else if (fs::is_directory("/dev/shm")) {
    base = "/dev/shm";
  } else {
    base = fs::temp_directory_path().string();
  }
  static std::string* process_dir = nullptr;
  if (process_dir == nullptr) {
    // Removed at exit (children leave through _exit and never run this).
    process_dir = new std::string(base + "/vdb_harness_" + std::to_string(::getpid()));
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(*process_dir, ec);
    });
  }
  std::string dir = *process_dir + "/" + name;
  std::error_code ec;
  fs::create_directories(dir, ec);
  return dir;
}

// --- Crash simulation ---

namespace {

struct CommitSpan {
  uint64_t begin = 0;  // op count before the call
  uint64_t end = 0;    // op count after it returned Ok
  Model after;
  std::string what;
};

struct Expectation {
  const Model* acked = nullptr;
  // The commits in flight, in commit order (one, or with pipelined submits
  // more): a crash may keep any prefix of them, each entirely.
  std::vector<const CommitSpan*> inflight;
};

// Which states a crash after the first p ops may show.
Expectation ExpectAt(const std::vector<CommitSpan>& commits, const Model& empty, uint64_t p) {
  Expectation e;
  e.acked = &empty;
  for (const CommitSpan& c : commits) {
    if (c.end <= p) {
      e.acked = &c.after;
      e.inflight.clear();  // an acknowledged commit settles every earlier one
    } else if (c.begin < p) {
      e.inflight.push_back(&c);
    }
  }
  return e;
}

// Opens path with the default Env and checks it against e. Returns "" or
// what is wrong; on success *db holds the open database and *matched the
// model it equals.
std::string CheckRecovered(const std::string& path, const Expectation& e, const WorkloadOptions& wo,
                           std::unique_ptr<Database>* db, Model* matched) {
  OpenOptions oo = HarnessOpenOptions(nullptr);
  auto r = Database::Open(path, oo);
  if (!r.ok()) return "open after crash failed: " + r.status().ToString();
  *db = std::move(r).value();
  std::string d1 = DiffDatabase(**db, *e.acked, wo);
  if (d1.empty()) {
    *matched = *e.acked;
    return "";
  }
  if (!e.inflight.empty()) {
    std::string diffs;
    for (const CommitSpan* c : e.inflight) {
      std::string d2 = DiffDatabase(**db, c->after, wo);
      if (d2.empty()) {
        *matched = c->after;
        return "";
      }
      diffs += "  vs acknowledged + in-flight up to (" + c->what + "):\n" + d2;
    }
    return "state is neither the acknowledged one nor it plus a prefix of the " +
           std::to_string(e.inflight.size()) + " in-flight commit(s)\n  vs acknowledged:\n" + d1 + diffs;
  }
  return "acknowledged state differs (no commit in flight):\n" + d1;
}

class CrashSim {
 public:
  explicit CrashSim(const CrashSimConfig& c) : cfg_(c) {}

  CrashSimResult Run() {
    InstallSignalReporter();
    std::string scratch = cfg_.scratch.empty() ? HarnessScratchDir("crash_sim") : cfg_.scratch;
    std::error_code ec;
    fs::remove_all(scratch, ec);
    db_dir_ = scratch + "/db";
    crash_dir_ = scratch + "/crash";
    crash2_dir_ = scratch + "/crash2";
    fs::create_directories(db_dir_, ec);
    const std::string path = db_dir_ + "/test.vdb";

    FaultEnv env(Env::Default(), db_dir_);
    OpenOptions oo = HarnessOpenOptions(&env);
    auto created = Database::Create(path, HarnessCreateOptions(cfg_.workload), oo);
    if (!created.ok()) {
      Violation(0, "-", "create failed: " + created.status().ToString(), env);
      return std::move(res_);
    }
    std::unique_ptr<Database> db = std::move(created).value();
    const uint64_t create_end = env.OpCount();

    std::vector<CommitSpan> commits;
    Model model;
    WorkloadGenerator gen(cfg_.seed, cfg_.workload);
    // Pipelined mode: a batch is Submitted and acknowledged only when Wait
    // for it returns, after the next batch was submitted (or before any
    // other op); until then its span stays open.
    struct Submitted {
      uint64_t seq;
      size_t commit;  // index in commits
    };
    std::optional<Submitted> waiting;
    auto settle = [&]() -> Status {
      if (!waiting) return Status::Ok();
      Status st = db->Wait(waiting->seq);
      commits[waiting->commit].end = env.OpCount();
      waiting.reset();
      return st;
    };
    for (size_t i = 0; i < cfg_.ops && db; i++) {
      WorkloadOp op = gen.Next(model);
      SetCurrentState("seed=" + std::to_string(cfg_.seed) + " workload op " + std::to_string(i) + " (" +
                      op.Describe() + "), before any crash (replay: VDB_CRASH_SEED=" + std::to_string(cfg_.seed) +
                      ")");
      uint64_t begin = env.OpCount();
      Status st;
      if (cfg_.pipelined && op.kind == WorkloadOp::Kind::kBatch) {
        auto seq = db->Submit(op.batch);
        st = seq.status();
        if (st.ok()) {
          st = settle();
          ApplyToModel(op, &model);
          commits.push_back({begin, ~uint64_t{0}, model, op.Describe() + " (submitted)"});
          waiting = Submitted{*seq, commits.size() - 1};
        }
      } else {
        st = settle();
        begin = env.OpCount();
        if (st.ok()) st = ExecuteOp(op, path, oo, &db);
        if (st.ok() && op.IsCommit()) {
          ApplyToModel(op, &model);
          commits.push_back({begin, env.OpCount(), model, op.Describe()});
        }
      }
      if (!st.ok()) {
        Violation(env.OpCount(), "-", "workload op " + op.Describe() + " failed: " + st.ToString(), env);
        return std::move(res_);
      }
    }
    if (db) {
      Status st = settle();
      if (!st.ok()) Violation(env.OpCount(), "-", "wait failed: " + st.ToString(), env);
    }
    if (db) {
      Status st = db->Close();
      if (!st.ok()) Violation(env.OpCount(), "-", "close failed: " + st.ToString(), env);
      db.reset();
    }
    res_.commits = commits.size();
    res_.ops_logged = env.OpCount();
    if (EnvU64("VDB_CRASH_DUMP_LOG", 0) != 0) {
      std::printf("op log of seed %llu (commits end at:", static_cast<unsigned long long>(cfg_.seed));
      for (const CommitSpan& c : commits) std::printf(" %llu", static_cast<unsigned long long>(c.end));
      std::printf(")\n%s", env.DescribeOpsBefore(env.OpCount(), env.OpCount()).c_str());
    }

    std::set<uint64_t> points;
    std::mt19937_64 rng(Mix(cfg_.seed, 0xc4a5));
    for (uint64_t i : env.SyncOpIndices()) {
      points.insert(i);
      points.insert(i + 1);
    }
    for (size_t i = 0; i < cfg_.random_points; i++) points.insert(rng() % (env.OpCount() + 1));
    if (cfg_.only_point >= 0) points = {static_cast<uint64_t>(cfg_.only_point)};

    const Model empty;
    size_t state_no = 0;
    for (uint64_t p : points) {
      std::vector<size_t> pols(cfg_.policies.size());
      for (size_t i = 0; i < pols.size(); i++) pols[i] = i;
      std::mt19937_64 prng(Mix(cfg_.seed, p, 0x9071));
      std::shuffle(pols.begin(), pols.end(), prng);
      if (cfg_.policies_per_point < pols.size()) pols.resize(cfg_.policies_per_point);
      for (size_t pi : pols) {
        if (res_.violations.size() >= cfg_.max_violations) return std::move(res_);
        const CrashPolicy& policy = cfg_.policies[pi];
        const bool second = cfg_.second_crash_every > 0 && ++state_no % cfg_.second_crash_every == 0;
        CheckState(env, p, policy, pi, p < create_end, ExpectAt(commits, empty, p), second);
      }
    }
    fs::remove_all(scratch, ec);
    return std::move(res_);
  }

 private:
  void Violation(uint64_t p, const std::string& policy, const std::string& what, const FaultEnv& env) {
    std::ostringstream os;
    os << "seed=" << cfg_.seed << " crash_point=" << p << " policy=" << policy << ": " << what
       << "\n  last ops before the crash point:\n"
       << env.DescribeOpsBefore(p, 6) << "  replay: VDB_CRASH_SEED=" << cfg_.seed << " VDB_CRASH_POINT=" << p;
    res_.violations.push_back(os.str());
  }

  void CheckState(const FaultEnv& env, uint64_t p, const CrashPolicy& policy, size_t pi, bool during_create,
                  const Expectation& expect, bool second) {
    SetCurrentState("seed=" + std::to_string(cfg_.seed) + " crash_point=" + std::to_string(p) +
                    " policy=" + policy.name + " (replay: VDB_CRASH_SEED=" + std::to_string(cfg_.seed) +
                    " VDB_CRASH_POINT=" + std::to_string(p) + ")");
    std::mt19937_64 rng(Mix(cfg_.seed, p, pi));
    CrashStats stats;
    Status st = env.MaterializeCrash(p, policy, rng, crash_dir_, &stats);
    if (!st.ok()) {
      Violation(p, policy.name, "materialize failed: " + st.ToString(), env);
      return;
    }
    res_.states++;
    const std::string path = crash_dir_ + "/test.vdb";
    if (during_create) {
      // A crash inside Create: the file may be unusable, but opening it must
      // fail cleanly or give an empty database.
      auto r = Database::Open(path, HarnessOpenOptions(nullptr));
      if (r.ok()) {
        std::string d = DiffDatabase(**r, Model{}, cfg_.workload);
        if (!d.empty()) Violation(p, policy.name, "crash during create opened non-empty:\n" + d, env);
        (void)(*r)->Close();
      }
      return;
    }
    if (cfg_.run_checker) {
      std::string damage = VdbcheckProblems(path);
      if (!damage.empty()) {
        Violation(p, policy.name, damage + "  [" + stats.ToString() + "]", env);
        return;
      }
    }
    std::unique_ptr<Database> db;
    Model matched;
    std::string bad = CheckRecovered(path, expect, cfg_.workload, &db, &matched);
    if (!bad.empty()) {
      Violation(p, policy.name, bad + "  [" + stats.ToString() + "]", env);
      return;
    }
    if (!second) {
      // The recovered database takes a new write and closes cleanly.
      WorkloadGenerator gen(Mix(cfg_.seed, p, 0x7e57), cfg_.workload);
      WorkloadOp op = gen.Next(matched);
      if (op.IsCommit()) {
        Status ws = ExecuteOp(op, path, HarnessOpenOptions(nullptr), &db);
        if (!ws.ok()) {
          Violation(p, policy.name, "write after recovery failed: " + ws.ToString(), env);
          return;
        }
      }
      Status cs = db->Close();
      if (!cs.ok()) Violation(p, policy.name, "close after recovery failed: " + cs.ToString(), env);
      return;
    }
    (void)db->Close();
    db.reset();
    // Rebuild the same crash state (same seed), untouched by recovery, so the
    // second run also crashes inside recovery.
    std::mt19937_64 again(Mix(cfg_.seed, p, pi));
    st = env.MaterializeCrash(p, policy, again, crash_dir_);
    if (!st.ok()) {
      Violation(p, policy.name, "materialize failed: " + st.ToString(), env);
      return;
    }
    SecondCrash(env, p, policy, matched);
  }

  // Runs a few commits on the recovered state through a second FaultEnv,
  // crashes that run at a random point, and checks again.
  void SecondCrash(const FaultEnv& env1, uint64_t p1, const CrashPolicy& policy1, const Model& start) {
    const std::string path = crash_dir_ + "/test.vdb";
    FaultEnv env(Env::Default(), crash_dir_);
    OpenOptions oo = HarnessOpenOptions(&env);
    auto r = Database::Open(path, oo);
    const std::string where = policy1.name + " then second crash";
    if (!r.ok()) {
      Violation(p1, where, "reopen for second run failed: " + r.status().ToString(), env1);
      return;
    }
    std::unique_ptr<Database> db = std::move(r).value();
    std::vector<CommitSpan> commits;
    Model model = start;
    WorkloadGenerator gen(Mix(cfg_.seed, p1, 0x5ec0), cfg_.workload);
    for (int i = 0; i < 6 && db; i++) {
      WorkloadOp op = gen.Next(model);
      uint64_t begin = env.OpCount();
      Status st = ExecuteOp(op, path, oo, &db);
      if (!st.ok()) {
        Violation(p1, where, "op " + op.Describe() + " after recovery failed: " + st.ToString(), env1);
        return;
      }
      if (op.IsCommit()) {
        ApplyToModel(op, &model);
        commits.push_back({begin, env.OpCount(), model, op.Describe()});
      }
    }
    db.reset();  // abandoned without Close: the log ends mid-life
    std::mt19937_64 rng(Mix(cfg_.seed, p1, 0x2));
    std::vector<uint64_t> syncs = env.SyncOpIndices();
    uint64_t p2 = rng() % (env.OpCount() + 1);
    if (!syncs.empty() && rng() % 2 == 0) p2 = syncs[rng() % syncs.size()] + rng() % 2;
    const CrashPolicy& policy2 = cfg_.policies[rng() % cfg_.policies.size()];
    CrashStats stats;
    Status st = env.MaterializeCrash(p2, policy2, rng, crash2_dir_, &stats);
    if (!st.ok()) {
      Violation(p1, where, "materialize failed: " + st.ToString(), env1);
      return;
    }
    res_.second_level_states++;
    res_.states++;
    Expectation e = ExpectAt(commits, start, p2);
    if (cfg_.run_checker) {
      std::string damage = VdbcheckProblems(crash2_dir_ + "/test.vdb");
      if (!damage.empty()) {
        Violation(p1, where, "second crash at point " + std::to_string(p2) + " (" + policy2.name + "): " + damage,
                  env1);
        return;
      }
    }
    std::unique_ptr<Database> db2;
    Model matched;
    std::string bad = CheckRecovered(crash2_dir_ + "/test.vdb", e, cfg_.workload, &db2, &matched);
    if (!bad.empty()) {
      Violation(p1, where,
                "second crash at point " + std::to_string(p2) + " (" + policy2.name + "): " + bad + "  last ops:\n" +
                    env.DescribeOpsBefore(p2, 6),
                env1);
      return;
    }
    Status cs = db2->Close();
    if (!cs.ok()) Violation(p1, where, "close after second recovery failed: " + cs.ToString(), env1);
  }

  const CrashSimConfig& cfg_;
  CrashSimResult res_;
  std::string db_dir_, crash_dir_, crash2_dir_;
};

}  // namespace

CrashSimResult RunCrashSim(const CrashSimConfig& config) { return CrashSim(config).Run(); }

}  // namespace vdb::testing
