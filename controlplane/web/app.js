/*
 * Funkhaus web client. Plain JavaScript, no build step. One WebSocket to /ws for signalling and
 * one RTCPeerConnection to the SFU: this page always makes the offers; the server assigns the
 * receive m-lines and says when to offer again ("renegotiate"). Messages are in
 * docs/PROTOCOL.md. The page belongs to a tenant (/tenant.json: its name, links and rules),
 * under a path prefix when one host serves several. Nothing typed here is stored but, in this
 * browser only, the language, the view, the display name and the names of recently visited
 * rooms. No request leaves for another origin but the signalling to the nodes of the same
 * service its server names (a cluster: "redirect", "joined.nodes").
 *
 * Reading order: texts and dialogs; local media (devices, level meter); tiles and the layout
 * (tile view, speaker view, pages: layout() and window.fhLayout()); remote tracks, only
 * through attachTrack()/detachTrack(); connection quality; signalling (with redirects and
 * reconnecting); controls; pages.
 *
 * Hooks for the rest of the client: every tile and people-list entry carries data-id (the
 * participant's id; a screen tile also data-source="screen"); the classes speaking, dominant
 * and hand on them are styled; window.fhLayout() gives {stage, tiles: [{id, source, height}],
 * max} (remote tiles visible now, the stage among them, with their CSS pixel height; max: how
 * many remote videos the layout shows at once) and document gets an "fh-layout" event
 * whenever that changes (view, pin, page, size, people).
 */
'use strict';

const $ = (id) => document.getElementById(id);
let lang = localStorage.getItem('funkhaus.lang') === 'en' ? 'en' : 'de';
const t = (k) => (window.FH_I18N[lang] && window.FH_I18N[lang][k]) || k;
// t with its {placeholders} filled in
const tf = (k, vars) => t(k).replace(/\{(\w+)\}/g, (m, v) => (v in vars ? String(vars[v]) : m));

const state = {
  room: null, name: null, id: null, ws: null, pc: null, local: null,
  base: '', tenant: null, token: null, moderator: false, password: null,
  joined: false, leaving: false, busy: false, pending: false,
  lobby: false, waiting: [], // moderators: the room's lobby and who waits in it
  screenMods: false, // only moderators may share a screen in this room
  iceServers: [], relayOnly: false,
  want: { audio: 0, video: 0 },
  // id -> { name, audioMuted, videoMuted, moderator, stream (its camera tracks), screen
  //         (its screen tracks), tile, screenTile, audio: {camera, screen} elements, q (stats) }
  peers: new Map(),
  audioMuted: false, videoMuted: false,
  resume: null, resuming: false, // the secret "joined" gave; a resume under way
  // where the signalling goes (see "signalling"): this page's own address, the node that took
  // the join, the one tried now, the cluster's other nodes; redirects followed in this attempt
  home: null, node: null, target: null, nodes: [], hop: 0,
  // reconnecting: attempts since the loss, resumes tried, when it was lost (0: connected)
  retry: 0, resumeTries: 0, lostAt: 0, retryTimer: null, openTimer: null, bannerTimer: null,
  lastPong: 0, // when the server last answered (0: not connected)
  mediaError: { audio: null, video: null }, // why a device could not be opened (DOMException name)
  senders: { audio: null, video: null }, // the transceivers this page publishes on
  view: localStorage.getItem('funkhaus.view') === 'speaker' ? 'speaker' : 'grid',
  pinned: null, // a tile key ("<id>" or "<id>:screen") the person pinned to the stage
  dominant: null, lastSpeaker: null, // the server's dominant speaker, and the last remote one
  page: 0, pages: 1,
  unread: 0, tones: 0, titleBase: 'Funkhaus', pwAsking: false,
  slots: { audio: 0, video: 0 }, // the receive pool "joined" gave
  videoSlots: new Map(), // video slot mid -> { track, id, source: what it carries now }
  audioMap: new Map(), // audio slot mid -> the participant it carries now
  slotMap: null, // the last "slots" message
  screenTr: null, screenTrack: null, // this page's screen share
  sentConstraints: '', constraintsTimer: null,
  hand: false, // this page's hand is raised
};

/* ---- texts ---- */

function applyLang() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-placeholder]'))
    el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of document.querySelectorAll('[data-i18n-label]')) {
    el.setAttribute('aria-label', t(el.dataset.i18nLabel));
    el.title = t(el.dataset.i18nLabel);
  }
  $('lang').textContent = t('lang');
  showMediaNote();
  fillDevices();
  if (state.joined) {
    updateControls(); renderPeople(); renderWaiting();
    for (const tile of allTiles()) captionTile(tile);
    layout();
  }
}

// An error the server sent, in this page's language (its English message only for a code this
// client does not know yet)
function errText(msg) {
  const k = `err.${msg.code}`;
  const s = t(k);
  return `${s === k ? (msg.message || '') : s} (${msg.code})`;
}

/* Inline SVG icons, 24×24, drawn with the text colour; ours, never a stranger's markup. */
const ICONS = {
  mic: '<rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3M8 21h8"/>',
  micOff: '<rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3M8 21h8"/><path d="M3 3l18 18" class="slash"/>',
  cam: '<rect x="3" y="6" width="13" height="12" rx="2"/><path d="M16 10l5-3v10l-5-3z"/>',
  camOff: '<rect x="3" y="6" width="13" height="12" rx="2"/><path d="M16 10l5-3v10l-5-3z"/><path d="M2 3l19 18" class="slash"/>',
  grid: '<rect x="3" y="4" width="8" height="7" rx="1"/><rect x="13" y="4" width="8" height="7" rx="1"/><rect x="3" y="13" width="8" height="7" rx="1"/><rect x="13" y="13" width="8" height="7" rx="1"/>',
  speaker: '<rect x="3" y="3" width="18" height="12" rx="1"/><rect x="3" y="17" width="5" height="4" rx="1"/><rect x="10" y="17" width="4" height="4" rx="1"/><rect x="16" y="17" width="5" height="4" rx="1"/>',
  full: '<path d="M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5"/>',
  unfull: '<path d="M9 4v5H4M15 4v5h5M9 20v-5H4M15 20v-5h5"/>',
  devices: '<path d="M4 6h9M17 6h3M4 12h3M11 12h9M4 18h11M19 18h1"/><circle cx="15" cy="6" r="2"/><circle cx="9" cy="12" r="2"/><circle cx="17" cy="18" r="2"/>',
  side: '<path d="M4 5h16v10H10l-5 4v-4H4z"/><path d="M8 9h8M8 12h5"/>',
  link: '<path d="M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1"/>',
  leave: '<path d="M3 14.5c5-4.5 13-4.5 18 0l-2.2 3-3.8-1.6v-2.6a11 11 0 0 0-6 0v2.6l-3.8 1.6z"/>',
  pin: '<path d="M9 3h6l-1 6 4 4H6l4-4zM12 13v8"/>',
  hand: '<path d="M8 12V5.5a1.5 1.5 0 0 1 3 0V11M11 10.5V4a1.5 1.5 0 0 1 3 0v6.5M14 10.5V5.5a1.5 1.5 0 0 1 3 0V14a7 7 0 0 1-7 7 6.5 6.5 0 0 1-5.5-3L2 14a1.5 1.5 0 0 1 2.5-1.6L8 15"/>',
  screen: '<rect x="3" y="4" width="18" height="12" rx="1"/><path d="M8 20h8M12 16v4"/>',
  close: '<path d="M6 6l12 12M18 6L6 18"/>',
  prev: '<path d="M15 6l-6 6 6 6"/>',
  next: '<path d="M9 6l6 6-6 6"/>',
  quality: '<rect class="b1" x="4" y="14" width="4" height="6" rx="1"/><rect class="b2" x="10" y="9" width="4" height="11" rx="1"/><rect class="b3" x="16" y="4" width="4" height="16" rx="1"/>',
};
function svg(name) {
  return `<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">${ICONS[name]}</svg>`;
}
function setIcon(el, name) {
  if (el.dataset.icon === name) return;
  el.dataset.icon = name;
  el.innerHTML = svg(name); // one of the constant icons above
}

/* ---- toasts and dialogs ---- */

// Toasts sit at the top of the page: they never cover the controls.
function toast(msg) {
  const el = $('toast');
  el.textContent = msg;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 4000);
}

/* One <dialog> for passwords, confirmations and errors, one question at a time. ask() resolves
 * with {ok, value}; Escape or "cancel" is {ok: false}. */
let dialogChain = Promise.resolve();
function ask({ title, text, input = null, ok = t('dlg.ok'), cancel = t('dlg.cancel'), danger = false }) {
  const run = () => new Promise((resolve) => {
    const dlg = $('dialog');
    $('dialog-title').textContent = title;
    $('dialog-text').textContent = text;
    const field = $('dialog-input');
    field.hidden = !input;
    field.value = '';
    field.type = 'password'; // the only input a dialog asks for is a secret
    field.setAttribute('aria-label', title);
    $('dialog-ok').textContent = ok;
    $('dialog-ok').className = danger ? 'danger' : 'primary';
    $('dialog-cancel').hidden = !cancel;
    $('dialog-cancel').textContent = cancel || '';
    dlg.dataset.kind = input ? 'input' : (cancel ? 'confirm' : 'message');
    dlg.returnValue = '';
    $('dialog-cancel').onclick = () => dlg.close('cancel');
    dlg.addEventListener('close', () => {
      resolve({ ok: dlg.returnValue === 'ok', value: field.value });
      field.value = '';
    }, { once: true });
    dlg.showModal();
    (input ? field : $('dialog-ok')).focus();
  });
  const p = dialogChain.then(run);
  dialogChain = p.catch(() => {});
  return p;
}
const showError = (text) => ask({ title: t('err.title'), text, cancel: null });

function hashParams() {
  const p = new URLSearchParams(location.hash.slice(1));
  return { name: p.get('name'), prejoin: p.get('prejoin'), token: p.get('token'), ice: p.get('ice') };
}

/* Recently visited rooms: this browser's storage only, per tenant, eight at most. */
function recentKey() { return `funkhaus.recent.${state.tenant ? state.tenant.id : ''}`; }
function recentRooms() {
  try { return JSON.parse(localStorage.getItem(recentKey()) || '[]').filter((r) => typeof r === 'string'); }
  catch (e) { return []; }
}
function rememberRoom(room) {
  const list = [room, ...recentRooms().filter((r) => r.toLowerCase() !== room.toLowerCase())];
  localStorage.setItem(recentKey(), JSON.stringify(list.slice(0, 8)));
}
function showRecent() {
  const list = recentRooms();
  const ul = $('recent-list');
  ul.textContent = '';
  $('recent').hidden = list.length === 0;
  for (const room of list) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = `${state.base}/${encodeURIComponent(room)}`;
    a.textContent = room;
    li.append(a);
    ul.append(li);
  }
}

/* The tenant this page belongs to: its name on every page, its imprint and privacy links. */
async function loadTenant() {
  try {
    const r = await fetch(`${state.base}/tenant.json`, { cache: 'no-store' });
    if (r.ok) state.tenant = await r.json();
  } catch (e) { state.tenant = null; }
  const tn = state.tenant;
  if (!tn) return;
  $('brand').textContent = tn.name;
  for (const [id, url] of [['imprint', tn.imprint], ['privacy', tn.privacy]]) {
    $(id).hidden = !url;
    if (url) $(id).href = url;
  }
}

function setTitle() {
  const n = state.moderator ? state.waiting.length : 0;
  document.title = (n ? `(${n}) ` : '') + state.titleBase;
}

/* ---- local media ---- */

// 720p where the camera has it, so that there is room for three simulcast layers
const VIDEO = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 24 } };
const chosen = { audio: null, video: null }; // device ids the person picked (this page only)

function constraints(kind) {
  const c = kind === 'video' ? { ...VIDEO } : {};
  if (chosen[kind]) c.deviceId = { exact: chosen[kind] };
  return Object.keys(c).length ? c : true;
}

async function getLocalMedia() {
  if (state.local) return state.local;
  const md = navigator.mediaDevices;
  state.mediaError = { audio: null, video: null };
  let stream = null;
  if (!md || !md.getUserMedia) {
    state.mediaError = { audio: 'NotSupportedError', video: 'NotSupportedError' };
  } else {
    try {
      stream = await md.getUserMedia({ audio: constraints('audio'), video: constraints('video') });
    } catch (e) {
      // which of the two failed, and why: the page tells "denied" from "none" from "in use"
      stream = new MediaStream();
      for (const kind of ['video', 'audio']) {
        try {
          const s = await md.getUserMedia({ [kind]: constraints(kind) });
          for (const tr of s.getTracks()) stream.addTrack(tr);
        } catch (e2) {
          state.mediaError[kind] = e2.name || 'Error';
        }
      }
    }
  }
  state.local = stream || new MediaStream();
  for (const tr of state.local.getTracks())
    tr.enabled = !(tr.kind === 'audio' ? state.audioMuted : state.videoMuted);
  showMediaNote();
  return state.local;
}

function mediaKey(kind, name) {
  const dev = kind === 'video' ? 'cam' : 'mic';
  if (name === 'NotAllowedError' || name === 'SecurityError') return `media.${dev}.denied`;
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return `media.${dev}.none`;
  if (name === 'NotReadableError' || name === 'AbortError') return `media.${dev}.busy`;
  return `media.${dev}.failed`;
}

function showMediaNote() {
  const el = $('preview-note');
  const lines = [];
  for (const kind of ['video', 'audio'])
    if (state.mediaError[kind]) lines.push(t(mediaKey(kind, state.mediaError[kind])));
  if (state.local && state.local.getTracks().length === 0 && lines.length) lines.push(t('media.listener'));
  el.textContent = lines.join(' ');
  el.hidden = lines.length === 0;
  const err = state.mediaError.video || state.mediaError.audio;
  el.dataset.error = err || '';
}

const localTrack = (kind) => (state.local ? state.local.getTracks().find((x) => x.kind === kind) : null);

/* Camera and microphone lists (labels once the person allowed access). */
async function fillDevices() {
  const md = navigator.mediaDevices;
  if (!md || !md.enumerateDevices) return;
  let list = [];
  try { list = await md.enumerateDevices(); } catch (e) { return; }
  for (const [kind, sel, label] of [['video', $('cam-select'), 'dev.cam'], ['audio', $('mic-select'), 'dev.micn']]) {
    const devs = list.filter((d) => d.kind === `${kind}input`);
    const cur = localTrack(kind);
    const curId = cur && cur.getSettings ? cur.getSettings().deviceId : null;
    sel.textContent = '';
    devs.forEach((d, i) => {
      const o = document.createElement('option');
      o.value = d.deviceId;
      o.textContent = d.label || tf(label, { n: i + 1 });
      if (d.deviceId === curId) o.selected = true;
      sel.append(o);
    });
    if (!devs.length || !cur) {
      const o = document.createElement('option');
      o.value = '';
      o.textContent = t('dev.none');
      o.selected = true;
      sel.prepend(o);
    }
    sel.disabled = devs.length === 0;
  }
}

/* Another camera or microphone: a new track, put on the same sender with replaceTrack (the
 * simulcast encodings addCamera() set stay as they are), in the self tile and the preview. */
async function useDevice(kind, deviceId) {
  if (!deviceId) return;
  chosen[kind] = deviceId;
  const old = localTrack(kind);
  if (old && old.getSettings().deviceId === deviceId) return;
  let track;
  try {
    const open = () => navigator.mediaDevices.getUserMedia({ [kind]: constraints(kind) });
    // the new device first (the old one keeps sending meanwhile); where a system opens only
    // one camera at a time, after the old one is closed
    const s = await open().catch((e) => {
      if (e.name !== 'NotReadableError' || !old) throw e;
      old.stop();
      return open();
    });
    track = s.getTracks()[0];
    state.mediaError[kind] = null;
  } catch (e) {
    state.mediaError[kind] = e.name || 'Error';
    showMediaNote();
    if (state.joined) showError(t(mediaKey(kind, e.name)));
    return;
  }
  if (!state.local) state.local = new MediaStream();
  if (old) { state.local.removeTrack(old); old.stop(); }
  track.enabled = !(kind === 'audio' ? state.audioMuted : state.videoMuted);
  state.local.addTrack(track);
  const tr = state.senders[kind];
  if (tr) await tr.sender.replaceTrack(track);
  else if (state.pc) {
    // joined without such a device: publish it now (one track of each kind at most)
    state.senders[kind] = kind === 'video' ? addCamera(state.pc, track, state.local)
      : state.pc.addTransceiver(track, { direction: 'sendonly', streams: [state.local] });
    negotiate();
  }
  $('preview').srcObject = state.local;
  if (state.selfTile) { state.selfTile.querySelector('video').srcObject = state.local; updateTileVideo(state.selfTile); }
  if (kind === 'audio') startMeter();
  showMediaNote();
  fillDevices();
}

/* The microphone level meter (WebAudio AnalyserNode), while the device settings are shown. */
let audioCtx = null;
function audioContext() {
  if (!audioCtx) {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return null;
    audioCtx = new AC();
  }
  if (audioCtx.state === 'suspended') audioCtx.resume().catch(() => {});
  return audioCtx;
}
const meter = { timer: null, src: null };
function stopMeter() {
  clearInterval(meter.timer);
  meter.timer = null;
  if (meter.src) meter.src.disconnect();
  meter.src = null;
  setMeter(0);
}
function setMeter(v) {
  const el = $('mic-meter');
  el.setAttribute('aria-valuenow', String(v));
  el.firstElementChild.style.width = `${v}%`;
}
function startMeter() {
  stopMeter();
  const track = localTrack('audio');
  const ctx = audioContext();
  if (!track || !ctx) return;
  meter.src = ctx.createMediaStreamSource(new MediaStream([track]));
  const an = ctx.createAnalyser();
  an.fftSize = 1024;
  meter.src.connect(an);
  const buf = new Float32Array(an.fftSize);
  meter.timer = setInterval(() => {
    an.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const x of buf) sum += x * x;
    const rms = Math.sqrt(sum / buf.length);
    // about -50 dBFS .. 0 dBFS onto 0..100
    const db = 20 * Math.log10(rms || 1e-9);
    setMeter(Math.max(0, Math.min(100, Math.round((db + 50) * 2))));
  }, 100);
}

/* ---- tiles ---- */

function initials(name) {
  const words = (name || '').trim().split(/\s+/).filter(Boolean);
  if (!words.length) return '?';
  const first = (w) => Array.from(w)[0] || '';
  const s = words.length > 1 ? first(words[0]) + first(words[words.length - 1]) : first(words[0]);
  return s.toLocaleUpperCase();
}
function hue(id) {
  let h = 0;
  for (const c of String(id)) h = (h * 31 + c.charCodeAt(0)) % 360;
  return h;
}

// A tile: its video (always muted: sound plays from #audio-sink), initials for no video, a
// caption with the microphone state, a place for the raised-hand marker and the name, the
// connection quality and a pin button. data-id is the participant's id.
function makeTile(id, source, self) {
  const tile = document.createElement('figure');
  tile.className = 'tile';
  tile.dataset.id = id;
  tile.dataset.source = source;
  tile.dataset.key = source === 'camera' ? id : `${id}:${source}`;
  if (self) tile.classList.add('self');
  if (source === 'screen') tile.classList.add('screen');
  tile.innerHTML = '<video autoplay playsinline muted></video>' +
    '<div class="avatar"><span></span></div>' +
    `<figcaption><span class="mic-state"></span><span class="hand-marker" aria-hidden="true">${svg('hand')}</span><span class="name"></span></figcaption>` +
    `<span class="quality" role="img" data-level="unknown">${svg('quality')}</span>` +
    `<button type="button" class="pin" aria-pressed="false">${svg('pin')}</button>`;
  const video = tile.querySelector('video');
  video.muted = true;
  for (const ev of ['loadeddata', 'resize', 'emptied']) video.addEventListener(ev, () => updateTileVideo(tile));
  tile.querySelector('.pin').onclick = () => pin(tile.dataset.key);
  tile.addEventListener('dblclick', () => pin(tile.dataset.key));
  tile.querySelector('.avatar').style.setProperty('--hue', hue(id));
  $('tiles').append(tile);
  return tile;
}

function tileName(tile) {
  if (tile.classList.contains('self')) return state.name || '';
  const p = state.peers.get(tile.dataset.id);
  return p ? p.name : '';
}

// name, initials, microphone state, pin state and the texts of the tile's icons
function captionTile(tile) {
  const self = tile.classList.contains('self');
  const p = self ? null : state.peers.get(tile.dataset.id);
  const name = tileName(tile);
  const screen = tile.dataset.source === 'screen';
  tile.querySelector('.name').textContent = screen ? tf('view.screen', { name }) :
    (self ? `${name} ${t('conf.you')}` : name);
  tile.querySelector('.avatar span').textContent = initials(name);
  const muted = self ? state.audioMuted : !!(p && p.audioMuted);
  const mic = tile.querySelector('.mic-state');
  mic.hidden = screen;
  mic.classList.toggle('muted', muted);
  setIcon(mic, muted ? 'micOff' : 'mic');
  mic.setAttribute('role', 'img');
  mic.setAttribute('aria-label', t(muted ? 'conf.micmuted' : 'conf.miclive'));
  tile.classList.toggle('muted', muted);
  const pinned = state.pinned === tile.dataset.key;
  const pb = tile.querySelector('.pin');
  pb.setAttribute('aria-pressed', String(pinned));
  pb.setAttribute('aria-label', t(pinned ? 'view.unpin' : 'view.pin'));
  pb.title = t(pinned ? 'view.unpin' : 'view.pin');
  const q = tile.querySelector('.quality');
  const lvl = q.dataset.level || 'unknown';
  const label = t(`quality.${lvl}`) + (q.dataset.detail ? ` (${q.dataset.detail})` : '');
  q.setAttribute('aria-label', label);
  q.title = label;
}

// Initials instead of a black picture: the camera is off, or no video arrives (yet).
function updateTileVideo(tile) {
  const self = tile.classList.contains('self');
  const video = tile.querySelector('video');
  const src = video.srcObject;
  const track = src ? src.getVideoTracks()[0] : null;
  let off;
  if (self) off = state.videoMuted || !track || track.readyState !== 'live';
  else {
    const p = state.peers.get(tile.dataset.id);
    off = !track || track.muted || track.readyState !== 'live' || video.videoWidth === 0 ||
      (tile.dataset.source === 'camera' && (!p || p.videoMuted)) || tile.dataset.stalled === '1';
  }
  tile.classList.toggle('novideo', off);
}

function allTiles() { return [...$('tiles').querySelectorAll('.tile')]; }

/* ---- layout: tile view (a grid that fills the space, in pages) and speaker view (a stage and
 * a filmstrip). Tiles are placed absolutely in #tiles; those not on the page are hidden. ---- */

const GAP = 8;
const PAGER_H = 40;

// tiles in their order: me first, then everyone in order of arrival, a screen after its owner
function tilesInOrder() {
  const out = [];
  if (state.selfTile) out.push(state.selfTile);
  for (const p of state.peers.values()) {
    if (p.tile) out.push(p.tile);
    if (p.screenTile) out.push(p.screenTile);
  }
  return out;
}

// The stage in speaker view: the pinned tile; else a shared screen; else the dominant speaker
// (the last remote one while I speak myself); else the first other person; else me.
function pickStage(tiles) {
  const byKey = (k) => tiles.find((x) => x.dataset.key === k);
  const remote = tiles.filter((x) => !x.classList.contains('self'));
  return (state.pinned && byKey(state.pinned)) ||
    remote.find((x) => x.dataset.source === 'screen') ||
    (state.lastSpeaker && byKey(state.lastSpeaker)) ||
    remote[0] || tiles[0] || null;
}

// columns and tile size that cover the most of w×h with n tiles; aspect 16:9, or taller
// tiles on a narrow screen (the video is cropped to fill them)
function bestGrid(n, w, h) {
  let best = { cols: 1, rows: 1, tw: 0, th: 0, area: -1 };
  const aspects = w < 600 ? [16 / 9, 4 / 3, 1] : [16 / 9, 4 / 3];
  for (const aspect of aspects) {
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const tw = Math.min((w - (cols - 1) * GAP) / cols, ((h - (rows - 1) * GAP) / rows) * aspect);
      if (tw <= 0) continue;
      const th = tw / aspect;
      // 16:9 wins unless a taller tile covers clearly more
      const area = n * tw * th * (aspect === 16 / 9 ? 1.15 : 1);
      if (area > best.area) best = { cols, rows, tw, th, area };
    }
  }
  return best;
}

// how many tiles a page of tile view holds: none smaller than about 220 px wide (150 on a phone)
function gridCapacity(w, h) {
  const minW = w < 600 ? 150 : 220;
  const minH = w < 600 ? 110 : minW * 9 / 16;
  const cols = Math.max(1, Math.floor((w + GAP) / (minW + GAP)));
  const rows = Math.max(1, Math.floor((h + GAP) / (minH + GAP)));
  return Math.min(cols * rows, w < 600 ? 6 : 30);
}

function place(tile, x, y, w, h) {
  tile.hidden = false;
  const s = tile.style;
  s.left = `${Math.round(x)}px`;
  s.top = `${Math.round(y)}px`;
  s.width = `${Math.round(w)}px`;
  s.height = `${Math.round(h)}px`;
}

let lastLayout = '';
let layoutInfo = { stage: null, tiles: [], max: 0 };

function layout() {
  const box = $('tiles');
  if ($('conference').hidden) return;
  const W = box.clientWidth;
  let H = box.clientHeight;
  const tiles = tilesInOrder();
  const shown = new Set();
  let stage = null;
  let cap = 1;
  let rest = tiles;
  let strip = null;
  if (state.view === 'speaker' && tiles.length > 1) {
    stage = pickStage(tiles);
    rest = tiles.filter((x) => x !== stage);
    // a phone's filmstrip has square tiles, so that three or four fit across
    const narrow = W < 600;
    const sh = Math.max(72, Math.min(narrow ? 100 : 150, Math.round(H * (narrow ? 0.14 : 0.18))));
    const sw = narrow ? sh : sh * 16 / 9;
    cap = Math.max(1, Math.floor((W + GAP) / (sw + GAP)));
    strip = { sh, sw };
  } else {
    cap = gridCapacity(W, H);
  }
  state.pages = Math.max(1, Math.ceil(rest.length / cap));
  if (state.pages > 1 && !strip) {
    H -= PAGER_H;
    cap = gridCapacity(W, H);
    state.pages = Math.max(1, Math.ceil(rest.length / cap));
  }
  state.page = Math.min(state.page, state.pages - 1);
  const slice = rest.slice(state.page * cap, state.page * cap + cap);
  if (strip) {
    const stripY = H - strip.sh - (state.pages > 1 ? PAGER_H : 0);
    place(stage, 0, 0, W, stripY - GAP);
    shown.add(stage);
    const total = slice.length * strip.sw + (slice.length - 1) * GAP;
    let x = (W - total) / 2;
    for (const tile of slice) {
      place(tile, x, stripY, strip.sw, strip.sh);
      shown.add(tile);
      x += strip.sw + GAP;
    }
  } else if (slice.length) {
    const g = bestGrid(slice.length, W, H);
    const y0 = (H - (g.rows * g.th + (g.rows - 1) * GAP)) / 2;
    slice.forEach((tile, i) => {
      const row = Math.floor(i / g.cols);
      const inRow = Math.min(g.cols, slice.length - row * g.cols);
      const x0 = (W - (inRow * g.tw + (inRow - 1) * GAP)) / 2; // the last row centred
      place(tile, x0 + (i % g.cols) * (g.tw + GAP), y0 + row * (g.th + GAP), g.tw, g.th);
      shown.add(tile);
    });
  }
  for (const tile of tiles) {
    if (!shown.has(tile)) tile.hidden = true;
    tile.classList.toggle('on-stage', tile === stage);
  }
  $('pager').hidden = state.pages <= 1;
  $('page-info').textContent = tf('view.page', { p: state.page + 1, n: state.pages });
  $('page-prev').disabled = state.page === 0;
  $('page-next').disabled = state.page >= state.pages - 1;
  document.body.dataset.view = state.view;
  // what the server needs to know: the remote tiles now visible and their height
  const remote = (x) => !x.classList.contains('self');
  const ps = (x) => parseFloat(x.style.height) || 0;
  layoutInfo = {
    stage: stage && remote(stage) ? stage.dataset.id : null,
    stageSource: stage && remote(stage) ? stage.dataset.source : null,
    tiles: tiles.filter((x) => shown.has(x) && remote(x))
      .map((x) => ({ id: x.dataset.id, source: x.dataset.source, height: Math.round(ps(x)) })),
    // how many remote videos this layout shows at once (my own tile takes a place)
    max: Math.max(1, (stage ? 1 : 0) + cap - (state.selfTile ? 1 : 0)),
  };
  const key = JSON.stringify(layoutInfo);
  if (key !== lastLayout) {
    lastLayout = key;
    document.dispatchEvent(new Event('fh-layout'));
  }
}
window.fhLayout = () => JSON.parse(JSON.stringify(layoutInfo));

function setView(view) {
  state.view = view;
  localStorage.setItem('funkhaus.view', view);
  state.page = 0;
  updateControls();
  layout();
}

function pin(key) {
  state.pinned = state.pinned === key ? null : key;
  if (state.pinned && state.view !== 'speaker') setView('speaker');
  for (const tile of allTiles()) captionTile(tile);
  layout();
}

// The server's dominant speaker: on the stage in speaker view unless a tile is pinned.
function onSpeaker(id) {
  state.dominant = id || null;
  if (id && id !== state.id && state.peers.has(id)) state.lastSpeaker = id;
  document.body.dataset.speaker = id || '';
  for (const el of document.querySelectorAll('[data-id]'))
    el.classList.toggle('dominant', !!id && el.dataset.id === id);
  layout();
}
function onSpeaking(ids) {
  const set = new Set(Array.isArray(ids) ? ids : []);
  for (const el of document.querySelectorAll('[data-id]')) el.classList.toggle('speaking', set.has(el.dataset.id));
}

/* ---- people ---- */

function renderPeople() {
  const ul = $('people');
  ul.textContent = '';
  const me = document.createElement('li');
  if (state.id) me.dataset.id = state.id;
  me.className = 'me';
  me.textContent = `${state.name || ''} ${t('conf.you')}` +
    (state.moderator ? ` (${t('conf.moderator')})` : '');
  if (state.hand) me.append(handMarker());
  ul.append(me);
  for (const [id, p] of state.peers) {
    const li = document.createElement('li');
    li.dataset.id = id;
    const mic = document.createElement('span');
    mic.className = `mic-state${p.audioMuted ? ' muted' : ''}`;
    mic.innerHTML = svg(p.audioMuted ? 'micOff' : 'mic');
    mic.setAttribute('role', 'img');
    mic.setAttribute('aria-label', t(p.audioMuted ? 'conf.micmuted' : 'conf.miclive'));
    const hand = document.createElement('span');
    hand.className = 'hand-marker';
    hand.setAttribute('aria-hidden', 'true');
    hand.innerHTML = svg('hand');
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = p.name + (p.moderator ? ` (${t('conf.moderator')})` : '') +
      (p.audioMuted ? ` (${t('conf.muted')})` : '');
    li.append(mic, hand, name);
    if (state.moderator) {
      // the moderator's menu for this participant
      for (const [action, label] of [['mute', 'mod.mute'], ['remove', 'mod.remove'], ['promote', 'mod.promote']]) {
        if (action === 'promote' && p.moderator) continue;
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'link mod';
        b.dataset.action = action;
        b.textContent = t(label);
        b.onclick = () => moderate(action, id);
        li.append(' ', b);
      }
    }
    handAndRights(li, id, p);
    ul.append(li);
  }
  if (state.dominant) onSpeaker(state.dominant);
}

async function moderate(action, id) {
  if (action === 'remove') {
    const p = state.peers.get(id);
    const r = await ask({ title: t('mod.removetitle'), text: tf('mod.removeconfirm', { name: p ? p.name : '' }),
      ok: t('mod.removeok'), danger: true });
    if (!r.ok) return;
  }
  send({ type: 'moderate', action, id });
}

/* ---- raised hands and moderator rights ---- */

function handMarker() {
  const m = document.createElement('span');
  m.className = 'hand-mark';
  m.textContent = ` (${t('hand.mark')})`;
  return m;
}

function markTile(tile, raised) {
  tile.classList.toggle('hand', raised);
  tile.dataset.hand = t('hand.mark');
}

/* A participant's line in the list: a hand marker when its hand is up, and for moderators
 * "lower hand" and "revoke moderator"; its tile is marked too. */
function handAndRights(li, id, p) {
  li.classList.toggle('hand', !!p.hand);
  if (p.hand) li.insertBefore(handMarker(), li.firstChild ? li.firstChild.nextSibling : null);
  if (p.tile) markTile(p.tile, !!p.hand);
  if (!state.moderator) return;
  for (const [action, label, show] of [['lower', 'mod.lower', p.hand], ['demote', 'mod.demote', p.moderator]]) {
    if (!show) continue;
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'link mod';
    b.dataset.action = action;
    b.textContent = t(label);
    b.onclick = () => send({ type: 'moderate', action, id });
    li.append(' ', b);
  }
}

function updateHand() {
  if (!$('hand')) return;
  setCtl('hand', 'hand', t(state.hand ? 'hand.raised' : 'hand.raise'), state.hand);
  if (state.selfTile) markTile(state.selfTile, state.hand);
}

function toggleHand() {
  // the server tells everyone, this page too: the button follows what it says
  send({ type: 'hand', raised: !state.hand });
}

function onHand(msg) {
  if (msg.id === state.id) {
    state.hand = !!msg.raised;
    updateHand();
  }
  const p = state.peers.get(msg.id);
  if (p) p.hand = !!msg.raised;
  renderPeople();
}

/* "moderator": someone got the rights, or (moderator: false) lost them. */
function onModerator(msg) {
  const on = msg.moderator !== false;
  if (msg.id === state.id && on !== state.moderator) {
    state.moderator = on;
    if (!on) state.waiting = [];
    toast(t(on ? 'mod.nowyou' : 'mod.notyou'));
  }
  const p = state.peers.get(msg.id);
  if (p) p.moderator = on;
  updateControls();
  renderPeople();
  renderWaiting();
}

/* A path that is no room (the server answered it with 404): say so, and the way back. */
function showNotFound() {
  $('left-title').textContent = t('notfound.title');
  $('rejoin').hidden = true;
  const a = document.createElement('a');
  a.href = `${state.base}/`;
  a.textContent = t('notfound.start');
  a.id = 'notfound-start';
  $('left').append(a);
  show('left');
}

/* Whether the server answered this page's address with 404 (where the browser says). */
function answeredNotFound() {
  const nav = performance.getEntriesByType && performance.getEntriesByType('navigation')[0];
  return !!(nav && nav.responseStatus === 404);
}

/* What a person typed as a room name, as the server will show it: NFC, spaces tidied. */
function tidyRoomName(s) {
  return s.normalize('NFC').replace(/\s+/gu, ' ').trim();
}

/* Moderators: who waits in the lobby, each with "let in" and "turn away". */
function renderWaiting() {
  const ul = $('waiting-list');
  ul.textContent = '';
  $('waiting-panel').hidden = !state.moderator || state.waiting.length === 0;
  setTitle();
  if (!state.moderator) return;
  for (const w of state.waiting) {
    const li = document.createElement('li');
    li.dataset.id = w.id;
    li.textContent = w.name; // a stranger's input: text only
    if (w.returning) li.append(` (${t('lobby.returning')})`);
    for (const [action, label] of [['admit', 'lobby.admit'], ['deny', 'lobby.deny']]) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'link mod';
      b.dataset.action = action;
      b.textContent = t(label);
      b.onclick = () => send({ type: 'moderate', action, id: w.id });
      li.append(' ', b);
    }
    ul.append(li);
  }
}

// a short two-note chime when someone starts waiting in the lobby
function chime() {
  const ctx = audioContext();
  if (!ctx) return;
  const now = ctx.currentTime;
  for (const [f, at] of [[660, 0], [880, 0.18]]) {
    const o = ctx.createOscillator();
    const g = ctx.createGain();
    o.frequency.value = f;
    g.gain.setValueAtTime(0.0001, now + at);
    g.gain.exponentialRampToValueAtTime(0.25, now + at + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.16);
    o.connect(g).connect(ctx.destination);
    o.start(now + at);
    o.stop(now + at + 0.17);
  }
  state.tones++;
}

function addPeer(p) {
  if (p.id === state.id) return;
  const known = state.peers.get(p.id);
  if (known) {
    // told again (it resumed after a server restart, or its tracks came first): its name now
    known.name = p.name;
    known.audioMuted = !!p.audioMuted;
    known.videoMuted = !!p.videoMuted;
    known.moderator = !!p.moderator;
    known.hand = !!p.hand;
    for (const tile of [known.tile, known.screenTile]) if (tile) { captionTile(tile); updateTileVideo(tile); }
    renderPeople();
    return;
  }
  const peer = { name: p.name, audioMuted: !!p.audioMuted, videoMuted: !!p.videoMuted,
    moderator: !!p.moderator, hand: !!p.hand, stream: new MediaStream(), screen: new MediaStream(),
    tile: null, screenTile: null, audio: {}, q: null };
  state.peers.set(p.id, peer);
  peer.tile = makeTile(p.id, 'camera', false);
  captionTile(peer.tile);
  updateTileVideo(peer.tile);
  renderPeople();
  layout();
}

function removePeer(id) {
  const p = state.peers.get(id);
  if (!p) return;
  for (const source of ['camera', 'screen']) for (const kind of ['audio', 'video']) detachTrack(id, kind, source);
  if (p.tile) p.tile.remove();
  state.peers.delete(id);
  if (state.pinned && state.pinned.split(':')[0] === id) state.pinned = null;
  if (state.lastSpeaker === id) state.lastSpeaker = null;
  renderPeople();
  layout();
}

/* ---- remote tracks: every track a tile or a speaker gets goes through these two ---- */

// participantId's track of kind ('audio'|'video') from source ('camera'|'screen'): its video
// on the participant's tile for that source, its sound in #audio-sink
function attachTrack(participantId, kind, track, source = 'camera') {
  const p = state.peers.get(participantId);
  if (!p || !track) return;
  const stream = source === 'screen' ? p.screen : p.stream;
  for (const old of stream.getTracks().filter((x) => x.kind === kind)) if (old !== track) stream.removeTrack(old);
  if (!stream.getTracks().includes(track)) stream.addTrack(track);
  if (kind === 'audio') {
    let el = p.audio[source];
    if (!el) {
      el = document.createElement('audio');
      el.autoplay = true;
      el.dataset.id = participantId;
      $('audio-sink').append(el);
      p.audio[source] = el;
    }
    el.srcObject = new MediaStream([track]);
    playWithSound(el);
    return;
  }
  let tile = source === 'screen' ? p.screenTile : p.tile;
  if (!tile) {
    tile = makeTile(participantId, source, false);
    p.screenTile = tile;
    captionTile(tile);
  }
  tile.querySelector('video').srcObject = new MediaStream([track]);
  track.onmute = track.onunmute = () => updateTileVideo(tile);
  updateTileVideo(tile);
  layout();
}

function detachTrack(participantId, kind, source = 'camera') {
  const p = state.peers.get(participantId);
  if (!p) return;
  const stream = source === 'screen' ? p.screen : p.stream;
  for (const old of stream.getTracks().filter((x) => x.kind === kind)) stream.removeTrack(old);
  if (kind === 'audio') {
    const el = p.audio[source];
    if (el) { el.srcObject = null; el.remove(); delete p.audio[source]; }
    return;
  }
  const tile = source === 'screen' ? p.screenTile : p.tile;
  if (!tile) return;
  tile.querySelector('video').srcObject = null;
  if (source === 'screen') {
    tile.remove();
    p.screenTile = null;
    if (state.pinned === `${participantId}:screen`) state.pinned = null;
  } else updateTileVideo(tile);
  layout();
}

function playWithSound(el) {
  const p = el.play();
  if (!p) return;
  p.catch(() => {
    if (document.querySelector('.sound-btn')) return;
    const b = document.createElement('button');
    b.className = 'sound-btn primary';
    b.textContent = t('conf.sound');
    b.onclick = () => { for (const a of document.querySelectorAll('#audio-sink audio')) a.play(); b.remove(); };
    $('view').append(b);
  });
}

// the participant whose (camera or screen) stream holds this receiver's track
function ownerOf(track) {
  for (const [id, p] of state.peers)
    if (p.stream.getTracks().includes(track) || p.screen.getTracks().includes(track)) return id;
  return null;
}

/* ---- connection quality: every 3 s from getStats, per remote tile and for my own ---- */

function level(loss, fps, jitter, video) {
  if (loss > 0.08 || jitter > 0.1 || (video && fps < 5)) return 'poor';
  if (loss > 0.02 || jitter > 0.03 || (video && fps < 12)) return 'medium';
  return 'good';
}

function setQuality(tile, lvl, detail) {
  if (!tile) return;
  const q = tile.querySelector('.quality');
  q.dataset.level = lvl;
  q.dataset.detail = detail;
  captionTile(tile);
}

async function pollQuality() {
  const pc = state.pc;
  if (!pc || pc.connectionState === 'closed') return;
  const byMid = new Map();
  for (const tr of pc.getTransceivers()) {
    if (tr.mid === null || tr.direction !== 'recvonly') continue;
    const id = ownerOf(tr.receiver.track);
    if (id) byMid.set(tr.mid, { id, screen: state.peers.get(id).screen.getTracks().includes(tr.receiver.track) });
  }
  let stats;
  try { stats = await pc.getStats(); } catch (e) { return; }
  const now = performance.now();
  const per = new Map(); // tile key -> summed counters
  let out = null;
  stats.forEach((s) => {
    if (s.type === 'inbound-rtp' && byMid.has(s.mid)) {
      const { id, screen } = byMid.get(s.mid);
      const key = screen ? `${id}:screen` : id;
      const r = per.get(key) || { id, screen, recv: 0, lost: 0, frames: 0, jitter: 0, video: false };
      r.recv += s.packetsReceived || 0;
      r.lost += Math.max(0, s.packetsLost || 0);
      r.jitter = Math.max(r.jitter, s.jitter || 0);
      if (s.kind === 'video') { r.video = true; r.frames += s.framesDecoded || 0; }
      per.set(key, r);
    }
    if (s.type === 'remote-inbound-rtp') {
      out = out || { loss: 0, jitter: 0 };
      out.loss = Math.max(out.loss, s.fractionLost || 0);
      out.jitter = Math.max(out.jitter, s.jitter || 0);
    }
  });
  for (const r of per.values()) {
    const p = state.peers.get(r.id);
    if (!p) continue;
    const tile = r.screen ? p.screenTile : p.tile;
    const prev = (p.q || {})[r.screen ? 'screen' : 'camera'];
    p.q = p.q || {};
    p.q[r.screen ? 'screen' : 'camera'] = { ...r, at: now };
    if (!prev || !tile) continue;
    const dt = (now - prev.at) / 1000;
    const dr = r.recv - prev.recv;
    const dl = r.lost - prev.lost;
    const loss = dr + dl > 0 ? Math.max(0, dl) / (dr + dl) : 0;
    const fps = dt > 0 ? (r.frames - prev.frames) / dt : 0;
    const wantsVideo = r.video && (r.screen || !p.videoMuted);
    // a camera that is on but sends no frames for two readings (6 s) shows initials too
    const still = wantsVideo && r.frames === prev.frames ? (Number(tile.dataset.still) || 0) + 1 : 0;
    tile.dataset.still = String(still);
    tile.dataset.stalled = still >= 2 ? '1' : '0';
    updateTileVideo(tile);
    setQuality(tile, dr + dl === 0 && !wantsVideo ? 'unknown' : level(loss, fps, r.jitter, wantsVideo),
      tf('quality.detail', { loss: (loss * 100).toFixed(1), fps: Math.round(fps) }));
  }
  if (out && state.selfTile)
    setQuality(state.selfTile, level(out.loss, 30, out.jitter, false),
      tf('quality.detail', { loss: (out.loss * 100).toFixed(1), fps: '–' }));
}

/* ---- signalling ---- */

/* Where the signalling goes: an endpoint is {host, path}, opened as wss://host path. "home"
 * is the address this page came in through (the tenant's own host, or one node of a
 * cluster). In a cluster a node that does not hold the room answers a join with "redirect":
 * the page sends the same join to the node named there (at most MAX_HOPS times per attempt;
 * its own address stays as it is). "joined" names the cluster's other nodes: when the node
 * goes away (its socket closes without a "closed" or an error that ends the meeting), the
 * page tries home first and then those, with a growing pause, for at most GIVE_UP_MS, and
 * joins the same room with the same name, microphone and camera. Resume comes first where the
 * call's media still flows (the node's control plane restarts). Nothing of this is stored. */
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const GIVE_UP_MS = 120000;
const RESUME_MS = 60000; // the server keeps a participant for resume_timeout (60 s)
const OPEN_MS = 6000; // a node that does not answer at all (its host gone) is given up after this
const MAX_HOPS = 2;
// a node whose host went away without closing the socket: unanswered pings for this long
const PING_MS = 10000;
const PONG_MS = 25000;
const MEDIA_GONE_MS = 2000; // nothing received for this long while resuming: the node died

function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
}

function joinMessage() {
  const msg = { type: 'join', name: state.name };
  if (state.room) msg.room = state.room;
  if (state.token) msg.token = state.token;
  if (state.password) msg.password = state.password;
  if (state.hop > 0) msg.hop = state.hop;
  return msg;
}

// An endpoint from a node's base URL (https only, no credentials) and a WebSocket path; null
// for anything else a server may have sent
function endpointOf(url, path) {
  let u;
  try { u = new URL(url); } catch (e) { return null; }
  if (u.protocol !== 'https:' || !u.host || u.username || u.password) return null;
  if (typeof path !== 'string' || path.length > 200 || !/^\/[A-Za-z0-9._~/-]*$/.test(path)) return null;
  return { host: u.host, path };
}

// home, then the cluster's other nodes (by host: one node, one entry)
function endpoints() {
  const list = [state.home];
  for (const ep of state.nodes) if (!list.some((x) => x.host === ep.host)) list.push(ep);
  return list;
}

function connect(ep = state.home) {
  clearTimeout(state.retryTimer);
  state.retryTimer = null;
  state.target = ep;
  const ws = new WebSocket(`wss://${ep.host}${ep.path}`);
  state.ws = ws;
  clearTimeout(state.openTimer);
  state.openTimer = setTimeout(() => {
    if (ws.readyState !== WebSocket.CONNECTING) return;
    ws.onclose = null;
    ws.close();
    lost(ws);
  }, OPEN_MS);
  ws.onopen = () => {
    clearTimeout(state.openTimer);
    if (state.resuming) {
      // the call went on without signalling: take this participant back, media untouched
      send({ type: 'resume', id: state.id, secret: state.resume, room: state.room,
        name: state.name });
      return;
    }
    send(joinMessage());
  };
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch (e) { return; }
    if (!msg || typeof msg !== 'object') return;
    if (state.lastPong) state.lastPong = Date.now(); // anything from it: it is there
    handle(msg).catch((e) => console.error('funkhaus:', e));
  };
  ws.onclose = () => lost(ws);
}

// Every PING_MS while connected; no pong for PONG_MS and the socket counts as lost.
function heartbeat() {
  const ws = state.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN || state.leaving || !state.lastPong) return;
  if (Date.now() - state.lastPong > PONG_MS) {
    ws.onclose = null;
    ws.close();
    lost(ws);
    return;
  }
  send({ type: 'ping' });
}
setInterval(heartbeat, PING_MS);

// The signalling connection ws closed (or never opened) without an end of the meeting.
function lost(ws) {
  if (state.ws !== ws) return; // replaced (a redirect, a newer connection)
  clearTimeout(state.openTimer);
  state.ws = null;
  state.lastPong = 0;
  if (state.leaving) return;
  // the password dialog is open: the join goes out afresh once it is answered
  if (state.pwAsking) return;
  if (!state.lostAt) state.lostAt = Date.now();
  const pc = state.pc;
  if ((state.joined || state.resuming) && state.resume && pc &&
      ['connected', 'connecting'].includes(pc.iceConnectionState) &&
      Date.now() - state.lostAt < RESUME_MS) {
    // only the signalling broke (the server's control plane restarts): the media still
    // flows, so keep the call and resume it, on the node that holds it, as soon as it answers
    state.resuming = true;
    toast(t('conf.resuming'));
    const delay = Math.min(250 * 2 ** state.resumeTries++, 1000);
    state.retryTimer = setTimeout(async () => {
      // a node that died took the media with it: nothing arrives any more, join elsewhere
      const flowing = await mediaFlowing(pc);
      if (state.leaving || state.ws || state.pc !== pc) return;
      if (flowing) connect(state.node || state.home);
      else rejoinLater();
    }, delay);
    return;
  }
  rejoinLater();
}

// The node is gone with the media (or never answered): join the room afresh, after a pause.
function rejoinLater() {
  if (state.resuming) {
    // the call does not go on after all: no "your call goes on" any more
    clearTimeout(toast.timer);
    $('toast').hidden = true;
  }
  state.resuming = false;
  state.resumeTries = 0;
  if (state.pc || state.joined) teardown();
  // what this page may do in the room it comes back to, the next joined says
  state.moderator = false;
  updateControls();
  retryLater();
}

// Whether the call's media still arrives: a packet (media, RTCP or an ICE answer) within the
// last MEDIA_GONE_MS on the pair ICE chose; true where the browser does not say.
async function mediaFlowing(pc) {
  let stats;
  try { stats = await pc.getStats(); } catch (e) { return true; }
  let pairId = null;
  const pairs = new Map();
  let age = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    if (s.type === 'candidate-pair') pairs.set(s.id, s);
  });
  for (const p of pairs.values()) {
    if (!(p.id === pairId || (!pairId && p.selected)) || !p.lastPacketReceivedTimestamp) continue;
    age = p.timestamp - p.lastPacketReceivedTimestamp;
  }
  return age === null || age < MEDIA_GONE_MS;
}

// The next attempt after a pause: home first, then each other node in turn.
function retryLater() {
  if (!state.lostAt) state.lostAt = Date.now();
  if (Date.now() - state.lostAt > GIVE_UP_MS) { gaveUp(); return; }
  const delay = BACKOFF_MS[Math.min(state.retry, BACKOFF_MS.length - 1)];
  const list = endpoints();
  const ep = list[state.retry % list.length];
  state.retry++;
  const until = Date.now() + delay;
  const tick = () => {
    const s = Math.ceil((until - Date.now()) / 1000);
    banner(s > 0 ? tf('conn.retry', { n: s }) : t('conf.reconnect'));
  };
  tick();
  clearInterval(state.bannerTimer);
  state.bannerTimer = setInterval(tick, 250);
  state.retryTimer = setTimeout(() => {
    clearInterval(state.bannerTimer);
    banner(t('conf.reconnect'));
    state.hop = 0;
    if (!state.leaving) connect(ep);
  }, delay);
}

// The state of the connection, shown while it is not there; null hides it.
function banner(text) {
  const el = $('conn');
  el.hidden = !text;
  el.textContent = text || '';
  document.body.classList.toggle('conn-lost', !!text);
}

// Connected (joined, resumed or waiting in the lobby): the next loss starts counting afresh.
function connected() {
  clearInterval(state.bannerTimer);
  state.retry = state.resumeTries = 0;
  state.lostAt = 0;
  state.lastPong = Date.now();
  state.node = state.target;
  banner(null);
}

// An end that is meant (left, removed, closed, refused) or tried long enough: no more attempts.
function stopRetrying() {
  clearTimeout(state.retryTimer);
  clearTimeout(state.openTimer);
  clearInterval(state.bannerTimer);
  state.retryTimer = null;
  banner(null);
}

function gaveUp() {
  state.leaving = true;
  stopRetrying();
  teardown();
  stopMeter();
  if (state.local) for (const tr of state.local.getTracks()) tr.stop();
  state.local = null;
  state.senders = { audio: null, video: null };
  $('left-title').textContent = t('conn.gaveup');
  $('rejoin').hidden = false;
  show('left');
}

/* "redirect": the room lives on another node. The same join goes there, with the room's name
 * (a room a token opens gets its generated name this way) and one hop more; a third redirect
 * in one attempt (two nodes that name each other), or one that names no usable address, ends
 * the attempt, and the next starts from home after its pause. */
function onRedirect(msg) {
  const ws = state.ws;
  if (state.joined) return; // only a join is sent on
  const ep = endpointOf(msg.url, msg.ws);
  const room = typeof msg.room === 'string' && msg.room.length > 0 && msg.room.length <= 512 ? msg.room : null;
  if (state.resuming) {
    // the node no longer holds this call: a fresh join where the room is now
    state.resuming = false;
    state.resume = null;
    teardown();
  }
  if (!ep || !room || state.hop >= MAX_HOPS) {
    toast(t('err.5011'));
    if (ws) ws.close(); // lost() counts the attempt
    return;
  }
  state.room = room;
  state.hop++;
  state.ws = null; // the old socket closes without another attempt
  if (ws) { ws.onclose = null; ws.close(); }
  clearTimeout(state.openTimer);
  connect(ep);
}

// a join the server refused: the page says why, in its language, and tries no more by itself
function refused(text) {
  state.leaving = true;
  stopRetrying();
  if (state.ws) state.ws.close();
  $('left-title').textContent = text;
  show('left');
}

async function askPassword(code) {
  state.pwAsking = true;
  banner(null);
  const r = await ask({ title: t('pw.title'), text: t({ 4032: 'pw.wrong', 4033: 'pw.ask', 4036: 'pw.choose' }[code]),
    input: 'password', ok: t('pw.enter') });
  state.pwAsking = false;
  if (!r.ok || !r.value) { refused(t(`err.${code}`)); return; }
  state.password = r.value; // kept in this page's memory only
  if (state.ws && state.ws.readyState === WebSocket.OPEN) send(joinMessage());
  else connect(state.target || state.home);
}

async function handle(msg) {
  switch (msg.type) {
    case 'redirect':
      onRedirect(msg);
      break;
    case 'pong':
      break;
    case 'resumed':
      state.resuming = false;
      state.joined = true;
      connected();
      state.moderator = !!msg.moderator;
      state.lobby = !!msg.lobby;
      state.screenMods = !!msg.screenModerators;
      updateControls();
      for (const p of msg.participants) addPeer(p);
      // whoever left while the server was away
      for (const id of [...state.peers.keys()])
        if (!msg.participants.some((p) => p.id === id)) removePeer(id);
      // an offer whose answer was lost with the old server: taken back and made again
      if (state.pc && state.pc.signalingState === 'have-local-offer') {
        await state.pc.setLocalDescription({ type: 'rollback' });
        state.busy = false;
        state.pending = true;
      }
      if (state.pending && !state.busy) { state.pending = false; negotiate(); }
      toast(t('conf.resumed'));
      break;
    case 'joined':
      state.id = msg.id;
      state.resume = msg.resume || null;
      state.joined = true;
      connected();
      state.moderator = !!msg.moderator;
      state.lobby = !!msg.lobby;
      state.screenMods = !!msg.screenModerators;
      state.iceServers = Array.isArray(msg.iceServers) ? msg.iceServers : [];
      // a room opened with a token: its generated link is this page's address from now on
      if (typeof msg.room === 'string') state.room = msg.room;
      $('room-title').textContent = state.room;
      // the cluster's other nodes, where this page goes should this one go away
      state.nodes = (Array.isArray(msg.nodes) ? msg.nodes.slice(0, 64) : [])
        .map((u) => (state.tenant ? endpointOf(u, `/t/${state.tenant.id}/ws`) : null))
        .filter((ep) => ep);
      // the token has done its work: it leaves the address bar and this page's memory
      state.token = null;
      history.replaceState(null, '', `${state.base}/${encodeURIComponent(state.room)}`);
      rememberRoom(state.room);
      for (const p of msg.participants) addPeer(p);
      // the receive slots the server maps the room's sources onto: offered from the start,
      // so nobody's joining or speaking changes this page's SDP
      state.slots = msg.slots && typeof msg.slots === 'object'
        ? { audio: msg.slots.audio | 0, video: msg.slots.video | 0 } : { audio: 0, video: 0 };
      await startPeerConnection();
      // joined muted (chosen before joining): the room learns it at once
      if (state.audioMuted || state.videoMuted)
        send({ type: 'mute', audio: state.audioMuted, video: state.videoMuted });
      break;
    case 'waiting':
      // the lobby: nothing of the room until a moderator lets this page in
      connected();
      show('lobby');
      break;
    case 'lobby': {
      const before = new Set(state.waiting.map((w) => w.id));
      state.lobby = !!msg.on;
      state.waiting = Array.isArray(msg.waiting) ? msg.waiting : [];
      if (state.waiting.some((w) => !before.has(w.id))) {
        toast(t('lobby.arrived'));
        chime();
      }
      if (state.waiting.length > 0) openSide(true);
      updateControls();
      renderWaiting();
      break;
    }
    case 'server':
      if (msg.draining) toast(t('server.draining'));
      break;
    case 'room':
      if (typeof msg.lobby === 'boolean') { state.lobby = msg.lobby; updateControls(); }
      if (typeof msg.screenModerators === 'boolean') {
        state.screenMods = msg.screenModerators;
        updateControls();
        if (!state.moderator) toast(t(state.screenMods ? 'screen.modsOnly' : 'screen.everyone'));
      }
      break;
    case 'answer':
      await state.pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
      state.busy = false;
      if (state.pending) { state.pending = false; negotiate(); }
      break;
    case 'renegotiate':
      state.want = msg.recv;
      negotiate();
      break;
    case 'participant-joined':
      addPeer(msg.participant);
      break;
    case 'participant-left':
      removePeer(msg.id);
      break;
    case 'mute': {
      const p = state.peers.get(msg.id);
      if (p) {
        p.audioMuted = !!msg.audioMuted;
        p.videoMuted = !!msg.videoMuted;
        for (const tile of [p.tile, p.screenTile]) if (tile) { captionTile(tile); updateTileVideo(tile); }
        renderPeople();
      }
      break;
    }
    case 'slots':
      mapSlots(msg);
      break;
    case 'speaker':
      onSpeaker(msg.id);
      break;
    case 'speaking':
      onSpeaking(msg.ids);
      break;
    case 'chat':
      addChat(msg);
      break;
    case 'moderation':
      // a moderator muted this page's microphone: it stays off until the person switches it on
      if (msg.action === 'mute' && !state.audioMuted) {
        state.audioMuted = true;
        const tr = localTrack('audio');
        if (tr) tr.enabled = false;
        updateControls();
      }
      toast(t('mod.mutedyou'));
      break;
    case 'moderator':
      onModerator(msg);
      break;
    case 'hand':
      onHand(msg);
      break;
    case 'closed':
      // the service switched off or the room ended for everyone: no reconnecting
      state.leaving = true;
      stopRetrying();
      if (state.ws) state.ws.close();
      teardown();
      $('left-title').textContent = t(`closed.${msg.reason}`);
      show('left');
      break;
    case 'error':
      if (state.resuming && msg.code === 4047) {
        // the server could not take the call back (it came back too late): join afresh
        state.resuming = false;
        state.resume = null;
        teardown();
        send(joinMessage());
        break;
      }
      if ([4032, 4033, 4036].includes(msg.code) && !state.joined) {
        // the room has a password (or, opening it, must get one): ask for it and join again
        await askPassword(msg.code);
        break;
      }
      if (msg.code === 4009) state.busy = false;
      // the tenant lets only moderators share: this page's share ends
      if (msg.code === 4050 && state.screenTrack) stopScreen();
      // refused joins (tenant, login, tokens, passwords, limits): no point in trying again
      // by itself
      if (!state.joined && msg.code >= 4000 && msg.code < 5000 && msg.code !== 4035) {
        refused(errText(msg));
        break;
      }
      // server-side trouble (media server away, media lost, the cluster's store away, a room
      // that moves between nodes): start over with a fresh join after a pause
      if (msg.code >= 5000) {
        toast(errText(msg));
        if (state.ws) state.ws.close();
        break;
      }
      if (msg.code === 4011 || msg.code === 4009 || msg.code === 4050) toast(errText(msg));
      else showError(errText(msg));
      break;
    default:
      break;
  }
}

/* ---- chat: local time from the message's ts; unread count while the panel is closed ---- */

function addChat(msg) {
  const li = document.createElement('li');
  const time = document.createElement('time');
  const when = new Date(Number.isFinite(msg.ts) ? msg.ts : Date.now());
  time.dateTime = when.toISOString();
  time.textContent = when.toLocaleTimeString(lang === 'en' ? 'en-GB' : 'de-DE', { hour: '2-digit', minute: '2-digit' });
  time.title = when.toLocaleString(lang === 'en' ? 'en-GB' : 'de-DE');
  const who = document.createElement('strong');
  who.textContent = msg.from === state.id ? `${state.name} ${t('conf.you')}` : msg.name;
  const text = document.createElement('span');
  text.textContent = msg.text; // never innerHTML: chat text is a stranger's input
  li.append(time, ' ', who, document.createTextNode(': '), text);
  $('chat-log').append(li);
  li.scrollIntoView({ block: 'end' });
  if (msg.from !== state.id && !sideOpen()) {
    state.unread++;
    updateBadge();
  }
}

function updateBadge() {
  const b = $('chat-badge');
  b.hidden = state.unread === 0;
  b.textContent = state.unread > 99 ? '99+' : String(state.unread);
  b.setAttribute('aria-label', tf('conf.unread', { n: state.unread }));
}

const sideOpen = () => $('side').classList.contains('open');
function openSide(open) {
  $('side').classList.toggle('open', open);
  $('toggle-side').setAttribute('aria-pressed', String(open));
  if (open) { state.unread = 0; updateBadge(); }
  layout();
}

/* ---- the peer connection ---- */

/* ---- receive slots: the server says which participant's camera or screen each video slot
 * carries ("slots"); the slot's track moves to that tile. The page tells the server what it
 * shows ("constraints", from fhLayout), so it forwards only those videos, each at the layers
 * its tile's height needs. ---- */

function mapSlots(msg) {
  state.slotMap = msg;
  state.audioMap = new Map();
  for (const e of Array.isArray(msg.audio) ? msg.audio : [])
    if (e && typeof e.mid === 'string' && typeof e.id === 'string') state.audioMap.set(e.mid, e.id);
  const video = Array.isArray(msg.video) ? msg.video : [];
  const next = new Map();
  for (const e of video) {
    if (!e || !state.videoSlots.has(e.mid)) continue;
    next.set(e.mid, { id: typeof e.id === 'string' ? e.id : null,
      source: e.source === 'screen' ? 'screen' : 'camera' });
  }
  // what leaves a tile first, then what arrives: a source that moved slots keeps its tile
  for (const [mid, slot] of state.videoSlots) {
    const n = next.get(mid);
    if (!slot.id || (n && n.id === slot.id && n.source === slot.source)) continue;
    const moved = [...next.values()].some((x) => x.id === slot.id && x.source === slot.source);
    if (!moved) detachTrack(slot.id, 'video', slot.source);
    slot.id = null;
  }
  for (const [mid, n] of next) {
    const slot = state.videoSlots.get(mid);
    if (!n.id || (slot.id === n.id && slot.source === n.source)) continue;
    slot.id = n.id;
    slot.source = n.source;
    // a source not named yet (one who has not resumed since a server restart): a tile now,
    // its name when the server says it
    if (!state.peers.has(n.id)) addPeer({ id: n.id, name: '' });
    attachTrack(n.id, 'video', slot.track, n.source);
  }
}

function sendConstraints() {
  state.constraintsTimer = null;
  if (!state.joined || !state.ws || !window.fhLayout) return;
  const l = window.fhLayout();
  const msg = { type: 'constraints', max: l.max,
    stage: l.stage ? { id: l.stage, source: l.stageSource || 'camera' } : null,
    tiles: l.tiles.slice(0, 256).map((x) => ({ id: x.id, source: x.source, height: x.height })) };
  const key = JSON.stringify(msg);
  if (key === state.sentConstraints) return;
  state.sentConstraints = key;
  send(msg);
}
// at most every 300 ms: a window being resized sends one
document.addEventListener('fh-layout', () => {
  if (!state.constraintsTimer) state.constraintsTimer = setTimeout(sendConstraints, 300);
});

/* Screen sharing: a second video of this page, for detail (text stays sharp), no simulcast;
 * the offer names its m-line. Stopping (the button or the browser's own bar) makes the line
 * inactive; sharing again reuses it. */
async function toggleScreen() {
  if (state.screenTrack) { stopScreen(); return; }
  let media;
  try {
    media = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 15 }, audio: false });
  } catch (e) {
    if (e && e.name !== 'NotAllowedError') toast(t('conf.screen.failed'));
    return;
  }
  const track = media.getVideoTracks()[0];
  if (!track || !state.pc) return;
  try { track.contentHint = 'detail'; } catch (e) { /* older browsers */ }
  track.onended = () => { if (state.screenTrack === track) stopScreen(); };
  state.screenTrack = track;
  if (state.screenTr) {
    await state.screenTr.sender.replaceTrack(track);
    state.screenTr.direction = 'sendonly';
  } else {
    state.screenTr = state.pc.addTransceiver(track, { direction: 'sendonly' });
  }
  updateControls();
  negotiate();
}

function stopScreen() {
  const track = state.screenTrack;
  state.screenTrack = null;
  if (track) track.stop();
  if (state.screenTr && state.pc) {
    state.screenTr.sender.replaceTrack(null).catch(() => {});
    state.screenTr.direction = 'inactive';
    negotiate();
  }
  updateControls();
}

function ensureRecv(kind, n) {
  const have = state.pc.getTransceivers().filter(
    (tr) => tr.receiver.track.kind === kind && tr.direction === 'recvonly').length;
  for (let i = have; i < n; i++) state.pc.addTransceiver(kind, { direction: 'recvonly' });
}

async function negotiate() {
  if (!state.pc) return;
  if (state.busy) { state.pending = true; return; }
  state.busy = true;
  ensureRecv('audio', state.want.audio || 0);
  ensureRecv('video', state.want.video || 0);
  const offer = await state.pc.createOffer();
  await state.pc.setLocalDescription(offer);
  const msg = { type: 'offer', sdp: state.pc.localDescription.sdp };
  if (state.screenTr && state.screenTr.mid !== null && state.screenTrack) msg.screen = state.screenTr.mid;
  send(msg);
}

// The camera as VP8 simulcast, lowest layer first (browsers drop the last encodings first when
// short of CPU or bandwidth, and the server takes the rids in this order); the browser leaves
// out layers a small capture cannot fill. Three temporal layers each where the browser says it
// can (Firefox may not).
const SIMULCAST = [
  { rid: 'l', scaleResolutionDownBy: 4, maxBitrate: 100000 },
  { rid: 'm', scaleResolutionDownBy: 2, maxBitrate: 450000 },
  { rid: 'h', maxBitrate: 1500000 },
];

function supportsL1T3() {
  try {
    const caps = RTCRtpSender.getCapabilities && RTCRtpSender.getCapabilities('video');
    return !!(caps && caps.codecs.some((c) => /vp8/i.test(c.mimeType) &&
      Array.isArray(c.scalabilityModes) && c.scalabilityModes.includes('L1T3')));
  } catch (e) {
    return false;
  }
}

function addCamera(pc, track, local) {
  const l1t3 = supportsL1T3();
  const tries = [
    SIMULCAST.map((e) => (l1t3 ? { ...e, scalabilityMode: 'L1T3' } : { ...e })),
    SIMULCAST.map((e) => ({ ...e })),
    null, // one encoding, as before, where simulcast is refused
  ];
  for (const enc of tries) {
    try {
      const init = { direction: 'sendonly', streams: [local] };
      if (enc) init.sendEncodings = enc;
      return pc.addTransceiver(track, init);
    } catch (e) {
      // try the next, simpler one
    }
  }
  return null;
}

async function startPeerConnection() {
  // TURN servers with short-lived credentials come with "joined" when the operator runs one;
  // "#ice=relay" in the address sends media only through them (to check a TURN set-up)
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require',
    iceServers: state.iceServers, iceTransportPolicy: state.relayOnly ? 'relay' : 'all' });
  state.pc = pc;
  const local = await getLocalMedia();
  state.senders = { audio: null, video: null };
  for (const track of local.getTracks()) {
    if (track.kind === 'video') state.senders.video = addCamera(pc, track, local);
    else state.senders.audio = pc.addTransceiver(track, { direction: 'sendonly', streams: [local] });
  }
  if (state.selfTile) state.selfTile.remove();
  state.selfTile = makeTile(state.id, 'camera', true);
  state.selfTile.querySelector('video').srcObject = local;
  captionTile(state.selfTile);
  updateTileVideo(state.selfTile);
  pc.ontrack = (ev) => {
    const mid = ev.transceiver && ev.transceiver.mid;
    if (!mid) return;
    if (ev.track.kind === 'audio') {
      // every audio slot plays; the server puts on them the people who speak
      const el = document.createElement('audio');
      el.autoplay = true;
      el.dataset.mid = mid;
      el.srcObject = new MediaStream([ev.track]);
      $('audio-sink').append(el);
      playWithSound(el);
      return;
    }
    state.videoSlots.set(mid, { track: ev.track, id: null, source: null });
    if (state.slotMap) mapSlots(state.slotMap);
  };
  state.want = { ...state.slots };
  show('conference');
  stopMeter();
  updateControls();
  renderPeople();
  layout();
  clearInterval(state.qualityTimer);
  state.qualityTimer = setInterval(pollQuality, 3000);
  await negotiate();
}

function teardown() {
  if (state.pc) state.pc.close();
  state.pc = null;
  clearInterval(state.qualityTimer);
  state.busy = state.pending = false;
  state.joined = false;
  state.waiting = [];
  state.hand = false;
  setTitle();
  for (const id of [...state.peers.keys()]) removePeer(id);
  $('tiles').textContent = '';
  $('audio-sink').textContent = '';
  state.selfTile = null;
  state.videoSlots = new Map();
  state.audioMap = new Map();
  state.slotMap = null;
  state.sentConstraints = '';
  if (state.screenTrack) state.screenTrack.stop();
  state.screenTrack = state.screenTr = null;
  state.pinned = state.lastSpeaker = state.dominant = null;
}

/* ---- controls: aria-pressed is "on" for a muted microphone and a camera that is off ---- */

function setCtl(id, icon, label, pressed) {
  const b = $(id);
  setIcon(b.querySelector('.ico'), icon);
  b.querySelector('.lbl').textContent = label;
  if (pressed !== undefined) b.setAttribute('aria-pressed', String(pressed));
}

function updateControls() {
  setCtl('mic', state.audioMuted ? 'micOff' : 'mic', t(state.audioMuted ? 'conf.unmute' : 'conf.mute'), state.audioMuted);
  setCtl('cam', state.videoMuted ? 'camOff' : 'cam', t(state.videoMuted ? 'conf.camon' : 'conf.camoff'), state.videoMuted);
  setCtl('screen', 'screen', t(state.screenTrack ? 'conf.screen.stop' : 'conf.screen'), !!state.screenTrack);
  $('screen').hidden = !(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
  // restricted to moderators: others see why they cannot share (a share on is ended by the server)
  $('screen').disabled = state.screenMods && !state.moderator && !state.screenTrack;
  $('screen').title = $('screen').disabled ? t('screen.modsOnly') : '';
  // the button names the view it switches to; pressed while the speaker view is on
  setCtl('view-toggle', state.view === 'speaker' ? 'grid' : 'speaker',
    t(state.view === 'speaker' ? 'view.tile' : 'view.speaker'), state.view === 'speaker');
  const full = !!document.fullscreenElement;
  setCtl('fullscreen', full ? 'unfull' : 'full', t(full ? 'view.exitfull' : 'view.fullscreen'), full);
  setCtl('devices', 'devices', t('conf.devices'));
  setCtl('toggle-side', 'side', t('conf.side'), sideOpen());
  setCtl('invite', 'link', t('conf.invite'));
  setCtl('leave', 'leave', t('conf.leave'));
  setIcon($('side-close'), 'close');
  setIcon($('page-prev'), 'prev');
  setIcon($('page-next'), 'next');
  $('mod-panel').hidden = !state.moderator;
  $('lobby-toggle').textContent = t(state.lobby ? 'lobby.off' : 'lobby.on');
  $('screen-toggle').textContent = t(state.screenMods ? 'screen.allowAll' : 'screen.restrict');
  $('screen-toggle').setAttribute('aria-pressed', String(state.screenMods));
  if (state.selfTile) { captionTile(state.selfTile); updateTileVideo(state.selfTile); }
  updateHand();
  renderPeople();
}

function setMute(kind) {
  const key = kind === 'audio' ? 'audioMuted' : 'videoMuted';
  state[key] = !state[key];
  const tr = localTrack(kind);
  if (tr) tr.enabled = !state[key];
  send({ type: 'mute', audio: state.audioMuted, video: state.videoMuted });
  updateControls();
}

async function toggleFullscreen() {
  try {
    if (document.fullscreenElement) await document.exitFullscreen();
    else await document.documentElement.requestFullscreen();
  } catch (e) {
    toast(t('view.nofull'));
  }
}

function openDevices() {
  $('devices-slot').append($('device-settings'));
  fillDevices();
  startMeter();
  $('devices-dialog').showModal();
}

function leave() {
  state.leaving = true;
  stopRetrying();
  send({ type: 'leave' });
  if (state.ws) state.ws.close();
  teardown();
  stopMeter();
  if (state.local) for (const tr of state.local.getTracks()) tr.stop();
  state.local = null;
  state.senders = { audio: null, video: null };
  show('left');
}

/* ---- pages ---- */

function show(section) {
  for (const s of ['start', 'prejoin', 'lobby', 'conference', 'left']) $(s).hidden = s !== section;
  document.body.classList.toggle('in-call', section === 'conference');
  if (section === 'conference') layout();
}

async function enterRoom(name) {
  state.name = name;
  state.leaving = false;
  state.retry = state.resumeTries = state.hop = 0;
  state.lostAt = 0;
  $('room-title').textContent = state.room || t('start.newroom');
  await getLocalMedia();
  connect();
}

async function prejoin() {
  show('prejoin');
  const local = await getLocalMedia();
  $('preview').srcObject = local;
  fillDevices();
  startMeter();
  $('name-input').focus();
}

function previewState() {
  $('preview-off').hidden = !state.videoMuted || !localTrack('video');
}

async function init() {
  applyLang();
  $('lang').onclick = () => {
    lang = lang === 'de' ? 'en' : 'de';
    localStorage.setItem('funkhaus.lang', lang);
    applyLang();
  };
  // "/room", or "/prefix/room" and "/prefix/" where one host serves several tenants; the
  // room's name comes percent-encoded UTF-8 ("/B%C3%BCrgersprechstunde")
  let parts;
  try {
    parts = location.pathname.split('/').slice(1).map(decodeURIComponent);
  } catch (e) {
    parts = null; // not UTF-8: no room's address
  }
  if (parts && parts.length >= 2) state.base = `/${parts.shift()}`;
  state.home = { host: location.host, path: `${state.base}/ws` };
  const path = parts ? parts[0] || '' : '';
  const hp = hashParams();
  state.token = hp.token;
  state.relayOnly = hp.ice === 'relay';
  await loadTenant();
  if (state.tenant && !state.tenant.open) {
    $('left-title').textContent = t('closed.access-off');
    $('rejoin').hidden = true;
    show('left');
    return;
  }
  if (!parts || parts.length > 1 || answeredNotFound()) {
    // under no tenant's prefix: the start page of the host's own tenant
    if (!state.tenant) { state.base = ''; await loadTenant(); }
    showNotFound();
    return;
  }
  if (!path) {
    show('start');
    showRecent();
    const login = state.tenant && state.tenant.login;
    $('start-form').hidden = !!login;
    $('login-note').hidden = !login;
    $('new-room').hidden = !(login && state.token);
    $('new-room').onclick = () => { state.room = null; prejoinSetup(hp); };
    $('forget').onclick = () => { localStorage.removeItem(recentKey()); showRecent(); };
    $('start-form').onsubmit = (e) => {
      e.preventDefault();
      const room = tidyRoomName($('room-input').value);
      if (room) location.href = `${state.base}/${encodeURIComponent(room)}`;
    };
    return;
  }
  state.room = path;
  prejoinSetup(hp);
}

function prejoinSetup(hp) {
  const title = state.room || t('start.newroom');
  state.titleBase = `${title} – ${state.tenant ? state.tenant.name : 'Funkhaus'}`;
  setTitle();
  $('room-title').textContent = title;
  $('join-form').onsubmit = (e) => {
    e.preventDefault();
    const name = $('name-input').value.trim();
    if (!name) return;
    localStorage.setItem('funkhaus.name', name); // this browser only, to fill it in next time
    enterRoom(name);
  };
  for (const [box, kind] of [['join-mic-off', 'audio'], ['join-cam-off', 'video']]) {
    $(box).onchange = () => {
      const key = kind === 'audio' ? 'audioMuted' : 'videoMuted';
      state[key] = $(box).checked;
      const tr = localTrack(kind);
      if (tr) tr.enabled = !state[key];
      previewState();
    };
  }
  $('cam-select').onchange = () => useDevice('video', $('cam-select').value);
  $('mic-select').onchange = () => useDevice('audio', $('mic-select').value);
  if (navigator.mediaDevices) navigator.mediaDevices.addEventListener('devicechange', fillDevices);
  $('mic').onclick = () => setMute('audio');
  $('cam').onclick = () => setMute('video');
  $('screen').onclick = () => toggleScreen();
  $('hand').onclick = toggleHand;
  $('view-toggle').onclick = () => setView(state.view === 'speaker' ? 'grid' : 'speaker');
  $('fullscreen').onclick = toggleFullscreen;
  document.addEventListener('fullscreenchange', () => { updateControls(); layout(); });
  $('devices').onclick = openDevices;
  $('devices-close').onclick = () => $('devices-dialog').close();
  $('devices-dialog').addEventListener('close', stopMeter);
  $('page-prev').onclick = () => { state.page = Math.max(0, state.page - 1); layout(); };
  $('page-next').onclick = () => { state.page = Math.min(state.pages - 1, state.page + 1); layout(); };
  $('leave').onclick = leave;
  $('end').onclick = async () => {
    const r = await ask({ title: t('mod.endtitle'), text: t('mod.endconfirm'), ok: t('mod.end'), danger: true });
    if (r.ok) send({ type: 'moderate', action: 'end' });
  };
  $('set-pw').onclick = async () => {
    const r = await ask({ title: t('pw.title'), text: t('pw.set'), input: 'password', ok: t('pw.save') });
    if (!r.ok) return;
    send({ type: 'moderate', action: 'password', password: r.value });
    // a rejoin (the node went away) needs it: this page's memory only, like the one it joined with
    state.password = r.value || null;
  };
  $('lobby-toggle').onclick = () => send({ type: 'moderate', action: 'lobby', on: !state.lobby });
  $('screen-toggle').onclick = () => send({ type: 'moderate', action: 'screen', on: !state.screenMods });
  $('lobby-leave').onclick = leave;
  $('rejoin').onclick = () => enterRoom(state.name);
  $('toggle-side').onclick = () => openSide(!sideOpen());
  $('side-close').onclick = () => openSide(false);
  $('invite').onclick = () => {
    const link = `${location.origin}${state.base}/${encodeURIComponent(state.room)}`;
    navigator.clipboard.writeText(link).then(() => toast(t('conf.copied')), () => toast(link));
  };
  $('chat-form').onsubmit = (e) => {
    e.preventDefault();
    const text = $('chat-input').value.trim();
    if (text) send({ type: 'chat', text });
    $('chat-input').value = '';
  };
  new ResizeObserver(() => layout()).observe($('tiles'));
  updateControls();
  if (hp.name && hp.prejoin === 'off') enterRoom(hp.name.slice(0, 64));
  else {
    const kept = localStorage.getItem('funkhaus.name');
    $('name-input').value = (hp.name || kept || '').slice(0, 64);
    prejoin();
  }
}

/* For tests and curious people: per participant, what this page decodes. */
window.funkhaus = {
  state,
  async received() {
    const out = {};
    if (!state.pc) return out;
    // what each receive slot carries now, as the last "slots" said
    const byMid = new Map(state.audioMap);
    for (const [mid, slot] of state.videoSlots) if (slot.id) byMid.set(mid, slot.id);
    const stats = await state.pc.getStats();
    stats.forEach((s) => {
      if (s.type !== 'inbound-rtp' || !byMid.has(s.mid)) return;
      const id = byMid.get(s.mid);
      if (!state.peers.has(id)) return;
      out[id] = out[id] || { name: state.peers.get(id).name, framesDecoded: 0, audioPackets: 0, audioEnergy: 0 };
      if (s.kind === 'video') out[id].framesDecoded += s.framesDecoded || 0;
      else { out[id].audioPackets += s.packetsReceived || 0; out[id].audioEnergy += s.totalAudioEnergy || 0; }
    });
    return out;
  },
  peerNames() { return [...state.peers.values()].map((p) => p.name); },
  // the signalling connection now: its URL, attempts since it was lost, the nodes known
  conn() {
    return { url: state.ws ? state.ws.url : null, open: !!state.ws && state.ws.readyState === WebSocket.OPEN,
      joined: state.joined, resuming: state.resuming, retry: state.retry, lost: !!state.lostAt,
      node: state.node ? state.node.host : null, nodes: state.nodes.map((ep) => ep.host),
      banner: $('conn').hidden ? null : $('conn').textContent };
  },
  // a server message handled as if it came over the socket (tests of the view logic)
  handle: (msg) => handle(msg),
  // the receive transceivers carrying participant id's audio and video now
  transceiversOf(id) {
    if (!state.pc) return [];
    return state.pc.getTransceivers().filter((tr) => tr.mid !== null &&
      (state.audioMap.get(tr.mid) === id ||
        (state.videoSlots.get(tr.mid) && state.videoSlots.get(tr.mid).id === id)));
  },
};

init().catch((e) => console.error('funkhaus:', e));
