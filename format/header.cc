#include "format/header.h"

#include <cstring>
#include <string>

#include "format/checksum.h"
#include "format/coding.h"
#include "format/constants.h"

namespace vdb::format {

uint32_t VectorStrideFor(uint32_t dim) {
  uint64_t bytes = static_cast<uint64_t>(dim) * 4;
  return static_cast<uint32_t>((bytes + kVectorAlign - 1) / kVectorAlign * kVectorAlign);
}

void EncodeHeader(const FileHeader& h, uint8_t* page) {
  std::memset(page, 0, kPageSize);
  std::memcpy(page + kHeaderOffMagic, kHeaderMagic, 8);
  PutU32(page + kHeaderOffVersion, h.format_version);
  PutU32(page + kHeaderOffPageSize, h.page_size);
  PutU32(page + kHeaderOffDim, h.dim);
  PutU8(page + kHeaderOffElementType, h.element_type);
  PutU8(page + kHeaderOffMetric, h.metric);
  PutU32(page + kHeaderOffVectorStride, h.vector_stride);
  PutU32(page + kHeaderOffHnswM, h.hnsw_m);
  PutU32(page + kHeaderOffHnswEfConstruction, h.hnsw_ef_construction);
  PutU32(page + kHeaderOffHnswM0, h.hnsw_m0);
  PutU64(page + kHeaderOffHnswSeed, h.hnsw_seed);
  std::memcpy(page + kHeaderOffUuid, h.uuid, 16);
  PutU64(page + kHeaderOffCreatedMicros, h.created_micros);
  PutU32(page + kHeaderOffFirstExtentSlots, h.first_extent_slots);
  PutU64(page + kHeaderOffChecksum, Checksum64(page, kHeaderOffChecksum, 0));
}

Status DecodeHeader(const uint8_t* page, FileHeader* out) {
  if (std::memcmp(page + kHeaderOffMagic, kHeaderMagic, 8) != 0)
    return Status::Corruption("header page: bad magic (not a vdb file)");
  FileHeader h;
  h.format_version = GetU32(page + kHeaderOffVersion);
  if (GetU64(page + kHeaderOffChecksum) != Checksum64(page, kHeaderOffChecksum, 0)) {
    if (h.format_version > kFormatVersion)
      return Status::NotSupported("header page: format version " + std::to_string(h.format_version) +
                                  " is newer than this build supports (" + std::to_string(kFormatVersion) + ")");
    return Status::Corruption("header page (offset 0): checksum mismatch");
  }
  if (h.format_version > kFormatVersion)
    return Status::NotSupported("format version " + std::to_string(h.format_version) +
                                " is newer than this build supports (" + std::to_string(kFormatVersion) + ")");
  if (h.format_version == 0) return Status::Corruption("header page: format version 0");
  h.page_size = GetU32(page + kHeaderOffPageSize);
  h.dim = GetU32(page + kHeaderOffDim);
  h.element_type = GetU8(page + kHeaderOffElementType);
  h.metric = GetU8(page + kHeaderOffMetric);
  h.vector_stride = GetU32(page + kHeaderOffVectorStride);
  h.hnsw_m = GetU32(page + kHeaderOffHnswM);
  h.hnsw_ef_construction = GetU32(page + kHeaderOffHnswEfConstruction);
  h.hnsw_m0 = GetU32(page + kHeaderOffHnswM0);
  h.hnsw_seed = GetU64(page + kHeaderOffHnswSeed);
  std::memcpy(h.uuid, page + kHeaderOffUuid, 16);
  h.created_micros = GetU64(page + kHeaderOffCreatedMicros);
  h.first_extent_slots = GetU32(page + kHeaderOffFirstExtentSlots);
  if (h.page_size != kPageSize)
    return Status::Corruption("header page: page size " + std::to_string(h.page_size) + ", expected " +
                              std::to_string(kPageSize));
  if (h.dim == 0 || h.dim > kMaxDim) return Status::Corruption("header page: dimension " + std::to_string(h.dim));
  if (h.element_type != kElemFloat32)
    return Status::NotSupported("header page: element type " + std::to_string(h.element_type));
  if (h.metric < kMetricCosine || h.metric > kMetricDot)
    return Status::Corruption("header page: metric " + std::to_string(h.metric));
  if (h.vector_stride != VectorStrideFor(h.dim))
    return Status::Corruption("header page: vector stride " + std::to_string(h.vector_stride) + " for dimension " +
                              std::to_string(h.dim));
  if (h.hnsw_m < 2 || h.hnsw_m > 256 || h.hnsw_m0 < h.hnsw_m || h.hnsw_m0 > 512)
    return Status::Corruption("header page: HNSW M " + std::to_string(h.hnsw_m) + " / M0 " +
                              std::to_string(h.hnsw_m0));
  if (h.hnsw_ef_construction == 0 || h.hnsw_ef_construction > 100000)
    return Status::Corruption("header page: ef_construction " + std::to_string(h.hnsw_ef_construction));
  if (h.first_extent_slots != kFirstExtentSlots)
    return Status::Corruption("header page: first extent slots " + std::to_string(h.first_extent_slots));
  *out = h;
  return Status::Ok();
}

}  // namespace vdb::format
