#!/bin/bash
# SRTP engines side by side, in one run: forwarded SRTP-protected 1200-byte packets per second
# of one funkhaus-dp worker (fh-ringbench: net_ring port, rooms of 5, one publisher), with
# libsrtp2 and with cryptodev, for AEAD_AES_128_GCM and AES_CM_128_HMAC_SHA1_80, next to what
# dpdk-test-crypto-perf reaches with the same cipher, PMD, packet size and burst on this
# machine. Each worker figure is the best of RUNS runs (the machine is shared and noisy); the
# worker's cycles per forwarded packet are split by stage (rx, classify, decrypt, media,
# encrypt, tx). The sent frames go back to the worker as TX completions, as from a NIC
# (fh-ringbench -f worker); the lines "cryptodev/read" and "cryptodev/sink" repeat the cryptodev
# run with the generator reading every line of each frame first (-f read) and with the generator
# freeing them itself (-f sink), the bounds of what the TX side of a real port costs. The line
# "cryptodev/offload" repeats the cryptodev run with the IPv4 and UDP checksums left to the port
# (fh-ringbench -o), as on a NIC with checksum offload; the others compute them in software.
#
# Usage: bench/srtp-compare.sh BUILD_DIR [SECONDS] [RUNS]   (as root; prints a table)
set -euo pipefail
build=${1:-build}; secs=${2:-3}; runs=${3:-3}
bin=$build/bench/fh-ringbench
[ -x "$bin" ] || { echo "build $bin first (ninja -C $build)" >&2; exit 1; }
command -v dpdk-test-crypto-perf >/dev/null || { echo "dpdk-test-crypto-perf missing (apt-get install dpdk)" >&2; exit 1; }

# ops/s (millions) of dpdk-test-crypto-perf's throughput test, one worker lcore, burst 32
perf() {
	local dev=$1; shift
	dpdk-test-crypto-perf -l 0,1 --no-huge -m 1024 --no-pci --vdev "${dev}0" \
		--file-prefix="fh-cperf-$$" --log-level=error -- --ptest throughput --devtype "$dev" \
		--buffer-sz 1200 --burst-sz 32 --total-ops 2000000 --silent "$@" 2>/dev/null |
		awk 'NF == 10 && $1 ~ /^[0-9]+$/ { print $8 }' | tail -1
}
gcm_perf=$(perf crypto_aesni_gcm --optype aead --aead-algo aes-gcm --aead-op encrypt \
	--aead-key-sz 16 --aead-iv-sz 12 --aead-aad-sz 12 --digest-sz 16)
cm_perf=$(perf crypto_aesni_mb --optype cipher-then-auth --cipher-algo aes-ctr --cipher-op encrypt \
	--cipher-key-sz 16 --cipher-iv-sz 16 --auth-algo sha1-hmac --auth-op generate \
	--auth-key-sz 20 --digest-sz 10)

printf 'dpdk-test-crypto-perf (1200 B, burst 32, one core): AES-128-GCM on crypto_aesni_gcm %s M ops/s, AES-CTR+HMAC-SHA1-80 on crypto_aesni_mb %s M ops/s\n\n' \
	"$gcm_perf" "$cm_perf"
printf '%-8s %-14s %12s %8s %8s  %s\n' profile engine "pkts/s" cycles "% perf" "cycles per forwarded packet by stage"
for profile in gcm cm; do
	ref=$gcm_perf; [ "$profile" = cm ] && ref=$cm_perf
	for variant in libsrtp/worker cryptodev/worker cryptodev/read cryptodev/sink cryptodev/offload; do
		engine=${variant%/*}; free=${variant#*/}; opts=()
		label=$engine; [ "$free" = worker ] || label=$variant
		[ "$free" = offload ] && free=worker && opts=(-o)
		best=0; line=""; stages=""
		for _ in $(seq "$runs"); do
			out=$("$bin" -b ring -p "$profile" -e "$engine" -f "$free" "${opts[@]}" -n 5 -s "$secs")
			pps=$(sed -nE 's/^ *([0-9]+) forwarded packets\/s.*/\1/p' <<<"$out")
			if [ "${pps:-0}" -gt "$best" ]; then
				best=$pps
				line=$(sed -nE 's/.* ([0-9]+) cycles per forwarded packet \(TSC.*/\1/p' <<<"$out")
				stages=$(sed -nE 's/^ *cycles per forwarded packet by stage: //p' <<<"$out")
			fi
		done
		pct=$(awk -v a="$best" -v r="$ref" 'BEGIN { printf "%.0f", (r > 0 ? 100 * a / (r * 1e6) : 0) }')
		printf '%-8s %-14s %12s %8s %7s%%  %s\n' "$profile" "$label" "$best" "$line" "$pct" "$stages"
	done
done
