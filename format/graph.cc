#include "format/graph.h"

#include "format/coding.h"

namespace vdb::format {

GraphRecord DecodeGraphRecordHeader(const uint8_t* rec) {
  GraphRecord r;
  r.level = static_cast<int>(GetU8(rec + kGraphOffLevel)) - 1;
  r.deleted = (GetU8(rec + kGraphOffFlags) & kGraphFlagDeleted) != 0;
  r.count = GetU16(rec + kGraphOffCount);
  r.inv_norm = GetF32(rec + kGraphOffInvNorm);
  r.upper_ref = GetU64(rec + kGraphOffUpperRef);
  return r;
}

void EncodeGraphRecordHeader(const GraphRecord& r, uint8_t* rec) {
  PutU8(rec + kGraphOffLevel, static_cast<uint8_t>(r.level + 1));
  PutU8(rec + kGraphOffFlags, r.deleted ? kGraphFlagDeleted : 0);
  PutU16(rec + kGraphOffCount, r.count);
  PutF32(rec + kGraphOffInvNorm, r.inv_norm);
  PutU64(rec + kGraphOffUpperRef, r.upper_ref);
}

}  // namespace vdb::format
