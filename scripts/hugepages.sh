#!/bin/sh
# Reserves hugepages for funkhaus-dp and mounts hugetlbfs on /dev/hugepages (dpdk-hugepages.py
# from Debian's dpdk package does the work). Usage: hugepages.sh SIZE   e.g. hugepages.sh 2G
# To keep them across reboots, put "vm.nr_hugepages = N" (2 MiB pages) in /etc/sysctl.d/.
set -eu
size=${1:?usage: hugepages.sh SIZE (for example 2G)}
command -v dpdk-hugepages.py >/dev/null || { echo "install Debian's dpdk package first" >&2; exit 1; }
# dpdk-hugepages.py mounts on /dev/hugepages but does not make it (systemd does on most hosts,
# not in every container), and it does not fail when the mount does
mkdir -p /dev/hugepages
dpdk-hugepages.py --setup "$size"
dpdk-hugepages.py --show
grep -q ' /dev/hugepages hugetlbfs ' /proc/mounts || { echo "hugetlbfs is not mounted on /dev/hugepages" >&2; exit 1; }
