#include "engine/dataset.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace vdb::dataset {
namespace {

std::string TempPath(const std::string& name) {
  return testing::TempDir() + "vdb_dataset_test_" + std::to_string(getpid()) + "_" + name;
}

void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  }
  std::fclose(f);
}

void PutInt32(std::vector<uint8_t>* out, int32_t v) {
  const uint32_t u = static_cast<uint32_t>(v);
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<uint8_t>(u >> (8 * i)));
}

void PutFloat(std::vector<uint8_t>* out, float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  PutInt32(out, static_cast<int32_t>(u));
}

// rows x dim values v(r, d) = r * 10 + d (fits uint8 for small sizes).
std::vector<uint8_t> MakeVecs(VecsType type, int rows, int dim) {
  std::vector<uint8_t> out;
  for (int r = 0; r < rows; ++r) {
    PutInt32(&out, dim);
    for (int d = 0; d < dim; ++d) {
      const int v = r * 10 + d;
      if (type == VecsType::kFloat32) PutFloat(&out, static_cast<float>(v) + 0.5f);
      if (type == VecsType::kUint8) out.push_back(static_cast<uint8_t>(v));
      if (type == VecsType::kInt32) PutInt32(&out, -v);
    }
  }
  return out;
}

class DatasetTest : public testing::Test {
 protected:
  void TearDown() override {
    for (const std::string& p : paths_) std::remove(p.c_str());
  }
  std::string Write(const std::string& name, const std::vector<uint8_t>& bytes) {
    std::string p = TempPath(name);
    WriteBytes(p, bytes);
    paths_.push_back(p);
    return p;
  }
  std::vector<std::string> paths_;
};

TEST_F(DatasetTest, FvecsRoundTrip) {
  const std::string p = Write("a.fvecs", MakeVecs(VecsType::kFloat32, 6, 5));
  auto m = LoadVecsAsFloat(p);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->rows, 6u);
  EXPECT_EQ(m->dim, 5u);
  for (int r = 0; r < 6; ++r) {
    for (int d = 0; d < 5; ++d) EXPECT_EQ(m->row(r)[d], r * 10 + d + 0.5f);
  }
}

TEST_F(DatasetTest, BvecsAreConvertedToFloat) {
  const std::string p = Write("a.bvecs", MakeVecs(VecsType::kUint8, 4, 7));
  auto m = LoadVecsAsFloat(p);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->rows, 4u);
  EXPECT_EQ(m->dim, 7u);
  EXPECT_EQ(m->row(3)[6], 36.0f);
}

TEST_F(DatasetTest, IvecsRoundTrip) {
  const std::string p = Write("a.ivecs", MakeVecs(VecsType::kInt32, 3, 4));
  auto m = LoadIvecs(p);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->rows, 3u);
  EXPECT_EQ(m->row(2)[3], -23);
}

TEST_F(DatasetTest, StreamingInBatchesReturnsEveryRowInOrder) {
  const std::string p = Write("s.fvecs", MakeVecs(VecsType::kFloat32, 10, 3));
  auto r = VecsReader::Open(p);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->rows(), 10u);
  std::vector<float> batch;
  std::vector<float> all;
  std::vector<size_t> sizes;
  for (;;) {
    auto n = (*r)->ReadFloats(3, &batch);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    if (*n == 0) break;
    EXPECT_EQ(batch.size(), *n * 3);
    sizes.push_back(*n);
    all.insert(all.end(), batch.begin(), batch.end());
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{3, 3, 3, 1}));
  ASSERT_EQ(all.size(), 30u);
  EXPECT_EQ(all[9 * 3 + 2], 92.5f);
  EXPECT_EQ((*r)->position(), 10u);
}

TEST_F(DatasetTest, TruncatedLastRowIsCorruptionNamingRowAndOffset) {
  std::vector<uint8_t> bytes = MakeVecs(VecsType::kFloat32, 4, 5);
  bytes.resize(bytes.size() - 3);
  const std::string p = Write("t.fvecs", bytes);
  auto m = LoadVecsAsFloat(p);
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(m.status().IsCorruption()) << m.status().ToString();
  EXPECT_NE(m.status().message().find("row 3 at byte offset 72"), std::string::npos) << m.status().ToString();
  EXPECT_NE(m.status().message().find("truncated"), std::string::npos) << m.status().ToString();
}

TEST_F(DatasetTest, StreamingReportsTruncationAfterTheWholeRows) {
  std::vector<uint8_t> bytes = MakeVecs(VecsType::kUint8, 3, 8);
  bytes.push_back(8);  // a lone byte of a fourth row header
  const std::string p = Write("t.bvecs", bytes);
  auto r = VecsReader::Open(p);
  ASSERT_TRUE(r.ok());
  std::vector<float> batch;
  auto n = (*r)->ReadFloats(100, &batch);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 3u);
  auto end = (*r)->ReadFloats(100, &batch);
  ASSERT_FALSE(end.ok());
  EXPECT_NE(end.status().message().find("row 3 at byte offset 36"), std::string::npos) << end.status().ToString();
  EXPECT_FALSE((*r)->ReadFloats(100, &batch).ok());  // the error sticks
}

TEST_F(DatasetTest, RowWithDifferentDimensionIsCorruption) {
  std::vector<uint8_t> bytes = MakeVecs(VecsType::kInt32, 6, 2);
  bytes[5 * 12] = 3;  // row 5's header says 3 instead of 2
  const std::string p = Write("d.ivecs", bytes);
  auto m = LoadIvecs(p);
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(m.status().IsCorruption());
  EXPECT_NE(m.status().message().find("row 5 at byte offset 60"), std::string::npos) << m.status().ToString();
  EXPECT_NE(m.status().message().find("dimension 3"), std::string::npos) << m.status().ToString();
}

TEST_F(DatasetTest, NonPositiveDimensionIsCorruption) {
  for (int32_t dim : {0, -4}) {
    std::vector<uint8_t> bytes;
    PutInt32(&bytes, dim);
    PutFloat(&bytes, 1.0f);
    auto r = VecsReader::Open(Write("z.fvecs", bytes));
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.status().IsCorruption());
    EXPECT_NE(r.status().message().find("row 0 at byte offset 0"), std::string::npos) << r.status().ToString();
  }
}

TEST_F(DatasetTest, HugeDimensionIsCorruption) {
  std::vector<uint8_t> bytes;
  PutInt32(&bytes, 1 << 30);
  auto r = VecsReader::Open(Write("h.fvecs", bytes));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
}

TEST_F(DatasetTest, FileShorterThanAHeaderIsCorruption) {
  auto r = VecsReader::Open(Write("short.fvecs", {1, 0}));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption());
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << r.status().ToString();
}

TEST_F(DatasetTest, EmptyFileHasNoRows) {
  auto m = LoadVecsAsFloat(Write("empty.fvecs", {}));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->rows, 0u);
  EXPECT_EQ(m->dim, 0u);
}

TEST_F(DatasetTest, MissingFileIsIOError) {
  auto r = VecsReader::Open(TempPath("does-not-exist.fvecs"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsIOError()) << r.status().ToString();
}

TEST_F(DatasetTest, UnknownExtensionIsInvalidArgument) {
  auto t = VecsTypeFromPath("data.csv");
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(t.status().IsInvalidArgument());
  EXPECT_EQ(*VecsTypeFromPath("x.bvecs"), VecsType::kUint8);
}

TEST_F(DatasetTest, Int32RowsOnlyFromIvecs) {
  auto r = VecsReader::Open(Write("f.fvecs", MakeVecs(VecsType::kFloat32, 1, 1)));
  ASSERT_TRUE(r.ok());
  std::vector<int32_t> out;
  EXPECT_TRUE((*r)->ReadInt32s(1, &out).status().IsInvalidArgument());
}

TEST_F(DatasetTest, SiftsmallFilesLoad) {
  const std::string dir = VDB_SHARED_DIR "/datasets/siftsmall/";
  auto base = LoadVecsAsFloat(dir + "siftsmall_base.fvecs");
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  EXPECT_EQ(base->rows, 10000u);
  EXPECT_EQ(base->dim, 128u);
  auto truth = LoadIvecs(dir + "siftsmall_groundtruth.ivecs");
  ASSERT_TRUE(truth.ok()) << truth.status().ToString();
  EXPECT_EQ(truth->rows, 100u);
  EXPECT_EQ(truth->dim, 100u);
}

TEST(JsonlTest, ParsesIdVectorMetadataAndText) {
  auto r = ParseJsonlLine(R"({"id": "a1", "vector": [1, -2.5, 3e2], "metadata": {"k": [1, "x"]}, "text": "hi"})", 1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->id, "a1");
  EXPECT_EQ(r->vector, (std::vector<float>{1.0f, -2.5f, 300.0f}));
  EXPECT_EQ(r->metadata, R"({"k":[1,"x"]})");
  ASSERT_TRUE(r->text.has_value());
  EXPECT_EQ(*r->text, "hi");
}

TEST(JsonlTest, MetadataAndTextAreOptional) {
  auto r = ParseJsonlLine(R"({"id": "b", "vector": [0.5]})", 1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->metadata, "");
  EXPECT_FALSE(r->text.has_value());
}

TEST(JsonlTest, TextWithoutVectorIsAccepted) {
  auto r = ParseJsonlLine(R"({"id": "fact-00", "text": "Photosynthesis", "metadata": {"topic": "biology"}})", 1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->vector.empty());
  EXPECT_EQ(*r->text, "Photosynthesis");
}

TEST(JsonlTest, IntegerIdIsWrittenInDecimal) {
  auto r = ParseJsonlLine(R"({"id": 42, "vector": [1]})", 1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->id, "42");
}

void ExpectLineError(std::string_view line, uint64_t number, std::string_view what) {
  auto r = ParseJsonlLine(line, number);
  ASSERT_FALSE(r.ok()) << line;
  EXPECT_TRUE(r.status().IsInvalidArgument());
  const std::string& msg = r.status().message();
  EXPECT_EQ(msg.rfind("line " + std::to_string(number) + ":", 0), 0u) << msg;
  EXPECT_NE(msg.find(what), std::string::npos) << msg;
}

TEST(JsonlTest, MetadataThatIsNotAnObjectIsRejected) {
  ExpectLineError(R"({"id": "a", "vector": [1], "metadata": [1, 2]})", 7, "\"metadata\" must be a JSON object");
  ExpectLineError(R"({"id": "a", "vector": [1], "metadata": "x"})", 8, "\"metadata\" must be a JSON object");
}

TEST(JsonlTest, MissingIdIsRejected) { ExpectLineError(R"({"vector": [1]})", 3, "missing \"id\""); }

TEST(JsonlTest, NonStringIdIsRejected) { ExpectLineError(R"({"id": [1], "vector": [1]})", 3, "\"id\""); }

TEST(JsonlTest, NonNumericComponentIsRejected) {
  ExpectLineError(R"({"id": "a", "vector": [1, "2"]})", 4, "vector[1] is not a number");
}

TEST(JsonlTest, ComponentOutsideFloatRangeIsRejected) {
  ExpectLineError(R"({"id": "a", "vector": [1e39]})", 5, "does not fit in float32");
}

TEST(JsonlTest, EmptyVectorIsRejected) { ExpectLineError(R"({"id": "a", "vector": []})", 6, "empty"); }

TEST(JsonlTest, NeitherVectorNorTextIsRejected) {
  ExpectLineError(R"({"id": "a", "metadata": {}})", 9, "needs \"vector\" or \"text\"");
}

TEST(JsonlTest, InvalidJsonIsRejected) {
  ExpectLineError(R"({"id": "a", "vector": [1,)", 10, "invalid JSON");
  ExpectLineError(R"([1, 2])", 11, "expected a JSON object");
}

TEST(JsonlTest, ReaderSkipsBlankLinesAndNamesTheFailingLine) {
  const std::string p = TempPath("r.jsonl");
  const std::string text =
      "{\"id\": \"a\", \"vector\": [1, 2]}\n"
      "\n"
      "   \r\n"
      "{\"id\": \"b\", \"vector\": [3, 4]}\r\n"
      "{\"id\": \"c\", \"vector\": [5, 6], \"metadata\": 3}\n";
  WriteBytes(p, std::vector<uint8_t>(text.begin(), text.end()));
  auto reader = JsonlReader::Open(p);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  JsonlRecord rec;
  auto more = (*reader)->Next(&rec);
  ASSERT_TRUE(more.ok() && *more);
  EXPECT_EQ(rec.id, "a");
  more = (*reader)->Next(&rec);
  ASSERT_TRUE(more.ok() && *more) << more.status().ToString();
  EXPECT_EQ(rec.id, "b");
  EXPECT_EQ((*reader)->line_number(), 4u);
  more = (*reader)->Next(&rec);
  ASSERT_FALSE(more.ok());
  EXPECT_NE(more.status().message().find("line 5"), std::string::npos) << more.status().ToString();
  EXPECT_NE(more.status().message().find(p), std::string::npos) << more.status().ToString();
  std::remove(p.c_str());
}

TEST(JsonlTest, ReaderReadsTheKnowledgeBase) {
  auto reader = JsonlReader::Open(VDB_SHARED_DIR "/datasets/knowledge-base/facts.jsonl");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  JsonlRecord rec;
  size_t n = 0;
  for (;;) {
    auto more = (*reader)->Next(&rec);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) break;
    ++n;
    EXPECT_TRUE(rec.text.has_value());
    EXPECT_EQ(rec.metadata.front(), '{');
  }
  EXPECT_EQ(n, 20u);
}

}  // namespace
}  // namespace vdb::dataset
