// Browser test of the page's dialogs and messages, in German and English: a moderator sets a
// password in a dialog with a masked field; a guest is asked for it in the page (masked), a
// wrong one is said so, in each language; a server error reaches a person in German and in
// English, as a refused join and as an error dialog in the room; removing someone and ending
// the meeting ask first; chat lines carry the local time of the message and a closed panel
// counts what came in; the moderator hears a chime and sees "(1)" in the tab title when someone
// waits in the lobby; the pre-join page shows the camera, a microphone level, camera and
// microphone choice, joins muted and keeps the name in this browser; another camera in the
// room replaces the track on the same simulcast sender; a camera whose permission is refused is
// told apart from a missing one. Every check is reported; screenshots go to the log folder.
import { startFunkhaus, launchBrowser, openPage, openSide, waitReceives, waitPeers, shot, sleep, fail, foreign } from './lib.mjs';

const fh = await startFunkhaus({ build: process.env.FUNKHAUS_BUILD, source: process.env.FUNKHAUS_SOURCE });
// three fake cameras: Chromium's second gives Y16 frames that no encoder takes, its third MJPEG
const browser = await launchBrowser({ args: ['--use-fake-device-for-media-stream=device-count=3'] });
let denied = null;
const problems = [];
const check = (cond, msg) => { if (!cond) { problems.push(msg); console.error(`FAIL: ${msg}`); } else console.log(`ok: ${msg}`); };
const viewport = { width: 1280, height: 800 };
const english = "localStorage.setItem('funkhaus.lang', 'en');";
let ok = false;

// the open dialog: title, text, whether it has a field and of which type; null when none
const dialog = (p) => p.evaluate(() => {
  const d = document.querySelector('dialog[open]');
  if (!d) return null;
  const input = d.querySelector('input:not([hidden])');
  return { title: (d.querySelector('h2') || {}).textContent || '', text: d.textContent.replace(/\s+/g, ' ').trim(),
    input: input ? input.type : null };
});
const waitDialog = async (p, re, label) => {
  for (let i = 0; i < 50; i++) {
    const d = await dialog(p);
    if (d && re.test(d.text)) return d;
    await sleep(200);
  }
  const d = await dialog(p);
  check(false, `${label}: no dialog matching ${re} (${JSON.stringify(d)})`);
  return d;
};
const leftTitle = async (p) => {
  await p.waitForSelector('#left', { state: 'visible', timeout: 10000 }).catch(() => {});
  return p.evaluate(() => document.querySelector('#left-title').textContent);
};

try {
  // --- passwords ---
  const m = await openPage(browser, fh.url, 'Elternabend', 'Maria', '', null, { viewport });
  await m.waitForSelector('#conference', { state: 'visible', timeout: 10000 });
  await openSide(m);
  await m.click('#set-pw');
  let d = await waitDialog(m, /Passwort/, 'set password');
  check(d && d.input === 'password', `the moderator's password field is masked (${JSON.stringify(d)})`);
  await shot(m, fh.dir, 'dialogs-set-password.png');
  await m.fill('#dialog-input', 'Sommerfest24');
  await m.click('#dialog-ok');
  await sleep(500);

  const g = await openPage(browser, fh.url, 'Elternabend', 'Georg', '', null, { viewport });
  d = await waitDialog(g, /Dieser Raum hat ein Passwort/, 'Georg asked for the password');
  check(d && d.input === 'password', `the guest's password field is masked (${JSON.stringify(d)})`);
  await shot(g, fh.dir, 'dialogs-password-de.png');
  await g.fill('#dialog-input', 'falsch');
  await g.click('#dialog-ok');
  d = await waitDialog(g, /Das Passwort stimmt nicht/, 'Georg told the password is wrong');
  await shot(g, fh.dir, 'dialogs-wrong-password-de.png');
  await g.fill('#dialog-input', 'Sommerfest24');
  await g.click('#dialog-ok');
  await g.waitForSelector('#conference', { state: 'visible', timeout: 10000 }).catch(() => check(false, 'Georg did not get in with the password'));

  const h = await openPage(browser, fh.url, 'Elternabend', 'Hanna', '', english, { viewport });
  d = await waitDialog(h, /This room has a password/, 'Hanna asked for the password in English');
  check(d && d.input === 'password' && /Password/.test(d.title), `the English password dialog (${JSON.stringify(d)})`);
  await shot(h, fh.dir, 'dialogs-password-en.png');
  await h.fill('#dialog-input', 'falsch');
  await h.click('#dialog-ok');
  await waitDialog(h, /Wrong password/, 'Hanna told the password is wrong, in English');
  await h.fill('#dialog-input', 'Sommerfest24');
  await h.click('#dialog-ok');
  await h.waitForSelector('#conference', { state: 'visible', timeout: 10000 }).catch(() => check(false, 'Hanna did not get in with the password'));
  await waitPeers(m, ['Georg', 'Hanna'], 10000, 'Maria');

  // --- server errors in both languages ---
  // a display name with a control character: the server refuses the join (4006)
  const xd = await openPage(browser, fh.url, 'Fehlerraum', '\u0007Xaver', '', null, { viewport });
  const xe = await openPage(browser, fh.url, 'Fehlerraum', '\u0007Xenia', '', english, { viewport });
  const td = await leftTitle(xd);
  const te = await leftTitle(xe);
  check(/Dieser Name ist nicht möglich/.test(td) && /4006/.test(td), `refused join in German: "${td}"`);
  check(/This name is not possible/.test(te) && /4006/.test(te), `refused join in English: "${te}"`);
  await shot(xd, fh.dir, 'dialogs-error-join-de.png');
  await shot(xe, fh.dir, 'dialogs-error-join-en.png');
  // a guest asks for something only moderators may do (4030): an error dialog in the room
  for (const p of [g, h]) await p.evaluate(() => window.funkhaus.state.ws.send(JSON.stringify({ type: 'moderate', action: 'end' })));
  d = await waitDialog(g, /Das darf nur die Moderation/, 'error dialog in German');
  check(d && /4030/.test(d.text), `error dialog in German: ${JSON.stringify(d)}`);
  await shot(g, fh.dir, 'dialogs-error-de.png');
  d = await waitDialog(h, /Only a moderator can do that/, 'error dialog in English');
  await shot(h, fh.dir, 'dialogs-error-en.png');
  for (const p of [g, h]) await p.click('#dialog-ok').catch(() => {});

  // every error code of docs/PROTOCOL.md has a German and an English text
  const codes = [...(await import('node:fs')).readFileSync(`${process.env.FUNKHAUS_SOURCE}/docs/PROTOCOL.md`, 'utf8')
    .matchAll(/^\| (\d{4}) \|/gm)].map((x) => x[1]);
  const texts = await m.evaluate(() => window.FH_I18N);
  const missing = codes.filter((c) => !texts.de[`err.${c}`] || !texts.en[`err.${c}`]);
  check(codes.length > 40 && missing.length === 0, `all ${codes.length} error codes in German and English (missing ${missing.join(', ')})`);
  const onlyDe = Object.keys(texts.de).filter((k) => !texts.en[k]);
  const onlyEn = Object.keys(texts.en).filter((k) => !texts.de[k]);
  check(!onlyDe.length && !onlyEn.length, `every text in both languages (${onlyDe.concat(onlyEn).join(', ')})`);

  // --- remove and end ask first ---
  const ids = Object.fromEntries(await Promise.all([['Georg', g], ['Hanna', h]].map(async ([n, p]) => [n, await p.evaluate(() => window.funkhaus.state.id)])));
  await m.click(`#people li[data-id="${ids.Georg}"] button[data-action="remove"]`);
  d = await waitDialog(m, /Georg aus dem Raum entfernen/, 'remove asks first');
  await shot(m, fh.dir, 'dialogs-remove-confirm.png');
  await m.click('#dialog-cancel');
  await sleep(1500);
  check((await m.evaluate(() => window.funkhaus.peerNames())).includes('Georg') &&
    await g.evaluate(() => !document.querySelector('#conference').hidden), 'cancelled: Georg stays');
  await m.click(`#people li[data-id="${ids.Georg}"] button[data-action="remove"]`);
  await waitDialog(m, /Georg aus dem Raum entfernen/, 'remove asks again');
  await m.click('#dialog-ok');
  const gt = await leftTitle(g);
  check(gt === 'Die Moderation hat Sie aus dem Raum entfernt.', `confirmed: Georg removed ("${gt}")`);
  await m.click('#end');
  await waitDialog(m, /für alle beenden/, 'end asks first');
  await shot(m, fh.dir, 'dialogs-end-confirm.png');
  await m.click('#dialog-cancel');
  await sleep(1000);
  check(await h.evaluate(() => !document.querySelector('#conference').hidden), 'cancelled: the meeting goes on');

  // --- chat: local time, unread count ---
  await m.click('#side-close');
  await openSide(h);
  await h.fill('#chat-input', 'Guten Abend');
  const sent = Date.now();
  await h.click('#chat-form button');
  await m.waitForFunction(() => { const b = document.querySelector('#chat-badge'); return b && !b.hidden && b.textContent === '1'; },
    null, { timeout: 5000 }).catch(() => check(false, 'no unread badge "1" on the closed panel'));
  await shot(m, fh.dir, 'dialogs-chat-unread.png');
  await openSide(m);
  const line = await m.evaluate(() => {
    const li = [...document.querySelectorAll('#chat-log li')].pop();
    const tm = li && li.querySelector('time');
    return { text: li ? li.textContent : '', time: tm ? tm.textContent : '', at: tm ? tm.dateTime : '',
      badge: !document.querySelector('#chat-badge').hidden };
  });
  const at = Date.parse(line.at);
  const local = new Date(at).toLocaleTimeString('de-DE', { hour: '2-digit', minute: '2-digit' });
  check(Math.abs(at - sent) < 60000 && line.time === local && /Guten Abend/.test(line.text),
    `chat line with the message's local time (${JSON.stringify(line)}, expected ${local})`);
  check(!line.badge, 'the badge goes when the panel opens');
  await shot(m, fh.dir, 'dialogs-chat.png');

  // --- the lobby alerts the moderator: a chime and the tab title ---
  await m.click('#set-pw');
  await waitDialog(m, /Passwort/, 'clear the password');
  await m.click('#dialog-ok'); // empty: no password
  await m.click('#lobby-toggle');
  await sleep(500);
  const tones = await m.evaluate(() => window.funkhaus.state.tones);
  const w = await openPage(browser, fh.url, 'Elternabend', 'Walter', '', null, { viewport });
  await w.waitForSelector('#lobby', { state: 'visible', timeout: 10000 }).catch(() => check(false, 'Walter does not wait in the lobby'));
  await m.waitForFunction(() => document.title.startsWith('(1) '), null, { timeout: 5000 }).catch(() => {});
  const title = await m.title();
  check(title.startsWith('(1) '), `the moderator's tab title counts who waits ("${title}")`);
  check(await m.evaluate(() => window.funkhaus.state.tones) > tones, 'a chime played');
  await shot(m, fh.dir, 'dialogs-lobby-alert.png');
  await m.click('#waiting-list li:has-text("Walter") button[data-action="admit"]');
  await m.waitForFunction(() => !document.title.startsWith('('), null, { timeout: 5000 }).catch(() => {});
  check(!(await m.title()).startsWith('('), 'the title is back once nobody waits');
  await m.click('#lobby-toggle'); // off again: the next one comes straight in

  // --- pre-join: preview, level, devices, join muted, the name kept in this browser ---
  const p = await openPage(browser, fh.url, 'Elternabend', 'Paula', '', null, { viewport, prejoin: true });
  await p.waitForSelector('#prejoin', { state: 'visible', timeout: 10000 });
  await sleep(2500);
  const pre = await p.evaluate(() => {
    const opts = (id) => [...document.querySelectorAll(`#${id} option`)].map((o) => o.textContent);
    const v = document.querySelector('#preview');
    return { video: v.videoWidth, cams: opts('cam-select'), mics: opts('mic-select'),
      level: Number(document.querySelector('#mic-meter').getAttribute('aria-valuenow')),
      note: document.querySelector('#preview-note').hidden ? '' : document.querySelector('#preview-note').textContent };
  });
  let peak = pre.level;
  for (let i = 0; i < 30 && peak === 0; i++) {
    await sleep(100);
    peak = Math.max(peak, await p.evaluate(() => Number(document.querySelector('#mic-meter').getAttribute('aria-valuenow'))));
  }
  check(pre.video > 0, `pre-join: the camera preview plays (${pre.video} px)`);
  check(pre.cams.length >= 2 && pre.mics.length >= 1, `pre-join: cameras ${JSON.stringify(pre.cams)}, microphones ${JSON.stringify(pre.mics)}`);
  check(peak > 0, `pre-join: the level meter moves (${peak})`);
  check(!pre.note, `pre-join: no device note (${pre.note})`);
  await shot(p, fh.dir, 'dialogs-prejoin.png');
  await p.check('#join-mic-off');
  await p.click('#join');
  // Georg was removed from this address (every page here has the same): whoever joins from
  // it waits in the lobby for the rest of the meeting, and the moderator lets Paula in
  await openSide(m);
  await m.waitForSelector('#waiting-list button[data-action="admit"]', { timeout: 15000 });
  await m.click('#waiting-list button[data-action="admit"]');
  await p.waitForSelector('#conference', { state: 'visible', timeout: 15000 });
  await waitPeers(p, ['Maria', 'Hanna', 'Walter'], 10000, 'Paula');
  const pid = await p.evaluate(() => window.funkhaus.state.id);
  check(await p.evaluate(() => document.querySelector('#mic').getAttribute('aria-pressed')) === 'true', 'joined muted: the microphone toggle is pressed');
  await m.waitForFunction((id) => { const mic = document.querySelector(`.tile[data-id="${id}"] .mic-state`); return mic && mic.classList.contains('muted'); },
    pid, { timeout: 5000 }).catch(() => check(false, 'Maria does not see Paula muted'));
  check(await p.evaluate(() => localStorage.getItem('funkhaus.name')) === 'Paula', 'the name is kept in this browser');
  const p2 = await openPage(browser, fh.url, 'Anderswo', '', '', null, { prejoin: true }).catch(() => null);
  // (a new context has its own storage: nothing of Paula's leaves her browser profile)
  if (p2) check(await p2.evaluate(() => document.querySelector('#name-input').value) === '', 'another browser profile does not know the name');

  // another camera in the room: the same sender, its simulcast encodings kept, still decoded
  await waitReceives(m, ['Paula'], 15000, 'Maria before the camera change');
  const before = await p.evaluate(() => {
    const tr = window.funkhaus.state.senders.video;
    return { track: tr.sender.track.id, label: tr.sender.track.label, enc: tr.sender.getParameters().encodings.length };
  });
  await p.click('#devices');
  await p.waitForSelector('#devices-dialog[open] #cam-select', { timeout: 5000 });
  const other = await p.evaluate(() => {
    const sel = document.querySelector('#cam-select');
    return [...sel.options].find((o) => o.textContent === 'fake_device_2').value;
  });
  await p.selectOption('#cam-select', other);
  await sleep(2000);
  await shot(p, fh.dir, 'dialogs-devices.png');
  const after = await p.evaluate(() => {
    const tr = window.funkhaus.state.senders.video;
    return { track: tr.sender.track.id, label: tr.sender.track.label, enc: tr.sender.getParameters().encodings.length,
      senders: window.funkhaus.state.pc.getSenders().filter((s) => s.track && s.track.kind === 'video').length };
  });
  check(after.track !== before.track && after.label !== before.label && after.enc === before.enc && before.enc === 3 && after.senders === 1,
    `camera changed on the same sender with its three encodings (${JSON.stringify(before)} → ${JSON.stringify(after)})`);
  // the new camera's frames reach Maria (bounded: 15 s, a loaded machine takes a while)
  const f0 = (await m.evaluate(() => window.funkhaus.received()))[pid];
  const t0 = Date.now();
  let f1 = f0;
  while (Date.now() - t0 < 15000) {
    await sleep(250);
    f1 = (await m.evaluate(() => window.funkhaus.received()))[pid];
    if (f0 && f1 && f1.framesDecoded > f0.framesDecoded) break;
  }
  check(f0 && f1 && f1.framesDecoded > f0.framesDecoded, `Maria still decodes Paula after the change (${f0 && f0.framesDecoded} → ${f1 && f1.framesDecoded} in ${Date.now() - t0} ms)`);
  await p.click('#devices-close');

  // --- camera permission refused (the microphone allowed) ---
  denied = await launchBrowser({ fakeUi: false });
  for (const [label, init, re] of [['de', null, /Zugriff auf die Kamera wurde verweigert/], ['en', english, /Access to the camera was denied/]]) {
    const q = await openPage(denied, fh.url, 'Elternabend', 'Quirin', '', init, { viewport, prejoin: true, permissions: ['microphone'] });
    await q.waitForSelector('#preview-note', { state: 'visible', timeout: 10000 }).catch(() => {});
    const note = await q.evaluate(() => document.querySelector('#preview-note').textContent);
    check(re.test(note) && !/no camera|keine kamera/i.test(note), `camera refused (${label}): "${note}"`);
    await shot(q, fh.dir, `dialogs-camera-denied-${label}.png`);
  }

  if (foreign.length) check(false, `requests to other origins: ${foreign.join(', ')}`);
  console.log(`screenshots in ${fh.dir}`);
  if (problems.length) fail(`${problems.length} checks failed:\n  ${problems.join('\n  ')}`);
  ok = true;
} catch (e) {
  console.error(e);
} finally {
  await browser.close();
  if (denied) await denied.close();
  await fh.stop();
  if (!ok) fh.dumpLogs();
}
console.log(ok ? 'PASS' : 'FAIL');
process.exit(ok ? 0 : 1);
