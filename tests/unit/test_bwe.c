/*
 * Unit tests of fh_bwe on synthetic traces: a sender paced at the estimate (or at a fixed rate)
 * into a simulated bottleneck with a drop-tail queue, a receiver that records arrivals with
 * fh_twcc_rx and returns feedback every 100 ms, the feedback parsed with fh_twcc_parse and fed
 * back. Then garbage feedback.
 */
#include <time.h>

#include "fh_bwe.h"
#include "fh_rtp.h"
#include "fh_twcc.h"
#include "fh_test.h"

#define PKT_BYTES 1200
#define PROP_US 20000
#define QUEUE_MAX_US 500000
#define INFLIGHT 8192
#define FB_SLOTS 64
#define LATE_US 150000
#define GLITCH_US 120000

struct inflight {
	uint16_t seq;
	uint64_t arrival_us;
};

struct fb_slot {
	uint64_t at_us;
	size_t len;
	uint8_t buf[1500];
};

struct sim {
	struct fh_bwe bwe;
	struct fh_twcc_rx rx;
	struct inflight fly[INFLIGHT];
	unsigned fly_head, fly_n;
	struct fb_slot fb[FB_SLOTS];
	unsigned fb_head, fb_n;
	uint64_t now_us, next_send_us, link_free_us;
	uint32_t link_bps;
	double loss;
	uint32_t fixed_bps; /* 0: send at the estimate */
	bool pad_to_estimate;
	uint16_t seq;
	uint64_t rng;
	uint64_t sent_bytes;
	/* A token-bucket line instead of the plain queue (as tc's tbf): bucket_bytes of burst,
	 * a backlog of at most limit_us of the rate. */
	uint32_t bucket_bytes;
	uint64_t limit_us;
	double tokens;
	uint64_t tok_us;
	uint64_t media_sent, media_dropped, media_late; /* late: queued over LATE_US */
	/* A sender with discrete rates (layers): the highest rung that the lowest target of the
	 * last 2 s allows, chosen every 250 ms, with padding when the bwe asks for it. */
	const uint32_t *ladder;
	unsigned n_ladder;
	uint32_t media_bps, probe_bps, next_bps;
	uint32_t target_hist[8];
	unsigned target_n;
	uint64_t next_alloc_us;
	uint16_t glitch_seq; /* its arrival is reported GLITCH_US early (0: none) */
	/* A receiver starved of CPU: every stall_every_us (from the first stall_at_us) its
	 * network thread stops for 10 to stall_max_us, and what arrived meanwhile is stamped as
	 * it reads its socket afterwards, STALL_READ_US apart (0: never). */
	uint64_t stall_every_us, stall_max_us, stall_at_us, last_arr_us;
};
#define STALL_READ_US 30

static struct sim s;

static double rnd(void)
{
	s.rng ^= s.rng << 13;
	s.rng ^= s.rng >> 7;
	s.rng ^= s.rng << 17;
	return (double)(s.rng >> 11) / (double)(1ull << 53);
}

static void sim_init(uint32_t start, uint32_t min, uint32_t max, uint32_t link)
{
	memset(&s, 0, sizeof(s));
	fh_bwe_init(&s.bwe, start, min, max);
	fh_twcc_rx_init(&s.rx);
	s.link_bps = link;
	s.rng = 0x9e3779b97f4a7c15ull;
	s.now_us = 1000000;
	s.next_send_us = s.now_us;
}

static void send_one(bool padding)
{
	uint64_t t = s.next_send_us, start;

	s.seq++;
	if (padding)
		fh_bwe_sent_padding(&s.bwe, s.seq, t, PKT_BYTES);
	else
		fh_bwe_sent(&s.bwe, s.seq, t, PKT_BYTES);
	s.sent_bytes += PKT_BYTES;
	if (!padding)
		s.media_sent++;
	if (s.loss > 0 && rnd() < s.loss)
		return;
	start = s.link_free_us > t ? s.link_free_us : t;
	if (s.bucket_bytes) {
		/* the bucket as it is when this packet's turn comes; it waits for the tokens */
		double tok = s.tokens + (double)(start - s.tok_us) * s.link_bps / 8e6;
		uint64_t dep = start;

		if (tok > s.bucket_bytes)
			tok = s.bucket_bytes;
		if (tok < PKT_BYTES)
			dep += (uint64_t)((PKT_BYTES - tok) * 8e6 / s.link_bps);
		if (dep - t > s.limit_us) {
			if (!padding)
				s.media_dropped++;
			return;
		}
		if (!padding && dep - t > LATE_US)
			s.media_late++;
		s.tokens = tok + (double)(dep - start) * s.link_bps / 8e6 - PKT_BYTES;
		s.tok_us = dep;
		s.link_free_us = dep;
	} else {
		if (start - t > QUEUE_MAX_US)
			return; /* drop-tail */
		s.link_free_us = start + (uint64_t)PKT_BYTES * 8 * 1000000 / s.link_bps;
	}
	if (s.fly_n < INFLIGHT) {
		uint64_t arr = s.link_free_us + PROP_US;

		if (s.glitch_seq && s.seq == s.glitch_seq)
			arr -= GLITCH_US;
		if (s.stall_every_us && arr >= s.stall_at_us) {
			uint64_t k = (arr - s.stall_at_us) / s.stall_every_us;
			uint64_t at = s.stall_at_us + k * s.stall_every_us;
			/* each stall's length from its number, the same in every run */
			uint64_t h = (k + 1) * 0x9e3779b97f4a7c15ull;
			uint64_t len = 10000 + (h >> 40) % (s.stall_max_us - 10000 + 1);

			if (arr < at + len)
				arr = at + len;
			if (arr < s.last_arr_us + STALL_READ_US)
				arr = s.last_arr_us + STALL_READ_US;
			s.last_arr_us = arr;
		}
		s.fly[(s.fly_head + s.fly_n) % INFLIGHT] =
			(struct inflight){.seq = s.seq, .arrival_us = arr};
		s.fly_n++;
	}
}

/* The layered sender's choice, as the worker's allocator makes it. */
static void ladder_alloc(void)
{
	uint32_t lo = fh_bwe_target_bps(&s.bwe), next;
	unsigned k;

	s.target_hist[s.target_n++ % 8] = lo;
	for (k = 0; k < 8 && k < s.target_n; k++)
		if (s.target_hist[k] < lo)
			lo = s.target_hist[k];
	for (k = 0; k + 1 < s.n_ladder && s.ladder[k + 1] <= lo; k++)
		;
	s.media_bps = s.ladder[k];
	next = k + 1 < s.n_ladder ? s.ladder[k + 1] : s.ladder[k];
	s.next_bps = next;
	s.probe_bps = fh_bwe_probe_bps(&s.bwe, s.media_bps, next, s.now_us);
	s.next_alloc_us = s.now_us + 250000;
}

/* Runs the trace for us microseconds in 1 ms steps. */
static void sim_run(uint64_t us)
{
	uint64_t end = s.now_us + us;
	static struct fh_twcc_pkt pk[FH_TWCC_WINDOW];
	struct fh_twcc_fb fb;

	for (; s.now_us < end; s.now_us += 1000) {
		while (s.fb_n && s.fb[s.fb_head].at_us <= s.now_us) {
			struct fb_slot *f = &s.fb[s.fb_head];
			int n = fh_twcc_parse(f->buf, f->len, &fb, pk, FH_TWCC_WINDOW);

			CHECK(n > 0);
			if (n > 0)
				fh_bwe_feedback(&s.bwe, pk, (unsigned)n, s.now_us);
			/* as the worker does: a probe stops at the feedback that shows a queue */
			if (n > 0 && s.probe_bps)
				s.probe_bps =
					fh_bwe_probe_bps(&s.bwe, s.media_bps, s.next_bps, s.now_us);
			s.fb_head = (s.fb_head + 1) % FB_SLOTS;
			s.fb_n--;
		}
		while (s.fly_n && s.fly[s.fly_head].arrival_us <= s.now_us) {
			fh_twcc_rx_record(&s.rx, s.fly[s.fly_head].seq,
					  s.fly[s.fly_head].arrival_us);
			s.fly_head = (s.fly_head + 1) % INFLIGHT;
			s.fly_n--;
		}
		if (fh_twcc_rx_due(&s.rx, s.now_us)) {
			while (s.fb_n < FB_SLOTS) {
				struct fb_slot *f = &s.fb[(s.fb_head + s.fb_n) % FB_SLOTS];

				f->len = fh_twcc_rx_build(&s.rx, f->buf, 1200, 1, 2);
				if (!f->len)
					break;
				f->at_us = s.now_us + PROP_US;
				s.fb_n++;
			}
		}
		if (s.n_ladder && s.now_us >= s.next_alloc_us)
			ladder_alloc();
		while (s.next_send_us <= s.now_us) {
			uint32_t media = s.fixed_bps ? s.fixed_bps : fh_bwe_estimate(&s.bwe);
			uint32_t rate = media;
			bool pad = false;

			if (s.n_ladder) {
				media = s.media_bps;
				rate = media + s.probe_bps;
				pad = rnd() * rate >= media;
			} else if (s.pad_to_estimate && fh_bwe_estimate(&s.bwe) > media) {
				/* Media at fixed_bps, padding for the rest of the estimate. */
				rate = fh_bwe_estimate(&s.bwe);
				pad = rnd() * rate >= media;
			}
			send_one(pad);
			s.next_send_us += (uint64_t)PKT_BYTES * 8 * 1000000 / rate;
		}
	}
}

/* Runs for us, sampling the estimate every 100 ms into [*lo, *hi]. */
static void sim_range(uint64_t us, uint32_t *lo, uint32_t *hi)
{
	*lo = UINT32_MAX;
	*hi = 0;
	for (uint64_t t = 0; t < us; t += 100000) {
		sim_run(100000);
		uint32_t e = fh_bwe_estimate(&s.bwe);

		if (e < *lo)
			*lo = e;
		if (e > *hi)
			*hi = e;
	}
}

/* The first time within us the estimate satisfies below (or above) x; UINT64_MAX if never. */
static uint64_t sim_until(uint64_t us, uint32_t x, bool below)
{
	for (uint64_t t = 0; t < us; t += 100000) {
		sim_run(100000);
		uint32_t e = fh_bwe_estimate(&s.bwe);

		if (below ? e < x : e > x)
			return t + 100000;
	}
	return UINT64_MAX;
}

static void settles_at_bottleneck(void)
{
	uint32_t lo, hi;

	/* From below and from above. */
	for (int k = 0; k < 2; k++) {
		sim_init(k ? 1500000 : 300000, 30000, 5000000, 400000);
		sim_run(10000000);
		sim_range(30000000, &lo, &hi);
		fprintf(stderr,
			"400k bottleneck from %s: estimate %u..%u after 10 s, loss %u/256\n",
			k ? "1.5M" : "300k", lo, hi, fh_bwe_loss_fraction(&s.bwe));
		CHECK(lo >= 300000);
		CHECK(hi <= 500000);
		CHECK_EQ(s.bwe.fb_unknown, 0);
	}
}

static void drop_and_recover(void)
{
	uint32_t lo, hi;
	uint64_t t;

	sim_init(1000000, 30000, 5000000, 2000000);
	sim_run(20000000);
	sim_range(5000000, &lo, &hi);
	fprintf(stderr, "2M bottleneck: %u..%u\n", lo, hi);
	CHECK(lo >= 1500000 && hi <= 2500000);
	s.link_bps = 500000;
	t = sim_until(2000000, 600000, true);
	fprintf(stderr, "2M -> 500k: under 600k after %llu ms\n", (unsigned long long)t / 1000);
	CHECK(t <= 2000000);
	sim_run(8000000);
	sim_range(5000000, &lo, &hi);
	fprintf(stderr, "500k bottleneck: %u..%u\n", lo, hi);
	CHECK(lo >= 350000 && hi <= 650000);
	s.link_bps = 2000000;
	t = sim_until(15000000, 1200000, false);
	fprintf(stderr, "500k -> 2M: over 1.2M after %llu ms\n", (unsigned long long)t / 1000);
	CHECK(t <= 15000000);
}

static void random_loss(void)
{
	uint32_t lo, hi;

	/* 10 % loss on a link far above the rate: no queue, only loss. */
	sim_init(1000000, 30000, 5000000, 50000000);
	s.loss = 0.10;
	sim_range(20000000, &lo, &hi);
	fprintf(stderr, "10%% loss: %u..%u, ends at %u, loss %u/256\n", lo, hi,
		fh_bwe_estimate(&s.bwe), fh_bwe_loss_fraction(&s.bwe));
	CHECK(fh_bwe_estimate(&s.bwe) < 700000);
	CHECK(hi <= 1100000);

	sim_init(1000000, 30000, 5000000, 50000000);
	s.loss = 0.01;
	sim_range(20000000, &lo, &hi);
	fprintf(stderr, "1%% loss: %u..%u, ends at %u\n", lo, hi, fh_bwe_estimate(&s.bwe));
	CHECK(lo >= 1000000);
	CHECK(fh_bwe_estimate(&s.bwe) > 2000000);
}

static void bounds(void)
{
	uint32_t lo, hi;

	/* A fast link never lifts the estimate above max. */
	sim_init(1000000, 100000, 1500000, 100000000);
	sim_range(20000000, &lo, &hi);
	CHECK(hi <= 1500000);
	CHECK_EQ(fh_bwe_estimate(&s.bwe), 1500000);
	/* A link that loses most packets never takes it under min. */
	sim_init(1000000, 100000, 1500000, 100000000);
	s.loss = 0.6;
	sim_range(10000000, &lo, &hi);
	CHECK(lo >= 100000);
	CHECK_EQ(fh_bwe_estimate(&s.bwe), 100000);
	/* A start outside [min, max] is clamped. */
	fh_bwe_init(&s.bwe, 10, 30000, 40000);
	CHECK_EQ(fh_bwe_estimate(&s.bwe), 30000);
	fh_bwe_init(&s.bwe, 1000000, 30000, 40000);
	CHECK_EQ(fh_bwe_estimate(&s.bwe), 40000);
}

static void limited_by_what_is_sent(void)
{
	uint32_t lo, hi;
	uint64_t t;

	/* 100 kbit/s of media on a 10 Mbit/s link: the estimate does not climb on nothing. */
	sim_init(300000, 30000, 5000000, 10000000);
	s.fixed_bps = 100000;
	sim_range(10000000, &lo, &hi);
	fprintf(stderr, "100k sent: estimate %u..%u, acked %u, probe %d\n", lo, hi,
		fh_bwe_acked_bps(&s.bwe), fh_bwe_wants_probe(&s.bwe));
	CHECK(hi <= 300000);
	CHECK(fh_bwe_acked_bps(&s.bwe) > 80000 && fh_bwe_acked_bps(&s.bwe) < 120000);
	CHECK(fh_bwe_wants_probe(&s.bwe));
	/* Padding up to the estimate lets it climb. */
	s.pad_to_estimate = true;
	t = sim_until(20000000, 1000000, false);
	fprintf(stderr, "padding: over 1M after %llu ms\n", (unsigned long long)t / 1000);
	CHECK(t <= 20000000);
}

/*
 * A newcomer gets 120 kbit/s at first (audio and a key frame) against the first estimate of
 * 1 Mbit/s on a fast line, and its browser, busy starting up, takes in only 60 kbit/s for
 * 400 ms: a queue. The estimate comes down (a queue is a queue), but what passed while we sent
 * far below the estimate is no capacity of the line: a capacity taken from it would hold the
 * target at what audio alone needs, and no video would be sent to show that the line carries
 * more. (Once the estimate is down to about twice what passes, what passes is a sample.)
 */
static void app_limited_queue(void)
{
	sim_init(1000000, 50000, 20000000, 10000000);
	s.fixed_bps = 120000;
	sim_run(1500000);
	s.link_bps = 60000;
	sim_run(400000);
	s.link_bps = 10000000;
	sim_run(300000);
	fprintf(stderr,
		"120k sent, 400 ms at 60k: estimate %u, target %u, capacity %u, %llu decreases\n",
		fh_bwe_estimate(&s.bwe), fh_bwe_target_bps(&s.bwe), fh_bwe_capacity_bps(&s.bwe),
		(unsigned long long)s.bwe.delay_decreases);
	CHECK(s.bwe.delay_decreases >= 1); /* the queue was seen */
	CHECK_EQ(fh_bwe_capacity_bps(&s.bwe), 0);
	CHECK(fh_bwe_target_bps(&s.bwe) >= 250000);
}

/*
 * One packet's arrival reported 120 ms early (a receiver's first reports after it started, a
 * glitch of its clock), still after the packet before it: one delay sample far under all the
 * others. Taken as the lowest delay, every later packet would look queued by 120 ms, a standing
 * queue that no decrease can end, and the estimate would fall to its floor on a fast line.
 */
static void early_arrival(void)
{
	sim_init(1000000, 50000, 20000000, 10000000);
	s.fixed_bps = 60000; /* a packet every 160 ms: the early one stays in order */
	sim_run(1500000);
	s.glitch_seq = (uint16_t)(s.seq + 2);
	sim_run(3000000);
	fprintf(stderr, "one arrival 120 ms early: estimate %u, %llu decreases\n",
		fh_bwe_estimate(&s.bwe), (unsigned long long)s.bwe.delay_decreases);
	CHECK_EQ(s.bwe.delay_decreases, 0);
	CHECK(fh_bwe_estimate(&s.bwe) >= 1000000);
}

/*
 * A fast line to a receiver starved of CPU (a browser among others on one busy machine): its
 * network thread stops for 10-50 ms every 300 ms and reads what came meanwhile at once. Each
 * stall looks like a queue growing and draining within a burst of arrivals; none of it is the
 * line's, and the estimate must go on to what the sender can send, as libwebrtc's own, which
 * takes a burst of arrivals as one group.
 */
static void receiver_stalls(void)
{
	uint32_t lo[2], hi[2];
	uint64_t dec[2];

	/* the same line without stalls, then with them */
	for (int k = 0; k < 2; k++) {
		sim_init(1000000, 50000, 4000000, 50000000);
		if (k) {
			s.stall_every_us = 300000;
			s.stall_max_us = 50000;
			s.stall_at_us = s.now_us + 2000000;
		}
		sim_run(10000000);
		sim_range(8000000, &lo[k], &hi[k]);
		dec[k] = s.bwe.delay_decreases;
	}
	fprintf(stderr,
		"50M line, estimate in 10-18 s: %u..%u with a steady receiver, %u..%u with one "
		"that stalls 10-50 ms every 300 ms (%llu and %llu delay-based decreases, capacity "
		"%u)\n",
		lo[0], hi[0], lo[1], hi[1], (unsigned long long)dec[0], (unsigned long long)dec[1],
		fh_bwe_capacity_bps(&s.bwe));
	CHECK(lo[1] >= lo[0] * 0.9);
	CHECK(dec[1] <= 2);
}

/*
 * A citizen's 400 kbit/s line shaped as tc's tbf does it (16 kB of burst, 200 ms of backlog),
 * and what it receives in steps of 20-40 kbit/s (one video's temporal layer after another,
 * from 225 kbit/s for everyone's lowest frame rate to 405 kbit/s for full frame rate, then
 * 705 kbit/s for a middle layer). The bucket lets the estimate's upward steps through for a
 * while: a target that follows them plans more than the line carries, and the line drops what
 * it cannot hold. What is planned must stay within the line once the line has shown where it
 * ends, without giving up the rungs below it; when the line is raised, the rungs above come.
 */
static void token_bucket_line(void)
{
	static const uint32_t ladder[] = {225000, 245000, 265000, 285000, 305000, 325000,
					  345000, 365000, 385000, 405000, 705000};
	uint64_t over = 0, low = 0, samples = 0, sent0, drop0, late0;
	uint32_t lo = UINT32_MAX, hi = 0;
	uint64_t t;

	sim_init(1000000, 50000, 20000000, 400000);
	s.bucket_bytes = 16000;
	s.tokens = s.bucket_bytes;
	s.limit_us = 200000 + (uint64_t)s.bucket_bytes * 8 * 1000000 / s.link_bps;
	s.ladder = ladder;
	s.n_ladder = sizeof(ladder) / sizeof(ladder[0]);
	sim_run(15000000);
	sent0 = s.media_sent;
	drop0 = s.media_dropped;
	late0 = s.media_late;
	for (t = 0; t < 60000000; t += 100000) {
		sim_run(100000);
		samples++;
		if (s.media_bps > 390000)
			over++;
		if (s.media_bps < 285000)
			low++;
		if (s.media_bps < lo)
			lo = s.media_bps;
		if (s.media_bps > hi)
			hi = s.media_bps;
	}
	double loss = 100.0 * (double)(s.media_dropped - drop0) / (double)(s.media_sent - sent0);
	double late = 100.0 * (double)(s.media_late - late0) / (double)(s.media_sent - sent0);

	fprintf(stderr,
		"tbf 400k: media %u..%u over 60 s, above the line %.1f %% of the time, under "
		"285k %.1f %%, media lost %.2f %%, queued over %u ms %.2f %%\n",
		lo, hi, 100.0 * over / samples, 100.0 * low / samples, loss, LATE_US / 1000, late);
	CHECK(loss < 0.5);
	CHECK(late < 1);	    /* probes find the line's end without a lasting queue */
	CHECK(over * 20 < samples); /* above the line less than 5 % of the time */
	CHECK(low * 10 < samples);  /* under everyone's half frame rate less than 10 % */
	s.link_bps = 1000000;
	for (t = 0; t < 20000000 && s.media_bps < 705000; t += 100000)
		sim_run(100000);
	fprintf(stderr, "tbf 400k -> 1M: the 705k rung after %llu ms\n",
		(unsigned long long)t / 1000);
	CHECK(s.media_bps == 705000);
}

static void garbage(void)
{
	static struct fh_twcc_pkt pk[300];
	uint32_t e;

	fh_bwe_init(&s.bwe, 500000, 30000, 3000000);
	/* Nothing was sent: every report is unknown and changes nothing. */
	for (unsigned i = 0; i < 300; i++)
		pk[i] = (struct fh_twcc_pkt){.seq = (uint16_t)i, .received = true, .arrival_us = i};
	fh_bwe_feedback(&s.bwe, pk, 300, 1000000);
	CHECK_EQ(s.bwe.fb_unknown, 300);
	CHECK_EQ(fh_bwe_estimate(&s.bwe), 500000);

	/* Sent, then reported with arrivals that run backwards and jump about. */
	for (unsigned i = 0; i < 300; i++)
		fh_bwe_sent(&s.bwe, (uint16_t)i, 2000000 + i * 1000, 1000);
	for (unsigned i = 0; i < 300; i++)
		pk[i].arrival_us = i % 50 == 0 ? INT64_MIN / 2 : 100000000 - (int64_t)i * 7000;
	fh_bwe_feedback(&s.bwe, pk, 300, 2400000);
	e = fh_bwe_estimate(&s.bwe);
	CHECK(e >= 30000 && e <= 3000000);

	/* Random reports against random sends, with now_us going backwards now and then. */
	s.rng = 12345;
	uint64_t now = 3000000;

	for (unsigned round = 0; round < 3000; round++) {
		for (unsigned i = 0; i < 20; i++)
			fh_bwe_sent(&s.bwe, (uint16_t)(rnd() * 65536),
				    now + (uint64_t)(rnd() * 1e6), (uint16_t)(rnd() * 65536));
		unsigned n = (unsigned)(rnd() * 300);

		for (unsigned i = 0; i < n; i++)
			pk[i] = (struct fh_twcc_pkt){.seq = (uint16_t)(rnd() * 65536),
						     .received = rnd() < 0.7,
						     .arrival_us = (int64_t)((rnd() - 0.5) * 4e12)};
		now = rnd() < 0.05 ? now - 500000 : now + (uint64_t)(rnd() * 200000);
		fh_bwe_feedback(&s.bwe, pk, n, now);
		e = fh_bwe_estimate(&s.bwe);
		CHECK(e >= 30000 && e <= 3000000);
		/* what the share-out and the prober see stays within the same bounds */
		uint32_t tg = fh_bwe_target_bps(&s.bwe), cap = fh_bwe_capacity_bps(&s.bwe);
		uint32_t pr = fh_bwe_probe_bps(&s.bwe, (uint32_t)(rnd() * 4e9),
					       (uint32_t)(rnd() * 4e9), now);

		CHECK(tg >= 30000 && tg <= e);
		CHECK(cap == 0 || (cap >= 30000 && cap <= 3000000));
		CHECK(pr <= tg / 2);
		if (e < 30000 || e > 3000000 || tg > e || pr > tg / 2)
			break;
	}
	/* Everything lost: down to min, not below. */
	fh_bwe_init(&s.bwe, 500000, 30000, 3000000);
	for (unsigned round = 0; round < 100; round++) {
		for (unsigned i = 0; i < 30; i++) {
			uint16_t q = (uint16_t)(round * 30 + i);

			fh_bwe_sent(&s.bwe, q, 1000000 + round * 100000 + i * 3000, 1200);
			pk[i] = (struct fh_twcc_pkt){.seq = q, .received = false};
		}
		fh_bwe_feedback(&s.bwe, pk, 30, 1100000 + round * 100000);
	}
	CHECK_EQ(fh_bwe_estimate(&s.bwe), 30000);
	CHECK_EQ(fh_bwe_loss_fraction(&s.bwe), 255);
}

/*
 * 100 feedbacks of 10 packets at 1 Mbit/s on a line that holds every fifth packet back past one
 * feedback: each is reported missing, then received at the start of the next feedback (as a
 * receiver reports a packet that comes after the feedback that covered it). With real_loss,
 * every tenth packet also never comes.
 */
static void late_run(bool real_loss)
{
	static struct fh_twcc_pkt pk[64];
	uint16_t q = 0, late[8];
	unsigned n_late = 0;

	fh_bwe_init(&s.bwe, 1000000, 30000, 5000000);
	for (unsigned w = 0; w < 100; w++) {
		unsigned n = 0, held = 0;
		uint64_t t0 = 1000000 + (uint64_t)w * 100000;

		for (unsigned i = 0; i < n_late; i++)
			pk[n++] = (struct fh_twcc_pkt){.seq = late[i],
						       .received = true,
						       .arrival_us = (int64_t)t0 + 15000 + i * 100};
		for (unsigned i = 0; i < 10; i++, q++) {
			uint64_t t = t0 + i * 10000;
			bool lost = real_loss && q % 10 == 1;

			fh_bwe_sent(&s.bwe, q, t, 1200);
			pk[n++] = (struct fh_twcc_pkt){.seq = q,
						       .received = q % 5 != 0 && !lost,
						       .arrival_us = (int64_t)t + 20000};
			if (q % 5 == 0)
				late[held++] = q;
		}
		n_late = held;
		fh_bwe_feedback(&s.bwe, pk, n, t0 + 120000);
	}
	fprintf(stderr,
		"late arrivals%s: estimate %u, loss %u/256, late %llu, decreases by loss %llu, by "
		"delay %llu, delay resets %llu\n",
		real_loss ? " and 10% loss" : "", fh_bwe_estimate(&s.bwe),
		fh_bwe_loss_fraction(&s.bwe), (unsigned long long)s.bwe.fb_late,
		(unsigned long long)s.bwe.loss_decreases, (unsigned long long)s.bwe.delay_decreases,
		(unsigned long long)s.bwe.fb_resets);
}

/* A packet reported missing and received in a later feedback is not a loss, and its old send
 * time is no delay sample; real loss among such packets still counts. */
static void late_arrivals(void)
{
	late_run(false);
	CHECK_EQ(s.bwe.fb_late, 99 * 2);
	CHECK_EQ(s.bwe.loss_decreases, 0);
	CHECK_EQ(s.bwe.delay_decreases, 0);
	CHECK_EQ(s.bwe.fb_resets, 0);
	CHECK(fh_bwe_loss_fraction(&s.bwe) < 6);
	CHECK(fh_bwe_estimate(&s.bwe) >= 1000000);

	late_run(true);
	CHECK(fh_bwe_loss_fraction(&s.bwe) >= 20 && fh_bwe_loss_fraction(&s.bwe) <= 32);
	CHECK(s.bwe.loss_decreases > 0);
}

/* Measures fh_bwe_feedback on 30-packet feedback; prints, checks only a generous bound. */
/* Bit/s as fh_bwe documents it, from the test's own record of what each feedback acknowledged:
 * over the entries newer than the newest at least window_us old among the last
 * FH_BWE_ACK_RING (or than the oldest of them), over the time since that one. */
static double ref_rate(const uint64_t *t, const uint64_t *total, unsigned n, uint64_t window_us,
		       bool *found)
{
	unsigned first = n > FH_BWE_ACK_RING ? n - FH_BWE_ACK_RING : 0, k = first;
	uint64_t now = t[n - 1];

	*found = false;
	for (unsigned i = n - 1; i-- > first;)
		if (now - t[i] >= window_us) {
			k = i;
			*found = true;
			break;
		}
	if (now <= t[k])
		return 0;
	double v = (double)(total[n - 1] - total[k]) * 8e6 / (double)(now - t[k]);

	return v < 4e9 ? v : 4e9;
}

/* The acknowledged rates over feedback at irregular times, bursts of it and long gaps (the ring
 * overwritten, its cursors left behind), against a pass over the test's own record. */
static void acked_rate_windows(void)
{
	enum { N = 3000 };
	static uint64_t t[N], total[N];
	static struct fh_twcc_pkt pk[8];
	struct fh_bwe b;
	uint64_t now = 1000000, sum = 0;
	uint16_t q = 0;
	unsigned checked = 0, shorts = 0, longs = 0;

	fh_bwe_init(&b, 1000000, 30000, 5000000);
	s.rng = 0x9e3779b97f4a7c15ull;
	for (unsigned f = 0; f < N; f++) {
		double r = rnd();
		unsigned n = 1 + (unsigned)(rnd() * 8) % 8;
		uint64_t bytes = 0;

		/* mostly 20-150 ms, sometimes at once, sometimes a gap past the whole ring */
		now += r < 0.05	  ? 0
		       : r < 0.08 ? 2000000 + (uint64_t)(rnd() * 3e6)
				  : 20000 + (uint64_t)(rnd() * 130000);
		for (unsigned i = 0; i < n; i++, q++) {
			uint16_t len = (uint16_t)(100 + rnd() * 1100);

			fh_bwe_sent(&b, q, now, len);
			pk[i] = (struct fh_twcc_pkt){
				.seq = q, .received = true, .arrival_us = (int64_t)now};
			bytes += len;
		}
		uint32_t before = fh_bwe_acked_bps(&b);
		double recent_before = b.recent_bps;

		fh_bwe_feedback(&b, pk, n, now);
		sum += bytes;
		t[f] = now;
		total[f] = sum;
		if (f == 0)
			continue;
		bool have_long, have_short;
		double lv = ref_rate(t, total, f + 1, 1000000, &have_long);
		double sv = ref_rate(t, total, f + 1, 300000, &have_short);

		if (!have_short)
			sv = lv;
		if (lv > 0) {
			CHECK_EQ(fh_bwe_acked_bps(&b), (uint32_t)lv);
			CHECK(b.recent_bps == sv);
			checked++;
			shorts += have_short;
			longs += have_long;
		} else {
			CHECK_EQ(fh_bwe_acked_bps(&b), before);
			CHECK(b.recent_bps == recent_before);
		}
	}
	fprintf(stderr,
		"acknowledged rates: %u feedbacks checked, %u with the short window, %u "
		"with the long one\n",
		checked, shorts, longs);
	CHECK(checked > N / 2 && shorts > N / 4 && longs > N / 4);
}

static void cost(void)
{
	static struct fh_twcc_pkt pk[30];
	struct timespec a, b;
	unsigned rounds = 20000;
	uint16_t q = 0;

	fh_bwe_init(&s.bwe, 1000000, 30000, 5000000);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned r = 0; r < rounds; r++) {
		for (unsigned i = 0; i < 30; i++, q++) {
			uint64_t t = (uint64_t)q * 3300 + 1000000;

			fh_bwe_sent(&s.bwe, q, t, 1200);
			pk[i] = (struct fh_twcc_pkt){.seq = q,
						     .received = i % 17 != 0,
						     .arrival_us = (int64_t)t + 20000};
		}
		fh_bwe_feedback(&s.bwe, pk, 30, (uint64_t)q * 3300 + 1100000);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns =
		((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / rounds;

	fprintf(stderr, "cost: %.0f ns per 30-packet feedback (this build)\n", ns);
	CHECK(ns < 1e6);
}

TEST_MAIN(settles_at_bottleneck, drop_and_recover, random_loss, bounds, limited_by_what_is_sent,
	  app_limited_queue, early_arrival, receiver_stalls, token_bucket_line, late_arrivals,
	  garbage, acked_rate_windows, cost)
