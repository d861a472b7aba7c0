#!/bin/bash
# Starts Janus (Debian package "janus") with its VideoRoom plugin as the reference SFU for
# funkhaus-bench's side-by-side runs: secure WebSockets on WSS_PORT with Funkhaus' test
# certificate, ICE-lite (as Funkhaus) on ADDRESS only, media ports from 20000, every other
# plugin, transport and event handler off, logging at warnings. It runs in the foreground;
# run it inside the network namespace the caller made (bench/compare-janus.sh does).
#
# Usage: bench/janus.sh DIR ADDRESS WSS_PORT CERT KEY
#   DIR       an empty directory for the generated configuration and the log
#   ADDRESS   the one IPv4 address Janus gathers candidates on (e.g. 10.77.0.1)
set -eu
if [ $# -ne 5 ]; then
	echo "usage: bench/janus.sh DIR ADDRESS WSS_PORT CERT KEY" >&2
	exit 2
fi
dir=$1 addr=$2 port=$3 cert=$4 key=$5
command -v janus >/dev/null || {
	echo "janus is not installed (scripts/deps.sh bench installs it)" >&2
	exit 1
}
lib=$(dirname "$(dpkg -L janus | grep '/plugins/libjanus_videoroom.so$' | head -1)")
mkdir -p "$dir/conf"
cat >"$dir/conf/janus.jcfg" <<EOF
general: {
	configs_folder = "$dir/conf"
	plugins_folder = "$lib"
	transports_folder = "$(dirname "$lib")/transports"
	events_folder = "$(dirname "$lib")/events"
	loggers_folder = "$(dirname "$lib")/loggers"
	debug_level = ${JANUS_DEBUG:-3}
	interface = "$addr"
	session_timeout = 60
}
certificates: {
	cert_pem = "$cert"
	cert_key = "$key"
}
media: {
	rtp_port_range = "20000-40000"
	nack_queue = 500
}
nat: {
	ice_lite = true
	ice_enforce_list = "$addr"
}
plugins: {
	disable = "libjanus_audiobridge.so,libjanus_duktape.so,libjanus_echotest.so,libjanus_lua.so,libjanus_nosip.so,libjanus_recordplay.so,libjanus_sip.so,libjanus_streaming.so,libjanus_textroom.so,libjanus_videocall.so,libjanus_voicemail.so"
}
transports: {
	disable = "libjanus_http.so,libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_pfunix.so,libjanus_rabbitmq.so"
}
loggers: {
	disable = "libjanus_jsonlog.so"
}
events: {
	broadcast = false
}
EOF
cat >"$dir/conf/janus.transport.websockets.jcfg" <<EOF
general: {
	json = "compact"
	ws = false
	wss = true
	wss_port = $port
	wss_ip = "$addr"
}
certificates: {
	cert_pem = "$cert"
	cert_key = "$key"
}
EOF
cat >"$dir/conf/janus.plugin.videoroom.jcfg" <<EOF
general: {
	string_ids = false
}
EOF
exec janus --configs-folder="$dir/conf" --config="$dir/conf/janus.jcfg" --disable-colors \
	--log-stdout
