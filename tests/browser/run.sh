#!/bin/bash
# Runs one browser test inside a network namespace made for it, so that Chromium's ICE checks
# and media stay on loopback. Usage: run.sh BUILD_DIR SOURCE_DIR TEST.mjs
set -eu
build=$(realpath "$1"); source=$(realpath "$2"); test=$(realpath "$3")
here=$(dirname "$(realpath "$0")")
if [ "$(id -u)" != 0 ]; then echo "SKIP: browser tests need root for ip netns"; exit 77; fi
for c in ip node; do command -v $c >/dev/null || { echo "SKIP: $c missing"; exit 77; }; done
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "SKIP: chromium is not installed"; exit 77; }
[ -d "$here/node_modules/playwright-core" ] || { echo "FAIL: run scripts/test.sh (installs playwright-core)"; exit 1; }
ns=fhb$$
ip netns add $ns
trap 'ip netns pids $ns 2>/dev/null | xargs -r kill -9 2>/dev/null; ip netns del $ns' EXIT
ip netns exec $ns ip link set lo up
cd "$here"
FUNKHAUS_BUILD=$build FUNKHAUS_SOURCE=$source HOME=/tmp timeout 120 ip netns exec $ns node "$test"
