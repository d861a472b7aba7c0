// Browser test of TURN: coturn (Debian's) on loopback with a shared secret, funkhaus-cp
// handing out short-lived credentials for it, and two pages that may only use relay
// candidates (#ice=relay): both decode each other's video and audio, their selected candidate
// pairs are relayed, and coturn saw their allocations.
import { spawn } from 'node:child_process';
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startFunkhaus, launchBrowser, openPage, waitReceives, sleep, fail, foreign } from './lib.mjs';

const turnserver = '/usr/bin/turnserver';
if (!existsSync(turnserver)) {
  console.log('SKIP: coturn is not installed (scripts/deps.sh test installs it)');
  process.exit(77);
}
const build = process.env.FUNKHAUS_BUILD;
const source = process.env.FUNKHAUS_SOURCE;
const secret = 'turn-secret-for-the-browser-test-0123456789';
const fh = await startFunkhaus({ build, source,
  extraConf: '[turn]\nsecret_file = @DIR@/turn.secret\n' +
    'urls = turn:127.0.0.1:3478?transport=udp, turn:127.0.0.1:3478?transport=tcp\nttl = 600\n',
  before: (dir) => writeFileSync(join(dir, 'turn.secret'), `${secret}\n`, { mode: 0o600 }) });
const turnLog = join(fh.dir, 'turn.log');
const turn = spawn(turnserver, ['-n', '--listening-ip=127.0.0.1', '--listening-port=3478',
  '--relay-ip=127.0.0.1', '--min-port=49160', '--max-port=49260', '--use-auth-secret',
  `--static-auth-secret=${secret}`, '--realm=funkhaus.test', '--allow-loopback-peers',
  '--no-cli', '--no-tls', '--no-dtls', '--no-software-attribute', `--log-file=${turnLog}`,
  '--simple-log', '--verbose'], { stdio: 'ignore' });
await sleep(800);
const browser = await launchBrowser();
let ok = false;
try {
  if (turn.exitCode !== null) fail(`turnserver exited with ${turn.exitCode}`);
  const t0 = Date.now();
  const a = await openPage(browser, fh.url, 'HinterDerFirewall', 'Anna', '&ice=relay');
  const b = await openPage(browser, fh.url, 'HinterDerFirewall', 'Bernd', '&ice=relay');
  await waitReceives(a, ['Bernd'], 15000, 'Anna');
  await waitReceives(b, ['Anna'], 15000, 'Bernd');
  console.log(`relay only: both decode each other after ${Date.now() - t0} ms`);
  for (const [p, who] of [[a, 'Anna'], [b, 'Bernd']]) {
    const path = await p.evaluate(async () => {
      const st = await window.funkhaus.state.pc.getStats();
      let pair = null;
      st.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = st.get(s.selectedCandidatePairId); });
      const local = pair && st.get(pair.localCandidateId);
      const servers = window.funkhaus.state.iceServers;
      return { local: local && local.candidateType, relay: local && local.relayProtocol,
        user: servers[0] && servers[0].username };
    });
    if (path.local !== 'relay') fail(`${who}'s media does not go through TURN: ${JSON.stringify(path)}`);
    if (!/^\d+:[0-9a-f]{8}$/.test(path.user || '')) fail(`${who}'s TURN username is not expiry:pseudonym: ${path.user}`);
    console.log(`${who}: selected pair is relayed (${path.relay}), TURN user ${path.user}`);
  }
  const log = readFileSync(turnLog, 'utf8');
  const allocs = (log.match(/ALLOCATE processed, success/g) || []).length;
  if (allocs < 2) fail(`coturn logged ${allocs} successful allocations`);
  console.log(`coturn: ${allocs} successful allocations`);
  if (foreign.length) fail(`requests to other origins: ${foreign.join(', ')}`);
  ok = true;
} finally {
  await browser.close();
  turn.kill('SIGTERM');
  await fh.stop();
  if (!ok) {
    fh.dumpLogs();
    try { console.error(readFileSync(turnLog, 'utf8').split('\n').slice(-40).join('\n')); } catch (e) { /* none */ }
  }
}
console.log(ok ? 'PASS' : 'FAIL');
process.exit(ok ? 0 : 1);
