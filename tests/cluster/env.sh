# Sourced by the cluster tests (tests/cluster/*.sh): a Funkhaus cluster of three nodes on one
# machine, each node (funkhaus-dp + funkhaus-cp) in a network namespace of its own, a Redis in
# another, a client namespace for funkhaus-bench, fh-join and browsers. Everything is made by
# the test, named with a random suffix of this run (namespaces, /dev/shm regions), and removed
# by a trap on every exit. Only 198.18.60.0/24 addresses (RFC 2544 benchmarking space) are used:
#
#   fhcl-RUN-r   bridge br0 198.18.60.1/24, redis-server on 198.18.60.1:6379 (requirepass)
#   fhcl-RUN-a   eth0 198.18.60.11, node a: https://198.18.60.11:8443, media UDP 40000
#   fhcl-RUN-b   eth0 198.18.60.12, node b       fhcl-RUN-c   eth0 198.18.60.13, node c
#   fhcl-RUN-k   eth0 198.18.60.20, the clients
#
# Logs (daemons, redis, bench reports) go to BUILD/meson-logs/cluster/TEST-RUN, printed at the
# start; on a failure the tail of each is printed too. Every wait is bounded.
#
# Usage in a test:  . "$(dirname "$0")/env.sh"; cl_init NAME "$@"; cl_up; ... ; cl_pass

CL_NODES="a b c"
CL_NET=198.18.60
CL_PORT=8443

cl_log() { printf '%s [%s] %s\n' "$(date +%T.%3N)" "$CL_NAME" "$*"; }
cl_skip() {
	echo "SKIP: $*"
	exit 77
}
# A fatal failure: the test ends here (the trap cleans up and prints the logs' tails).
cl_fail() {
	echo "FAIL: $*"
	CL_FAILED=1
	exit 1
}
# A failed check that lets the test go on to the next one.
cl_check_fail() {
	echo "FAIL: $*"
	CL_FAILED=1
}
cl_pass() {
	if [ "${CL_FAILED:-0}" = 1 ]; then
		echo "FAILED: $CL_NAME (logs in $CL_LOG)"
		exit 1
	fi
	echo "PASS: $CL_NAME (logs in $CL_LOG)"
	exit 0
}

# cl_init NAME BUILD_DIR SOURCE_DIR: checks what the test needs (skips, saying why, when a tool
# or root is missing), picks the run's suffix and folders, sets the trap.
cl_init() {
	local b t
	CL_NAME=$1
	CL_BUILD=$(realpath "$2")
	CL_SRC=$(realpath "$3")
	[ "$(id -u)" = 0 ] || cl_skip "the cluster tests need root (ip netns, veth, a bridge)"
	for t in ip redis-server redis-cli curl jq openssl timeout; do
		command -v $t >/dev/null || cl_skip "$t is missing (scripts/deps.sh test installs it)"
	done
	for b in dataplane/funkhaus-dp controlplane/funkhaus-cp bench/funkhaus-bench bench/fh-join; do
		[ -x "$CL_BUILD/$b" ] || cl_fail "$CL_BUILD/$b is not built"
	done
	CL_RUN=$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
	CL_TMP=$(mktemp -d "/tmp/fhcl-$CL_RUN-XXXXXX")
	CL_LOG=$CL_BUILD/meson-logs/cluster/$CL_NAME-$CL_RUN
	# the logs of this test's earlier runs go; this run's stay for reading
	rm -rf "$CL_BUILD/meson-logs/cluster/$CL_NAME"-*
	mkdir -p "$CL_LOG"
	CL_FAILED=0
	CL_PIDS=()
	trap cl_cleanup EXIT
	trap 'exit 1' INT TERM
	cl_log "run $CL_RUN: logs in $CL_LOG, state in $CL_TMP"
}

cl_ns() { echo "fhcl-$CL_RUN-$1"; }
cl_ip() {
	case $1 in
	r) echo $CL_NET.1 ;;
	a) echo $CL_NET.11 ;;
	b) echo $CL_NET.12 ;;
	c) echo $CL_NET.13 ;;
	k) echo $CL_NET.20 ;;
	*) echo "$CL_NET.$((30 + $(printf '%d' "'$1") - 97))" ;;
	esac
}
cl_url() { echo "https://$(cl_ip "$1"):$CL_PORT"; }
# Runs a command inside namespace $1.
cl_in() {
	local ns
	ns=$(cl_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

cl_cleanup() {
	local rc=$? f n p # $? first: the status the test exits with
	set +e
	disown -a 2>/dev/null # what is killed here is not reported as "Killed" jobs
	for p in "${CL_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for n in r $CL_NODES k; do
		local ns
		ns=$(cl_ns $n)
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
	done
	sleep 0.2
	for n in r $CL_NODES k; do ip netns del "$(cl_ns $n)" 2>/dev/null; done
	rm -f /dev/shm/funkhaus-cl"$CL_RUN"*
	if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		for f in "$CL_LOG"/*.log; do
			[ -s "$f" ] || continue
			echo "--- tail of $f ---"
			tail -n 25 "$f"
		done
		echo "logs in $CL_LOG"
	fi
	rm -rf "$CL_TMP"
	exit $rc
}

# The namespaces, the bridge and the veths.
cl_net() {
	local n
	local br
	br=$(cl_ns r)
	ip netns add "$br" || cl_fail "cannot make namespace $br"
	cl_in r ip link set lo up
	cl_in r ip link add br0 type bridge
	cl_in r ip addr add "$(cl_ip r)/24" dev br0
	cl_in r ip link set br0 up
	for n in $CL_NODES k; do
		local ns
		ns=$(cl_ns $n)
		ip netns add "$ns" || cl_fail "cannot make namespace $ns"
		cl_in $n ip link set lo up
		ip link add eth0 netns "$ns" type veth peer name "v$n" netns "$br" ||
			cl_fail "cannot make the veth of $n"
		cl_in r ip link set "v$n" master br0
		cl_in r ip link set "v$n" up
		cl_in $n ip addr add "$(cl_ip $n)/24" dev eth0
		cl_in $n ip link set eth0 up
	done
	# Chromium gathers no ICE candidate where no default route names an interface: the
	# clients' one points at the bridge, which leads nowhere else (nothing leaves the test)
	cl_in k ip route add default via "$(cl_ip r)"
	# the bridge forwards once its ports are up (no STP): every node reaches redis
	cl_wait 10 "node a reaches the bridge" cl_in a ping -c1 -W1 -q "$(cl_ip r)" >/dev/null
}

# cl_wait SECONDS WHAT COMMAND...: runs COMMAND every 0.2 s until it succeeds; 1 (and a line
# saying what did not happen) when SECONDS pass first.
cl_wait() {
	local secs=$1 what=$2 end
	shift 2
	end=$(($(date +%s%N) + secs * 1000000000))
	while [ "$(date +%s%N)" -lt $end ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	cl_log "not within $secs s: $what"
	return 1
}

# ---- Redis ----

cl_redis_conf() {
	mkdir -p "$CL_TMP/redis"
	# the password: random, in a file the nodes read (password_file) and redis-cli gets
	# through its environment (REDISCLI_AUTH), never on a command line
	[ -s "$CL_TMP/redis.pass" ] || (umask 077 && openssl rand -hex 24 >"$CL_TMP/redis.pass")
	[ -s "$CL_TMP/cluster.secret" ] || (umask 077 && openssl rand -hex 32 >"$CL_TMP/cluster.secret")
	(
		umask 077
		cat >"$CL_TMP/redis.conf" <<-EOF
			bind $(cl_ip r)
			port 6379
			protected-mode no
			requirepass $(cat "$CL_TMP/redis.pass")
			appendonly yes
			appendfsync everysec
			save ""
			dir $CL_TMP/redis
			daemonize no
			logfile $CL_LOG/redis.log
		EOF
	)
}

cl_redis_start() {
	[ -f "$CL_TMP/redis.conf" ] || cl_redis_conf
	# not through cl_in (a function: & would fork a shell): $! is then redis-server itself
	ip netns exec "$(cl_ns r)" redis-server "$CL_TMP/redis.conf" &
	CL_REDIS_PID=$!
	CL_PIDS+=("$CL_REDIS_PID")
	cl_wait 10 "redis answers PING" cl_redis_ping || cl_fail "redis-server did not start"
	cl_log "redis up (pid $CL_REDIS_PID)"
}
cl_redis_ping() { [ "$(cl_redis PING)" = PONG ]; }
# Stops redis at once (SIGKILL: a crash; what appendonly saved within the last second stays).
cl_redis_kill() {
	[ -n "${CL_REDIS_PID:-}" ] && kill -9 "$CL_REDIS_PID" 2>/dev/null
	wait "$CL_REDIS_PID" 2>/dev/null
	CL_REDIS_PID=
	cl_log "redis killed"
}
# redis-cli against the test's redis, from the client namespace.
cl_redis() {
	REDISCLI_AUTH=$(cat "$CL_TMP/redis.pass") ip netns exec "$(cl_ns k)" \
		redis-cli -h "$(cl_ip r)" -p 6379 "$@"
}

# ---- nodes ----

# The admin token of this run, and its line for [api].
cl_token() {
	[ -s "$CL_TMP/admin.token" ] || (umask 077 && openssl rand -hex 24 >"$CL_TMP/admin.token")
	cat "$CL_TMP/admin.token"
}

# cl_conf NODE [EXTRA_FILE]: writes the node's configuration (every node: one tenant "test",
# the same redis, secret and prefix; its own instance name, address, state and node id).
# CL_CAPACITY (default 500) and CL_EXTRA_CLUSTER (lines for [cluster]) are read here.
# Every join of a test comes from the one client address, so the per-source limits are raised
# far above what a test does (wrong passwords too: password.sh guesses wrong five times within a
# minute, on one node when placement puts both its rooms there; the guess limits have unit tests).
cl_conf() {
	local n=$1 d=$CL_TMP/$1 ip
	ip=$(cl_ip "$n")
	mkdir -p "$d/state"
	[ -s "$CL_TMP/tls/cert.pem" ] ||
		"$CL_SRC/scripts/gen-cert.sh" "$CL_TMP/tls" >/dev/null || cl_fail "gen-cert.sh failed"
	local hash
	hash=$(printf '%s' "$(cl_token)" | openssl dgst -sha256 -r | cut -d' ' -f1)
	cat >"$d/funkhaus.conf" <<-EOF
		[instance]
		name = cl$CL_RUN$n
		[dataplane]
		workers = 1
		base_port = 40000
		bind = $ip
		consent_timeout = 10
		[controlplane]
		port = $CL_PORT
		bind = $ip
		tls_cert = $CL_TMP/tls/cert.pem
		tls_key = $CL_TMP/tls/key.pem
		web_root = $CL_SRC/controlplane/web
		announce = $ip
		signalling_rate = 50
		state_dir = $d/state
		drain_grace = 600
		[limits]
		connections_per_source = 2000
		websockets_per_source = 2000
		participants_per_source = 2000
		rooms_per_source_per_minute = 2000
		wrong_passwords_per_source = 100
		[api]
		token = tests * $hash
		[tenant]
		name = test
		display_name = Funkhaus cluster test
		[cluster]
		redis = $(cl_ip r):6379
		password_file = $CL_TMP/redis.pass
		secret_file = $CL_TMP/cluster.secret
		prefix = funkhaus:
		name = test
		node = $n
		url = https://$ip:$CL_PORT
		region = default
		pools = default
		capacity = ${CL_CAPACITY:-500}
		${CL_EXTRA_CLUSTER:-}
	EOF
	[ -n "${2:-}" ] && cat "$2" >>"$d/funkhaus.conf"
	return 0
}

# cl_start NODE: funkhaus-dp, then funkhaus-cp, inside the node's namespace; back once
# /readyz answers 200 (a live dataplane attached, not draining).
cl_start() {
	local n=$1 d=$CL_TMP/$1
	[ -f "$d/funkhaus.conf" ] || cl_conf "$n"
	rm -f "/dev/shm/funkhaus-cl$CL_RUN$n"
	# ip netns exec execs the daemon: $! is its pid
	ip netns exec "$(cl_ns "$n")" "$CL_BUILD/dataplane/funkhaus-dp" -c "$d/funkhaus.conf" \
		>>"$CL_LOG/dp-$n.log" 2>&1 &
	eval "CL_DP_$n=$!"
	CL_PIDS+=($!)
	cl_wait 15 "funkhaus-dp of $n makes its region" test -e "/dev/shm/funkhaus-cl$CL_RUN$n" ||
		cl_fail "funkhaus-dp of node $n did not start (see $CL_LOG/dp-$n.log)"
	ip netns exec "$(cl_ns "$n")" "$CL_BUILD/controlplane/funkhaus-cp" -c "$d/funkhaus.conf" \
		>>"$CL_LOG/cp-$n.log" 2>&1 &
	eval "CL_CP_$n=$!"
	CL_PIDS+=($!)
	cl_wait 20 "node $n /readyz" cl_ready "$n" ||
		cl_fail "node $n is not ready (see $CL_LOG/cp-$n.log)"
	cl_log "node $n up at $(cl_url "$n") (dp $(cl_pid dp "$n"), cp $(cl_pid cp "$n"))"
}
cl_pid() { eval "echo \${CL_$(echo "$1" | tr a-z A-Z)_$2:-}"; }
cl_ready() {
	[ "$(cl_in k curl -sk -o /dev/null -m 2 -w '%{http_code}' "$(cl_url "$1")/readyz")" = 200 ]
}
# Whether both daemons of a node still run.
cl_alive() {
	local dp cp
	dp=$(cl_pid dp "$1")
	cp=$(cl_pid cp "$1")
	[ -n "$dp" ] && [ -n "$cp" ] && kill -0 "$dp" 2>/dev/null && kill -0 "$cp" 2>/dev/null
}
# kill -9 of both daemons of a node: a machine that is gone.
cl_kill() {
	local dp cp
	dp=$(cl_pid dp "$1")
	cp=$(cl_pid cp "$1")
	kill -9 "$cp" "$dp" 2>/dev/null
	wait "$cp" "$dp" 2>/dev/null
	eval "CL_DP_$1= CL_CP_$1="
	cl_log "node $1 killed (kill -9 of funkhaus-cp $cp and funkhaus-dp $dp)"
}
# Both daemons stop at once (SIGINT), as scripts/run.sh stop does.
cl_stop() {
	local dp cp
	dp=$(cl_pid dp "$1")
	cp=$(cl_pid cp "$1")
	kill -INT "$cp" 2>/dev/null
	wait "$cp" 2>/dev/null
	kill -INT "$dp" 2>/dev/null
	wait "$dp" 2>/dev/null
	eval "CL_DP_$1= CL_CP_$1="
}

# cl_api NODE METHOD PATH [BODY]: the admin API with the run's token, from the client
# namespace; the body on stdout, the status in $CL_TMP/status; 0 for 2xx.
cl_api() {
	local n=$1 m=$2 p=$3 body=${4:-} code
	local args=(-sk -m 5 -X "$m" -H "Authorization: Bearer $(cl_token)" -o "$CL_TMP/api.out"
		-w '%{http_code}')
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' -d "$body")
	code=$(cl_in k curl "${args[@]}" "$(cl_url "$n")$p")
	echo "$code" >"$CL_TMP/status"
	cat "$CL_TMP/api.out" 2>/dev/null
	[ "${code:0:1}" = 2 ]
}
# How many live nodes GET /api/v1/cluster on NODE lists (with redis up); 0 on an error.
cl_cluster_nodes() {
	cl_api "$1" GET /api/v1/cluster | jq -r 'if .redis == "up" then (.nodes | length) else 0 end' 2>/dev/null || echo 0
}
cl_sees() { [ "$(cl_cluster_nodes "$1")" = "$2" ]; }
# Every node in $CL_UP lists N nodes.
cl_all_see() {
	local n
	local want=$1
	for n in ${CL_UP:-$CL_NODES}; do cl_sees "$n" "$want" || return 1; done
}

# Everything up: network, redis, the three nodes; back once each node lists all three.
cl_up() {
	local n
	cl_net
	cl_redis_start
	for n in $CL_NODES; do cl_start $n; done
	CL_UP=$CL_NODES
	cl_wait 20 "every node lists 3 nodes" cl_all_see 3 ||
		cl_fail "the nodes do not see each other: $(cl_api a GET /api/v1/cluster)"
	cl_log "cluster up: 3 nodes see each other"
}

# cl_join ARGS...: fh-join from the client namespace (-H NODE is a node letter or an
# address); prints its JSON line. Bounded by its own -t and -d, and by timeout here.
cl_join() {
	local args=() a
	while [ $# -gt 0 ]; do
		a=$1
		shift
		if [ "$a" = -H ] && [ ${#1} = 1 ]; then
			args+=(-H "$(cl_ip "$1"):$CL_PORT")
			shift
		else
			args+=("$a")
		fi
	done
	timeout 120 ip netns exec "$(cl_ns k)" "$CL_BUILD/bench/fh-join" "${args[@]}" 2>>"$CL_LOG/fh-join.log"
	local rc=$?
	[ $rc = 124 ] && echo '{"ok":false,"hung":true}'
	return $rc
}
# The node letter (a, b, c) a fh-join line says its media ended on.
cl_node_of() {
	local n
	local w
	w=$(jq -r '.where // ""' <<<"$1" | cut -d: -f1)
	for n in $CL_NODES; do [ "$w" = "$(cl_ip $n)" ] && echo $n && return 0; done
	echo "?"
}

# cl_bench NAME ARGS...: funkhaus-bench from the client namespace, its report in
# $CL_LOG/NAME.json, its output in NAME.txt and NAME.err; returns its exit status.
cl_bench() {
	local name=$1
	shift
	cl_in k "$CL_BUILD/bench/funkhaus-bench" "$@" -o "$CL_LOG/$name.json" \
		>"$CL_LOG/$name.txt" 2>"$CL_LOG/$name.err"
}
cl_entries() {
	local n
	local e=
	for n in ${1:-$CL_NODES}; do e="$e${e:+,}$(cl_ip $n):$CL_PORT"; done
	echo "$e"
}

# The node letter an entry "HOST:PORT" of a bench report is.
cl_letter() {
	local n
	for n in $CL_NODES; do [ "${1%:*}" = "$(cl_ip $n)" ] && echo $n && return 0; done
	echo "?"
}

# cl_join_bg FILE ARGS...: cl_join in the background, its JSON line into FILE; cl_bg_wait
# [FILE...] waits for those (none named: all of them); each is bounded by its own -d and -t,
# and by cl_join's timeout.
declare -A CL_BG=()
cl_join_bg() {
	local f=$1
	shift
	cl_join "$@" >"$f" &
	CL_BG[$f]=$!
}
cl_bg_wait() {
	local f
	local fs=("$@")
	[ ${#fs[@]} = 0 ] && fs=("${!CL_BG[@]}")
	for f in "${fs[@]}"; do
		[ -n "${CL_BG[$f]:-}" ] || continue
		wait "${CL_BG[$f]}"
		unset "CL_BG[$f]"
	done
}

# The node letter that holds room key $1 now (GET .../tenants/test/rooms on each node lists
# the rooms it holds), with at least $2 participants; none: "".
cl_holder() {
	local n
	for n in ${CL_UP:-$CL_NODES}; do
		if cl_api "$n" GET /api/v1/tenants/test/rooms 2>/dev/null |
			jq -e --arg r "$1" --argjson p "${2:-1}" \
				'any(.[]; .name == $r and .participants >= $p)' >/dev/null 2>&1; then
			echo "$n"
			return 0
		fi
	done
	return 1
}
cl_held_by() { [ "$(cl_holder "$2" "${3:-1}")" = "$1" ]; }
cl_held() { cl_holder "$@" >/dev/null; }
cl_not_held() { ! cl_holder "$@" >/dev/null; }
# Whether node $1's GET /api/v1/cluster shows node $2 with draining $3 (true or false).
cl_shows_draining() {
	cl_api "$1" GET /api/v1/cluster | jq -e --arg id "$2" --argjson d "$3" \
		'any(.nodes[]; .id == $id and .draining == $d)' >/dev/null 2>&1
}
cl_all_show_draining() {
	local n
	for n in ${CL_UP:-$CL_NODES}; do cl_shows_draining "$n" "$1" "$2" || return 1; done
}
# A check on a fh-join line: cl_expect LINE JQ_EXPR WHAT.
cl_expect() {
	jq -e "$2" <<<"$1" >/dev/null 2>&1 || cl_check_fail "$3: $1"
}
# cl_kept_call NAME...: the background joins $CL_TMP/NAME (cl_join_bg), ended, kept their call
# with signalling, received media until the end, with no gap over 2 s.
cl_kept_call() {
	local h j
	for h in "$@"; do
		j=$(cat "$CL_TMP/$h")
		cl_log "$h: $j"
		cl_expect "$j" '.ok and .from >= 1 and .signalling' "$h kept its call"
		cl_expect "$j" '.last_rx_age_ms >= 0 and .last_rx_age_ms < 1500' "$h's media flowed until the end"
		cl_expect "$j" '.max_gap_ms < 2000' "$h's media had no gap over 2 s"
	done
}
# Whether node $1 says its redis is $2 (up or down).
cl_redis_is() { [ "$(cl_api "$1" GET /api/v1/cluster | jq -r .redis 2>/dev/null)" = "$2" ]; }
cl_all_redis_is() {
	local n
	for n in ${CL_UP:-$CL_NODES}; do cl_redis_is "$n" "$1" || return 1; done
}
# The value of a /metrics sample of node $1 whose line starts with $2 (first match); "" none.
cl_metric() {
	cl_api "$1" GET /metrics | awk -v k="$2" 'index($0, k) == 1 { print $NF; exit }'
}
# Whether GET /api/v1/cluster/rooms on node a lists $1 rooms.
cl_claims() { [ "$(cl_api a GET /api/v1/cluster/rooms | jq length 2>/dev/null)" = "$1" ]; }
# Whether the key $1 is absent from redis.
cl_no_key() { [ "$(cl_redis EXISTS "$1")" = 0 ]; }
