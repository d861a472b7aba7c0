// Two nodes of a cluster on loopback, seen from the web client: a redis-server with a
// password started by this test, nodes a (port 8443) and b (8444), each a funkhaus-dp and
// funkhaus-cp with its own [instance] name and media port. Anna opens the room through a, Bernd
// through b: one of them follows a redirect, and they meet. Anna (the moderator) sets a
// password. The node holding the room is killed (kill -9 of both daemons): both pages show
// that they reconnect, rejoin the same room on the other node by themselves (the one whose own
// address was the dead node through joined.nodes), Anna with the password her page kept in
// memory, Bernd asked for it (he never typed it) - and they see each other again. funkhausctl
// nodes, cluster-rooms and drain --wait are checked against the real nodes on the way; Redis
// holds no room name and no display name. Screenshots in the log folder; the time from the
// kill until both decode each other again is printed.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { launchBrowser, openPage, openSide, waitReceives, shot, sleep, fail } from './lib.mjs';

const build = process.env.FUNKHAUS_BUILD;
const source = process.env.FUNKHAUS_SOURCE;
const dir = mkdtempSync(join(tmpdir(), 'funkhaus-cluster-'));
const procs = [];
const logDir = process.env.FUNKHAUS_LOGDIR || dir;
const redisPort = 6390;
const password = randomBytes(18).toString('hex');
const token = randomBytes(24).toString('hex');
writeFileSync(join(dir, 'redis.pass'), password, { mode: 0o600 });
writeFileSync(join(dir, 'cluster.secret'), randomBytes(32).toString('hex'), { mode: 0o600 });

function startRedis() {
  mkdirSync(join(dir, 'redis'));
  writeFileSync(join(dir, 'redis.conf'), `bind 127.0.0.1\nport ${redisPort}\nrequirepass ${password}\n` +
    `appendonly yes\nappendfsync everysec\nsave ""\ndir ${dir}/redis\nlogfile ${dir}/redis.log\n`, { mode: 0o600 });
  const p = spawn('redis-server', [join(dir, 'redis.conf')], { stdio: 'ignore' });
  procs.push(p);
  return p;
}

// redis-cli against the test's Redis (the password through the environment, not argv)
const redis = (...args) => execFileSync('redis-cli', ['-p', String(redisPort), '--raw', ...args],
  { env: { ...process.env, REDISCLI_AUTH: password }, encoding: 'utf8' });

const nodes = {
  a: { port: 8443, base: 40000 },
  b: { port: 8444, base: 40010 },
};
for (const [id, n] of Object.entries(nodes)) {
  n.id = id;
  n.url = `https://127.0.0.1:${n.port}`;
  n.host = `127.0.0.1:${n.port}`;
}

async function startNode(n) {
  const d = join(dir, n.id);
  mkdirSync(join(d, 'state'), { recursive: true });
  if (!n.conf) {
    const gen = spawn(`${source}/scripts/gen-cert.sh`, [join(d, 'tls')], { stdio: 'ignore' });
    await new Promise((r) => gen.on('exit', r));
    n.conf = join(d, 'funkhaus.conf');
    writeFileSync(n.conf, `[instance]\nname = c${process.pid}${n.id}\n[dataplane]\nworkers = 1\n` +
      `base_port = ${n.base}\nbind = 127.0.0.1\n[controlplane]\nport = ${n.port}\n` +
      `tls_cert = ${d}/tls/cert.pem\ntls_key = ${d}/tls/key.pem\nweb_root = ${source}/controlplane/web\n` +
      `announce = 127.0.0.1\nstate_dir = ${d}/state\n` +
      `[api]\ntoken = tests * ${createHash('sha256').update(token).digest('hex')}\n` +
      `[tenant]\nname = test\ndisplay_name = Funkhaus test\n` +
      `[cluster]\nredis = 127.0.0.1:${redisPort}\npassword_file = ${dir}/redis.pass\n` +
      `secret_file = ${dir}/cluster.secret\nprefix = funkhaus:\nname = test\nnode = ${n.id}\n` +
      `url = ${n.url}\nregion = default\npools = default\ncapacity = 500\n`);
  }
  n.dp = spawn(`${build}/dataplane/funkhaus-dp`, ['-c', n.conf], { stdio: ['ignore', 'ignore', openSync(join(d, 'dp.log'), 'a')] });
  procs.push(n.dp);
  await sleep(500);
  n.cp = spawn(`${build}/controlplane/funkhaus-cp`, ['-c', n.conf], { stdio: ['ignore', 'ignore', openSync(join(d, 'cp.log'), 'a')] });
  procs.push(n.cp);
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${n.url}/readyz`)).status === 200) return;
    } catch (e) { /* not up yet */ }
    await sleep(100);
  }
  fail(`node ${n.id} did not get ready`);
}

const admin = async (n, path, method = 'GET') => {
  const r = await fetch(`${n.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
  return { status: r.status, body: await r.json().catch(() => null) };
};

// funkhausctl against node n: its output and exit status
function ctl(n, ...args) {
  try {
    const out = execFileSync(`${build}/controlplane/funkhausctl`, ['-k', '-u', n.url, ...args],
      { env: { ...process.env, FUNKHAUS_TOKEN: token, ASAN_OPTIONS: 'detect_leaks=0' }, encoding: 'utf8' });
    return { rc: 0, out };
  } catch (e) {
    return { rc: e.status, out: `${e.stdout || ''}${e.stderr || ''}` };
  }
}

async function until(what, ms, f) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await f();
    if (last) return last;
    await sleep(200);
  }
  fail(`not within ${ms} ms: ${what}`);
}

// which node holds the room now (its admin API lists it, by its key, with people in it)
async function holder(room) {
  for (const n of Object.values(nodes)) {
    if (n.dead) continue;
    const r = await admin(n, '/api/v1/tenants/test/rooms').catch(() => null);
    if (r && Array.isArray(r.body) && r.body.some((x) => x.name === room.toLowerCase() && x.participants > 0)) return n;
  }
  return null;
}

// answers the password dialog when it asks, with pw (a screenshot of it first, into file)
async function answerPassword(page, pw, ms, file = null) {
  await page.waitForSelector('#dialog[open] #dialog-input:not([hidden])', { timeout: ms });
  const text = await page.textContent('#dialog-text');
  if (file) await shot(page, logDir, file);
  await page.fill('#dialog-input', pw);
  await page.click('#dialog-ok');
  return text;
}

let browser = null;
try {
  startRedis();
  for (let i = 0; i < 50 && !/PONG/.test((() => { try { return redis('PING'); } catch (e) { return ''; } })()); i++) await sleep(100);
  await startNode(nodes.a);
  await startNode(nodes.b);
  await until('both nodes list two nodes', 15000, async () => {
    const v = await Promise.all(Object.values(nodes).map((n) => admin(n, '/api/v1/cluster')));
    return v.every((x) => x.body && x.body.redis === 'up' && x.body.nodes.length === 2);
  });
  const cn = ctl(nodes.a, 'nodes');
  console.log(`funkhausctl nodes (rc ${cn.rc}):\n${cn.out}`);
  if (cn.rc !== 0 || !/^a\*\s+https:\/\/127\.0\.0\.1:8443/m.test(cn.out) || !/^b\s+https:\/\/127\.0\.0\.1:8444/m.test(cn.out))
    fail('funkhausctl nodes does not list both nodes');

  browser = await launchBrowser();
  const room = 'Kreistag Süd';
  const t0 = Date.now();
  const anna = await openPage(browser, nodes.a.url, encodeURIComponent(room), 'Anna');
  await until('Anna joined', 20000, () => anna.evaluate(() => window.funkhaus.state.joined));
  const bernd = await openPage(browser, nodes.b.url, encodeURIComponent(room), 'Bernd');
  await waitReceives(anna, ['Bernd'], 30000, 'Anna');
  await waitReceives(bernd, ['Anna'], 30000, 'Bernd');
  const conn = async () => Promise.all([anna, bernd].map((p) => p.evaluate(() => window.funkhaus.conn())));
  let c = await conn();
  const held = await holder(room);
  console.log(`Anna through a, Bernd through b: they meet after ${Date.now() - t0} ms on node ${held && held.id}; ` +
    `signalling ${c.map((x) => x.url).join(', ')}; nodes known ${JSON.stringify(c.map((x) => x.nodes))}`);
  if (!held) fail('no node lists the room');
  if (!c.every((x) => x.url && new URL(x.url).host === held.host)) fail('a page does not talk to the node holding the room');
  if (JSON.stringify(c[0].nodes) !== JSON.stringify([held.id === 'a' ? nodes.b.host : nodes.a.host]))
    fail(`joined.nodes should name the other node: ${JSON.stringify(c[0].nodes)}`);

  // a node answers from its snapshot of the claims, read again every 2 s: the room a claimed a
  // moment ago shows on b within a few of those
  const listed = (x) => x.rc === 0 && new RegExp(`^test\\s+[0-9a-f]{32}\\s+${held.id}`, 'm').test(x.out);
  let cr = ctl(nodes.b, 'cluster-rooms');
  for (const deadline = Date.now() + 6000; !listed(cr) && Date.now() < deadline;) {
    await sleep(500);
    cr = ctl(nodes.b, 'cluster-rooms');
  }
  console.log(`funkhausctl cluster-rooms (rc ${cr.rc}):\n${cr.out}`);
  if (!listed(cr) || cr.out.includes('Kreistag'))
    fail('funkhausctl cluster-rooms does not list the room by its hash');

  // Anna moderates (she came first): she sets a password through the moderation panel
  if (!(await anna.evaluate(() => window.funkhaus.state.moderator))) fail('Anna is not moderator');
  await openSide(anna);
  await anna.click('#set-pw');
  await answerPassword(anna, 'Rübe-42', 5000);
  await until('the room has a password', 10000, async () => {
    const r = await admin(held, `/api/v1/tenants/test/rooms/${encodeURIComponent(room)}`);
    return r.body && r.body.password === true;
  });
  console.log('Anna set a password');
  await sleep(2500); // the record's write reaches Redis (the node's thread, every job at once)

  // nothing of names in Redis: keys and values
  const keys = redis('KEYS', '*').trim().split('\n').filter(Boolean);
  let dump = keys.join('\n');
  for (const k of keys) {
    const type = redis('TYPE', k).trim();
    const get = { string: ['GET'], hash: ['HGETALL'], set: ['SMEMBERS'], zset: ['ZRANGE', '0', '-1'], list: ['LRANGE', '0', '-1'] }[type];
    if (get) dump += `\n${redis(get[0], k, ...get.slice(1))}`;
  }
  console.log(`Redis keys: ${keys.sort().join(' ')}`);
  if (/Kreistag|kreistag|Anna|Bernd|Rübe/.test(dump)) fail('Redis holds a room name, a display name or the password');
  if (!keys.some((k) => /^funkhaus:rec:test:[0-9a-f]{32}$/.test(k))) fail('no room record in Redis');

  // drain --wait on the holder: its room goes on, so the wait ends without it
  const dw = ctl(held, 'drain', '--wait', '2');
  console.log(`funkhausctl drain --wait 2 (rc ${dw.rc}): ${dw.out.trim().split('\n').slice(-1)}`);
  if (dw.rc !== 1 || !/not drained after 2 s: 1 room\(s\) left/.test(dw.out)) fail('drain --wait should end with 1 and the room left');
  if (ctl(held, 'undrain').rc !== 0) fail('undrain');

  // --- the holder dies
  const other = held.id === 'a' ? nodes.b : nodes.a;
  const tk = Date.now();
  held.cp.kill('SIGKILL');
  held.dp.kill('SIGKILL');
  held.dead = true;
  console.log(`node ${held.id} killed (kill -9 of funkhaus-cp ${held.cp.pid} and funkhaus-dp ${held.dp.pid})`);
  await until('both pages show that they reconnect', 20000, async () => (await conn()).every((x) => x.banner && !x.joined));
  console.log(`both pages show the banner ${Date.now() - tk} ms after the kill: "${(await conn())[0].banner}"`);
  await shot(anna, logDir, 'cluster-reconnect-banner.png');
  // Bernd never typed the password: his page asks for it when the rejoin needs it
  const asked = await answerPassword(bernd, 'Rübe-42', 40000, 'cluster-reconnect-password.png');
  console.log(`Bernd asked for the password ${Date.now() - tk} ms after the kill: "${asked}"`);
  await waitReceives(anna, ['Bernd'], 40000, 'Anna after the kill');
  await waitReceives(bernd, ['Anna'], 40000, 'Bernd after the kill');
  const back = Date.now() - tk;
  c = await conn();
  console.log(`after kill -9 of node ${held.id}: both decode each other again ${back} ms later, on ` +
    `${c.map((x) => x.node).join(', ')}`);
  if (!c.every((x) => x.node === other.host && !x.banner)) fail(`the pages are not on node ${other.id}: ${JSON.stringify(c)}`);
  await shot(anna, logDir, 'cluster-reconnect-anna.png');
  await shot(bernd, logDir, 'cluster-reconnect-bernd.png');
  const after = ctl(other, 'nodes');
  console.log(`funkhausctl nodes on ${other.id} after the kill:\n${after.out}`);

  // both leave: drain --wait on the survivor ends with 0
  for (const p of [anna, bernd]) await p.click('#leave');
  const dz = ctl(other, 'drain', '--wait', '20');
  console.log(`funkhausctl drain --wait 20 after both left (rc ${dz.rc}): ${dz.out.trim().split('\n').slice(-1)}`);
  if (dz.rc !== 0) fail('drain --wait should end with 0 once the room is empty');
  console.log(`PASS: cluster-reconnect (screenshots and logs in ${logDir})`);
} catch (e) {
  for (const n of Object.values(nodes)) {
    for (const f of ['dp.log', 'cp.log']) {
      try { console.error(`--- ${n.id} ${f} ---\n${readFileSync(join(dir, n.id, f), 'utf8').split('\n').slice(-40).join('\n')}`); } catch (e2) { /* none */ }
    }
  }
  if (!process.exitCode) process.exitCode = 1;
  console.error(e);
} finally {
  if (browser) await browser.close();
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await sleep(300);
}
