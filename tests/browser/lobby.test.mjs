// Browser test of the lobby: in a tenant whose rooms start with it on, the page that opens a
// room moderates it; two more pages wait with no media and no participant list; the moderator
// sees both by name, lets one in (both then decode each other) and turns the other away (its
// page says so, and it never received anything). No page makes a request to another origin.
import { startFunkhaus, launchBrowser, openPage, waitReceives, sleep, fail, foreign } from './lib.mjs';

const build = process.env.FUNKHAUS_BUILD;
const source = process.env.FUNKHAUS_SOURCE;
const fh = await startFunkhaus({ build, source, tenant: 'lobby = on\n' });
const browser = await launchBrowser();
const visible = (p, sel, label) => p.waitForSelector(sel, { state: 'visible', timeout: 10000 })
  .catch(() => fail(`${label}: ${sel} not shown`));
// what a page has of the room: peers listed, RTP received, whether it has a peer connection
const seen = (p) => p.evaluate(async () => {
  const s = window.funkhaus.state;
  let rtp = 0;
  if (s.pc) (await s.pc.getStats()).forEach((x) => { if (x.type === 'inbound-rtp') rtp += x.packetsReceived || 0; });
  return { peers: window.funkhaus.peerNames(), rtp, pc: !!s.pc, joined: s.joined };
});
let ok = false;
try {
  const m = await openPage(browser, fh.url, 'Buergersprechstunde', 'Maria');
  await visible(m, '#conference', 'Maria');
  if (!(await m.evaluate(() => window.funkhaus.state.moderator))) fail('the opener does not moderate');
  const w1 = await openPage(browser, fh.url, 'buergersprechstunde', 'Walter');
  const w2 = await openPage(browser, fh.url, 'Buergersprechstunde', 'Wilma');
  await visible(w1, '#lobby', 'Walter');
  await visible(w2, '#lobby', 'Wilma');
  await m.waitForFunction(() => document.querySelectorAll('#waiting-list li').length === 2, null,
    { timeout: 10000 }).catch(() => fail('the moderator does not see two waiting'));
  const names = await m.evaluate(() => [...document.querySelectorAll('#waiting-list li')].map((li) => li.firstChild.textContent));
  if (JSON.stringify(names.sort()) !== JSON.stringify(['Walter', 'Wilma'])) fail(`waiting list shows ${JSON.stringify(names)}`);
  await sleep(1500); // Maria's media flows meanwhile: none of it may reach the lobby
  for (const [p, who] of [[w1, 'Walter'], [w2, 'Wilma']]) {
    const s = await seen(p);
    if (s.peers.length || s.rtp || s.pc || s.joined) fail(`${who} in the lobby has something of the room: ${JSON.stringify(s)}`);
  }
  const mPeers = await m.evaluate(() => window.funkhaus.peerNames());
  if (mPeers.length) fail(`the room lists those waiting: ${JSON.stringify(mPeers)}`);
  console.log('two wait in the lobby with nothing of the room; the moderator sees both by name');

  const t0 = Date.now();
  await m.click('#waiting-list li:has-text("Walter") button[data-action="admit"]');
  await waitReceives(w1, ['Maria'], 10000, 'Walter after being let in');
  await waitReceives(m, ['Walter'], 10000, 'Maria after letting Walter in');
  console.log(`let in: Walter and Maria decode each other after ${Date.now() - t0} ms`);

  await m.click('#waiting-list li:has-text("Wilma") button[data-action="deny"]');
  await visible(w2, '#left', 'Wilma after being turned away');
  const title = await w2.evaluate(() => document.querySelector('#left-title').textContent);
  if (title !== 'Die Moderation hat Sie nicht eingelassen.') fail(`Wilma's page says "${title}"`);
  const s2 = await seen(w2);
  if (s2.peers.length || s2.rtp || s2.pc) fail(`Wilma got something of the room: ${JSON.stringify(s2)}`);
  await m.waitForFunction(() => document.querySelector('#waiting-panel').hidden, null, { timeout: 5000 })
    .catch(() => fail('the waiting panel still shows someone'));
  const listed = await m.evaluate(() => window.funkhaus.peerNames());
  if (JSON.stringify(listed) !== JSON.stringify(['Walter'])) fail(`Maria lists ${JSON.stringify(listed)}`);
  console.log('turned away: Wilma\'s page says so and never had any media');

  if (foreign.length) fail(`requests to other origins: ${foreign.join(', ')}`);
  console.log('no request to another origin');
  ok = true;
} finally {
  await browser.close();
  await fh.stop();
  if (!ok) fh.dumpLogs();
}
console.log(ok ? 'PASS' : 'FAIL');
process.exit(ok ? 0 : 1);
