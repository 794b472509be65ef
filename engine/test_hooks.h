// Test-only switches that plant known durability bugs, so the crash harness
// can prove it catches them (tests/harness/). Never set in production code;
// all default to off.
#pragma once

#include <atomic>

namespace vdb::test_hooks {

struct PlantedBugs {
  // Commit returns without fdatasync of the WAL.
  std::atomic<bool> skip_wal_sync{false};
  // Page images reach the main file before their WAL record is durable.
  std::atomic<bool> write_before_wal{false};
  // Meta pages are accepted on open without verifying their checksum.
  std::atomic<bool> skip_meta_checksum{false};
  // A page's first change in a WAL generation is logged as a delta against
  // the main file's copy instead of a full image.
  std::atomic<bool> delta_without_image{false};
};

PlantedBugs& Bugs();

}  // namespace vdb::test_hooks
