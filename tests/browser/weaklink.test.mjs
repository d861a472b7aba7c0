// Browser test: a citizen on a weak line. Three Chromium pages on loopback and a fourth behind
// a 400 kbit/s downlink (a veth pair into a network namespace of its own, the server's side
// shaped with tc tbf) share one room. The weak page must keep decoding every remote video at
// 10 frames a second or more with at most 2 % loss after its first 5 s, frozen at most 1 s in
// 30 s, and its audio at most 1 % loss; the good pages keep 640-pixel-wide video from each
// other at full frame rate, and no good sender makes more key frames than it did before the
// weak page came. Then the line is raised to 1 Mbit/s and the weak page gets the middle
// layer. Every figure is printed (bench/README.md quotes them); screenshots of all pages go to
// the log folder. Bounded: every wait has a deadline.
//
// Those are the figures of a release build on a machine that has the cores for four browsers
// (FUNKHAUS_FIGURES=1 holds the test to them, bench/README.md says how). In the suite four
// Chromiums share two cores with a sanitizer build, and a starved browser decodes and encodes
// late whatever the server does; there the test holds what adaptation must give even so: the
// weak page decodes every remote video and hears every remote participant, the server sends
// it the lowest layer within its line, and the good pages get more than it does (while a good
// sender encodes more than its lowest layer); what it gets at 1 Mbit/s is printed.
import { execFileSync } from 'node:child_process';
import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startFunkhaus, launchBrowser, openPage, waitPeers, sleep, fail } from './lib.mjs';

const build = process.env.FUNKHAUS_BUILD;
const source = process.env.FUNKHAUS_SOURCE;
const ROOM = 'Elternabend';
const NS = `fhw${process.pid}`;
const SRV = '198.18.0.1';
const WEAK = '198.18.0.2';
const BASE_MS = 15000; // the good pages alone, for their key-frame count
const SETTLE_MS = 5000; // the weak page's first seconds, not judged
const WINDOW_MS = 30000; // what is judged
const RAISE_MS = 20000; // after the line goes to 1 Mbit/s
const GOOD = ['Anna', 'Bernd', 'Clara'];
const FIGURES = process.env.FUNKHAUS_FIGURES === '1';
// [figure, suite] limits
// (in the suite, loss and frozen time of the weak page's video are printed, not held: with
// the browsers starved of CPU they swing from run to run)
const LIM = {
  weakFps: FIGURES ? 10 : 3, weakVideoLoss: FIGURES ? 2 : 100, weakFrozen: FIGURES ? 1 : 30,
  weakAudioLoss: FIGURES ? 1 : 5, goodWidth: FIGURES ? 640 : 0, goodFps: FIGURES ? 20 : 3,
};
const WEAKNAME = 'Wolfgang';
// Chromium's fake camera runs at 20 frames a second whatever the page asks; the web client
// asks for 24 (app.js VIDEO), as a real camera gives it. Half of 20 is the weak page's figure
// exactly, so the fake camera is given the client's rate.
const FAKE_CAMERA = '--use-fake-device-for-media-stream=fps=24';

const sh = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
function tbf(rate, verb = 'add') {
  sh('tc', ['qdisc', verb, 'dev', 'fhws', 'root', 'tbf', 'rate', rate, 'burst', '16kb',
    'latency', '200ms']);
}

// What the shaped line sent and dropped so far (tc's counters of the tbf).
function lineStats() {
  const t = sh('tc', ['-s', 'qdisc', 'show', 'dev', 'fhws']);
  const m = t.match(/Sent \d+ bytes (\d+) pkt \(dropped (\d+), overlimits (\d+)/);
  return m ? { sent: Number(m[1]), dropped: Number(m[2]), held: Number(m[3]) }
    : { sent: 0, dropped: 0, held: 0 };
}

// The best video layer any page but the weak one got, and the good pages' downlinks second by
// second (the same form as the weak page's), over the downlinks views since the window began.
let goodLayerSeen = -1;
const goodTrace = [];
function downlinkLine(d) {
  const v = d.downlink.receives.filter((r) => r.kind === 'video')
    .map((r) => `${r.layer}.${r.temporal}`).join(',');
  const k = (x) => Math.round((x || 0) / 1000);
  return `${k(d.downlink.estimate_bps)}/${k(d.downlink.target_bps)}/${k(d.downlink.capacity_bps)}/${k(d.downlink.sent_bps)} ${v}`;
}
// One second of the weak page's downlink, as the admin API shows it (and the good pages' too).
async function weakTrace(id) {
  const dls = await fh.downlinks();
  const good = [];
  for (const g of dls) {
    if (g.id === id || !g.downlink) continue;
    good.push(downlinkLine(g));
    for (const r of g.downlink.receives)
      if (r.kind === 'video' && r.layer !== null) goodLayerSeen = Math.max(goodLayerSeen, r.layer);
  }
  goodTrace.push(good.join('; '));
  const d = dls.find((x) => x.id === id);
  return d && d.downlink ? downlinkLine(d) : '?';
}

// The weak line: the page's namespace, a veth pair to it, the server's end shaped.
function makeLine() {
  sh('ip', ['netns', 'add', NS]);
  sh('ip', ['link', 'add', 'fhws', 'type', 'veth', 'peer', 'name', 'fhwc', 'netns', NS]);
  sh('ip', ['addr', 'add', `${SRV}/30`, 'dev', 'fhws']);
  sh('ip', ['link', 'set', 'fhws', 'up']);
  for (const a of [['addr', 'add', `${WEAK}/30`, 'dev', 'fhwc'], ['link', 'set', 'fhwc', 'up'],
    ['link', 'set', 'lo', 'up'], ['-6', 'addr', 'flush', 'dev', 'fhwc']])
    sh('ip', ['netns', 'exec', NS, 'ip', ...a]);
  tbf('400kbit');
}
function dropLine() {
  try { sh('ip', ['netns', 'pids', NS]).split('\n').filter(Boolean).forEach((p) => { try { process.kill(Number(p), 'SIGKILL'); } catch (e) { /* gone */ } }); } catch (e) { /* none */ }
  try { sh('ip', ['link', 'del', 'fhws']); } catch (e) { /* gone with the namespace */ }
  try { sh('ip', ['netns', 'del', NS]); } catch (e) { /* never made */ }
}

// Per remote participant: video frames decoded, width, frame rate, loss, freezes; audio loss.
// Per own camera: key frames encoded (all layers).
const probe = async () => {
  const st = window.funkhaus && window.funkhaus.state;
  const out = { id: st && st.id, peers: {}, keyFrames: 0, sentWidth: 0, lowFrames: 0,
    upperFrames: 0, limits: {}, resChanges: 0 };
  if (!st || !st.pc) return out;
  for (const [id, p] of st.peers) {
    const r = { name: p.name, video: null, audio: null };
    for (const tr of window.funkhaus.transceiversOf(id)) {
      (await tr.receiver.getStats()).forEach((s) => {
        if (s.type !== 'inbound-rtp') return;
        const v = { frames: s.framesDecoded || 0, width: s.frameWidth || 0,
          fps: s.framesPerSecond || 0, packets: s.packetsReceived || 0,
          lost: s.packetsLost || 0, freezes: s.totalFreezesDuration || 0,
          keys: s.keyFramesDecoded || 0, received: s.framesReceived || 0,
          dropped: s.framesDropped || 0 };
        if (s.kind === 'video') r.video = v;
        else if (s.kind === 'audio') r.audio = v;
      });
    }
    out.peers[id] = r;
  }
  (await st.pc.getStats()).forEach((s) => {
    if (s.type === 'outbound-rtp' && s.kind === 'video') {
      out.keyFrames += s.keyFramesEncoded || 0;
      out.sentWidth = Math.max(out.sentWidth, s.frameWidth || 0);
      if (s.rid === 'l') out.lowFrames = s.framesEncoded || 0; // the lowest layer
      else out.upperFrames += s.framesEncoded || 0; // the layers above it
      // what the browser's own encoder adaptation did (cpu, bandwidth): its resolution changes
      if (s.qualityLimitationReason) out.limits[s.qualityLimitationReason] = true;
      out.resChanges = Math.max(out.resChanges, s.qualityLimitationResolutionChanges || 0);
    }
  });
  return out;
};
const byName = (snap, n) => Object.values(snap.peers).find((x) => x.name === n);

async function waitDecoding(page, names, ms, label) {
  const deadline = Date.now() + ms;
  let s;
  while (Date.now() < deadline) {
    s = await page.evaluate(probe);
    if (names.every((n) => { const r = byName(s, n); return r && r.video && r.video.frames > 0 && r.audio && r.audio.packets > 0; }))
      return s;
    await sleep(500);
  }
  fail(`${label} does not decode every other page within ${ms} ms: ${JSON.stringify(s)}`);
}

// A Chromium whose process lives in the weak line's namespace.
async function launchWeakBrowser(dir) {
  const wrap = join(dir, 'chromium-weak.sh');
  writeFileSync(wrap, `#!/bin/sh\nexec ip netns exec ${NS} ${process.env.CHROMIUM || '/usr/bin/chromium'} "$@"\n`);
  chmodSync(wrap, 0o755);
  return chromium.launch({
    executablePath: wrap,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      FAKE_CAMERA, '--use-fake-ui-for-media-stream',
      '--autoplay-policy=no-user-gesture-required'],
  });
}

const pct = (a, b) => (b > 0 ? (100 * a) / b : 0);
let fh; let good; let weakB; let ok = false;
const pages = [];
const shoot = async (tag) => {
  for (const { name, page } of pages)
    await page.screenshot({ path: join(fh.dir, `weaklink-${name}${tag}.png`) }).catch(() => {});
};
try {
  process.env.FUNKHAUS_ANNOUNCE = `127.0.0.1,${SRV}`;
  fh = await startFunkhaus({ build, source, extraConf: '[dataplane]\nbind = 0.0.0.0\n' });
  console.log(`log folder: ${fh.dir}`);
  makeLine();
  await sleep(2000); // addresses settle (IPv6 on the veth), or Chromium sees the network change

  good = await launchBrowser({ args: [FAKE_CAMERA] });
  for (const n of GOOD) {
    pages.push({ name: n, page: await openPage(good, fh.url, ROOM, n) });
    await sleep(1500);
  }
  for (const { name, page } of pages) await waitPeers(page, GOOD.filter((x) => x !== name), 20000, name);
  for (const { name, page } of pages) await waitDecoding(page, GOOD.filter((x) => x !== name), 40000, name);
  // the good pages alone: how many key frames each makes in BASE_MS
  await sleep(3000);
  const base0 = await Promise.all(pages.map(({ page }) => page.evaluate(probe)));
  await sleep(BASE_MS);
  const base1 = await Promise.all(pages.map(({ page }) => page.evaluate(probe)));
  const baseKeys = base1.map((s, i) => s.keyFrames - base0[i].keyFrames);
  console.log(`good pages alone, key frames made in ${BASE_MS / 1000} s: ${GOOD.map((n, i) => `${n} ${baseKeys[i]}`).join(', ')}`);

  weakB = await launchWeakBrowser(fh.dir);
  const weakPage = await openPage(weakB, `https://${SRV}:${new URL(fh.url).port}`, ROOM, WEAKNAME);
  pages.push({ name: WEAKNAME, page: weakPage });
  await waitPeers(weakPage, GOOD, 20000, WEAKNAME);
  await waitDecoding(weakPage, GOOD, 40000, WEAKNAME);
  await sleep(SETTLE_MS);

  // the judged window, sampled each second
  const goodPages = pages.slice(0, 3);
  // rates are over the time the snapshots are apart, measured: each second of the loop below
  // also takes the probes' and the admin API's time
  const g0 = await Promise.all(goodPages.map(({ page }) => page.evaluate(probe)));
  const tg0 = Date.now();
  const w0 = await weakPage.evaluate(probe);
  const tw0 = Date.now();
  const samples = [];
  const sampledAt = [];
  const trace = [];
  const c0 = await fh.counters(/pli_sent|rtx_sent|drop_rtx_budget|probe_sent|layer_switches|bwe_/);
  const q0 = lineStats();
  goodLayerSeen = -1;
  goodTrace.length = 0;
  for (let t = 0; t < WINDOW_MS / 1000; t++) {
    await sleep(1000);
    samples.push(await Promise.all(goodPages.map(({ page }) => page.evaluate(probe))));
    sampledAt.push(Date.now());
    trace.push(await weakTrace(w0.id));
  }
  // the weak page's downlink second by second: estimate, target, capacity and sent (kbit/s),
  // then per video spatial.temporal layer
  console.log(`weak page, each second: ${trace.join(' | ')}`);
  console.log(`good pages, each second: ${goodTrace.join(' | ')}`);
  const c1 = await fh.counters(/pli_sent|rtx_sent|drop_rtx_budget|probe_sent|layer_switches|bwe_/);
  const q1 = lineStats();
  console.log(`in the window: ${Object.keys(c1).map((k) => `${k} ${c1[k] - (c0[k] || 0)}`).join(', ')}; the line dropped ${q1.dropped - q0.dropped} of ${q1.sent - q0.sent} packets and held back ${q1.held - q0.held} times (its bucket empty)`);
  const w1 = await weakPage.evaluate(probe);
  const secs = (Date.now() - tw0) / 1000;
  const g1 = samples[samples.length - 1];
  const gsecs = (sampledAt[sampledAt.length - 1] - tg0) / 1000;
  const why = [];
  console.log(`weak page (400 kbit/s), ${secs.toFixed(1)} s after its first ${SETTLE_MS / 1000} s (the good pages ${gsecs.toFixed(1)} s):`);
  for (const n of GOOD) {
    const a = byName(w0, n); const b = byName(w1, n);
    const fps = (b.video.frames - a.video.frames) / secs;
    const vrecv = b.video.packets - a.video.packets; const vlost = b.video.lost - a.video.lost;
    const vloss = pct(vlost, vrecv + vlost);
    const frozen = b.video.freezes - a.video.freezes;
    const arecv = b.audio.packets - a.audio.packets; const alost = b.audio.lost - a.audio.lost;
    const aloss = pct(alost, arecv + alost);
    const rfps = (b.video.received - a.video.received) / secs;
    const dropped = b.video.dropped - a.video.dropped;
    console.log(`  from ${n}: ${fps.toFixed(1)} fps at ${b.video.width} px (${rfps.toFixed(1)} received, ${dropped} dropped), video loss ${vloss.toFixed(2)} %, frozen ${frozen.toFixed(2)} s; audio loss ${aloss.toFixed(2)} %`);
    if (fps < LIM.weakFps) why.push(`weak page gets ${fps.toFixed(1)} fps from ${n}`);
    if (vloss > LIM.weakVideoLoss) why.push(`weak page loses ${vloss.toFixed(2)} % of ${n}'s video`);
    if (frozen > LIM.weakFrozen) why.push(`weak page frozen ${frozen.toFixed(2)} s on ${n}`);
    if (aloss > LIM.weakAudioLoss) why.push(`weak page loses ${aloss.toFixed(2)} % of ${n}'s audio`);
  }
  console.log('good pages meanwhile:');
  goodPages.forEach(({ name }, i) => {
    const keys = g1[i].keyFrames - g0[i].keyFrames;
    const from = GOOD.filter((x) => x !== name).map((n) => {
      const a = byName(g0[i], n); const b = byName(g1[i], n);
      const fps = (b.video.frames - a.video.frames) / gsecs;
      const minW = Math.min(...samples.map((s) => byName(s[i], n).video.width));
      if (minW < LIM.goodWidth) why.push(`${name} got ${n}'s video at ${minW} px`);
      if (fps < LIM.goodFps) why.push(`${name} got ${n}'s video at ${fps.toFixed(1)} fps`);
      return `${n} ${fps.toFixed(1)} fps, at least ${minW} px`;
    });
    // the same length of time as the baseline, scaled
    const allowed = Math.ceil((baseKeys[i] * WINDOW_MS) / BASE_MS) + 1;
    const low = (g1[i].lowFrames - g0[i].lowFrames) / gsecs;
    const adapt = g1[i].resChanges - g0[i].resChanges;
    console.log(`  ${name}: ${from.join('; ')}; made ${keys} key frames (alone: ${baseKeys[i]} in ${BASE_MS / 1000} s), lowest layer encoded at ${low.toFixed(1)} fps; its encoder changed resolution ${adapt} times for its own limits (now: ${Object.keys(g1[i].limits).join(', ') || 'none'})`);
    if (FIGURES && keys > allowed) why.push(`${name} made ${keys} key frames with the weak page there (alone ${baseKeys[i]} in ${BASE_MS / 1000} s)`);
  });
  console.log('dataplane:', JSON.stringify(await fh.counters(/layer|keyframe|pli|probe|rtx|temporal|twcc/)));
  // what the server chose: the weak page's estimate within its line and the lowest layer;
  // some good page gets more than that from another
  const dls = await fh.downlinks();
  const wdl = dls.find((d) => d.id === w1.id);
  const wv = wdl ? wdl.downlink.receives.filter((r) => r.kind === 'video') : [];
  console.log(`weak page: estimate ${wdl ? wdl.downlink.estimate_bps : '?'} bit/s, sent ${wdl ? wdl.downlink.sent_bps : '?'} bit/s, layers ${wv.map((v) => v.layer).join(', ')}`);
  if (!wdl || !(wdl.downlink.estimate_bps > 0 && wdl.downlink.estimate_bps < 800000))
    why.push(`the weak page's estimate is not within its 400 kbit/s line: ${JSON.stringify(wdl)}`);
  if (wv.some((v) => v.layer !== null && v.layer > 0))
    why.push(`the weak page gets more than the lowest layer: ${JSON.stringify(wv)}`);
  // each second of the window and now: a good page's estimate swings with the CPU the
  // browsers leave each other, so one moment's view is not the judge
  const goodMax = Math.max(0, goodLayerSeen, ...dls.filter((d) => d.id !== w1.id).flatMap((d) =>
    d.downlink.receives.filter((r) => r.kind === 'video' && r.layer !== null).map((r) => r.layer)));
  const goodBest = Math.max(0, ...goodPages.flatMap((gp, i) => GOOD.filter((x) => x !== gp.name)
    .map((n) => Math.max(...samples.map((smp) => byName(smp[i], n).video.width)))));
  const weakBest = Math.max(...GOOD.map((n) => byName(w1, n).video.width));
  // A layer above the lowest can only be forwarded while a sender encodes one: a browser
  // starved of CPU stops its upper layers itself (its limit says "cpu").
  const upperFps = goodPages.map((_, i) => (g1[i].upperFrames - g0[i].upperFrames) / gsecs);
  console.log(`best layer a good page got in the window: ${goodMax}; widest video a good page decoded ${goodBest} px, the weak page ${weakBest} px; the good senders encoded layers above the lowest at ${upperFps.map((x) => x.toFixed(1)).join(', ')} fps`);
  if (goodMax < 1 && goodBest <= weakBest) {
    if (upperFps.some((x) => x >= 1))
      why.push('no good page gets more than the weak page');
    else
      console.log('no good sender encoded a layer above the lowest in the window (their encoders\' own limits), so no good page can get more than the weak page: not held');
  }
  await shoot('-400k');

  // the line is raised: the weak page gets the middle layer
  tbf('1mbit', 'change');
  const raised = [];
  for (let t = 0; t < RAISE_MS / 1000; t++) {
    await sleep(1000);
    raised.push(await weakTrace(w0.id));
  }
  console.log(`weak page at 1 Mbit/s, each second: ${raised.join(' | ')}`);
  const dl = (await fh.downlinks()).find((d) => d.id === w1.id);
  const videos = dl ? dl.downlink.receives.filter((r) => r.kind === 'video') : [];
  const w2 = await weakPage.evaluate(probe);
  console.log(`at 1 Mbit/s: estimate ${dl ? dl.downlink.estimate_bps : '?'} bit/s, layers ${videos.map((v) => v.layer).join(', ')}, widths ${GOOD.map((n) => byName(w2, n).video.width).join(', ')}`);
  if (FIGURES && !videos.some((v) => v.layer >= 1)) why.push(`at 1 Mbit/s the weak page still gets only the lowest layer (${JSON.stringify(videos)})`);
  await shoot('-1m');
  if (why.length) fail(`the weak line is not served as it must be:\n  ${why.join('\n  ')}`);
  ok = true;
} catch (e) {
  if (!process.exitCode) console.error(`FAIL: ${e.stack || e}`);
  if (fh) {
    await shoot('-fail');
    try { console.error('downlinks:', JSON.stringify(await fh.downlinks())); } catch (e2) { /* no view */ }
  }
} finally {
  for (const b of [good, weakB]) if (b) await Promise.race([b.close(), sleep(5000)]).catch(() => {});
  if (fh) await fh.stop();
  dropLine();
  if (!ok && fh) fh.dumpLogs();
}
console.log(ok ? 'PASS' : 'FAIL');
process.exit(ok ? 0 : 1);
