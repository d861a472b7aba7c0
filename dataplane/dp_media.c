/*
 * dp_media: the media path of a worker. SRTP/SRTCP through the worker's engine (dp_srtp: a
 * burst is decrypted as one batch, the copies it makes are encrypted as one batch),
 * forwarding each published packet to every receiver with its own SSRC / sequence /
 * timestamp, a short packet cache per video stream to answer NACKs with RTX, rate-limited key
 * frame requests, and the RTCP that keeps browsers' statistics and bandwidth estimation sane
 * (receiver reports and REMB to publishers, translated sender reports to receivers). Runs on
 * the worker's lcore; allocates nothing but packet buffers.
 *
 * Cost note: per forwarded copy one buffer (a packet's copies come from the pool in one bulk
 * get), its header written and one SRTP protect. With libsrtp2 the protect dominates (about
 * 1 us with AEAD_AES_128_GCM, about 4.7 us with AES_CM_128_HMAC_SHA1_80 on the CI machine);
 * with cryptodev it is a share of a batch (bench/README.md has the cycles per stage).
 */
#include <string.h>

#include "dp_worker.h"
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

static struct dp_pub *find_pub(struct dp_part *p, uint32_t ssrc)
{
	for (int i = 0; i < DP_MAX_PUB; i++)
		if (p->pub[i].used && p->pub[i].ssrc == ssrc)
			return &p->pub[i];
	return NULL;
}

static struct dp_pub *find_pub_key(struct dp_part *p, uint32_t key)
{
	for (int i = 0; i < DP_MAX_PUB; i++)
		if (p->pub[i].used && p->pub[i].key == key)
			return &p->pub[i];
	return NULL;
}

static bool is_rtx_of_any(struct dp_part *p, uint32_t ssrc)
{
	for (int i = 0; i < DP_MAX_PUB; i++)
		if (p->pub[i].used && p->pub[i].rtx_ssrc == ssrc)
			return true;
	return false;
}

static struct dp_out *find_out(struct dp_part *p, uint32_t out_ssrc)
{
	for (int i = 0; i < DP_MAX_OUT; i++)
		if (p->out[i].used && p->out[i].out_ssrc == out_ssrc)
			return &p->out[i];
	return NULL;
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
static void stats_jitter(struct dp_worker *w, struct dp_pub *pub, uint32_t ts, uint64_t now)
{
	uint32_t arrival =
		(uint32_t)((double)(now - w->start_tsc) * pub->clock_rate / (double)w->hz);
	int64_t transit = (int32_t)(arrival - ts);

	if (pub->st.received > 1) {
		int64_t d = transit - pub->st.last_transit;

		if (d < 0)
			d = -d;
		pub->st.jitter += (uint32_t)d - ((pub->st.jitter + 8) >> 4);
	}
	pub->st.last_transit = transit;
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
void dp_media_encrypt(struct dp_worker *w)
{
	unsigned n = w->n_enc;

	if (!n)
		return;
	w->n_enc = 0;
	dp_srtp_protect(w->srtp, w->enc, n);
	for (unsigned i = 0; i < n; i++) {
		struct dp_srtp_op *o = &w->enc[i];

		if (unlikely(o->status != DP_SRTP_OK)) {
			dp_drop(w, o->status == DP_SRTP_UNSUPPORTED ? FH_DROP_srtp_unsupported
								    : FH_DROP_srtp_protect_fail);
			rte_pktmbuf_free(o->m);
			continue;
		}
		dp_worker_send(w, o->m);
	}
}

/* Queues m for encryption for participant p; consumes m. With src, m holds only the header
 * and src the payload (see struct dp_srtp_op). */
static void send_srtp(struct dp_worker *w, struct dp_part *p, struct rte_mbuf *m,
		      struct rte_mbuf *src, bool rtcp)
{
	if (unlikely(w->n_enc == DP_ENC_MAX))
		dp_media_encrypt(w);
	dp_meta(m)->peer = p->addr;
	dp_meta(m)->via = p->via;
	w->enc[w->n_enc++] = (struct dp_srtp_op){
		.s = p->srtp, .m = m, .src = src, .slot = (uint16_t)(p - w->parts), .rtcp = rtcp};
}

static void send_rtcp(struct dp_worker *w, struct dp_part *p, const uint8_t *buf, size_t len)
{
	struct rte_mbuf *m = copy_pkt(w, buf, len);

	if (!m)
		return;
	send_srtp(w, p, m, NULL, true);
	dp_count(w, FH_CTR_rtcp_out, 1);
}

static inline uint32_t ts_gap(const struct dp_pub *pub)
{
	/* one frame: 20 ms of Opus, or 1/30 s of video */
	return pub->kind == FH_KIND_AUDIO ? pub->clock_rate / 50 : pub->clock_rate / 30;
}

/* One copy of src's RTP packet for a receiver in m (a fresh buffer, consumed; NULL when the
 * pool ran dry): the rewritten header, whose payload the engine encrypts straight from src
 * (which lives until the batch is done). */
static void forward(struct dp_worker *w, struct dp_pub *pub, const struct dp_fwd *f,
		    struct rte_mbuf *src, const struct fh_rtp_hdr *h, struct rte_mbuf *m)
{
	struct dp_part *s = &w->parts[f->slot];
	struct dp_out *o = &s->out[f->out];
	uint16_t seq;
	uint32_t ts;

	if (unlikely(!s->bound || !s->has_keys)) {
		dp_drop(w, FH_DROP_receiver_not_ready);
		rte_pktmbuf_free(m);
		return;
	}
	if (unlikely(!m)) {
		dp_drop(w, FH_DROP_no_mbuf);
		return;
	}
	uint8_t *q = rte_pktmbuf_mtod(m, uint8_t *);

	memcpy(q, rte_pktmbuf_mtod(src, const uint8_t *), h->hdr_len);
	m->data_len = src->data_len;
	m->pkt_len = src->data_len;
	fh_rewrite_map(&o->rw, h->ssrc, h->seq, h->ts, ts_gap(pub), &seq, &ts);
	fh_rtp_set_seq(q, seq);
	fh_rtp_set_ts(q, ts);
	fh_rtp_set_ssrc(q, o->out_ssrc);
	q[1] = (uint8_t)((q[1] & 0x80) | o->out_pt);
	o->packets++;
	o->octets += h->payload_len;
	send_srtp(w, s, m, src, false);
	dp_count(w, FH_CTR_rtp_forwarded, 1);
}

/* A decrypted RTP packet from participant slot. */
static void media_rtp(struct dp_worker *w, struct rte_mbuf *m, int slot, uint64_t now)
{
	struct dp_part *p = &w->parts[slot];
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	int len = m->data_len;
	struct fh_rtp_hdr h;

	if (unlikely(fh_rtp_parse(d, (size_t)len, &h) < 0)) {
		dp_drop(w, FH_DROP_rtp_malformed);
		return;
	}
	struct dp_pub *pub = find_pub(p, h.ssrc);

	if (unlikely(!pub)) {
		dp_drop(w, is_rtx_of_any(p, h.ssrc) ? FH_DROP_rtx_in : FH_DROP_rtp_unknown_ssrc);
		return;
	}
	dp_count(w, FH_CTR_rtp_in, 1);
	stats_seq(&pub->st, h.seq);
	stats_jitter(w, pub, h.ts, now);
	if (pub->muted) {
		dp_drop(w, FH_DROP_muted);
		return;
	}
	if (pub->cache && len <= DP_CACHE_PKT) {
		struct dp_cache_ent *e = &pub->cache[h.seq % DP_CACHE];

		e->seq = h.seq;
		e->len = (uint16_t)len;
		memcpy(e->data, d, (size_t)len);
	}
	/* one buffer per receiver, taken from the pool at once */
	struct rte_mbuf *copies[DP_MAX_FWD];
	uint16_t n = pub->n_fwd;

	if (unlikely(n == 0))
		return;
	if (unlikely(rte_pktmbuf_alloc_bulk(w->pool, copies, n) != 0))
		for (uint16_t i = 0; i < n; i++)
			copies[i] = rte_pktmbuf_alloc(w->pool); /* as many as there are */
	for (uint16_t i = 0; i < n; i++)
		forward(w, pub, &pub->fwd[i], m, &h, copies[i]);
}

void dp_media_send_pli(struct dp_worker *w, uint16_t slot, struct dp_pub *pub, uint64_t now,
		       bool force)
{
	struct dp_part *p = &w->parts[slot];
	uint64_t min = force ? w->pli_min_cycles / 4 : w->pli_min_cycles;
	uint8_t buf[64];
	size_t n;

	if (!p->bound || !p->has_keys || now - pub->last_pli_tsc < min)
		return;
	n = fh_rtcp_build_rr(buf, sizeof(buf), w->sfu_ssrc, NULL, 0);
	n += fh_rtcp_build_pli(buf + n, sizeof(buf) - n, w->sfu_ssrc, pub->ssrc);
	send_rtcp(w, p, buf, n);
	pub->last_pli_tsc = now;
	dp_count(w, FH_CTR_pli_sent, 1);
}

static void answer_nack(struct dp_worker *w, struct dp_part *p, const struct fh_rtcp_pkt *pkt)
{
	struct dp_out *o = find_out(p, fh_rtcp_fb_media_ssrc(pkt));
	uint16_t seqs[64];

	if (!o || !o->pub_key || !o->rw.started)
		return;
	struct dp_part *pp = &w->parts[o->pub_slot];
	struct dp_pub *pub = pp->used ? find_pub_key(pp, o->pub_key) : NULL;

	if (!pub || !pub->cache)
		return;
	unsigned n = fh_rtcp_nack_seqs(pkt, seqs, 64);

	for (unsigned i = 0; i < n; i++) {
		uint16_t in_seq = fh_rewrite_unmap_seq(&o->rw, seqs[i]);
		struct dp_cache_ent *e = &pub->cache[in_seq % DP_CACHE];
		struct fh_rtp_hdr h;

		if (!e->len || e->seq != in_seq || fh_rtp_parse(e->data, e->len, &h) < 0 ||
		    h.ssrc != o->rw.src_ssrc) {
			dp_drop(w, FH_DROP_nack_miss);
			continue;
		}
		struct rte_mbuf *m = rte_pktmbuf_alloc(w->pool);

		if (!m) {
			dp_drop(w, FH_DROP_no_mbuf);
			return;
		}
		uint8_t *q = rte_pktmbuf_mtod(m, uint8_t *);
		size_t len;

		memcpy(q, e->data, h.hdr_len);
		fh_rtp_set_ts(q, h.ts + o->rw.ts_off);
		if (o->out_rtx_ssrc) {
			/* RFC 4588: own SSRC and numbering, original sequence number first. */
			q[0] &= (uint8_t)~0x20; /* the padding is not carried over */
			q[1] = (uint8_t)((q[1] & 0x80) | o->out_rtx_pt);
			fh_rtp_set_seq(q, o->rtx_seq++);
			fh_rtp_set_ssrc(q, o->out_rtx_ssrc);
			fh_wr16(q + h.hdr_len, seqs[i]);
			memcpy(q + h.hdr_len + 2, e->data + h.hdr_len, h.payload_len);
			len = h.hdr_len + 2u + h.payload_len;
		} else {
			q[1] = (uint8_t)((q[1] & 0x80) | o->out_pt);
			fh_rtp_set_seq(q, seqs[i]);
			fh_rtp_set_ssrc(q, o->out_ssrc);
			memcpy(q + h.hdr_len, e->data + h.hdr_len, e->len - h.hdr_len);
			len = e->len;
		}
		m->data_len = (uint16_t)len;
		m->pkt_len = (uint32_t)len;
		send_srtp(w, p, m, NULL, false);
		dp_count(w, FH_CTR_rtx_sent, 1);
	}
}

/* A publisher's sender report, translated for each receiver so lip sync and stats hold. */
static void relay_sr(struct dp_worker *w, struct dp_pub *pub, const struct fh_rtcp_pkt *pkt,
		     uint64_t now)
{
	if (pkt->len < 28)
		return;
	uint64_t ntp = (uint64_t)fh_rd32(pkt->data + 8) << 32 | fh_rd32(pkt->data + 12);
	uint32_t rtp_ts = fh_rd32(pkt->data + 16);

	pub->st.last_sr_mid = (uint32_t)(ntp >> 16);
	pub->st.last_sr_tsc = now;
	for (uint16_t i = 0; i < pub->n_fwd; i++) {
		struct dp_part *s = &w->parts[pub->fwd[i].slot];
		struct dp_out *o = &s->out[pub->fwd[i].out];
		uint8_t buf[32];

		if (!s->bound || !s->has_keys || !o->rw.started || o->rw.src_ssrc != pub->ssrc)
			continue;
		struct fh_rtcp_sr_info sr = {
			.ssrc = o->out_ssrc,
			.ntp = ntp,
			.rtp_ts = rtp_ts + o->rw.ts_off,
			.packets = o->packets,
			.octets = o->octets,
		};
		size_t n = fh_rtcp_build_sr(buf, sizeof(buf), &sr);

		send_rtcp(w, s, buf, n);
	}
}

static void keyframe_for(struct dp_worker *w, struct dp_part *p, uint32_t out_ssrc, uint64_t now)
{
	struct dp_out *o = find_out(p, out_ssrc);

	if (!o || !o->pub_key)
		return;
	struct dp_part *pp = &w->parts[o->pub_slot];
	struct dp_pub *pub = pp->used ? find_pub_key(pp, o->pub_key) : NULL;

	if (pub)
		dp_media_send_pli(w, o->pub_slot, pub, now, false);
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
			struct dp_pub *pub = find_pub(p, fh_rd32(pkt.data + 4));

			if (pub)
				relay_sr(w, pub, &pkt, now);
			break;
		}
		case FH_RTCP_RTPFB:
			if (pkt.count == FH_RTPFB_NACK)
				answer_nack(w, p, &pkt);
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

void dp_media_periodic_rtcp(struct dp_worker *w, uint16_t slot, uint64_t now)
{
	struct dp_part *p = &w->parts[slot];
	struct fh_rtcp_report_block rb[DP_MAX_PUB];
	uint32_t video[DP_MAX_PUB];
	unsigned n = 0, nv = 0;
	uint8_t buf[256];

	for (int i = 0; i < DP_MAX_PUB; i++) {
		struct dp_pub *pub = &p->pub[i];
		struct dp_rx_stats *s = &pub->st;

		if (!pub->used || !s->init)
			continue;
		uint32_t ext_max = s->cycles + s->max_seq;
		uint32_t expected = ext_max - s->base_seq + 1;
		uint32_t exp_int = expected - s->expected_prior;
		uint32_t rec_int = s->received - s->received_prior;
		int64_t lost_int = (int64_t)exp_int - rec_int;

		s->expected_prior = expected;
		s->received_prior = s->received;
		rb[n] = (struct fh_rtcp_report_block){
			.ssrc = pub->ssrc,
			.fraction_lost = (exp_int == 0 || lost_int <= 0)
						 ? 0
						 : (uint8_t)((lost_int << 8) / exp_int),
			.cumulative_lost = (int32_t)(expected - s->received),
			.ext_highest_seq = ext_max,
			.jitter = s->jitter >> 4,
			.lsr = s->last_sr_mid,
			.dlsr = s->last_sr_tsc ? (uint32_t)((now - s->last_sr_tsc) * 65536 / w->hz)
					       : 0,
		};
		n++;
		if (pub->kind == FH_KIND_VIDEO)
			video[nv++] = pub->ssrc;
	}
	if (n == 0)
		return;
	size_t len = fh_rtcp_build_rr(buf, sizeof(buf), w->sfu_ssrc, rb, n);

	if (nv)
		len += fh_rtcp_build_remb(buf + len, sizeof(buf) - len, w->sfu_ssrc,
					  w->remb_bitrate, video, nv);
	send_rtcp(w, p, buf, len);
}
