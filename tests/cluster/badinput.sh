#!/bin/bash
# Bad input in Redis, written from outside with redis-cli under the cluster's prefix: a node
# record with an absurd capacity, records of the wrong type or far too large, another cluster's
# node and claim, a node set that is no set, and a claim pointing at a redirect loop (a node
# whose URL is a node that does not hold the room). Every join ends, with an error or placed
# with media, within its bound; the daemons stay up; the bad records are counted; once the
# bad keys are gone everything works as before.
# Usage: badinput.sh BUILD_DIR SOURCE_DIR
set -u
. "$(dirname "$0")/env.sh"
cl_init badinput "$@"
cl_up
P=funkhaus:

# a join that must end (error or media) within its bound: -t 5000, two hops at most
ends() {
	local what=$1 j t0 t1
	shift
	t0=$(date +%s%N)
	j=$(cl_join "$@" -t 5000)
	t1=$(date +%s%N)
	cl_log "$what: $j ($(((t1 - t0) / 1000000)) ms)"
	cl_expect "$j" '(.hung | not) and (.joined == false or .ok)' "$what ended"
	[ $(((t1 - t0) / 1000000000)) -lt 30 ] || cl_check_fail "$what took $(((t1 - t0) / 1000000)) ms"
	echo "$j" >"$CL_TMP/last"
}
alive() {
	for n in $CL_NODES; do
		cl_alive $n || cl_fail "node $n died after $1"
		cl_api $n GET /api/v1/cluster >/dev/null || cl_fail "GET /api/v1/cluster on $n fails after $1"
	done
}
bad_before=$(for n in $CL_NODES; do cl_metric $n funkhaus_cluster_bad_records_total; done | awk '{ s += $1 } END { print s + 0 }')
rec=$(cl_redis GET "${P}node:a")
jq -e .id <<<"$rec" >/dev/null || cl_fail "node a's record is not JSON: $rec"

# 1. a node that says it takes a billion participants, at an address where nothing listens
cl_redis SET "${P}node:huge" "$(jq -c '.id = "huge" | .capacity = 1000000000 | .url = "https://198.18.60.99:8443"' <<<"$rec")" PX 60000 >/dev/null
cl_redis SADD "${P}nodes" huge >/dev/null
# 2. records of the wrong type, one far too large, one that is no JSON
cl_redis HSET "${P}node:wt" id wt >/dev/null
head -c 1500000 /dev/zero | tr '\0' x | cl_redis -x SET "${P}node:big" >/dev/null # 1.5 MB
cl_redis PEXPIRE "${P}node:big" 60000 >/dev/null
cl_redis SET "${P}node:junk" '{"v":1,"id":"junk","cluster":' PX 60000 >/dev/null
# 3. another cluster's node under the same prefix (it would take everything: it is empty)
cl_redis SET "${P}node:other" "$(jq -c '.id = "other" | .cluster = "andere" | .rooms = 0 | .participants = 0 | .url = "https://198.18.60.98:8443"' <<<"$rec")" PX 60000 >/dev/null
cl_redis SADD "${P}nodes" wt big junk other "bad id with spaces" >/dev/null
sleep 3 # every node has read the set at least once
for i in 1 2 3 4 5 6; do
	e=$(echo a b c | cut -d' ' -f$(((i - 1) % 3 + 1)))
	ends "new room $i through $e with bad node records" -H $e -r "Bad-$RANDOM-$i" -n bad
	cl_expect "$(cat "$CL_TMP/last")" '.ok' "new room $i is placed on a real node"
	[ "$(cl_node_of "$(cat "$CL_TMP/last")")" != "?" ] || cl_check_fail "new room $i is not on a, b or c"
done
for n in $CL_NODES; do
	cl_sees $n 3 || cl_check_fail "node $n lists other nodes than a, b, c: $(cl_api $n GET /api/v1/cluster | jq -c '[.nodes[].id]')"
done
alive "bad node records"

# 4. a claim pointing at a redirect loop: "ghost" holds the room, and its URL is node a's
room="Schleife $RANDOM"
# the room's keyed hash, from the cluster's list of rooms while it is the only one there
cl_wait 15 "no room is claimed" cl_claims 0 || cl_log "rooms still claimed: $(cl_api a GET /api/v1/cluster/rooms)"
cl_join_bg "$CL_TMP/l1" -H a -r "$room" -n loop -d 3
cl_wait 10 "the room is claimed" cl_claims 1 || cl_fail "the room is not listed: $(cl_api a GET /api/v1/cluster/rooms)"
hash=$(cl_api a GET /api/v1/cluster/rooms | jq -r '.[0].room // empty')
cl_bg_wait "$CL_TMP/l1"
[ ${#hash} = 32 ] || cl_fail "no room hash from GET /api/v1/cluster/rooms"
cl_wait 15 "the room's claim is released" cl_no_key "${P}claim:test:$hash" ||
	cl_log "the claim is still there: $(cl_redis GET "${P}claim:test:$hash")"
ghost() { # the ghost's record, fresh: node a's own, renamed
	cl_redis SET "${P}node:ghost" "$(cl_redis GET "${P}node:a" | jq -c '.id = "ghost"')" PX 6000 >/dev/null
	cl_redis SADD "${P}nodes" ghost >/dev/null
}
ghost
cl_redis SET "${P}claim:test:$hash" "test|ghost|0123456789abcdef" PX 60000 >/dev/null
(for _ in $(seq 30); do ghost; sleep 1; done) &
keeper=$!
CL_PIDS+=($keeper)
sleep 2.5
for e in a b c; do
	ends "the looping room through $e" -H $e -r "$room" -n loop
	jq -e '.ok or .error == 5011 or .redirect_loop' "$CL_TMP/last" >/dev/null ||
		cl_check_fail "the looping room through $e ended neither placed nor with 5011: $(cat "$CL_TMP/last")"
done
# another cluster's claim on the room: ignored (the room is placed) or refused, never followed
cl_redis SET "${P}claim:test:$hash" "andere|a|0123456789abcdef" PX 60000 >/dev/null
ends "the room claimed by another cluster" -H b -r "$room" -n other
# a claim of the wrong type, and one that is no claim at all
cl_redis DEL "${P}claim:test:$hash" >/dev/null
cl_redis LPUSH "${P}claim:test:$hash" x >/dev/null
ends "the room with a claim of the wrong type" -H c -r "$room" -n wrongtype
# one that never expires (no node made it: every claim expires unless refreshed) is removed
# and the room placed, so that a key written by hand does not block the room for good
kill $keeper 2>/dev/null
wait $keeper 2>/dev/null
cl_redis DEL "${P}claim:test:$hash" "${P}node:ghost" >/dev/null
cl_redis SREM "${P}nodes" ghost >/dev/null
# (placement would take the ghost while a node's list still has it: it has no room)
cl_wait 15 "no node lists the ghost" cl_all_see 3 ||
	cl_check_fail "the ghost is still listed: $(cl_api a GET /api/v1/cluster | jq -c '[.nodes[].id]')"
cl_redis SET "${P}claim:test:$hash" "von Hand" >/dev/null
ends "the room with a hand-written claim without expiry" -H c -r "$room" -n byhand
jq -e '.ok' "$CL_TMP/last" >/dev/null ||
	cl_check_fail "the room with a claim without expiry was not placed: $(cat "$CL_TMP/last")"
cl_redis DEL "${P}claim:test:$hash" >/dev/null
cl_redis SET "${P}claim:test:$hash" "$(head -c 5000 /dev/zero | tr '\0' '|')" PX 60000 >/dev/null
ends "the room with a claim of 5000 bars" -H a -r "$room" -n bars
alive "bad claims"

# 5. the node set replaced by a string: joins end; the nodes' next announcements make the set
# again by themselves
cl_redis DEL "${P}nodes" >/dev/null
cl_redis SET "${P}nodes" "not a set" >/dev/null
sleep 2.5
ends "a new room while the node set is a string" -H b -r "Ohne-$RANDOM" -n noset
alive "a node set that is no set"
cl_wait 20 "every node lists 3 nodes again" cl_all_see 3 ||
	cl_check_fail "the nodes did not register again: $(cl_api a GET /api/v1/cluster)"
[ "$(cl_redis TYPE "${P}nodes")" = set ] || cl_check_fail "the node set was not made again"
cl_redis DEL "${P}node:huge" "${P}node:wt" "${P}node:big" "${P}node:junk" \
	"${P}node:other" "${P}node:ghost" "${P}claim:test:$hash" >/dev/null

# everything as before: the room opens, with media between two
cl_join_bg "$CL_TMP/f1" -H a -r "$room" -n f1 -d 4 -p 1
cl_join_bg "$CL_TMP/f2" -H c -r "$room" -n f2 -d 4 -p 1
cl_bg_wait
for f in f1 f2; do cl_expect "$(cat "$CL_TMP/$f")" '.ok' "$f in the room once the bad keys are gone"; done
bad_after=$(for n in $CL_NODES; do cl_metric $n funkhaus_cluster_bad_records_total; done | awk '{ s += $1 } END { print s + 0 }')
cl_log "bad records counted: $bad_before before, $bad_after after"
[ "$bad_after" -gt "$bad_before" ] || cl_check_fail "funkhaus_cluster_bad_records_total did not grow"
alive "the end"
cl_pass
