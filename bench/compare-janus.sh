#!/bin/bash
# The same funkhaus-bench load against Funkhaus and against Janus' VideoRoom, one after the
# other in one run, in network namespaces made here (nothing leaves the machine). Prints both
# reports and a side-by-side summary at equal load: the largest step (participants) both SFUs
# passed within the limits (or, if there is none, the largest both ran, marked so), and every
# step both ran; writes funkhaus.json, janus.json and compare.json into OUT_DIR.
#
#   --backend socket (default): one namespace, both SFUs and the bench on 10.77.0.1; the
#      datagrams go over loopback, where the kernel delivers a datagram into the receiver's
#      socket inside the sender's sendmmsg: each SFU is charged for delivering what it sends
#      into the bench's sockets, the bench for delivering what it sends to the SFU. CPU per
#      packet: the SFU's user + system CPU over the packets the participants received.
#   --backend dpdk: two namespaces joined by a veth pair. funkhaus-dp owns the SFU side
#      through a net_af_packet vdev (one queue, one worker, media address 10.77.0.2) in one;
#      funkhaus-cp (on 10.77.0.1) and the bench are in the other. Janus then runs in the SFU
#      namespace with 10.77.0.2 on the same veth, so both SFUs see the same path. Funkhaus'
#      CPU per packet counts the worker's busy cycles (the polls that found work; its empty
#      polls and naps are not work) plus funkhaus-cp's CPU; funkhaus-dp's plain process CPU
#      is shown beside it. Janus: its process CPU, as with --backend socket.
#   --nic memif (with dpdk): funkhaus-dp's port is a net_memif instead, and fh-nic (a process
#      of its own, standing in for a NIC) carries the frames between that memif and an
#      af_packet port on the same veth end: the kernel's delivery over the veth is then in
#      fh-nic's CPU, as on a real NIC it is in the NIC, not in the worker's busy cycles.
#      fh-nic's CPU and busy seconds are written beside the figures (compare.json: nic_report).
#   --veth (with socket): the socket backend in the dpdk run's two-namespace layout.
#
# Usage: bench/compare-janus.sh [--backend socket|dpdk] [--nic af_packet|memif] [--veth]
#                               BUILD_DIR OUT_DIR
#                               [funkhaus-bench options]
#   e.g. bench/compare-janus.sh --backend dpdk build-rel /tmp/cmp -m steady -n 20 -x 5:100% -d 20 -S gcm
# Needs root (network namespaces) and the packages of scripts/deps.sh bench (janus, jq, curl).
set -euo pipefail
usage() {
	sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
backend=socket veth=0 nic=af_packet
while [ $# -gt 0 ]; do
	case $1 in
	--backend)
		[ $# -ge 2 ] || usage
		backend=$2
		shift 2
		;;
	--backend=*)
		backend=${1#*=}
		shift
		;;
	--nic)
		[ $# -ge 2 ] || usage
		nic=$2
		shift 2
		;;
	--veth)
		veth=1
		shift
		;;
	-h | --help) usage ;;
	*) break ;;
	esac
done
case $backend in
socket) ;;
dpdk) veth=1 ;;
*)
	echo "compare-janus: --backend takes socket or dpdk" >&2
	exit 2
	;;
esac
case $nic in
af_packet) ;;
memif) [ $backend = dpdk ] || { echo "compare-janus: --nic memif is for --backend dpdk" >&2; exit 2; } ;;
*)
	echo "compare-janus: --nic takes af_packet or memif" >&2
	exit 2
	;;
esac
[ $# -ge 2 ] || usage
build=$(realpath "$1") out=$2
shift 2
src=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "compare-janus: needs root (network namespaces)" >&2; exit 1; }
for c in janus jq ip curl; do
	command -v $c >/dev/null || { echo "compare-janus: $c is missing (scripts/deps.sh bench)" >&2; exit 1; }
done
bench=$build/bench/funkhaus-bench
[ -x "$bench" ] || { echo "compare-janus: no $bench (ninja -C $1)" >&2; exit 1; }
mkdir -p "$out"
work=$(mktemp -d) inst=cmp$$
if [ $veth = 1 ]; then
	# SFU side and client side; funkhaus-cp is on the client side (it reaches funkhaus-dp
	# through the shared-memory region, not the network)
	sns=fhcs$$ cns=fhcc$$ vs=fhcs$$v vc=fhcc$$v
	sig=10.77.0.1 media=10.77.0.2
else
	sns=fhcmp$$ cns=fhcmp$$ media=10.77.0.1 sig=10.77.0.1
fi
cleanup() {
	for n in $sns $cns; do
		ip netns pids $n 2>/dev/null | xargs -r kill 2>/dev/null || true
	done
	sleep 0.5
	for n in $sns $cns; do
		ip netns pids $n 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del $n 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
netns() {
	ip netns add "$1"
	ip -n "$1" link set lo up
	# IPv4 only: no router solicitations or MLD reports on the measured link
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
}
if [ $veth = 1 ]; then
	netns $sns
	netns $cns
	ip link add $vs type veth peer name $vc
	ip link set $vs netns $sns
	ip link set $vc netns $cns
	ip -n $cns addr add $sig/24 dev $vc
	ip -n $cns link set $vc up
	ip -n $sns link set $vs up
	# the kernel of the SFU side has the address only while a kernel-socket SFU runs
	kernel_addr() { ip -n $sns addr replace $media/24 dev $vs; ip -n $cns neigh flush dev $vc; }
else
	netns $sns
	ip -n $sns link add cmp0 type veth peer name cmp1
	ip -n $sns addr add $media/24 dev cmp0
	ip -n $sns link set cmp0 up
	ip -n $sns link set cmp1 up
	kernel_addr() { :; }
fi
"$src/scripts/gen-cert.sh" "$work/tls" >/dev/null
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(loadavg)

# waits until something listens on $1:$2, tried from the bench's namespace
listening() {
	for _ in $(seq 100); do
		ip netns exec $cns bash -c "echo >/dev/tcp/$1/$2" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "compare-janus: nothing listens on $1:$2" >&2
	return 1
}
# waits (bounded) until log $1 has a line matching $2 while process $3 lives
logged() {
	for _ in $(seq 300); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || break
		sleep 0.1
	done
	echo "compare-janus: no '$2' in $1:" >&2
	tail -20 "$1" >&2
	return 1
}

# --- Funkhaus, one worker ---
token=$("$build/controlplane/funkhausctl" token-new bench '*')
bearer=$(echo "$token" | sed -n 2p | tr -d ' ')
tokline=$(echo "$token" | sed -n 4p | sed 's/^ *//')
cat >"$work/funkhaus.conf" <<EOF
[instance]
name = $inst
[dataplane]
workers = 1
bind = $media
[controlplane]
port = 8443
bind = $sig
tls_cert = $work/tls/cert.pem
tls_key = $work/tls/key.pem
web_root = $src/controlplane/web
announce = $media
signalling_rate = 1000
state_dir = $work/state
[api]
$tokline
[limits]
# every participant of the bench comes from one address; Janus has no such fair shares
connections_per_source = 100000
websockets_per_source = 100000
participants_per_source = 100000
rooms_per_source_per_minute = 10000
slot_reserve = 0
[tenant]
name = bench
display_name = Funkhaus bench
max_participants = 33
max_rooms = 100000
EOF
if [ $backend = dpdk ]; then
	# tx_drain_us = 0: every datagram goes out (the af_packet sendto) in the poll that made
	# it, so its cost is in that poll's busy cycles; with a drain timer a short burst would
	# leave in a later, empty poll that busy_cycles does not count
	cat >>"$work/funkhaus.conf" <<EOF
[dataplane]
backend = dpdk
cores = float
[dpdk]
vdev = $([ $nic = memif ] && echo "net_memif0,role=client,socket=$work/memif.sock,socket-abstract=no" ||
	echo "net_af_packet0,iface=$vs,qpairs=1")
memory = 512
hugepages = no
ipv4 = $media/24
tx_drain_us = 0
EOF
else
	kernel_addr
fi
api() {
	ip netns exec $cns curl -sfk --max-time 5 -H "Authorization: Bearer $bearer" \
		"https://$sig:8443$1"
}
# the admin view at one moment: wall time, /metrics, /api/v1/node
snapshot() {
	date +%s.%N >"$out/funkhaus-$1.time"
	api /metrics >"$out/funkhaus-metrics-$1.txt" || echo "compare-janus: no /metrics" >&2
	api /api/v1/node >"$out/funkhaus-node-$1.json" || echo "compare-janus: no /node" >&2
}
metric() { awk -v k="$1" '$1 == k { print $2 }' "$out/funkhaus-metrics-$2.txt"; }
# user + system CPU seconds of process $1
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' /proc/$1/stat; }
nicp=
if [ $nic = memif ]; then
	[ -x "$build/bench/fh-nic" ] || { echo "compare-janus: no $build/bench/fh-nic" >&2; exit 1; }
	# bounded: it stops by itself after 4 hours if this script is gone without killing it
	ip netns exec $sns "$build/bench/fh-nic" "$work/memif.sock" $vs 14400 >"$work/nic.json" \
		2>"$work/nic.log" &
	nicp=$!
	logged "$work/nic.log" 'carrying frames' $nicp
fi
ip netns exec $sns "$build/dataplane/funkhaus-dp" -c "$work/funkhaus.conf" >"$work/dp.log" 2>&1 &
dp=$!
logged "$work/dp.log" 'worker(s),' $dp
ip netns exec $cns "$build/controlplane/funkhaus-cp" -c "$work/funkhaus.conf" >"$work/cp.log" 2>&1 &
cp=$!
logged "$work/cp.log" 'dataplane attached' $cp
listening $sig 8443
echo "== Funkhaus, $backend backend$([ $veth = 1 ] && echo ' on a veth') (funkhaus-dp $dp, funkhaus-cp $cp)"
grep -h 'SRTP by\|worker(s),\|media port' "$work/dp.log" | sed 's/^/   /' || true
snapshot before
nic_cpu0=$([ -n "$nicp" ] && cpu_s $nicp || echo 0)
rc_f=0
ip netns exec $cns "$bench" -H $sig -P 8443 -i $inst -C $dp,$cp -o "$out/funkhaus.json" "$@" ||
	rc_f=$?
snapshot after
nic_rep='null'
if [ -n "$nicp" ]; then
	nic_cpu1=$(cpu_s $nicp)
	kill $nicp 2>/dev/null || true
	wait $nicp 2>/dev/null || true
	# fh-nic's own report over its whole life, and its CPU over the bench's run
	nic_rep=$(jq -c --argjson c "$(awk -v a="$nic_cpu0" -v b="$nic_cpu1" 'BEGIN { printf "%.2f", b - a }')" \
		'. + {cpu_s_during_bench: $c}' "$work/nic.json" 2>/dev/null || echo null)
	echo "== fh-nic (the NIC's stand-in): $nic_rep"
fi
kill $cp $dp 2>/dev/null || true
wait $cp $dp 2>/dev/null || true
cp "$work/dp.log" "$out/funkhaus-dp.log"
load_mid=$(loadavg)
# the workers' TSC rate: their cycle counter over wall time between the two snapshots (what
# funkhaus-bench's busy seconds rest on too)
hz=$(awk -v c0="$(metric 'funkhaus_worker_cycles_total{worker="0"}' before)" \
	-v c1="$(metric 'funkhaus_worker_cycles_total{worker="0"}' after)" \
	-v t0="$(cat "$out/funkhaus-before.time")" -v t1="$(cat "$out/funkhaus-after.time")" \
	'BEGIN { if (c1 > c0 && t1 > t0) printf "%.0f", (c1 - c0) / (t1 - t0); else print "null" }')
run_busy=$(awk -v b0="$(metric 'funkhaus_worker_busy_cycles_total{worker="0"}' before)" \
	-v b1="$(metric 'funkhaus_worker_busy_cycles_total{worker="0"}' after)" \
	-v f0="$(metric 'funkhaus_worker_rtp_forwarded_total{worker="0"}' before)" \
	-v f1="$(metric 'funkhaus_worker_rtp_forwarded_total{worker="0"}' after)" \
	'BEGIN { if (f1 > f0) printf "%.0f", (b1 - b0) / (f1 - f0); else print "null" }')
# the same split by stage of the worker loop ("tx" holds the I/O backend's send: on the dpdk
# backend the af_packet sendto, in which the kernel carries the frame over the veth into the
# bench's socket); whole run, joins included
stages=$(awk -v f0="$(metric 'funkhaus_worker_rtp_forwarded_total{worker="0"}' before)" \
	-v f1="$(metric 'funkhaus_worker_rtp_forwarded_total{worker="0"}' after)" '
	FNR == 1 { file++ }
	/^funkhaus_worker_stage_cycles_total\{worker="0",/ {
		st = $1; sub(/.*stage="/, "", st); sub(/".*/, "", st)
		if (file == 1) c0[st] = $2; else { c1[st] = $2; order[++n] = st }
	}
	END {
		printf "{"
		for (i = 1; i <= n; i++)
			printf "%s\"%s\": %s", (i > 1 ? ", " : ""), order[i],
				(f1 > f0 ? sprintf("%.0f", (c1[order[i]] - c0[order[i]]) / (f1 - f0)) : "null")
		printf "}"
	}' "$out/funkhaus-metrics-before.txt" "$out/funkhaus-metrics-after.txt")

# --- Janus VideoRoom, on the same address and path as the SFU side above ---
kernel_addr
ip netns exec $sns "$src/bench/janus.sh" "$work/janus" $media 8989 "$work/tls/cert.pem" \
	"$work/tls/key.pem" >"$work/janus.log" 2>&1 &
jp=$!
listening $media 8989
jpid=$(ip netns pids $sns | while read -r p; do
	[ "$(cat /proc/$p/comm 2>/dev/null)" = janus ] && echo $p; done | head -1)
echo "== Janus VideoRoom (janus $jpid)"
rc_j=0
ip netns exec $cns "$bench" -J -H $media -P 8989 -C "$jpid" -o "$out/janus.json" "$@" || rc_j=$?
kill $jp 2>/dev/null || true
wait $jp 2>/dev/null || true
load_end=$(loadavg)

# --- side by side at equal load: the steps both ran, matched by participants; the summary at
# the largest of them that both passed within the limits (else the largest both ran).
# Funkhaus' counted CPU: its processes' CPU on the socket backend; on the dpdk backend the
# worker's busy seconds plus funkhaus-cp's CPU ---
jq -n --slurpfile f "$out/funkhaus.json" --slurpfile j "$out/janus.json" \
	--arg backend $backend --arg nic "$([ $backend = dpdk ] && echo $nic || echo none)" \
	--argjson nicrep "$nic_rep" --argjson veth $veth --argjson hz "$hz" \
	--argjson run_busy "$run_busy" --argjson stages "${stages:-null}" --arg date "$(date -u +%FT%TZ)" \
	--arg command "bench/compare-janus.sh --backend $backend$([ $nic = memif ] && echo ' --nic memif')$([ $veth = 1 ] && [ $backend = socket ] && echo ' --veth') BUILD OUT $*" \
	--arg l0 "$load_start" --arg l1 "$load_mid" --arg l2 "$load_end" '
	def div(a; b): if a != null and b != null and a >= 0 and b > 0 then a / b else null end;
	def sfu: {srtp, capacity, participants, loss_pct, p99_ms: .latency_ms.p99};
	def jcmp: {good, participants, loss_pct, p99_ms, sfu_cpu_s, packets_received,
		sfu_cpu_us_per_packet, counted_us_per_packet: .sfu_cpu_us_per_packet};
	def fcmp: (.sfu_cpu_s_each // []) as $each |
		(if .sfu_busy_s != null and .sfu_busy_s >= 0 and ($each[1] // -1) >= 0
		 then .sfu_busy_s + $each[1] else null end) as $work |
		{good, participants, loss_pct, p99_ms, seconds, packets_received,
		 sfu_cpu_s, sfu_cpu_us_per_packet, dp_cpu_s: $each[0], cp_cpu_s: $each[1],
		 worker_busy_pct: .sfu_busy_pct, worker_busy_s: .sfu_busy_s,
		 forwarded: .sfu_forwarded,
		 worker_busy_us_per_packet: div(.sfu_busy_s * 1e6; .packets_received),
		 worker_busy_cycles_per_forwarded:
			(if $hz != null then div(.sfu_busy_s * $hz; .sfu_forwarded) else null end),
		 busy_cp_cpu_s: $work,
		 busy_cp_us_per_packet: div($work * 1e6; .packets_received)} |
		.counted_us_per_packet = (if $backend == "dpdk" then .busy_cp_us_per_packet
					  else .sfu_cpu_us_per_packet end);
	[($f[0].steps // [])[] as $a | ($j[0].steps // [])[] |
		select(.participants == $a.participants) |
		{participants, funkhaus: ($a | fcmp), janus: jcmp} |
		.janus_over_funkhaus = div(.janus.counted_us_per_packet;
					   .funkhaus.counted_us_per_packet) |
		.janus_over_funkhaus_process = div(.janus.sfu_cpu_us_per_packet;
						   .funkhaus.sfu_cpu_us_per_packet)] as $both |
	(($both | map(select(.funkhaus.good and .janus.good)) | max_by(.participants)) //
	 ($both | max_by(.participants))) as $at |
	{date: $date, command: $command, backend: $backend, nic: $nic, nic_report: $nicrep,
	 two_namespaces: ($veth == 1),
	 loadavg: {start: $l0, after_funkhaus: $l1, end: $l2},
	 tsc_hz: $hz, run_busy_cycles_per_forwarded: $run_busy,
	 run_stage_cycles_per_forwarded: $stages,
	 counted: (if $backend == "dpdk" then "Funkhaus: worker busy cycles + funkhaus-cp CPU; Janus: process CPU"
		   else "process CPU of both" end),
	 equal_load: {participants: $at.participants,
		both_good: (if $at then ($at.funkhaus.good and $at.janus.good) else null end)},
	 funkhaus: ($f[0] | sfu + {step: $at.funkhaus}),
	 janus: ($j[0] | sfu + {step: $at.janus}),
	 cpu_per_packet_janus_over_funkhaus: $at.janus_over_funkhaus,
	 cpu_per_packet_janus_over_funkhaus_process: $at.janus_over_funkhaus_process,
	 steps: $both}' >"$out/compare.json"
jq -r '
	def r2: if type == "number" then . * 100 | round / 100 else . end;
	def row(k; f): "\(k)\t\(.funkhaus | f | r2)\t\(.janus | f | r2)";
	def frow(k; f): "\(k)\t\(.funkhaus | f | r2)\t-";
	"\nside by side at equal load\tFunkhaus (\(.backend)\(if .two_namespaces then ", veth" else "" end))\tJanus VideoRoom",
	row("SRTP profile"; .srtp),
	"participants (step both ran)\t\(.equal_load.participants)\t\(.equal_load.participants)",
	row("step within the limits"; .step.good),
	row("loss % (step)"; .step.loss_pct),
	row("p99 latency ms (step)"; .step.p99_ms),
	row("loss % (whole run)"; .loss_pct),
	row("capacity (ramp: last good step)"; .capacity),
	row("packets received (step)"; .step.packets_received),
	row("SFU process CPU s (step)"; .step.sfu_cpu_s),
	frow("  funkhaus-dp / funkhaus-cp"; "\(.step.dp_cpu_s) / \(.step.cp_cpu_s)"),
	frow("worker busy s (step)"; .step.worker_busy_s),
	frow("worker busy cycles / forwarded copy"; .step.worker_busy_cycles_per_forwarded | if . then round else . end),
	row("SFU process CPU us / packet (step)"; .step.sfu_cpu_us_per_packet),
	frow("busy + funkhaus-cp us / packet (step)"; .step.busy_cp_us_per_packet),
	"Janus / Funkhaus, process CPU\t\(.cpu_per_packet_janus_over_funkhaus_process | r2)",
	"Janus / Funkhaus, counted (\(.counted))\t\(.cpu_per_packet_janus_over_funkhaus | r2)",
	"load average (start, after Funkhaus, end)\t\(.loadavg.start)\t\(.loadavg.after_funkhaus)\t\(.loadavg.end)",
	"worker TSC rate\t\(.tsc_hz)",
	"busy cycles / forwarded copy by stage, whole run\t\(.run_stage_cycles_per_forwarded | tostring)",
	(if .nic_report then "fh-nic (the NIC): CPU s during the bench, busy s, frames to wire / to worker, dropped\t\(.nic_report.cpu_s_during_bench)\t\(.nic_report.busy_s)\t\(.nic_report.frames_to_wire) / \(.nic_report.frames_to_worker)\t\(.nic_report.dropped_to_wire + .nic_report.dropped_to_worker)" else empty end)' \
	"$out/compare.json" | column -t -s $'\t'
jq -r 'if .equal_load.participants == null then
		"no step with the same participants in both runs: not comparable at equal load"
	elif .equal_load.both_good | not then
		"no step that both passed within the limits: the one above is the largest both ran"
	else empty end' "$out/compare.json"
jq -r 'def r2: if type == "number" then . * 100 | round / 100 else . end;
	"\nsteps both ran\tFunkhaus good\tp99 ms\tprocess CPU us/packet\tcounted us/packet\tJanus good\tp99 ms\tCPU us/packet\tJanus / Funkhaus counted\tprocess",
	(.steps[] | "\(.participants)\t\(.funkhaus.good)\t\(.funkhaus.p99_ms)\t\(.funkhaus.sfu_cpu_us_per_packet | r2)\t\(.funkhaus.counted_us_per_packet | r2)\t\(.janus.good)\t\(.janus.p99_ms)\t\(.janus.sfu_cpu_us_per_packet | r2)\t\(.janus_over_funkhaus | r2)\t\(.janus_over_funkhaus_process | r2)")' \
	"$out/compare.json" | column -t -s $'\t'
if [ $veth = 1 ]; then
	echo "CPU per packet: over the packets the participants received. Both SFUs on one end of a"
	echo "veth pair: the kernel moves a sent datagram to the other end and on into the"
	echo "receiver (or its af_packet ring) in the sender's syscall, so each SFU pays for"
	echo "delivering its copies to the bench and the bench for delivering its packets to the SFU."
else
	echo "CPU per packet: the SFU's user + system CPU over the packets the participants received. On"
	echo "loopback the kernel delivers a datagram into the receiver's socket inside the sender's"
	echo "sendmmsg: each SFU is charged for delivering what it sends into the bench's sockets, and the"
	echo "bench for delivering what it sends to the SFU."
fi
[ $rc_f = 0 ] && [ $rc_j = 0 ]
