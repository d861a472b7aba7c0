#!/bin/bash
# Placement spread: 90 simulated participants in rooms of 3 (30 rooms) join through all three
# nodes in turn; each room lives on one node, the rooms per node are within ±20 % of even, and
# every participant gets media from everyone else in its room.
# Usage: placement.sh BUILD_DIR SOURCE_DIR
set -u
. "$(dirname "$0")/env.sh"
cl_init placement "$@"
cl_up

parts=${CL_PARTS:-90}
cl_log "bench: $parts participants in rooms of 3 through $(cl_entries)"
cl_bench spread -H "$(cl_entries)" -n "$parts" -x 3:100% -r 15 -d 8 -b 100 -f 10 -l 100 -q 10000
rc=$?
r=$CL_LOG/spread.json
[ -s "$r" ] || cl_fail "funkhaus-bench wrote no report (exit $rc): $(tail -3 "$CL_LOG/spread.err")"
sed -n '/^entries/,$p' "$CL_LOG/spread.txt"
rooms=$(jq .rooms "$r")
fails=$(jq .join_failures "$r")
silent=$(jq .streams_never_received "$r")
split=$(jq .cluster.rooms_split "$r")
[ "$fails" = 0 ] || cl_check_fail "$fails joins failed"
[ "$silent" = 0 ] || cl_check_fail "$silent remote streams never arrived"
[ "$split" = 0 ] || cl_check_fail "$split rooms have participants on more than one node"
[ "$(jq .cluster.redirects "$r")" -gt 0 ] || cl_check_fail "no join was redirected"
# ±20 % of even, over the three nodes (a node with no room is not in the report: 0)
for n in $CL_NODES; do
	got=$(jq --arg w "$(cl_ip $n):$CL_PORT" '[.cluster.nodes[] | select(.where == $w) | .rooms] | add // 0' "$r")
	lo=$(((rooms * 80 + 299) / 300)) hi=$((rooms * 120 / 300))
	cl_log "node $n: $got rooms (even: $rooms/3, allowed $lo-$hi)"
	{ [ "$got" -ge "$lo" ] && [ "$got" -le "$hi" ]; } || cl_check_fail "node $n holds $got of $rooms rooms, not within ±20 % of even"
done
# what the nodes say themselves
for n in $CL_NODES; do
	cl_api $n GET /api/v1/cluster >/dev/null || cl_check_fail "GET /api/v1/cluster on $n: $(cat "$CL_TMP/status")"
done
cl_api a GET /api/v1/cluster | jq -c '[.nodes[] | {id, rooms, participants}]'
cl_pass
