#!/bin/bash
# The browser test of the cluster (tests/browser/cluster.test.mjs): three nodes and Redis as
# the other cluster tests have them, Chromium (playwright-core) in the clients' namespace.
# Usage: browser.sh BUILD_DIR SOURCE_DIR
set -u
. "$(dirname "$0")/env.sh"
here=$(realpath "$2")/tests/browser
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || cl_skip "chromium is not installed (scripts/deps.sh test)"
command -v node >/dev/null || cl_skip "node is not installed (scripts/deps.sh test)"
[ -d "$here/node_modules/playwright-core" ] ||
	{ echo "FAIL: run scripts/test.sh (installs playwright-core in tests/browser)"; exit 1; }
cl_init browser "$@"
cl_up
nodes="$(cl_url a),$(cl_url b)"
cd "$here" || cl_fail "no $here"
FUNKHAUS_NODES=$nodes FUNKHAUS_LOGDIR=$CL_LOG HOME=/tmp timeout 150 \
	ip netns exec "$(cl_ns k)" node "$here/cluster.test.mjs" 2>&1 | tee "$CL_LOG/browser.log"
[ "${PIPESTATUS[0]}" = 0 ] || cl_fail "the browser test failed"
cl_pass
