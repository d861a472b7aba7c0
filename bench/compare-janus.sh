#!/bin/bash
# The same funkhaus-bench load against Funkhaus and against Janus' VideoRoom, one after the
# other in one run, in a network namespace made here (both SFUs and the bench on 10.77.0.1,
# nothing leaves the machine). Prints both reports and a side-by-side summary at equal load:
# the largest step (participants) both SFUs passed within the limits (or, if there is none,
# the largest both ran, marked so), and every step both ran; writes funkhaus.json, janus.json
# and compare.json into OUT_DIR. CPU per packet is the SFU's user + system CPU over the packets
# the participants received; everything is on loopback, where the kernel delivers a datagram
# into the receiver's socket inside the sender's sendmmsg: the SFU is charged for delivering
# what it sends into the bench's sockets, the bench for delivering what it sends to the SFU.
#
# Usage: bench/compare-janus.sh BUILD_DIR OUT_DIR [funkhaus-bench options]
#   e.g. bench/compare-janus.sh build /tmp/cmp -m steady -n 20 -x 5:100% -d 20 -S gcm
# Needs root (network namespace) and the packages of scripts/deps.sh bench (janus, jq).
set -euo pipefail
if [ $# -lt 2 ]; then
	sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
fi
build=$(realpath "$1") out=$2
shift 2
src=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "compare-janus: needs root (network namespace)" >&2; exit 1; }
for c in janus jq ip; do
	command -v $c >/dev/null || { echo "compare-janus: $c is missing (scripts/deps.sh bench)" >&2; exit 1; }
done
bench=$build/bench/funkhaus-bench
[ -x "$bench" ] || { echo "compare-janus: no $bench (ninja -C $1)" >&2; exit 1; }
mkdir -p "$out"
ns=fhcmp$$ addr=10.77.0.1 work=$(mktemp -d) inst=cmp$$
cleanup() {
	ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null || true
	sleep 0.5
	ip netns pids $ns 2>/dev/null | xargs -r kill -9 2>/dev/null || true
	ip netns del $ns 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
ip netns add $ns
ip -n $ns link set lo up
ip -n $ns link add cmp0 type veth peer name cmp1
ip -n $ns addr add $addr/24 dev cmp0
ip -n $ns link set cmp0 up
ip -n $ns link set cmp1 up
"$src/scripts/gen-cert.sh" "$work/tls" >/dev/null

# waits until something listens on TCP port $1 in the namespace
listening() {
	for _ in $(seq 100); do
		ip netns exec $ns bash -c "echo >/dev/tcp/$addr/$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "compare-janus: nothing listens on $addr:$1" >&2
	return 1
}

# --- Funkhaus: the embedded default (socket backend), one worker ---
cat >"$work/funkhaus.conf" <<EOF
[instance]
name = $inst
[dataplane]
workers = 1
bind = $addr
[controlplane]
port = 8443
bind = $addr
tls_cert = $work/tls/cert.pem
tls_key = $work/tls/key.pem
web_root = $src/controlplane/web
announce = $addr
signalling_rate = 1000
state_dir = $work/state
[tenant]
name = bench
display_name = Funkhaus bench
max_participants = 33
max_rooms = 100000
EOF
ip netns exec $ns "$build/dataplane/funkhaus-dp" -c "$work/funkhaus.conf" >"$work/dp.log" 2>&1 &
dp=$!
sleep 1
ip netns exec $ns "$build/controlplane/funkhaus-cp" -c "$work/funkhaus.conf" >"$work/cp.log" 2>&1 &
cp=$!
listening 8443
echo "== Funkhaus (funkhaus-dp $dp, funkhaus-cp $cp)"
rc_f=0
ip netns exec $ns "$bench" -H $addr -P 8443 -i $inst -C $dp,$cp -o "$out/funkhaus.json" "$@" ||
	rc_f=$?
kill $cp $dp 2>/dev/null || true
wait $cp $dp 2>/dev/null || true

# --- Janus VideoRoom ---
ip netns exec $ns "$src/bench/janus.sh" "$work/janus" $addr 8989 "$work/tls/cert.pem" \
	"$work/tls/key.pem" >"$work/janus.log" 2>&1 &
jp=$!
listening 8989
jpid=$(ip netns pids $ns | while read -r p; do
	[ "$(cat /proc/$p/comm 2>/dev/null)" = janus ] && echo $p; done | head -1)
echo "== Janus VideoRoom (janus $jpid)"
rc_j=0
ip netns exec $ns "$bench" -J -H $addr -P 8989 -C "$jpid" -o "$out/janus.json" "$@" || rc_j=$?
kill $jp 2>/dev/null || true
wait $jp 2>/dev/null || true

# --- side by side at equal load: the steps both ran, matched by participants; the summary at
# the largest of them that both passed within the limits (else the largest both ran) ---
jq -n --slurpfile f "$out/funkhaus.json" --slurpfile j "$out/janus.json" '
	def sfu: {srtp, capacity, participants, loss_pct, p99_ms: .latency_ms.p99};
	def cmp: {good, participants, loss_pct, p99_ms, sfu_cpu_s, packets_received,
		sfu_cpu_us_per_packet};
	def ratio(a; b): if (a // 0) > 0 and (b // 0) > 0 then b / a else null end;
	[($f[0].steps // [])[] as $a | ($j[0].steps // [])[] |
		select(.participants == $a.participants) |
		{participants, funkhaus: ($a | cmp), janus: cmp,
		 janus_over_funkhaus: ratio($a.sfu_cpu_us_per_packet; .sfu_cpu_us_per_packet)}] as $both |
	(($both | map(select(.funkhaus.good and .janus.good)) | max_by(.participants)) //
	 ($both | max_by(.participants))) as $at |
	{equal_load: {participants: $at.participants,
		both_good: (if $at then ($at.funkhaus.good and $at.janus.good) else null end)},
	 funkhaus: ($f[0] | sfu + {step: $at.funkhaus}),
	 janus: ($j[0] | sfu + {step: $at.janus}),
	 cpu_per_packet_janus_over_funkhaus: $at.janus_over_funkhaus,
	 steps: $both}' >"$out/compare.json"
jq -r '
	def r2: if type == "number" then . * 100 | round / 100 else . end;
	def row(k; f): "\(k)\t\(.funkhaus | f)\t\(.janus | f)";
	"\nside by side at equal load\tFunkhaus\tJanus VideoRoom",
	row("SRTP profile"; .srtp),
	"participants (step both ran)\t\(.equal_load.participants)\t\(.equal_load.participants)",
	row("step within the limits"; .step.good),
	row("loss % (step)"; .step.loss_pct),
	row("p99 latency ms (step)"; .step.p99_ms),
	row("loss % (whole run)"; .loss_pct),
	row("capacity (ramp: last good step)"; .capacity),
	row("SFU CPU s (step)"; .step.sfu_cpu_s),
	row("packets received (step)"; .step.packets_received),
	row("SFU CPU us / packet (step)"; .step.sfu_cpu_us_per_packet),
	"Janus / Funkhaus CPU per packet\t\(.cpu_per_packet_janus_over_funkhaus | r2)"' \
	"$out/compare.json" | column -t -s $'\t'
jq -r 'if .equal_load.participants == null then
		"no step with the same participants in both runs: not comparable at equal load"
	elif .equal_load.both_good | not then
		"no step that both passed within the limits: the one above is the largest both ran"
	else empty end' "$out/compare.json"
jq -r 'def r2: if type == "number" then . * 100 | round / 100 else . end;
	"\nsteps both ran\tFunkhaus good\tp99 ms\tCPU us/packet\tJanus good\tp99 ms\tCPU us/packet\tJanus / Funkhaus",
	(.steps[] | "\(.participants)\t\(.funkhaus.good)\t\(.funkhaus.p99_ms)\t\(.funkhaus.sfu_cpu_us_per_packet)\t\(.janus.good)\t\(.janus.p99_ms)\t\(.janus.sfu_cpu_us_per_packet)\t\(.janus_over_funkhaus | r2)")' \
	"$out/compare.json" | column -t -s $'\t'
echo "CPU per packet: the SFU's user + system CPU over the packets the participants received. On"
echo "loopback the kernel delivers a datagram into the receiver's socket inside the sender's"
echo "sendmmsg: each SFU is charged for delivering what it sends into the bench's sockets, and the"
echo "bench for delivering what it sends to the SFU."
[ $rc_f = 0 ] && [ $rc_j = 0 ]
