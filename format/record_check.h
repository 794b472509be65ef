// The check word of a live slot record: low 32 bits of XXH3-64 over the
// vector bytes (dim * 4, little-endian f32), the id and the stored metadata
// bytes, seeded with the slot number. See docs/format.md#slot-records
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vdb::format {

uint32_t RecordCheck(uint32_t slot, const void* vector_bytes, size_t vector_len, std::string_view id,
                     std::string_view stored_metadata);

}  // namespace vdb::format
