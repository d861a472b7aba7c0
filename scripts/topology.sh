#!/bin/sh
# Prints what matters for placing funkhaus-dp: NUMA nodes, physical cores and their hardware
# threads, and which node each NIC hangs off (hwloc), plus the hugepages reserved now.
set -eu
if command -v lstopo-no-graphics >/dev/null; then
	lstopo-no-graphics --no-io --of console
	lstopo-no-graphics --only osdev --of console 2>/dev/null || true
else
	lscpu --extended=CPU,NODE,SOCKET,CORE
fi
for d in /sys/class/net/*/device; do
	[ -e "$d" ] || continue
	n=$(basename "$(dirname "$d")")
	echo "NIC $n: PCI $(basename "$(readlink -f "$d")"), NUMA node $(cat "$d/numa_node" 2>/dev/null || echo ?)"
done
grep -E 'HugePages_(Total|Free)|Hugepagesize' /proc/meminfo
