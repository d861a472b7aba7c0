#!/bin/bash
# A room's password survives a move: a room opened through node a gets a password from its
# moderator; everyone leaves; its node is then drained (first room) or killed (second room);
# the room opens on another node, refuses a join without the password (4033) and with a wrong
# one (4032), and takes the right one.
# Usage: password.sh BUILD_DIR SOURCE_DIR
set -u
. "$(dirname "$0")/env.sh"
cl_init password "$@"
cl_up

# check ROOM KEY PASSWORD NOT_ON: the three joins through every node but NOT_ON
check() {
	local room=$1 pw=$3 gone=$4 j
	for n in $CL_UP; do
		j=$(cl_join -H $n -r "$room" -n guest)
		cl_expect "$j" '.joined == false and .error == 4033' "$room through $n without a password"
		j=$(cl_join -H $n -r "$room" -n guest -w "falsch-$RANDOM")
		cl_expect "$j" '.joined == false and .error == 4032' "$room through $n with a wrong password"
		j=$(cl_join -H $n -r "$room" -n guest -w "$pw")
		cl_expect "$j" '.ok' "$room through $n with its password"
		[ "$(cl_node_of "$j")" != "$gone" ] || cl_check_fail "$room opened on $gone: $j"
		cl_log "$room through $n: right password on node $(cl_node_of "$j")"
	done
}

for variant in drain kill; do
	room="Bürgersprechstunde $variant"
	key="bürgersprechstunde $variant"
	pw="Stadt-$RANDOM-$RANDOM"
	j=$(cl_join -H a -r "$room" -n moderator -W "$pw")
	cl_expect "$j" '.ok and .password_set' "opening $room with a password"
	x=$(cl_node_of "$j")
	cl_log "$room was opened through a on node $x with a password, and left"
	# the room ends with its last participant: nobody holds it now
	cl_wait 10 "nobody holds $room" cl_not_held "$key" ||
		cl_check_fail "$room is still held"
	if [ $variant = drain ]; then
		cl_api "$x" POST /api/v1/node/drain >/dev/null || cl_fail "drain on $x"
		cl_wait 10 "every node sees $x draining" cl_all_show_draining "$x" true ||
			cl_check_fail "not every node shows $x draining"
		check "$room" "$key" "$pw" "$x"
		cl_api "$x" POST /api/v1/node/undrain >/dev/null || cl_fail "undrain on $x"
		cl_wait 10 "every node sees $x undrained" cl_all_show_draining "$x" false
	else
		cl_kill "$x"
		CL_UP=$(echo $CL_NODES | tr ' ' '\n' | grep -v "^$x$" | tr '\n' ' ')
		cl_wait 20 "the others list 2 nodes" cl_all_see 2 || cl_check_fail "$x is still listed"
		check "$room" "$key" "$pw" "$x"
	fi
done
cl_pass
