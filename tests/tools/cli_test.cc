// The vdb command line, run as a user would: the exact commands other
// tooling depends on, their output formats, and clear failures.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "support/temp_dir.h"

namespace vdb {
namespace {

using nlohmann::json;
using testing::TempDir;

struct CmdResult {
  int code = -1;
  std::string out;  // stdout (stderr is appended when merge_err)
};

CmdResult Vdb(const std::string& args, bool merge_err = false) {
  std::string cmd = std::string(VDB_BINARY_DIR) + "/tools/vdb " + args + (merge_err ? " 2>&1" : " 2>/dev/null");
  CmdResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) v.push_back(l);
  return v;
}

std::string Q(const std::string& s) { return "'" + s + "'"; }

TEST(Cli, ImportFvecsPrintsEveryDurableCommit) {
  TempDir dir;
  std::string db = dir.File("s.vdb");
  ASSERT_EQ(Vdb("create " + db + " --dim 128 --metric l2").code, 0);
  CmdResult r = Vdb("import " + db + " " + std::string(VDB_SHARED_DIR) + "/datasets/siftsmall/siftsmall_base.fvecs --batch 3000 --print-commits");
  ASSERT_EQ(r.code, 0);
  EXPECT_EQ(Lines(r.out), (std::vector<std::string>{"committed 3000", "committed 6000", "committed 9000", "committed 10000"}));
  CmdResult st = Vdb("stats " + db + " --json");
  ASSERT_EQ(st.code, 0);
  json j = json::parse(st.out);
  EXPECT_EQ(j["count"], 10000);
  EXPECT_EQ(j["dim"], 128);
  EXPECT_EQ(j["metric"], "l2");
  EXPECT_GT(j["file_bytes"].get<uint64_t>(), 10000u * 512);
  EXPECT_TRUE(j.contains("wal_bytes"));
  EXPECT_GT(j["hnsw"]["levels"].get<int>(), 0);
}

TEST(Cli, KilledImportKeepsEveryPrintedCommitAndWholeBatchesOnly) {
  // vdb import pipelines its batches (Submit, then Wait after the next one
  // is submitted); "committed N" must still mean N rows are durable. The
  // import is SIGKILLed after its third line; the file must hold a whole
  // number of batches, rows 0..count-1, and at least the printed count.
  TempDir dir;
  std::string db = dir.File("k.vdb");
  ASSERT_EQ(Vdb("create " + db + " --dim 128 --metric l2").code, 0);
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    ::close(out[1]);
    const std::string vdb = std::string(VDB_BINARY_DIR) + "/tools/vdb";
    const std::string input = std::string(VDB_SHARED_DIR) + "/datasets/siftsmall/siftsmall_base.fvecs";
    ::execl(vdb.c_str(), vdb.c_str(), "import", db.c_str(), input.c_str(), "--batch", "500", "--print-commits",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  FILE* f = ::fdopen(out[0], "r");
  ASSERT_NE(f, nullptr);
  char line[256];
  uint64_t printed = 0;
  int lines = 0;
  while (lines < 3 && std::fgets(line, sizeof(line), f) != nullptr) {
    unsigned long long n = 0;
    ASSERT_EQ(std::sscanf(line, "committed %llu", &n), 1) << line;
    EXPECT_GT(n, printed);
    printed = n;
    lines++;
  }
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  std::fclose(f);
  ASSERT_EQ(lines, 3) << "the import ended before printing three commits";
  ASSERT_TRUE(WIFSIGNALED(st));
  CmdResult stats = Vdb("stats " + db + " --json");
  ASSERT_EQ(stats.code, 0);
  const uint64_t count = json::parse(stats.out)["count"].get<uint64_t>();
  EXPECT_GE(count, printed);
  EXPECT_EQ(count % 500, 0u) << "a batch was kept in part";
  for (uint64_t row : {uint64_t{0}, count / 2, count - 1}) {
    EXPECT_EQ(Vdb("get " + db + " " + std::to_string(row)).code, 0) << "row " << row << " of " << count;
  }
  EXPECT_NE(Vdb("get " + db + " " + std::to_string(count)).code, 0) << "row past the count";
}

TEST(Cli, SearchPrintsOneJsonLinePerQueryBestFirst) {
  TempDir dir;
  std::string db = dir.File("s.vdb");
  std::ofstream(dir.File("in.jsonl")) << R"({"id": "a", "vector": [0, 0], "metadata": {"k": 1}})" "\n"
                                      << R"({"id": "b", "vector": [5, 5]})" "\n"
                                      << R"({"id": "c", "vector": [1, 0]})" "\n";
  std::ofstream(dir.File("q.jsonl")) << R"({"vector": [0.9, 0]})" "\n" << R"({"vector": [5, 4]})" "\n";
  ASSERT_EQ(Vdb("create " + db + " --dim 2 --metric l2").code, 0);
  ASSERT_EQ(Vdb("import " + db + " " + dir.File("in.jsonl")).code, 0);
  for (const char* mode : {"", " --exact"}) {
    CmdResult r = Vdb("search " + db + " --queries " + dir.File("q.jsonl") + " --k 2" + mode);
    ASSERT_EQ(r.code, 0);
    auto lines = Lines(r.out);
    ASSERT_EQ(lines.size(), 2u);
    json a = json::parse(lines[0]), b = json::parse(lines[1]);
    EXPECT_EQ(a["ids"], json({"c", "a"}));
    EXPECT_EQ(b["ids"][0], "b");
    EXPECT_LE(a["scores"][0].get<double>(), a["scores"][1].get<double>());
  }
}

TEST(Cli, GetPrintsIdVectorMetadataAndDeleteRemoves) {
  TempDir dir;
  std::string db = dir.File("s.vdb");
  std::ofstream(dir.File("in.jsonl")) << R"({"id": "a", "vector": [1.5, -2], "metadata": {"topic": "x"}})" "\n"
                                      << R"({"id": "b", "vector": [3, 4]})" "\n";
  ASSERT_EQ(Vdb("create " + db + " --dim 2 --metric cosine").code, 0);
  ASSERT_EQ(Vdb("import " + db + " " + dir.File("in.jsonl")).code, 0);
  CmdResult g = Vdb("get " + db + " a");
  ASSERT_EQ(g.code, 0);
  json j = json::parse(g.out);
  EXPECT_EQ(j["id"], "a");
  EXPECT_EQ(j["vector"], json({1.5, -2.0}));
  EXPECT_EQ(j["metadata"], json({{"topic", "x"}}));
  ASSERT_EQ(Vdb("delete " + db + " a").code, 0);
  CmdResult gone = Vdb("get " + db + " a", true);
  EXPECT_EQ(gone.code, 1);
  EXPECT_NE(gone.out.find("no record with id 'a'"), std::string::npos) << gone.out;
  EXPECT_EQ(json::parse(Vdb("stats " + db + " --json").out)["count"], 1);
}

TEST(Cli, BadInputFailsWithAClearMessage) {
  TempDir dir;
  std::string db = dir.File("s.vdb");
  ASSERT_EQ(Vdb("create " + db + " --dim 3 --metric l2").code, 0);
  std::ofstream(dir.File("bad.jsonl")) << R"({"id": "a", "vector": [1, 2]})" "\n";
  CmdResult r = Vdb("import " + db + " " + dir.File("bad.jsonl"), true);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("dimension 3"), std::string::npos) << r.out;
  std::ofstream(dir.File("junk.jsonl")) << "{not json\n";
  r = Vdb("import " + db + " " + dir.File("junk.jsonl"), true);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("line 1"), std::string::npos) << r.out;
  r = Vdb("stats " + dir.File("missing.vdb"), true);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("no such database file"), std::string::npos) << r.out;
  r = Vdb("create " + db + " --dim 0", true);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(json::parse(Vdb("stats " + db + " --json").out)["count"], 0);
}

TEST(Cli, TextSearchRefusesAnotherModel) {
  TempDir dir;
  std::string db = dir.File("t.vdb");
  std::string model = std::string(VDB_SHARED_DIR) + "/models/tiny-minilm-a";
  std::ofstream(dir.File("facts.jsonl")) << R"({"id": "p", "text": "Plants turn sunlight into sugar."})" "\n"
                                         << R"({"id": "m", "text": "The moon orbits the earth."})" "\n";
  ASSERT_EQ(Vdb("create " + db + " --dim 96 --metric cosine").code, 0);
  ASSERT_EQ(Vdb("import " + db + " " + dir.File("facts.jsonl") + " --model " + model).code, 0);
  CmdResult ok = Vdb("search " + db + " --text " + Q("sunlight and plants") + " --k 1 --model " + model);
  ASSERT_EQ(ok.code, 0);
  EXPECT_EQ(json::parse(ok.out)["ids"].size(), 1u);
  CmdResult other = Vdb("search " + db + " --text " + Q("sunlight") + " --k 1 --model hash:96", true);
  EXPECT_NE(other.code, 0);
  EXPECT_NE(other.out.find("made by model"), std::string::npos) << other.out;
  EXPECT_NE(json::parse(Vdb("stats " + db + " --json").out)["model"]["hash"], nullptr);
}

}  // namespace
}  // namespace vdb
