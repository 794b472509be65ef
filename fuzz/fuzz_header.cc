// Fuzzes the header page decoder. Input: one page (shorter inputs are zero
// padded). Invariant: a header that decodes re-encodes to a page that
// decodes to the same fields, and to the same bytes when its reserved bytes
// are zero.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "format/constants.h"
#include "format/header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vdb::format;
  std::vector<uint8_t> page(kPageSize, 0);
  std::memcpy(page.data(), data, std::min<size_t>(size, kPageSize));
  FileHeader h;
  if (!DecodeHeader(page.data(), &h).ok()) return 0;
  std::vector<uint8_t> again(kPageSize);
  EncodeHeader(h, again.data());
  FileHeader h2;
  if (!DecodeHeader(again.data(), &h2).ok()) std::abort();
  if (h2.dim != h.dim || h2.metric != h.metric || h2.vector_stride != h.vector_stride || h2.hnsw_m != h.hnsw_m ||
      h2.hnsw_m0 != h.hnsw_m0 || h2.hnsw_seed != h.hnsw_seed || std::memcmp(h2.uuid, h.uuid, 16) != 0 ||
      h2.created_micros != h.created_micros || h2.format_version != h.format_version)
    std::abort();
  bool reserved_zero = true;
  for (uint32_t i = kHeaderUsedBytes; i < kHeaderOffChecksum; i++) reserved_zero = reserved_zero && page[i] == 0;
  if (reserved_zero && page != again) std::abort();
  return 0;
}
