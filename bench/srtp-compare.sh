#!/bin/bash
# SRTP engines side by side, in one run: forwarded SRTP-protected 1200-byte packets per second
# of one funkhaus-dp worker (fh-ringbench: net_ring port, rooms of 5, one publisher), with
# libsrtp2 and with cryptodev, for AEAD_AES_128_GCM and AES_CM_128_HMAC_SHA1_80, next to what
# dpdk-test-crypto-perf reaches with the same cipher, PMD, packet size and burst on this
# machine. Each figure, crypto-perf's too, is the best of RUNS rounds that each run everything
# once (the machine is shared and noisy: so every figure sees the same spells), each over
# SECONDS; the worker's cycles per forwarded packet are split by stage (rx, classify, decrypt,
# media, encrypt, tx). The sent frames go back to the worker as TX completions, as from a NIC
# (fh-ringbench -f worker); the lines "cryptodev/read" and "cryptodev/sink" repeat the cryptodev
# run with the generator reading every line of each frame first (-f read) and with the generator
# freeing them itself (-f sink), the bounds of what the TX side of a real port costs. The line
# "cryptodev/offload" repeats the cryptodev run with the IPv4 and UDP checksums left to the port
# (fh-ringbench -o), as on a NIC with checksum offload; the others compute them in software.
# Both tools run on hugepages when at least 1 GiB of them is free and hugetlbfs is mounted (as
# funkhaus-dp does; scripts/hugepages.sh 2G reserves them), else both on 4 KiB pages.
# Column "rtt ns": the round trip of one cache line between the generator's and the worker's
# CPUs before / after that line's best run; on a shared host it changes when the host moves the
# vCPUs, and a received frame costs the worker more the farther away the generator is.
#
# Usage: bench/srtp-compare.sh BUILD_DIR [SECONDS] [RUNS]   (as root; prints a table)
set -euo pipefail
build=${1:-build}; secs=${2:-3}; runs=${3:-3}
bin=$build/dataplane/fh-ringbench
[ -x "$bin" ] || { echo "build $bin first (ninja -C $build)" >&2; exit 1; }
command -v dpdk-test-crypto-perf >/dev/null || { echo "dpdk-test-crypto-perf missing (apt-get install dpdk)" >&2; exit 1; }

# MiB of free hugepages the EAL can map (0 without hugetlbfs), as funkhaus-dp counts them
huge_free_mb() {
	grep -q ' hugetlbfs ' /proc/mounts || { echo 0; return; }
	awk '/^HugePages_Free:/ { n = $2 } /^Hugepagesize:/ { kb = $2 } END { print int(n * kb / 1024) }' /proc/meminfo
}
if [ "$(huge_free_mb)" -ge 1024 ]; then
	eal_mem=--huge-unlink; huge=yes; memory="hugepages"
else
	eal_mem=--no-huge; huge=no; memory="4 KiB pages (no hugepages reserved)"
fi

# ops/s (millions) of dpdk-test-crypto-perf's throughput test, one worker lcore, burst 32, over
# TOTAL ops
cperf() {
	local dev=$1 total=$2; shift 2
	dpdk-test-crypto-perf -l 0,1 "$eal_mem" -m 1024 --no-pci --vdev "${dev}0" \
		--file-prefix="fh-cperf-$$" --log-level=error -- --ptest throughput --devtype "$dev" \
		--buffer-sz 1200 --burst-sz 32 --total-ops "$total" --silent "$@" 2>/dev/null |
		awk 'NF == 10 && $1 ~ /^[0-9]+$/ { print $8 }' | tail -1
}
# The same over about SECONDS, as long as each worker line measures: a short run on a noisy
# host can fall wholly into a fast moment, which a run of seconds cannot, so windows of unequal
# length would favour crypto-perf. A short run first tells how many ops take SECONDS here.
perf() {
	local dev=$1 rate; shift
	rate=$(cperf "$dev" 2000000 "$@")
	[ -n "$rate" ] || return 0
	cperf "$dev" "$(awk -v r="$rate" -v s="$secs" 'BEGIN { printf "%d", r * 1e6 * s }')" "$@"
}
# Every round runs everything once (crypto-perf, then each line of the table), so that each
# figure's best comes from the same spells of a noisy host as the others'.
perf_gcm() {
	perf crypto_aesni_gcm --optype aead --aead-algo aes-gcm --aead-op encrypt \
		--aead-key-sz 16 --aead-iv-sz 12 --aead-aad-sz 12 --digest-sz 16
}
perf_cm() {
	perf crypto_aesni_mb --optype cipher-then-auth --cipher-algo aes-ctr --cipher-op encrypt \
		--cipher-key-sz 16 --cipher-iv-sz 16 --auth-algo sha1-hmac --auth-op generate \
		--auth-key-sz 20 --digest-sz 10
}
variants="libsrtp/worker cryptodev/worker cryptodev/read cryptodev/sink cryptodev/offload"
declare -A best line stages rtt
best[perf/gcm]=0; best[perf/cm]=0
for _ in $(seq "$runs"); do
	for profile in gcm cm; do
		p=$(perf_$profile)
		if awk -v a="${p:-0}" -v b="${best[perf/$profile]}" 'BEGIN { exit !(a > b) }'; then
			best[perf/$profile]=$p
		fi
		for variant in $variants; do
			engine=${variant%/*}; free=${variant#*/}; opts=()
			[ "$free" = offload ] && free=worker && opts=(-o)
			out=$("$bin" -b ring -p "$profile" -e "$engine" -f "$free" "${opts[@]}" -H "$huge" -n 5 -s "$secs")
			pps=$(sed -nE 's/^ *([0-9]+) forwarded packets\/s.*/\1/p' <<<"$out")
			k=$profile/$variant
			if [ "${pps:-0}" -gt "${best[$k]:-0}" ]; then
				best[$k]=$pps
				line[$k]=$(sed -nE 's/.* ([0-9]+) cycles per forwarded packet \(TSC.*/\1/p' <<<"$out")
				stages[$k]=$(sed -nE 's/^ *cycles per forwarded packet by stage: //p' <<<"$out")
				rtt[$k]=$(sed -nE -e 's/none in 0\.5 s/none/g' -e 's/^cache-line round trip .*: ([0-9]+ ns|none) before the run, ([0-9]+ ns|none) after the run$/\1\/\2/p' <<<"$out" | sed 's/ ns//g')
			fi
		done
	done
done

printf 'dpdk-test-crypto-perf (1200 B, burst 32, one core, about %s s, best of %s): AES-128-GCM on crypto_aesni_gcm %s M ops/s, AES-CTR+HMAC-SHA1-80 on crypto_aesni_mb %s M ops/s\n' \
	"$secs" "$runs" "${best[perf/gcm]}" "${best[perf/cm]}"
printf 'memory of both tools: %s\n' "$memory"
printf 'rtt ns: round trip of a cache line between the generator and the worker before / after the run\n\n'
printf '%-8s %-18s %12s %8s %8s %9s  %s\n' profile engine "pkts/s" cycles "% perf" "rtt ns" "cycles per forwarded packet by stage"
for profile in gcm cm; do
	ref=${best[perf/$profile]}
	for variant in $variants; do
		k=$profile/$variant
		label=${variant%/*}; [ "${variant#*/}" = worker ] || label=$variant
		pct=$(awk -v a="${best[$k]:-0}" -v r="$ref" 'BEGIN { printf "%.0f", (r > 0 ? 100 * a / (r * 1e6) : 0) }')
		printf '%-8s %-18s %12s %8s %7s%% %9s  %s\n' "$profile" "$label" "${best[$k]:-0}" "${line[$k]:-}" "$pct" "${rtt[$k]:-}" "${stages[$k]:-}"
	done
done
