// Databases for tests.
#pragma once

#include <memory>
#include <string>

#include "vdb/db.h"

namespace vdb::testing {

// A new database at path (dim, metric; other CreateOptions at their
// defaults), opened with o. A failure is a test failure (EXPECT) and returns
// nullptr.
std::unique_ptr<Database> MustCreate(const std::string& path, uint32_t dim, Metric metric = Metric::kL2,
                                     OpenOptions o = {});

}  // namespace vdb::testing
