// The web client's redirects and reconnects on one node, without Redis: playwright stands in
// for a cluster's other nodes by answering the page's WebSocket itself (routeWebSocket) where
// a node that does not hold the room would, and passes the rest to the real funkhaus-cp.
//  1. a redirect is followed: the same join, with the room the redirect names and hop 1, and
//     joined.nodes is taken only where it is an https URL;
//  2. a redirect loop (every join redirected) ends the attempt after two redirects, and the
//     next attempt, after its pause and from the page's own address, gets in;
//  3. a redirect without a usable address, and error 5010, are retried the same way;
//  4. both daemons killed (kill -9) and started again 4 s later: both pages show the banner
//     with its countdown, join the same room again by themselves and see each other.
// Screenshots (the banner, the call after) in the log folder.
import { spawn } from 'node:child_process';
import { openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFunkhaus, launchBrowser, openPage, waitReceives, waitPeers, shot, sleep, fail } from './lib.mjs';

const build = process.env.FUNKHAUS_BUILD;
const fh = await startFunkhaus({ build, source: process.env.FUNKHAUS_SOURCE });
const browser = await launchBrowser();
const host = new URL(fh.url).host;
const mine = []; // daemons this test started again

// A page whose signalling to this node goes through answer(n): n counts the page's
// connections from 1; answer gives null (the connection goes to the real server, with
// joined.nodes rewritten) or a function that answers the page's messages itself, as another
// node would. Every join the page sent is in joins.
async function routedPage(room, name, answer, joins) {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  let n = 0;
  await ctx.routeWebSocket((u) => u.host === host, (ws) => {
    const k = ++n;
    const mock = answer(k);
    const seen = (m) => {
      try {
        const msg = JSON.parse(String(m));
        if (msg.type === 'join') joins.push({ k, hop: msg.hop || 0, room: msg.room });
        return msg;
      } catch (e) { return {}; }
    };
    if (mock) {
      ws.onMessage((m) => { const msg = seen(m); if (msg.type === 'join') mock(msg, ws); });
      return;
    }
    const server = ws.connectToServer();
    ws.onMessage((m) => { seen(m); server.send(m); });
    server.onMessage((sm) => {
      let s = null;
      try { s = JSON.parse(String(sm)); } catch (e) { /* passed as it is */ }
      // joined names "other nodes": one reachable (this node by another name), and what a
      // page must never take as one
      if (s && s.type === 'joined') {
        s.nodes = ['https://localhost:8443', 'http://127.0.0.2:8443', 'javascript:alert(1)', 42, 'https://u:p@127.0.0.3/'];
        ws.send(JSON.stringify(s));
      } else ws.send(sm);
    });
  });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.error(`[${name}] page error: ${e.message}`));
  await page.goto(`${fh.url}/${encodeURIComponent(room)}#name=${encodeURIComponent(name)}&prejoin=off`);
  return page;
}

// answers a join as a node that does not hold the room
const redirect = (room, url = fh.url) => (msg, ws) => {
  ws.send(JSON.stringify({ type: 'redirect', url, ws: '/ws', node: 'b', room }));
  ws.close();
};

async function waitJoined(page, ms, label) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await page.evaluate(() => window.funkhaus.state.joined)) return;
    await sleep(200);
  }
  fail(`${label}: not joined within ${ms} ms: ${JSON.stringify(await page.evaluate(() => window.funkhaus.conn()))}`);
}

// the pids of this run's daemons (the command lines name this run's own configuration)
function daemons() {
  const conf = join(fh.dir, 'funkhaus.conf');
  const out = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let cmd = '';
    try { cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0'); } catch (e) { continue; }
    if (cmd.length >= 3 && /funkhaus-(dp|cp)$/.test(cmd[0]) && cmd[1] === '-c' && cmd[2] === conf) out.push(Number(p));
  }
  return out;
}

try {
  // --- 1. a redirect followed: Anna asks for "Rathaus", the other "node" says "Rathaus Süd"
  const joinsA = [];
  const anna = await routedPage('Rathaus', 'Anna', (k) => (k === 1 ? redirect('Rathaus Süd') : null), joinsA);
  await waitJoined(anna, 15000, 'Anna after a redirect');
  const a = await anna.evaluate(() => ({ room: window.funkhaus.state.room, conn: window.funkhaus.conn(),
    title: document.querySelector('#room-title').textContent, path: location.pathname, origin: location.origin }));
  console.log(`1. redirect: joins ${JSON.stringify(joinsA)}, page ${JSON.stringify(a)}`);
  if (joinsA.length !== 2 || joinsA[0].hop !== 0 || joinsA[1].hop !== 1 || joinsA[1].room !== 'Rathaus Süd')
    fail(`the redirect was not followed with the same join, its room and hop 1: ${JSON.stringify(joinsA)}`);
  if (a.room !== 'Rathaus Süd' || a.title !== 'Rathaus Süd' || a.origin !== fh.url)
    fail(`after the redirect the page shows ${JSON.stringify(a)}`);
  if (JSON.stringify(a.conn.nodes) !== JSON.stringify(['localhost:8443']))
    fail(`joined.nodes taken as ${JSON.stringify(a.conn.nodes)}, not only the https one`);

  // --- 2. a loop: three redirects in a row, then the next attempt gets in
  const joinsB = [];
  const t2 = Date.now();
  const bernd = await routedPage('Rathaus Süd', 'Bernd', (k) => (k <= 3 ? redirect('Rathaus Süd') : null), joinsB);
  let banner = null;
  for (let i = 0; i < 40 && !banner; i++) {
    banner = (await bernd.evaluate(() => window.funkhaus.conn())).banner;
    if (!banner) await sleep(50);
  }
  await waitJoined(bernd, 20000, 'Bernd after a redirect loop');
  console.log(`2. loop: joins ${JSON.stringify(joinsB.map((j) => j.hop))} in ${Date.now() - t2} ms; banner "${banner}"`);
  if (JSON.stringify(joinsB.map((j) => j.hop)) !== '[0,1,2,0]')
    fail(`a loop should end after two redirects and start again with hop 0: ${JSON.stringify(joinsB)}`);
  if (!banner || !/Verbindung unterbrochen/.test(banner)) fail(`no banner while Bernd waited: ${banner}`);
  await waitReceives(anna, ['Bernd'], 20000, 'Anna');
  await waitReceives(bernd, ['Anna'], 20000, 'Bernd');

  // --- 3. a redirect to no usable address, then 5010: retried, then in
  const joinsC = [];
  const clara = await routedPage('Rathaus Süd', 'Clara', (k) => {
    if (k === 1) return redirect('Rathaus Süd', 'http://127.0.0.1:8443');
    if (k === 2) return (msg, ws) => ws.send(JSON.stringify({ type: 'error', code: 5010, message: "the cluster's store cannot be reached" }));
    return null;
  }, joinsC);
  let toast = '';
  for (let i = 0; i < 60 && !/5010/.test(toast); i++) {
    toast = await clara.evaluate(() => document.querySelector('#toast').textContent);
    if (!/5010/.test(toast)) await sleep(100);
  }
  await waitJoined(clara, 20000, 'Clara after a bad redirect and 5010');
  console.log(`3. bad redirect, 5010: joins ${JSON.stringify(joinsC.map((j) => j.k))}; toast "${toast}"`);
  if (joinsC.length !== 3 || !/gemeinsamen Speicher/.test(toast)) fail(`Clara: joins ${JSON.stringify(joinsC)}, toast "${toast}"`);
  await clara.evaluate(() => document.querySelector('#leave').click());
  await clara.context().close();

  // --- 4. the node dies (both daemons, kill -9) and comes back 4 s later; Dora, not routed
  const dora = await openPage(browser, fh.url, encodeURIComponent('Rathaus Süd'), 'Dora');
  for (const [p, others] of [[anna, ['Bernd', 'Dora']], [dora, ['Anna', 'Bernd']]]) await waitReceives(p, others, 20000, 'before the kill');
  const before = await Promise.all([anna, bernd, dora].map((p) => p.evaluate(() => window.funkhaus.state.id)));
  const pids = daemons();
  if (pids.length !== 2) fail(`expected this run's funkhaus-dp and funkhaus-cp, found ${pids}`);
  const tk = Date.now();
  for (const p of pids) process.kill(p, 'SIGKILL');
  console.log(`4. killed ${pids} (kill -9)`);
  // first the pages resume (the media may still flow: a control plane that restarts); once
  // their ICE says the media is gone too, they join afresh and show it
  let during = [];
  let shown = 0;
  for (let i = 0; i < 100 && !shown; i++) {
    during = await Promise.all([anna, dora].map((p) => p.evaluate(() => ({ ...window.funkhaus.conn(),
      ice: window.funkhaus.state.pc ? window.funkhaus.state.pc.iceConnectionState : null }))));
    if (during.every((c) => c.banner && !c.joined)) shown = Date.now() - tk;
    else await sleep(200);
  }
  console.log(`   ${JSON.stringify(during.map((c) => ({ banner: c.banner, retry: c.retry, joined: c.joined, resuming: c.resuming, ice: c.ice })))}`);
  if (!shown) fail('the pages do not show that they reconnect within 20 s');
  console.log(`   the banner on both pages ${shown} ms after the kill`);
  await shot(dora, fh.dir, 'reconnect-banner-de.png');
  await sleep(3000);
  const conf = join(fh.dir, 'funkhaus.conf');
  const dp = spawn(`${build}/dataplane/funkhaus-dp`, ['-c', conf], { stdio: ['ignore', 'ignore', openSync(fh.logs.dp, 'a')] });
  mine.push(dp);
  await sleep(500);
  const cp = spawn(`${build}/controlplane/funkhaus-cp`, ['-c', conf], { stdio: ['ignore', 'ignore', openSync(fh.logs.cp, 'a')] });
  mine.push(cp);
  const ts = Date.now();
  for (const [p, n, others] of [[anna, 'Anna', ['Bernd', 'Dora']], [bernd, 'Bernd', ['Anna', 'Dora']], [dora, 'Dora', ['Anna', 'Bernd']]]) {
    await waitPeers(p, others, 40000, `${n} after the node came back`);
    await waitReceives(p, others, 30000, `${n} after the node came back`);
  }
  const after = await Promise.all([anna, bernd, dora].map((p) => p.evaluate(() => ({ id: window.funkhaus.state.id, conn: window.funkhaus.conn() }))));
  console.log(`   media again on every page ${Date.now() - tk} ms after the kill, ${Date.now() - ts} ms after the restart; ` +
    `${JSON.stringify(after.map((x) => ({ node: x.conn.node, banner: x.conn.banner })))}`);
  if (after.some((x, i) => x.id === before[i])) fail('a page kept its old id: it did not join again');
  if (after.some((x) => x.conn.banner)) fail('a banner stayed after the pages were back');
  await shot(dora, fh.dir, 'reconnect-after.png');
  // English, for the banner's text
  await dora.evaluate(() => document.querySelector('#lang').click());
  const en = await dora.evaluate(() => window.FH_I18N.en['conn.retry']);
  if (!/Connection lost – trying again in \{n\} s/.test(en)) fail(`English banner text: ${en}`);
  console.log(`PASS: reconnect (screenshots in ${fh.dir})`);
} catch (e) {
  fh.dumpLogs();
  if (!process.exitCode) process.exitCode = 1;
  console.error(e);
} finally {
  await browser.close();
  for (const p of mine) if (p.exitCode === null) p.kill('SIGTERM');
  await fh.stop();
}
