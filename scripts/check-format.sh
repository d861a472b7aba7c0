#!/bin/sh
# Fails when a C file differs from .clang-format (run clang-format -i on it to fix).
set -eu
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "SKIP: clang-format is not installed"; exit 77; }
git ls-files '*.c' '*.h' | xargs clang-format --dry-run -Werror
echo "format ok"
