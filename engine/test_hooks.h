// Test-only switches that plant known durability bugs, so the crash harness
// can prove it catches them (tests/harness/), and kernel misbehaviour the
// engine must survive. Never set in production code; all default to off.
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

  // Not bugs of ours: the kernel's. A request io_uring never completes is
  // stood for by a read of this descriptor (an empty pipe) linked ahead of
  // the next write batch of any file (consumed by it; -1: none), and
  // io_stuck_ms (0: the default, 30 s) is how long a wait lasts before the
  // ring's requests are cancelled (engine/env_posix.cc).
  std::atomic<int> plant_stuck_read_fd{-1};
  std::atomic<int> io_stuck_ms{0};
};

PlantedBugs& Bugs();

}  // namespace vdb::test_hooks
