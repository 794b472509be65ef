// Helpers shared by the embedding tests: scratch directories, model copies
// and hand-built safetensors files.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vdb::embed::testing {

inline const std::string kModelsDir = std::string(VDB_SHARED_DIR) + "/models/";

// A fresh directory under the build tree, removed by the destructor.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = std::string(VDB_BINARY_DIR) + "/embed_scratch_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    char* p = ::mkdtemp(buf.data());
    path_ = p ? p : "";
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Copies a shared model directory into dst (created); returns dst.
inline std::string CopyModel(const std::string& model, const std::string& dst) {
  std::filesystem::create_directories(dst);
  std::filesystem::copy(kModelsDir + model, dst,
                        std::filesystem::copy_options::recursive |
                            std::filesystem::copy_options::overwrite_existing);
  for (auto& e : std::filesystem::recursive_directory_iterator(dst)) {
    std::filesystem::permissions(e.path(), std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::add);
  }
  return dst;
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// One tensor of a hand-built safetensors file.
struct RawTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

// 8-byte length, the given header JSON text, then data.
inline std::string SafetensorsBytes(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(n >> (8 * i));
  return out + header + data;
}

// A well-formed file of the tensors, laid out in order.
inline std::string BuildSafetensors(const std::vector<RawTensor>& tensors) {
  nlohmann::json h = nlohmann::json::object();
  std::string data;
  for (const RawTensor& t : tensors) {
    h[t.name] = {{"dtype", t.dtype},
                 {"shape", t.shape},
                 {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  h["__metadata__"] = {{"format", "pt"}};
  return SafetensorsBytes(h.dump(), data);
}

inline std::string FloatBytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

}  // namespace vdb::embed::testing
