// Keeps docs/format.md and the code together.
// - The constants tables of the doc (between <!-- constants:begin --> and
//   <!-- constants:end -->, and <!-- graph-constants:begin/end -->) must list
//   every constant of format/constants.h and format/graph.h, each with the
//   value the code compiles to.
// - The byte tables that have no constants of their own (the meta body, whose
//   offsets are private to format/meta.cc, and the slot record) are checked
//   through the real encoders: each field gets a distinct value and is read
//   back at the offset and size the doc states.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "format/coding.h"
#include "format/constants.h"
#include "format/graph.h"
#include "format/meta.h"
#include "format/pages.h"

namespace vdb::format {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string DocPath() { return std::string(VDB_SOURCE_DIR) + "/docs/format.md"; }
std::vector<std::string> ConstantHeaders() {
  return {std::string(VDB_SOURCE_DIR) + "/format/constants.h", std::string(VDB_SOURCE_DIR) + "/format/graph.h"};
}

// The value the code has for each constant, as the doc writes it: integers in
// decimal, byte strings as their bytes.
std::map<std::string, std::string> CodeValues() {
  std::map<std::string, std::string> v;
#define VDB_INT(name) v[#name] = std::to_string(static_cast<uint64_t>(name))
#define VDB_BYTES(name) v[#name] = std::string(name, sizeof(name))
  VDB_INT(kPageSize);
  VDB_INT(kHeaderPage);
  VDB_INT(kMetaPageA);
  VDB_INT(kMetaPageB);
  VDB_INT(kFirstDataPage);
  VDB_INT(kFormatVersion);
  VDB_INT(kFirstVersionWithUnindexedList);
  VDB_INT(kPageTrailerSize);
  VDB_INT(kPagePayload);
  VDB_BYTES(kHeaderMagic);
  VDB_INT(kHeaderOffMagic);
  VDB_INT(kHeaderOffVersion);
  VDB_INT(kHeaderOffPageSize);
  VDB_INT(kHeaderOffDim);
  VDB_INT(kHeaderOffElementType);
  VDB_INT(kHeaderOffMetric);
  VDB_INT(kHeaderOffVectorStride);
  VDB_INT(kHeaderOffHnswM);
  VDB_INT(kHeaderOffHnswEfConstruction);
  VDB_INT(kHeaderOffHnswM0);
  VDB_INT(kHeaderOffHnswSeed);
  VDB_INT(kHeaderOffUuid);
  VDB_INT(kHeaderOffCreatedMicros);
  VDB_INT(kHeaderOffFirstExtentSlots);
  VDB_INT(kHeaderOffChecksum);
  VDB_INT(kHeaderUsedBytes);
  VDB_INT(kElemFloat32);
  VDB_INT(kMetricCosine);
  VDB_INT(kMetricL2);
  VDB_INT(kMetricDot);
  VDB_INT(kVectorAlign);
  VDB_INT(kMaxDim);
  VDB_INT(kFirstExtentSlots);
  VDB_INT(kMaxExtents);
  VDB_INT(kNoSlot);
  VDB_INT(kMaxSlots);
  VDB_INT(kSlotRecordSize);
  VDB_INT(kSlotRecordsPerPage);
  VDB_INT(kSlotFree);
  VDB_INT(kSlotLive);
  VDB_INT(kSlotDeleted);
  VDB_INT(kSlotFlagMetaZstd);
  VDB_INT(kIdMapEntrySize);
  VDB_INT(kIdMapEntriesPerPage);
  VDB_INT(kIdHashEmpty);
  VDB_INT(kIdHashTombstone);
  VDB_INT(kIdMapMinCapacity);
  VDB_INT(kIdHashSeed);
  VDB_INT(kUnindexedPages);
  VDB_INT(kUnindexedPerPage);
  VDB_INT(kUnindexedCapacity);
  VDB_INT(kDefaultIndexBatch);
  VDB_INT(kBlobExtentMinPages);
  VDB_INT(kMetaZstdThreshold);
  VDB_INT(kMaxIdBytes);
  VDB_INT(kMaxMetadataBytes);
  VDB_BYTES(kMetaMagic);
  VDB_INT(kMetaOffMagic);
  VDB_INT(kMetaOffMetaSeq);
  VDB_INT(kMetaOffCommitSeq);
  VDB_INT(kMetaOffWalGeneration);
  VDB_INT(kMetaOffUuid);
  VDB_INT(kMetaOffBody);
  VDB_INT(kMetaBodySize);
  VDB_INT(kMetaOffChecksum);
  VDB_BYTES(kWalMagic);
  VDB_INT(kWalHeaderSize);
  VDB_INT(kWalOffMagic);
  VDB_INT(kWalOffVersion);
  VDB_INT(kWalOffUuid);
  VDB_INT(kWalOffGeneration);
  VDB_INT(kWalOffHeaderChecksum);
  VDB_INT(kWalHeaderUsedBytes);
  VDB_INT(kWalRecordMagic);
  VDB_INT(kWalRecordHeaderSize);
  VDB_INT(kWalRecOffMagic);
  VDB_INT(kWalRecOffPayloadLen);
  VDB_INT(kWalRecOffCommitSeq);
  VDB_INT(kWalRecOffFlags);
  VDB_INT(kWalRecOffChecksum);
  VDB_INT(kWalFlagCommitEnd);
  VDB_INT(kWalMaxPayload);
  VDB_INT(kWalEntryPage);
  VDB_INT(kWalEntryBytes);
  VDB_INT(kWalEntryMeta);
  VDB_INT(kWalDeltaMergeGap);
  // format/graph.h
  VDB_INT(kGraphRecordHeaderSize);
  VDB_INT(kGraphOffLevel);
  VDB_INT(kGraphOffFlags);
  VDB_INT(kGraphOffCount);
  VDB_INT(kGraphOffInvNorm);
  VDB_INT(kGraphFlagDeleted);
  VDB_INT(kGraphOffUpperRef);
  VDB_INT(kGraphOffNeighbors);
  VDB_INT(kUpperExtentMinPages);
  VDB_INT(kGraphMaxLevel);
#undef VDB_INT
#undef VDB_BYTES
  return v;
}

// Parses a doc value: decimal, 0x hex, or a quoted byte string with \0 escapes.
bool ParseDocValue(const std::string& text, std::string* out) {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    out->clear();
    for (size_t i = 1; i + 1 < text.size(); i++) {
      if (text[i] == '\\' && i + 2 < text.size() && text[i + 1] == '0') {
        out->push_back('\0');
        i++;
      } else {
        out->push_back(text[i]);
      }
    }
    return true;
  }
  static const std::regex kNumber("^(0x[0-9A-Fa-f]+|[0-9]+)$");
  if (!std::regex_match(text, kNumber)) return false;
  *out = std::to_string(std::stoull(text, nullptr, 0));
  return true;
}

// Rows `| `kName` | value | ... |` between the markers of both constants tables.
std::map<std::string, std::string> DocRows(std::string* error) {
  std::string doc = ReadFile(DocPath());
  std::string text;
  for (const char* table : {"constants", "graph-constants"}) {
    size_t begin = doc.find(std::string("<!-- ") + table + ":begin -->");
    size_t end = doc.find(std::string("<!-- ") + table + ":end -->");
    if (begin == std::string::npos || end == std::string::npos || end < begin) {
      *error += std::string("docs/format.md has no ") + table + " table markers\n";
      continue;
    }
    text += doc.substr(begin, end - begin);
  }
  std::map<std::string, std::string> rows;
  std::istringstream lines(text);
  static const std::regex kRow(R"(^\|\s*`(k[A-Za-z0-9]+)`\s*\|\s*`?([^|`]+?)`?\s*\|.*$)");
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (!std::regex_match(line, m, kRow)) continue;
    std::string value;
    if (!ParseDocValue(m[2].str(), &value)) {
      *error += "unparsable value for " + m[1].str() + ": " + m[2].str() + "\n";
      continue;
    }
    if (rows.count(m[1].str())) *error += "duplicate row for " + m[1].str() + "\n";
    rows[m[1].str()] = value;
  }
  return rows;
}

TEST(DocConstants, DocTableParses) {
  std::string error;
  auto rows = DocRows(&error);
  EXPECT_EQ(error, "");
  EXPECT_GT(rows.size(), 0u);
}

TEST(DocConstants, EveryDocValueEqualsTheCode) {
  std::string error;
  auto rows = DocRows(&error);
  auto code = CodeValues();
  for (const auto& [name, value] : rows) {
    auto it = code.find(name);
    if (it == code.end()) {
      ADD_FAILURE() << "docs/format.md lists " << name << ", which this test does not know (add it to CodeValues)";
      continue;
    }
    EXPECT_EQ(value, it->second) << name << ": docs/format.md and format/constants.h disagree";
  }
}

TEST(DocConstants, EveryCodeConstantIsInTheDoc) {
  std::string error;
  auto rows = DocRows(&error);
  for (const auto& [name, value] : CodeValues())
    EXPECT_TRUE(rows.count(name)) << name << " is missing from the constants table of docs/format.md";
}

// A constant added to format/constants.h or format/graph.h must be added to
// this test (and so to the doc) too.
TEST(DocConstants, EveryConstantOfTheHeadersIsChecked) {
  auto code = CodeValues();
  static const std::regex kDecl(R"(inline\s+constexpr\s+[A-Za-z0-9_:]+\s+(k[A-Za-z0-9]+))");
  size_t seen = 0;
  for (const std::string& path : ConstantHeaders()) {
    std::string header = ReadFile(path);
    ASSERT_FALSE(header.empty()) << path;
    for (std::sregex_iterator it(header.begin(), header.end(), kDecl), end; it != end; ++it) {
      seen++;
      EXPECT_TRUE(code.count((*it)[1].str())) << (*it)[1].str() << " of " << path << " is not checked against the doc";
    }
  }
  EXPECT_EQ(seen, code.size());
}

struct Row {
  uint32_t offset;
  uint32_t size;
  std::string field;
};

// Rows `| offset | size | field | ... |` between <!-- NAME:begin --> and <!-- NAME:end -->.
std::vector<Row> DocTable(const std::string& name) {
  std::ifstream in(std::string(VDB_SOURCE_DIR) + "/docs/format.md", std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string doc = ss.str();
  size_t b = doc.find("<!-- " + name + ":begin -->");
  size_t e = doc.find("<!-- " + name + ":end -->");
  std::vector<Row> rows;
  if (b == std::string::npos || e == std::string::npos || e < b) return rows;
  std::istringstream lines(doc.substr(b, e - b));
  static const std::regex kRow(R"(^\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*([a-z_0-9\[\]]+)\s*\|.*$)");
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (std::regex_match(line, m, kRow))
      rows.push_back({static_cast<uint32_t>(std::stoul(m[1])), static_cast<uint32_t>(std::stoul(m[2])), m[3]});
  }
  return rows;
}

uint64_t GetLe(const uint8_t* p, uint32_t size) {
  uint64_t v = 0;
  for (uint32_t i = size; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

// Rows must tile [0, total) with no gap or overlap.
void ExpectContiguous(const std::vector<Row>& rows, uint32_t total) {
  uint32_t at = 0;
  for (const auto& r : rows) {
    EXPECT_EQ(r.offset, at) << r.field << " does not start where the previous field ends";
    at = r.offset + r.size;
  }
  EXPECT_EQ(at, total);
}

TEST(DocConstants, MetaBodyTableTilesTheBody) {
  auto rows = DocTable("meta-body");
  ASSERT_FALSE(rows.empty()) << "docs/format.md has no meta-body table";
  ExpectContiguous(rows, kMetaBodySize);
}

TEST(DocConstants, MetaBodyFieldsAreAtTheDocumentedOffsets) {
  MetaBody b;
  // Distinct values (the encoder does not validate).
  std::map<std::string, std::pair<std::function<void(uint64_t)>, uint64_t>> set = {
      {"page_count", {[&](uint64_t v) { b.page_count = v; }, 0x0101010101010101}},
      {"live_count", {[&](uint64_t v) { b.live_count = v; }, 0x0202020202020202}},
      {"slot_hwm", {[&](uint64_t v) { b.slot_hwm = v; }, 0x0303030303030303}},
      {"free_count", {[&](uint64_t v) { b.free_count = v; }, 0x0404040404040404}},
      {"free_head", {[&](uint64_t v) { b.free_head = static_cast<uint32_t>(v); }, 0x05050505}},
      {"free_tail", {[&](uint64_t v) { b.free_tail = static_cast<uint32_t>(v); }, 0x06060606}},
      {"deleted_count", {[&](uint64_t v) { b.deleted_count = v; }, 0x0707070707070707}},
      {"idmap_page", {[&](uint64_t v) { b.idmap_page = v; }, 0x0808080808080808}},
      {"idmap_capacity", {[&](uint64_t v) { b.idmap_capacity = v; }, 0x0909090909090909}},
      {"idmap_used", {[&](uint64_t v) { b.idmap_used = v; }, 0x0a0a0a0a0a0a0a0a}},
      {"idmap_tombstones", {[&](uint64_t v) { b.idmap_tombstones = v; }, 0x0b0b0b0b0b0b0b0b}},
      {"blob_page", {[&](uint64_t v) { b.blob_page = v; }, 0x0c0c0c0c0c0c0c0c}},
      {"blob_pages", {[&](uint64_t v) { b.blob_pages = v; }, 0x0d0d0d0d0d0d0d0d}},
      {"blob_used", {[&](uint64_t v) { b.blob_used = v; }, 0x0e0e0e0e0e0e0e0e}},
      {"model_ref", {[&](uint64_t v) { b.model_ref = v; }, 0x0f0f0f0f0f0f0f0f}},
      {"model_len", {[&](uint64_t v) { b.model_len = static_cast<uint32_t>(v); }, 0x10101010}},
      {"graph_entry", {[&](uint64_t v) { b.graph_entry = static_cast<uint32_t>(v); }, 0x11111111}},
      {"graph_max_level", {[&](uint64_t v) { b.graph_max_level = static_cast<uint32_t>(v); }, 0x12121212}},
      {"graph_record_size", {[&](uint64_t v) { b.graph_record_size = static_cast<uint32_t>(v); }, 0x13131313}},
      {"graph_nodes", {[&](uint64_t v) { b.graph_nodes = v; }, 0x1414141414141414}},
      {"graph_edges0", {[&](uint64_t v) { b.graph_edges0 = v; }, 0x1818181818181818}},
      {"upper_page", {[&](uint64_t v) { b.upper_page = v; }, 0x1515151515151515}},
      {"upper_pages", {[&](uint64_t v) { b.upper_pages = v; }, 0x1616161616161616}},
      {"upper_used", {[&](uint64_t v) { b.upper_used = v; }, 0x1717171717171717}},
      {"unindexed_page", {[&](uint64_t v) { b.unindexed_page = v; }, 0x1919191919191919}},
      {"unindexed_count", {[&](uint64_t v) { b.unindexed_count = static_cast<uint32_t>(v); }, 0x1a1a1a1a}},
  };
  for (auto& [name, sv] : set) sv.first(sv.second);
  for (uint32_t k = 0; k < kMaxExtents; k++) {
    b.vector_extents[k] = 0x2000000000000000ull + k;
    b.slot_extents[k] = 0x3000000000000000ull + k;
    b.graph_extents[k] = 0x4000000000000000ull + k;
  }
  std::map<std::string, uint64_t> array_base = {{"vector_extents[32]", 0x2000000000000000ull},
                                                {"slot_extents[32]", 0x3000000000000000ull},
                                                {"graph_extents[32]", 0x4000000000000000ull}};
  uint8_t out[kMetaBodySize];
  EncodeMetaBody(b, out);
  auto rows = DocTable("meta-body");
  ASSERT_FALSE(rows.empty());
  size_t checked = 0;
  for (const auto& r : rows) {
    ASSERT_LE(r.offset + r.size, kMetaBodySize) << r.field;
    if (r.field == "zero") {
      for (uint32_t i = 0; i < r.size; i++) EXPECT_EQ(out[r.offset + i], 0) << "byte " << r.offset + i;
    } else if (array_base.count(r.field)) {
      ASSERT_EQ(r.size, 8 * kMaxExtents) << r.field;
      for (uint32_t k = 0; k < kMaxExtents; k++)
        EXPECT_EQ(GetU64(out + r.offset + 8 * k), array_base[r.field] + k) << r.field << " element " << k;
      checked++;
    } else {
      auto it = set.find(r.field);
      if (it == set.end()) {
        ADD_FAILURE() << "docs/format.md names meta body field " << r.field << ", which this test does not know";
        continue;
      }
      ASSERT_LE(r.size, 8u) << r.field;
      EXPECT_EQ(GetLe(out + r.offset, r.size), it->second.second) << r.field << " at offset " << r.offset;
      checked++;
    }
  }
  EXPECT_EQ(checked, set.size() + array_base.size()) << "some meta body fields are missing from the doc";
}

TEST(DocConstants, SlotRecordTableTilesTheRecord) {
  auto rows = DocTable("slot-record");
  ASSERT_FALSE(rows.empty()) << "docs/format.md has no slot-record table";
  ExpectContiguous(rows, kSlotRecordSize);
}

TEST(DocConstants, SlotRecordFieldsAreAtTheDocumentedOffsets) {
  SlotRecord r;
  r.state = 0x11;
  r.flags = 0x22;
  r.id_len = 0x3333;
  r.meta_len = 0x44444444;
  r.id_ref = 0x5555555555555555;
  r.meta_ref = 0x6666666666666666;
  r.inv_norm = 0.25f;  // bits 0x3e800000
  r.check = 0x77777777;
  std::map<std::string, uint64_t> want = {{"state", 0x11},
                                          {"flags", 0x22},
                                          {"id_len", 0x3333},
                                          {"meta_len", 0x44444444},
                                          {"id_ref", 0x5555555555555555},
                                          {"meta_ref", 0x6666666666666666},
                                          {"inv_norm", 0x3e800000},
                                          {"check", 0x77777777}};
  uint8_t out[kSlotRecordSize];
  EncodeSlotRecord(r, out);
  auto rows = DocTable("slot-record");
  ASSERT_EQ(rows.size(), want.size());
  for (const auto& row : rows) {
    auto it = want.find(row.field);
    ASSERT_NE(it, want.end()) << "unknown slot record field " << row.field;
    EXPECT_EQ(GetLe(out + row.offset, row.size), it->second) << row.field << " at offset " << row.offset;
  }
}

}  // namespace
}  // namespace vdb::format
