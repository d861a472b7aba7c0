#!/bin/bash
# Runs the DPDK backend test in one of two set-ups, each in network namespaces made here:
#   af_packet: funkhaus-dp takes one end of a veth pair with net_af_packet (two queues, two
#              workers) in its own namespace; the other end is the client side.
#   af_xdp:    the same veth pair through net_af_xdp (AF_XDP sockets, one worker).
#   tap:       funkhaus-dp creates a net_tap device (one worker), which is then moved into
#              the client namespace.
#   memif:     funkhaus-dp's port is a net_memif (one worker); fh-nic ($FH_NIC, the NIC's
#              stand-in of bench/compare-janus.sh --nic memif) carries its frames to and from
#              the veth pair through net_af_packet; it must have carried frames both ways.
#   two_ports: two veth pairs, two media ports (net_af_packet0 and 1, two workers each with a
#              queue on both); the second port has 10.98.0.2 and fd98::2, the client side
#              10.98.0.1 and fd98::1 on its second link.
# The test, the control plane and the clients run in the client namespace, which has
# 10.99.0.1/24 and fd99::1/64; the SFU's media addresses are 10.99.0.2 and fd99::2.
# Usage: run.sh af_packet|af_xdp|memif|tap|two_ports COMMAND ARGS...   (the test program, or node with a browser test)
set -eu
mode=$1; shift
if [ "$(id -u)" != 0 ]; then echo "SKIP: the dpdk suite needs root (network namespaces)"; exit 77; fi
command -v ping >/dev/null || { echo "FAIL: ping is missing (scripts/deps.sh test installs it)"; exit 1; }
sfu=fhs$$; cli=fhc$$; vs=fhs$$v; vc=fhc$$v
work=$(mktemp -d)
cleanup() {
	for ns in $sfu $cli; do
		ip netns pids $ns 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del $ns 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
ip netns add $sfu
ip netns add $cli
ip netns exec $sfu ip link set lo up
ip netns exec $cli ip link set lo up
client_addr() {
	ip -n $cli addr add 10.99.0.1/24 dev "$1"
	ip -n $cli -6 addr add fd99::1/64 dev "$1" nodad
	ip -n $cli link set "$1" up
}
veth_pair() {
	ip link add $vs type veth peer name $vc
	ip link set $vs netns $sfu
	ip link set $vc netns $cli
	ip -n $sfu link set $vs up
	client_addr $vc
}
ports_conf=
announce=10.99.0.2
case $mode in
af_packet)
	veth_pair
	vdev="net_af_packet0,iface=$vs,qpairs=2"
	workers=2
	iface=$vc
	after=
	;;
af_xdp)
	veth_pair
	vdev="net_af_xdp0,iface=$vs,start_queue=0,queue_count=1"
	workers=1
	iface=$vc
	after=
	;;
memif)
	veth_pair
	[ -x "${FH_NIC:-}" ] || { echo "FAIL: FH_NIC (bench/fh-nic) is not set"; exit 1; }
	ip netns exec $sfu "$FH_NIC" "$work/memif.sock" $vs 200 >"$work/nic.json" 2>"$work/nic.log" &
	nic=$!
	for _ in $(seq 100); do grep -q 'carrying frames' "$work/nic.log" && break; sleep 0.1; done
	grep -q 'carrying frames' "$work/nic.log" || { cat "$work/nic.log"; echo "FAIL: fh-nic did not start"; exit 1; }
	vdev="net_memif0,role=client,socket=$work/memif.sock,socket-abstract=no"
	# fh-nic's net_af_packet holds fragments back for reassembly: none reach the worker
	export FUNKHAUS_TEST_FRAGMENTS=0
	workers=1
	iface=$vc
	after=
	;;
tap)
	vdev="net_tap0,iface=$vc"
	workers=1
	iface=$vc
	# funkhaus-dp creates the tap in its namespace; the client side takes it over
	cat >"$work/after.sh" <<AFTER
#!/bin/sh
set -e
ip -n $sfu link set $vc netns $cli
ip -n $cli addr add 10.99.0.1/24 dev $vc
ip -n $cli -6 addr add fd99::1/64 dev $vc nodad
ip -n $cli link set $vc up
AFTER
	chmod +x "$work/after.sh"
	after="$work/after.sh"
	;;
two_ports)
	veth_pair
	ip link add ${vs}2 type veth peer name ${vc}2
	ip link set ${vs}2 netns $sfu
	ip link set ${vc}2 netns $cli
	ip -n $sfu link set ${vs}2 up
	ip -n $cli addr add 10.98.0.1/24 dev ${vc}2
	ip -n $cli -6 addr add fd98::1/64 dev ${vc}2 nodad
	ip -n $cli link set ${vc}2 up
	vdev="net_af_packet0,iface=$vs,qpairs=2
vdev = net_af_packet1,iface=${vs}2,qpairs=2"
	ports_conf="
[port net_af_packet0]
ipv4 = 10.99.0.2/24
ipv6 = fd99::2/64
[port net_af_packet1]
ipv4 = 10.98.0.2/24
ipv6 = fd98::2/64"
	announce=10.99.0.2,10.98.0.2
	export FUNKHAUS_TEST_PORT2=10.98.0.2
	workers=2
	iface=$vc
	after=
	;;
*)
	echo "usage: run.sh af_packet|af_xdp|memif|tap|two_ports ..." >&2
	exit 2
	;;
esac
cat >"$work/dpdk.conf" <<CONF
[dataplane]
backend = dpdk
cores = float
[dpdk]
vdev = $vdev
memory = 512
hugepages = no
${ports_conf:-
ipv4 = 10.99.0.2/24
ipv6 = fd99::2/64}
CONF
export FUNKHAUS_DP_NETNS=$sfu FUNKHAUS_EXTRA_CONF=$work/dpdk.conf FUNKHAUS_ANNOUNCE=$announce \
	FUNKHAUS_TEST_IFACE=$iface FUNKHAUS_TEST_WORKERS=$workers FUNKHAUS_AFTER_DP="$after"
rc=0
timeout 170 ip netns exec $cli "$@" || rc=$?
if [ "$mode" = memif ]; then
	kill $nic 2>/dev/null || true
	wait $nic 2>/dev/null || true
	cat "$work/nic.json"
	grep -qE '"frames_to_wire": [1-9][0-9]*, "frames_to_worker": [1-9]' "$work/nic.json" ||
		{ echo "FAIL: fh-nic did not carry frames both ways"; exit 1; }
fi
exit $rc
