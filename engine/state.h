// StateReader: the database's logical structures (slot records, id map,
// blob heap, vector region) read through a PageSource, which is either a
// reader's snapshot or the writer's transaction. Never trusts the bytes:
// every location is checked against the meta body before it is read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "format/header.h"
#include "format/meta.h"
#include "format/pages.h"
#include "vdb/status.h"

namespace vdb {

// Where page images come from.
class PageSource {
 public:
  virtual ~PageSource() = default;
  // REQUIRES: pgno < meta.page_count. Never null.
  virtual const uint8_t* Page(uint64_t pgno) const = 0;
  // The vector of slot (dim floats), or nullptr if not readable.
  virtual const float* Vector(uint32_t slot) const = 0;
};

struct Layout {
  const format::FileHeader* header = nullptr;
  uint64_t uuid_seed = 0;
  uint32_t dim() const { return header->dim; }
};

class StateReader {
 public:
  StateReader(const PageSource* src, const format::MetaBody* meta, const Layout* layout)
      : src_(src), meta_(meta), layout_(layout) {}

  // Location of slot's record: page and byte offset in it.
  Status SlotRecordLoc(uint32_t slot, uint64_t* pgno, uint32_t* off) const;
  Result<format::SlotRecord> Slot(uint32_t slot) const;
  // File offset of slot's vector.
  Status VectorOffset(uint32_t slot, uint64_t* off) const;
  Result<std::string> ReadBlob(uint64_t ref, uint32_t len) const;
  // The live slot holding id, or NotFound.
  Result<uint32_t> FindId(std::string_view id) const;
  // Location of id-map entry i.
  void IdMapLoc(uint64_t i, uint64_t* pgno, uint32_t* off) const;
  Status CheckIdMapLocation() const;
  Result<std::string> SlotId(uint32_t slot, const format::SlotRecord& r) const;
  // Location of entry i of the unindexed list. REQUIRES: unindexed_page != 0.
  void UnindexedLoc(uint32_t i, uint64_t* pgno, uint32_t* off) const;
  // The unindexed list: live slots not yet in the graph. Corruption if an
  // entry names a slot beyond the high-water mark.
  Status UnindexedSlots(std::vector<uint32_t>* out) const;
  // XXH3-based record check of (vector, id, stored metadata).
  static uint32_t RecordCheck(uint32_t slot, const float* vec, uint32_t dim, std::string_view id,
                              std::string_view meta);

  const format::MetaBody& meta() const { return *meta_; }
  const PageSource* source() const { return src_; }

 private:
  const PageSource* src_;
  const format::MetaBody* meta_;
  const Layout* layout_;
};

}  // namespace vdb
