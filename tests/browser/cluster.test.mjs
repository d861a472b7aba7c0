// Browser test of a Funkhaus cluster (suite "cluster": tests/cluster/browser.sh starts three
// nodes and Redis in namespaces of their own and runs this in the clients' namespace): two
// people open the same room link, each through another node; the page that reached a node
// not holding the room follows its redirect, and both decode each other's video and audio.
// Screenshots go to the test's log folder. FUNKHAUS_NODES: the nodes' base URLs, comma-separated.
import { launchBrowser, openPage, waitReceives, shot, fail, sleep } from './lib.mjs';

const nodes = (process.env.FUNKHAUS_NODES || '').split(',').filter(Boolean);
const logDir = process.env.FUNKHAUS_LOGDIR || '/tmp';
if (nodes.length < 2) fail('FUNKHAUS_NODES names fewer than two nodes');

const browser = await launchBrowser();
let ok = false;
try {
  const room = 'Kulturausschuss';
  const t0 = Date.now();
  // every WebSocket a page opens (its signalling, and the one a redirect sends it to)
  const record = () => {
    const W = window.WebSocket;
    window.__wsUrls = [];
    window.WebSocket = class extends W {
      constructor(url, protocols) {
        super(url, protocols);
        window.__wsUrls.push(String(url));
      }
    };
  };
  const a = await openPage(browser, nodes[0], room, 'Anna', '', record);
  const b = await openPage(browser, nodes[1], room, 'Bernd', '', record);
  await waitReceives(a, ['Bernd'], 20000, 'Anna');
  await waitReceives(b, ['Anna'], 20000, 'Bernd');
  console.log(`Anna through ${nodes[0]}, Bernd through ${nodes[1]}: both decode each other after ${Date.now() - t0} ms`);
  // the room lives on one node: the page that came in through the other talks to it now
  const hostOf = (u) => new URL(u).host;
  const hosts = async (page) => [...new Set((await page.evaluate(() => window.__wsUrls)).map(hostOf))];
  const seen = { Anna: await hosts(a), Bernd: await hosts(b) };
  console.log(`signalling to: Anna ${JSON.stringify(seen.Anna)}, Bernd ${JSON.stringify(seen.Bernd)}`);
  const redirected = seen.Anna.some((h) => h !== hostOf(nodes[0])) ||
    seen.Bernd.some((h) => h !== hostOf(nodes[1]));
  if (!redirected)
    fail('neither page talked to another node than the one it came through: no redirect was followed');
  await sleep(1000);
  await shot(a, logDir, 'cluster-anna.png');
  await shot(b, logDir, 'cluster-bernd.png');
  ok = true;
} catch (e) {
  if (!process.exitCode) console.error(`FAIL: ${e.stack || e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
if (ok && !process.exitCode) console.log('PASS: cluster');
