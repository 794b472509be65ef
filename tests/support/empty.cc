// Keeps vdb_test_support non-empty.
