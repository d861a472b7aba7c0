#!/bin/bash
# Runs one libFuzzer target for a bounded time on its committed corpus.
# New inputs go to a scratch directory; a crash leaves its input in tests/fuzz/artifacts/
# (commit it into corpus/<target>/ once fixed, so every later run replays it).
# Usage: run.sh FUZZER CORPUS_DIR SECONDS
set -euo pipefail
fuzzer=$1; corpus=$2; secs=$3
name=$(basename "$fuzzer")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
art="$(dirname "$0")/artifacts/$name"
mkdir -p "$art"
set +e
ASAN_OPTIONS=detect_leaks=1 "$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$art/" -print_final_stats=1 "$scratch" "$corpus" >"$scratch/log" 2>&1
rc=$?
set -e
tail -n 25 "$scratch/log"
[ $rc -eq 0 ] && exit 0
echo "FAIL: $name exited with $rc; the input is in $art/"
# libFuzzer's own error code is 77, which meson reads as "skipped": a crash is a failure
exit 1
