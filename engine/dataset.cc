#include "engine/dataset.h"

#include <sys/stat.h>

#include <bit>
#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "vdb/db.h"

namespace vdb::dataset {

static_assert(kMaxVecsDim == vdb::kMaxDim, "the readers accept exactly vdb's dimensions");
static_assert(std::endian::native == std::endian::little, "row values are copied as little-endian");

namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

int32_t DecodeInt32(const uint8_t* p) {
  return static_cast<int32_t>(uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24);
}

std::string RowPlace(const std::string& path, uint64_t row, uint64_t offset) {
  return path + ": row " + std::to_string(row) + " at byte offset " + std::to_string(offset);
}

}  // namespace

Result<VecsType> VecsTypeFromPath(std::string_view path) {
  if (EndsWith(path, ".fvecs")) return VecsType::kFloat32;
  if (EndsWith(path, ".bvecs")) return VecsType::kUint8;
  if (EndsWith(path, ".ivecs")) return VecsType::kInt32;
  return Status::InvalidArgument(std::string(path) + ": unknown vector file type (expected .fvecs, .bvecs or .ivecs)");
}

VecsReader::VecsReader(std::FILE* file, std::string path, VecsType type, uint32_t dim, uint64_t rows,
                       uint64_t file_bytes)
    : file_(file), path_(std::move(path)), type_(type), dim_(dim), rows_(rows), file_bytes_(file_bytes) {}

VecsReader::~VecsReader() {
  if (file_ != nullptr) std::fclose(file_);
}

size_t VecsReader::ValueBytes() const { return type_ == VecsType::kUint8 ? 1 : 4; }

Result<std::unique_ptr<VecsReader>> VecsReader::Open(const std::string& path) {
  VDB_ASSIGN_OR_RETURN(VecsType type, VecsTypeFromPath(path));
  return Open(path, type);
}

Result<std::unique_ptr<VecsReader>> VecsReader::Open(const std::string& path, VecsType type) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::FromErrno(errno, "open " + path);
  std::unique_ptr<VecsReader> reader(new VecsReader(f, path, type, 0, 0, 0));
  struct stat st;
  if (fstat(fileno(f), &st) != 0) return Status::FromErrno(errno, "stat " + path);
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(path + ": not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  reader->file_bytes_ = size;
  if (size == 0) return reader;
  uint8_t header[4];
  const size_t got = std::fread(header, 1, sizeof(header), f);
  if (got != sizeof(header)) {
    if (std::ferror(f)) return Status::FromErrno(errno, "read " + path);
    return Status::Corruption(RowPlace(path, 0, 0) + ": truncated: the 4-byte dimension header needs 4 bytes, " +
                              "file has " + std::to_string(size));
  }
  const int32_t dim = DecodeInt32(header);
  if (dim <= 0 || static_cast<uint32_t>(dim) > kMaxVecsDim) {
    return Status::Corruption(RowPlace(path, 0, 0) + ": dimension " + std::to_string(dim) + " is outside 1.." +
                              std::to_string(kMaxVecsDim));
  }
  if (std::fseek(f, 0, SEEK_SET) != 0) return Status::FromErrno(errno, "seek " + path);
  reader->dim_ = static_cast<uint32_t>(dim);
  reader->rows_ = size / reader->RowBytes();
  reader->row_.resize(static_cast<size_t>(dim) * reader->ValueBytes());
  return reader;
}

Status VecsReader::ReadRow() {
  const uint64_t offset = next_row_ * RowBytes();
  const uint64_t remaining = file_bytes_ > offset ? file_bytes_ - offset : 0;
  if (remaining < RowBytes()) {
    return Status::Corruption(RowPlace(path_, next_row_, offset) + ": truncated: a row needs " +
                              std::to_string(RowBytes()) + " bytes, only " + std::to_string(remaining) + " remain");
  }
  uint8_t header[4];
  if (std::fread(header, 1, sizeof(header), file_) != sizeof(header)) {
    if (std::ferror(file_)) return Status::FromErrno(errno, "read " + path_);
    return Status::Corruption(RowPlace(path_, next_row_, offset) + ": unexpected end of file");
  }
  const int32_t dim = DecodeInt32(header);
  if (dim < 0 || static_cast<uint32_t>(dim) != dim_) {
    return Status::Corruption(RowPlace(path_, next_row_, offset) + ": dimension " + std::to_string(dim) +
                              " differs from the first row's " + std::to_string(dim_));
  }
  if (std::fread(row_.data(), 1, row_.size(), file_) != row_.size()) {
    if (std::ferror(file_)) return Status::FromErrno(errno, "read " + path_);
    return Status::Corruption(RowPlace(path_, next_row_, offset) + ": unexpected end of file");
  }
  ++next_row_;
  return Status::Ok();
}

Result<size_t> VecsReader::ReadFloats(size_t max_rows, std::vector<float>* out) {
  out->clear();
  if (!error_.ok()) return error_;
  if (dim_ == 0) return size_t{0};
  const size_t n = static_cast<size_t>(std::min<uint64_t>(max_rows, rows_ - next_row_));
  out->resize(n * dim_);
  for (size_t r = 0; r < n; ++r) {
    if (Status s = ReadRow(); !s.ok()) {
      error_ = s;
      out->clear();
      return s;
    }
    float* dst = out->data() + r * dim_;
    switch (type_) {
      case VecsType::kFloat32:
        std::memcpy(dst, row_.data(), row_.size());
        break;
      case VecsType::kUint8:
        for (uint32_t i = 0; i < dim_; ++i) dst[i] = static_cast<float>(row_[i]);
        break;
      case VecsType::kInt32:
        for (uint32_t i = 0; i < dim_; ++i) dst[i] = static_cast<float>(DecodeInt32(&row_[4 * i]));
        break;
    }
  }
  if (n == 0 && max_rows > 0 && next_row_ * RowBytes() != file_bytes_) {
    // Bytes after the last whole row: report them as a truncated row.
    error_ = ReadRow();
    if (error_.ok()) error_ = Status::Corruption(path_ + ": file changed while being read");
    return error_;
  }
  return n;
}

Result<size_t> VecsReader::ReadInt32s(size_t max_rows, std::vector<int32_t>* out) {
  out->clear();
  if (type_ != VecsType::kInt32) return Status::InvalidArgument(path_ + ": int32 rows are only read from .ivecs");
  if (!error_.ok()) return error_;
  if (dim_ == 0) return size_t{0};
  const size_t n = static_cast<size_t>(std::min<uint64_t>(max_rows, rows_ - next_row_));
  out->resize(n * dim_);
  for (size_t r = 0; r < n; ++r) {
    if (Status s = ReadRow(); !s.ok()) {
      error_ = s;
      out->clear();
      return s;
    }
    std::memcpy(out->data() + r * dim_, row_.data(), row_.size());
  }
  if (n == 0 && max_rows > 0 && next_row_ * RowBytes() != file_bytes_) {
    error_ = ReadRow();
    if (error_.ok()) error_ = Status::Corruption(path_ + ": file changed while being read");
    return error_;
  }
  return n;
}

namespace {

// Reads every row, then checks nothing follows the last whole row.
template <typename T, typename ReadFn>
Result<Matrix<T>> LoadAll(const std::string& path, VecsType type, ReadFn read) {
  VDB_ASSIGN_OR_RETURN(std::unique_ptr<VecsReader> reader, VecsReader::Open(path, type));
  Matrix<T> m;
  m.dim = reader->dim();
  VDB_ASSIGN_OR_RETURN(m.rows, read(*reader, reader->rows(), &m.data));
  std::vector<T> rest;
  VDB_ASSIGN_OR_RETURN(size_t more, read(*reader, 1, &rest));
  if (more != 0) return Status::Corruption(path + ": file changed while being read");
  return m;
}

}  // namespace

Result<Matrix<float>> LoadVecsAsFloat(const std::string& path) {
  VDB_ASSIGN_OR_RETURN(VecsType type, VecsTypeFromPath(path));
  return LoadAll<float>(path, type,
                        [](VecsReader& r, size_t n, std::vector<float>* out) { return r.ReadFloats(n, out); });
}

Result<Matrix<int32_t>> LoadIvecs(const std::string& path) {
  return LoadAll<int32_t>(path, VecsType::kInt32,
                          [](VecsReader& r, size_t n, std::vector<int32_t>* out) { return r.ReadInt32s(n, out); });
}

namespace {

using nlohmann::json;

Status LineError(uint64_t line_number, const std::string& what) {
  return Status::InvalidArgument("line " + std::to_string(line_number) + ": " + what);
}

}  // namespace

Result<JsonlRecord> ParseJsonlLine(std::string_view line, uint64_t line_number) {
  try {
    json j;
    try {
      j = json::parse(line.begin(), line.end());
    } catch (const json::parse_error& e) {
      return LineError(line_number, std::string("invalid JSON: ") + e.what());
    }
    if (!j.is_object()) return LineError(line_number, "expected a JSON object");
    JsonlRecord rec;

    const auto id = j.find("id");
    if (id == j.end()) return LineError(line_number, "missing \"id\"");
    if (id->is_string()) {
      rec.id = id->get_ref<const std::string&>();
    } else if (id->is_number_unsigned()) {
      rec.id = std::to_string(id->get<uint64_t>());
    } else if (id->is_number_integer()) {
      rec.id = std::to_string(id->get<int64_t>());
    } else {
      return LineError(line_number, "\"id\" must be a string");
    }

    const auto vec = j.find("vector");
    if (vec != j.end() && !vec->is_null()) {
      if (!vec->is_array()) return LineError(line_number, "\"vector\" must be an array of numbers");
      if (vec->empty()) return LineError(line_number, "\"vector\" is empty");
      if (vec->size() > kMaxVecsDim) {
        return LineError(line_number, "\"vector\" has " + std::to_string(vec->size()) + " components, more than " +
                                          std::to_string(kMaxVecsDim));
      }
      rec.vector.reserve(vec->size());
      for (size_t i = 0; i < vec->size(); ++i) {
        const json& x = (*vec)[i];
        if (!x.is_number()) return LineError(line_number, "vector[" + std::to_string(i) + "] is not a number");
        const double d = x.get<double>();
        const float f = static_cast<float>(d);
        if (!std::isfinite(d) || !std::isfinite(f)) {
          return LineError(line_number, "vector[" + std::to_string(i) + "] = " + x.dump() + " does not fit in float32");
        }
        rec.vector.push_back(f);
      }
    }

    const auto meta = j.find("metadata");
    if (meta != j.end() && !meta->is_null()) {
      if (!meta->is_object()) return LineError(line_number, "\"metadata\" must be a JSON object");
      rec.metadata = meta->dump();
    }

    const auto text = j.find("text");
    if (text != j.end() && !text->is_null()) {
      if (!text->is_string()) return LineError(line_number, "\"text\" must be a string");
      rec.text = text->get_ref<const std::string&>();
    }

    if (rec.vector.empty() && !rec.text.has_value()) {
      return LineError(line_number, "needs \"vector\" or \"text\"");
    }
    return rec;
  } catch (const std::exception& e) {
    return LineError(line_number, std::string("cannot parse: ") + e.what());
  }
}

Result<std::unique_ptr<JsonlReader>> JsonlReader::Open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::FromErrno(errno, "open " + path);
  return std::unique_ptr<JsonlReader>(new JsonlReader(f, path));
}

JsonlReader::~JsonlReader() {
  if (file_ != nullptr) std::fclose(file_);
  std::free(buf_);
}

Result<bool> JsonlReader::Next(JsonlRecord* record) {
  for (;;) {
    errno = 0;
    const ssize_t got = ::getline(&buf_, &cap_, file_);
    if (got < 0) {
      if (std::ferror(file_)) return Status::FromErrno(errno, "read " + path_);
      return false;
    }
    line_.assign(buf_, static_cast<size_t>(got));
    if (!line_.empty() && line_.back() == '\n') line_.pop_back();
    ++line_number_;
    if (line_.find_first_not_of(" \t\r") == std::string::npos) continue;
    Result<JsonlRecord> rec = ParseJsonlLine(line_, line_number_);
    if (!rec.ok()) return rec.status().WithContext(path_);
    *record = std::move(rec).value();
    return true;
  }
}

}  // namespace vdb::dataset
