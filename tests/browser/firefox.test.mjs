// Browser test: Firefox interop. One Firefox ESR page (puppeteer-core, WebDriver BiDi) and two
// Chromium pages (playwright-core) join one room with the web client. Every page decodes every
// other page's video (inbound-rtp framesDecoded rising, frameWidth > 0) and audio (inbound-rtp
// packetsReceived rising, totalSamplesReceived or audioLevel reported), and the server asks no
// page to offer again more than a few times. Screenshots of every page in the log folder.
// Every wait has a deadline; a failure says which page misses what from whom, and why if the
// server said (an "error" message), with the logs of both daemons.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFunkhaus, launchBrowser, launchFirefox, openPage, waitPeers, sleep, fail } from './lib.mjs';

const build = process.env.FUNKHAUS_BUILD;
const source = process.env.FUNKHAUS_SOURCE;
const ROOM = 'Partnerschaftsverein';
const DECODE_MS = 40000; // from the last join until every page decodes every other
const RISE_MS = 3000; // the counters must have grown again this much later
const MAX_RENEGOTIATE = 6; // "renegotiate" messages one page may get while three join

// Counts what the page's signalling WebSocket carries: "renegotiate", offers and answers (the
// last offer's bundle-only m-lines, those the last answer rejected), and the server's errors
// (code and detail), in window.__fh.
function wsProbeFn() {
  const seen = { renegotiate: 0, offers: 0, answers: 0, errors: [] };
  window.__fh = seen;
  const Base = window.WebSocket;
  window.WebSocket = class extends Base {
    constructor(...a) {
      super(...a);
      this.addEventListener('message', (ev) => {
        let m; try { m = JSON.parse(ev.data); } catch (e) { return; }
        if (m.type === 'renegotiate') seen.renegotiate++;
        else if (m.type === 'answer') {
          seen.answers++;
          // the last answer, in short: its m-lines, and those it rejected (port 0)
          const ms = String(m.sdp || '').split('\r\nm=').slice(1).map((b) => {
            const [kind, port] = b.split(' ');
            const mid = (b.match(/\r\na=mid:(\S+)/) || [])[1];
            return { kind, port, mid };
          });
          const rej = ms.filter((x) => x.port === '0').map((x) => x.kind + ' mid ' + x.mid);
          seen.lastAnswer = { mlines: ms.length, rejected: rej.length,
            firstRejected: rej.slice(0, 4) };
        }
        else if (m.type === 'error') seen.errors.push({ code: m.code, detail: m.detail || m.message || '' });
      });
    }
    send(d) {
      try {
        const m = JSON.parse(d);
        if (m.type === 'offer') {
          seen.offers++;
          const sdp = String(m.sdp || '');
          seen.lastOffer = { mlines: sdp.split('\r\nm=').length - 1,
            bundleOnly: sdp.split('\r\na=bundle-only').length - 1 };
        }
      } catch (e) { /* not ours */ }
      return super.send(d);
    }
  };
}
const wsProbe = `(${wsProbeFn.toString()})();`;

// What a page receives from each other participant, read per receiver (receiver.getStats(),
// which both browsers have), plus the state of its connection and of its signalling.
const probe = async () => {
  const st = window.funkhaus && window.funkhaus.state;
  const out = { pc: null, peers: {}, ws: window.__fh || null };
  if (!st || !st.pc) return out;
  out.pc = { ice: st.pc.iceConnectionState, conn: st.pc.connectionState,
    signaling: st.pc.signalingState, transceivers: st.pc.getTransceivers().length };
  for (const [id, p] of st.peers) {
    const r = { name: p.name, video: null, audio: null };
    for (const tr of window.funkhaus.transceiversOf(id)) {
      (await tr.receiver.getStats()).forEach((s) => {
        if (s.type !== 'inbound-rtp') return;
        const kind = s.kind || s.mediaType;
        if (kind === 'video') {
          r.video = { framesDecoded: s.framesDecoded || 0, frameWidth: s.frameWidth || 0,
            packets: s.packetsReceived || 0 };
        } else if (kind === 'audio') {
          r.audio = { packets: s.packetsReceived || 0, samples: s.totalSamplesReceived,
            level: s.audioLevel };
        }
      });
    }
    out.peers[id] = r;
  }
  return out;
};

// What page `who` still misses from `names`, as text (empty when it has everything).
function missing(who, got, names, before = null) {
  const why = [];
  for (const n of names) {
    const r = Object.values(got.peers).find((x) => x.name === n);
    if (!r) { why.push(`${n}: no tracks`); continue; }
    const v = r.video;
    const a = r.audio;
    if (!v || !(v.framesDecoded > 0)) why.push(`${n}: no video decoded (${JSON.stringify(v)})`);
    else if (!(v.frameWidth > 0)) why.push(`${n}: video frameWidth ${v.frameWidth}`);
    if (!a || !(a.packets > 0)) why.push(`${n}: no audio packets (${JSON.stringify(a)})`);
    else if (a.samples === undefined && a.level === undefined)
      why.push(`${n}: audio without totalSamplesReceived or audioLevel`);
    if (before) {
      const b = Object.values(before.peers).find((x) => x.name === n);
      if (v && b && b.video && !(v.framesDecoded > b.video.framesDecoded))
        why.push(`${n}: framesDecoded stuck at ${v.framesDecoded}`);
      if (a && b && b.audio && !(a.packets > b.audio.packets))
        why.push(`${n}: audio packetsReceived stuck at ${a.packets}`);
    }
  }
  const ans = got.ws && got.ws.lastAnswer;
  if (why.length && ans && ans.rejected) {
    why.push(`the server's last answer rejected ${ans.rejected} of ${ans.mlines} m-lines ` +
      `(the offer had ${got.ws.lastOffer.bundleOnly} bundle-only)`);
  }
  return why.length ? `${who} (${JSON.stringify(got.pc)}, signalling ${JSON.stringify(got.ws)}): ${why.join('; ')}` : '';
}

const fh = await startFunkhaus({ build, source });
console.log(`log folder: ${fh.dir}`);
let chromium = null;
let firefox = null;
const pages = []; // { name, page, kind }
let ok = false;
const shoot = async (suffix) => {
  for (const { name, page } of pages) {
    try {
      writeFileSync(join(fh.dir, `firefox-${name}${suffix}.png`), await page.screenshot());
    } catch (e) { console.error(`screenshot of ${name}: ${e.message}`); }
  }
};
try {
  chromium = await launchBrowser();
  firefox = await launchFirefox(fh.dir);
  console.log(`Firefox ${await firefox.version()}, Chromium ${chromium.version()}`);

  const anna = await openPage(chromium, fh.url, ROOM, 'Anna', '', wsProbe);
  pages.push({ name: 'Anna', page: anna, kind: 'chromium' });

  const fritz = await firefox.newPage();
  await fritz.setViewport({ width: 1280, height: 720 });
  fritz.on('pageerror', (e) => console.error(`[Fritz] page error: ${e.message}`));
  fritz.on('console', (m) => { if (m.type() === 'error') console.error(`[Fritz] ${m.text()}`); });
  await fritz.evaluateOnNewDocument(wsProbe);
  await fritz.goto(`${fh.url}/${ROOM}#name=Fritz&prejoin=off`);
  pages.push({ name: 'Fritz', page: fritz, kind: 'firefox' });

  const bernd = await openPage(chromium, fh.url, ROOM, 'Bernd', '', wsProbe);
  pages.push({ name: 'Bernd', page: bernd, kind: 'chromium' });

  const names = pages.map((p) => p.name);
  for (const { name, page } of pages)
    await waitPeers(page, names.filter((n) => n !== name), 10000, `${name} (participant list)`);
  console.log('all three list each other');

  // every page decodes every other page
  const t0 = Date.now();
  const deadline = t0 + DECODE_MS;
  let last = {};
  for (;;) {
    const why = [];
    for (const { name, page } of pages) {
      last[name] = await page.evaluate(probe);
      const w = missing(name, last[name], names.filter((n) => n !== name));
      if (w) why.push(w);
    }
    if (!why.length) break;
    if (Date.now() > deadline) {
      fail(`not every page decodes every other within ${DECODE_MS} ms:\n  ${why.join('\n  ')}`);
    }
    await sleep(500);
  }
  console.log(`every page decodes video and audio from both others after ${Date.now() - t0} ms`);

  // and keeps doing so
  await sleep(RISE_MS);
  const why = [];
  for (const { name, page } of pages) {
    const now = await page.evaluate(probe);
    const w = missing(name, now, names.filter((n) => n !== name), last[name]);
    if (w) why.push(w);
    last[name] = now;
  }
  if (why.length) fail(`media stopped after it started:\n  ${why.join('\n  ')}`);
  for (const { name } of pages) {
    const got = Object.values(last[name].peers).map((r) =>
      `${r.name} ${r.video.frameWidth}px ${r.video.framesDecoded} frames, ${r.audio.packets} audio packets`);
    console.log(`${name}: ${got.join('; ')}`);
  }

  // the server did not make anyone offer again and again
  const counts = pages.map(({ name }) => `${name} ${last[name].ws.renegotiate}`).join(', ');
  for (const { name } of pages) {
    if (last[name].ws.renegotiate > MAX_RENEGOTIATE)
      fail(`${name} was asked to renegotiate ${last[name].ws.renegotiate} times (at most ${MAX_RENEGOTIATE}): ${counts}`);
  }
  console.log(`renegotiate messages: ${counts}`);

  await shoot('');
  console.log(`screenshots in ${fh.dir}`);
  ok = true;
} catch (e) {
  if (!process.exitCode) console.error(`FAIL: ${e.stack || e}`);
  await shoot('-fail');
  console.error(`screenshots in ${fh.dir}`);
  try {
    console.error('dataplane:', JSON.stringify(await fh.counters(/layer|key|pli|twcc|probe|rtx|ssrc|temporal|unknown|rid|ext|forwarded|rtp_in/)));
    console.error('downlinks:', JSON.stringify(await fh.downlinks()));
  } catch (e2) { console.error(`no admin view: ${e2}`); }
} finally {
  for (const b of [firefox, chromium]) {
    if (!b) continue;
    await Promise.race([b.close(), sleep(5000)]).catch(() => {});
  }
  await fh.stop();
  if (!ok) fh.dumpLogs();
}
console.log(ok ? 'PASS' : 'FAIL');
process.exit(ok ? 0 : 1);
