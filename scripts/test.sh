#!/bin/bash
# README's second command: installs what the tests need (Debian packages, playwright-core
# and puppeteer-core from npm), builds with clang, AddressSanitizer and UndefinedBehaviorSanitizer, and runs every
# suite: unit, integration, browser, fuzz. Needs root (network namespaces for the browser).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/deps.sh test
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
if [ ! -d build-test ]; then
	CC=clang meson setup build-test --buildtype=debug -Db_sanitize=address,undefined \
		-Db_lundef=false -Dfuzz_seconds="${FUNKHAUS_FUZZ_SECONDS:-30}"
fi
ninja -C build-test
# DPDK keeps its memory until exit; leak reports there are noise, not ours.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
meson test -C build-test --print-errorlogs --num-processes 2 "$@"
