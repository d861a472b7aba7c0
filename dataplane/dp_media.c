/*
 * dp_media: the media path of a worker. SRTP/SRTCP through the worker's engine (dp_srtp: a
 * burst is decrypted as one batch, the copies it makes are encrypted as one batch); for each
 * published packet its simulcast layer (SSRCs learned from the mid/rid extensions), and for
 * each receiver whether it gets it: the layer the allocator chose for that receiver, switched
 * to only at a key frame of that layer, VP8 temporal layers above its target dropped; then a
 * copy with the receiver's own SSRC, sequence number, timestamp, VP8 picture numbering and
 * header extensions (its ids, our transport-wide sequence number and send time). A packet
 * cache per layer answers NACKs with RTX within the receiver's budget; key frame requests are
 * rate-limited per layer and a receiver's PLI is absorbed while a switch already waits for a
 * key frame. Estimation, allocation and feedback live in dp_adapt. Runs on the worker's
 * lcore; allocates nothing but packet buffers.
 *
 * Cost note: per forwarded copy one buffer (a packet's copies come from the pool in one bulk
 * get), its header written and one SRTP protect. With libsrtp2 the protect dominates (about
 * 1 us with AEAD_AES_128_GCM, about 4.7 us with AES_CM_128_HMAC_SHA1_80 on the CI machine);
 * with cryptodev it is a share of a batch (bench/README.md has the cycles per stage). A video
 * copy whose VP8 descriptor or header length differs from the source's carries its own copy
 * of the payload (a memcpy of about a kilobyte) instead of being encrypted from the source.
 */
#include <string.h>

#include "dp_worker.h"
#include "fh_rtpext.h"
#include "fh_srtp.h"

int dp_media_set_keys(struct dp_worker *w, struct dp_part *p, const struct fh_cmd_keys *k)
{
	size_t need = fh_srtp_key_len((enum fh_srtp_profile)k->profile);

	if (!need || k->key_len != need)
		return -1;
	dp_media_free_keys(w, p);
	p->srtp = dp_srtp_sess_new(w->srtp, (enum fh_srtp_profile)k->profile, k->rx_key, k->tx_key,
				   need);
	p->has_keys = p->srtp != NULL;
	return p->has_keys ? 0 : -1;
}

void dp_media_free_keys(struct dp_worker *w, struct dp_part *p)
{
	if (p->srtp) {
		/* copies for p may wait in the batch: they go (or fail) before the session does */
		dp_media_encrypt(w);
		dp_srtp_sess_free(w->srtp, p->srtp);
	}
	p->srtp = NULL;
	p->has_keys = false;
}

/* The published stream and layer an SSRC belongs to; *rtx tells whether it is the RTX one. */
struct dp_pub *dp_media_find_ssrc(struct dp_part *p, uint32_t ssrc, int *layer, bool *rtx)
{
	if (!ssrc)
		return NULL;
	for (int i = 0; i < DP_MAX_PUB; i++) {
		struct dp_pub *pub = &p->pub[i];

		if (!pub->used)
			continue;
		for (int l = 0; l < pub->n_layers; l++) {
			if (pub->layer[l].ssrc == ssrc || pub->layer[l].rtx_ssrc == ssrc) {
				*layer = l;
				*rtx = pub->layer[l].ssrc != ssrc;
				return pub;
			}
		}
	}
	return NULL;
}

struct dp_pub *dp_media_find_key(struct dp_part *p, uint32_t key)
{
	for (int i = 0; i < DP_MAX_PUB; i++)
		if (p->pub[i].used && p->pub[i].key == key)
			return &p->pub[i];
	return NULL;
}

static struct dp_out *find_out(struct dp_part *p, uint32_t out_ssrc)
{
	for (int i = 0; i < p->n_out; i++)
		if (p->out[i].used && p->out[i].out_ssrc == out_ssrc)
			return &p->out[i];
	return NULL;
}

/* The publisher behind a receiver's out entry, NULL when it went. */
static struct dp_pub *out_pub(struct dp_worker *w, const struct dp_out *o)
{
	struct dp_part *pp = &w->parts[o->pub_slot];

	return o->pub_key && pp->used ? dp_media_find_key(pp, o->pub_key) : NULL;
}

/* RFC 3550 A.1, without the probation of new sources (cp announces them in SDP). */
static void stats_seq(struct dp_rx_stats *s, uint16_t seq)
{
	if (!s->init) {
		s->init = true;
		s->base_seq = seq;
		s->max_seq = seq;
		s->received = 1;
		return;
	}
	uint16_t delta = (uint16_t)(seq - s->max_seq);

	if (delta == 0)
		return;
	if (delta < 3000) {
		if (seq < s->max_seq)
			s->cycles += 65536;
		s->max_seq = seq;
	} else if (delta <= 65536 - 100) {
		/* a jump too large to be loss: the sender restarted its numbering */
		s->base_seq = seq;
		s->max_seq = seq;
		s->cycles = 0;
		s->received = 0;
		s->expected_prior = s->received_prior = 0;
	}
	s->received++;
}

/* RFC 3550 A.8 interarrival jitter, scaled by 16. */
static void stats_jitter(struct dp_worker *w, const struct dp_pub *pub, struct dp_rx_stats *st,
			 uint32_t ts, uint64_t now)
{
	uint32_t arrival =
		(uint32_t)((double)(now - w->start_tsc) * pub->clock_rate / (double)w->hz);
	int64_t transit = (int32_t)(arrival - ts);

	if (st->received > 1) {
		int64_t d = transit - st->last_transit;

		if (d < 0)
			d = -d;
		st->jitter += (uint32_t)d - ((st->jitter + 8) >> 4);
	}
	st->last_transit = transit;
}

static struct rte_mbuf *copy_pkt(struct dp_worker *w, const uint8_t *d, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->pool);

	if (unlikely(!m)) {
		dp_drop(w, FH_DROP_no_mbuf);
		return NULL;
	}
	memcpy(rte_pktmbuf_mtod(m, void *), d, len);
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	return m;
}

/* Encrypts the waiting copies in one batch and queues what succeeded for sending. */
static __attribute__((noinline)) void encrypt_batch(struct dp_worker *w)
{
	unsigned n = w->n_enc;

	w->n_enc = 0;
	dp_srtp_protect(w->srtp, w->enc, n);
	/* one clock for the batch: its copies leave together (read once, not per copy) */
	uint64_t now = rte_rdtsc(), now_us = dp_worker_us(w, now);

	for (unsigned i = 0; i < n; i++) {
		struct dp_srtp_op *o = &w->enc[i];

		if (unlikely(o->status != DP_SRTP_OK)) {
			dp_drop(w, o->status == DP_SRTP_UNSUPPORTED ? FH_DROP_srtp_unsupported
								    : FH_DROP_srtp_protect_fail);
			rte_pktmbuf_free(o->m);
			continue;
		}
		if (o->tw >= 0) /* video, paced */
			dp_adapt_pace_put(w, &w->parts[o->slot], o->m, o->tw, now, now_us);
		else
			dp_worker_send(w, o->m);
	}
}

/* The worker calls this on every poll: an empty one returns before the batch's registers are
 * saved. */
void dp_media_encrypt(struct dp_worker *w)
{
	if (w->n_enc)
		encrypt_batch(w);
}

/* Queues m for encryption for participant p; consumes m. With src, m holds only the header
 * and src the payload (see struct dp_srtp_op). */
void dp_media_send_srtp(struct dp_worker *w, struct dp_part *p, struct rte_mbuf *m,
			struct rte_mbuf *src, bool rtcp)
{
	if (unlikely(w->n_enc == DP_ENC_MAX))
		dp_media_encrypt(w);
	dp_meta(m)->peer = p->addr;
	dp_meta(m)->via = p->via;
	/* what the receiver's link carries: the SRTP tag and IP/UDP headers come on top */
	p->sent_bytes += m->pkt_len + 10 + 28;
	w->enc[w->n_enc++] = (struct dp_srtp_op){.s = p->srtp,
						 .m = m,
						 .src = src,
						 .slot = (uint16_t)(p - w->parts),
						 .rtcp = rtcp,
						 .tw = -1};
}

/* A video copy for a receiver with an estimate goes through its pacer (dp_adapt), which
 * also notes its send time for the estimate when it really leaves. */
static void send_video(struct dp_worker *w, struct dp_part *p, struct rte_mbuf *m,
		       struct rte_mbuf *src, int tw, uint64_t now)
{
	dp_media_send_srtp(w, p, m, src, false);
	if (tw >= 0 && p->twcc && p->ad)
		w->enc[w->n_enc - 1].tw = tw;
	else
		dp_twcc_sent(w, p, tw, m->data_len, now);
}

void dp_media_send_rtcp(struct dp_worker *w, struct dp_part *p, const uint8_t *buf, size_t len)
{
	struct rte_mbuf *m = copy_pkt(w, buf, len);

	if (!m)
		return;
	dp_media_send_srtp(w, p, m, NULL, true);
	dp_count(w, FH_CTR_rtcp_out, 1);
}

/* The timestamp step of a source change on o: the time since o last forwarded (a slot that
 * was idle, a speaker who took over), at least one frame (20 ms of Opus, 1/30 s of video),
 * at most 10 s. */
static inline uint32_t ts_gap(const struct dp_worker *w, const struct dp_out *o,
			      const struct dp_pub *pub, uint64_t now)
{
	uint32_t frame = pub->kind == FH_KIND_AUDIO ? pub->clock_rate / 50 : pub->clock_rate / 30;
	uint64_t dt = o->last_fwd_tsc && now > o->last_fwd_tsc ? now - o->last_fwd_tsc : 0;

	if (dt > 10 * w->hz)
		dt = 10 * w->hz;
	uint64_t gap = dt * pub->clock_rate / w->hz;

	return gap > frame ? (uint32_t)gap : frame;
}

/* Writes the outbound header for receiver s into q: the source's fixed header and CSRCs with
 * the receiver's header extensions (our transport-wide sequence number and send time, the
 * sender's audio level); returns its length, 0 when it does not fit. */
size_t dp_media_header(struct dp_worker *w, struct dp_part *s, uint8_t *q, size_t cap,
		       const uint8_t *in, const struct fh_rtp_hdr *h, int audio_level, uint64_t now,
		       int *tw)
{
	struct fh_rtpext_values v = {0};

	if (s->ext[FH_EXT_TWCC]) {
		v.set |= FH_RTPEXT_BIT(FH_EXT_TWCC);
		v.twcc_seq = s->tw_seq;
	}
	if (s->ext[FH_EXT_ABS_SEND_TIME]) {
		v.set |= FH_RTPEXT_BIT(FH_EXT_ABS_SEND_TIME);
		v.abs_send_time = fh_rtpext_abs_time(dp_worker_us(w, now));
	}
	if (audio_level >= 0 && s->ext[FH_EXT_AUDIO_LEVEL]) {
		v.set |= FH_RTPEXT_BIT(FH_EXT_AUDIO_LEVEL);
		v.voice = audio_level & 0x80;
		v.level = (uint8_t)(audio_level & 0x7f);
	}
	size_t hl = fh_rtpext_rebuild_header(q, cap, in, h, s->ext, &v);

	*tw = -1;
	if (hl && (v.set & FH_RTPEXT_BIT(FH_EXT_TWCC)))
		*tw = s->tw_seq++;
	return hl;
}

/* The packet being forwarded, read once for all its receivers. */
struct dp_fwd_pkt {
	struct rte_mbuf *src;
	const struct fh_rtp_hdr *h;
	struct dp_pub *pub;
	int layer;
	bool vp8; /* desc holds a parsed VP8 descriptor */
	struct fh_vp8_desc desc;
	int audio_level; /* -1: none */
};

/* A receiver's outbound header depends only on the packet, the receiver's extension ids and
 * its transport-wide number: receivers with the same ids (every Chrome page, every Firefox
 * page) get the header built for the first of them, with their own number written in. */
#define DP_HDR_CACHE_MAX 128
struct dp_hdr_cache {
	bool valid;
	uint8_t ids[FH_EXT_MAX];
	uint8_t len;
	uint8_t tw_off; /* where the transport-wide number sits; 0: none */
	uint8_t buf[DP_HDR_CACHE_MAX];
};

static size_t fwd_header(struct dp_worker *w, struct dp_part *s, struct dp_hdr_cache *hc,
			 uint8_t *q, size_t cap, const struct dp_fwd_pkt *fp, uint64_t now, int *tw)
{
	if (hc->valid && hc->len <= cap && memcmp(hc->ids, s->ext, sizeof(hc->ids)) == 0) {
		memcpy(q, hc->buf, hc->len);
		*tw = -1;
		if (hc->tw_off) {
			fh_wr16(q + hc->tw_off, s->tw_seq);
			*tw = s->tw_seq++;
		}
		return hc->len;
	}
	size_t hl = dp_media_header(w, s, q, cap, rte_pktmbuf_mtod(fp->src, const uint8_t *), fp->h,
				    fp->audio_level, now, tw);

	if (hl && hl <= sizeof(hc->buf)) {
		hc->valid = true;
		memcpy(hc->ids, s->ext, sizeof(hc->ids));
		hc->len = (uint8_t)hl;
		memcpy(hc->buf, q, hl);
		hc->tw_off =
			*tw >= 0 ? (uint8_t)fh_rtpext_twcc_offset(q, hl, s->ext[FH_EXT_TWCC]) : 0;
		if (*tw >= 0 && !hc->tw_off)
			hc->valid = false;
	}
	return hl;
}

/* One copy of the packet for a receiver in m (a fresh buffer, consumed; NULL when the pool
 * ran dry). */
static void forward(struct dp_worker *w, const struct dp_fwd_pkt *fp, struct dp_hdr_cache *hc,
		    const struct dp_fwd *f, struct rte_mbuf *m, uint64_t now)
{
	struct dp_part *s = &w->parts[f->slot];
	struct dp_out *o = &s->out[f->out];
	const struct fh_rtp_hdr *h = fp->h;
	const uint8_t *in = rte_pktmbuf_mtod(fp->src, const uint8_t *);
	size_t body = fp->src->data_len - h->hdr_len;
	uint16_t seq;
	uint32_t ts, gap = 0;
	int tw;

	if (unlikely(!m)) {
		dp_drop(w, FH_DROP_no_mbuf);
		return;
	}
	uint8_t *q = rte_pktmbuf_mtod(m, uint8_t *);
	size_t room = rte_pktmbuf_tailroom(m);
	size_t hl =
		room > body + DP_SRTP_TRAILER_MAX
			? fwd_header(w, s, hc, q, room - body - DP_SRTP_TRAILER_MAX, fp, now, &tw)
			: 0;

	if (unlikely(!hl)) {
		dp_drop(w, FH_DROP_ext_malformed);
		rte_pktmbuf_free(m);
		return;
	}
	if (unlikely(h->ssrc != o->rw.src_ssrc))
		gap = ts_gap(w, o, fp->pub, now);
	o->last_fwd_tsc = now;
	fh_rewrite_map(&o->rw, h->ssrc, h->seq, h->ts, gap, &seq, &ts);
	fh_rtp_set_seq(q, seq);
	fh_rtp_set_ts(q, ts);
	fh_rtp_set_ssrc(q, o->out_ssrc);
	q[1] = (uint8_t)((q[1] & 0x80) | o->out_pt);
	if (o->map) {
		unsigned i = seq % DP_SEQMAP;

		o->map->out[i] = seq;
		o->map->in[i] = h->seq;
		o->map->layer[i] = (uint8_t)fp->layer;
	}
	m->data_len = (uint16_t)(hl + body);
	m->pkt_len = m->data_len;
	o->packets++;
	o->octets += h->payload_len;
	o->bytes += m->data_len;
	if (fp->vp8) {
		memcpy(q + hl, in + h->hdr_len, body);
		if (unlikely(fh_vp8_rewrite_apply(&o->vp8, q + hl, h->payload_len, &fp->desc) <
			     0)) {
			/* a late packet of a frame too old to number consistently */
			dp_drop(w, FH_DROP_temporal_layer);
			rte_pktmbuf_free(m);
			return;
		}
		send_video(w, s, m, NULL, tw, now);
	} else if (hl != h->hdr_len) {
		memcpy(q + hl, in + h->hdr_len, body);
		if (fp->pub->kind == FH_KIND_VIDEO)
			send_video(w, s, m, NULL, tw, now);
		else
			dp_media_send_srtp(w, s, m, NULL, false);
	} else if (fp->pub->kind == FH_KIND_VIDEO) {
		send_video(w, s, m, fp->src, tw, now);
	} else {
		dp_media_send_srtp(w, s, m, fp->src, false);
	}
	if (fp->pub->kind != FH_KIND_VIDEO)
		dp_twcc_sent(w, s, tw, m->data_len, now);
	dp_count(w, FH_CTR_rtp_forwarded, 1);
}

/* A packet of o's current layer that o does not get: the numbering closes over it. */
static void skip_current(struct dp_out *o, uint16_t in_seq)
{
	uint16_t last_in = (uint16_t)(o->rw.last_seq - o->rw.seq_off);

	if ((int16_t)(in_seq - last_in) > 0) {
		o->rw.seq_off--;
		o->skipped = true;
		o->skip_seq = in_seq;
	}
}

/* Whether receiver o gets this video packet; moves o to the target layer at its key frame
 * and keeps the temporal layers it gets. */
static bool video_accept(struct dp_worker *w, struct dp_out *o, const struct dp_fwd_pkt *fp,
			 uint64_t now)
{
	const struct fh_vp8_desc *d = fp->vp8 ? &fp->desc : NULL;

	if (o->paused)
		return false;
	if (fp->layer != o->cur) {
		bool key = d ? d->keyframe : false;

		if (fp->pub->n_layers == 1)
			key = true; /* one stream: as it comes; the receiver asks for a key frame */
		if (fp->layer != o->target || !key)
			return false;
		/* a key frame of the target: the receiver switches here */
		if (o->cur != DP_NONE)
			dp_count(w, FH_CTR_layer_switches, 1);
		o->cur = (uint8_t)fp->layer;
		/* the numbering continues right after what the receiver got last, also when the
		 * layer is the one it had before a pause (the same SSRC would otherwise keep its
		 * old offset, and everything sent meanwhile would look lost) */
		o->rw.src_ssrc = 0;
		o->want_key_tsc = 0;
		o->skipped = false;
		o->temp.cur = o->temp.target;
		fh_vp8_rewrite_switch(&o->vp8);
		(void)now;
		return true;
	}
	if (o->skipped) {
		int16_t d = (int16_t)(fp->h->seq - o->skip_seq);

		if (d < 0 && d > -DP_SEQMAP) {
			/* reordered behind a packet the numbering already closed over */
			dp_drop(w, FH_DROP_temporal_layer);
			return false;
		}
		/* long past the skip (or a jump): left set, the test above would drop half of
		 * every cycle of the sequence numbers once they wrap */
		if (d >= DP_SEQMAP || d <= -DP_SEQMAP)
			o->skipped = false;
	}
	if (!d || !d->t)
		return true;
	if (!fh_vp8_temporal_ok(&o->temp, d)) {
		fh_vp8_rewrite_drop(&o->vp8, d);
		skip_current(o, fp->h->seq);
		dp_drop(w, FH_DROP_temporal_layer);
		return false;
	}
	return true;
}

/* Learns a simulcast SSRC from the mid and rid (or repaired rid) extensions of its packet. */
static struct dp_pub *learn_ssrc(struct dp_worker *w, struct dp_part *p, const uint8_t *d,
				 const struct fh_rtp_hdr *h, const struct fh_rtpext_view *v,
				 int *layer, bool *rtx)
{
	char mid[FH_MID_MAX + 1], rid[FH_RID_MAX + 1];
	bool repaired = false;

	if (fh_rtpext_str(d, v, FH_EXT_MID, mid, sizeof(mid)) < 0)
		return NULL;
	if (fh_rtpext_str(d, v, FH_EXT_RID, rid, sizeof(rid)) < 0) {
		if (fh_rtpext_str(d, v, FH_EXT_RRID, rid, sizeof(rid)) < 0)
			rid[0] = '\0';
		else
			repaired = true;
	}
	for (int i = 0; i < DP_MAX_PUB; i++) {
		struct dp_pub *pub = &p->pub[i];

		if (!pub->used || strcmp(pub->mid, mid))
			continue;
		for (int l = 0; l < pub->n_layers; l++) {
			struct dp_layer *L = &pub->layer[l];

			if (strcmp(pub->rid[l], rid))
				continue;
			if (repaired) {
				L->rtx_ssrc = h->ssrc;
			} else {
				if (dp_layer_start(w, pub, L, h->ssrc) < 0)
					return NULL;
			}
			dp_count(w, FH_CTR_ssrc_learned, 1);
			*layer = l;
			*rtx = repaired;
			return pub;
		}
		dp_drop(w, FH_DROP_rid_unknown);
		return NULL;
	}
	return NULL;
}

/* A decrypted RTP packet from participant slot. */
static void media_rtp(struct dp_worker *w, struct rte_mbuf *m, int slot, uint64_t now)
{
	struct dp_part *p = &w->parts[slot];
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	int len = m->data_len;
	struct fh_rtp_hdr h;
	struct fh_rtpext_view v;
	bool have_ext = false;
	int layer = 0;
	bool rtx = false;

	if (unlikely(fh_rtp_parse(d, (size_t)len, &h) < 0)) {
		dp_drop(w, FH_DROP_rtp_malformed);
		return;
	}
	if (d[0] & 0x10) {
		if (fh_rtpext_parse(d, (size_t)len, &h, p->ext, &v) == 0)
			have_ext = true;
		else
			dp_drop(w, FH_DROP_ext_malformed); /* counted; the packet still goes */
	}
	uint16_t tw;

	if (have_ext && p->twcc && p->ad && fh_rtpext_twcc_seq(d, &v, &tw) == 0)
		dp_twcc_arrived(w, p, tw, now);
	struct dp_pub *pub = dp_media_find_ssrc(p, h.ssrc, &layer, &rtx);

	if (unlikely(!pub) && have_ext)
		pub = learn_ssrc(w, p, d, &h, &v, &layer, &rtx);
	if (unlikely(!pub)) {
		dp_drop(w, FH_DROP_rtp_unknown_ssrc);
		return;
	}
	if (rtx) {
		/* retransmissions and padding a publisher sends us are not forwarded: each
		 * receiver's losses are repaired from our own cache */
		dp_drop(w, FH_DROP_rtx_in);
		return;
	}
	struct dp_layer *L = &pub->layer[layer];

	dp_count(w, FH_CTR_rtp_in, 1);
	stats_seq(&L->st, h.seq);
	stats_jitter(w, pub, &L->st, h.ts, now);
	L->last_rx_tsc = now;
	if (pub->muted) {
		dp_drop(w, FH_DROP_muted);
		return;
	}
	if (h.payload_len == 0) {
		/* padding only (the sender probing its own link): nothing for receivers */
		dp_drop(w, FH_DROP_rtx_in);
		return;
	}
	struct dp_fwd_pkt fp = {.src = m, .h = &h, .pub = pub, .layer = layer, .audio_level = -1};
	unsigned tid = 0;

	if (pub->kind == FH_KIND_VIDEO) {
		fp.vp8 = fh_vp8_parse(d + h.hdr_len, h.payload_len, &fp.desc) == 0;
		if (fp.vp8 && fp.desc.t)
			tid = fp.desc.tid < DP_MAX_TID ? fp.desc.tid : DP_MAX_TID - 1;
		if (L->n_tid < tid + 1)
			L->n_tid = (uint8_t)(tid + 1);
		if (L->cache && len <= DP_CACHE_PKT) {
			struct dp_cache_ent *e = &L->cache[h.seq % DP_CACHE];

			e->seq = h.seq;
			e->len = (uint16_t)len;
			memcpy(e->data, d, (size_t)len);
		}
	} else if (have_ext) {
		uint8_t lvl;
		bool voice;

		if (fh_rtpext_audio_level(d, &v, &voice, &lvl) == 0) {
			fp.audio_level = lvl | (voice ? 0x80 : 0);
			dp_speaker_level(w, p, lvl, voice, now);
		}
	}
	/* the packets of a key frame share its timestamp; they count apart (fh_layer_rate) */
	if (fp.vp8 && fp.desc.keyframe) {
		L->key_seen = true;
		L->key_ts = h.ts;
	}
	fh_layer_rate_add(&L->rate, tid, (uint32_t)len, L->key_seen && h.ts == L->key_ts);

	/* who gets it; then one buffer per receiver, taken from the pool at once */
	struct rte_mbuf *copies[DP_MAX_FWD];
	const struct dp_fwd *to[DP_MAX_FWD];
	uint16_t n = 0;

	for (uint16_t i = 0; i < pub->n_fwd; i++) {
		struct dp_part *s = &w->parts[pub->fwd[i].slot];
		struct dp_out *o = &s->out[pub->fwd[i].out];

		if (unlikely(!s->bound || !s->has_keys)) {
			dp_drop(w, FH_DROP_receiver_not_ready);
			continue;
		}
		if (pub->kind == FH_KIND_VIDEO && !video_accept(w, o, &fp, now))
			continue;
		to[n++] = &pub->fwd[i];
	}
	if (unlikely(n == 0))
		return;
	if (unlikely(rte_pktmbuf_alloc_bulk(w->pool, copies, n) != 0))
		for (uint16_t i = 0; i < n; i++)
			copies[i] = rte_pktmbuf_alloc(w->pool); /* as many as there are */
	struct dp_hdr_cache hc;

	hc.valid = false;
	for (uint16_t i = 0; i < n; i++)
		forward(w, &fp, &hc, to[i], copies[i], now);
}

/* Asks the publisher for a key frame of one layer, at most every pli_min_cycles (a quarter
 * of that when forced: a newcomer). Returns false when the request was throttled. */
bool dp_media_request_key(struct dp_worker *w, uint16_t slot, struct dp_pub *pub, int layer,
			  uint64_t now, bool force)
{
	struct dp_part *p = &w->parts[slot];
	struct dp_layer *L = &pub->layer[layer];
	uint64_t min = force ? w->pli_min_cycles / 4 : w->pli_min_cycles;
	uint8_t buf[64];
	size_t n;

	if (!p->bound || !p->has_keys || !L->ssrc)
		return false;
	if (L->last_pli_tsc && now - L->last_pli_tsc < min)
		return false;
	n = fh_rtcp_build_rr(buf, sizeof(buf), w->sfu_ssrc, NULL, 0);
	n += fh_rtcp_build_pli(buf + n, sizeof(buf) - n, w->sfu_ssrc, L->ssrc);
	dp_media_send_rtcp(w, p, buf, n);
	L->last_pli_tsc = now;
	dp_count(w, FH_CTR_pli_sent, 1);
	return true;
}

/* Retransmits the packet a receiver NACKed from the cache of the layer it came from. */
static void retransmit(struct dp_worker *w, struct dp_part *p, struct dp_out *o, struct dp_pub *pub,
		       uint16_t out_seq, uint64_t now)
{
	unsigned i = out_seq % DP_SEQMAP;

	if (!o->map || o->map->out[i] != out_seq || o->map->layer[i] >= pub->n_layers) {
		dp_drop(w, FH_DROP_nack_miss);
		return;
	}
	struct dp_layer *L = &pub->layer[o->map->layer[i]];
	uint16_t in_seq = o->map->in[i];
	struct dp_cache_ent *e = L->cache ? &L->cache[in_seq % DP_CACHE] : NULL;
	struct fh_rtp_hdr h;

	if (!e || !e->len || e->seq != in_seq || fh_rtp_parse(e->data, e->len, &h) < 0 ||
	    h.ssrc != L->ssrc) {
		dp_drop(w, FH_DROP_nack_miss);
		return;
	}
	size_t need = e->len + 2u + 24u;

	if (!dp_adapt_rtx_budget(p, need)) {
		dp_drop(w, FH_DROP_rtx_budget);
		return;
	}
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->pool);

	if (!m) {
		dp_drop(w, FH_DROP_no_mbuf);
		return;
	}
	uint8_t *q = rte_pktmbuf_mtod(m, uint8_t *);
	size_t room = rte_pktmbuf_tailroom(m), body = e->len - h.hdr_len + 2;
	int tw;
	size_t hl = room > body + DP_SRTP_TRAILER_MAX
			    ? dp_media_header(w, p, q, room - body - DP_SRTP_TRAILER_MAX, e->data,
					      &h, -1, now, &tw)
			    : 0;
	size_t len;

	if (!hl) {
		rte_pktmbuf_free(m);
		dp_drop(w, FH_DROP_ext_malformed);
		return;
	}
	/* the timestamp as the receiver got it: the offset of the source it came from, which
	 * is the current one unless a switch came between */
	fh_rtp_set_ts(q, h.ts + o->rw.ts_off);
	q[0] &= (uint8_t)~0x20; /* the padding is not carried over */
	if (o->out_rtx_ssrc) {
		/* RFC 4588: own SSRC and numbering, original sequence number first. */
		q[1] = (uint8_t)((q[1] & 0x80) | o->out_rtx_pt);
		fh_rtp_set_seq(q, o->rtx_seq++);
		fh_rtp_set_ssrc(q, o->out_rtx_ssrc);
		fh_wr16(q + hl, out_seq);
		memcpy(q + hl + 2, e->data + h.hdr_len, h.payload_len);
		len = hl + 2u + h.payload_len;
		{
			struct fh_vp8_desc dd;

			if (fh_vp8_parse(q + hl + 2, h.payload_len, &dd) == 0)
				fh_vp8_rewrite_apply(&o->vp8, q + hl + 2, h.payload_len, &dd);
		}
	} else {
		q[1] = (uint8_t)((q[1] & 0x80) | o->out_pt);
		fh_rtp_set_seq(q, out_seq);
		fh_rtp_set_ssrc(q, o->out_ssrc);
		memcpy(q + hl, e->data + h.hdr_len, h.payload_len);
		len = hl + h.payload_len;
		{
			struct fh_vp8_desc dd;

			if (fh_vp8_parse(q + hl, h.payload_len, &dd) == 0)
				fh_vp8_rewrite_apply(&o->vp8, q + hl, h.payload_len, &dd);
		}
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	dp_media_send_srtp(w, p, m, NULL, false);
	dp_twcc_sent(w, p, tw, (uint16_t)len, now);
	dp_count(w, FH_CTR_rtx_sent, 1);
}

static void answer_nack(struct dp_worker *w, struct dp_part *p, const struct fh_rtcp_pkt *pkt,
			uint64_t now)
{
	struct dp_out *o = find_out(p, fh_rtcp_fb_media_ssrc(pkt));
	uint16_t seqs[64];

	if (!o || !o->rw.started)
		return;
	struct dp_pub *pub = out_pub(w, o);

	if (!pub || pub->kind != FH_KIND_VIDEO)
		return;
	unsigned n = fh_rtcp_nack_seqs(pkt, seqs, 64);

	for (unsigned i = 0; i < n; i++)
		retransmit(w, p, o, pub, seqs[i], now);
}

/* A publisher's sender report, translated for each receiver that gets that layer now, so
 * lip sync and stats hold. */
static void relay_sr(struct dp_worker *w, struct dp_pub *pub, struct dp_layer *L,
		     const struct fh_rtcp_pkt *pkt, uint64_t now)
{
	if (pkt->len < 28)
		return;
	uint64_t ntp = (uint64_t)fh_rd32(pkt->data + 8) << 32 | fh_rd32(pkt->data + 12);
	uint32_t rtp_ts = fh_rd32(pkt->data + 16);

	L->st.last_sr_mid = (uint32_t)(ntp >> 16);
	L->st.last_sr_tsc = now;
	for (uint16_t i = 0; i < pub->n_fwd; i++) {
		struct dp_part *s = &w->parts[pub->fwd[i].slot];
		struct dp_out *o = &s->out[pub->fwd[i].out];
		uint8_t buf[32];

		if (!s->bound || !s->has_keys || !o->rw.started || o->rw.src_ssrc != L->ssrc)
			continue;
		struct fh_rtcp_sr_info sr = {
			.ssrc = o->out_ssrc,
			.ntp = ntp,
			.rtp_ts = rtp_ts + o->rw.ts_off,
			.packets = o->packets,
			.octets = o->octets,
		};
		size_t n = fh_rtcp_build_sr(buf, sizeof(buf), &sr);

		dp_media_send_rtcp(w, s, buf, n);
	}
}

/* A receiver asks for a key frame: a switch already waiting for one, or a request for that
 * layer a moment ago, answers it without troubling the sender again. */
static void keyframe_for(struct dp_worker *w, struct dp_part *p, uint32_t out_ssrc, uint64_t now)
{
	struct dp_out *o = find_out(p, out_ssrc);

	if (!o)
		return;
	struct dp_pub *pub = out_pub(w, o);

	if (!pub)
		return;
	int layer = o->cur != DP_NONE ? o->cur : o->target;

	/* one receiver's requests reach the sender at most once a second: a receiver on a lossy
	 * line asks again and again, and every key frame goes to everyone on that layer */
	if (o->want_key_tsc || layer >= pub->n_layers ||
	    (o->last_pli_tsc && now - o->last_pli_tsc < w->hz) ||
	    !dp_media_request_key(w, o->pub_slot, pub, layer, now, false)) {
		dp_count(w, FH_CTR_keyframe_absorbed, 1);
		return;
	}
	o->last_pli_tsc = now;
}

/* A decrypted RTCP compound from participant slot. */
static void media_rtcp(struct dp_worker *w, struct rte_mbuf *m, int slot, uint64_t now)
{
	struct dp_part *p = &w->parts[slot];
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	int len = m->data_len;
	struct fh_rtcp_pkt pkt;
	size_t off = 0;

	if (fh_rtcp_validate(d, (size_t)len) < 0) {
		dp_drop(w, FH_DROP_rtcp_malformed);
		return;
	}
	dp_count(w, FH_CTR_rtcp_in, 1);
	while (fh_rtcp_next(d, (size_t)len, &off, &pkt) == 1) {
		switch (pkt.pt) {
		case FH_RTCP_SR: {
			int layer;
			bool rtx;
			struct dp_pub *pub =
				dp_media_find_ssrc(p, fh_rd32(pkt.data + 4), &layer, &rtx);

			if (pub && !rtx)
				relay_sr(w, pub, &pub->layer[layer], &pkt, now);
			break;
		}
		case FH_RTCP_RTPFB:
			if (pkt.count == FH_RTPFB_NACK)
				answer_nack(w, p, &pkt, now);
			else if (pkt.count == FH_RTPFB_TWCC)
				dp_twcc_feedback(w, p, &pkt, now);
			break;
		case FH_RTCP_PSFB:
			if (pkt.count == FH_PSFB_PLI)
				keyframe_for(w, p, fh_rtcp_fb_media_ssrc(&pkt), now);
			else if (pkt.count == FH_PSFB_FIR && pkt.len >= 20)
				keyframe_for(w, p, fh_rd32(pkt.data + 12), now);
			break;
		default:
			/* RR, SDES, BYE, XR, REMB: terminated here, never relayed blindly */
			break;
		}
	}
}

void dp_media_decrypt(struct dp_worker *w)
{
	/* Every line of every packet of the burst is asked for before the first is decrypted:
	 * the packets come from outside this core's caches (a NIC's DMA, another worker), and
	 * fetching them all at once overlaps the misses that the cipher would take one by one
	 * (about 100 cycles less per received 1200-byte packet in dataplane/fh-ringbench). */
	for (unsigned i = 0; i < w->n_dec; i++) {
		const struct rte_mbuf *m = w->dec[i].m;
		const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *), *end = d + m->data_len;

		for (d = RTE_PTR_ALIGN_FLOOR(d, RTE_CACHE_LINE_SIZE); d < end;
		     d += RTE_CACHE_LINE_SIZE)
			rte_prefetch0(d);
	}
	dp_srtp_unprotect(w->srtp, w->dec, w->n_dec);
}

/* The decrypted burst, in the order it arrived; its packets stay until dp_media_release. */
void dp_media_input(struct dp_worker *w, uint64_t now)
{
	for (unsigned i = 0; i < w->n_dec; i++) {
		struct dp_srtp_op *o = &w->dec[i];

		switch (o->status) {
		case DP_SRTP_OK:
			if (o->rtcp)
				media_rtcp(w, o->m, o->slot, now);
			else
				media_rtp(w, o->m, o->slot, now);
			break;
		default:
			dp_drop(w, dp_srtp_unprotect_drop(o->status, o->rtcp));
			break;
		}
	}
}

/* Frees the burst's packets once the copies made from them are encrypted. */
void dp_media_release(struct dp_worker *w)
{
	dp_media_encrypt(w);
	for (unsigned i = 0; i < w->n_dec; i++)
		rte_pktmbuf_free(w->dec[i].m);
	w->n_dec = 0;
}

/* Receiver reports for every layer a participant publishes (sent promptly, so browsers stop
 * repeating mid and rid), and REMB where it takes no transport-wide feedback. */
void dp_media_periodic_rtcp(struct dp_worker *w, uint16_t slot, uint64_t now)
{
	struct dp_part *p = &w->parts[slot];
	struct fh_rtcp_report_block rb[DP_MAX_PUB * FH_MAX_LAYERS];
	uint32_t video[DP_MAX_PUB * FH_MAX_LAYERS];
	unsigned n = 0, nv = 0;
	uint8_t buf[512];

	for (int i = 0; i < DP_MAX_PUB; i++) {
		struct dp_pub *pub = &p->pub[i];

		for (int l = 0; pub->used && l < pub->n_layers; l++) {
			struct dp_layer *L = &pub->layer[l];
			struct dp_rx_stats *s = &L->st;

			if (!L->ssrc || !s->init)
				continue;
			uint32_t ext_max = s->cycles + s->max_seq;
			uint32_t expected = ext_max - s->base_seq + 1;
			uint32_t exp_int = expected - s->expected_prior;
			uint32_t rec_int = s->received - s->received_prior;
			int64_t lost_int = (int64_t)exp_int - rec_int;

			s->expected_prior = expected;
			s->received_prior = s->received;
			rb[n] = (struct fh_rtcp_report_block){
				.ssrc = L->ssrc,
				.fraction_lost = (exp_int == 0 || lost_int <= 0)
							 ? 0
							 : (uint8_t)((lost_int << 8) / exp_int),
				.cumulative_lost = (int32_t)(expected - s->received),
				.ext_highest_seq = ext_max,
				.jitter = s->jitter >> 4,
				.lsr = s->last_sr_mid,
				.dlsr = s->last_sr_tsc
						? (uint32_t)((now - s->last_sr_tsc) * 65536 / w->hz)
						: 0,
			};
			n++;
			if (pub->kind == FH_KIND_VIDEO)
				video[nv++] = L->ssrc;
		}
	}
	if (n == 0)
		return;
	size_t len = fh_rtcp_build_rr(buf, sizeof(buf), w->sfu_ssrc, rb, n);

	if (nv && !p->twcc)
		len += fh_rtcp_build_remb(buf + len, sizeof(buf) - len, w->sfu_ssrc,
					  w->remb_bitrate, video, nv);
	dp_media_send_rtcp(w, p, buf, len);
}
