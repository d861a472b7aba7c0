#!/bin/sh
# Hands a NIC to DPDK (vfio-pci) or back to its kernel driver, with Debian's dpdk-devbind.py.
# Usage: nic-bind.sh status
#        nic-bind.sh bind PCI_ADDRESS          (the NIC must be down and carry no route you need)
#        nic-bind.sh unbind PCI_ADDRESS DRIVER (for example ixgbe, i40e, mlx5_core)
set -eu
command -v dpdk-devbind.py >/dev/null || { echo "install Debian's dpdk package first" >&2; exit 1; }
case ${1:-status} in
status)
	dpdk-devbind.py --status-dev net
	;;
bind)
	pci=${2:?PCI address}
	modprobe vfio-pci
	dpdk-devbind.py --bind=vfio-pci "$pci"
	dpdk-devbind.py --status-dev net
	;;
unbind)
	pci=${2:?PCI address}; drv=${3:?kernel driver}
	dpdk-devbind.py --bind="$drv" "$pci"
	dpdk-devbind.py --status-dev net
	;;
*)
	echo "usage: nic-bind.sh status | bind PCI | unbind PCI DRIVER" >&2
	exit 2
	;;
esac
