// Readers for the benchmark dataset formats and for JSONL import files.
//
// .fvecs / .bvecs / .ivecs (TEXMEX layout, little-endian): every row is an
// int32 d followed by d values: float32 (.fvecs), uint8 (.bvecs) or int32
// (.ivecs, usually ground-truth row ids). Every row of a file must have the
// same d. Files are untrusted: a bad d, a row whose d differs from the first,
// or a file that ends inside a row is a Corruption naming the row number
// (0-based) and its byte offset.
//
// JSONL: one JSON object per line,
//   {"id": "...", "vector": [...], "metadata": {...}, "text": "..."}
// "vector" or "text" must be present; "metadata" must be an object if given.
// Other fields are ignored.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vdb/status.h"

namespace vdb::dataset {

enum class VecsType : uint8_t {
  kFloat32,  // .fvecs
  kUint8,    // .bvecs
  kInt32,    // .ivecs
};

// The type for a path's extension (.fvecs, .bvecs, .ivecs; case-sensitive),
// or InvalidArgument for any other.
Result<VecsType> VecsTypeFromPath(std::string_view path);

// Largest row dimension the readers accept (vdb's own limit, vdb::kMaxDim).
inline constexpr uint32_t kMaxVecsDim = 65536;

// Streams rows of a .fvecs/.bvecs/.ivecs file, a batch at a time.
// Owns its file handle. Not thread-safe.
class VecsReader {
 public:
  // Opens path and reads the first row header to learn the dimension. An
  // empty file opens with dim() == 0 and rows() == 0.
  static Result<std::unique_ptr<VecsReader>> Open(const std::string& path, VecsType type);
  // As above, with the type taken from the extension.
  static Result<std::unique_ptr<VecsReader>> Open(const std::string& path);

  ~VecsReader();
  VecsReader(const VecsReader&) = delete;
  VecsReader& operator=(const VecsReader&) = delete;

  VecsType type() const { return type_; }
  uint32_t dim() const { return dim_; }
  // Rows the file holds if every row is well-formed (file size / row size,
  // rounded down); reading still checks each row.
  uint64_t rows() const { return rows_; }
  // Rows returned so far.
  uint64_t position() const { return next_row_; }
  const std::string& path() const { return path_; }

  // Reads up to max_rows rows, converted to float (.fvecs, .bvecs; .ivecs
  // values are converted too), into *out (resized to rows_read * dim()).
  // Returns the number of rows read: 0 at the end of the file. After an
  // error the reader stays failed (every later call returns the same error).
  Result<size_t> ReadFloats(size_t max_rows, std::vector<float>* out);
  // The same for int32 values; only for .ivecs.
  Result<size_t> ReadInt32s(size_t max_rows, std::vector<int32_t>* out);

 private:
  VecsReader(std::FILE* file, std::string path, VecsType type, uint32_t dim, uint64_t rows, uint64_t file_bytes);
  size_t ValueBytes() const;
  uint64_t RowBytes() const { return 4 + uint64_t{dim_} * ValueBytes(); }
  // Reads the next row's raw values into row_ after checking its header.
  Status ReadRow();

  std::FILE* file_;
  std::string path_;
  VecsType type_;
  uint32_t dim_;
  uint64_t rows_;
  uint64_t file_bytes_;
  uint64_t next_row_ = 0;
  Status error_;              // sticky once set
  std::vector<uint8_t> row_;  // raw values of the current row
};

// A whole file in memory, row-major.
template <typename T>
struct Matrix {
  size_t rows = 0;
  size_t dim = 0;
  std::vector<T> data;  // rows * dim values
  const T* row(size_t i) const { return data.data() + i * dim; }
};

// Loads every row of a .fvecs/.bvecs/.ivecs file as floats.
Result<Matrix<float>> LoadVecsAsFloat(const std::string& path);
// Loads every row of an .ivecs file.
Result<Matrix<int32_t>> LoadIvecs(const std::string& path);

// One parsed JSONL line.
struct JsonlRecord {
  std::string id;
  std::vector<float> vector;  // empty when the line has no "vector"
  std::string metadata;       // compact JSON object text; "" when absent
  std::optional<std::string> text;
};

// Parses one line. line_number (1-based) is used in error messages only.
// Errors are InvalidArgument: "line N: <what is wrong>".
// "id" must be a string (an integer is accepted and written in decimal);
// vector components must be numbers that fit in float32.
Result<JsonlRecord> ParseJsonlLine(std::string_view line, uint64_t line_number);

// Reads a JSONL file line by line; blank lines are skipped.
// Owns its file handle. Not thread-safe.
class JsonlReader {
 public:
  static Result<std::unique_ptr<JsonlReader>> Open(const std::string& path);
  ~JsonlReader();
  JsonlReader(const JsonlReader&) = delete;
  JsonlReader& operator=(const JsonlReader&) = delete;

  // Parses the next non-blank line into *record. Returns false at the end of
  // the file. Errors name the file and the line.
  Result<bool> Next(JsonlRecord* record);
  uint64_t line_number() const { return line_number_; }

 private:
  JsonlReader(std::FILE* file, std::string path) : file_(file), path_(std::move(path)) {}
  std::FILE* file_;
  std::string path_;
  uint64_t line_number_ = 0;
  char* buf_ = nullptr;  // getline's buffer (malloc'ed), owned
  size_t cap_ = 0;
  std::string line_;
};

}  // namespace vdb::dataset
