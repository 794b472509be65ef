#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run a demo
# on data that ships with the repository (tools/demo/facts.jsonl, 20 facts):
# create a database, import text with the built-in lexical embedder, search
# it (HNSW and exact), reopen, delete, and check the file with vdbcheck.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-$ROOT/build}

bash tools/install-deps.sh
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVDB_BUILD_TESTS=OFF -DVDB_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)"

VDB="$BUILD/tools/vdb"
VDBCHECK="$BUILD/tools/vdbcheck"
DEMO=$(mktemp -d)
trap 'rm -rf "$DEMO"' EXIT
DB="$DEMO/facts.vdb"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo
echo "== vdb demo: 20 facts, embedded with the built-in lexical model 'hash' =="
echo "   ('hash' matches words, not meaning; pass --model DIR for a real sentence model)"
step "$VDB" create "$DB" --dim 384 --metric cosine
step "$VDB" import "$DB" tools/demo/facts.jsonl --model hash --batch 5 --print-commits
step "$VDB" search "$DB" --text "how do plants make glucose from sunlight" --model hash --k 3
step "$VDB" search "$DB" --text "how do plants make glucose from sunlight" --model hash --k 3 --exact
printf '\n\033[1m$ %s\033[0m\n' "$VDB get $DB fact-00   (first 160 characters)"
"$VDB" get "$DB" fact-00 | cut -c -160
step "$VDB" delete "$DB" fact-00
step "$VDB" search "$DB" --text "how do plants make glucose from sunlight" --model hash --k 3
step "$VDB" stats "$DB" --json
if [ -x "$VDBCHECK" ]; then step "$VDBCHECK" "$DB"; fi
ls -l "$DEMO"
echo
echo "demo finished: the database is the single file $DB (removed on exit)"
