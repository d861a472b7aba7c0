/*
 * fh_bwe: the send-side bandwidth estimate for one receiver, from the transport-wide feedback
 * that receiver returns about what Funkhaus sends it. A delay-based part (inter-group delay
 * variation between groups of 5 ms of send time, a burst of arrivals counting as one group, a
 * trendline over it, an overuse detector with an adaptive threshold, and AIMD rate control)
 * and a loss-based part run side by side; the estimate is the lower of the two, within
 * [min_bps, max_bps]. Each delay-based decrease also samples the link's capacity (what arrived
 * over the last ~300 ms while the queue grew); while a capacity is known the estimate climbs
 * towards it additively, what the streams are planned with (fh_bwe_target_bps) stays under it,
 * and probes come in bounded sessions that end at the first queue. A shaper's token bucket
 * passes bursts above its rate for a while; without that memory the estimate climbs on them and
 * the share-out plans more than the line carries (test_bwe's token_bucket_line). The worker that
 * owns the receiver's transport calls fh_bwe_sent for every
 * packet it stamps with a transport-wide sequence number and fh_bwe_feedback for every feedback
 * packet parsed by fh_twcc_parse. Fixed-size state, no allocation, no I/O, no DPDK.
 *
 * Cost: fh_bwe_sent is a few stores, inline. fh_bwe_feedback is O(n) in the packets reported
 * (the 20-point least-squares fit per 5 ms send group is kept as running sums), plus a step
 * or two of two cursors over a 16-entry ring of running totals per feedback. bench/adaptive-cost.sh
 * gives it per forwarded copy in instructions.
 * State: ~17 KB per receiver (the sent history is 1024 x 16 bytes).
 */
#ifndef FH_BWE_H
#define FH_BWE_H

#include <stdbool.h>
#include <stdint.h>

#include "fh_twcc.h"

/* Sent packets remembered, by outbound transport-wide seq; a power of two. */
#define FH_BWE_HISTORY 1024
#define FH_BWE_TREND_WINDOW 20
#define FH_BWE_ACK_RING 16

enum fh_bwe_state { FH_BWE_NORMAL, FH_BWE_OVERUSING, FH_BWE_UNDERUSING };

struct fh_bwe_sent_pkt {
	uint64_t send_us;
	uint16_t seq;
	uint16_t bytes;
	uint8_t flags;	   /* FH_BWE_F_* here and F_* in fh_bwe.c */
	uint16_t loss_gen; /* the feedback that first reported it missing */
};

/* Packets sent within 5 ms of the first of them, and those that arrived in a burst with them:
 * the unit of delay variation. */
struct fh_bwe_group {
	uint64_t first_send_us;
	uint64_t send_us;	  /* of the last packet */
	int64_t first_arrival_us; /* unwrapped, as the next */
	int64_t arrival_us;	  /* latest arrival */
	bool valid;
};

struct fh_bwe {
	struct fh_bwe_sent_pkt hist[FH_BWE_HISTORY];
	uint32_t min_bps, max_bps;
	uint32_t estimate_bps;
	uint32_t delay_bps; /* AIMD */
	uint32_t loss_bps;
	uint32_t acked_bps;
	bool acked_valid;
	enum fh_bwe_state state;
	uint8_t loss_fraction; /* last interval, in 1/256 as RTCP's fraction lost */
	bool send_limited;     /* the last increase was held back by the acknowledged rate */

	/* Arrival clock: the reference time wraps; arrivals are kept near the previous one. */
	int64_t arrival_wrap_us;
	int64_t last_arrival_us;
	bool have_arrival;

	struct fh_bwe_group cur, prev;

	/* Trendline over the accumulated, smoothed delay variation (ms). */
	double acc_delay_ms, smoothed_ms, first_arrival_ms;
	/* one-way delay against the lowest seen (clocks differ: only the difference counts) */
	double base_delay_ms, queue_ms, last_base_ms, time_high_ms;
	double prev_owd_ms; /* the last sample's delay, for the base's pairs */
	bool have_base, have_prev_owd;
	double tx[FH_BWE_TREND_WINDOW], ty[FH_BWE_TREND_WINDOW];
	unsigned t_n, t_head, num_deltas, t_added;
	double x0, y0, sx, sy, sxx, sxy; /* the fit's sums, against (x0, y0) */
	double slope;

	/* Overuse detector. */
	double threshold_ms, prev_trend, time_over_ms, last_thr_ms;
	unsigned overuse_count;
	bool thr_started;
	bool overuse_fired; /* within the feedback being processed */

	/* Rate control. */
	uint64_t last_rate_us, last_decrease_us;
	bool rate_started, have_decreased, hold;

	/* Acknowledged bytes per feedback, by the time the feedback was processed, as a running
	 * total (what came after an entry is the newest total less its own). */
	struct {
		uint64_t t_us;
		uint64_t total;
	} ack[FH_BWE_ACK_RING];
	uint32_t ack_seq; /* entries pushed: the newest is ack_seq - 1 (by mask in the ring) */
	uint32_t ack_short, ack_long; /* where the last feedback found each window's start */
	unsigned ack_n;
	uint64_t ack_total;

	/* Loss over an interval of at least 20 reported packets or 1 s. A packet reported
	 * missing is pending until the next feedback (lost_new, then lost_pending) and only
	 * then counted lost; one received later still is taken off the next interval
	 * (loss_credit, at most FH_BWE_HISTORY). */
	uint32_t int_lost, int_total, loss_credit, lost_new, lost_pending;
	uint16_t fb_gen; /* feedbacks processed, for loss_gen */
	uint64_t int_start_us, last_loss_us, last_loss_decrease_us;
	bool loss_started, have_loss_decrease;

	/* The link's capacity as far as it showed it: what arrived over the last ~300 ms at
	 * each delay-based decrease, averaged, with its spread. While known, the estimate
	 * climbs near it additively and what the streams may plan with stays under it;
	 * arrivals above its upper bound without a queue for a while (a probe through a
	 * faster link) forget it. */
	double cap_bps, cap_var;
	double recent_bps; /* acknowledged over the last ~300 ms */
	bool cap_valid;
	uint64_t above_since_us;
	bool above;
	/* Probes while the capacity is known: sessions of a bounded length, a gap between. */
	uint64_t probe_start_us, probe_end_us;
	bool probing, probed;
	/* Counters for the caller. */
	uint64_t fb_unknown; /* reported seqs never sent, or no longer in the history */
	uint64_t fb_packets; /* reported seqs that matched a sent packet */
	uint64_t fb_late;    /* reported lost, then received */
	uint64_t fb_resets;  /* delay samples thrown away as implausible */
	uint64_t delay_decreases, loss_decreases; /* the estimate lowered, by cause */
};

void fh_bwe_init(struct fh_bwe *b, uint32_t start_bps, uint32_t min_bps, uint32_t max_bps);
#define FH_BWE_F_SENT 1
#define FH_BWE_F_PADDING 2

static inline void fh_bwe_record(struct fh_bwe *b, uint16_t seq, uint64_t send_us, uint16_t bytes,
				 uint8_t flags)
{
	struct fh_bwe_sent_pkt *p = &b->hist[seq & (FH_BWE_HISTORY - 1)];

	p->send_us = send_us;
	p->seq = seq;
	p->bytes = bytes;
	p->flags = flags;
}

/* A media packet of bytes (on the wire) went out with transport-wide seq at send_us (a few
 * stores, inline: once per video copy). */
static inline void fh_bwe_sent(struct fh_bwe *b, uint16_t seq, uint64_t send_us, uint16_t bytes)
{
	fh_bwe_record(b, seq, send_us, bytes, FH_BWE_F_SENT);
}

/* The same for padding or a probe: it counts toward the acknowledged rate like media. */
static inline void fh_bwe_sent_padding(struct fh_bwe *b, uint16_t seq, uint64_t send_us,
				       uint16_t bytes)
{
	fh_bwe_record(b, seq, send_us, bytes, FH_BWE_F_SENT | FH_BWE_F_PADDING);
}
/*
 * One parsed feedback packet, processed at now_us (the local clock fh_bwe_sent uses). Reported
 * seqs that were never sent or fell out of the history are ignored and counted in fb_unknown;
 * a seq already reported received is not counted twice; one reported lost and received in a
 * later feedback is not a loss (fb_late) and gives no delay sample.
 */
void fh_bwe_feedback(struct fh_bwe *b, const struct fh_twcc_pkt *pkts, unsigned n, uint64_t now_us);

static inline uint32_t fh_bwe_estimate(const struct fh_bwe *b)
{
	return b->estimate_bps;
}

static inline enum fh_bwe_state fh_bwe_state(const struct fh_bwe *b)
{
	return b->state;
}

/* What the receiver acknowledged over the last ~500 ms, bit/s (0 until known). */
static inline uint32_t fh_bwe_acked_bps(const struct fh_bwe *b)
{
	return b->acked_bps;
}

/*
 * What the share-out of streams may plan with, bit/s: the estimate, and while the link's
 * capacity is known at most FH_BWE_CAP_USE_PCT of it (room for key frames and RTX on a line
 * that has shown where it ends).
 */
#define FH_BWE_CAP_USE_PCT 90
uint32_t fh_bwe_target_bps(const struct fh_bwe *b);
/* The capacity the link showed, bit/s; 0 while not known. */
uint32_t fh_bwe_capacity_bps(const struct fh_bwe *b);
/*
 * Padding to send now, bit/s, on top of media_bps, when the allocator's next step would need
 * want_bps: 0 when the step fits the target or the link shows a queue or loss. While the
 * capacity is not known, padding whenever a step waits (up to half the target); while it is,
 * sessions of FH_BWE_PROBE_SESSION_US every FH_BWE_PROBE_GAP_US that carry the total above the
 * capacity's upper bound, so that a raised line shows itself and a line at its end costs a
 * short queue, not a lasting one.
 */
#define FH_BWE_PROBE_SESSION_US 3000000
#define FH_BWE_PROBE_GAP_US 5000000
uint32_t fh_bwe_probe_bps(struct fh_bwe *b, uint32_t media_bps, uint32_t want_bps, uint64_t now_us);
static inline uint8_t fh_bwe_loss_fraction(const struct fh_bwe *b)
{
	return b->loss_fraction;
}

/*
 * True when sending more (padding, or a higher layer) is what the estimate waits for: the
 * delay-based increase is capped at 1.5 times the acknowledged rate, so an estimate cannot
 * climb on traffic that was never sent, and this says that cap is what holds it, with no
 * overuse and loss under 2 %.
 */
static inline bool fh_bwe_wants_probe(const struct fh_bwe *b)
{
	return b->send_limited && b->state == FH_BWE_NORMAL && b->loss_fraction < 6;
}

#endif
