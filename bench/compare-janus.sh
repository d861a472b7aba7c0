#!/bin/bash
# The same funkhaus-bench load against Funkhaus and against Janus' VideoRoom, one after the
# other in one run, in a network namespace made here (both SFUs and the bench on 10.77.0.1,
# nothing leaves the machine). Prints both reports and a side-by-side summary; writes
# funkhaus.json, janus.json and compare.json into OUT_DIR.
#
# Usage: bench/compare-janus.sh BUILD_DIR OUT_DIR [funkhaus-bench options]
#   e.g. bench/compare-janus.sh build /tmp/cmp -m steady -n 20 -x 5:100% -d 20 -S gcm
# Needs root (network namespace) and the packages of scripts/deps.sh bench (janus, jq).
set -euo pipefail
if [ $# -lt 2 ]; then
	sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
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

# --- side by side: the last step each SFU held with its quality limits (or its last step) ---
pick='(.steps | map(select(.good)) | last) // (.steps | last) // {}'
jq -n --slurpfile f "$out/funkhaus.json" --slurpfile j "$out/janus.json" "
	(\$f[0] | $pick) as \$fs | (\$j[0] | $pick) as \$js |
	{funkhaus: {srtp: \$f[0].srtp, capacity: \$f[0].capacity, participants: \$f[0].participants,
		loss_pct: \$f[0].loss_pct, p99_ms: \$f[0].latency_ms.p99, step: \$fs},
	 janus: {srtp: \$j[0].srtp, capacity: \$j[0].capacity, participants: \$j[0].participants,
		loss_pct: \$j[0].loss_pct, p99_ms: \$j[0].latency_ms.p99, step: \$js},
	 cpu_per_packet_janus_over_funkhaus:
		(if (\$fs.sfu_cpu_us_per_packet // 0) > 0 and (\$js.sfu_cpu_us_per_packet // 0) > 0
		 then \$js.sfu_cpu_us_per_packet / \$fs.sfu_cpu_us_per_packet else null end)}" \
	>"$out/compare.json"
jq -r '
	def row(k; f): "\(k)\t\(.funkhaus | f)\t\(.janus | f)";
	"\nside by side\tFunkhaus\tJanus VideoRoom",
	row("SRTP profile"; .srtp),
	row("participants (at the step)"; .step.participants),
	row("loss % (whole run)"; .loss_pct),
	row("p99 latency ms (whole run)"; .p99_ms),
	row("capacity (ramp)"; .capacity),
	row("SFU CPU s (step)"; .step.sfu_cpu_s),
	row("packets received (step)"; .step.packets_received),
	row("SFU CPU us / packet"; .step.sfu_cpu_us_per_packet),
	"Janus / Funkhaus CPU per packet\t\(.cpu_per_packet_janus_over_funkhaus)"' \
	"$out/compare.json" | column -t -s $'\t'
[ $rc_f = 0 ] && [ $rc_j = 0 ]
