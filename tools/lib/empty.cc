// Keeps vdb_tool_lib non-empty.
