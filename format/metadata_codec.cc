#include "format/metadata_codec.h"

#include <zstd.h>

#include <nlohmann/json.hpp>

#include "format/constants.h"

namespace vdb::format {

namespace {
Result<nlohmann::json> ParseObject(std::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("metadata is not valid JSON");
  if (!j.is_object()) return Status::InvalidArgument(std::string("metadata must be a JSON object, got ") + j.type_name());
  return j;
}
}  // namespace

Result<std::string> CanonicalMetadataJson(std::string_view json) {
  if (json.empty()) return std::string();
  if (json.size() > kMaxMetadataBytes)
    return Status::InvalidArgument("metadata is " + std::to_string(json.size()) + " bytes; the limit is " +
                                   std::to_string(kMaxMetadataBytes));
  VDB_ASSIGN_OR_RETURN(nlohmann::json j, ParseObject(json));
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<EncodedMetadata> EncodeMetadata(std::string_view json) {
  EncodedMetadata out;
  if (json.empty()) return out;
  if (json.size() > kMaxMetadataBytes)
    return Status::InvalidArgument("metadata is " + std::to_string(json.size()) + " bytes; the limit is " +
                                   std::to_string(kMaxMetadataBytes));
  VDB_ASSIGN_OR_RETURN(nlohmann::json j, ParseObject(json));
  std::vector<uint8_t> mp = nlohmann::json::to_msgpack(j);
  if (mp.size() >= kMetaZstdThreshold) {
    std::string z(ZSTD_compressBound(mp.size()), '\0');
    size_t n = ZSTD_compress(z.data(), z.size(), mp.data(), mp.size(), 3);
    if (!ZSTD_isError(n) && n < mp.size()) {
      z.resize(n);
      out.bytes = std::move(z);
      out.compressed = true;
      return out;
    }
  }
  out.bytes.assign(reinterpret_cast<const char*>(mp.data()), mp.size());
  return out;
}

Result<std::string> DecodeMetadata(std::string_view stored, bool compressed) {
  if (stored.empty()) return std::string();
  std::string plain;
  if (compressed) {
    unsigned long long n = ZSTD_getFrameContentSize(stored.data(), stored.size());
    if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > 2ull * kMaxMetadataBytes)
      return Status::Corruption("metadata: bad zstd frame");
    plain.resize(n);
    size_t got = ZSTD_decompress(plain.data(), plain.size(), stored.data(), stored.size());
    if (ZSTD_isError(got) || got != n) return Status::Corruption("metadata: zstd decompression failed");
    stored = plain;
  }
  nlohmann::json j = nlohmann::json::from_msgpack(stored.begin(), stored.end(), true, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("metadata: stored bytes do not decode to an object");
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace vdb::format
