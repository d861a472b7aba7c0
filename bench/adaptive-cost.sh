#!/bin/bash
# What the adaptive path costs the worker per forwarded copy, in instructions (callgrind, which
# holds steady on a shared machine where cycles do not), for one room with the publisher paced
# at a browser's rate, three ways in one run:
#   plain     no header extensions, one video layer, no feedback
#   -a        Chrome's extension ids, three simulcast layers (the lowest sent, VP8 with L1T3),
#             transport-wide numbers on every copy, feedback to the publisher
#   -a -F     the same, and every receiver answers with transport-wide feedback in SRTCP, so
#             the worker runs each receiver's pacer, estimate and share-out as in a call
# The worker's work is what dp_worker_main calls: input, decrypt, media, release and encrypt,
# timers, the pacer, flush (also on its empty polls, which are in the sums); commands are left
# out. A copy is one call of fh_rewrite_map (each copy is numbered with it once; the header is
# built once per packet and receiver id set, so dp_media_header no longer counts copies).
# fh-ringbench dumps the profile as its measured seconds begin and end (a callgrind client
# request), so the measured seconds are a part of their own: "measured" is that part, the
# steady state the cycle figures of fh-ringbench are also taken over; "whole run" adds the
# start (ICE, keys, the estimates climbing with probes, the first key frames) and the tail.
# Usage: bench/adaptive-cost.sh [BUILD_DIR] [ROOM_SIZE] [SECONDS] [KBPS] [PUBLISHERS]
# (defaults build-rel 10 10 800 1). PUBLISHERS above 1 (fh-ringbench -P) makes a meeting: that
# many publishers at KBPS each, every participant receiving all but its own; there every
# publisher takes transport-wide feedback, so a receiver without its own feedback (-a alone)
# would keep the estimate it starts with, and the -a run is left out. FH_RUNS (e.g. "plain aF",
# plain first: the ratios are against the first) runs only those; FH_RINGBENCH_ARGS adds
# fh-ringbench options to every run (-u: the publisher's packets evenly spaced, not in
# frames). Writes its profiles and outputs to a temporary folder it names, and a table to stdout.
set -euo pipefail
build=${1:-build-rel}; n=${2:-10}; secs=${3:-10}; kbps=${4:-800}; pubs=${5:-1}
bin=$build/dataplane/fh-ringbench
[ -x "$bin" ] || { echo "build $bin first (ninja -C $build)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind is missing: scripts/deps.sh bench" >&2; exit 1; }
out=$(mktemp -d /tmp/fh-adaptive-cost.XXXXXX)
echo "profiles and outputs in $out"

# Sums, over one part of the profile, the inclusive instructions of the calls that
# dp_worker_main makes to the work functions, and counts the calls of fh_rewrite_map (copies)
# and of media_rtp (RTP packets received; only the worker makes any of these, so the threads
# need not be told apart).
work() {
	awk '
	function nm(s,   i, id, rest) {
		if (substr(s, 1, 1) != "(" || (i = index(s, ")")) == 0) return s
		id = substr(s, 2, i - 2); rest = substr(s, i + 2)
		if (rest != "") names[id] = rest
		return names[id]
	}
	BEGIN {
		split("dp_worker_input dp_media_decrypt dp_media_input dp_media_release " \
		      "dp_worker_timers dp_adapt_pace dp_media_encrypt dp_worker_flush", w, " ")
		for (k in w) want[w[k]] = 1
	}
	/^fn=/ { cur = nm(substr($0, 4)); next }
	/^cfn=/ { cfn = nm(substr($0, 5)); next }
	/^calls=/ { split(substr($0, 7), a, " "); pend = a[1]; next }
	pend != "" && /^[-+*0-9]/ {
		if (cur == "dp_worker_main" && (cfn in want)) ins += $2
		if (cfn == "fh_rewrite_map") copies += pend
		if (cfn == "media_rtp") pkts += pend
		pend = ""
	}
	END { printf "%d %d %d\n", ins, copies, pkts }' "$1"
}

printf '%-8s %-14s %-8s %-10s %-9s | %-10s %s\n' run "measured:" copies "per copy" \
	"against" "whole run" against
base=; wbase=; share=()
runs=${FH_RUNS:-"plain a aF"}
[ "$pubs" -le 1 ] || runs="plain aF"
for run in $runs; do
	case $run in plain) args=() ;; a) args=(-a) ;; aF) args=(-a -F) ;; esac
	args+=(-P "$pubs")
	# FH_RINGBENCH_ARGS: more options for both runs (e.g. -u, packets evenly spaced)
	read -r -a extra <<<"${FH_RINGBENCH_ARGS:-}"
	args+=(${extra[@]+"${extra[@]}"})
	valgrind --tool=callgrind --callgrind-out-file="$out/$run.out" \
		"$bin" "${args[@]}" -r "$kbps" -p gcm -e cryptodev -n "$n" -s "$secs" \
		>"$out/$run.txt" 2>&1 || { echo "fh-ringbench $run failed: $out/$run.txt" >&2; exit 1; }
	# parts: .1 up to the measured seconds, .2 the measured seconds, the file itself the rest
	for f in "$out/$run.out.1" "$out/$run.out.2" "$out/$run.out"; do
		[ -f "$f" ] || { echo "$run: no profile part $f (fh-ringbench built without" \
			"valgrind/callgrind.h?)" >&2; exit 1; }
	done
	read -r ins copies pkts < <(work "$out/$run.out.2")
	wins=0; wcopies=0
	for f in "$out/$run.out.1" "$out/$run.out.2" "$out/$run.out"; do
		read -r i c p < <(work "$f")
		wins=$((wins + i)); wcopies=$((wcopies + c))
		# the start's share, below the table
		[ "$f" != "$out/$run.out.1" ] || { scopies=$c; spkts=$p; }
	done
	share+=("$(awk -v r="$run" -v c="$copies" -v p="$pkts" -v sc="$scopies" -v sp="$spkts" '
		function per(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
		BEGIN { printf "  %s: copies per RTP packet received %s in the measured seconds, %s " \
			"before them (%d copies of %d packets)", r, per(c, p), per(sc, sp), sc, sp }')")
	[ "$copies" -gt 0 ] || { echo "$run: no copies made in the measured seconds" >&2; exit 1; }
	per=$(awk -v i="$ins" -v c="$copies" 'BEGIN { printf "%.0f", i / c }')
	wper=$(awk -v i="$wins" -v c="$wcopies" 'BEGIN { printf "%.0f", i / c }')
	[ -n "$base" ] || { base=$per; wbase=$wper; }
	printf '%-8s %-14s %-8s %-10s %-9s | %-10s %.3fx\n' "$run" "$ins" "$copies" "$per" \
		"$(awk -v a="$per" -v b="$base" 'BEGIN { printf "%.3fx", a / b }')" "$wper" \
		"$(awk -v a="$wper" -v b="$wbase" 'BEGIN { print a / b }')"
done
# Before the measured seconds the estimates are still climbing from where they start and
# not every receiver gets every stream yet: the work each received packet costs is shared by
# fewer copies there, which is what lifts the whole run's figure per copy.
echo "forwarded share:"
printf '%s\n' "${share[@]}"
echo "fh-ringbench's own lines (forwarded share, feedback, estimates): $out/*.txt"
grep -h "adaptive path\|receivers' feedback\|key frames\|forwarded packets/s" "$out"/a*.txt || true
