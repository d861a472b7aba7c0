/*
 * fh_bwe: delay- and loss-based send-side estimation for one receiver. Runs on the worker that
 * owns the receiver's transport: fh_bwe_sent on the send path, fh_bwe_feedback when that
 * receiver's transport-wide feedback arrives. No allocation, no I/O.
 */
#include "fh_bwe.h"

#include <math.h>
#include <string.h>

#define F_SENT FH_BWE_F_SENT
#define F_PADDING FH_BWE_F_PADDING
#define F_ACKED 4    /* reported received: never counted again */
#define F_REPORTED 8 /* reported at all: loss counted once */
#define F_LOST 16    /* counted lost; taken back if it is reported received later */

#define GROUP_US 5000
#define BURST_US 5000	      /* arrivals this close, and closer than they were sent, ... */
#define BURST_MAX_US 100000   /* ... join the group before, for at most this long */
#define SAMPLE_MAX_US 3000000 /* a delay sample beyond this means a clock jump: start over */
#define SMOOTHING 0.9
#define TREND_GAIN 4.0
#define TREND_DELTAS_MAX 60
#define TREND_REBASE 256 /* points between fresh sums of the window */
#define THR_INIT_MS 12.5
#define THR_MIN_MS 6.0
#define THR_MAX_MS 600.0
#define THR_K_UP 0.0087
#define THR_K_DOWN 0.039
#define OVERUSE_TIME_MS 10.0
/* A rising trend is overuse only once packets queue at least this long: on a loaded host the
 * scheduler alone makes delay wobble by a few milliseconds, and every false overuse takes the
 * estimate down to what was being sent. */
#define QUEUE_MIN_MS 20.0
#define QUEUE_HIGH_MS 80.0	/* a queue this long is overuse whatever its trend */
#define BASE_DRIFT_MS_PER_S 0.5 /* the lowest delay forgets slowly (clock drift, route change) */

#define BETA 0.85
#define APP_LIMITED_FLOOR 0.5
#define PROBE_CONFIRM 0.95
#define CONFIRM_QUEUE_MS \
	10.0 /* ... and only with (almost) no queue: a shaper's bucket lets a
			       * burst through faster than its rate */
#define GROWTH_PER_S 1.08
#define GROWTH_LN 0.076961041136128 /* ln GROWTH_PER_S: change both */
#define DECREASE_GAP_US 200000
#define ACK_WINDOW_US 1000000
#define LOSS_MIN_PKTS 20
#define LOSS_INTERVAL_US 1000000
#define LOSS_DECREASE_GAP_US 300000
/* Link capacity: samples averaged with this weight; its spread never taken under
 * CAP_MIN_DEV of it; the estimate climbs CAP_ADD of it per second near it. */
#define CAP_ALPHA 0.25
#define CAP_MIN_DEV 0.05
#define CAP_ADD 0.05
#define CAP_ADD_MIN_BPS 4000.0
#define CAP_RESET_US 1000000 /* acknowledged above the upper bound this long: forgotten */
#define CAP_WINDOW_US 300000 /* what a capacity sample is measured over */
#define PROBE_ABOVE 1.2	     /* a probe session aims this far over the upper bound */

/* The reference time's period: 2^24 ticks of 64 ms. */
#define ARRIVAL_PERIOD_US (((int64_t)1 << 24) * FH_TWCC_REF_US)

/* fmin and fmax for the numbers here, which are never NaN: inline, where the library's are a
 * call (they must handle NaN), a few of them every feedback. */
static inline double dmin(double a, double b)
{
	return b < a ? b : a;
}

static inline double dmax(double a, double b)
{
	return b > a ? b : a;
}

static uint32_t clamp_bps(const struct fh_bwe *b, double v)
{
	if (!(v >= b->min_bps)) /* also NaN */
		return b->min_bps;
	if (v > b->max_bps)
		return b->max_bps;
	return (uint32_t)v;
}

void fh_bwe_init(struct fh_bwe *b, uint32_t start_bps, uint32_t min_bps, uint32_t max_bps)
{
	memset(b, 0, sizeof(*b));
	if (max_bps < min_bps)
		max_bps = min_bps;
	b->min_bps = min_bps;
	b->max_bps = max_bps;
	b->delay_bps = b->loss_bps = b->estimate_bps = clamp_bps(b, start_bps);
	b->state = FH_BWE_NORMAL;
	b->threshold_ms = THR_INIT_MS;
	b->time_high_ms = -1;
	b->time_over_ms = -1;
}

static void trend_reset(struct fh_bwe *b)
{
	b->acc_delay_ms = b->smoothed_ms = 0;
	b->t_n = b->t_head = b->num_deltas = 0;
	b->slope = 0;
	b->time_over_ms = -1;
	b->overuse_count = 0;
	b->prev_trend = 0;
	b->prev.valid = false;
	b->have_base = false;
	b->have_prev_owd = false;
	b->fb_resets++;
}

/*
 * The window's sums for the least-squares fit, over the points less a reference point (so that
 * they stay small whatever the time): kept up to date as points come and go, and summed afresh
 * from a new reference (the oldest point) every TREND_REBASE points, so that rounding cannot
 * pile up (256 points from the reference, their squares are still far inside a double's
 * precision; a rebase is a pass over the window). A fit per send group costs O(1), not a pass
 * over the window (at a browser's 80 packets/s every packet is a group of its own).
 */
static void trend_rebase(struct fh_bwe *b)
{
	unsigned oldest = b->t_n < FH_BWE_TREND_WINDOW ? 0 : b->t_head;

	b->x0 = b->tx[oldest];
	b->y0 = b->ty[oldest];
	b->sx = b->sy = b->sxx = b->sxy = 0;
	for (unsigned i = 0; i < b->t_n; i++) {
		double dx = b->tx[i] - b->x0, dy = b->ty[i] - b->y0;

		b->sx += dx, b->sy += dy, b->sxx += dx * dx, b->sxy += dx * dy;
	}
	b->t_added = 0;
}

static void trend_sum(struct fh_bwe *b, double x, double y)
{
	double dx = x - b->x0, dy = y - b->y0;

	b->sx += dx, b->sy += dy, b->sxx += dx * dx, b->sxy += dx * dy;
}

/* The same point taken out again (the exact negation of what trend_sum added). */
static void trend_unsum(struct fh_bwe *b, double x, double y)
{
	double dx = x - b->x0, dy = y - b->y0;

	b->sx -= dx, b->sy -= dy, b->sxx -= dx * dx, b->sxy -= dx * dy;
}

/* Adds a point to the window (the oldest leaves a full one). */
static void trend_add(struct fh_bwe *b, double x, double y)
{
	if (b->t_n == 0) {
		b->x0 = x, b->y0 = y;
		b->sx = b->sy = b->sxx = b->sxy = 0;
		b->t_added = 0;
	}
	if (b->t_n == FH_BWE_TREND_WINDOW)
		trend_unsum(b, b->tx[b->t_head], b->ty[b->t_head]);
	b->tx[b->t_head] = x;
	b->ty[b->t_head] = y;
	trend_sum(b, x, y);
	if (++b->t_head == FH_BWE_TREND_WINDOW)
		b->t_head = 0;
	if (b->t_n < FH_BWE_TREND_WINDOW)
		b->t_n++;
	if (++b->t_added >= TREND_REBASE)
		trend_rebase(b);
}

/* Least-squares slope of the smoothed delay over arrival time, in ms per ms. */
static void trend_fit(struct fh_bwe *b)
{
	double n = b->t_n, den = b->sxx - b->sx * b->sx / n, num = b->sxy - b->sx * b->sy / n;

	if (den > 0)
		b->slope = num / den;
}

static void detect(struct fh_bwe *b, double trend, double send_delta_ms, double now_ms)
{
	double a = fabs(trend), dt;

	if (trend > b->threshold_ms) {
		if (b->time_over_ms < 0)
			b->time_over_ms = send_delta_ms / 2;
		else
			b->time_over_ms += send_delta_ms;
		b->overuse_count++;
		if (b->time_over_ms > OVERUSE_TIME_MS && b->overuse_count > 1 &&
		    trend >= b->prev_trend && b->queue_ms >= QUEUE_MIN_MS) {
			b->time_over_ms = 0;
			b->overuse_count = 0;
			b->state = FH_BWE_OVERUSING;
			b->overuse_fired = true;
		}
	} else if (trend < -b->threshold_ms) {
		b->time_over_ms = -1;
		b->overuse_count = 0;
		b->state = FH_BWE_UNDERUSING;
	} else {
		b->time_over_ms = -1;
		b->overuse_count = 0;
		b->state = FH_BWE_NORMAL;
	}
	b->prev_trend = trend;
	/* A standing queue is overuse even when it no longer grows (the trend sees only
	 * growth): a full bottleneck buffer holds this much and then drops. */
	if (b->queue_ms >= QUEUE_HIGH_MS && trend >= 0 && !b->overuse_fired) {
		if (b->time_high_ms < 0)
			b->time_high_ms = now_ms;
		else if (now_ms - b->time_high_ms >= OVERUSE_TIME_MS) {
			b->state = FH_BWE_OVERUSING;
			b->overuse_fired = true;
			b->time_high_ms = -1;
		}
	} else if (b->queue_ms < QUEUE_HIGH_MS) {
		b->time_high_ms = -1;
	}

	/* The threshold follows the trend, slowly up and faster down; spikes do not move it. */
	if (!b->thr_started) {
		b->thr_started = true;
		b->last_thr_ms = now_ms;
	}
	if (a > b->threshold_ms + 15)
		return;
	dt = now_ms - b->last_thr_ms;
	if (dt > 100)
		dt = 100;
	if (dt < 0)
		dt = 0;
	b->threshold_ms +=
		(a < b->threshold_ms ? THR_K_DOWN : THR_K_UP) * (a - b->threshold_ms) * dt;
	if (b->threshold_ms < THR_MIN_MS)
		b->threshold_ms = THR_MIN_MS;
	if (b->threshold_ms > THR_MAX_MS)
		b->threshold_ms = THR_MAX_MS;
	b->last_thr_ms = now_ms;
}

/* One completed group against the previous one. */
static void delay_sample(struct fh_bwe *b)
{
	int64_t send_delta = (int64_t)(b->cur.send_us - b->prev.send_us);
	int64_t arr_delta = b->cur.arrival_us - b->prev.arrival_us;
	double now_ms = (double)b->cur.arrival_us / 1000.0, trend;

	if (arr_delta < 0 || send_delta < 0 || arr_delta > SAMPLE_MAX_US ||
	    send_delta > SAMPLE_MAX_US) {
		trend_reset(b);
		return;
	}
	if (b->t_n == 0)
		b->first_arrival_ms = now_ms;
	double owd_ms = ((double)b->cur.arrival_us - (double)b->cur.send_us) / 1000.0;

	/* The lowest delay is taken over pairs of samples, each pair counting with the larger
	 * of its two: one sample far under the rest (a receiver's first reports, a glitch of its
	 * clock) would otherwise become the base, and every later packet would look queued by
	 * that much, an overuse that no decrease can end. Two in a row are a shorter path. */
	double pair = b->have_prev_owd && b->prev_owd_ms > owd_ms ? b->prev_owd_ms : owd_ms;
	bool paired = b->have_prev_owd;

	b->prev_owd_ms = owd_ms;
	b->have_prev_owd = true;
	if (paired && (!b->have_base || pair < b->base_delay_ms)) {
		b->base_delay_ms = pair;
		b->have_base = true;
	} else if (b->have_base && now_ms > b->last_base_ms) {
		double gap = now_ms - b->last_base_ms;

		b->base_delay_ms += (gap < 1000.0 ? gap : 1000.0) / 1000.0 * BASE_DRIFT_MS_PER_S;
	}
	b->last_base_ms = now_ms;
	b->queue_ms = b->have_base ? owd_ms - b->base_delay_ms : 0;
	b->acc_delay_ms += (double)(arr_delta - send_delta) / 1000.0;
	b->smoothed_ms = SMOOTHING * b->smoothed_ms + (1 - SMOOTHING) * b->acc_delay_ms;
	if (b->num_deltas < TREND_DELTAS_MAX)
		b->num_deltas++;
	trend_add(b, now_ms - b->first_arrival_ms, b->smoothed_ms);
	if (b->t_n == FH_BWE_TREND_WINDOW)
		trend_fit(b);
	trend = b->num_deltas * b->slope * TREND_GAIN;
	detect(b, trend, (double)send_delta / 1000.0, now_ms);
}

/* Maps a reported arrival onto a continuous clock, next to the previous one. */
static int64_t unwrap_arrival(struct fh_bwe *b, int64_t a)
{
	int64_t u = a + b->arrival_wrap_us;

	if (b->have_arrival) {
		if (u - b->last_arrival_us > ARRIVAL_PERIOD_US / 2) {
			b->arrival_wrap_us -= ARRIVAL_PERIOD_US;
			u -= ARRIVAL_PERIOD_US;
		} else if (b->last_arrival_us - u > ARRIVAL_PERIOD_US / 2) {
			b->arrival_wrap_us += ARRIVAL_PERIOD_US;
			u += ARRIVAL_PERIOD_US;
		}
	}
	/* A legitimate clock wraps once in ~12 days; a receiver walking it further is garbage. */
	if (b->arrival_wrap_us > 64 * ARRIVAL_PERIOD_US ||
	    b->arrival_wrap_us < -64 * ARRIVAL_PERIOD_US) {
		b->arrival_wrap_us = 0;
		u = a;
	}
	b->have_arrival = true;
	b->last_arrival_us = u;
	return u;
}

/*
 * Whether a packet sent after the group being built arrived in a burst with it: closer behind
 * its last arrival than it was sent behind its last packet, within BURST_US of it and
 * BURST_MAX_US of the group's first arrival. A receiver that could not read its socket for a
 * while (a busy CPU, a radio's aggregation) stamps what waited at once; each packet of such a
 * burst as a group of its own would show a queue growing and draining that the path never
 * held. As one group the burst is measured by its last packet, with the delay the path has
 * again (libwebrtc's inter-arrival grouping does the same, with the same 5 ms and 100 ms).
 */
static bool in_burst(const struct fh_bwe *b, uint64_t send_us, int64_t arrival_us)
{
	int64_t arr_delta = arrival_us - b->cur.arrival_us;

	return arr_delta <= BURST_US && arr_delta < (int64_t)(send_us - b->cur.send_us) &&
	       arrival_us - b->cur.first_arrival_us < BURST_MAX_US;
}

static void group_add(struct fh_bwe *b, uint64_t send_us, int64_t arrival_us)
{
	/* sent before the group being built (a packet that came after the feedback that
	 * reported it lost): its delay says nothing about the queue now */
	if (b->cur.valid && send_us < b->cur.first_send_us)
		return;
	if (b->cur.valid &&
	    (send_us - b->cur.first_send_us <= GROUP_US || in_burst(b, send_us, arrival_us))) {
		if (send_us > b->cur.send_us)
			b->cur.send_us = send_us;
		if (arrival_us > b->cur.arrival_us)
			b->cur.arrival_us = arrival_us;
		return;
	}
	if (b->cur.valid) {
		if (b->prev.valid)
			delay_sample(b);
		b->prev = b->cur;
	}
	b->cur.valid = true;
	b->cur.first_send_us = b->cur.send_us = send_us;
	b->cur.first_arrival_us = b->cur.arrival_us = arrival_us;
}

static double ack_bps(uint64_t sum, uint64_t start, uint64_t now_us)
{
	if (now_us <= start)
		return 0;
	double v = (double)sum * 8e6 / (double)(now_us - start);

	return v < 4e9 ? v : 4e9;
}

/* The newest entry at least window_us old, from the cursor the last feedback left (absolute
 * push numbers, the ring's index by mask): the times only grow, so the answer only moves
 * forward, a step or two a feedback instead of a pass over the ring. Returns whether one is
 * that old; if none is, the cursor stays at the oldest. */
static bool ack_seek(const struct fh_bwe *b, uint32_t *cur, uint64_t now_us, uint64_t window_us)
{
	uint32_t newest = b->ack_seq - 1, oldest = b->ack_seq - b->ack_n, c = *cur;

	if ((int32_t)(c - oldest) < 0 || (int32_t)(c - newest) >= 0)
		c = oldest;
	while (c + 1 != newest &&
	       now_us - b->ack[(c + 1) & (FH_BWE_ACK_RING - 1)].t_us >= window_us)
		c++;
	*cur = c;
	return now_us - b->ack[c & (FH_BWE_ACK_RING - 1)].t_us >= window_us;
}

/* Bit/s acknowledged over about the last ACK_WINDOW_US and CAP_WINDOW_US: each by the entries
 * newer than the newest one at least that old (or than the oldest one, with less history), over
 * the time since that one; 0 when unknown. The short one is the long one with too little
 * history for it. */
static void ack_rates(struct fh_bwe *b, uint64_t now_us, double *long_bps, double *short_bps)
{
	const unsigned mask = FH_BWE_ACK_RING - 1;
	uint64_t last = b->ack[(b->ack_seq - 1) & mask].total;
	bool have_short = ack_seek(b, &b->ack_short, now_us, CAP_WINDOW_US);
	unsigned idx = ack_seek(b, &b->ack_long, now_us, ACK_WINDOW_US)
			       ? b->ack_long & mask
			       : (b->ack_seq - b->ack_n) & mask;

	_Static_assert(CAP_WINDOW_US <= ACK_WINDOW_US, "the short window ends first");
	_Static_assert((FH_BWE_ACK_RING & (FH_BWE_ACK_RING - 1)) == 0, "the ring wraps by mask");
	*long_bps = ack_bps(last - b->ack[idx].total, b->ack[idx].t_us, now_us);
	if (have_short) {
		unsigned s = b->ack_short & mask;

		*short_bps = ack_bps(last - b->ack[s].total, b->ack[s].t_us, now_us);
	} else {
		*short_bps = *long_bps;
	}
}

static void ack_push(struct fh_bwe *b, uint64_t now_us, uint32_t bytes)
{
	double v, recent;

	if (b->ack_n && now_us < b->ack[(b->ack_seq - 1) & (FH_BWE_ACK_RING - 1)].t_us)
		return; /* time went backwards: keep the last rate */
	b->ack_total += bytes;
	b->ack[b->ack_seq & (FH_BWE_ACK_RING - 1)].t_us = now_us;
	b->ack[b->ack_seq & (FH_BWE_ACK_RING - 1)].total = b->ack_total;
	b->ack_seq++;
	if (b->ack_n < FH_BWE_ACK_RING)
		b->ack_n++;
	if (b->ack_n < 2)
		return;
	ack_rates(b, now_us, &v, &recent);
	if (v <= 0)
		return;
	b->acked_bps = (uint32_t)v;
	b->acked_valid = true;
	/* While a queue grows the packets leave the bottleneck at its rate: the last moments
	 * say what it carries (a second would count a shaper's bucket emptying). */
	b->recent_bps = recent;
}

static double cap_dev(const struct fh_bwe *b)
{
	return dmax(sqrt(b->cap_var), CAP_MIN_DEV * b->cap_bps);
}

static double cap_upper(const struct fh_bwe *b)
{
	return b->cap_bps + 3 * cap_dev(b);
}

/* A delay-based decrease: what was acknowledged is what the link carried while it queued. */
static void cap_sample(struct fh_bwe *b, double sample)
{
	if (b->cap_valid && sample < b->cap_bps - 3 * cap_dev(b))
		b->cap_valid = false; /* the link got worse: start over from here */
	if (!b->cap_valid) {
		b->cap_bps = sample;
		b->cap_var = 0;
		b->cap_valid = true;
		b->above = false;
		return;
	}
	double d = sample - b->cap_bps;

	b->cap_bps += CAP_ALPHA * d;
	b->cap_var = (1 - CAP_ALPHA) * b->cap_var + CAP_ALPHA * d * d;
}

/* The link carried more than its capacity's upper bound without a queue for a while (over the
 * last ~300 ms each time, so that a shaper's bucket emptying within a second does not count):
 * it is not the link it was (a line raised, a probe through a faster one). */
static void cap_check(struct fh_bwe *b, uint64_t at_us)
{
	if (!b->cap_valid || !b->acked_valid)
		return;
	if (b->recent_bps <= cap_upper(b) || b->queue_ms >= CONFIRM_QUEUE_MS ||
	    b->state == FH_BWE_OVERUSING) {
		b->above = false;
		return;
	}
	if (!b->above) {
		b->above = true;
		b->above_since_us = at_us;
	} else if (at_us - b->above_since_us >= CAP_RESET_US) {
		b->cap_valid = false;
		b->above = false;
	}
}

/* GROWTH_PER_S to the power dt_s (0 to 1 s), as e^x by its series to x^3: x is under 0.077,
 * so it is off by under 2 parts in 10^6 (pow costs several times as much, twice a feedback). */
static double growth(double dt_s)
{
	double x = dt_s * GROWTH_LN;

	return 1 + x * (1 + x * (0.5 + x / 6));
}

static void rate_control(struct fh_bwe *b, uint64_t now_us)
{
	double dt_s = 0, v = b->delay_bps, limit;

	if (b->rate_started && now_us > b->last_rate_us)
		dt_s = dmin((double)(now_us - b->last_rate_us) / 1e6, 1.0);
	b->rate_started = true;
	b->last_rate_us = now_us;
	b->send_limited = false;

	if (b->overuse_fired) {
		if (!b->have_decreased || now_us - b->last_decrease_us >= DECREASE_GAP_US) {
			double target = BETA * (b->acked_valid ? b->acked_bps : v);
			/* What passed while a queue grew is the link's capacity only when we
			 * sent at least about what the estimate allowed: far below it (audio and
			 * a key frame for a newcomer, a few low layers) the queue is someone
			 * else's, a browser busy starting up or cross traffic, and a capacity
			 * taken from it would hold the target at what little we sent. */
			bool filled = b->recent_bps >= v * APP_LIMITED_FLOOR;

			/* What was acknowledged says what the path carries only when we filled
			 * it; sending far below the estimate (a few low layers), a queue says
			 * less about our share, so one overuse halves the estimate at most and a
			 * lasting one keeps halving it every DECREASE_GAP_US. */
			if (target < v * APP_LIMITED_FLOOR)
				target = v * APP_LIMITED_FLOOR;
			if (target < v)
				v = target;
			if (b->acked_valid && b->recent_bps > 0 && filled)
				cap_sample(b, b->recent_bps);
			b->have_decreased = true;
			b->last_decrease_us = now_us;
			b->delay_decreases++;
		}
		b->hold = true;
	} else if (b->state == FH_BWE_UNDERUSING || b->state == FH_BWE_OVERUSING) {
		/* Queues draining, or overuse not confirmed again yet: wait. */
		b->hold = true;
	} else if (b->hold) {
		b->hold = false;
	} else if (b->acked_valid) {
		/* Never more than the receiver showed it can take, plus headroom to find more. */
		limit = 1.5 * b->acked_bps + 10000;
		/* The receiver took more than the estimate (probes on top of media) without a
		 * queue: that much is known to pass. */
		if (b->acked_bps * PROBE_CONFIRM > v && b->queue_ms < CONFIRM_QUEUE_MS)
			v = b->acked_bps * PROBE_CONFIRM;
		/* Near a capacity the link has shown: slowly (what passes a shaper's bucket
		 * for a moment is no proof of more; a sender that fills the estimate shows
		 * more by taking it without a queue). */
		if (v < limit) {
			if (b->cap_valid && v >= b->cap_bps - 3 * cap_dev(b))
				v = dmin(limit,
					 v + dmax(CAP_ADD * b->cap_bps, CAP_ADD_MIN_BPS) * dt_s);
			else
				v = dmin(limit, v * growth(dt_s) + 1000 * dt_s);
		}
		b->send_limited = v >= limit;
	}
	b->delay_bps = clamp_bps(b, v);
}

static void loss_control(struct fh_bwe *b, uint64_t now_us)
{
	double frac, dt_s = 0, v = b->loss_bps;

	if (!b->loss_started) {
		b->loss_started = true;
		b->int_start_us = b->last_loss_us = now_us;
	}
	if (b->int_total == 0 ||
	    (b->int_total < LOSS_MIN_PKTS && now_us - b->int_start_us < LOSS_INTERVAL_US))
		return;
	if (b->loss_credit > 0) {
		uint32_t c = b->loss_credit < b->int_lost ? b->loss_credit : b->int_lost;

		b->int_lost -= c;
		b->loss_credit -= c;
	}
	frac = (double)b->int_lost / b->int_total;
	b->loss_fraction = (uint8_t)dmin(frac * 256, 255);
	if (now_us > b->last_loss_us)
		dt_s = dmin((double)(now_us - b->last_loss_us) / 1e6, 1.0);
	if (frac < 0.02) {
		v = v * growth(dt_s) + 1000 * dt_s;
		/* what the receiver took with (almost) no loss is known not to lose */
		if (b->acked_valid && b->acked_bps * PROBE_CONFIRM > v)
			v = b->acked_bps * PROBE_CONFIRM;
	} else if (frac >= 0.10) {
		if (!b->have_loss_decrease ||
		    now_us - b->last_loss_decrease_us >= LOSS_DECREASE_GAP_US) {
			v = dmin(v, b->estimate_bps) * (1 - frac / 2);
			b->loss_decreases++;
			b->have_loss_decrease = true;
			b->last_loss_decrease_us = now_us;
		}
	}
	/* Never ahead of the delay-based part, so that one cannot hide a loss decrease later. */
	if (v > b->delay_bps)
		v = b->delay_bps;
	b->loss_bps = clamp_bps(b, v);
	b->last_loss_us = now_us;
	b->int_lost = b->int_total = 0;
	b->int_start_us = now_us;
}

void fh_bwe_feedback(struct fh_bwe *b, const struct fh_twcc_pkt *pkts, unsigned n, uint64_t now_us)
{
	uint32_t acked = 0;
	int64_t last_arr = 0, wrap = 0, arr = 0;
	bool have_arr = false;
	unsigned i, known = 0;

	b->overuse_fired = false;
	for (i = 0; i < n; i++) {
		struct fh_bwe_sent_pkt *p = &b->hist[pkts[i].seq & (FH_BWE_HISTORY - 1)];

		if (!(p->flags & F_SENT) || p->seq != pkts[i].seq)
			continue;
		known++;
		if (p->flags & F_ACKED)
			continue;
		if (!pkts[i].received) {
			if (!(p->flags & F_REPORTED)) {
				b->int_total++;
				b->lost_new++;
				p->flags |= F_LOST;
				p->loss_gen = b->fb_gen;
			}
			p->flags |= F_REPORTED;
			continue;
		}
		if (!(p->flags & F_REPORTED)) {
			b->int_total++;
		} else if (p->flags & F_LOST) {
			/* reported lost, then received: not a loss after all. Taken back
			 * while still pending, else off the next loss interval */
			if (p->loss_gen == b->fb_gen && b->lost_new > 0)
				b->lost_new--;
			else if (p->loss_gen == (uint16_t)(b->fb_gen - 1) && b->lost_pending > 0)
				b->lost_pending--;
			else if (b->loss_credit < FH_BWE_HISTORY)
				b->loss_credit++;
			b->fb_late++;
		}
		p->flags &= (uint8_t)~F_LOST;
		p->flags |= F_REPORTED | F_ACKED;
		acked += p->bytes;
		/* one feedback's arrivals are its reference time plus deltas: continuous, so
		 * the first one's unwrapping holds for all */
		if (!have_arr)
			wrap = unwrap_arrival(b, pkts[i].arrival_us) - pkts[i].arrival_us;
		arr = pkts[i].arrival_us + wrap;
		if (!have_arr || arr > last_arr)
			last_arr = arr;
		have_arr = true;
		group_add(b, p->send_us, arr);
	}
	b->fb_packets += known;
	b->fb_unknown += n - known;
	/* the last one reported: the next feedback unwraps by it */
	if (have_arr)
		b->last_arrival_us = arr;
	/* The acknowledged rate on the receiver's clock: feedback that was held up and comes
	 * in a burst must not look like a fast link. */
	if (have_arr && last_arr > 0)
		ack_push(b, (uint64_t)last_arr, acked);
	/* A packet counts as lost once the feedback after the one that first reported it
	 * missing has not reported it received: a receiver reports a packet that comes after
	 * its feedback in the next one, and one that late is no loss. */
	b->int_lost += b->lost_pending;
	b->lost_pending = b->lost_new;
	b->lost_new = 0;
	b->fb_gen++;
	cap_check(b, now_us);
	rate_control(b, now_us);
	loss_control(b, now_us);
	b->estimate_bps = b->delay_bps < b->loss_bps ? b->delay_bps : b->loss_bps;
}

uint32_t fh_bwe_target_bps(const struct fh_bwe *b)
{
	if (b->cap_valid) {
		double c = b->cap_bps * FH_BWE_CAP_USE_PCT / 100;

		if (c < b->estimate_bps)
			return clamp_bps(b, c);
	}
	return b->estimate_bps;
}

uint32_t fh_bwe_capacity_bps(const struct fh_bwe *b)
{
	return b->cap_valid ? clamp_bps(b, b->cap_bps) : 0;
}

static void probe_end(struct fh_bwe *b, uint64_t now_us)
{
	if (b->probing) {
		b->probing = false;
		b->probed = true;
		b->probe_end_us = now_us;
	}
}

uint32_t fh_bwe_probe_bps(struct fh_bwe *b, uint32_t media_bps, uint32_t want_bps, uint64_t now_us)
{
	uint32_t est = fh_bwe_target_bps(b);

	if (want_bps <= est || b->state != FH_BWE_NORMAL || b->loss_fraction >= 6) {
		probe_end(b, now_us);
		return 0;
	}
	if (!b->cap_valid) {
		uint32_t want = want_bps - est > est / 4 ? want_bps - est : est / 4;

		b->probing = false;
		return want < est / 2 ? want : est / 2;
	}
	/* a session ends when its time is up, or at the first sign of a queue (and none
	 * starts on one): on a line at its end that is the answer, and what queues behind
	 * the padding is media */
	if (b->queue_ms >= CONFIRM_QUEUE_MS) {
		probe_end(b, now_us);
		return 0;
	}
	if (b->probing &&
	    (now_us < b->probe_start_us || now_us - b->probe_start_us >= FH_BWE_PROBE_SESSION_US))
		probe_end(b, now_us);
	if (!b->probing) {
		if (b->probed && now_us >= b->probe_end_us &&
		    now_us - b->probe_end_us < FH_BWE_PROBE_GAP_US)
			return 0;
		b->probing = true;
		b->probe_start_us = now_us;
	}
	double aim = dmax(cap_upper(b) * PROBE_ABOVE, want_bps);

	if (aim <= media_bps)
		return 0;
	return (uint32_t)dmin(aim - media_bps, est / 2.0);
}
