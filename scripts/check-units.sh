#!/bin/sh
# Checks the systemd units in conf/systemd with systemd-analyze, pointed at this build's
# binaries (the units name /usr/local/bin, where "meson install" puts them).
# Usage: check-units.sh BUILD_DIR
set -eu
build=$(realpath "$1")
top=$(cd "$(dirname "$0")/.." && pwd)
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze is not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for u in "$top"/conf/systemd/*.service; do
	sed -e "s|/usr/local/bin/funkhaus-dp|$build/dataplane/funkhaus-dp|" \
	    -e "s|/usr/local/bin/funkhaus-cp|$build/controlplane/funkhaus-cp|" "$u" >"$tmp/$(basename "$u")"
done
out=$(cd "$tmp" && systemd-analyze verify --man=no "$tmp"/*.service 2>&1 || true)
if [ -n "$out" ]; then echo "$out"; exit 1; fi
echo "units ok: $(cd "$tmp" && ls)"
