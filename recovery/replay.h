// Crash recovery: redo every complete committed transaction found in the WAL
// after the checkpoint a meta page describes. See docs/recovery.md.
#pragma once

#include <cstdint>
#include <string>

#include "format/header.h"
#include "format/meta.h"
#include "vdb/env.h"

namespace vdb::recovery {

struct ReplayResult {
  bool wal_present = false;
  bool wal_header_ok = false;
  uint64_t wal_generation = 0;  // from the WAL header
  uint64_t wal_bytes = 0;
  uint64_t commits = 0;           // complete commits found (and applied, if asked)
  uint64_t records = 0;
  uint64_t last_commit_seq = 0;   // meta's commit_seq when commits == 0
  uint64_t valid_end = 0;         // WAL offset past the last complete commit
  uint64_t discarded_bytes = 0;   // torn or incomplete tail that replay drops
  std::string stop_reason;
  uint64_t pages_written = 0;
  uint64_t bytes_written = 0;
  format::MetaBody body;          // the state after replay
};

// Scans the WAL (wal may be null: no WAL file) for the commits that follow
// meta's checkpoint; if main is non-null, writes them into it (not synced).
// Corruption when a record whose checksum is good holds impossible content.
Result<ReplayResult> ReplayWal(File* wal, File* main, const format::FileHeader& header,
                               const format::MetaPage& meta);

}  // namespace vdb::recovery
