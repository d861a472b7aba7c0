// Browser test through the DPDK backend (run by tests/dpdk/run.sh in its namespaces): two
// headless Chromium pages load the web client over HTTPS from funkhaus-cp and send their media
// to funkhaus-dp's DPDK port; each decodes the other's video and audio.
import { startFunkhaus, launchBrowser, openPage, waitReceives } from './lib.mjs';

const fh = await startFunkhaus({ build: process.env.FUNKHAUS_BUILD, source: process.env.FUNKHAUS_SOURCE,
  workers: Number(process.env.FUNKHAUS_TEST_WORKERS || 1) });
const browser = await launchBrowser();
let ok = false;
try {
  const t0 = Date.now();
  const a = await openPage(browser, fh.url, 'UeberDPDK', 'Anna');
  const b = await openPage(browser, fh.url, 'UeberDPDK', 'Bernd');
  await waitReceives(a, ['Bernd'], 20000, 'Anna');
  await waitReceives(b, ['Anna'], 20000, 'Bernd');
  const pair = await a.evaluate(async () => {
    let remote = '';
    (await window.funkhaus.state.pc.getStats()).forEach((s) => {
      if (s.type === 'remote-candidate') remote = s.address || s.ip;
    });
    return remote;
  });
  if (pair !== process.env.FUNKHAUS_ANNOUNCE) throw new Error(`media went to ${pair}, not the DPDK port`);
  console.log(`two pages decode each other through the DPDK port ${pair} after ${Date.now() - t0} ms`);
  ok = true;
} finally {
  await browser.close();
  await fh.stop();
  if (!ok) fh.dumpLogs();
}
console.log(ok ? 'PASS' : 'FAIL');
process.exit(ok ? 0 : 1);
