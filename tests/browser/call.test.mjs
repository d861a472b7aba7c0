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
