#!/usr/bin/env bash
# The README's second command: install what is missing, build, and run the
# test suite (GoogleTest through ctest). .ci/run calls this.
#
#   tools/test.sh               the default suite (release build with asserts)
#   tools/test.sh --sanitize    also an ASan+UBSan build of the whole suite, a
#                               TSan build of the concurrency tests (readers,
#                               write groups, Submit), and short
#                               libFuzzer runs of every fuzz target
# CI=true implies --sanitize. VDB_SOAK_SECONDS=N makes the crash harness
# loop for N seconds (see docs/crash-harness.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=$(nproc)
SANITIZE=0
[ "${CI:-}" = "true" ] && SANITIZE=1
for a in "$@"; do
  case "$a" in
    --sanitize) SANITIZE=1 ;;
    *) echo "usage: tools/test.sh [--sanitize]" >&2; exit 2 ;;
  esac
done

bash tools/install-deps.sh

section() { printf '\n==== %s ====\n' "$*"; }

section "default build and test suite"
cmake -S . -B build/test -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/test -j"$JOBS"
ctest --test-dir build/test --output-on-failure -j"$JOBS" --timeout 1200

if [ "$SANITIZE" = 1 ]; then
  section "ASan + UBSan build and test suite"
  cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVDB_SANITIZE=address,undefined \
        -DVDB_BUILD_BENCH=OFF >/dev/null
  cmake --build build/asan -j"$JOBS"
  # Smaller harness counts here: the default suite above runs the full ones.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    VDB_TEST_SCALE=small VDB_CRASH_RUNS=3 VDB_KILL_ROUNDS=60 ctest --test-dir build/asan --output-on-failure -j"$JOBS" --timeout 1800

  section "TSan build: concurrency tests"
  cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVDB_SANITIZE=thread \
        -DVDB_BUILD_BENCH=OFF >/dev/null
  cmake --build build/tsan -j"$JOBS" --target engine_concurrency_test engine_write_group_test engine_submit_test
  TSAN_OPTIONS=halt_on_error=1 VDB_TEST_SCALE=small ctest --test-dir build/tsan --output-on-failure \
    -R 'engine_(concurrency|write_group|submit)_test'

  section "libFuzzer targets (clang), 20 s each"
  if ls fuzz/fuzz_*.cc >/dev/null 2>&1; then
    CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVDB_BUILD_FUZZ=ON \
          -DVDB_BUILD_TESTS=OFF -DVDB_BUILD_BENCH=OFF >/dev/null
    cmake --build build/fuzz -j"$JOBS"
    for f in fuzz/fuzz_*.cc; do
      name=$(basename "$f" .cc)
      short=${name#fuzz_}
      work=$(mktemp -d)
      cp -r "fuzz/corpus/$short/." "$work/" 2>/dev/null || true
      echo "-- $name"
      # The run's last lines on success; on a finding, the report that names
      # it (libFuzzer's and the sanitizer's, with the stack), then stop.
      if ! "build/fuzz/fuzz/$name" -max_total_time=20 -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
             -artifact_prefix="$work/" "$work" >"$work.log" 2>&1; then
        grep -v -e '^#[0-9]' -e '^INFO:' -e '^\s*NEW_FUNC' "$work.log" | tail -n 80
        for a in "$work"/crash-* "$work"/timeout-* "$work"/oom-* "$work"/leak-*; do
          [ -e "$a" ] || continue
          cp "$a" . && echo "finding saved as ./$(basename "$a"); replay: build/fuzz/fuzz/$name ./$(basename "$a")"
        done
        rm -rf "$work" "$work.log"
        exit 1
      fi
      tail -n 2 "$work.log"
      rm -rf "$work" "$work.log"
    done
  fi
fi
section "all tests passed"
