// The storage subcommands of the vdb tool: create, import, search, get,
// delete, stats, checkpoint. Text import/search use the embed module.
#pragma once

#include <CLI/CLI.hpp>

namespace vdb::tools {

// Adds the subcommands to app; the one that runs stores its exit status in
// *exit_code (which must outlive app.parse()).
void AddCoreCommands(CLI::App& app, int* exit_code);

}  // namespace vdb::tools
