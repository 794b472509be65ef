#include "engine/embed/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "engine/embed/file_util.h"

namespace vdb::embed {

std::string_view DTypeName(DType d) {
  switch (d) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kF64: return "F64";
    case DType::kI64: return "I64";
    case DType::kI32: return "I32";
    case DType::kI16: return "I16";
    case DType::kI8: return "I8";
    case DType::kU8: return "U8";
    case DType::kBool: return "BOOL";
  }
  return "?";
}

size_t DTypeSize(DType d) {
  switch (d) {
    case DType::kF64: case DType::kI64: return 8;
    case DType::kF32: case DType::kI32: return 4;
    case DType::kF16: case DType::kBF16: case DType::kI16: return 2;
    case DType::kI8: case DType::kU8: case DType::kBool: return 1;
  }
  return 1;
}

bool DTypeIsFloat(DType d) {
  return d == DType::kF32 || d == DType::kF16 || d == DType::kBF16 || d == DType::kF64;
}

const TensorInfo* SafetensorsHeader::Find(std::string_view name) const {
  for (const TensorInfo& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

namespace {

bool ParseDType(const std::string& s, DType* out) {
  static const std::pair<const char*, DType> kNames[] = {
      {"F32", DType::kF32}, {"F16", DType::kF16}, {"BF16", DType::kBF16},
      {"F64", DType::kF64}, {"I64", DType::kI64}, {"I32", DType::kI32},
      {"I16", DType::kI16}, {"I8", DType::kI8},   {"U8", DType::kU8},
      {"BOOL", DType::kBool}};
  for (const auto& [n, d] : kNames) {
    if (s == n) {
      *out = d;
      return true;
    }
  }
  return false;
}

uint64_t ReadLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

Status Bad(std::string_view what, const std::string& tensor, const std::string& problem) {
  return Status::Corruption(std::string(what) + ": tensor \"" + tensor + "\": " + problem);
}

}  // namespace

Result<SafetensorsHeader> ParseSafetensorsHeader(std::span<const uint8_t> bytes,
                                                 std::string_view what) {
  const std::string w(what);
  if (bytes.size() < 8) {
    return Status::Corruption(w + ": " + std::to_string(bytes.size()) +
                              " bytes, too short for the 8-byte header length");
  }
  SafetensorsHeader h;
  h.header_size = ReadLe64(bytes.data());
  if (h.header_size > kMaxSafetensorsHeader) {
    return Status::Corruption(w + ": header length " + std::to_string(h.header_size) +
                              " exceeds the limit of " +
                              std::to_string(kMaxSafetensorsHeader) + " bytes");
  }
  if (h.header_size > bytes.size() - 8) {
    return Status::Corruption(w + ": header length " + std::to_string(h.header_size) +
                              " exceeds the " + std::to_string(bytes.size() - 8) +
                              " bytes that follow it");
  }
  if (h.header_size < 2) {
    return Status::Corruption(w + ": header length " + std::to_string(h.header_size) +
                              " is too small for a JSON object");
  }
  h.data_start = 8 + h.header_size;
  std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8, h.header_size);
  if (text[0] != '{') {
    return Status::Corruption(w + ": header does not start with '{'");
  }
  auto parsed = ParseJson(text, w + " header");
  if (!parsed.ok()) return Status::Corruption(parsed.status().message());
  const nlohmann::json& j = *parsed;
  if (!j.is_object()) return Status::Corruption(w + ": header is not a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = *it;
    if (name == "__metadata__") {
      if (!v.is_object()) return Status::Corruption(w + ": __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m->is_string()) {
          return Status::Corruption(w + ": __metadata__ value \"" + m.key() +
                                    "\" is not a string");
        }
        h.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    if (name.empty()) return Status::Corruption(w + ": a tensor has an empty name");
    if (!v.is_object()) return Bad(w, name, "entry is not an object");
    TensorInfo t;
    t.name = name;
    auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string()) return Bad(w, name, "missing or non-string dtype");
    if (!ParseDType(dt->get<std::string>(), &t.dtype)) {
      return Bad(w, name, "unknown dtype \"" + dt->get<std::string>() + "\"");
    }
    auto shape = v.find("shape");
    if (shape == v.end() || !shape->is_array()) return Bad(w, name, "missing or non-array shape");
    if (shape->size() > 16) return Bad(w, name, "shape has more than 16 dimensions");
    uint64_t count = 1;
    for (const auto& d : *shape) {
      if (!d.is_number_unsigned()) return Bad(w, name, "shape entry is not a non-negative integer");
      uint64_t dim = d.get<uint64_t>();
      if (dim > (uint64_t{1} << 40)) return Bad(w, name, "shape entry " + std::to_string(dim) + " is too large");
      if (dim != 0 && count > UINT64_MAX / dim / 8) return Bad(w, name, "shape product overflows");
      count *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    t.count = count;
    auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2 ||
        !(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned()) {
      return Bad(w, name, "data_offsets is not a pair of non-negative integers");
    }
    t.begin = (*off)[0].get<uint64_t>();
    t.end = (*off)[1].get<uint64_t>();
    if (t.begin > t.end) {
      return Bad(w, name, "data_offsets begin " + std::to_string(t.begin) +
                              " is after end " + std::to_string(t.end));
    }
    uint64_t want = count * DTypeSize(t.dtype);
    if (t.end - t.begin != want) {
      return Bad(w, name, "data_offsets span " + std::to_string(t.end - t.begin) +
                              " bytes but shape and dtype need " + std::to_string(want));
    }
    h.tensors.push_back(std::move(t));
  }
  std::sort(h.tensors.begin(), h.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expect = 0;
  for (const TensorInfo& t : h.tensors) {
    if (t.begin < expect) {
      return Bad(w, t.name, "data_offsets [" + std::to_string(t.begin) + ", " +
                                std::to_string(t.end) + ") overlap the previous tensor");
    }
    if (t.begin > expect) {
      return Bad(w, t.name, "data_offsets begin " + std::to_string(t.begin) +
                                " leaves a hole after byte " + std::to_string(expect));
    }
    expect = t.end;
  }
  h.data_size = expect;
  if (h.data_size > UINT64_MAX - h.data_start) {
    return Status::Corruption(w + ": data size overflows");
  }
  return h;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(const_cast<uint8_t*>(map_), file_size_);
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::FromErrno(err, path);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno(err, path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(path + ": not a regular file");
  }
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->file_size_ = static_cast<uint64_t>(st.st_size);
  if (f->file_size_ > 0) {
    void* p = ::mmap(nullptr, f->file_size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno(err, path + ": mmap");
    }
    f->map_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  VDB_ASSIGN_OR_RETURN(f->header_, ParseSafetensorsHeader(
                                       std::span<const uint8_t>(f->map_, f->file_size_), path));
  return f;
}

bool SafetensorsFile::IsPresent(const TensorInfo& t) const {
  return header_.data_start + t.end <= file_size_;
}

bool SafetensorsFile::complete() const {
  return header_.data_start + header_.data_size <= file_size_;
}

Status SafetensorsFile::CheckComplete() const {
  for (const TensorInfo& t : header_.tensors) {
    if (!IsPresent(t)) {
      return Status::Corruption(
          path_ + ": truncated: tensor \"" + t.name + "\" needs bytes [" +
          std::to_string(header_.data_start + t.begin) + ", " +
          std::to_string(header_.data_start + t.end) + ") but the file has " +
          std::to_string(file_size_) + " bytes (expected " +
          std::to_string(header_.data_start + header_.data_size) + ")");
    }
  }
  return Status::Ok();
}

Result<std::span<const uint8_t>> SafetensorsFile::Bytes(const TensorInfo& t) const {
  if (!IsPresent(t)) {
    return Status::Corruption(path_ + ": tensor \"" + t.name + "\" is truncated: needs bytes up to " +
                              std::to_string(header_.data_start + t.end) + " but the file has " +
                              std::to_string(file_size_));
  }
  return std::span<const uint8_t>(map_ + header_.data_start + t.begin, t.end - t.begin);
}

Result<std::vector<float>> SafetensorsFile::ReadFloats(const TensorInfo& t) const {
  VDB_ASSIGN_OR_RETURN(std::span<const uint8_t> bytes, Bytes(t));
  std::vector<float> out(t.count);
  ConvertToFloat(t.dtype, bytes.data(), t.count, out.data());
  return out;
}

Result<std::vector<float>> SafetensorsFile::ReadFloats(std::string_view name) const {
  const TensorInfo* t = header_.Find(name);
  if (t == nullptr) {
    return Status::NotFound(path_ + ": no tensor \"" + std::string(name) + "\"");
  }
  return ReadFloats(*t);
}

float HalfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3FF) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float Bfloat16ToFloat(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void ConvertToFloat(DType dtype, const uint8_t* src, size_t n, float* dst) {
  if (n == 0) return;  // an empty tensor may come with null pointers
  auto le = [src](size_t i, size_t size) {
    uint64_t v = 0;
    for (size_t k = size; k-- > 0;) v = (v << 8) | src[i * size + k];
    return v;
  };
  switch (dtype) {
    case DType::kF32:
      if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(dst, src, n * 4);
        break;
      }
      for (size_t i = 0; i < n; ++i) {
        uint32_t b = static_cast<uint32_t>(le(i, 4));
        std::memcpy(&dst[i], &b, 4);
      }
      break;
    case DType::kF16:
      for (size_t i = 0; i < n; ++i) dst[i] = HalfToFloat(static_cast<uint16_t>(le(i, 2)));
      break;
    case DType::kBF16:
      for (size_t i = 0; i < n; ++i) dst[i] = Bfloat16ToFloat(static_cast<uint16_t>(le(i, 2)));
      break;
    case DType::kF64:
      for (size_t i = 0; i < n; ++i) {
        uint64_t b = le(i, 8);
        double d;
        std::memcpy(&d, &b, 8);
        dst[i] = static_cast<float>(d);
      }
      break;
    case DType::kI64:
      for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(static_cast<int64_t>(le(i, 8)));
      break;
    case DType::kI32:
      for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(static_cast<int32_t>(le(i, 4)));
      break;
    case DType::kI16:
      for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(static_cast<int16_t>(le(i, 2)));
      break;
    case DType::kI8:
      for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(static_cast<int8_t>(src[i]));
      break;
    case DType::kU8:
    case DType::kBool:
      for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
      break;
  }
}

}  // namespace vdb::embed
