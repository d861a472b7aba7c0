#!/bin/bash
# SRTP engines side by side, in one run: forwarded SRTP-protected 1200-byte packets per second
# of one funkhaus-dp worker (fh-ringbench: net_ring port, rooms of 5, one publisher), with
# libsrtp2 and with cryptodev, for AEAD_AES_128_GCM and AES_CM_128_HMAC_SHA1_80, next to what
# dpdk-test-crypto-perf reaches with the same cipher, PMD, packet size and burst on this
# machine. RUNS rounds each run everything once, each line over SECONDS (the machine is shared
# and noisy: so every line sees the same spells), and each line's figure is its own best round,
# taken on its own: two lines of the table can come from different rounds (column "round").
# Its "% perf" is against crypto-perf of that same round. A forwarded packet is one copy sent
# to one receiver: in a room of 5 each costs 1.25 crypto operations (its own encryption and a
# quarter of the decryption of the packet it copies), so "% perf" (forwarded packets/s over
# crypto-perf's ops/s) is at most 80 % even with nothing but the crypto at crypto-perf's speed;
# times 1.25 it is the share per crypto operation. The worker's cycles per forwarded packet are
# split by stage (rx, classify, decrypt, media, encrypt, tx). The sent frames go back to the worker as TX completions, as from a NIC
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
# line sees the same spells of a noisy host as the others; which round is each line's best is
# decided line by line, and its % is taken against crypto-perf of the same round.
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
room=5
# forwarded packets per crypto op at most: a received packet's decryption is shared by its
# room-1 copies, each encrypted once
ceil=$(awk -v n="$room" 'BEGIN { printf "%.0f", 100 * (n - 1) / n }')
declare -A best line stages rtt round ref perf
for r in $(seq "$runs"); do
	for profile in gcm cm; do
		p=$(perf_$profile)
		perf[$profile/$r]=${p:-0}
		for variant in $variants; do
			engine=${variant%/*}; free=${variant#*/}; opts=()
			[ "$free" = offload ] && free=worker && opts=(-o)
			out=$("$bin" -b ring -p "$profile" -e "$engine" -f "$free" "${opts[@]}" -H "$huge" -n "$room" -s "$secs")
			pps=$(sed -nE 's/^ *([0-9]+) forwarded packets\/s.*/\1/p' <<<"$out")
			k=$profile/$variant
			if [ "${pps:-0}" -gt "${best[$k]:-0}" ]; then
				best[$k]=$pps
				round[$k]=$r
				ref[$k]=${p:-0}
				line[$k]=$(sed -nE 's/.* ([0-9]+) cycles per forwarded packet \(TSC.*/\1/p' <<<"$out")
				stages[$k]=$(sed -nE 's/^ *cycles per forwarded packet by stage: //p' <<<"$out")
				rtt[$k]=$(sed -nE -e 's/none in 0\.5 s/none/g' -e 's/^cache-line round trip .*: ([0-9]+ ns|none) before the run, ([0-9]+ ns|none) after the run$/\1\/\2/p' <<<"$out" | sed 's/ ns//g')
			fi
		done
	done
done

per_round() { for r in $(seq "$runs"); do printf ' %s' "${perf[$1/$r]}"; done; }
printf 'dpdk-test-crypto-perf (1200 B, burst 32, one core, about %s s), M ops/s in rounds 1 to %s: AES-128-GCM on crypto_aesni_gcm%s, AES-CTR+HMAC-SHA1-80 on crypto_aesni_mb%s\n' \
	"$secs" "$runs" "$(per_round gcm)" "$(per_round cm)"
printf 'memory of both tools: %s\n' "$memory"
printf 'each line: its best of %s rounds, taken on its own (round: which); lines of one table can come from different rounds\n' "$runs"
printf '%% perf: forwarded packets/s (copies, one per receiver) over crypto-perf ops/s of the same round; room of %s: 1 + 1/%s crypto ops per forwarded packet, so at most %s %%\n' \
	"$room" "$((room - 1))" "$ceil"
printf 'rtt ns: round trip of a cache line between the generator and the worker before / after the run\n'
printf 'cycles: TSC cycles of the worker while busy, with the lcores floating: they include any time the OS or the host took its CPU away\n\n'
printf '%-8s %-18s %12s %8s %8s %5s %9s  %s\n' profile engine "pkts/s" cycles "% perf" round "rtt ns" "cycles per forwarded packet by stage"
for profile in gcm cm; do
	for variant in $variants; do
		k=$profile/$variant
		label=${variant%/*}; [ "${variant#*/}" = worker ] || label=$variant
		pct=$(awk -v a="${best[$k]:-0}" -v r="${ref[$k]:-0}" 'BEGIN { printf "%.0f", (r > 0 ? 100 * a / (r * 1e6) : 0) }')
		printf '%-8s %-18s %12s %8s %7s%% %5s %9s  %s\n' "$profile" "$label" "${best[$k]:-0}" "${line[$k]:-}" "$pct" "${round[$k]:--}" "${rtt[$k]:-}" "${stages[$k]:-}"
	done
done
