// Fuzzes the metadata decoder (MessagePack, optionally zstd). Input: u8 flags
// (bit 0: compressed) then the stored bytes. Invariant: what decodes is a
// JSON object whose text encodes again, and one encode/decode round reaches
// a fixed point. (Not the first text itself: arbitrary bytes may hold keys
// that are not UTF-8, which decoding replaces by U+FFFD, so two such keys can
// merge. Metadata vdb wrote always came from JSON text and round-trips.)
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "format/metadata_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vdb::format;
  if (size < 1) return 0;
  std::string_view stored(reinterpret_cast<const char*>(data + 1), size - 1);
  auto text = DecodeMetadata(stored, (data[0] & 1) != 0);
  if (!text.ok()) {
    if (!text.status().IsCorruption()) std::abort();
    return 0;
  }
  if (stored.empty()) return text->empty() ? 0 : (std::abort(), 0);
  if (text->empty() || (*text)[0] != '{') std::abort();
  auto enc = EncodeMetadata(*text);
  if (!enc.ok()) {
    if (!enc.status().IsInvalidArgument()) std::abort();
    return 0;  // e.g. over the size limit
  }
  auto text2 = DecodeMetadata(enc->bytes, enc->compressed);
  if (!text2.ok()) std::abort();
  auto enc2 = EncodeMetadata(*text2);
  if (!enc2.ok()) std::abort();
  auto text3 = DecodeMetadata(enc2->bytes, enc2->compressed);
  if (!text3.ok() || *text3 != *text2) std::abort();
  return 0;
}
