// Structural check of a database's HNSW graph as of the latest commit
// (ids in range, degrees, levels, entry point, reachability). Used by tests,
// the crash harness and `vdb stats`.
#pragma once

#include "engine/hnsw/hnsw.h"
#include "vdb/db.h"

namespace vdb {

// InvalidArgument if db is not a vdb::Database made by Create/Open.
Result<hnsw::InvariantReport> CheckGraph(const Database& db);

}  // namespace vdb
