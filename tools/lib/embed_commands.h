// The text-embedding subcommands of the vdb tool:
//   vdb tokenize --model M     stdin JSONL {"text": ...} -> {"input_ids": [...]}
//   vdb embed --model M        stdin JSONL {"text": ...} -> {"embedding": [...]}
//   vdb peek --model M "sentence" ...            first values, min/max/mean
//   vdb peek --model M --compare ANCHOR S1 S2 ... ranked by cosine to ANCHOR
//   vdb peek --model M --side-by-side A B        two vectors index by index
//   vdb peek --weights PATH [--json]             statistics of every tensor
//   vdb peek --weights PATH --layer NAME --csv   one tensor's values
// M is a model directory, a Hugging Face name found in the local cache,
// "hash" / "hash:DIM" (lexical), or empty for $VDB_MODEL. Results go to
// stdout, errors to stderr; exit status 2 for usage or input errors, 1 for
// other failures.
#pragma once

#include <CLI/CLI.hpp>

namespace vdb::tools {

// Adds the subcommands above to `app`. When one runs, it stores its exit
// status in *exit_code (which must outlive app.parse()).
void AddEmbedCommands(CLI::App& app, int* exit_code);

}  // namespace vdb::tools
