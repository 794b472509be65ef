// Per-record metadata: a JSON object stored as MessagePack, compressed with
// zstd when the MessagePack form is at least kMetaZstdThreshold bytes.
// See docs/format.md#metadata
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "vdb/status.h"

namespace vdb::format {

struct EncodedMetadata {
  std::string bytes;       // what is stored in the blob heap
  bool compressed = false; // kSlotFlagMetaZstd
};

// json must be "" (no metadata) or a JSON object; anything else is
// InvalidArgument naming the problem. "" encodes to an empty result.
Result<EncodedMetadata> EncodeMetadata(std::string_view json);
// Parses a JSON object and returns its canonical compact text ("" for "").
Result<std::string> CanonicalMetadataJson(std::string_view json);
// Decodes stored bytes back to compact JSON text. Corruption on bad bytes.
Result<std::string> DecodeMetadata(std::string_view stored, bool compressed);

}  // namespace vdb::format
