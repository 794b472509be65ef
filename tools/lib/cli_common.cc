#include "tools/lib/cli_common.h"

#include <cstdio>

namespace vdb::tools {

int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "vdb: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::fflush(stderr);
  return s.IsInvalidArgument() ? kExitUsage : kExitFailure;
}

Result<std::unique_ptr<Database>> OpenDatabase(const std::string& path, bool allow_read_only) {
  OpenOptions o;
  auto db = Database::Open(path, o);
  if (!db.ok() && db.status().IsReadOnly() && allow_read_only) {
    o.read_only = true;
    return Database::Open(path, o);
  }
  return db;
}

}  // namespace vdb::tools
