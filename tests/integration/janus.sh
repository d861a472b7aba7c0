#!/bin/bash
# bench/compare-janus.sh with a small load: both SFUs carry two calls of two, every stream
# arrives at both, and the side-by-side report gives a CPU-per-packet ratio.
# Usage: janus.sh BUILD_DIR
set -eu
build=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (network namespace)"; exit 77; fi
for c in janus jq column; do
	command -v $c >/dev/null || { echo "FAIL: $c is missing (scripts/deps.sh test installs it)"; exit 1; }
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$src/bench/compare-janus.sh" "$build" "$out" -m steady -n 4 -x 2:100% -d 4 -r 4 -S gcm
fail=0
for sfu in funkhaus janus; do
	jq -e '.join_failures == 0 and .streams_never_received == 0 and .packets_received > 500
		and .loss_pct < 1 and .srtp == "gcm"' "$out/$sfu.json" >/dev/null ||
		{ echo "FAIL: $sfu: $(cat "$out/$sfu.json")"; fail=1; }
done
jq -e '.cpu_per_packet_janus_over_funkhaus > 0' "$out/compare.json" >/dev/null ||
	{ echo "FAIL: no CPU ratio: $(cat "$out/compare.json")"; fail=1; }
[ $fail = 0 ] && echo PASS
exit $fail
