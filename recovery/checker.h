// The integrity checker behind vdbcheck: reads a database file (and its
// sidecar WAL) and reports every inconsistency it finds, without modifying
// either. See docs/vdbcheck.md for the checks and every diagnostic code.
//
// The checker never trusts the bytes: every length, count, offset and link is
// validated before use, walks are bounded by what the files can physically
// hold, and memory stays bounded (about 10 bytes per slot plus a few MiB of
// page cache and WAL index), whatever the input.
//
// A file left behind by a crash with a WAL still to replay is a normal state:
// the checker checks the state replay will produce (the WAL's page images and
// vector bytes overlaid in memory on the file's pages) and reports what replay
// will do in CheckReport::replay.
//
// Thread-safety: CheckFile may run concurrently on different files; a
// concurrent writer to the same file makes the result meaningless (open the
// database elsewhere only after the check, or check a copy).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/header.h"
#include "format/meta.h"
#include "vdb/status.h"

namespace vdb::recovery {

enum class Severity : uint8_t {
  kDamage,   // the file is not consistent: data is or may be lost
  kWarning,  // unusual but harmless, or normal after a crash
};
const char* SeverityName(Severity s);

// One problem found. Codes are stable identifiers ("meta.checksum",
// "slot.record_check", ...) listed in docs/vdbcheck.md.
struct Finding {
  Severity severity = Severity::kDamage;
  std::string code;
  std::string structure;  // e.g. "meta page 2", "slot record 17", "WAL record"
  std::string file;       // "main" or "wal"
  int64_t page = -1;      // page of `file` (main file only), -1 if none
  int64_t offset = -1;    // byte offset in `file`, -1 if none
  int64_t slot = -1;      // slot concerned, -1 if none
  std::string expected;   // what the format requires ("" if not applicable)
  std::string found;      // what the file holds
  std::string message;    // one sentence for a human
};

// What opening the database will do with its WAL (the crash-recovery plan).
struct ReplayPlan {
  bool wal_present = false;
  bool wal_header_ok = false;
  uint64_t wal_bytes = 0;
  uint64_t wal_generation = 0;
  uint64_t commits = 0;           // complete commits replay applies
  uint64_t records = 0;
  uint64_t first_commit_seq = 0;  // of the commits applied (0 if none)
  uint64_t last_commit_seq = 0;   // the database's last commit after replay
  uint64_t page_images = 0;       // page entries applied
  uint64_t vector_bytes = 0;      // bytes of vector entries applied
  uint64_t delta_bytes = 0;       // bytes of page-delta entries applied
  uint64_t valid_end = 0;         // WAL offset past the last complete commit
  uint64_t discarded_bytes = 0;   // torn or stale tail replay drops
  std::string stop_reason;
};

// Figures of the checked state (after replay).
struct CheckStats {
  uint64_t file_bytes = 0;
  format::FileHeader header;       // valid when header_ok
  bool header_ok = false;
  int meta_page_used = -1;         // 1 or 2; -1 if neither is valid
  uint64_t meta_seq = 0;
  uint64_t checkpoint_commit_seq = 0;
  format::MetaBody body;           // the state checked (meta page + replay)
  bool body_ok = false;
  uint64_t slots_checked = 0;
  uint64_t live_records = 0;
  uint64_t free_slots = 0;
  uint64_t deleted_slots = 0;
  uint64_t records_verified = 0;   // live records whose record check matched
  uint64_t metadata_decoded = 0;
  uint64_t sealed_pages_checked = 0;
  uint64_t idmap_entries = 0;      // used entries seen
  uint64_t free_chain_length = 0;
};

struct CheckOptions {
  // Sidecar WAL; "" means path + "-wal".
  std::string wal_path;
  // Findings kept in the report; all are counted (damage_count, warning_count).
  size_t max_findings = 1000;
  // Read every live record's vector, id and metadata and verify its record
  // check (the slow part: it reads the whole vector region once).
  bool verify_records = true;
};

struct CheckReport {
  std::string path;
  // Not OK when the file could not be checked at all (missing, unreadable,
  // I/O error, or a format version newer than this build reads); damage is
  // reported as findings, never here.
  Status status;
  std::vector<Finding> findings;  // at most CheckOptions::max_findings
  uint64_t damage_count = 0;
  uint64_t warning_count = 0;
  ReplayPlan replay;
  CheckStats stats;

  // The file could be checked and no damage was found.
  bool consistent() const { return status.ok() && damage_count == 0; }
  // vdbcheck's exit code: 0 consistent, 1 damage found, 2 could not check.
  int ExitCode() const { return !status.ok() ? 2 : damage_count > 0 ? 1 : 0; }
  // True if a finding with this code was reported.
  bool Has(const std::string& code) const;
  // The one-line summary that ends the human-readable report.
  std::string Summary() const;
  // Human-readable report: one line per finding, the replay plan, the summary.
  std::string ToText() const;
  // The same as a JSON document (see docs/vdbcheck.md#json).
  std::string ToJson() const;
};

// Checks the database at path and its WAL. Never modifies either; never
// crashes or hangs, whatever the bytes.
CheckReport CheckFile(const std::string& path, const CheckOptions& options = {});

}  // namespace vdb::recovery
