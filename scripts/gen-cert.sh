#!/bin/sh
# Makes a self-signed TLS certificate for local runs (ECDSA P-256, 825 days) unless one exists.
# Usage: scripts/gen-cert.sh DIR [HOSTNAME...]
set -eu
dir=${1:?usage: gen-cert.sh DIR [HOSTNAME...]}
shift || true
[ -s "$dir/cert.pem" ] && [ -s "$dir/key.pem" ] && exit 0
mkdir -p "$dir"
umask 077
san="DNS:localhost,IP:127.0.0.1,IP:::1"
for h in "$@"; do san="$san,DNS:$h"; done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
	-subj "/CN=localhost" -addext "subjectAltName=$san" \
	-keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
echo "funkhaus: made a self-signed certificate in $dir"
