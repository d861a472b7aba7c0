#!/bin/bash
# fh-ringbench with two workers for one second: both must forward, with cryptodev, no drops but
# the TX ring's (the generators share the CPUs with the workers here); sent buffers come back to
# the workers as TX completions, so a leak there ends in no_mbuf drops. Then one worker with each
# other way of freeing sent frames (-f read, -f sink), with received frames in memory
# (-m memory), with the checksums left to the port (-o) and on 4 KiB pages (-H no). The EAL's
# memory is on hugepages where enough are free, as funkhaus-dp's; the generator-worker round
# trip is printed before and after. Last, a meeting with the adaptive path and every receiver's
# feedback (-a -F -P). Usage: ringbench.sh BIN
set -eu
[ "$(id -u)" = 0 ] || { echo "SKIP: DPDK's EAL needs root"; exit 77; }
free_mb=0
grep -q ' hugetlbfs ' /proc/mounts && free_mb=$(awk '/^HugePages_Free:/ { n = $2 } /^Hugepagesize:/ { kb = $2 } END { print int(n * kb / 1024) }' /proc/meminfo)
out=$("$1" -w 2 -s 1 -n 3 -p gcm -e cryptodev 2>&1) || { echo "$out"; echo "FAIL: fh-ringbench exited with an error"; exit 1; }
echo "$out"
n=$(grep -cE '^ +[1-9][0-9]* forwarded packets/s per worker' <<<"$out" || true)
[ "$n" = 2 ] || { echo "FAIL: $n of 2 workers forwarded"; exit 1; }
[ "$(grep -c 'SRTP engine of the worker: cryptodev' <<<"$out")" = 2 ] || { echo "FAIL: not cryptodev"; exit 1; }
if grep -E '^  dropped: ' <<<"$out" | grep -vq 'tx_fail'; then echo "FAIL: drops other than tx_fail"; exit 1; fi
grep -q '^2 workers: ' <<<"$out" || { echo "FAIL: no sum line"; exit 1; }
grep -qE '^cache-line round trip between generator 0 and worker 0: ([0-9]+ ns|none in 0\.5 s) before the run, ([0-9]+ ns|none in 0\.5 s) after the run$' <<<"$out" || { echo "FAIL: no round trip line"; exit 1; }
# two workers ask for 1536 MiB
want="4 KiB pages (--no-huge)"; [ "$free_mb" -ge 1536 ] && want=hugepages
[ "$(grep -cxF "  memory: $want" <<<"$out")" = 2 ] || { echo "FAIL: memory is not $want ($free_mb MiB of hugepages free)"; exit 1; }
for opt in "-f read" "-f sink" "-m memory" "-o" "-H no"; do
	out=$("$1" -s 1 -n 3 -p gcm -e cryptodev $opt 2>&1) || { echo "$out"; echo "FAIL: $opt exited with an error"; exit 1; }
	echo "$out"
	grep -qE '^ +[1-9][0-9]* forwarded packets/s per worker' <<<"$out" || { echo "FAIL: $opt did not forward"; exit 1; }
	case "$opt" in
	"-H no") grep -qxF "  memory: 4 KiB pages (--no-huge)" <<<"$out" ;;
	*) grep -qF "($opt)" <<<"$out" ;;
	esac || { echo "FAIL: $opt not in effect"; exit 1; }
	if grep -E '^  dropped: ' <<<"$out" | grep -vq 'tx_fail'; then echo "FAIL: $opt: drops other than tx_fail"; exit 1; fi
	# a room of 3 forwards each received packet twice: not more within the seconds measured,
	# and not less but for what was still in the RX ring (4095) or the worker's hands (up to 64)
	# at their end and what the TX ring refused
	inout=$(sed -nE 's/.*: ([0-9]+) SRTP packets in, ([0-9]+) forwarded in .*/\1 \2/p' <<<"$out")
	in=${inout% *}; fwd=${inout#* }
	txf=$(sed -nE 's/^  dropped: tx_fail ([0-9]+)$/\1/p' <<<"$out"); txf=${txf:-0}
	[ -n "$inout" ] && [ "$fwd" -le $((2 * in)) ] && [ "$fwd" -ge $((2 * (in - 4095 - 64) - txf)) ] ||
		{ echo "FAIL: $opt: $in in, $fwd forwarded, $txf refused by the TX ring"; exit 1; }
	# the worker asks the port for checksums on every frame with -o, on none without
	asked=$(sed -nE 's/^  sent UDP frames asking the port for checksums: ([0-9]+) of ([0-9]+)$/\1 \2/p' <<<"$out")
	case "$opt" in
	-o) [ -n "$asked" ] && [ "${asked% *}" = "${asked#* }" ] && [ "${asked% *}" -gt 0 ] || { echo "FAIL: -o: not every frame asks for offload ($asked)"; exit 1; } ;;
	"-f sink") ;;
	*) [ "${asked% *}" = 0 ] || { echo "FAIL: $opt: frames ask for offload ($asked)"; exit 1; } ;;
	esac
done
# a meeting (-P: everyone publishes and gets everyone else) with every receiver's feedback:
# once the estimates have climbed (the warm-up), each receiver gets all three streams, a stream
# it could not take at the first key frame starting on the one it asked for
out=$("$1" -a -F -r 300 -n 4 -P 4 -s 2 -p gcm -e cryptodev 2>&1) || { echo "$out"; echo "FAIL: -P exited with an error"; exit 1; }
echo "$out"
share=$(sed -nE 's/.*rtp_forwarded [0-9]+ \(([0-9.]+) of every packet to each of 3 receivers\).*/\1/p' <<<"$out")
[ -n "$share" ] && awk -v s="$share" 'BEGIN { exit !(s >= 0.99) }' || { echo "FAIL: -P: receivers got ${share:-no} share of the packets"; exit 1; }
[ "$(grep -cE '^  receiver [0-3]: 3 streams, layers 0-0' <<<"$out")" = 4 ] || { echo "FAIL: -P: not every receiver gets the 3 streams"; exit 1; }
grep -qE '^  key frames: [0-9]+ asked for by the worker \(PLI/FIR\), [0-9]+ made on request$' <<<"$out" || { echo "FAIL: -P: no key-frame line"; exit 1; }
echo "ringbench ok"
