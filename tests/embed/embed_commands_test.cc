// The tokenize / embed / peek subcommands, run in-process through CLI11 with
// argv, stdin and captured stdout/stderr.
//
// The command sources are compiled into this test directly, so it does not
// depend on how the tool library is linked into the test executables.
#include "tools/lib/embed_commands.cc"  // NOLINT(build/include)

#include <gtest/gtest.h>

#include <iostream>
#include <sstream>

#include "embed/embed_test_util.h"

namespace vdb::tools {
namespace {

using embed::testing::kModelsDir;

struct CommandResult {
  int exit_code = 0;
  std::string out;
  std::string err;
};

CommandResult RunVdb(std::vector<std::string> args, const std::string& stdin_text = "") {
  CLI::App app{"vdb"};
  app.require_subcommand(1);
  int exit_code = 0;
  AddEmbedCommands(app, &exit_code);
  std::istringstream in(stdin_text);
  std::ostringstream out, err;
  auto* old_in = std::cin.rdbuf(in.rdbuf());
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  args.insert(args.begin(), "vdb");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  CommandResult r;
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
    r.exit_code = exit_code;
  } catch (const CLI::ParseError& e) {
    r.exit_code = 2;
  }
  std::cin.rdbuf(old_in);
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::vector<nlohmann::json> JsonLines(const std::string& s) {
  std::vector<nlohmann::json> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

const std::string kTiny = kModelsDir + "tiny-minilm-a";

TEST(EmbedCommandsTest, TokenizeWritesInputIdsPerLine) {
  CommandResult r = RunVdb({"tokenize", "--model", kTiny},
                           "{\"text\":\"Hello world!\"}\n\n{\"text\":\"\"}\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["input_ids"], nlohmann::json::parse("[101,7592,2088,999,102]"));
  EXPECT_EQ(lines[1]["input_ids"], nlohmann::json::parse("[101,102]"));
}

TEST(EmbedCommandsTest, EmbedMatchesGoldenVector) {
  std::string golden_line;
  std::istringstream golden_in(embed::testing::ReadAll(kTiny + "/golden_embeddings.jsonl"));
  std::getline(golden_in, golden_line);
  auto golden = nlohmann::json::parse(golden_line);
  nlohmann::json input = {{"text", golden["text"]}};
  CommandResult r = RunVdb({"embed", "--model", kTiny}, input.dump() + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 1u);
  auto got = lines[0]["embedding"].get<std::vector<double>>();
  auto want = golden["embedding"].get<std::vector<double>>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4) << i;
}

TEST(EmbedCommandsTest, EmbedRejectsLineWithoutText) {
  CommandResult r = RunVdb({"embed", "--model", "hash"}, "{\"text\":\"ok\"}\n{\"txt\":\"x\"}\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
}

TEST(EmbedCommandsTest, EmbedWithHashSaysItMatchesWords) {
  CommandResult r = RunVdb({"embed", "--model", "hash:64"}, "{\"text\":\"a b\"}\n");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(JsonLines(r.out)[0]["embedding"].size(), 64u);
  EXPECT_NE(r.err.find("matches words, not meaning"), std::string::npos);
}

TEST(EmbedCommandsTest, MissingModelExitsTwoAndSaysHowToGetOne) {
  CommandResult r = RunVdb({"embed", "--model", "/no/such/model"}, "{\"text\":\"x\"}\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("git clone https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2"),
            std::string::npos) << r.err;
}

TEST(EmbedCommandsTest, TokenizeWithHashModelFails) {
  CommandResult r = RunVdb({"tokenize", "--model", "hash"}, "{\"text\":\"x\"}\n");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no token ids"), std::string::npos) << r.err;
}

TEST(EmbedCommandsTest, PeekWeightsOnTruncatedFileReportsExactStatistics) {
  CommandResult r = RunVdb({"peek", "--weights",
                            kModelsDir + "all-MiniLM-L6-v2/model.safetensors.TRUNCATED-851968B",
                            "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto list = nlohmann::json::parse(r.out);
  ASSERT_TRUE(list.is_array());
  EXPECT_EQ(list.size(), 5u);
  const nlohmann::json* pos = nullptr;
  for (const auto& t : list) {
    if (t["name"] == "embeddings.position_embeddings.weight") pos = &t;
  }
  ASSERT_NE(pos, nullptr);
  EXPECT_EQ((*pos)["shape"], nlohmann::json::parse("[512,384]"));
  EXPECT_EQ((*pos)["count"], 196608);
  EXPECT_EQ((*pos)["min"].get<float>(), -0.20261888f);
  EXPECT_EQ((*pos)["max"].get<float>(), 1.8740946f);
  EXPECT_NEAR((*pos)["mean"].get<double>(), 0.000216435, 5e-10);
  EXPECT_NEAR((*pos)["std"].get<double>(), 0.0246517, 5e-8);
  EXPECT_EQ((*pos)["first_10_values"].size(), 10u);
  EXPECT_NE(r.err.find("embeddings.word_embeddings.weight"), std::string::npos);
  EXPECT_NE(r.err.find("encoder.layer.5.output.LayerNorm.weight"), std::string::npos);
}

TEST(EmbedCommandsTest, PeekWeightsOfModelDirectoryListsEveryTensor) {
  CommandResult r = RunVdb({"peek", "--weights", kTiny, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto list = nlohmann::json::parse(r.out);
  EXPECT_EQ(list.size(), 40u);
  for (const auto& t : list) {
    for (const char* k : {"name", "shape", "count", "min", "max", "mean", "std", "first_10_values"}) {
      EXPECT_TRUE(t.contains(k)) << k;
    }
  }
}

TEST(EmbedCommandsTest, PeekLayerCsvWritesIndexValueRows) {
  CommandResult r = RunVdb({"peek", "--weights", kTiny, "--layer", "embeddings.LayerNorm.bias",
                            "--csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.out);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "index,weight_value");
  int rows = 0;
  while (std::getline(in, line)) {
    EXPECT_EQ(line.rfind(std::to_string(rows) + ",", 0), 0u) << line;
    ++rows;
  }
  EXPECT_EQ(rows, 96);
}

TEST(EmbedCommandsTest, PeekUnknownLayerIsUsageError) {
  CommandResult r = RunVdb({"peek", "--weights", kTiny, "--layer", "nope", "--csv"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no tensor \"nope\""), std::string::npos);
}

TEST(EmbedCommandsTest, PeekSentenceShowsValuesAndSummary) {
  CommandResult r = RunVdb({"peek", "--model", kTiny, "--first", "3", "The cat sat."});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("96 dimensions; first 3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("min "), std::string::npos);
  EXPECT_NE(r.out.find("mean "), std::string::npos);
}

TEST(EmbedCommandsTest, PeekCompareRanksByCosine) {
  CommandResult r = RunVdb({"peek", "--model", "hash", "--compare", "red apples",
                            "green bananas", "red apples", "apples"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t first = r.out.find("   1   100.00%  \"red apples\"");
  EXPECT_NE(first, std::string::npos) << r.out;
  EXPECT_LT(r.out.find("\"apples\""), r.out.find("\"green bananas\""));
  EXPECT_NE(r.out.find("matches words, not meaning"), std::string::npos);
}

TEST(EmbedCommandsTest, PeekSideBySideNeedsTwoSentences) {
  CommandResult r = RunVdb({"peek", "--model", "hash", "--side-by-side", "one"});
  EXPECT_EQ(r.exit_code, 2);
  CommandResult ok = RunVdb({"peek", "--model", "hash", "--side-by-side", "one", "two"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("A-B"), std::string::npos);
  EXPECT_NE(ok.out.find("cosine"), std::string::npos);
}

}  // namespace
}  // namespace vdb::tools
