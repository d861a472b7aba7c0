// Browser test of the dominant speaker: three pages in one room, each in its own Chromium with
// its own fake microphone, a WAV file made here with espeak-ng. Anna speaks first and then falls
// silent; Bernd's file is SILENCE_MS of silence, then speech; Clara's is silence only. Every page
// must show Anna as the dominant speaker (body data-speaker, the class "dominant" on her tile),
// then Bernd within BOUND_MS of his speech starting, and nobody ever Clara. Bernd's onset is known
// from when his page's getUserMedia gave it the microphone (the file plays from there); the time
// his audio level first rose at a receiver is printed too. The switch time is printed (bench/
// README.md quotes it); screenshots of the three pages go to the test's folder.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFunkhaus, launchBrowser, openPage, waitReceives, sleep, fail } from './lib.mjs';

const SILENCE_MS = 19000; // Bernd's silence before his speech (Anna speaks for 13 s of it)
const BOUND_MS = 5000; // the switch must come within this of his onset
const RATE = 22050; // espeak-ng's own rate

try {
  execFileSync('espeak-ng', ['--version'], { stdio: 'ignore' });
} catch (e) {
  console.log('SKIP: espeak-ng is not installed (scripts/deps.sh test)');
  process.exit(77);
}

// 16-bit mono PCM of a WAV file espeak-ng wrote
function pcm(file) {
  const b = readFileSync(file);
  for (let off = 12; off + 8 <= b.length;) {
    const id = b.toString('ascii', off, off + 4);
    const len = b.readUInt32LE(off + 4);
    if (id === 'fmt ' && (b.readUInt16LE(off + 10) !== 1 || b.readUInt32LE(off + 12) !== RATE ||
        b.readUInt16LE(off + 22) !== 16)) fail(`${file}: not ${RATE} Hz mono 16-bit`);
    if (id === 'data') return b.subarray(off + 8, Math.min(b.length, off + 8 + len));
    off += 8 + len + (len & 1);
  }
  return fail(`${file}: no data chunk`);
}

const silence = (ms) => Buffer.alloc(Math.round(RATE * ms / 1000) * 2);

function writeWav(file, parts) {
  const data = Buffer.concat(parts);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(RATE, 24);
  h.writeUInt32LE(RATE * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  writeFileSync(file, Buffer.concat([h, data]));
}

// In every page: when getUserMedia handed it the microphone (the fake file plays from about
// then), and when each participant first appeared as the dominant speaker (page clock, which is
// the test's: same machine), looked at every 10 ms.
const pageHook = `(() => {
  const md = navigator.mediaDevices, orig = md.getUserMedia.bind(md);
  md.getUserMedia = async (c) => {
    const s = await orig(c);
    if (s.getAudioTracks().length && !window.__micAt) window.__micAt = Date.now();
    return s;
  };
  window.__speakerSeen = {};
  setInterval(() => {
    const s = document.body && document.body.dataset.speaker;
    if (s && !(s in window.__speakerSeen)) window.__speakerSeen[s] = Date.now();
  }, 10);
})();`;

const build = process.env.FUNKHAUS_BUILD;
const source = process.env.FUNKHAUS_SOURCE;
const fh = await startFunkhaus({ build, source });
const say = (name, text) => {
  const f = join(fh.dir, `${name}.wav`);
  execFileSync('espeak-ng', ['-v', 'de', '-s', '160', '-w', f, text]);
  return pcm(f);
};
const annaSpeech = say('anna-speech', 'Guten Abend. Ich eröffne die Sitzung des Gemeinderats ' +
  'und begrüße alle, die heute zugeschaltet sind.');
const berndSpeech = say('bernd-speech', 'Vielen Dank. Zum ersten Punkt der Tagesordnung, der ' +
  'neuen Turnhalle, habe ich eine Frage an die Verwaltung, und zwar zu den Kosten.');
const files = { anna: join(fh.dir, 'anna.wav'), bernd: join(fh.dir, 'bernd.wav'), clara: join(fh.dir, 'clara.wav') };
writeWav(files.anna, [annaSpeech, silence(300), annaSpeech, silence(90000)]);
writeWav(files.bernd, [silence(SILENCE_MS), berndSpeech, berndSpeech, silence(90000)]);
writeWav(files.clara, [silence(90000)]);

const browsers = [];
const pages = {};
let ok = false;
try {
  for (const name of ['anna', 'bernd', 'clara']) {
    const b = await launchBrowser([`--use-file-for-fake-audio-capture=${files[name]}`]);
    browsers.push(b);
    const display = name[0].toUpperCase() + name.slice(1);
    pages[name] = await openPage(b, fh.url, 'Gemeinderat', display, '', pageHook);
  }
  const { anna: a, bernd: b, clara: c } = pages;
  await waitReceives(a, ['Bernd', 'Clara'], 15000, 'Anna');
  await waitReceives(b, ['Anna', 'Clara'], 15000, 'Bernd');
  await waitReceives(c, ['Anna', 'Bernd'], 15000, 'Clara');
  const id = {};
  for (const [n, p] of Object.entries(pages)) id[n] = await p.evaluate(() => window.funkhaus.state.id);
  const micAt = await b.evaluate(() => window.__micAt);
  if (!micAt) fail('Bernd\'s page never got its microphone');
  console.log(`all three decode each other; Bernd's file speaks ${micAt + SILENCE_MS - Date.now()} ms from now`);
  // Bernd's onset, as his page's WebRTC stack counts what it captures for sending (media-source
  // stats): totalSamplesDuration is capture time, totalAudioEnergy stays 0 through the file's
  // digital silence. Speech began between the last poll without energy and the first with it
  // (in capture time); capture time maps onto the clock by the smallest (now - capture time)
  // seen, so that the lag of a slow getStats under load does not count.
  const onsetP = b.evaluate(async (limit) => {
    const s = window.funkhaus.state;
    let offset = Infinity, prev = null, began = 0, half = 0;
    while (Date.now() < limit) {
      const snd = s.pc && s.pc.getSenders().find((x) => x.track && x.track.kind === 'audio');
      let m = null;
      if (snd) (await snd.getStats()).forEach((x) => { if (x.type === 'media-source') m = x; });
      const now = Date.now();
      if (m && m.totalSamplesDuration) {
        offset = Math.min(offset, now - m.totalSamplesDuration * 1000);
        if (!began && prev && m.totalAudioEnergy > 1e-9) {
          began = (prev.totalSamplesDuration + m.totalSamplesDuration) * 500;
          half = (m.totalSamplesDuration - prev.totalSamplesDuration) * 500;
          limit = Math.min(limit, now + 1000); // a second more to settle the offset
        }
        if (!began) prev = m;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return began ? { at: Math.round(offset + began), within: Math.round(half) } : null;
  }, micAt + SILENCE_MS + 5000);

  // what a page shows: the dominant speaker it names, the tiles marked
  const shown = (p) => p.evaluate(() => ({
    speaker: document.body.dataset.speaker || null,
    dominant: [...document.querySelectorAll('#tiles .tile.dominant')].map((t) => t.dataset.id),
    speaking: [...document.querySelectorAll('#tiles .tile.speaking')].map((t) => t.dataset.id),
  }));
  // Anna holds the stage before Bernd speaks, on every page
  for (const [n, p] of Object.entries(pages)) {
    await p.waitForFunction((want) => document.body.dataset.speaker === want, id.anna,
      { timeout: Math.max(1000, micAt + SILENCE_MS - Date.now() - 500), polling: 100 })
      .catch(() => fail(`${n} does not show Anna as the dominant speaker before Bernd speaks`));
  }
  const before = await shown(c);
  if (before.dominant.length !== 1 || before.dominant[0] !== id.anna)
    fail(`Clara's page marks ${JSON.stringify(before.dominant)} as dominant, not Anna's tile`);
  console.log(`Anna is the dominant speaker on every page (${micAt + SILENCE_MS - Date.now()} ms before Bernd speaks)`);

  // then Bernd, on every page; his tile marked speaking somewhere meanwhile
  const on = await onsetP;
  if (!on) fail('Bernd\'s microphone never captured speech');
  const onset = on.at;
  let speakingSeen = false;
  const seenAt = {};
  for (const deadline = onset + BOUND_MS + 3000; Date.now() < deadline && Object.keys(seenAt).length < 3;) {
    for (const [n, p] of Object.entries(pages)) {
      const t = await p.evaluate((bid) => window.__speakerSeen[bid] || 0, id.bernd);
      if (t) seenAt[n] = t;
      if (n !== 'bernd' && (await shown(p)).speaking.includes(id.bernd)) speakingSeen = true;
    }
    await sleep(50);
  }
  for (const [n, p] of Object.entries(pages))
    writeFileSync(join(fh.dir, `speaker-${n}.png`), await p.screenshot());
  console.log(`screenshots in ${fh.dir}`);
  for (const [n, p] of Object.entries(pages))
    if (await p.evaluate((cid) => cid in window.__speakerSeen, id.clara))
      fail(`${n}'s page showed Clara, who never spoke, as the dominant speaker`);
  for (const n of Object.keys(pages))
    if (!seenAt[n]) fail(`${n}'s page never showed Bernd as the dominant speaker`);
  const last = Math.max(...Object.values(seenAt));
  const sw = last - onset;
  console.log(`dominant speaker switch: every page shows Bernd ${sw} ms (± ${on.within}) after his ` +
    `speech starts (${Object.entries(seenAt).map(([n, t]) => `${n} ${t - onset}`).join(', ')} ms; ` +
    `his file began to speak ${onset - micAt - SILENCE_MS} ms after getUserMedia + ${SILENCE_MS} ms)`);
  if (sw > BOUND_MS) fail(`switch took ${sw} ms, more than ${BOUND_MS}`);
  if (sw < 0) fail(`Bernd was shown ${-sw} ms before his speech started`);
  if (!speakingSeen) fail('no page marked Bernd\'s tile as speaking');
  const after = await shown(a);
  if (after.dominant.length !== 1 || after.dominant[0] !== id.bernd)
    fail(`Anna's page marks ${JSON.stringify(after.dominant)} as dominant, not Bernd's tile`);
  const own = await shown(b);
  if (!own.dominant.includes('self')) fail('Bernd\'s own tile is not marked dominant on his page');
  const ctr = await fh.counters(/^speaker_events$/);
  if (!(ctr.speaker_events >= 3)) fail(`speaker events counted: ${JSON.stringify(ctr)}`);
  console.log(`the tiles follow (dominant, speaking); ${ctr.speaker_events} speaker events counted`);
  ok = true;
} finally {
  for (const b of browsers) await b.close();
  await fh.stop();
  if (!ok) fh.dumpLogs();
}
console.log(ok ? 'PASS' : 'FAIL');
process.exit(ok ? 0 : 1);
