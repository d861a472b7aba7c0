#!/bin/bash
# Starts, stops or shows both Funkhaus daemons in the background with one configuration.
# Usage: run.sh start|stop|status CONFIG [BUILD_DIR]
# Logs and pid files go to the directory of CONFIG (log/, run/).
set -euo pipefail
cmd=${1:?usage: run.sh start|stop|status CONFIG [BUILD_DIR]}
conf=$(realpath "${2:?usage: run.sh start|stop|status CONFIG [BUILD_DIR]}")
top=$(cd "$(dirname "$0")/.." && pwd)
build=${3:-$top/build}
state=$(dirname "$conf")
mkdir -p "$state/log" "$state/run"
port=$(awk -F= '/^\[/{s=$0} s=="[controlplane]" && $1~/^ *port *$/{gsub(/ /,"",$2); print $2}' "$conf")
port=${port:-8443}

running() { [ -f "$state/run/$1.pid" ] && kill -0 "$(cat "$state/run/$1.pid")" 2>/dev/null; }

stop_one() {
	if running "$1"; then
		# both stop at once (SIGTERM would make funkhaus-cp drain first; systemd does that)
		kill -INT "$(cat "$state/run/$1.pid")"
		for _ in $(seq 50); do running "$1" || break; sleep 0.1; done
	fi
	rm -f "$state/run/$1.pid"
}

case $cmd in
start)
	for d in dp cp; do
		if running $d; then echo "funkhaus-$d is already running"; continue; fi
		dir=dataplane; [ $d = cp ] && dir=controlplane
		nohup "$build/$dir/funkhaus-$d" -c "$conf" >>"$state/log/$d.log" 2>&1 &
		echo $! >"$state/run/$d.pid"
		sleep 0.5
		running $d || { echo "funkhaus-$d did not start; see $state/log/$d.log" >&2; tail -5 "$state/log/$d.log" >&2; exit 1; }
	done
	for _ in $(seq 50); do
		if curl -skf "https://localhost:$port/healthz" | grep -q '"dataplane":true'; then
			echo "Funkhaus is running: https://localhost:$port/ (logs in $state/log)"
			exit 0
		fi
		sleep 0.2
	done
	echo "Funkhaus started but /healthz is not ready; see $state/log" >&2
	exit 1
	;;
stop)
	stop_one cp
	stop_one dp
	echo "Funkhaus stopped"
	;;
status)
	for d in dp cp; do running $d && echo "funkhaus-$d: running" || echo "funkhaus-$d: stopped"; done
	curl -sk "https://localhost:$port/healthz" || true
	;;
*)
	echo "usage: run.sh start|stop|status CONFIG [BUILD_DIR]" >&2
	exit 2
	;;
esac
