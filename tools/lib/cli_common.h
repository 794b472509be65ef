// Helpers shared by the vdb and vdbcheck command-line tools.
#pragma once

#include <memory>
#include <string>

#include "vdb/db.h"

namespace vdb::tools {

// Exit statuses of the tools.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the operation failed (database error, damage found)
inline constexpr int kExitUsage = 2;    // bad arguments or unreadable input

// Prints "vdb: <what>: <status>" to stderr and returns the exit status for it.
int Fail(const std::string& what, const Status& s);

// Opens path for writing; if the file is not writable and allow_read_only,
// opens it read-only instead.
Result<std::unique_ptr<Database>> OpenDatabase(const std::string& path, bool allow_read_only);

}  // namespace vdb::tools
