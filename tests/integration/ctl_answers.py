#!/usr/bin/env python3
"""funkhausctl against answers no Funkhaus gives: a fake admin API on loopback (TLS with a
certificate of scripts/gen-cert.sh) answers the cluster commands with good tables, no JSON,
the wrong types, errors without a message, huge strings and terminal escapes. Every run must
end with a clear exit status (0 where the answer is usable, 1 where it is not; never a crash
or a sanitizer's abort) and print no control character a server sent.

    tests/integration/ctl_answers.py FUNKHAUSCTL SOURCE_DIR
"""
import http.server, json, os, ssl, subprocess, sys, tempfile, threading

ctl, src = sys.argv[1], sys.argv[2]
tmp = tempfile.mkdtemp(prefix='funkhaus-ctl-')
subprocess.run([os.path.join(src, 'scripts', 'gen-cert.sh'), os.path.join(tmp, 'tls')],
               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
ESC = '\u001b[31m'
NODE = {"id": "a", "url": "https://192.0.2.11:8443", "region": "default", "pools": ["default"],
        "capacity": 500, "rooms": 3, "participants": 41, "draining": False, "age_ms": 812, "self": True}
MODES = {  # mode: (cluster, cluster/rooms, node) as (status, body bytes)
    'good': (json.dumps({"enabled": True, "cluster": "k", "node": "a", "redis": "up", "claims_held": 1,
                         "nodes": [NODE, dict(NODE, id="b" + ESC, url="https://x" + ESC, self=False, draining=True)]}),
             json.dumps([{"tenant": "t" + ESC, "room": "0123456789abcdef0123456789abcdef", "node": "a", "self": True}]),
             json.dumps({"instance": "x", "draining": True, "rooms": 0, "participants": 0, "workers": []})),
    'alone': ('{"enabled":false}', '[]', '{"rooms":0}'),
    'garbage': ('<html>', '<html>', '<html>'),
    'types': ('{"enabled":true,"node":7,"nodes":{"x":1}}', '{"a":1}', '[1,2]'),
    'types2': ('{"enabled":true,"nodes":[1,"x",null,{"id":["a"],"pools":"p","capacity":"9","age_ms":1e300}]}',
               '[1,null,{"tenant":{}}]', '{"rooms":"zero"}'),
    'huge': (json.dumps({"enabled": True, "node": "a" * 5000, "nodes": [{"id": "x" * 3000, "url": "u" * 3000,
                                                                        "pools": ["p" * 100] * 200}]}),
             json.dumps([{"tenant": "t" * 9000}] * 50), '{"rooms":2}'),
    'error': ('{"error":{"status":500}}', '{"error":{"message":"' + ESC + '"}}', '{"error":{}}'),
}
mode = ['good']


class Fake(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self):
        c, r, n = MODES[mode[0]]
        body = {'/api/v1/cluster': c, '/api/v1/cluster/rooms': r}.get(self.path, n)
        st = 500 if mode[0] == 'error' else 200
        data = body.encode()
        self.send_response(st)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_GET = do_POST = answer


srv = http.server.HTTPServer(('127.0.0.1', 0), Fake)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.path.join(tmp, 'tls', 'cert.pem'), os.path.join(tmp, 'tls', 'key.pem'))
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
threading.Thread(target=srv.serve_forever, daemon=True).start()
url = 'https://127.0.0.1:%d' % srv.server_address[1]
env = dict(os.environ, FUNKHAUS_TOKEN='x', ASAN_OPTIONS='detect_leaks=1:abort_on_error=1')
# exit statuses wanted per mode: nodes, cluster-rooms, drain --wait 1
WANT = {'good': (0, 0, 0), 'alone': (0, 0, 0), 'garbage': (1, 1, 1), 'types': (0, 1, 1),
        'types2': (0, 0, 1), 'huge': (0, 0, 1), 'error': (1, 1, 1)}
failed = 0
for m, want in WANT.items():
    mode[0] = m
    for cmd, w in zip((['nodes'], ['cluster-rooms'], ['drain', '--wait', '1']), want):
        p = subprocess.run([ctl, '-k', '-u', url] + cmd, env=env, capture_output=True, text=True,
                           timeout=30, errors='replace')
        out = p.stdout + p.stderr
        bad = [ch for ch in out if ord(ch) < 0x20 and ch not in '\n']
        ok = p.returncode == w and not bad
        failed += not ok
        print('%s: %s %s: exit %d (want %d)%s' % ('ok' if ok else 'FAIL', m, ' '.join(cmd),
              p.returncode, w, ', control characters in the output' if bad else ''))
        if not ok:
            print(out[-2000:])
sys.exit(1 if failed else 0)
