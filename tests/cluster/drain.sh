#!/bin/bash
# Drain: a running room on the drained node goes on (media keeps flowing, a newcomer still gets
# in there), while every new room opens on another node, whichever node the join came through;
# after undrain the node takes new rooms again.
# Usage: drain.sh BUILD_DIR SOURCE_DIR
set -u
. "$(dirname "$0")/env.sh"
cl_init drain "$@"
cl_up

# a running meeting: two people, through two different nodes
cl_join_bg "$CL_TMP/h1" -H a -r Stadtrat -n h1 -d 30 -p 1
cl_join_bg "$CL_TMP/h2" -H b -r Stadtrat -n h2 -d 30 -p 1
cl_wait 20 "the room has both" cl_held stadtrat 2 || cl_fail "the two did not meet in one room"
x=$(cl_holder stadtrat 2)
cl_log "room stadtrat is held by node $x; draining $x"
cl_api "$x" POST /api/v1/node/drain >/dev/null || cl_fail "drain on $x: $(cat "$CL_TMP/status")"
cl_wait 10 "every node sees $x draining" cl_all_show_draining "$x" true ||
	cl_check_fail "not every node shows $x draining: $(cl_api a GET /api/v1/cluster)"
[ "$(cl_in k curl -sk -o /dev/null -m 2 -w '%{http_code}' "$(cl_url "$x")/readyz")" = 503 ] ||
	cl_check_fail "/readyz of the drained node is not 503"

# six new rooms, through every node in turn (the drained one too): none opens on it
i=0
news=()
for e in a b c a b c; do
	i=$((i + 1))
	cl_join_bg "$CL_TMP/new$i" -H $e -r "Neu-$RANDOM-$i" -n new$i -d 6
	news+=("$CL_TMP/new$i")
	sleep 0.3
done
# and one more in the running room, through the drained node: it still takes people there
late=$(cl_join -H "$x" -r Stadtrat -n late -p 2)
cl_expect "$late" '.ok' "a newcomer to the running room on the drained node"
[ "$(cl_node_of "$late")" = "$x" ] || cl_check_fail "the newcomer is not on $x: $late"
cl_bg_wait "${news[@]}"
for i in 1 2 3 4 5 6; do
	j=$(cat "$CL_TMP/new$i")
	cl_expect "$j" '.joined' "new room $i"
	[ "$(cl_node_of "$j")" != "$x" ] || cl_check_fail "new room $i opened on the drained node $x: $j"
done
cl_log "six new rooms while $x drains: on $(for i in 1 2 3 4 5 6; do cl_node_of "$(cat "$CL_TMP/new$i")"; done | sort | uniq -c | tr '\n' ' ')"

cl_api "$x" POST /api/v1/node/undrain >/dev/null || cl_fail "undrain on $x: $(cat "$CL_TMP/status")"
cl_wait 10 "every node sees $x take rooms again" cl_all_show_draining "$x" false ||
	cl_check_fail "not every node shows $x undrained: $(cl_api a GET /api/v1/cluster)"
cl_wait 5 "$x ready" cl_ready "$x" || cl_check_fail "/readyz of $x after undrain is not 200"
# new rooms again: with rooms held on every node, some land on x
i=0
agains=()
for e in a b c a b c a b c; do
	i=$((i + 1))
	cl_join_bg "$CL_TMP/again$i" -H $e -r "Wieder-$RANDOM-$i" -n again$i -d 6
	agains+=("$CL_TMP/again$i")
	sleep 0.3
done
cl_bg_wait "${agains[@]}"
on_x=0
for i in 1 2 3 4 5 6 7 8 9; do
	j=$(cat "$CL_TMP/again$i")
	cl_expect "$j" '.joined' "new room $i after undrain"
	[ "$(cl_node_of "$j")" = "$x" ] && on_x=$((on_x + 1))
done
cl_log "nine new rooms after undrain: $on_x on $x"
[ $on_x -gt 0 ] || cl_check_fail "no new room opened on $x after undrain"

# the running room went on all the time: each got the other until the end
cl_bg_wait
for h in h1 h2; do
	j=$(cat "$CL_TMP/$h")
	cl_log "$h: $j"
	cl_expect "$j" '.ok and .from >= 1' "$h received media"
	cl_expect "$j" '.last_rx_age_ms >= 0 and .last_rx_age_ms < 1500' "$h's media flowed until the end"
	cl_expect "$j" '.max_gap_ms < 2000' "$h's media had no gap over 2 s"
done
cl_pass
