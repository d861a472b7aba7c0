// A control-plane restart in the middle of a meeting, seen by the people in it: three Chromium
// pages in one room; funkhaus-cp is killed (-9) and started again 3 s later. The pictures must
// not freeze longer than they do without the kill, every page must resume as the same
// participant, and a newcomer after the restart meets everyone. Screenshots in the log folder.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFunkhaus, launchBrowser, openPage, waitReceives, waitPeers, sleep, fail, mediaDetail } from './lib.mjs';

const fh = await startFunkhaus({ build: process.env.FUNKHAUS_BUILD, source: process.env.FUNKHAUS_SOURCE });
const browser = await launchBrowser();

// Samples every page's decoded frames per peer for ms; the longest stretch, over every
// stream, without a new frame (and where and when it ended, ms after the start, for a failure's
// report).
async function longestFreeze(pages, ms) {
  const last = pages.map(() => ({}));
  const since = pages.map(() => ({}));
  let worst = 0;
  let where = null;
  const t0 = Date.now();
  const note = (stretch, i, id, now) => {
    if (stretch > worst) { worst = stretch; where = { page: i, peer: id, ended: now - t0 }; }
  };
  while (Date.now() - t0 < ms) {
    const now = Date.now();
    for (let i = 0; i < pages.length; i++) {
      const got = await pages[i].evaluate(() => window.funkhaus.received());
      for (const [id, r] of Object.entries(got)) {
        // the time between two samples that saw new frames: at least one sampling round
        if (r.framesDecoded !== last[i][id]) {
          if (since[i][id]) note(now - since[i][id], i, id, now);
          last[i][id] = r.framesDecoded;
          since[i][id] = now;
        } else {
          note(now - (since[i][id] || now), i, id, now);
        }
      }
    }
    await sleep(100);
  }
  return { worst, where };
}

try {
  const names = ['Anna', 'Bernd', 'Clara'];
  const pages = [];
  for (const n of names) pages.push(await openPage(browser, fh.url, 'Stadtrat', n));
  for (let i = 0; i < 3; i++)
    await waitReceives(pages[i], names.filter((n) => n !== names[i]), 15000, names[i]);
  const ids = await Promise.all(pages.map((p) => p.evaluate(() => window.funkhaus.state.id)));

  const calm = (await longestFreeze(pages, 6000)).worst;
  console.log(`without a restart: longest stretch without a new frame ${calm} ms`);

  const t0 = Date.now();
  const during = longestFreeze(pages, 12000);
  await sleep(1000);
  const restart = fh.restartCp('SIGKILL', 3000);
  // what a citizen sees while no control plane runs: the call, and a note that it goes on
  await sleep(1500);
  writeFileSync(join(fh.dir, 'restart-during.png'), await pages[0].screenshot());
  await restart;
  const restarted = Date.now() - t0;
  let back = 0;
  for (let i = 0; i < 100 && !back; i++) {
    const states = await Promise.all(pages.map((p) => p.evaluate(
      () => ({ joined: window.funkhaus.state.joined, resuming: window.funkhaus.state.resuming }))));
    if (states.every((s) => s.joined && !s.resuming)) back = Date.now() - t0 - restarted;
    else await sleep(100);
  }
  const { worst: freeze, where } = await during;
  console.log(`kill -9 and a new funkhaus-cp 3 s later: signalling back on every page ${back} ms ` +
    `after the new one served; longest stretch without a new frame ${freeze} ms`);
  if (!back) fail('a page did not get its signalling back');
  const after = await Promise.all(pages.map((p) => p.evaluate(() => window.funkhaus.state.id)));
  if (JSON.stringify(after) !== JSON.stringify(ids)) fail(`ids changed: ${ids} -> ${after}`);
  // a freeze no longer than without the kill, give or take a sampling round of three pages
  if (freeze > Math.max(calm, 500) + 1000) {
    // which stream, when (the kill came 1 s into the sampling), and what the page and the
    // dataplane say about its media now
    console.error(`the longest freeze: ${names[where.page]}'s video from ${where.peer}, ended ${where.ended} ms ` +
      `into the sampling (the kill at about 1000 ms, the new funkhaus-cp at ${restarted} ms); ` +
      `${names[where.page]}: ${await mediaDetail(pages[where.page])}`);
    fail(`pictures froze for ${freeze} ms (${calm} ms without the kill)`);
  }
  for (let i = 0; i < 3; i++) await waitPeers(pages[i], names.filter((n) => n !== names[i]), 5000, `${names[i]} after`);

  const dora = await openPage(browser, fh.url, 'Stadtrat', 'Dora');
  try {
    await waitReceives(dora, names, 15000, 'Dora, a newcomer after the restart');
  } catch (e) {
    console.error(JSON.stringify(await dora.evaluate(async () => {
      const st = window.funkhaus.state;
      const inb = [];
      (await st.pc.getStats()).forEach((x) => { if (x.type === 'inbound-rtp') inb.push([x.mid, x.kind, x.packetsReceived, x.ssrc]); });
      return { peers: [...st.peers.keys()], want: st.want, busy: st.busy, pending: st.pending,
        tr: st.pc.getTransceivers().map((t) => [t.mid, t.direction, t.currentDirection]), inb,
        remote: st.pc.remoteDescription && st.pc.remoteDescription.sdp.split('\r\n').filter((l) => /^(m=|a=mid|a=msid|a=ssrc:\d+ msid|a=(send|recv|inactive))/.test(l)) };
    })));
    throw e;
  }
  for (let i = 0; i < 3; i++) await waitReceives(pages[i], ['Dora'], 15000, `${names[i]} meets Dora`);
  console.log('a newcomer after the restart meets all three, and they meet her');
  for (const [i, p] of [...pages, dora].entries())
    writeFileSync(join(fh.dir, `restart-${i}.png`), await p.screenshot());
  // and on a phone
  await pages[1].setViewportSize({ width: 390, height: 844 });
  await sleep(500);
  writeFileSync(join(fh.dir, 'restart-phone.png'), await pages[1].screenshot());
  console.log(`screenshots in ${fh.dir}`);
} catch (e) {
  fh.dumpLogs();
  if (!process.exitCode) process.exitCode = 1;
  console.error(e);
} finally {
  await browser.close();
  await fh.stop();
}
