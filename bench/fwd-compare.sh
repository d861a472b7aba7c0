#!/bin/bash
# Forwarding cost of one worker on the DPDK backend (net_ring, no kernel in the path) and on
# the socket backend (loopback), rooms of 2, 5 and 10, one SRTP profile, in one run; prints a
# table and the ratio. Usage: bench/fwd-compare.sh BUILD_DIR [gcm|cm] [SECONDS]
set -euo pipefail
build=${1:-build}; profile=${2:-gcm}; secs=${3:-5}
bin=$build/dataplane/fh-ringbench
[ -x "$bin" ] || { echo "build $bin first (ninja -C $build)" >&2; exit 1; }
printf '%-6s %-22s %-22s %-10s\n' room "dpdk pps / cycles" "socket pps / cycles" "ratio"
for n in 2 5 10; do
	r=$("$bin" -b ring -p "$profile" -n "$n" -s "$secs" | tail -1)
	s=$("$bin" -b socket -p "$profile" -n "$n" -s "$secs" | tail -1)
	rp=$(sed -E 's/^ *([0-9]+) forwarded.*/\1/' <<<"$r"); rc=$(sed -E 's/.* ([0-9]+) cycles per.*/\1/' <<<"$r")
	sp=$(sed -E 's/^ *([0-9]+) forwarded.*/\1/' <<<"$s"); sc=$(sed -E 's/.* ([0-9]+) cycles per.*/\1/' <<<"$s")
	printf '%-6s %-22s %-22s %.2fx\n' "$n" "$rp / $rc" "$sp / $sc" "$(awk -v a="$rp" -v b="$sp" 'BEGIN { print a / b }')"
done
