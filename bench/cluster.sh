#!/bin/bash
# The cluster figures of bench/README.md: three nodes and a Redis in network namespaces on this
# machine (tests/cluster/env.sh), funkhaus-bench in a clients' namespace, three runs:
#   1. placement: N participants (300) in rooms of 5 joined at R/s (30) through all three nodes
#      in turn: rooms per node against even, join time through a redirect against direct;
#   2. redis: the same load, Redis killed (kill -9) and started again under it: calls lost;
#   3. failover: the same load with --rejoin, node b's daemons killed (kill -9) under it: the
#      time until every affected participant has media again, rejoin tries that failed.
# Usage: bench/cluster.sh BUILD_DIR [N [RATE [BENCH_ARGS...]]]   (root; a release build)
# The reports (JSON and text) and the daemons' logs go to BUILD_DIR/meson-logs/cluster/.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/cluster/env.sh"
build=${1:?usage: bench/cluster.sh BUILD_DIR [N [RATE [BENCH_ARGS...]]]}
n=${2:-300}
rate=${3:-30}
shift $(($# < 3 ? $# : 3))
cl_init bench-cluster "$build" "$top"
cl_up
hold=${CL_HOLD:-40}
args=(-H "$(cl_entries)" -n "$n" -x 5:100% -r "$rate" -l 100 -q 100000 "$@")

summary() {
	local r=$CL_LOG/$1.json
	jq -c '{participants, rooms, join_failures, loss_pct, streams_never_received,
		nodes: [.cluster.nodes[] | {id, where, rooms, participants, rooms_joined}],
		rooms_split: .cluster.rooms_split, redirects: .cluster.redirects,
		direct: .cluster.join_direct_s, redirected: .cluster.join_redirected_s,
		connections_lost: .cluster.connections_lost, rejoin: .cluster.rejoin}' "$r"
}

cl_log "1. placement: $n participants in rooms of 5 at $rate/s, held $hold s"
cl_bench placement "${args[@]}" -d "$hold"
summary placement

cl_log "2. redis: killed 10 s into the hold, started again 5 s later"
rm -f "$CL_TMP/ready"
cl_bench redis "${args[@]}" -d "$hold" --ready "$CL_TMP/ready" &
b=$!
cl_wait 120 "everyone joined" test -s "$CL_TMP/ready" || cl_fail "the bench did not get everyone in"
sleep 10
cl_redis_kill
sleep 5
cl_redis_start
cl_wait 30 "every node lists 3 nodes" cl_all_see 3 || cl_log "the nodes did not all register again"
wait $b
summary redis

cl_log "3. failover: --rejoin, node b killed 10 s into the hold"
rm -f "$CL_TMP/ready"
cl_bench failover "${args[@]}" -d "$hold" --rejoin --ready "$CL_TMP/ready" &
b=$!
cl_wait 120 "everyone joined" test -s "$CL_TMP/ready" || cl_fail "the bench did not get everyone in"
sleep 10
cl_api b GET /api/v1/cluster | jq -c '[.nodes[] | {id, rooms, participants}]'
cl_kill b
CL_UP="a c"
wait $b
summary failover
for f in placement redis failover; do
	echo "=== $f"
	sed -n '/^SFU/,$p' "$CL_LOG/$f.txt"
done
cl_pass
