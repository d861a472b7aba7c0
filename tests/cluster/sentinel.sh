#!/bin/bash
# Redis Sentinel: the nodes find the master through a sentinel (docs/OPERATIONS.md, section 9).
# A master and a replica and one sentinel (quorum 1, down after 1 s) run in the redis
# namespace; the master is killed; the sentinel promotes the replica and the nodes go on with
# it: the running room keeps its media all along, new rooms are refused only with 5010 and
# only until the nodes have the new master, then open through every node, and every node
# lists the three again (announced to the new master).
# Usage: sentinel.sh BUILD_DIR SOURCE_DIR
set -u
. "$(dirname "$0")/env.sh"
cl_init sentinel "$@"
command -v redis-sentinel >/dev/null || cl_skip "redis-sentinel is missing (scripts/deps.sh test installs it)"
cl_net
cl_redis_conf
pass=$(cat "$CL_TMP/redis.pass")
ip=$(cl_ip r)
mkdir -p "$CL_TMP/replica"
(
	umask 077
	cat >"$CL_TMP/replica.conf" <<-EOF
		bind $ip
		port 6380
		protected-mode no
		requirepass $pass
		masterauth $pass
		replicaof $ip 6379
		appendonly yes
		save ""
		dir $CL_TMP/replica
		daemonize no
		logfile $CL_LOG/redis-replica.log
	EOF
	# the sentinel rewrites its file: one of its own, writable
	cat >"$CL_TMP/sentinel.conf" <<-EOF
		bind $ip
		port 26379
		protected-mode no
		dir $CL_TMP
		daemonize no
		logfile $CL_LOG/sentinel.log
		sentinel monitor funkhaus $ip 6379 1
		sentinel auth-pass funkhaus $pass
		sentinel down-after-milliseconds funkhaus 1000
		sentinel failover-timeout funkhaus 10000
		sentinel parallel-syncs funkhaus 1
	EOF
)
# redis-cli against the replica (6380) and the sentinel (26379), from the client namespace
cl_replica() { REDISCLI_AUTH=$pass cl_in k redis-cli -h "$ip" -p 6380 "$@"; }
cl_sentinel() { cl_in k redis-cli -h "$ip" -p 26379 "$@"; }
master_port() { cl_sentinel SENTINEL get-master-addr-by-name funkhaus 2>/dev/null | sed -n 2p; }
sentinel_names() { [ "$(master_port)" = "$1" ]; }
replica_synced() { cl_replica INFO replication 2>/dev/null | grep -q '^master_link_status:up'; }
sentinel_knows_replica() { [ "$(cl_sentinel SENTINEL replicas funkhaus 2>/dev/null | grep -c '^6380$')" -ge 1 ]; }

cl_redis_start
ip netns exec "$(cl_ns r)" redis-server "$CL_TMP/replica.conf" &
CL_PIDS+=($!)
cl_wait 15 "the replica is in sync" replica_synced || cl_fail "the replica did not sync (see $CL_LOG/redis-replica.log)"
ip netns exec "$(cl_ns r)" redis-sentinel "$CL_TMP/sentinel.conf" &
CL_PIDS+=($!)
cl_wait 15 "the sentinel names the master" sentinel_names 6379 ||
	cl_fail "the sentinel does not name the master (see $CL_LOG/sentinel.log)"
cl_wait 20 "the sentinel knows the replica" sentinel_knows_replica ||
	cl_fail "the sentinel did not find the replica (see $CL_LOG/sentinel.log)"

# every node through the sentinel (its redis = line is not used then)
CL_EXTRA_CLUSTER="sentinels = $ip:26379
master = funkhaus"
for n in $CL_NODES; do cl_start $n; done
CL_UP=$CL_NODES
cl_wait 20 "every node lists 3 nodes" cl_all_see 3 ||
	cl_fail "the nodes do not see each other through the sentinel: $(cl_api a GET /api/v1/cluster)"
grep -q "through sentinels" "$CL_LOG/cp-a.log" || cl_check_fail "node a does not say it goes through the sentinels"

cl_join_bg "$CL_TMP/h1" -H a -r Ratssitzung -n h1 -d 20 -p 1
cl_join_bg "$CL_TMP/h2" -H b -r Ratssitzung -n h2 -d 20 -p 1
cl_wait 20 "the room has both" cl_held ratssitzung 2 || cl_fail "the two did not meet in one room"

cl_log "the master goes (kill -9)"
t0=$(date +%s%N)
cl_redis_kill
# new rooms: refused with 5010 until the nodes have the new master, then placed (30 s at most)
opened=0 others=0 tries=0
while [ $(($(date +%s%N) - t0)) -lt 30000000000 ]; do
	j=$(cl_join -H c -r "Neu-$RANDOM" -n new -t 3000)
	tries=$((tries + 1))
	if jq -e '.ok' <<<"$j" >/dev/null 2>&1; then
		opened=$((($(date +%s%N) - t0) / 1000000))
		break
	fi
	jq -e '.joined == false and .error == 5010' <<<"$j" >/dev/null 2>&1 || {
		others=$((others + 1))
		cl_log "a new room during the failover: $j"
	}
	sleep 0.5
done
[ "$opened" -gt 0 ] || cl_fail "no new room opened within 30 s of the master's death"
cl_log "a new room opened $opened ms after the master's death ($tries tries; the sentinel now names port $(master_port))"
[ "$others" = 0 ] || cl_check_fail "$others join(s) during the failover ended otherwise than with 5010"
[ "$(master_port)" = 6380 ] || cl_check_fail "the sentinel does not name the replica as the master"
cl_wait 20 "every node lists 3 nodes again" cl_all_see 3 ||
	cl_check_fail "the nodes did not announce themselves to the new master: $(for n in $CL_NODES; do cl_api $n GET /api/v1/cluster | jq -c '{node, redis, n: (.nodes | length)}'; done)"
[ "$(cl_replica ROLE 2>/dev/null | head -1)" = master ] || cl_check_fail "the replica did not become master"
[ "$(cl_replica SCARD funkhaus:nodes 2>/dev/null)" = 3 ] || cl_check_fail "the new master's node set does not hold the three"
for n in $CL_NODES; do
	j=$(cl_join -H $n -r "Danach-$RANDOM" -n after)
	cl_expect "$j" '.ok' "a new room through $n after the failover"
done
# the running room went on all the time
cl_bg_wait
cl_kept_call h1 h2
cl_pass
