// Shared helpers of the browser tests: start both daemons with a private configuration and
// drive Debian's Chromium with playwright-core and its Firefox ESR with puppeteer-core (over
// WebDriver BiDi). Runs inside the network namespace run.sh made.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

// the test's own self-signed certificate, on loopback inside the test's namespace
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exitCode = 1;
  throw new Error(msg);
}

export async function startFunkhaus({ build, source, workers = 1, port = 8443, basePort = 40000, tenant = '', extraConf = '', before = null }) {
  const dir = mkdtempSync(join(tmpdir(), 'funkhaus-browser-'));
  const name = `b${process.pid}`;
  const conf = join(dir, 'funkhaus.conf');
  const gen = spawn(`${source}/scripts/gen-cert.sh`, [join(dir, 'tls')], { stdio: 'inherit' });
  await new Promise((r) => gen.on('exit', r));
  // The DPDK tests (tests/dpdk/run.sh) put funkhaus-dp in a namespace of its own, with its
  // NIC and addresses in FUNKHAUS_EXTRA_CONF, and announce the SFU's media address.
  if (before) before(dir);
  const more = extraConf.replaceAll('@DIR@', dir);
  // an admin token of this run only, so a test can read /metrics and the participant view
  const { randomBytes, createHash } = await import('node:crypto');
  const token = randomBytes(24).toString('hex');
  const tokenLine = `[api]\ntoken = tests * ${createHash('sha256').update(token).digest('hex')}\n`;
  const extra = process.env.FUNKHAUS_EXTRA_CONF ? readFileSync(process.env.FUNKHAUS_EXTRA_CONF, 'utf8') : '';
  const announce = process.env.FUNKHAUS_ANNOUNCE || '127.0.0.1';
  writeFileSync(conf, `[instance]\nname = ${name}\n[dataplane]\nworkers = ${workers}\n` +
    `base_port = ${basePort}\nbind = 127.0.0.1\n[controlplane]\nport = ${port}\n` +
    `tls_cert = ${dir}/tls/cert.pem\ntls_key = ${dir}/tls/key.pem\n` +
    `web_root = ${source}/controlplane/web\nannounce = ${announce}\nstate_dir = ${dir}/state\n` +
    tokenLine + `[tenant]\nname = test\ndisplay_name = Funkhaus test\n${tenant}` + more + extra);
  const logs = { dp: join(dir, 'dp.log'), cp: join(dir, 'cp.log') };
  // what a failed wait prints beside the page's view: the dataplane's (see waitReceives)
  const { openSync } = await import('node:fs');
  const dpCmd = process.env.FUNKHAUS_DP_NETNS ?
    ['ip', ['netns', 'exec', process.env.FUNKHAUS_DP_NETNS, `${build}/dataplane/funkhaus-dp`, '-c', conf]] :
    [`${build}/dataplane/funkhaus-dp`, ['-c', conf]];
  const dp = spawn(dpCmd[0], dpCmd[1], { stdio: ['ignore', 'ignore', openSync(logs.dp, 'a')] });
  await sleep(500);
  const url = `https://127.0.0.1:${port}`;
  const startCp = async () => {
    const p = spawn(`${build}/controlplane/funkhaus-cp`, ['-c', conf],
      { stdio: ['ignore', 'ignore', openSync(logs.cp, 'a')] });
    for (let i = 0; i < 100; i++) {
      try {
        const r = await fetch(`${url}/healthz`);
        if ((await r.json()).dataplane) break;
      } catch (e) { /* not up yet */ }
      await sleep(100);
    }
    return p;
  };
  let cp = await startCp();
  const admin = async (path) => {
    const r = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return path.startsWith('/metrics') ? r.text() : r.json();
  };
  const fh = {
    url, dir, logs, admin,
    // the worker counters whose names match re, summed over workers and labels
    async counters(re) {
      const out = {};
      for (const line of (await admin('/metrics')).split('\n')) {
        const m = line.match(/^funkhaus_worker_([a-z0-9_]+?)(?:_total)?(\{[^}]*\})? ([0-9.e+]+)$/);
        if (!m) continue;
        const reason = (m[2] || '').match(/reason="([^"]+)"/);
        const key = reason ? `drop_${reason[1]}` : m[1];
        if (re.test(key)) out[key] = (out[key] || 0) + Number(m[3]);
      }
      return out;
    },
    // every participant of the tenant's rooms with what the dataplane says it receives
    async downlinks() {
      const rooms = await admin('/api/v1/tenants/test/rooms');
      const out = [];
      for (const r of Array.isArray(rooms) ? rooms : []) {
        const v = await admin(`/api/v1/tenants/test/rooms/${encodeURIComponent(r.name)}`);
        for (const p of v.participant_list || []) out.push({ id: p.id, downlink: p.downlink });
      }
      return out;
    },
    async stop() {
      for (const p of [cp, dp]) if (p.exitCode === null) p.kill('SIGTERM');
      await sleep(300);
    },
    // funkhaus-cp killed with signal, and after pauseMs a new one started (a crash, or an
    // upgrade); resolves once the new one serves
    async restartCp(signal, pauseMs) {
      const gone = new Promise((r) => cp.on('exit', r));
      cp.kill(signal);
      await gone;
      await sleep(pauseMs);
      cp = await startCp();
    },
    dumpLogs() {
      for (const [k, f] of Object.entries(logs)) {
        try { console.error(`--- ${k} log ---\n${readFileSync(f, 'utf8')}`); } catch (e) { /* none */ }
      }
    },
  };
  running = fh;
  return fh;
}

// the Funkhaus the test started last, for what a failed wait prints
let running = null;

// What a page's receive side looks like, and what the dataplane says each participant gets:
// printed when a wait for media fails, so that a failure says where the media stopped.
export async function mediaDetail(page) {
  const out = {};
  try {
    out.page = await page.evaluate(async () => {
      const st = window.funkhaus.state;
      const v = [];
      if (st.pc) (await st.pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video')
          v.push({ mid: s.mid, packets: s.packetsReceived || 0, frames: s.framesReceived || 0,
            decoded: s.framesDecoded || 0, keys: s.keyFramesDecoded || 0, plis: s.pliCount || 0,
            width: s.frameWidth || 0 });
      });
      return { video: v, slots: [...st.videoSlots].map(([mid, x]) => ({ mid, id: x.id, source: x.source })),
        constraints: st.sentConstraints };
    });
  } catch (e) { out.page = String(e); }
  if (running) {
    try {
      out.downlinks = await running.downlinks();
      out.counters = await running.counters(/layer_switches|pli|key|drop_(receiver|temporal|paced|pace)/);
    } catch (e) { out.dataplane = String(e); }
  }
  return JSON.stringify(out);
}

// fakeUi: false leaves out --use-fake-ui-for-media-stream, so that camera and microphone are
// only what a context's permissions grant (the rest is refused: NotAllowedError).
export async function launchBrowser({ fakeUi = true, args = [] } = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-device-for-media-stream', ...(fakeUi ? ['--use-fake-ui-for-media-stream'] : []),
      '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required', ...args],
  });
}

// Debian's Firefox ESR, headless, with a fresh profile (and HOME) under dir: fake camera and
// microphone without a prompt, ICE candidates on loopback (run.sh gives the namespace the
// default route Firefox needs before it gathers any), the test's self-signed certificate
// accepted. Returns a puppeteer-core Browser.
export async function launchFirefox(dir = mkdtempSync(join(tmpdir(), 'funkhaus-firefox-'))) {
  const { default: puppeteer } = await import('puppeteer-core');
  const profile = join(dir, 'firefox-profile');
  const home = join(dir, 'firefox-home');
  mkdirSync(profile, { recursive: true });
  mkdirSync(home, { recursive: true });
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr',
    headless: true,
    acceptInsecureCerts: true,
    userDataDir: profile,
    protocolTimeout: 30000,
    env: { ...process.env, HOME: home, MOZ_HEADLESS: '1' },
    extraPrefsFirefox: {
      'media.navigator.streams.fake': true,
      'media.navigator.permission.disabled': true,
      'media.peerconnection.ice.loopback': true,
      'media.autoplay.default': 0,
      'media.autoplay.blocking_policy': 0,
      'browser.shell.checkDefaultBrowser': false,
      'app.update.enabled': false,
      'browser.safebrowsing.malware.enabled': false,
      'browser.safebrowsing.phishing.enabled': false,
      'network.captive-portal-service.enabled': false,
      'network.connectivity-service.enabled': false,
      'datareporting.policy.dataSubmissionEnabled': false,
      'toolkit.telemetry.enabled': false,
    },
  });
}

// Every request a page made to another origin than the server's (none may ever be made: no
// CDN, web font, avatar or analytics service).
export const foreign = [];

// initScript: source run in the page before its own scripts (as addInitScript does).
// opts: viewport ({width, height}), permissions (granted to the page's origin), prejoin (true:
// the page stops at the pre-join page instead of joining at once).
export async function openPage(browser, url, room, name, hash = '', initScript = null, opts = {}) {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true,
    ...(opts.viewport ? { viewport: opts.viewport } : {}) });
  if (opts.permissions) await ctx.grantPermissions(opts.permissions, { origin: url });
  if (initScript) await ctx.addInitScript(initScript);
  const page = await ctx.newPage();
  const origin = new URL(url).host;
  page.on('pageerror', (e) => console.error(`[${name}] page error: ${e.message}`));
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.host !== origin && !['data:', 'blob:'].includes(u.protocol)) foreign.push(r.url());
  });
  page.on('websocket', (ws) => { if (new URL(ws.url()).host !== origin) foreign.push(ws.url()); });
  // A link in the test's namespace going down and up (a DPDK port taking its veth) makes
  // Chromium drop a navigation under way with ERR_NETWORK_CHANGED: it is tried again, 3 times
  // at most.
  const target = `${url}/${room}#name=${encodeURIComponent(name)}${opts.prejoin ? '' : '&prejoin=off'}${hash}`;
  for (let attempt = 1; ; attempt++) {
    try {
      await page.goto(target);
      break;
    } catch (e) {
      if (attempt >= 3 || !String(e.message).includes('ERR_NETWORK_CHANGED')) throw e;
      console.log(`[${name}] navigation hit ERR_NETWORK_CHANGED, try ${attempt + 1}`);
      await sleep(500);
    }
  }
  return page;
}

// A screenshot of what the page shows now, into the test's log folder.
export async function shot(page, dir, file) {
  const { writeFileSync: write } = await import('node:fs');
  write(join(dir, file), await page.screenshot());
  console.log(`screenshot ${join(dir, file)}`);
}

// Opens the side panel (people and chat) where it is closed.
export async function openSide(page) {
  if (!(await page.evaluate(() => document.querySelector('#side').classList.contains('open'))))
    await page.click('#toggle-side');
  await page.waitForSelector('#side', { state: 'visible', timeout: 5000 });
}

// Waits until the page decodes video frames and audio from every named peer.
export async function waitReceives(page, names, timeoutMs, label) {
  const deadline = Date.now() + timeoutMs;
  let last = {};
  while (Date.now() < deadline) {
    last = await page.evaluate(() => window.funkhaus.received());
    const ok = names.every((n) => Object.values(last).some(
      (r) => r.name === n && r.framesDecoded > 0 && r.audioPackets > 0));
    if (ok) return last;
    await sleep(250);
  }
  console.error(`${label}: ${await mediaDetail(page)}`);
  fail(`${label}: did not decode video and audio from ${names.join(', ')} within ` +
    `${timeoutMs} ms; got ${JSON.stringify(last)}`);
}

export async function waitPeers(page, names, timeoutMs, label) {
  const deadline = Date.now() + timeoutMs;
  let got = [];
  while (Date.now() < deadline) {
    got = (await page.evaluate(() => window.funkhaus.peerNames())).sort();
    if (JSON.stringify(got) === JSON.stringify([...names].sort())) return;
    await sleep(200);
  }
  fail(`${label}: participant list is ${JSON.stringify(got)}, expected ${JSON.stringify(names)}`);
}
