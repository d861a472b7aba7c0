/*
 * dp_adapt: what makes a worker's forwarding adapt to each receiver's link. Transport-wide
 * feedback to publishers (so their browsers' own estimation works), transport-wide sequence
 * numbers on what we send each receiver and an estimate per receiver from its feedback
 * (fh_bwe), the share-out of that estimate over the streams it receives (fh_alloc: audio
 * first, everyone's lowest layer before anyone's better one), key frame requests when a
 * target layer changes, padding to probe a link before a layer is raised, and the budget RTX
 * and probes must stay within. Runs on the worker's lcore, on its timers (every 100 ms per
 * participant, allocation every 250 ms, probes paced every 5 ms) and from the media path for
 * feedback packets; the state is allocated with the participant, never per packet.
 *
 * Cost note: per forwarded video copy the pacer's credit check and one history entry
 * (fh_bwe_sent, a few stores, inline); per feedback packet a parse and an estimator update
 * over its packets; per receiver and allocation a pass over the streams it receives (up to
 * its n_out). None of it is per packet and per receiver beyond the pacer and the history
 * entry.
 */
#include <stdlib.h>
#include <string.h>

#include "dp_worker.h"
#include "fh_alloc.h"
#include "fh_bwe.h"
#include "fh_twcc.h"

#define DP_ALLOC_MS 250	     /* allocation per receiver */
#define DP_EST_HIST 8	     /* allocation runs an estimate must hold before a layer rises */
#define DP_RATE_MS 500	     /* measurement window of layer and stream rates */
#define DP_KEY_RETRY_MS 1000 /* a switch waiting this long for a key frame asks again */
#define DP_RTX_SHARE 4	     /* RTX may take 1/4 of the estimate */
#define DP_START_BPS 1000000 /* first estimate, before feedback says more */
#define DP_MIN_BPS 50000
#define DP_MAX_BPS 20000000
#define DP_NO_EST_BPS 2500000 /* budget base for a receiver without feedback */
#define DP_PAD_LEN 240	      /* padding bytes per probe packet */
#define DP_FB_MAX_PKTS 512    /* packets one feedback from a receiver may report */
#define DP_FB_LEN 1200	      /* largest feedback packet we write */

/* A receiver's video waiting for its pacer: the copy (encrypted) and its transport-wide
 * sequence number, whose send time the estimate takes when it leaves. */
#define DP_PQ 256
#define DP_PACE_GAIN_PCT 150	/* video leaves at one and a half times the estimate at most ... */
#define DP_PACE_MIN_BPS 300000	/* ... and never slower than this */
#define DP_PACE_MAX_WAIT_MS 300 /* what waited this long leaves at once */
struct dp_pq_ent {
	struct rte_mbuf *m;
	uint64_t tsc;
	uint16_t tw;
};

struct dp_adapt {
	struct fh_twcc_rx rx; /* what the participant sends us */
	struct fh_bwe bwe;    /* what we send it */
	struct fh_alloc alloc;
	uint64_t next_rate_tsc;
	uint64_t last_rate_tsc;
	uint64_t pace_tsc;
	uint32_t probe_tokens;
	uint32_t alloc_est; /* the estimate the allocator sees, see allocate() */
	uint32_t est_hist[DP_EST_HIST];
	uint8_t est_head, est_n;
	/* the pacer: video to this receiver leaves no faster than its estimate allows, so
	 * that the key frames of several senders arriving together do not overrun a slow
	 * line's buffer (audio, RTX and RTCP go at once) */
	struct dp_pq_ent pq[DP_PQ];
	uint16_t pq_head, pq_n;
	bool pq_listed;
	uint64_t pq_credit; /* bytes times TSC ticks per second: what may leave, kept exact */
	uint64_t pq_tsc;    /* up to when it is counted */
	uint32_t pq_est;    /* the estimate pq_Bps was worked out for */
	uint32_t pq_Bps;    /* the pacer's rate, bytes per second */
};

_Static_assert((DP_PQ & (DP_PQ - 1)) == 0, "the pacer's queue wraps by mask");

void dp_adapt_worker_init(struct dp_worker *w)
{
	w->pace_save_cycles = w->hz / 50; /* 20 ms */
	w->pace_wait_cycles = w->hz * DP_PACE_MAX_WAIT_MS / 1000;
}

int dp_adapt_new(struct dp_part *p)
{
	p->ad = calloc(1, sizeof(*p->ad));
	if (!p->ad)
		return -1;
	fh_twcc_rx_init(&p->ad->rx);
	fh_bwe_init(&p->ad->bwe, DP_START_BPS, DP_MIN_BPS, DP_MAX_BPS);
	fh_alloc_init(&p->ad->alloc);
	return 0;
}

void dp_adapt_free(struct dp_part *p)
{
	for (unsigned i = 0; p->ad && i < p->ad->pq_n; i++)
		rte_pktmbuf_free(p->ad->pq[(p->ad->pq_head + i) & (DP_PQ - 1)].m);
	free(p->ad);
	p->ad = NULL;
}

int dp_adapt_media(struct dp_worker *w, struct dp_part *p, const struct fh_cmd_media *c)
{
	(void)w;
	for (int i = 0; i < FH_EXT_MAX; i++) {
		/* under BUNDLE one id names one extension: two of ours on one id are refused */
		for (int j = 0; j < i; j++)
			if (c->ext[i] && c->ext[i] == c->ext[j])
				return -1;
	}
	memcpy(p->ext, c->ext, sizeof(p->ext));
	p->twcc = c->twcc && c->ext[FH_EXT_TWCC];
	return 0;
}

void dp_twcc_arrived(struct dp_worker *w, struct dp_part *p, uint16_t seq, uint64_t now)
{
	fh_twcc_rx_record(&p->ad->rx, seq, dp_worker_us(w, now));
}

void dp_twcc_sent(struct dp_worker *w, struct dp_part *p, int seq, uint16_t len, uint64_t now)
{
	if (seq < 0 || !p->ad)
		return;
	fh_bwe_sent(&p->ad->bwe, (uint16_t)seq, dp_worker_us(w, now), (uint16_t)(len + 10 + 28));
}

/* The padding receiver p should get now, as fh_bwe says for the allocator's next step. */
static uint32_t probe_rate(struct dp_worker *w, struct dp_part *p, uint64_t now)
{
	struct dp_adapt *ad = p->ad;

	return fh_bwe_probe_bps(&ad->bwe, fh_alloc_need_bps(&ad->alloc),
				fh_alloc_next_step_bps(&ad->alloc), dp_worker_us(w, now));
}

/* A receiver's transport-wide feedback about what we sent it. */
void dp_twcc_feedback(struct dp_worker *w, struct dp_part *p, const struct fh_rtcp_pkt *pkt,
		      uint64_t now)
{
	struct fh_twcc_pkt pk[DP_FB_MAX_PKTS];
	struct fh_twcc_fb fb;
	int n;

	if (!p->twcc || !p->ad) {
		dp_drop(w, FH_DROP_twcc_unexpected);
		return;
	}
	n = fh_twcc_parse(pkt->data, pkt->len, &fb, pk, DP_FB_MAX_PKTS);
	if (n < 0) {
		dp_drop(w, FH_DROP_twcc_malformed);
		return;
	}
	struct fh_bwe *b = &p->ad->bwe;
	uint64_t unknown = b->fb_unknown, dd = b->delay_decreases, ld = b->loss_decreases;
	uint64_t late = b->fb_late;

	fh_bwe_feedback(b, pk, (unsigned)n, dp_worker_us(w, now));
	if (b->fb_unknown != unknown)
		dp_drop(w, FH_DROP_twcc_unknown);
	dp_count(w, FH_CTR_bwe_delay_decrease, b->delay_decreases - dd);
	dp_count(w, FH_CTR_bwe_loss_decrease, b->loss_decreases - ld);
	dp_count(w, FH_CTR_bwe_late, b->fb_late - late);
	dp_count(w, FH_CTR_twcc_fb_in, 1);
	p->estimate = fh_bwe_estimate(&p->ad->bwe);
	/* a probe stops at the feedback that shows a queue, not at the next allocation */
	if (p->probe_bps)
		p->probe_bps = probe_rate(w, p, now);
}

bool dp_adapt_rtx_budget(struct dp_part *p, size_t bytes)
{
	if (p->rtx_tokens < bytes)
		return false;
	p->rtx_tokens -= (uint32_t)bytes;
	return true;
}

/* Feedback to a publisher about what it sent us since the last. */
static void send_feedback(struct dp_worker *w, struct dp_part *p)
{
	uint8_t buf[DP_FB_LEN];
	uint32_t media = 0;

	for (int i = 0; i < DP_MAX_PUB && !media; i++)
		if (p->pub[i].used)
			media = p->pub[i].layer[0].ssrc;
	for (int k = 0; k < 4; k++) {
		size_t n = fh_twcc_rx_build(&p->ad->rx, buf, sizeof(buf), w->sfu_ssrc, media);

		if (!n)
			break;
		dp_media_send_rtcp(w, p, buf, n);
		dp_count(w, FH_CTR_twcc_fb_sent, 1);
	}
}

/* Rates of what a publisher sends, per layer and temporal layer, and of what we send each
 * receiver, over the last window. */
static void measure(struct dp_worker *w, struct dp_part *p, uint64_t now)
{
	struct dp_adapt *ad = p->ad;
	uint64_t dt = now - ad->last_rate_tsc;

	if (!ad->last_rate_tsc || dt == 0) {
		ad->last_rate_tsc = now;
		return;
	}
	double k = 8.0 * (double)w->hz / (double)dt;
	uint64_t window_us = dt * 1000000 / w->hz;

	for (int i = 0; i < DP_MAX_PUB; i++) {
		struct dp_pub *pub = &p->pub[i];

		for (int l = 0; pub->used && l < pub->n_layers; l++) {
			struct dp_layer *L = &pub->layer[l];

			fh_layer_rate_tick(&L->rate, window_us,
					   L->ssrc && now - L->last_rx_tsc < w->hz);
		}
	}
	for (int i = 0; i < p->n_out; i++) {
		struct dp_out *o = &p->out[i];

		if (!o->used)
			continue;
		o->bps = (uint32_t)(o->bytes * k);
		o->bytes = 0;
	}
	p->sent_bps = (uint32_t)(p->sent_bytes * k);
	p->sent_bytes = 0;
	ad->last_rate_tsc = now;
}

/* The allocator's view of one stream a receiver gets. */
static bool alloc_src(struct dp_worker *w, const struct dp_out *o, struct fh_alloc_src *s)
{
	struct dp_part *pp = &w->parts[o->pub_slot];
	struct dp_pub *pub = o->pub_key && pp->used ? dp_media_find_key(pp, o->pub_key) : NULL;

	memset(s, 0, sizeof(*s));
	if (!pub)
		return false;
	s->id = o->out_ssrc;
	s->kind = pub->kind == FH_KIND_AUDIO ? FH_ALLOC_AUDIO : FH_ALLOC_VIDEO;
	s->priority = o->priority ? o->priority : 1;
	s->n_temporal = 1;
	if (pub->kind == FH_KIND_AUDIO) {
		s->bps[0][0] = fh_layer_rate_bps(&pub->layer[0].rate, DP_MAX_TID - 1);
		return true;
	}
	for (int l = 0; l < pub->n_layers; l++)
		if (pub->layer[l].n_tid > s->n_temporal)
			s->n_temporal = pub->layer[l].n_tid;
	if (s->n_temporal > FH_ALLOC_MAX_TEMPORAL)
		s->n_temporal = FH_ALLOC_MAX_TEMPORAL;
	/* the layers above what the receiver's tile shows are no option (the lowest always is) */
	for (int l = 0; l < pub->n_layers && (l == 0 || !o->layers || l < o->layers); l++)
		for (int t = 0; t < s->n_temporal; t++)
			s->bps[l][t] = fh_layer_rate_bps(&pub->layer[l].rate, (unsigned)t);
	return true;
}

/* Shares a receiver's estimate out over what it receives; a changed target asks the
 * publisher for a key frame of the new layer. */
static void allocate(struct dp_worker *w, uint16_t slot, uint64_t now)
{
	struct dp_part *p = &w->parts[slot];
	struct fh_alloc_src src[DP_MAX_OUT];
	struct fh_alloc_choice ch[DP_MAX_OUT];
	uint8_t idx[DP_MAX_OUT];
	unsigned n = 0;

	for (int i = 0; i < p->n_out; i++) {
		if (p->out[i].used && alloc_src(w, &p->out[i], &src[n]))
			idx[n++] = (uint8_t)i;
	}
	if (!n)
		return;
	uint32_t est = p->twcc ? fh_bwe_target_bps(&p->ad->bwe) : UINT32_MAX;
	struct dp_adapt *ad = p->ad;

	/* The allocator sees the lowest target of the last two seconds: it goes down with
	 * the estimate at once, and up only once a higher estimate has held. Probing and a
	 * shaper's bucket make the estimate peak above what the line carries for a moment;
	 * a layer raised on a peak comes down again a second later, and each switch costs a
	 * key frame that everyone on that layer receives. */
	ad->est_hist[ad->est_head] = est;
	ad->est_head = (uint8_t)((ad->est_head + 1) % DP_EST_HIST);
	if (ad->est_n < DP_EST_HIST)
		ad->est_n++;
	ad->alloc_est = est;
	for (unsigned k = 0; k < ad->est_n; k++)
		if (ad->est_hist[k] < ad->alloc_est)
			ad->alloc_est = ad->est_hist[k];
	fh_alloc_run(&ad->alloc, src, n, ad->alloc_est, dp_worker_us(w, now) / 1000, ch);
	for (unsigned i = 0; i < n; i++) {
		struct dp_out *o = &p->out[idx[i]];
		struct dp_pub *pub = dp_media_find_key(&w->parts[o->pub_slot], o->pub_key);

		if (src[i].kind != FH_ALLOC_VIDEO || !pub)
			continue;
		fh_vp8_temporal_set_target(&o->temp, ch[i].temporal);
		if (ch[i].paused) {
			if (!o->paused)
				o->cur = DP_NONE;
			o->paused = true;
			o->want_key_tsc = 0;
			continue;
		}
		o->paused = false;
		if (ch[i].spatial != o->target || (o->cur != o->target && !o->want_key_tsc)) {
			o->target = ch[i].spatial;
			if (o->cur != o->target) {
				o->want_key_tsc = now;
				dp_media_request_key(w, o->pub_slot, pub, o->target, now, false);
			} else {
				o->want_key_tsc = 0;
			}
		} else if (o->want_key_tsc &&
			   now - o->want_key_tsc > w->hz * DP_KEY_RETRY_MS / 1000) {
			o->want_key_tsc = now;
			dp_media_request_key(w, o->pub_slot, pub, o->target, now, false);
		}
	}
	/* probe when what the allocator would give next does not fit the target yet (fh_bwe
	 * says how much, and while the link's capacity is known, when) */
	p->probe_bps = p->twcc ? probe_rate(w, p, now) : 0;
}

/* What a receiver gets, for the admin API (struct fh_slot_stat). */
static void write_stat(struct dp_worker *w, uint16_t slot)
{
	struct dp_part *p = &w->parts[slot];
	struct fh_slot_stat *st = &w->stat[slot];
	unsigned n = 0;

	__atomic_store_n(&st->gen, st->gen + 1, __ATOMIC_RELEASE);
	st->estimate_bps = p->twcc ? p->estimate : 0;
	st->target_bps = p->twcc && p->ad ? fh_bwe_target_bps(&p->ad->bwe) : 0;
	st->capacity_bps = p->twcc && p->ad ? fh_bwe_capacity_bps(&p->ad->bwe) : 0;
	st->sent_bps = p->sent_bps;
	for (int i = 0; i < p->n_out; i++) {
		struct dp_out *o = &p->out[i];

		if (!o->used)
			continue;
		struct dp_pub *pub = dp_media_find_key(&w->parts[o->pub_slot], o->pub_key);

		st->out[n++] = (struct fh_out_stat){
			.out_ssrc = o->out_ssrc,
			.bitrate = o->bps,
			.spatial = o->kind == FH_KIND_VIDEO ? o->cur : 0,
			.temporal = o->kind == FH_KIND_VIDEO ? o->temp.cur : 255,
			.target = o->kind == FH_KIND_VIDEO ? o->target : 0,
			.n_layers = pub && pub->n_layers > 1 ? pub->n_layers : 0,
		};
	}
	st->n_out = n;
	__atomic_store_n(&st->gen, st->gen + 1, __ATOMIC_RELEASE);
	if (p->twcc && p->estimate) {
		unsigned b = 0;

		while (b < FH_EST_BUCKETS - 1 && p->estimate > fh_est_bucket_bps[b])
			b++;
		w->ctr->est_hist[b]++;
		w->ctr->est_sum_kbps += p->estimate / 1000;
	}
}

/* Every 100 ms for each bound participant with keys. */
void dp_adapt_timer(struct dp_worker *w, uint16_t slot, uint64_t now)
{
	struct dp_part *p = &w->parts[slot];
	struct dp_adapt *ad = p->ad;

	if (!ad)
		return;
	if (p->twcc && fh_twcc_rx_due(&ad->rx, dp_worker_us(w, now)))
		send_feedback(w, p);
	/* RTX budget: a share of the estimate, refilled for the next 100 ms, kept for 200 */
	uint32_t base = p->twcc && p->estimate ? p->estimate : DP_NO_EST_BPS;
	uint32_t fill = base / DP_RTX_SHARE / 8 / 10;

	p->rtx_tokens = p->rtx_tokens + fill > 2 * fill ? 2 * fill : p->rtx_tokens + fill;
	if (now >= ad->next_rate_tsc) {
		measure(w, p, now);
		write_stat(w, slot);
		ad->next_rate_tsc = now + w->hz * DP_RATE_MS / 1000;
	}
	if (now >= p->next_alloc_tsc) {
		allocate(w, slot, now);
		p->next_alloc_tsc = now + w->hz * DP_ALLOC_MS / 1000;
	}
}

/* One padding-only packet on a video RTX stream of receiver p, counted by its feedback. */
static bool send_probe(struct dp_worker *w, struct dp_part *p, uint64_t now)
{
	struct dp_out *o = NULL;

	for (int i = 0; i < p->n_out && !o; i++)
		if (p->out[i].used && p->out[i].kind == FH_KIND_VIDEO && p->out[i].out_rtx_ssrc &&
		    p->out[i].rw.started)
			o = &p->out[i];
	if (!o)
		return false;
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->pool);

	if (!m) {
		dp_drop(w, FH_DROP_no_mbuf);
		return false;
	}
	uint8_t base[12] = {0x80, o->out_rtx_pt};
	uint8_t *q = rte_pktmbuf_mtod(m, uint8_t *);
	struct fh_rtp_hdr h = {.hdr_len = 12};
	int tw = -1;

	fh_rtp_set_seq(base, o->rtx_seq++);
	fh_rtp_set_ts(base, o->rw.last_ts);
	fh_rtp_set_ssrc(base, o->out_rtx_ssrc);
	size_t hl = dp_media_header(w, p, q, 64, base, &h, -1, now, &tw);

	if (!hl) {
		rte_pktmbuf_free(m);
		return false;
	}
	q[0] |= 0x20; /* padding only: the last byte says how much */
	memset(q + hl, 0, DP_PAD_LEN);
	q[hl + DP_PAD_LEN - 1] = DP_PAD_LEN;
	m->data_len = (uint16_t)(hl + DP_PAD_LEN);
	m->pkt_len = m->data_len;
	dp_media_send_srtp(w, p, m, NULL, false);
	if (tw >= 0)
		fh_bwe_sent_padding(&p->ad->bwe, (uint16_t)tw, dp_worker_us(w, now),
				    (uint16_t)(m->data_len + 10 + 28));
	dp_count(w, FH_CTR_probe_sent, 1);
	return true;
}

/* Every few milliseconds: each receiver's pacer sends what it may, and each probing
 * receiver gets its share of padding. */
void dp_adapt_pace(struct dp_worker *w, uint64_t now)
{
	for (unsigned i = 0; i < w->n_pacing;) {
		struct dp_part *p = &w->parts[w->pacing[i]];

		if (p->used && p->ad && p->ad->pq_listed)
			dp_adapt_pace_one(w, p, now);
		if (!p->used || !p->ad || !p->ad->pq_n) {
			if (p->ad)
				p->ad->pq_listed = false;
			w->pacing[i] = w->pacing[--w->n_pacing];
			continue;
		}
		i++;
	}
	for (unsigned i = 0; i < w->n_probing; i++) {
		struct dp_part *p = &w->parts[w->probing[i]];

		if (!p->used || !p->bound || !p->has_keys || !p->probe_bps || !p->ad)
			continue;
		struct dp_adapt *ad = p->ad;
		uint64_t dt = ad->pace_tsc ? now - ad->pace_tsc : 0;

		ad->pace_tsc = now;
		ad->probe_tokens +=
			(uint32_t)((double)p->probe_bps / 8 * (double)dt / (double)w->hz);
		if (ad->probe_tokens > 4 * (DP_PAD_LEN + 64))
			ad->probe_tokens = 4 * (DP_PAD_LEN + 64);
		while (ad->probe_tokens >= DP_PAD_LEN + 64) {
			ad->probe_tokens -= DP_PAD_LEN + 64;
			if (!send_probe(w, p, now))
				break;
		}
	}
}

static void pq_send(struct dp_worker *w, struct dp_part *p, uint64_t now)
{
	struct dp_adapt *ad = p->ad;
	struct dp_pq_ent *e = &ad->pq[ad->pq_head];
	uint16_t len = e->m->data_len;

	ad->pq_head = (uint16_t)((ad->pq_head + 1) & (DP_PQ - 1));
	ad->pq_n--;
	dp_worker_send(w, e->m);
	fh_bwe_sent(&ad->bwe, e->tw, dp_worker_us(w, now), (uint16_t)(len + 28));
}

/* The pacer's credit by now: it leaves at DP_PACE_GAIN_PCT of the estimate (never under
 * DP_PACE_MIN_BPS), with 20 ms of sending saved at most. Counted in bytes times ticks per
 * second, so that no fraction of a byte is lost however often it is asked (at 300 kbit/s a
 * call every 100 us earns 3.75 bytes). */
static void pq_refill(struct dp_worker *w, struct dp_part *p, uint64_t now)
{
	struct dp_adapt *ad = p->ad;
	uint64_t save = w->pace_save_cycles;

	if (unlikely(p->estimate != ad->pq_est || !ad->pq_Bps)) {
		uint64_t bps = (uint64_t)p->estimate * DP_PACE_GAIN_PCT / 100;

		ad->pq_est = p->estimate;
		ad->pq_Bps = (uint32_t)((bps < DP_PACE_MIN_BPS ? DP_PACE_MIN_BPS : bps) / 8);
	}
	if (ad->pq_tsc && now > ad->pq_tsc) {
		uint64_t dt = now - ad->pq_tsc < save ? now - ad->pq_tsc : save;

		ad->pq_credit += dt * ad->pq_Bps;
		if (ad->pq_credit > save * ad->pq_Bps)
			ad->pq_credit = save * ad->pq_Bps;
	}
	if (now > ad->pq_tsc) /* the callers' clocks are read at different moments */
		ad->pq_tsc = now;
}

/* Sends from the head of p's queue what the credit covers, and what waited too long. */
static void pq_drain(struct dp_worker *w, struct dp_part *p, uint64_t now)
{
	struct dp_adapt *ad = p->ad;
	uint64_t max_wait = w->pace_wait_cycles;

	while (ad->pq_n) {
		struct dp_pq_ent *e = &ad->pq[ad->pq_head];
		uint64_t need = (uint64_t)e->m->data_len * w->hz;

		if (need <= ad->pq_credit)
			ad->pq_credit -= need;
		else if (now <= e->tsc || now - e->tsc < max_wait)
			break;
		pq_send(w, p, now);
	}
}

/* An encrypted video copy for p: sent now when nothing waits and the pacer's credit covers
 * it, else into the pacer's queue (sent at once when the queue is full: late is better than
 * lost). now is the TSC, now_us the same moment by dp_worker_us (read once per batch). */
void dp_adapt_pace_put(struct dp_worker *w, struct dp_part *p, struct rte_mbuf *m, int tw,
		       uint64_t now, uint64_t now_us)
{
	struct dp_adapt *ad = p->ad;

	if (unlikely(!ad)) {
		dp_worker_send(w, m);
		return;
	}
	pq_refill(w, p, now);
	uint64_t need = (uint64_t)m->data_len * w->hz;

	if (ad->pq_n == DP_PQ || (!ad->pq_n && need <= ad->pq_credit)) {
		ad->pq_credit = need <= ad->pq_credit ? ad->pq_credit - need : 0;
		dp_worker_send(w, m);
		fh_bwe_sent(&ad->bwe, (uint16_t)tw, now_us, (uint16_t)(m->data_len + 28));
		return;
	}
	ad->pq[(ad->pq_head + ad->pq_n) & (DP_PQ - 1)] =
		(struct dp_pq_ent){.m = m, .tsc = now, .tw = (uint16_t)tw};
	ad->pq_n++;
	pq_drain(w, p, now);
	if (ad->pq_n && !ad->pq_listed && w->n_pacing < FH_MAX_SLOTS) {
		ad->pq_listed = true;
		w->pacing[w->n_pacing++] = (uint16_t)(p - w->parts);
	}
}

/* Sends what p's pacer allows by now. */
void dp_adapt_pace_one(struct dp_worker *w, struct dp_part *p, uint64_t now)
{
	pq_refill(w, p, now);
	pq_drain(w, p, now);
}
