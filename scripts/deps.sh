#!/bin/bash
# Installs the Debian packages Funkhaus needs. "build": compilers and libraries to build and
# run it; "test": also what the test suites need (clang with libFuzzer, Chromium, Firefox ESR,
# Node.js);
# "bench": also Janus and jq for bench/compare-janus.sh, valgrind for bench/adaptive-cost.sh.
# Runs apt-get update only when something is missing. Needs root.
set -euo pipefail
what=${1:-build}
pkgs=(build-essential pkg-config meson ninja-build dpdk dpdk-dev libdpdk-dev libipsec-mb-dev libsrtp2-dev
	libssl-dev openssl libwebsockets-dev libjansson-dev libhwloc-dev libsqlite3-dev curl
	libcurl4-openssl-dev ca-certificates libicu-dev libhiredis-dev)
if [ "$what" = bench ]; then
	# bench/compare-janus.sh: the reference SFU and what reads the reports;
	# bench/adaptive-cost.sh: callgrind
	pkgs+=(janus jq bsdextrautils iproute2 valgrind)
fi
if [ "$what" = test ]; then
	pkgs+=(clang libclang-rt-14-dev chromium firefox-esr iproute2 iputils-ping clang-format
		janus jq bsdextrautils coturn espeak-ng redis-server redis-sentinel)
	command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "funkhaus: missing Debian packages: ${missing[*]}; run as root to install them" >&2
	exit 1
fi
echo "funkhaus: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
