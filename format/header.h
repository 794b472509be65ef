// The header page (page 0): immutable after creation.
// See docs/format.md#header-page
#pragma once

#include <cstdint>

#include "vdb/status.h"

namespace vdb::format {

struct FileHeader {
  uint32_t format_version = 0;
  uint32_t page_size = 0;
  uint32_t dim = 0;
  uint8_t element_type = 0;
  uint8_t metric = 0;
  uint32_t vector_stride = 0;  // bytes between consecutive slots' vectors
  uint32_t hnsw_m = 0;
  uint32_t hnsw_ef_construction = 0;
  uint32_t hnsw_m0 = 0;
  uint64_t hnsw_seed = 0;
  uint8_t uuid[16] = {};
  uint64_t created_micros = 0;
  uint32_t first_extent_slots = 0;
};

// Stride for a dimension: dim * 4 rounded up to kVectorAlign.
uint32_t VectorStrideFor(uint32_t dim);

// Writes the full page (kPageSize bytes) including the checksum.
void EncodeHeader(const FileHeader& h, uint8_t* page);
// Validates magic, checksum, version and every field. NotSupported for a
// newer format version; Corruption for anything else that is wrong.
Status DecodeHeader(const uint8_t* page, FileHeader* out);

}  // namespace vdb::format
