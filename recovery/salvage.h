// Salvage: reads every record that can still be trusted out of a possibly
// damaged database (and its WAL, as replay would apply it), without modifying
// either. vdbcheck --repair writes what it yields into a fresh file.
// See docs/vdbcheck.md#repair.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "format/header.h"
#include "vdb/status.h"

namespace vdb::recovery {

struct SalvagedRecord {
  uint32_t slot = 0;
  std::string id;
  std::vector<float> vector;
  std::string metadata_json;  // compact JSON object, or ""
  bool verified = true;       // the record check matched
};

struct SalvageOptions {
  std::string wal_path;  // "" means path + "-wal"
  // Also yield live records whose record check fails but whose id, vector
  // (finite) and metadata (decodes) are individually readable. Their bytes
  // may be damaged in ways that cannot be detected.
  bool keep_unverified = false;
};

struct SalvageSummary {
  format::FileHeader header;
  bool header_ok = false;        // false: nothing could be salvaged
  bool header_checksum_ok = false;
  int meta_page_used = -1;       // 1 or 2
  bool meta_checksum_ok = false; // false: a meta page whose checksum fails was used
  bool wal_applied = false;      // the WAL's complete commits were overlaid
  uint64_t wal_commits = 0;
  uint64_t slots_in_use = 0;     // the meta page's slot high-water mark
  uint64_t slots_scanned = 0;
  uint64_t live_seen = 0;        // slot records marked live
  uint64_t saved = 0;            // yielded (verified + unverified)
  uint64_t saved_unverified = 0;
  uint64_t lost = 0;             // live records not yielded
  std::vector<std::string> lost_detail;  // "slot N (id 'x'): why", at most kMaxDetail
  std::string model_identity;    // the embedding model identity, if readable
  static constexpr size_t kMaxDetail = 200;
};

// Calls sink for every salvageable live record, in slot order. Stops at the
// first non-OK status from sink and returns it. Other errors: NotFound /
// IOError for unreadable files, Corruption when no header or meta page is
// usable at all (nothing can be salvaged).
Status SalvageRecords(const std::string& path, const SalvageOptions& options,
                      const std::function<Status(SalvagedRecord&&)>& sink, SalvageSummary* summary);

}  // namespace vdb::recovery
