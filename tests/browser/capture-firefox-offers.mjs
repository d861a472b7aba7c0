// Writes real Firefox SDP offers into tests/unit/data/ for the control plane's unit tests: a
// page of Debian's Firefox ESR with fake camera and microphone makes one RTCPeerConnection
// (max-bundle) per case and saves its createOffer() SDP. Not a test; run it by hand after a
// Firefox upgrade: node tests/browser/capture-firefox-offers.mjs [OUT_DIR]
// (cd tests/browser && npm ci first). Also prints what Firefox says about an L1T3 encoding.
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchFirefox } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || join(here, '..', 'unit', 'data');
const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<!doctype html><title>offers</title>');
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const browser = await launchFirefox();
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  console.log(`Firefox: ${await browser.version()}`);
  const got = await page.evaluate(async () => {
    const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    const [audio] = media.getAudioTracks();
    const [video] = media.getVideoTracks();
    const offer = async (build) => {
      const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
      const info = await build(pc);
      const o = await pc.createOffer();
      pc.close();
      return { sdp: o.sdp, info };
    };
    const simulcast = (pc) => {
      pc.addTrack(audio, media);
      pc.addTransceiver(video, {
        direction: 'sendrecv', streams: [media],
        sendEncodings: [{ rid: 'l', scaleResolutionDownBy: 4 },
          { rid: 'm', scaleResolutionDownBy: 2 }, { rid: 'h', scaleResolutionDownBy: 1 }],
      });
    };
    const r = {};
    r.sendrecv = await offer((pc) => { pc.addTrack(audio, media); pc.addTrack(video, media); });
    r.simulcast = await offer(simulcast);
    r.recvonly = await offer((pc) => {
      simulcast(pc);
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' });
    });
    // does this Firefox take a scalabilityMode, and does it keep it?
    r.l1t3 = await offer(async (pc) => {
      try {
        const t = pc.addTransceiver(video, { direction: 'sendonly',
          sendEncodings: [{ rid: 'l', scaleResolutionDownBy: 4, scalabilityMode: 'L1T3' },
            { rid: 'h', scalabilityMode: 'L1T3' }] });
        return { accepted: true, encodings: t.sender.getParameters().encodings };
      } catch (e) {
        return { accepted: false, error: `${e.name}: ${e.message}` };
      }
    });
    for (const t of media.getTracks()) t.stop();
    return r;
  });
  for (const k of ['sendrecv', 'simulcast', 'recvonly']) {
    const f = join(out, `firefox-offer-${k}.sdp`);
    writeFileSync(f, got[k].sdp);
    console.log(`wrote ${f} (${got[k].sdp.split('\r\n').length} lines)`);
  }
  console.log(`scalabilityMode L1T3: ${JSON.stringify(got.l1t3.info)}`);
  console.log('L1T3 offer, video part:\n' + got.l1t3.sdp.split('m=video')[1]);
} finally {
  await browser.close();
  server.close();
}
