// vdbcheck --repair: salvages every trustworthy record of a damaged database
// into a fresh, consistent file through the public API. See
// docs/vdbcheck.md#repair.
#pragma once

#include <cstdint>
#include <string>

#include "recovery/checker.h"
#include "recovery/salvage.h"
#include "vdb/status.h"

namespace vdb::tools {

struct RepairOptions {
  // Replace the input with the repaired file, keeping the original (and its
  // WAL) under backup_path ("" means <input>.bak; it must not exist).
  bool in_place = false;
  std::string backup_path;
  bool keep_unverified = false;  // see recovery::SalvageOptions
  size_t batch = 1000;           // records per write transaction
};

struct RepairReport {
  // Not OK: nothing usable was written (the input is unchanged in any case).
  Status status;
  std::string input, output, backup;
  recovery::CheckReport before;  // the input, as found
  recovery::SalvageSummary salvage;
  recovery::CheckReport after;   // the output, checked after writing
  uint64_t written = 0;          // records in the output
  uint64_t duplicate_ids = 0;    // ids found in more than one live slot (the later slot was kept)

  // 0: output consistent and every live record saved; 1: output consistent
  // but records were lost; 2: repair failed.
  int ExitCode() const;
  std::string ToText() const;
  std::string ToJson() const;
};

// Never modifies `input` or its WAL unless options.in_place, and then only
// by renaming them to the backup once the repaired file is complete and
// checks clean. `output` must not exist (ignored when in_place).
RepairReport RepairFile(const std::string& input, const std::string& output, const RepairOptions& options);

}  // namespace vdb::tools
