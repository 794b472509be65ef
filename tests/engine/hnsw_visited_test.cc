#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "engine/hnsw/search_layer.h"

namespace vdb::hnsw::internal {
namespace {

TEST(VisitedSetTest, MarksASlotOnceAndReportsItAfterwards) {
  VisitedSet v;
  v.Begin(200);
  EXPECT_FALSE(v.Test(130));
  EXPECT_FALSE(v.TestAndSet(130));
  EXPECT_TRUE(v.Test(130));
  EXPECT_TRUE(v.TestAndSet(130));
  EXPECT_FALSE(v.Test(129));
  EXPECT_FALSE(v.Test(131));
}

// Few marks: Begin clears only the words the traversal touched.
TEST(VisitedSetTest, BeginForgetsAFewMarks) {
  VisitedSet v;
  v.Begin(100000);
  for (uint32_t s : {0u, 63u, 64u, 99999u}) EXPECT_FALSE(v.TestAndSet(s));
  v.Begin(100000);
  for (uint32_t s : {0u, 63u, 64u, 99999u}) EXPECT_FALSE(v.Test(s)) << s;
}

// Many marks (more than 1/16 of the words): Begin clears everything.
TEST(VisitedSetTest, BeginForgetsManyMarks) {
  VisitedSet v;
  v.Begin(4096);
  for (uint32_t s = 0; s < 4096; s += 3) EXPECT_FALSE(v.TestAndSet(s));
  v.Begin(4096);
  for (uint32_t s = 0; s < 4096; ++s) ASSERT_FALSE(v.Test(s)) << s;
}

TEST(VisitedSetTest, GrowingTheLimitKeepsEarlierSlotsClear) {
  VisitedSet v;
  v.Begin(10);
  EXPECT_FALSE(v.TestAndSet(9));
  v.Begin(1000000);
  EXPECT_EQ(v.limit(), 1000000u);
  EXPECT_FALSE(v.Test(9));
  EXPECT_FALSE(v.TestAndSet(999999));
  EXPECT_TRUE(v.Test(999999));
  v.Begin(10);  // a smaller limit after a larger one
  EXPECT_FALSE(v.Test(9));
  EXPECT_FALSE(v.TestAndSet(9));
}

}  // namespace
}  // namespace vdb::hnsw::internal
