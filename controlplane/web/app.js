/*
 * Funkhaus web client. Plain JavaScript, no build step. One WebSocket to /ws for signalling and
 * one RTCPeerConnection to the SFU: this page always makes the offers; the server assigns the
 * receive m-lines and says when to offer again ("renegotiate"). Messages are in
 * docs/PROTOCOL.md. The page belongs to a tenant (/tenant.json: its name, links and rules),
 * under a path prefix when one host serves several. Nothing typed here is stored but the
 * language choice and, in this browser only, the names of recently visited rooms. No request
 * leaves for another origin.
 */
'use strict';

const $ = (id) => document.getElementById(id);
let lang = localStorage.getItem('funkhaus.lang') === 'en' ? 'en' : 'de';
const t = (k) => (window.FH_I18N[lang] && window.FH_I18N[lang][k]) || k;

function applyLang() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-placeholder]'))
    el.placeholder = t(el.dataset.i18nPlaceholder);
  $('lang').textContent = t('lang');
  if (state.joined) { updateControls(); renderPeople(); renderWaiting(); }
}

const state = {
  room: null, name: null, id: null, ws: null, pc: null, local: null,
  base: '', tenant: null, token: null, moderator: false, password: null,
  joined: false, leaving: false, busy: false, pending: false,
  lobby: false, waiting: [], // moderators: the room's lobby and who waits in it
  iceServers: [], relayOnly: false,
  want: { audio: 0, video: 0 },
  slots: { audio: 0, video: 0 }, // the receive pool "joined" gave
  videoSlots: new Map(), // mid -> { track, id: the participant it carries now }
  slotMap: null, // the last "slots" message
  audioMap: new Map(), // audio slot mid -> the participant it carries now
  screenTr: null, screenTrack: null, // this page's screen share
  peers: new Map(), // id -> { name, audioMuted, videoMuted, stream, tile }
  audioMuted: false, videoMuted: false, retry: 0,
  resume: null, resuming: false, // the secret "joined" gave; a resume under way
  speaker: null, // id of the dominant speaker, as the server last said
  hand: false, // this page's hand is raised
};

function show(section) {
  for (const s of ['start', 'prejoin', 'lobby', 'conference', 'left']) $(s).hidden = s !== section;
}

function toast(msg) {
  const el = $('toast');
  el.textContent = msg;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 4000);
}

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

/* ---- media ---- */

async function getLocalMedia() {
  if (state.local) return state.local;
  try {
    state.local = await navigator.mediaDevices.getUserMedia({
      // 720p where the camera has it, so that there is room for three simulcast layers
      audio: true, video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 24 } } });
  } catch (e) {
    try { state.local = await navigator.mediaDevices.getUserMedia({ audio: true }); } catch (e2) {
      state.local = new MediaStream();
    }
  }
  return state.local;
}

/* ---- tiles and lists ---- */

function tileFor(id, name, self) {
  let peer = state.peers.get(id);
  if (peer && peer.tile) return peer.tile;
  const tile = document.createElement('figure');
  tile.className = 'tile';
  tile.dataset.id = id;
  const video = document.createElement('video');
  video.autoplay = true;
  video.playsInline = true;
  if (self) video.muted = true;
  const cap = document.createElement('figcaption');
  cap.textContent = self ? `${name} ${t('conf.you')}` : name;
  tile.append(video, cap);
  $('tiles').append(tile);
  if (peer) peer.tile = tile;
  if (state.speaker && state.speaker === (self ? state.id : id)) tile.classList.add('dominant');
  return tile;
}

/* ---- who speaks, as the server detects it from the audio levels ---- */

// the tile of participant id; this page's own is the one of 'self'
function speakerTile(id) {
  const key = id === state.id ? 'self' : id;
  return [...document.querySelectorAll('#tiles .tile')].find((el) => el.dataset.id === key);
}

function showSpeaker(id) {
  if (typeof id !== 'string') return;
  state.speaker = id;
  document.body.dataset.speaker = id;
  for (const el of document.querySelectorAll('#tiles .tile.dominant')) el.classList.remove('dominant');
  const tile = speakerTile(id);
  if (tile) tile.classList.add('dominant');
}

function showSpeaking(ids) {
  const now = new Set((Array.isArray(ids) ? ids : []).filter((x) => typeof x === 'string')
    .map((x) => (x === state.id ? 'self' : x)));
  for (const el of document.querySelectorAll('#tiles .tile')) el.classList.toggle('speaking', now.has(el.dataset.id));
}

function renderPeople() {
  const ul = $('people');
  ul.textContent = '';
  const me = document.createElement('li');
  me.textContent = `${state.name} ${t('conf.you')}` +
    (state.moderator ? ` (${t('conf.moderator')})` : '');
  if (state.hand) me.append(handMarker());
  ul.append(me);
  for (const [id, p] of state.peers) {
    const li = document.createElement('li');
    li.dataset.id = id;
    li.textContent = p.name + (p.moderator ? ` (${t('conf.moderator')})` : '') +
      (p.audioMuted ? ` (${t('conf.muted')})` : '');
    if (state.moderator) {
      // the moderator's menu for this participant
      for (const [action, label] of [['mute', 'mod.mute'], ['remove', 'mod.remove'], ['promote', 'mod.promote']]) {
        if (action === 'promote' && p.moderator) continue;
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'link mod';
        b.dataset.action = action;
        b.textContent = t(label);
        b.onclick = () => send({ type: 'moderate', action, id });
        li.append(' ', b);
      }
    }
    handAndRights(li, id, p);
    ul.append(li);
    if (p.tile) p.tile.classList.toggle('novideo', !!p.videoMuted);
  }
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
  const b = $('hand');
  if (!b) return;
  b.setAttribute('aria-pressed', state.hand ? 'true' : 'false');
  b.textContent = t(state.hand ? 'hand.raised' : 'hand.raise');
  const self = document.querySelector('.tile[data-id="self"]');
  if (self) markTile(self, state.hand);
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

function addPeer(p) {
  if (p.id === state.id) return;
  const known = state.peers.get(p.id);
  if (known) {
    // told again (it resumed after a server restart, or its tracks came first): its name now
    known.name = p.name;
    known.audioMuted = p.audioMuted;
    known.videoMuted = p.videoMuted;
    known.moderator = !!p.moderator;
    known.hand = !!p.hand;
    known.tile.querySelector('figcaption').textContent = p.name;
    renderPeople();
    return;
  }
  state.peers.set(p.id, { name: p.name, audioMuted: p.audioMuted, videoMuted: p.videoMuted,
    moderator: !!p.moderator, hand: !!p.hand, stream: new MediaStream(), tile: null });
  const peer = state.peers.get(p.id);
  peer.tile = tileFor(p.id, p.name, false);
  peer.tile.querySelector('video').srcObject = peer.stream;
  renderPeople();
}

function removePeer(id) {
  const p = state.peers.get(id);
  if (!p) return;
  if (p.tile) p.tile.remove();
  if (p.screenTile) p.screenTile.remove();
  state.peers.delete(id);
  renderPeople();
}

function playWithSound(video) {
  video.play().catch(() => {
    if (document.querySelector('.sound-btn')) return;
    const b = document.createElement('button');
    b.className = 'sound-btn primary';
    b.textContent = t('conf.sound');
    b.onclick = () => { for (const v of document.querySelectorAll('#tiles video')) v.play(); b.remove(); };
    $('conference').append(b);
  });
}

/* ---- signalling ---- */

function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
}

function connect() {
  const ws = new WebSocket(`wss://${location.host}${state.base}/ws`);
  state.ws = ws;
  ws.onopen = () => {
    if (state.resuming) {
      // the call went on without signalling: take this participant back, media untouched
      send({ type: 'resume', id: state.id, secret: state.resume, room: state.room,
        name: state.name });
      return;
    }
    const msg = { type: 'join', name: state.name };
    if (state.room) msg.room = state.room;
    if (state.token) msg.token = state.token;
    if (state.password) msg.password = state.password;
    send(msg);
  };
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch (e) { return; }
    handle(msg).catch((e) => console.error('funkhaus:', e));
  };
  ws.onclose = () => {
    if (state.ws !== ws || state.leaving) return;
    const pc = state.pc;
    if ((state.joined || state.resuming) && state.resume && pc &&
        ['connected', 'connecting'].includes(pc.iceConnectionState)) {
      // only the signalling broke (the server's control plane restarts): the media still
      // flows, so keep the call and resume it as soon as the server answers again
      state.resuming = true;
      toast(t('conf.resuming'));
      const delay = Math.min(300 * 2 ** state.retry++, 3000);
      setTimeout(() => { if (!state.leaving) connect(); }, delay);
      return;
    }
    state.resuming = false;
    teardown();
    toast(t('conf.reconnect'));
    const delay = Math.min(1000 * 2 ** state.retry++, 15000);
    setTimeout(() => { if (!state.leaving) connect(); }, delay);
  };
}

async function handle(msg) {
  switch (msg.type) {
    case 'resumed':
      state.resuming = false;
      state.joined = true;
      state.retry = 0;
      state.moderator = !!msg.moderator;
      state.lobby = !!msg.lobby;
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
      state.retry = 0;
      state.moderator = !!msg.moderator;
      state.lobby = !!msg.lobby;
      state.iceServers = Array.isArray(msg.iceServers) ? msg.iceServers : [];
      updateControls();
      if (msg.room !== state.room) {
        // a room opened with a token: its generated link is this page's address from now on
        state.room = msg.room;
        $('room-title').textContent = state.room;
      }
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
      break;
    case 'slots':
      mapSlots(msg);
      break;
    case 'waiting':
      // the lobby: nothing of the room until a moderator lets this page in
      show('lobby');
      break;
    case 'lobby': {
      const before = new Set(state.waiting.map((w) => w.id));
      state.lobby = !!msg.on;
      state.waiting = Array.isArray(msg.waiting) ? msg.waiting : [];
      if (state.waiting.some((w) => !before.has(w.id))) toast(t('lobby.arrived'));
      $('side').classList.toggle('open', state.waiting.length > 0);
      updateControls();
      renderWaiting();
      break;
    }
    case 'server':
      if (msg.draining) toast(t('server.draining'));
      break;
    case 'room':
      if (typeof msg.lobby === 'boolean') { state.lobby = msg.lobby; updateControls(); }
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
    case 'speaker':
      showSpeaker(msg.id);
      break;
    case 'speaking':
      showSpeaking(msg.ids);
      break;
    case 'participant-joined':
      addPeer(msg.participant);
      break;
    case 'participant-left':
      removePeer(msg.id);
      break;
    case 'mute': {
      const p = state.peers.get(msg.id);
      if (p) { p.audioMuted = msg.audioMuted; p.videoMuted = msg.videoMuted; renderPeople(); }
      break;
    }
    case 'chat':
      addChat(msg);
      break;
    case 'moderation':
      // a moderator muted this page's microphone: it stays off until the person switches it on
      if (msg.action === 'mute' && !state.audioMuted) {
        state.audioMuted = true;
        if (state.local) for (const tr of state.local.getTracks()) if (tr.kind === 'audio') tr.enabled = false;
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
        const again = { type: 'join', name: state.name, room: state.room };
        if (state.password) again.password = state.password;
        send(again);
        break;
      }
      if ([4032, 4033, 4036].includes(msg.code) && !state.joined) {
        // the room has a password (or, opening it, must get one): ask for it (kept in this
        // page only) and join again
        const pw = prompt(t({ 4032: 'pw.wrong', 4033: 'pw.ask', 4036: 'pw.choose' }[msg.code]));
        if (pw) {
          state.password = pw;
          const again = { type: 'join', name: state.name, room: state.room, password: pw };
          if (state.token) again.token = state.token;
          send(again);
          break;
        }
      }
      toast(`${msg.message} (${msg.code})`);
      // refused joins (tenant, login, tokens, passwords, limits): no point in trying again
      // by itself
      if (!state.joined && msg.code >= 4000 && msg.code < 5000 && msg.code !== 4035) {
        state.leaving = true;
        if (state.ws) state.ws.close();
        $('left-title').textContent = msg.message;
        show('left');
      }
      if (msg.code === 4009) { state.busy = false; }
      // the tenant lets only moderators share: this page's share ends
      if (msg.code === 4050 && state.screenTrack) stopScreen();
      // server-side trouble (media server away, media lost): start over with a fresh join
      if (msg.code >= 5000 && state.ws) state.ws.close();
      break;
    default:
      break;
  }
}

function addChat(msg) {
  const li = document.createElement('li');
  const who = document.createElement('strong');
  who.textContent = msg.from === state.id ? `${state.name} ${t('conf.you')}` : msg.name;
  const text = document.createElement('span');
  text.textContent = msg.text; // never innerHTML: chat text is a stranger's input
  li.append(who, document.createTextNode(': '), text);
  $('chat-log').append(li);
  li.scrollIntoView({ block: 'end' });
}

/* "slots": which participant's camera (or screen) each video slot carries now. A slot's track
 * moves to the tile of whom it carries; a tile whose slot went shows no video. */
function mapSlots(msg) {
  state.slotMap = msg;
  state.audioMap = new Map();
  for (const e of Array.isArray(msg.audio) ? msg.audio : [])
    if (e && typeof e.mid === 'string' && typeof e.id === 'string') state.audioMap.set(e.mid, e.id);
  if (!Array.isArray(msg.video)) return;
  for (const e of msg.video) {
    const slot = e && state.videoSlots.get(e.mid);
    if (!slot) continue;
    const id = typeof e.id === 'string' ? e.id : null;
    if (slot.id === id) continue;
    const source = e.source === 'screen' ? 'screen' : 'camera';
    if (slot.id === id && slot.source === source) continue;
    if (slot.id) detachVideo(slot.id, slot.source, slot.track);
    slot.id = id;
    slot.source = source;
    if (!id) continue;
    // a source not named yet (one who has not resumed since a server restart): a tile now,
    // its name when the server says it
    if (!state.peers.has(id)) addPeer({ id, name: '' });
    attachVideo(id, source, slot.track);
  }
}

/* A participant's camera goes into its tile; its screen share into a tile of its own, first
 * in the grid and wide. */
function screenTile(id, make) {
  const peer = state.peers.get(id);
  if (!peer) return null;
  if (!peer.screenTile && make) {
    const tile = document.createElement('figure');
    tile.className = 'tile screen';
    tile.dataset.id = id;
    tile.dataset.source = 'screen';
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true;
    video.srcObject = new MediaStream();
    const cap = document.createElement('figcaption');
    cap.textContent = `${peer.name} · ${t('conf.screen.of')}`;
    tile.append(video, cap);
    $('tiles').prepend(tile);
    peer.screenTile = tile;
  }
  return peer.screenTile;
}

function attachVideo(id, source, track) {
  const peer = state.peers.get(id);
  if (!peer) return;
  if (source === 'screen') {
    const v = screenTile(id, true).querySelector('video');
    for (const old of v.srcObject.getVideoTracks()) v.srcObject.removeTrack(old);
    v.srcObject.addTrack(track);
    playWithSound(v);
    return;
  }
  for (const old of peer.stream.getVideoTracks()) peer.stream.removeTrack(old);
  peer.stream.addTrack(track);
  playWithSound(peer.tile.querySelector('video'));
}

function detachVideo(id, source, track) {
  const peer = state.peers.get(id);
  if (!peer) return;
  if (source === 'screen') {
    const tile = screenTile(id, false);
    if (tile) tile.remove();
    peer.screenTile = null;
    return;
  }
  peer.stream.removeTrack(track);
}

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
  for (const track of local.getTracks()) {
    if (track.kind === 'video') addCamera(pc, track, local);
    else pc.addTransceiver(track, { direction: 'sendonly', streams: [local] });
  }
  const self = tileFor('self', state.name, true);
  self.querySelector('video').srcObject = local;
  pc.ontrack = (ev) => {
    const mid = ev.transceiver && ev.transceiver.mid;
    if (!mid) return;
    if (ev.track.kind === 'audio') {
      // every audio slot plays; the server puts on them the people who speak
      const el = document.createElement('audio');
      el.autoplay = true;
      el.srcObject = new MediaStream([ev.track]);
      el.dataset.mid = mid;
      $('audio-slots').append(el);
      playWithSound(el);
      return;
    }
    state.videoSlots.set(mid, { track: ev.track, id: null });
    if (state.slotMap) mapSlots(state.slotMap);
  };
  state.want = { ...state.slots };
  show('conference');
  updateControls();
  renderPeople();
  await negotiate();
}

function teardown() {
  if (state.pc) state.pc.close();
  state.pc = null;
  state.busy = state.pending = false;
  state.joined = false;
  state.waiting = [];
  state.hand = false;
  for (const id of [...state.peers.keys()]) removePeer(id);
  $('tiles').textContent = '';
  $('audio-slots').textContent = '';
  if (state.screenTrack) state.screenTrack.stop();
  state.screenTrack = state.screenTr = null;
  state.videoSlots = new Map();
  state.audioMap = new Map();
  state.slotMap = null;
}

function updateControls() {
  $('mic').textContent = t(state.audioMuted ? 'conf.micon' : 'conf.mic');
  $('cam').textContent = t(state.videoMuted ? 'conf.camon' : 'conf.cam');
  $('screen').textContent = t(state.screenTrack ? 'conf.screen.stop' : 'conf.screen');
  $('screen').setAttribute('aria-pressed', state.screenTrack ? 'true' : 'false');
  $('screen').hidden = !(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
  $('end').hidden = !state.moderator;
  $('set-pw').hidden = !state.moderator;
  $('lobby-toggle').hidden = !state.moderator;
  $('lobby-toggle').textContent = t(state.lobby ? 'lobby.off' : 'lobby.on');
  updateHand();
}

function setMute(kind) {
  const key = kind === 'audio' ? 'audioMuted' : 'videoMuted';
  state[key] = !state[key];
  if (state.local) for (const tr of state.local.getTracks()) if (tr.kind === kind) tr.enabled = !state[key];
  send({ type: 'mute', audio: state.audioMuted, video: state.videoMuted });
  updateControls();
}

function leave() {
  state.leaving = true;
  send({ type: 'leave' });
  if (state.ws) state.ws.close();
  teardown();
  if (state.local) for (const tr of state.local.getTracks()) tr.stop();
  state.local = null;
  show('left');
}

/* ---- pages ---- */

async function enterRoom(name) {
  state.name = name;
  state.leaving = false;
  $('room-title').textContent = state.room || t('start.newroom');
  await getLocalMedia();
  connect();
}

async function prejoin() {
  show('prejoin');
  const local = await getLocalMedia();
  $('preview').srcObject = local;
  $('preview-note').hidden = local.getTracks().length > 0;
  $('name-input').focus();
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
  document.title = `${title} – ${state.tenant ? state.tenant.name : 'Funkhaus'}`;
  $('room-title').textContent = title;
  $('join-form').onsubmit = (e) => {
    e.preventDefault();
    const name = $('name-input').value.trim();
    if (name) enterRoom(name);
  };
  $('mic').onclick = () => setMute('audio');
  $('cam').onclick = () => setMute('video');
  $('screen').onclick = () => toggleScreen();
  $('hand').onclick = toggleHand;
  $('leave').onclick = leave;
  $('end').onclick = () => { if (confirm(t('mod.endconfirm'))) send({ type: 'moderate', action: 'end' }); };
  $('set-pw').onclick = () => {
    const pw = prompt(t('pw.set'));
    if (pw !== null) send({ type: 'moderate', action: 'password', password: pw });
  };
  $('lobby-toggle').onclick = () => send({ type: 'moderate', action: 'lobby', on: !state.lobby });
  $('lobby-leave').onclick = leave;
  $('rejoin').onclick = () => enterRoom(state.name);
  $('toggle-side').onclick = () => $('side').classList.toggle('open');
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
  if (hp.name && hp.prejoin === 'off') enterRoom(hp.name.slice(0, 64));
  else { if (hp.name) $('name-input').value = hp.name.slice(0, 64); prejoin(); }
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
  // the receive transceivers carrying participant id's audio and video now
  transceiversOf(id) {
    if (!state.pc) return [];
    return state.pc.getTransceivers().filter((tr) => tr.mid !== null &&
      (state.audioMap.get(tr.mid) === id ||
        (state.videoSlots.get(tr.mid) && state.videoSlots.get(tr.mid).id === id)));
  },
};

init().catch((e) => console.error('funkhaus:', e));
