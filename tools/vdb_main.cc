// vdb: the command-line tool. See README.md and `vdb --help`.
#include <CLI/CLI.hpp>

#include "tools/lib/core_commands.h"
#include "tools/lib/embed_commands.h"

int main(int argc, char** argv) {
  CLI::App app{"vdb: an embedded vector database in one file"};
  app.require_subcommand(1);
  int exit_code = 0;
  vdb::tools::AddCoreCommands(app, &exit_code);
  vdb::tools::AddEmbedCommands(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return exit_code;
}
