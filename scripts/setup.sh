#!/bin/bash
# README's first command: installs what Funkhaus needs, builds it, makes a self-signed TLS
# certificate for local use and starts both daemons on the embedded default (socket backend,
# the demo tenant, web client on https://localhost:8443).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/deps.sh build
[ -d build ] || meson setup build --buildtype=release
ninja -C build
if [ "$(id -u)" = 0 ]; then state=/var/lib/funkhaus; else state=${XDG_STATE_HOME:-$HOME/.local/state}/funkhaus; fi
mkdir -p "$state"
scripts/gen-cert.sh "$state/tls" "$(hostname)"
# The running configuration: the example, with this machine's paths.
sed -e "s|^tls_cert = .*|tls_cert = $state/tls/cert.pem|" \
    -e "s|^tls_key = .*|tls_key = $state/tls/key.pem|" \
    -e "s|^web_root = .*|web_root = $top/controlplane/web|" \
    -e "s|^state_dir = .*|state_dir = $state/db|" \
    conf/funkhaus.conf >"$state/funkhaus.conf"
scripts/run.sh stop "$state/funkhaus.conf" >/dev/null
scripts/run.sh start "$state/funkhaus.conf"
echo "Open https://localhost:8443/KulturvereinMarion in two browser windows (accept the self-signed certificate)."
echo "Stop with: scripts/run.sh stop $state/funkhaus.conf"
