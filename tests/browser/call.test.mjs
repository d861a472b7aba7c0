// Browser test: two, then three headless Chromium pages in one room each decode video and
// audio from every other within 10 s; a page in another room receives nothing; a page that
// leaves disappears from the others' lists.
import { startFunkhaus, launchBrowser, openPage, waitReceives, waitPeers, sleep, fail } from './lib.mjs';

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

  await c.click('#leave');
  await waitPeers(a, ['Bernd'], 5000, 'Anna after Clara left');
  await waitPeers(b, ['Anna'], 5000, 'Bernd after Clara left');
  console.log('a page that leaves disappears from the others\' lists');
  ok = true;
} finally {
  await browser.close();
  await fh.stop();
  if (!ok) fh.dumpLogs();
}
console.log(ok ? 'PASS' : 'FAIL');
process.exit(ok ? 0 : 1);
