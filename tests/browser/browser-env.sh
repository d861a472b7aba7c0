#!/bin/sh
# Runs one browser test script with node in the current network namespace.
# Usage: browser-env.sh BUILD_DIR SOURCE_DIR TEST.mjs
set -eu
here=$(dirname "$(realpath "$0")")
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "SKIP: chromium is not installed"; exit 77; }
[ -d "$here/node_modules/playwright-core" ] || { echo "FAIL: run scripts/test.sh (installs playwright-core)"; exit 1; }
cd "$here"
FUNKHAUS_BUILD=$(realpath "$1") FUNKHAUS_SOURCE=$(realpath "$2") HOME=/tmp exec node "$(realpath "$3")"
