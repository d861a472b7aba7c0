#!/bin/bash
# Redis down and back: while redis is gone the running room goes on, a join to the room the
# node holds works, a new room is refused with 5010; once redis is back every node registers
# again (each lists 3 nodes) and new rooms open through every node.
# Usage: redis.sh BUILD_DIR SOURCE_DIR
set -u
. "$(dirname "$0")/env.sh"
cl_init redis "$@"
cl_up

cl_join_bg "$CL_TMP/h1" -H a -r Ratssitzung -n h1 -d 35 -p 1
cl_join_bg "$CL_TMP/h2" -H b -r Ratssitzung -n h2 -d 35 -p 1
cl_wait 20 "the room has both" cl_held ratssitzung 2 || cl_fail "the two did not meet in one room"
x=$(cl_holder ratssitzung 2)
cl_log "room ratssitzung is held by node $x; redis goes"
cl_redis_kill
cl_wait 15 "every node says redis is down" cl_all_redis_is down ||
	cl_check_fail "not every node noticed: $(for n in $CL_NODES; do cl_api $n GET /api/v1/cluster | jq -c '{node, redis}'; done)"
[ "$(cl_metric "$x" funkhaus_cluster_redis_up)" = 0 ] || cl_check_fail "funkhaus_cluster_redis_up on $x is not 0 while redis is down"

j=$(cl_join -H "$x" -r Ratssitzung -n late -p 2)
cl_log "join to the running room through $x: $j"
cl_expect "$j" '.ok' "a join to the room $x holds, redis down"
j=$(cl_join -H "$x" -r "Neu-$RANDOM" -n new)
cl_log "a new room through $x: $j"
cl_expect "$j" '.joined == false and .error == 5010' "a new room while redis is down is refused with 5010"
for n in $CL_NODES; do
	[ $n = "$x" ] && continue
	j=$(cl_join -H $n -r "Neu-$RANDOM" -n new -t 5000)
	cl_expect "$j" '.joined == false and .error == 5010' "a new room through $n while redis is down"
done
sleep 3
cl_redis_start
cl_wait 30 "every node lists 3 nodes again" cl_all_see 3 ||
	cl_check_fail "the nodes did not register again: $(for n in $CL_NODES; do cl_api $n GET /api/v1/cluster | jq -c '{node, redis, n: (.nodes | length)}'; done)"
[ "$(cl_metric "$x" funkhaus_cluster_redis_up)" = 1 ] || cl_check_fail "funkhaus_cluster_redis_up on $x is not 1 with redis back"
for n in $CL_NODES; do
	j=$(cl_join -H $n -r "Wieder-$RANDOM" -n again)
	cl_expect "$j" '.ok' "a new room through $n with redis back"
done
# the running room went on all the time
cl_bg_wait
cl_kept_call h1 h2
# the cluster's gauges and counters are there
m=$(cl_api a GET /metrics)
for k in funkhaus_cluster_redis_up funkhaus_cluster_nodes funkhaus_cluster_rooms_claimed \
	funkhaus_cluster_redirects_total funkhaus_cluster_redis_errors_total funkhaus_cluster_bad_records_total; do
	grep -q "^$k" <<<"$m" || cl_check_fail "/metrics has no $k"
done
cl_pass
