// Browser test of room names as people type them: one page opens "Bürgersprechstunde" from
// the start page, the other follows the link https://…/B%C3%BCrgersprechstunde, and both meet
// (each decodes the other); the same with a space ("Elternabend  4b" typed, the link
// /Elternabend%204b). In the room a page raises its hand (the button says so with aria-pressed,
// the other page marks its tile and list entry) and the moderator lowers it from the list; the
// moderator removes that page, whose "Wieder eintreten" then lands in the lobby (marked for the
// moderator as one removed), and only the moderator's "let in" brings it back. An
// address that is no room shows the client's "not found" page. Screenshots go to the log folder.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFunkhaus, launchBrowser, openPage, openSide, waitReceives, fail, foreign } from './lib.mjs';

const build = process.env.FUNKHAUS_BUILD;
const source = process.env.FUNKHAUS_SOURCE;
const fh = await startFunkhaus({ build, source });
const browser = await launchBrowser();
const shot = async (page, name) => {
  try { writeFileSync(join(fh.dir, `names-${name}.png`), await page.screenshot()); } catch (e) {
    console.error(`screenshot ${name}: ${e.message}`);
  }
};
const visible = (p, sel, label) => p.waitForSelector(sel, { state: 'visible', timeout: 10000 })
  .catch(() => fail(`${label}: ${sel} not shown`));

// a page that types the room's name on the start page, then its own name
async function fromStartPage(page, typed, name) {
  await page.goto(`${fh.url}/`);
  await visible(page, '#start', name);
  await page.fill('#room-input', typed);
  await page.click('#go');
  await visible(page, '#prejoin', name);
  await page.fill('#name-input', name);
  await page.click('#join');
  await visible(page, '#conference', name);
}

let ok = false;
try {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  const a = await ctx.newPage();
  a.on('pageerror', (e) => console.error(`[Anna] page error: ${e.message}`));
  for (const [typed, link, shown] of [
    ['Bürgersprechstunde', 'B%C3%BCrgersprechstunde', 'Bürgersprechstunde'],
    ['  Elternabend  4b ', 'Elternabend%204b', 'Elternabend 4b'],
  ]) {
    const t0 = Date.now();
    await fromStartPage(a, typed, 'Anna');
    const b = await openPage(browser, fh.url, link, 'Bernd');
    await waitReceives(a, ['Bernd'], 15000, `Anna in ${shown}`);
    await waitReceives(b, ['Anna'], 15000, `Bernd in ${shown}`);
    const where = await a.evaluate(() => [location.pathname, document.querySelector('#room-title').textContent]);
    const there = await b.evaluate(() => [location.pathname, document.querySelector('#room-title').textContent]);
    if (where[0] !== `/${link}` || where[1] !== shown) fail(`Anna's page is at ${JSON.stringify(where)}`);
    if (there[0] !== `/${link}` || there[1] !== shown) fail(`Bernd's page is at ${JSON.stringify(there)}`);
    console.log(`"${typed}" typed and /${link} followed: one room "${shown}", both decode each other after ${Date.now() - t0} ms`);

    if (shown === 'Elternabend 4b') {
      // a raised hand: pressed on Anna's page, marked on Bernd's; the moderator lowers it
      await openSide(a); // the list with the moderator's buttons
      await b.click('#hand');
      await b.waitForFunction(() => document.querySelector('#hand').getAttribute('aria-pressed') === 'true',
        null, { timeout: 5000 }).catch(() => fail('Bernd\'s hand button is not pressed'));
      await a.waitForFunction(() => document.querySelector('.tile.hand') !== null &&
        document.querySelector('#people .hand-mark') !== null, null, { timeout: 5000 })
        .catch(() => fail('Anna sees no raised hand'));
      await shot(a, 'hand-moderator');
      await shot(b, 'hand-raised');
      await a.click('#people button[data-action="lower"]');
      await b.waitForFunction(() => document.querySelector('#hand').getAttribute('aria-pressed') === 'false',
        null, { timeout: 5000 }).catch(() => fail('the moderator did not lower Bernd\'s hand'));
      await a.waitForFunction(() => document.querySelector('.tile.hand') === null, null, { timeout: 5000 })
        .catch(() => fail('Anna still sees a raised hand'));
      console.log('hand raised (aria-pressed, tile and list marked) and lowered by the moderator');

      // removed, and back with one click: into the lobby, though the room has none
      await a.click('#people button[data-action="remove"]');
      await a.waitForSelector('#dialog[open]', { timeout: 5000 }); // it asks first
      await a.click('#dialog-ok');
      await visible(b, '#left', 'Bernd removed');
      const said = await b.evaluate(() => document.querySelector('#left-title').textContent);
      if (said !== 'Die Moderation hat Sie aus dem Raum entfernt.') fail(`Bernd's page says "${said}"`);
      await b.click('#rejoin');
      await visible(b, '#lobby', 'Bernd back');
      await a.waitForFunction(() => document.querySelector('#waiting-list li') !== null &&
        document.querySelector('#waiting-list li').textContent.includes('wurde entfernt'), null,
      { timeout: 10000 }).catch(() => fail('Anna does not see Bernd waiting as one removed'));
      await shot(a, 'returning-moderator');
      if ((await b.evaluate(() => window.funkhaus.peerNames())).length) fail('Bernd in the lobby lists the room');
      const t1 = Date.now();
      await a.click('#waiting-list button[data-action="admit"]');
      await waitReceives(b, ['Anna'], 15000, 'Bernd let in again');
      console.log(`removed, back with one click into the lobby, let in by the moderator: decodes again after ${Date.now() - t1} ms`);
    } else {
      await shot(a, 'umlaut');
    }
    await a.click('#leave');
    await b.close();
  }

  // an address that is no room: the client's page says so, with the way to the start page
  const n = await ctx.newPage();
  await n.goto(`${fh.url}/a/b/c`);
  await visible(n, '#left', 'not found');
  const title = await n.evaluate(() => document.querySelector('#left-title').textContent);
  if (title !== 'Diese Seite gibt es nicht.') fail(`the not-found page says "${title}"`);
  if (!(await n.evaluate(() => document.querySelector('#notfound-start') !== null)))
    fail('the not-found page has no link to the start page');
  await shot(n, 'notfound');
  console.log('an unknown address: the client\'s "not found" page');

  if (foreign.length) fail(`requests to other origins: ${foreign.join(', ')}`);
  ok = true;
} finally {
  await browser.close();
  await fh.stop();
  if (!ok) fh.dumpLogs();
}
console.log(`screenshots in ${fh.dir}`);
console.log(ok ? 'PASS' : 'FAIL');
process.exit(ok ? 0 : 1);
