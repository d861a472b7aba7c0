/*
 * dp_worker: the run-to-completion loop of one worker (receive a burst, classify, process,
 * send a burst), the commands from funkhaus-cp that build its state, and its timers
 * (consent freshness, periodic RTCP). Runs on the worker's own lcore.
 *
 * Cost note: the loop itself is a handful of ring-count reads per burst; what bounds a core is
 * SRTP, once to decrypt and once per receiver to encrypt (see bench/README.md).
 */
#include "dp_worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_random.h>

#define DP_IDLE_POLLS 16 /* empty polls before sleeping */
#define DP_IDLE_SLEEP_MS 5

int dp_addr_lookup(const struct dp_worker *w, const struct fh_addr *a)
{
	uint32_t h = fh_addr_hash(a) & (DP_ADDR_HASH - 1);

	for (unsigned i = 0; i < DP_ADDR_HASH; i++) {
		int16_t s = w->addr_hash[(h + i) & (DP_ADDR_HASH - 1)];

		if (s < 0)
			return -1;
		if (fh_addr_eq(&w->parts[s].addr, a))
			return s;
	}
	return -1;
}

void dp_addr_insert(struct dp_worker *w, const struct fh_addr *a, uint16_t slot)
{
	uint32_t h = fh_addr_hash(a) & (DP_ADDR_HASH - 1);

	/* The table has twice as many cells as slots, so a free cell always exists. */
	while (w->addr_hash[h] >= 0)
		h = (h + 1) & (DP_ADDR_HASH - 1);
	w->addr_hash[h] = (int16_t)slot;
}

void dp_addr_remove(struct dp_worker *w, const struct fh_addr *a)
{
	uint32_t h = fh_addr_hash(a) & (DP_ADDR_HASH - 1);
	uint32_t i;

	for (i = h;; i = (i + 1) & (DP_ADDR_HASH - 1)) {
		if (w->addr_hash[i] < 0)
			return;
		if (fh_addr_eq(&w->parts[w->addr_hash[i]].addr, a))
			break;
	}
	/* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
	w->addr_hash[i] = -1;
	for (uint32_t j = (i + 1) & (DP_ADDR_HASH - 1); w->addr_hash[j] >= 0;
	     j = (j + 1) & (DP_ADDR_HASH - 1)) {
		int16_t s = w->addr_hash[j];
		uint32_t home = fh_addr_hash(&w->parts[s].addr) & (DP_ADDR_HASH - 1);

		/* move s into the hole at i when its home is not cyclically within (i, j] */
		if (((j - home) & (DP_ADDR_HASH - 1)) >= ((j - i) & (DP_ADDR_HASH - 1))) {
			w->addr_hash[i] = s;
			w->addr_hash[j] = -1;
			i = j;
		}
	}
}

void dp_worker_emit(struct dp_worker *w, uint16_t type, uint16_t slot, uint32_t arg)
{
	struct fh_evt e = {.type = type, .slot = slot, .arg = arg};

	if (slot < FH_MAX_SLOTS && w->parts[slot].used) {
		e.room = w->parts[slot].room;
		e.addr = w->parts[slot].addr;
	}
	/* A full event ring means cp is gone or stuck; media must go on regardless. */
	rte_ring_sp_enqueue_elem(w->evt, &e, sizeof(e));
}

void dp_worker_flush(struct dp_worker *w)
{
	if (w->n_tx == 0)
		return;
	/* the backend consumes the whole burst and counts what it sent or dropped */
	w->io->tx_burst(w->port, w->tx, w->n_tx);
	w->n_tx = 0;
}

static void part_unbind(struct dp_worker *w, struct dp_part *p)
{
	if (!p->bound)
		return;
	dp_addr_remove(w, &p->addr);
	p->bound = false;
	w->ctr->bound--;
}

static struct dp_pub *find_pub(struct dp_part *p, uint32_t key)
{
	return dp_media_find_key(p, key);
}

static void fwd_remove(struct dp_pub *pub, uint16_t slot, uint8_t out)
{
	for (uint16_t i = 0; i < pub->n_fwd; i++) {
		if (pub->fwd[i].slot == slot && pub->fwd[i].out == out) {
			pub->fwd[i] = pub->fwd[--pub->n_fwd];
			return;
		}
	}
}

static void out_remove(struct dp_worker *w, uint16_t slot, uint8_t idx)
{
	struct dp_out *o = &w->parts[slot].out[idx];

	if (!o->used)
		return;
	struct dp_part *pp = &w->parts[o->pub_slot];
	struct dp_pub *pub = pp->used ? find_pub(pp, o->pub_key) : NULL;

	if (pub)
		fwd_remove(pub, slot, idx);
	free(o->map);
	memset(o, 0, sizeof(*o));
	struct dp_part *p = &w->parts[slot];

	while (p->n_out && !p->out[p->n_out - 1].used)
		p->n_out--;
}

static void pub_remove(struct dp_worker *w, struct dp_pub *pub)
{
	/* Receivers keep their out entry (cp removes it with SUB_DEL); only the link goes. */
	for (uint16_t i = 0; i < pub->n_fwd; i++) {
		struct dp_out *o = &w->parts[pub->fwd[i].slot].out[pub->fwd[i].out];

		o->pub_key = 0;
	}
	for (int l = 0; l < FH_MAX_LAYERS; l++)
		free(pub->layer[l].cache);
	memset(pub, 0, sizeof(*pub));
}

static void part_del(struct dp_worker *w, uint16_t slot)
{
	struct dp_part *p = &w->parts[slot];

	if (!p->used)
		return;
	for (uint8_t i = 0; i < DP_MAX_OUT; i++)
		out_remove(w, slot, i);
	for (int i = 0; i < DP_MAX_PUB; i++)
		if (p->pub[i].used)
			pub_remove(w, &p->pub[i]);
	part_unbind(w, p);
	dp_media_free_keys(w, p);
	dp_adapt_free(p);
	dp_speaker_leave(w, slot);
	memset(p, 0, sizeof(*p));
	w->ctr->participants--;
	__atomic_and_fetch(&w->ctr->live[slot / 64], ~(1ull << (slot % 64)), __ATOMIC_RELEASE);
}

static bool valid_cred(const char *s, size_t max, uint8_t *len)
{
	size_t n = strnlen(s, max + 1);

	if (n == 0 || n > max)
		return false;
	*len = (uint8_t)n;
	return true;
}

static int cmd_part_add(struct dp_worker *w, const struct fh_cmd *c, uint64_t now)
{
	struct dp_part *p = &w->parts[c->slot];
	uint8_t lu, ru, pw;

	if (!valid_cred(c->u.part.local_ufrag, FH_UFRAG_MAX, &lu) ||
	    !valid_cred(c->u.part.remote_ufrag, FH_UFRAG_MAX, &ru) ||
	    !valid_cred(c->u.part.local_pwd, FH_PWD_MAX, &pw))
		return -EINVAL;
	part_del(w, c->slot);
	if (dp_adapt_new(p) < 0)
		return -ENOMEM;
	p->used = true;
	p->room = c->room;
	dp_speaker_join(w, c->slot, now);
	memcpy(p->lufrag, c->u.part.local_ufrag, lu);
	memcpy(p->rufrag, c->u.part.remote_ufrag, ru);
	memcpy(p->lpwd, c->u.part.local_pwd, pw);
	p->lufrag_len = lu;
	p->rufrag_len = ru;
	p->lpwd_len = pw;
	w->ctr->participants++;
	__atomic_or_fetch(&w->ctr->live[c->slot / 64], 1ull << (c->slot % 64), __ATOMIC_RELEASE);
	return 0;
}

/* A layer's SSRC becomes known (from the offer or its first packet); video gets its packet
 * cache then. */
int dp_layer_start(struct dp_worker *w, struct dp_pub *pub, struct dp_layer *L, uint32_t ssrc)
{
	(void)w;
	if (pub->kind == FH_KIND_VIDEO && !L->cache) {
		L->cache = calloc(DP_CACHE, sizeof(*L->cache));
		if (!L->cache)
			return -ENOMEM;
	}
	if (L->ssrc != ssrc)
		memset(&L->st, 0, sizeof(L->st));
	L->ssrc = ssrc;
	return 0;
}

static bool token_ok(const char *s, size_t max, bool empty_ok)
{
	size_t n = strnlen(s, max + 1);

	if (n > max || (!n && !empty_ok))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

static int cmd_stream_add(struct dp_worker *w, const struct fh_cmd *c)
{
	struct dp_part *p = &w->parts[c->slot];
	const struct fh_cmd_stream *s = &c->u.stream;
	struct dp_pub *pub = NULL;
	unsigned nl = s->n_layers ? s->n_layers : 1;
	int rc;

	if (!s->key || s->kind > FH_KIND_VIDEO || !s->clock_rate || find_pub(p, s->key) ||
	    nl > FH_MAX_LAYERS || (nl > 1 && s->kind != FH_KIND_VIDEO) ||
	    !token_ok(s->mid, FH_MID_MAX, true) || (!s->ssrc && !s->mid[0] && nl == 1))
		return -EINVAL;
	for (unsigned l = 0; nl > 1 && l < nl; l++)
		if (!token_ok(s->rid[l], FH_RID_MAX, false) || !s->mid[0])
			return -EINVAL;
	for (int i = 0; i < DP_MAX_PUB && !pub; i++)
		if (!p->pub[i].used)
			pub = &p->pub[i];
	if (!pub)
		return -ENOSPC;
	memset(pub, 0, sizeof(*pub));
	pub->kind = s->kind;
	pub->key = s->key;
	pub->n_layers = (uint8_t)nl;
	pub->pt = s->pt;
	pub->rtx_pt = s->rtx_pt;
	pub->clock_rate = s->clock_rate;
	memcpy(pub->mid, s->mid, strnlen(s->mid, FH_MID_MAX));
	for (unsigned l = 0; l < nl; l++) {
		uint32_t ssrc = nl > 1 ? s->layer_ssrc[l] : s->ssrc;

		if (nl > 1)
			memcpy(pub->rid[l], s->rid[l], strnlen(s->rid[l], FH_RID_MAX));
		pub->layer[l].rtx_ssrc = nl > 1 ? s->layer_rtx_ssrc[l] : s->rtx_ssrc;
		pub->layer[l].n_tid = 1;
		if (ssrc && (rc = dp_layer_start(w, pub, &pub->layer[l], ssrc)) < 0) {
			for (unsigned k = 0; k < l; k++)
				free(pub->layer[k].cache);
			memset(pub, 0, sizeof(*pub));
			return rc;
		}
	}
	pub->used = true;
	return 0;
}

/* Points out idx of receiver slot at pub (NULL: nothing). What the receiver got from the
 * stream before is forgotten but its numbering: the next source continues it, from its next
 * key frame (video). */
static void out_point(struct dp_worker *w, uint16_t slot, uint8_t idx, uint16_t pub_slot,
		      struct dp_pub *pub, uint64_t now)
{
	struct dp_out *o = &w->parts[slot].out[idx];
	struct dp_part *old_pp = &w->parts[o->pub_slot];
	struct dp_pub *old = o->pub_key && old_pp->used ? find_pub(old_pp, o->pub_key) : NULL;

	if (old)
		fwd_remove(old, slot, idx);
	o->pub_slot = pub ? pub_slot : 0;
	o->pub_key = pub ? pub->key : 0;
	o->cur = DP_NONE;
	o->target = 0; /* the lowest layer first: it starts at once and fits any link */
	o->paused = false;
	o->skipped = false;
	o->want_key_tsc = 0;
	o->last_pli_tsc = 0;
	o->rw.src_ssrc = 0; /* the next source continues the numbering */
	fh_vp8_temporal_init(&o->temp, DP_MAX_TID - 1);
	if (o->map)
		memset(o->map, 0, sizeof(*o->map));
	if (!pub)
		return;
	pub->fwd[pub->n_fwd++] = (struct dp_fwd){.slot = slot, .out = idx};
	/* A newcomer needs a key frame to show anything. One not asked for now (the receiver
	 * has no keys yet, or the layer was asked a moment ago) is asked for by the first
	 * allocation run that finds the receiver ready: its wait counts as long past. */
	if (pub->kind == FH_KIND_VIDEO)
		o->want_key_tsc = dp_media_request_key(w, pub_slot, pub, 0, now, true) ? now : 1;
}

/* A new out for receiver c->slot, pointing at nothing yet; -errno. */
static int out_new(struct dp_worker *w, const struct fh_cmd *c, uint8_t *idx)
{
	const struct fh_cmd_sub *s = &c->u.sub;
	struct dp_part *sub = &w->parts[c->slot];
	int free_i = -1;

	for (int i = 0; i < DP_MAX_OUT; i++) {
		if (sub->out[i].used && sub->out[i].out_ssrc == s->out_ssrc)
			return -EEXIST;
		if (!sub->out[i].used && free_i < 0)
			free_i = i;
	}
	if (free_i < 0)
		return -ENOSPC;
	struct dp_out *o = &sub->out[free_i];

	memset(o, 0, sizeof(*o));
	if (s->kind == FH_KIND_VIDEO) {
		o->map = calloc(1, sizeof(*o->map));
		if (!o->map)
			return -ENOMEM;
	}
	o->used = true;
	if (sub->n_out < free_i + 1)
		sub->n_out = (uint8_t)(free_i + 1);
	o->cur = DP_NONE;
	fh_vp8_temporal_init(&o->temp, DP_MAX_TID - 1);
	fh_vp8_rewrite_init(&o->vp8);
	o->kind = s->kind;
	o->out_ssrc = s->out_ssrc;
	o->out_rtx_ssrc = s->out_rtx_ssrc;
	o->out_pt = s->out_pt;
	o->out_rtx_pt = s->out_rtx_pt;
	o->rtx_seq = (uint16_t)rte_rand();
	fh_rewrite_init(&o->rw, (uint16_t)rte_rand(), (uint32_t)rte_rand());
	*idx = (uint8_t)free_i;
	return 0;
}

static void out_prefs(struct dp_out *o, const struct fh_cmd_sub *s)
{
	o->layers = s->layers;
	o->priority = s->priority ? s->priority : 1;
}

/* The publisher's stream s names, checked: NULL with *rc set when it cannot be received. */
static struct dp_pub *sub_pub(struct dp_worker *w, const struct fh_cmd *c, int *rc)
{
	const struct fh_cmd_sub *s = &c->u.sub;
	struct dp_part *pp;
	struct dp_pub *pub;

	*rc = 0;
	if (!s->pub_key)
		return NULL;
	if (s->pub_slot >= FH_MAX_SLOTS || s->pub_slot == c->slot) {
		*rc = -EINVAL;
		return NULL;
	}
	pp = &w->parts[s->pub_slot];
	if (!pp->used || !(pub = find_pub(pp, s->pub_key)) || pub->n_fwd == DP_MAX_FWD ||
	    pub->kind != s->kind) {
		*rc = -ENOENT;
		return NULL;
	}
	return pub;
}

static int cmd_sub_add(struct dp_worker *w, const struct fh_cmd *c, uint64_t now)
{
	const struct fh_cmd_sub *s = &c->u.sub;
	struct dp_pub *pub;
	uint8_t idx;
	int rc;

	if (!s->out_ssrc || !s->pub_key)
		return -EINVAL;
	if (!(pub = sub_pub(w, c, &rc)))
		return rc;
	if ((rc = out_new(w, c, &idx)) < 0)
		return rc;
	out_prefs(&w->parts[c->slot].out[idx], s);
	out_point(w, c->slot, idx, s->pub_slot, pub, now);
	return 0;
}

static int cmd_sub_set(struct dp_worker *w, const struct fh_cmd *c, uint64_t now)
{
	const struct fh_cmd_sub *s = &c->u.sub;
	struct dp_part *sub = &w->parts[c->slot];
	struct dp_pub *pub;
	int rc, idx = -1;

	if (!s->out_ssrc || s->kind > FH_KIND_VIDEO)
		return -EINVAL;
	pub = sub_pub(w, c, &rc);
	if (rc < 0)
		return rc;
	for (int i = 0; i < DP_MAX_OUT; i++)
		if (sub->out[i].used && sub->out[i].out_ssrc == s->out_ssrc)
			idx = i;
	if (idx < 0) {
		uint8_t n;

		if ((rc = out_new(w, c, &n)) < 0)
			return rc;
		idx = n;
	} else if (sub->out[idx].kind != s->kind) {
		return -EINVAL;
	}
	struct dp_out *o = &sub->out[idx];

	out_prefs(o, s);
	if (o->pub_key != (pub ? pub->key : 0) || (pub && o->pub_slot != s->pub_slot) ||
	    (!pub && o->pub_key))
		out_point(w, c->slot, (uint8_t)idx, s->pub_slot, pub, now);
	return 0;
}

static int cmd_sub_del(struct dp_worker *w, const struct fh_cmd *c)
{
	struct dp_part *sub = &w->parts[c->slot];

	for (uint8_t i = 0; i < DP_MAX_OUT; i++) {
		if (sub->out[i].used && sub->out[i].out_ssrc == c->u.sub.out_ssrc) {
			out_remove(w, c->slot, i);
			return 0;
		}
	}
	return -ENOENT;
}

void dp_worker_apply(struct dp_worker *w, const struct fh_cmd *c, uint64_t now)
{
	int rc = 0;

	if (c->slot >= FH_MAX_SLOTS) {
		rc = -EINVAL;
		goto out;
	}
	struct dp_part *p = &w->parts[c->slot];

	if (c->type != FH_CMD_PART_ADD && !p->used) {
		rc = -ENOENT;
		goto out;
	}
	switch (c->type) {
	case FH_CMD_PART_ADD:
		rc = cmd_part_add(w, c, now);
		break;
	case FH_CMD_PART_DEL:
		part_del(w, c->slot);
		break;
	case FH_CMD_KEYS:
		rc = dp_media_set_keys(w, p, &c->u.keys);
		break;
	case FH_CMD_STREAM_ADD:
		rc = cmd_stream_add(w, c);
		break;
	case FH_CMD_STREAM_DEL: {
		struct dp_pub *pub = find_pub(p, c->u.stream.key);

		if (pub)
			pub_remove(w, pub);
		else
			rc = -ENOENT;
		break;
	}
	case FH_CMD_SUB_ADD:
		rc = cmd_sub_add(w, c, now);
		break;
	case FH_CMD_SUB_DEL:
		rc = cmd_sub_del(w, c);
		break;
	case FH_CMD_SUB_SET:
		rc = cmd_sub_set(w, c, now);
		break;
	case FH_CMD_KEYFRAME: {
		struct dp_pub *pub = find_pub(p, c->u.stream.key);

		if (pub)
			for (int l = 0; l < pub->n_layers; l++)
				dp_media_request_key(w, c->slot, pub, l, now, false);
		else
			rc = -ENOENT;
		break;
	}
	case FH_CMD_MEDIA:
		rc = dp_adapt_media(w, p, &c->u.media);
		break;
	case FH_CMD_MUTE: {
		struct dp_pub *pub = find_pub(p, c->u.mute.key);

		if (pub)
			pub->muted = c->u.mute.muted;
		else
			rc = -ENOENT;
		break;
	}
	default:
		rc = -EINVAL;
	}
out:
	if (rc < 0) {
		dp_drop(w, FH_DROP_cmd_invalid);
		struct fh_evt e = {.type = FH_EVT_CMD_ERR,
				   .slot = c->slot,
				   .room = c->room,
				   .arg = c->type,
				   .seq = c->seq};

		rte_ring_sp_enqueue_elem(w->evt, &e, sizeof(e));
	} else {
		dp_count(w, FH_CTR_commands, 1);
	}
}

static void dtls_up(struct dp_worker *w, struct rte_mbuf *m)
{
	struct dp_pkt_meta *meta = dp_meta(m);
	int slot = dp_addr_lookup(w, &meta->peer);

	if (slot < 0) {
		dp_drop(w, FH_DROP_dtls_unbound);
		return;
	}
	if (m->data_len < 13 || m->data_len > FH_PKT_MAX) {
		dp_drop(w, FH_DROP_dtls_malformed);
		return;
	}
	struct fh_pkt_msg msg;

	msg.slot = (uint16_t)slot;
	msg.len = m->data_len;
	msg.room = w->parts[slot].room;
	msg.addr = meta->peer;
	memcpy(msg.data, rte_pktmbuf_mtod(m, void *), m->data_len);
	if (rte_ring_sp_enqueue_elem(w->up, &msg, sizeof(msg)) != 0)
		dp_drop(w, FH_DROP_up_ring_full);
	else
		dp_count(w, FH_CTR_dtls_up, 1);
}

static void dtls_down(struct dp_worker *w)
{
	struct fh_pkt_msg msg;

	for (int i = 0; i < 16; i++) {
		if (rte_ring_sc_dequeue_elem(w->down, &msg, sizeof(msg)) != 0)
			return;
		struct dp_part *p = msg.slot < FH_MAX_SLOTS ? &w->parts[msg.slot] : NULL;

		if (!p || !p->used || !p->bound || msg.len == 0 || msg.len > FH_PKT_MAX) {
			dp_drop(w, FH_DROP_down_unbound);
			continue;
		}
		struct rte_mbuf *m = rte_pktmbuf_alloc(w->pool);

		if (!m) {
			dp_drop(w, FH_DROP_no_mbuf);
			continue;
		}
		memcpy(rte_pktmbuf_mtod(m, void *), msg.data, msg.len);
		m->data_len = msg.len;
		m->pkt_len = msg.len;
		dp_meta(m)->peer = p->addr;
		dp_meta(m)->via = p->via;
		dp_worker_send(w, m);
		dp_count(w, FH_CTR_dtls_down, 1);
	}
}

void dp_worker_input(struct dp_worker *w, struct rte_mbuf *m, uint64_t now)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	struct dp_pkt_meta *meta = dp_meta(m);
	int slot;

	dp_count(w, FH_CTR_rx_packets, 1);
	dp_count(w, FH_CTR_rx_bytes, m->data_len);
	if (unlikely(meta->flags & (DP_META_TRUNCATED | DP_META_BAD_SOURCE))) {
		dp_drop(w, meta->flags & DP_META_TRUNCATED ? FH_DROP_truncated
							   : FH_DROP_source_family);
		rte_pktmbuf_free(m);
		return;
	}
	switch (fh_demux(d, m->data_len)) {
	case FH_DEMUX_STUN:
		dp_stun_input(w, m, now); /* consumes m */
		return;
	case FH_DEMUX_DTLS:
		dtls_up(w, m);
		break;
	case FH_DEMUX_RTP:
	case FH_DEMUX_RTCP:
		slot = dp_addr_lookup(w, &meta->peer);
		if (slot < 0) {
			dp_drop(w, FH_DROP_media_unbound);
			break;
		}
		if (!w->parts[slot].has_keys) {
			dp_drop(w, FH_DROP_media_no_keys);
			break;
		}
		/* decrypted with the rest of the burst, then handled by dp_media_input */
		if (unlikely(w->n_dec == DP_BURST)) {
			dp_media_decrypt(w);
			dp_media_input(w, now);
			dp_media_release(w);
		}
		w->dec[w->n_dec++] = (struct dp_srtp_op){
			.s = w->parts[slot].srtp,
			.m = m,
			.slot = (uint16_t)slot,
			.rtcp = fh_demux(d, m->data_len) == FH_DEMUX_RTCP,
		};
		return;
	default:
		dp_drop(w, FH_DROP_not_webrtc);
		break;
	}
	rte_pktmbuf_free(m);
}

static uint64_t monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void dp_worker_timers(struct dp_worker *w, uint64_t now)
{
	uint16_t n_probing = 0;

	w->clk_tsc = now;
	w->clk_us = monotonic_us();

	for (uint16_t s = 0; s < FH_MAX_SLOTS; s++) {
		struct dp_part *p = &w->parts[s];

		if (!p->used || !p->bound)
			continue;
		if (now - p->last_check_tsc > w->consent_cycles) {
			/* RFC 7675: without fresh consent we stop sending at once. */
			dp_worker_emit(w, FH_EVT_CONSENT_LOST, s, 0);
			part_unbind(w, p);
			dp_count(w, FH_CTR_consent_lost, 1);
			continue;
		}
		if (p->has_keys) {
			dp_adapt_timer(w, s, now);
			if (p->probe_bps)
				w->probing[n_probing++] = s;
		}
		if (p->has_keys && now >= p->next_rtcp_tsc) {
			dp_media_periodic_rtcp(w, s, now);
			/* about once a second, spread so that slots do not fire together */
			p->next_rtcp_tsc = now + w->hz - w->hz / 8 + (rte_rand() % (w->hz / 4));
		}
	}
	w->n_probing = n_probing;
	dp_speaker_timer(w, now);
}

int dp_worker_init(struct dp_worker *w, const struct dp_worker_conf *c, struct fh_region *reg,
		   struct rte_mempool *pool, volatile bool *stop)
{
	memset(w, 0, sizeof(*w));
	w->id = c->id;
	w->stop = stop;
	w->io = c->io;
	w->pool = pool;
	w->cmd = fh_region_cmd(reg, c->id);
	w->evt = fh_region_evt(reg, c->id);
	w->up = fh_region_up(reg, c->id);
	w->down = fh_region_down(reg, c->id);
	w->ctr = fh_region_counters(reg, c->id);
	w->stat = fh_region_slot_stat(reg, c->id, 0);
	w->hz = rte_get_tsc_hz();
	w->consent_cycles = w->hz * c->consent_timeout_s;
	w->pli_min_cycles = w->hz / 2;
	dp_adapt_worker_init(w);
	w->remb_bitrate = c->remb_bitrate;
	w->srtp = c->srtp;
	snprintf(w->ctr->srtp_engine, sizeof(w->ctr->srtp_engine), "%s",
		 dp_srtp_engine_name(w->srtp));
	w->sfu_ssrc = (uint32_t)rte_rand() | 1;
	memset(w->addr_hash, 0xff, sizeof(w->addr_hash));
	w->parts = calloc(FH_MAX_SLOTS, sizeof(*w->parts));
	if (!w->parts)
		return -ENOMEM;
	if (dp_speaker_init(w) < 0) {
		free(w->parts);
		return -ENOMEM;
	}
	struct dp_io_conf ioc = c->io_conf;

	ioc.ctr = w->ctr;
	w->port = w->io->open(&ioc, pool);
	if (!w->port) {
		int e = errno;

		dp_speaker_fini(w);
		free(w->parts);
		return -e;
	}
	return 0;
}

void dp_worker_fini(struct dp_worker *w)
{
	for (uint16_t s = 0; s < FH_MAX_SLOTS; s++)
		part_del(w, s);
	w->io->close(w->port);
	dp_speaker_fini(w);
	free(w->parts);
	dp_srtp_engine_free(w->srtp);
	w->srtp = NULL;
}

int dp_worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct rte_mbuf *pkts[DP_BURST];
	struct fh_cmd cmd;
	unsigned idle = 0;
	uint64_t last = rte_rdtsc(), next_timer = last;

	w->start_tsc = last;
	w->clk_tsc = last;
	w->clk_us = monotonic_us();
	while (!*w->stop) {
		uint64_t now = rte_rdtsc();
		uint16_t n = w->io->rx_burst(w->port, pkts, DP_BURST), rx = n;
		uint64_t t[FH_STAGE_MAX + 1];

		t[0] = now;
		t[FH_STAGE_rx + 1] = rte_rdtsc();
		for (uint16_t i = 0; i < n; i++)
			dp_worker_input(w, pkts[i], now);
		t[FH_STAGE_classify + 1] = rte_rdtsc();
		dp_media_decrypt(w);
		t[FH_STAGE_decrypt + 1] = rte_rdtsc();
		dp_media_input(w, now);
		t[FH_STAGE_media + 1] = rte_rdtsc();
		dp_media_release(w); /* encrypts the copies, then frees the burst */
		t[FH_STAGE_encrypt + 1] = rte_rdtsc();
		/* Commands are applied between bursts, so state never changes mid-packet. */
		for (int i = 0; i < 32 && rte_ring_sc_dequeue_elem(w->cmd, &cmd, sizeof(cmd)) == 0;
		     i++) {
			dp_worker_apply(w, &cmd, now);
			n++;
		}
		dtls_down(w);
		/* busy: it received, applied a command, ran the timers or sent anything (the
		 * pacer and the timers send in iterations that received nothing) */
		bool worked = n;

		if (now >= next_timer) {
			dp_worker_timers(w, now);
			next_timer = now + w->hz / 10;
			worked = true;
		}
		if ((w->n_probing || w->n_pacing) && now >= w->next_pace_tsc) {
			dp_adapt_pace(w, now);
			w->next_pace_tsc = now + w->hz / 200;
		}
		dp_media_encrypt(w);
		worked |= w->n_tx > 0;
		dp_worker_flush(w);
		if (w->io->drain)
			w->io->drain(w->port, rte_rdtsc());

		uint64_t end = rte_rdtsc();

		t[FH_STAGE_tx + 1] = end;
		w->ctr->total_cycles += end - last;
		if (rx)
			for (int s = 0; s < FH_STAGE_MAX; s++)
				w->ctr->stage_cycles[s] += t[s + 1] - t[s];
		if (worked)
			w->ctr->busy_cycles += end - now;
		if (n)
			idle = 0;
		else if (++idle >= DP_IDLE_POLLS) {
			w->io->idle(w->port, DP_IDLE_SLEEP_MS);
		}
		last = end;
	}
	return 0;
}
