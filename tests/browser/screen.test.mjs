// Browser test: screen sharing. Three Chromium pages in one room; Anna shares her screen (the
// page's "Bildschirm teilen" button, getDisplayMedia): Bernd and Clara decode it on a receive
// slot the server marks as her screen, next to her camera, without renegotiating; when she
// stops, the screen tile goes and her camera stays. The tenant lets only moderators share:
// Bernd's share is refused (4050), nobody receives it, his page's share ends. Screenshots in
// the log folder.
import { startFunkhaus, launchBrowser, openPage, waitReceives, sleep, fail } from './lib.mjs';

const fh = await startFunkhaus({ build: process.env.FUNKHAUS_BUILD, source: process.env.FUNKHAUS_SOURCE,
  tenant: 'screen_share = moderators\n' });
const browser = await launchBrowser();
let ok = false;

// What a page decodes of id's screen: frames and width from the slot that carries it.
const screenOf = (page, id) => page.evaluate(async (who) => {
  const st = window.funkhaus.state;
  const out = { mapped: false, frames: 0, width: 0, camera: 0, offers: window.__offers || 0 };
  for (const tr of st.pc.getTransceivers()) {
    const slot = tr.mid !== null && st.videoSlots.get(tr.mid);
    if (!slot || slot.id !== who) continue;
    (await tr.receiver.getStats()).forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      if (slot.source === 'screen') {
        out.mapped = true;
        out.frames = s.framesDecoded || 0;
        out.width = s.frameWidth || 0;
      } else {
        out.camera = s.framesDecoded || 0;
      }
    });
  }
  out.tile = !!document.querySelector(`figure.screen[data-id="${who}"]`);
  return out;
}, id);

// counts this page's offers (a new publisher must not make the others offer again)
const countOffers = `(() => {
  const send = WebSocket.prototype.send;
  window.__offers = 0;
  WebSocket.prototype.send = function (d) {
    try { if (JSON.parse(d).type === 'offer') window.__offers++; } catch (e) { /* not JSON */ }
    return send.call(this, d);
  };
})();`;

try {
  const a = await openPage(browser, fh.url, 'Bauausschuss', 'Anna', '', countOffers);
  // Anna opens the room, so she moderates it and may share: the others come once she is in
  // (a page loaded is not yet a page joined; a busy machine let Bernd in first once)
  await a.waitForFunction(() => window.funkhaus.state.joined, null, { timeout: 15000 })
    .catch(() => fail('Anna did not join within 15 s'));
  if (!(await a.evaluate(() => window.funkhaus.state.moderator))) fail('Anna opened the room but does not moderate it');
  const b = await openPage(browser, fh.url, 'Bauausschuss', 'Bernd', '', countOffers);
  const c = await openPage(browser, fh.url, 'Bauausschuss', 'Clara', '', countOffers);
  await waitReceives(b, ['Anna', 'Clara'], 15000, 'Bernd');
  await waitReceives(c, ['Anna', 'Bernd'], 15000, 'Clara');
  const annaId = await a.evaluate(() => window.funkhaus.state.id);
  const before = await Promise.all([b, c].map((p) => p.evaluate(() => window.__offers)));

  const t0 = Date.now();
  await a.click('#screen');
  for (const [p, n] of [[b, 'Bernd'], [c, 'Clara']]) {
    let s = await screenOf(p, annaId);
    while (Date.now() - t0 < 15000 && !(s.frames > 0 && s.width > 0)) {
      await sleep(250);
      s = await screenOf(p, annaId);
    }
    if (!(s.mapped && s.frames > 0 && s.width > 0 && s.tile))
      fail(`${n} does not decode Anna's screen: ${JSON.stringify(s)}`);
    if (!(s.camera > 0)) fail(`${n} lost Anna's camera while she shares: ${JSON.stringify(s)}`);
    console.log(`${n} decodes Anna's screen after ${Date.now() - t0} ms (${s.width} px wide), her camera too`);
  }
  const after = await Promise.all([b, c].map((p) => p.evaluate(() => window.__offers)));
  if (after.some((x, i) => x !== before[i]))
    fail(`a screen share made the others offer again: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
  await sleep(1000);
  for (const [p, n] of [[a, 'anna'], [b, 'bernd']])
    await p.screenshot({ path: `${fh.dir}/screen-${n}.png` });

  // stop: the tile goes, the camera stays
  await a.click('#screen');
  const t1 = Date.now();
  let s = await screenOf(b, annaId);
  while (Date.now() - t1 < 10000 && (s.tile || s.mapped)) {
    await sleep(250);
    s = await screenOf(b, annaId);
  }
  if (s.tile || s.mapped) fail(`Bernd still shows Anna's screen after she stopped: ${JSON.stringify(s)}`);
  await waitReceives(b, ['Anna', 'Clara'], 10000, 'Bernd after the share');
  console.log(`stopped: gone from Bernd's page after ${Date.now() - t1} ms`);
  await b.screenshot({ path: `${fh.dir}/screen-stopped-bernd.png` });

  // Bernd is no moderator: his page offers no share (the button is disabled and says why), and
  // a share his page sends anyway (the button forced on: a page is not to be trusted) is
  // refused by the server and ends on his page
  const berndId = await b.evaluate(() => window.funkhaus.state.id);
  const btn = await b.evaluate(() => ({ disabled: document.getElementById('screen').disabled,
    title: document.getElementById('screen').title }));
  if (!btn.disabled || !btn.title) fail(`Bernd's share button is not disabled with a reason: ${JSON.stringify(btn)}`);
  console.log(`Bernd's share button: disabled, "${btn.title}"`);
  await b.evaluate(() => { document.getElementById('screen').disabled = false; });
  await b.click('#screen');
  const t2 = Date.now();
  let refused = '';
  while (Date.now() - t2 < 10000 && !/4050/.test(refused)) {
    await sleep(250);
    refused = await b.evaluate(() => document.querySelector('#toast').textContent);
  }
  if (!/4050/.test(refused)) fail(`Bernd's page was not told his share is refused: "${refused}"`);
  let sharing = true;
  for (let i = 0; i < 20 && sharing; i++) {
    sharing = await b.evaluate(() => !!window.funkhaus.state.screenTrack);
    if (sharing) await sleep(250);
  }
  if (sharing) fail('Bernd\'s page goes on sharing after the refusal');
  await sleep(1000);
  const sc = await screenOf(c, berndId);
  if (sc.mapped || sc.tile) fail(`Clara receives Bernd's refused screen: ${JSON.stringify(sc)}`);
  const screens = (await fh.downlinks()).flatMap((d) => d.downlink.receives)
    .filter((r) => r.source === 'screen' && r.from === berndId);
  if (screens.length) fail(`the server forwards Bernd's refused screen: ${JSON.stringify(screens)}`);
  console.log(`a share by a participant who is no moderator: refused (${refused.trim()}), forwarded to nobody`);
  ok = true;
} finally {
  await browser.close();
  await fh.stop();
  if (!ok) fh.dumpLogs();
}
console.log(ok ? 'PASS' : 'FAIL');
