// Browser test: two, then three headless Chromium pages in one room each decode video and
// audio from every other within 10 s; a page in another room receives nothing; a page that
// leaves disappears from the others' lists.
import { startFunkhaus, launchBrowser, openPage, openSide, waitReceives, waitPeers, sleep, fail, foreign } from './lib.mjs';

const build = process.env.FUNKHAUS_BUILD;
const source = process.env.FUNKHAUS_SOURCE;
const fh = await startFunkhaus({ build, source });
const browser = await launchBrowser();
let ok = false;
try {
  const t0 = Date.now();
  const a = await openPage(browser, fh.url, 'KulturvereinMarion', 'Anna');
  const b = await openPage(browser, fh.url, 'kulturvereinmarion', 'Bernd'); // names are case-insensitive
  await waitReceives(a, ['Bernd'], 10000, 'Anna');
  await waitReceives(b, ['Anna'], 10000, 'Bernd');
  console.log(`two pages: both decode each other after ${Date.now() - t0} ms`);

  // RTCP from the SFU keeps Chrome's statistics sane: receiver reports (with round-trip time
  // from LSR/DLSR) and transport-wide feedback reach the publisher (its congestion control
  // sets a target within the simulcast layers' maxima), translated sender reports the
  // receiver.
  const rtcp = async () => a.evaluate(async () => {
    const out = { rtt: {}, remoteOut: {}, videoTarget: 0 };
    (await window.funkhaus.state.pc.getStats()).forEach((s) => {
      if (s.type === 'remote-inbound-rtp') out.rtt[s.kind] = s.roundTripTime || 0;
      if (s.type === 'remote-outbound-rtp') out.remoteOut[s.kind] = s.packetsSent || 0;
      // one outbound-rtp per simulcast layer
      if (s.type === 'outbound-rtp' && s.kind === 'video') out.videoTarget += s.targetBitrate || 0;
    });
    return out;
  });
  let r = await rtcp();
  for (let i = 0; i < 40 && !(r.rtt.audio > 0 && r.rtt.video > 0 && r.remoteOut.audio > 0 && r.remoteOut.video > 0); i++) {
    await sleep(250);
    r = await rtcp();
  }
  if (!(r.rtt.audio > 0 && r.rtt.video > 0)) fail(`no round-trip time from the SFU's receiver reports: ${JSON.stringify(r)}`);
  if (!(r.remoteOut.audio > 0 && r.remoteOut.video > 0)) fail(`no sender reports reached the receiver: ${JSON.stringify(r)}`);
  // the web client's layers: 100 + 450 + 1500 kbit/s at most
  if (!(r.videoTarget > 0 && r.videoTarget <= 2050000)) fail(`no video target bitrate within the layers' maxima: ${JSON.stringify(r)}`);
  console.log(`RTCP: RTT ${Math.round(r.rtt.video * 1000)} ms from receiver reports, sender reports translated, video target ${r.videoTarget} bit/s from transport-wide feedback`);

  const t1 = Date.now();
  const c = await openPage(browser, fh.url, 'KulturvereinMarion', 'Clara');
  const d = await openPage(browser, fh.url, 'Gemeinderat', 'Dora');
  await waitReceives(c, ['Anna', 'Bernd'], 10000, 'Clara');
  await waitReceives(a, ['Bernd', 'Clara'], 10000, 'Anna');
  await waitReceives(b, ['Anna', 'Clara'], 10000, 'Bernd');
  console.log(`three pages: all decode all after ${Date.now() - t1} ms`);

  await sleep(1000);
  const dRecv = await d.evaluate(() => window.funkhaus.received());
  const dPeers = await d.evaluate(() => window.funkhaus.peerNames());
  if (Object.keys(dRecv).length || dPeers.length)
    fail(`page in another room received ${JSON.stringify(dRecv)} / lists ${JSON.stringify(dPeers)}`);
  const dInbound = await d.evaluate(async () => {
    let n = 0;
    (await window.funkhaus.state.pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp') n += s.packetsReceived || 0;
    });
    return n;
  });
  if (dInbound) fail(`page in another room received ${dInbound} RTP packets`);
  for (const [p, who] of [[a, 'Anna'], [b, 'Bernd'], [c, 'Clara']]) {
    const names = await p.evaluate(() => window.funkhaus.peerNames());
    if (names.includes('Dora')) fail(`${who} lists Dora from another room`);
  }
  console.log('page in another room: nothing received, listed nowhere');

  // chat reaches everyone in the room as text, never as markup, and nobody outside it
  await openSide(a);
  await a.fill('#chat-input', 'Hallo <b>alle</b>');
  await a.click('#chat-form button');
  for (const [p, who] of [[b, 'Bernd'], [c, 'Clara']]) {
    await p.waitForFunction(() => document.querySelector('#chat-log').textContent.includes('Hallo <b>alle</b>'),
      null, { timeout: 5000 }).catch(() => fail(`${who} did not get the chat message`));
    if (await p.evaluate(() => document.querySelector('#chat-log b') !== null))
      fail(`${who} rendered chat text as HTML`);
  }
  if ((await d.evaluate(() => document.querySelector('#chat-log').textContent)).length)
    fail('chat reached a page in another room');
  console.log('chat reaches the room as text and no one else');

  // whichever of Anna and Bernd opened the room moderates it (the other and Clara do not):
  // the moderator mutes the other from the list, and that page's microphone goes off
  const isMod = async (p) => p.evaluate(() => window.funkhaus.state.moderator);
  const [aMod, bMod, cMod] = [await isMod(a), await isMod(b), await isMod(c)];
  if (aMod === bMod || cMod) fail(`exactly the room's opener moderates (${aMod}, ${bMod}, ${cMod})`);
  const [mod, guest] = aMod ? [a, b] : [b, a];
  const gid = await guest.evaluate(() => window.funkhaus.state.id);
  await openSide(mod);
  await mod.click(`#people li[data-id="${gid}"] button[data-action="mute"]`);
  await guest.waitForFunction(() => window.funkhaus.state.audioMuted, null, { timeout: 5000 })
    .catch(() => fail('the moderator\'s mute did not reach the guest'));
  console.log('the opener mutes a guest from the participant list');

  await c.click('#leave');
  await waitPeers(a, ['Bernd'], 5000, 'Anna after Clara left');
  await waitPeers(b, ['Anna'], 5000, 'Bernd after Clara left');
  console.log('a page that leaves disappears from the others\' lists');

  // the tenant's name on the page, and not one request to another origin from any page
  const brand = await a.evaluate(() => document.querySelector('#brand').textContent);
  if (brand !== 'Funkhaus test') fail(`the page shows "${brand}", not the tenant's name`);
  if (foreign.length) fail(`requests to other origins: ${foreign.join(', ')}`);
  console.log('tenant name shown; no request to another origin');
  ok = true;
} finally {
  await browser.close();
  await fh.stop();
  if (!ok) fh.dumpLogs();
}
console.log(ok ? 'PASS' : 'FAIL');
process.exit(ok ? 0 : 1);
