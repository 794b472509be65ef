#include "support/test_db.h"

#include <gtest/gtest.h>

namespace vdb::testing {

std::unique_ptr<Database> MustCreate(const std::string& path, uint32_t dim, Metric metric, OpenOptions o) {
  CreateOptions c;
  c.dim = dim;
  c.metric = metric;
  auto db = Database::Create(path, c, o);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? std::move(*db) : nullptr;
}

}  // namespace vdb::testing
