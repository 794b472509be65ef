// Reader for the safetensors format (Hugging Face): an 8-byte little-endian
// header length N, N bytes of JSON header, then the tensor data. The header
// maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the data start) and may hold "__metadata__".
// Every field, shape and offset is validated; data is never trusted.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vdb/status.h"

namespace vdb::embed {

enum class DType { kF32, kF16, kBF16, kF64, kI64, kI32, kI16, kI8, kU8, kBool };

// "F32", "BF16", ... as spelled in the header.
std::string_view DTypeName(DType d);
size_t DTypeSize(DType d);
bool DTypeIsFloat(DType d);

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t count = 0;   // product of shape (1 for a scalar)
  uint64_t begin = 0;   // offsets relative to the data start
  uint64_t end = 0;
};

// Largest header accepted (the reference implementation's limit).
inline constexpr uint64_t kMaxSafetensorsHeader = 100u << 20;

struct SafetensorsHeader {
  uint64_t header_size = 0;  // N
  uint64_t data_start = 0;   // 8 + N
  uint64_t data_size = 0;    // bytes of tensor data the header describes
  // Sorted by begin offset. Invariant: contiguous, non-overlapping, the first
  // begins at 0 and the last ends at data_size.
  std::vector<TensorInfo> tensors;
  std::map<std::string, std::string> metadata;

  const TensorInfo* Find(std::string_view name) const;
};

// Parses and validates a header. `bytes` is the start of the file (at least
// the first 8 + N bytes for success); `what` names the file in errors.
// Does not check that the data is present (see SafetensorsFile).
Result<SafetensorsHeader> ParseSafetensorsHeader(std::span<const uint8_t> bytes,
                                                 std::string_view what);

// A safetensors file mapped read-only. Thread-safe for reads after Open.
class SafetensorsFile {
 public:
  // Opens and validates the header. A file shorter than its header promises
  // opens (so the present tensors can be inspected) but complete() is false.
  static Result<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }
  uint64_t file_size() const { return file_size_; }
  // The data of every tensor is in the file.
  bool complete() const;
  // Corruption naming the first tensor whose data is cut off, or OK.
  Status CheckComplete() const;
  bool IsPresent(const TensorInfo& t) const;
  // The tensor's values converted to float32. Corruption if its data is not
  // all in the file (names the tensor, its byte range and the file size).
  Result<std::vector<float>> ReadFloats(const TensorInfo& t) const;
  Result<std::vector<float>> ReadFloats(std::string_view name) const;
  // Raw little-endian bytes of a present tensor.
  Result<std::span<const uint8_t>> Bytes(const TensorInfo& t) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  SafetensorsHeader header_;
  uint64_t file_size_ = 0;
  const uint8_t* map_ = nullptr;  // owned mapping of file_size_ bytes
};

// Converts n little-endian values of dtype at src to float32.
void ConvertToFloat(DType dtype, const uint8_t* src, size_t n, float* dst);
float HalfToFloat(uint16_t h);
float Bfloat16ToFloat(uint16_t h);

}  // namespace vdb::embed
