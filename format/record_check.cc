#include "format/record_check.h"

#include "format/checksum.h"

namespace vdb::format {

uint32_t RecordCheck(uint32_t slot, const void* vector_bytes, size_t vector_len, std::string_view id,
                     std::string_view stored_metadata) {
  Checksummer c(slot);
  c.Update(vector_bytes, vector_len);
  c.Update(id.data(), id.size());
  c.Update(stored_metadata.data(), stored_metadata.size());
  return static_cast<uint32_t>(c.Digest());
}

}  // namespace vdb::format
