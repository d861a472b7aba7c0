#!/bin/bash
# Runs one browser test inside a network namespace made for it, so that Chromium's ICE checks
# and media stay on loopback. Usage: run.sh BUILD_DIR SOURCE_DIR TEST.mjs
# With FUNKHAUS_FIREFOX=1 the test also drives Firefox ESR (puppeteer-core): the namespace then
# gets a default route over lo, without which Firefox gathers no ICE candidate at all (nothing
# leaves the namespace either way). FUNKHAUS_TIMEOUT: seconds the test may run (120).
set -eu
build=$(realpath "$1"); source=$(realpath "$2"); test=$(realpath "$3")
here=$(dirname "$(realpath "$0")")
if [ "$(id -u)" != 0 ]; then echo "SKIP: browser tests need root for ip netns"; exit 77; fi
for c in ip node; do command -v $c >/dev/null || { echo "SKIP: $c missing"; exit 77; }; done
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "SKIP: chromium is not installed"; exit 77; }
[ -d "$here/node_modules/playwright-core" ] || { echo "FAIL: run scripts/test.sh (installs playwright-core)"; exit 1; }
if [ "${FUNKHAUS_FIREFOX:-0}" = 1 ]; then
	[ -x "${FIREFOX:-/usr/bin/firefox-esr}" ] || { echo "SKIP: firefox-esr is not installed (scripts/deps.sh test)"; exit 77; }
	[ -d "$here/node_modules/puppeteer-core" ] || { echo "FAIL: run scripts/test.sh (installs puppeteer-core)"; exit 1; }
fi
ns=fhb$$
ip netns add $ns
trap 'ip netns pids $ns 2>/dev/null | xargs -r kill -9 2>/dev/null; ip netns del $ns' EXIT
ip netns exec $ns ip link set lo up
if [ "${FUNKHAUS_FIREFOX:-0}" = 1 ]; then
	ip netns exec $ns ip route add default dev lo src 127.0.0.1
fi
cd "$here"
FUNKHAUS_BUILD=$build FUNKHAUS_SOURCE=$source HOME=/tmp timeout "${FUNKHAUS_TIMEOUT:-120}" ip netns exec $ns node "$test"
