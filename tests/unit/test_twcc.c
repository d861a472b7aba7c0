/*
 * Unit tests of fh_twcc: what the receive window builds parses back to the same arrivals (loss,
 * reordering, wrap, large gaps, small packets), hand-made feedback and feedback Chromium sent
 * decode as laid out, and malformed feedback is refused.
 */
#include "fh_rtp.h"
#include "fh_twcc.h"
#include "fh_test.h"

#define MAXP 8192

static struct fh_twcc_rx rx;
static struct fh_twcc_pkt pk[MAXP];

/* What a recorded arrival reads back as: floored to the 250 us tick. */
static int64_t tick(uint64_t us)
{
	return (int64_t)(us - us % FH_TWCC_DELTA_US);
}

/* Builds until empty, parses each packet, and copies every status into st[seq]. */
static unsigned drain(size_t cap, int64_t *arr, signed char *st, unsigned *npkts)
{
	uint8_t buf[1500];
	struct fh_twcc_fb fb;
	size_t len;
	unsigned total = 0;
	int n;

	*npkts = 0;
	while ((len = fh_twcc_rx_build(&rx, buf, cap, 0x11, 0x22)) > 0) {
		CHECK(len <= cap);
		CHECK_EQ(len % 4, 0);
		CHECK_EQ(fh_rtcp_validate(buf, len), 1);
		n = fh_twcc_parse(buf, len, &fb, pk, MAXP);
		CHECK(n > 0);
		if (n <= 0)
			return total;
		CHECK_EQ(fb.sender_ssrc, 0x11);
		CHECK_EQ(fb.media_ssrc, 0x22);
		for (int i = 0; i < n; i++) {
			CHECK(st[pk[i].seq] < 0); /* each seq reported once */
			st[pk[i].seq] = pk[i].received;
			arr[pk[i].seq] = pk[i].arrival_us;
		}
		total += (unsigned)n;
		(*npkts)++;
	}
	return total;
}

static int64_t arr[65536];
static signed char st[65536];
static uint64_t want[65536];
static signed char want_st[65536];

static void reset_maps(void)
{
	memset(st, -1, sizeof(st));
	memset(want_st, -1, sizeof(want_st));
}

static void roundtrip(void)
{
	uint64_t t = 5000000;
	unsigned np, got;

	fh_twcc_rx_init(&rx);
	reset_maps();
	/* 65500 .. 65535, 0 .. 99 with every 7th lost, pairs swapped, a 100 ms and a 2 s gap. */
	uint16_t order[140];
	unsigned n = 0;

	for (unsigned i = 0; i < 136; i++)
		order[n++] = (uint16_t)(65500 + i);
	for (unsigned i = 5; i + 1 < n; i += 10) {
		uint16_t x = order[i];

		order[i] = order[i + 1];
		order[i + 1] = x;
	}
	for (unsigned i = 0; i < n; i++) {
		uint16_t s = order[i];

		t += 1000 + (i % 5) * 333;
		if (i == 60)
			t += 100000;
		if (i == 90)
			t += 2000000;
		if (s % 7 == 3) {
			want_st[s] = 0;
			continue;
		}
		fh_twcc_rx_record(&rx, s, t);
		want[s] = t;
		want_st[s] = 1;
	}
	CHECK(!fh_twcc_rx_due(&rx, FH_TWCC_INTERVAL_US - 1));
	CHECK(fh_twcc_rx_due(&rx, FH_TWCC_INTERVAL_US));
	got = drain(1500, arr, st, &np);
	CHECK_EQ(got, 136);
	CHECK_EQ(np, 1);
	for (unsigned i = 0; i < 136; i++) {
		uint16_t s = (uint16_t)(65500 + i);

		CHECK_EQ(st[s], want_st[s]);
		if (want_st[s] == 1)
			CHECK_EQ(arr[s], tick(want[s]));
	}
	CHECK_EQ(fh_twcc_rx_build(&rx, (uint8_t[64]){0}, 64, 1, 2), 0); /* nothing left */
	CHECK(!fh_twcc_rx_due(&rx, 1000000000));

	/* The next feedback continues at the next seq with the next count. */
	uint8_t buf[256];
	struct fh_twcc_fb fb;

	fh_twcc_rx_record(&rx, 100, t + 1000);
	size_t len = fh_twcc_rx_build(&rx, buf, sizeof(buf), 1, 2);
	CHECK_EQ(fh_twcc_parse(buf, len, &fb, pk, MAXP), 1);
	CHECK_EQ(fb.base_seq, 100);
	CHECK_EQ(fb.fb_count, 1);
	CHECK_EQ(pk[0].arrival_us, tick(t + 1000));
	/* A late packet behind the reported base is dropped and counted. */
	fh_twcc_rx_record(&rx, 99, t + 2000);
	CHECK_EQ(rx.late, 1);
	CHECK_EQ(fh_twcc_rx_build(&rx, buf, sizeof(buf), 1, 2), 0);
}

static void huge_delta_splits(void)
{
	uint8_t buf[256];
	struct fh_twcc_fb fb;
	size_t len;

	fh_twcc_rx_init(&rx);
	fh_twcc_rx_record(&rx, 10, 1000000);
	fh_twcc_rx_record(&rx, 11, 1000000 + 9000000); /* 36000 ticks: no 16-bit delta */
	fh_twcc_rx_record(&rx, 12, 1000000 + 9000250);
	len = fh_twcc_rx_build(&rx, buf, sizeof(buf), 1, 2);
	CHECK_EQ(fh_twcc_parse(buf, len, &fb, pk, MAXP), 1);
	CHECK_EQ(pk[0].seq, 10);
	CHECK_EQ(pk[0].arrival_us, 1000000);
	len = fh_twcc_rx_build(&rx, buf, sizeof(buf), 1, 2);
	CHECK_EQ(fh_twcc_parse(buf, len, &fb, pk, MAXP), 2);
	CHECK_EQ(fb.base_seq, 11);
	CHECK_EQ(fb.fb_count, 1);
	CHECK_EQ(pk[0].arrival_us, 10000000);
	CHECK_EQ(pk[1].arrival_us, 10000250);
	CHECK_EQ(fh_twcc_rx_build(&rx, buf, sizeof(buf), 1, 2), 0);

	/* A negative delta (a later seq arrived earlier) travels as a large delta. */
	fh_twcc_rx_record(&rx, 13, 20000000);
	fh_twcc_rx_record(&rx, 14, 19990000);
	len = fh_twcc_rx_build(&rx, buf, sizeof(buf), 1, 2);
	CHECK_EQ(fh_twcc_parse(buf, len, &fb, pk, MAXP), 2);
	CHECK_EQ(pk[1].arrival_us, 19990000);
}

static void window_edges(void)
{
	uint8_t buf[1500];
	struct fh_twcc_fb fb;
	size_t len;
	unsigned np;

	/* Duplicates keep the first arrival. */
	fh_twcc_rx_init(&rx);
	fh_twcc_rx_record(&rx, 500, 64000);
	fh_twcc_rx_record(&rx, 500, 99000);
	CHECK_EQ(rx.dups, 1);
	len = fh_twcc_rx_build(&rx, buf, sizeof(buf), 1, 2);
	CHECK_EQ(fh_twcc_parse(buf, len, &fb, pk, MAXP), 1);
	CHECK_EQ(fb.ref_time_us, 64000);
	CHECK_EQ(pk[0].arrival_us, 64000);

	/* A sender jumping far ahead (or far behind) restarts the window there. */
	fh_twcc_rx_record(&rx, 501, 70000);
	fh_twcc_rx_record(&rx, 30000, 71000);
	CHECK_EQ(rx.resets, 1);
	len = fh_twcc_rx_build(&rx, buf, sizeof(buf), 1, 2);
	CHECK_EQ(fh_twcc_parse(buf, len, &fb, pk, MAXP), 1);
	CHECK_EQ(fb.base_seq, 30000);
	fh_twcc_rx_record(&rx, 20000, 72000);
	CHECK_EQ(rx.resets, 2);

	/* Just inside the window: one feedback of up to FH_TWCC_WINDOW statuses. */
	fh_twcc_rx_init(&rx);
	fh_twcc_rx_record(&rx, 0, 1000);
	fh_twcc_rx_record(&rx, FH_TWCC_WINDOW - 1, 2000);
	CHECK_EQ(rx.resets, 0);
	reset_maps();
	CHECK_EQ(drain(1500, arr, st, &np), FH_TWCC_WINDOW);
	CHECK_EQ(np, 1);
	CHECK_EQ(st[0], 1);
	CHECK_EQ(st[1], 0);
	CHECK_EQ(st[FH_TWCC_WINDOW - 1], 1);

	/* A small cap splits into several packets that still cover everything. */
	fh_twcc_rx_init(&rx);
	reset_maps();
	for (unsigned i = 0; i < 600; i++)
		if (i % 3)
			fh_twcc_rx_record(&rx, (uint16_t)(65000 + i),
					  1000000 + i * (i % 2 ? 90 : 70000));
	CHECK(fh_twcc_rx_due(&rx, 0));
	CHECK_EQ(drain(120, arr, st, &np), 599);
	CHECK(np > 5);
	for (unsigned i = 1; i < 600; i++) {
		uint16_t s = (uint16_t)(65000 + i);

		CHECK_EQ(st[s], i % 3 != 0);
		if (i % 3)
			CHECK_EQ(arr[s], tick(1000000 + i * (i % 2 ? 90 : 70000)));
	}
	/* Cadence: due after the interval, or sooner with many pending. */
	fh_twcc_rx_record(&rx, (uint16_t)(65600), 5000000);
	CHECK(fh_twcc_rx_due(&rx, 10000000));
	CHECK(!fh_twcc_rx_due(&rx, 10000000 + FH_TWCC_INTERVAL_US - 1));
	CHECK(fh_twcc_rx_due(&rx, 10000000 + FH_TWCC_INTERVAL_US));
	fh_twcc_rx_record(&rx, (uint16_t)(65600 + FH_TWCC_DUE_PKTS), 5000000);
	CHECK(fh_twcc_rx_due(&rx, 10000000 + FH_TWCC_INTERVAL_US + 1));
}

/*
 * Base 1000, 26 statuses at reference time 16 (1.024 s), feedback count 7:
 * a run of 5 "small", a one-bit vector 11010000000001, a two-bit vector L S - - S L -.
 */
static const uint8_t chrome_like[] = {
	0xaf, 205,  0,	  10,			 /* P, FMT 15, length 10 words */
	0,    0,    0,	  1,   0,    0,	   0, 2, /* sender, media SSRC */
	0x03, 0xe8, 0,	  26,			 /* base 1000, count 26 */
	0,    0,    0x10, 7,			 /* reference time 16, fb count 7 */
	0x20, 0x05,				 /* run-length: small x 5 */
	0xb4, 0x01,				 /* one-bit vector */
	0xe4, 0x18,				 /* two-bit vector */
	4,    0,    10,	  255, 1,		 /* run's deltas */
	8,    20,   0,	  3,			 /* vector's deltas */
	0xff, 0x38, 100,  2,   0x01, 0x90,	 /* -200, 100, 2, 400 */
	0,    0,    3,				 /* padding */
};

static void hand_made(void)
{
	/* ticks after the reference time, -1 for not received */
	static const int d[26] = {4,  0,  10, 255, 1,  8, 20,	-1,  0,	 -1, -1, -1,  -1,
				  -1, -1, -1, -1,  -1, 3, -200, 100, -1, -1, 2,	 400, -1};
	struct fh_twcc_fb fb;
	uint8_t p[sizeof(chrome_like)];
	int64_t t = 1024000;

	CHECK_EQ(fh_rtcp_validate(chrome_like, sizeof(chrome_like)), 1);
	CHECK_EQ(fh_twcc_parse(chrome_like, sizeof(chrome_like), &fb, pk, MAXP), 26);
	CHECK_EQ(fb.sender_ssrc, 1);
	CHECK_EQ(fb.media_ssrc, 2);
	CHECK_EQ(fb.base_seq, 1000);
	CHECK_EQ(fb.status_count, 26);
	CHECK_EQ(fb.ref_time_us, 1024000);
	CHECK_EQ(fb.fb_count, 7);
	for (int i = 0; i < 26; i++) {
		CHECK_EQ(pk[i].seq, 1000 + i);
		CHECK_EQ(pk[i].received, d[i] != -1);
		if (d[i] == -1)
			continue;
		t += d[i] * 250;
		CHECK_EQ(pk[i].arrival_us, t);
	}
	CHECK_EQ(pk[25].arrival_us, 0);

	/* A negative reference time, a base at the wrap, one status in a 1-bit vector. */
	static const uint8_t neg[] = {0x8f, 205,  0, 5, 0,    0,    0,	  1, 0,	   0, 0, 2,
				      0xff, 0xff, 0, 2, 0xff, 0xff, 0xff, 0, 0x90, 0, 9, 0};
	CHECK_EQ(fh_twcc_parse(neg, sizeof(neg), &fb, pk, MAXP), 2);
	CHECK_EQ(fb.ref_time_us, -64000);
	CHECK_EQ(pk[0].seq, 65535);
	CHECK(!pk[0].received);
	CHECK_EQ(pk[1].seq, 0);
	CHECK(pk[1].received);
	CHECK_EQ(pk[1].arrival_us, -64000 + 9 * 250);

	/* Every truncation is refused, whether the length field says so or not. */
	memcpy(p, chrome_like, sizeof(p));
	for (size_t n = 0; n < sizeof(p); n++)
		CHECK(fh_twcc_parse(p, n, &fb, pk, MAXP) < 0);
	p[0] = 0x8f; /* no padding: the deltas still fit */
	for (unsigned words = 0; words <= 10; words++) {
		p[3] = (uint8_t)words;
		CHECK_EQ(fh_twcc_parse(p, sizeof(p), &fb, pk, MAXP), words == 10 ? 26 : -1);
	}
}

static void malformed(void)
{
	struct fh_twcc_fb fb;
	uint8_t p[sizeof(chrome_like)];

#define FRESH() memcpy(p, chrome_like, sizeof(p))
	FRESH();
	CHECK_EQ(fh_twcc_parse(p, sizeof(p), &fb, pk, 25), -1); /* more than max */
	CHECK_EQ(fh_twcc_parse(p, sizeof(p), &fb, pk, 26), 26);
	p[15] = 0; /* no status */
	CHECK_EQ(fh_twcc_parse(p, sizeof(p), &fb, pk, MAXP), -1);
	FRESH();
	p[15] = 27; /* one more status than the chunks cover: the deltas are read as a chunk */
	CHECK_EQ(fh_twcc_parse(p, sizeof(p), &fb, pk, MAXP), -1);
	FRESH();
	p[14] = 0x10; /* 4122 statuses */
	CHECK_EQ(fh_twcc_parse(p, sizeof(p), &fb, pk, 65535), -1);
	FRESH();
	p[20] = 0x60; /* run of the reserved symbol */
	CHECK_EQ(fh_twcc_parse(p, sizeof(p), &fb, pk, MAXP), -1);
	FRESH();
	p[25] = 0x1b; /* two-bit vector with a reserved symbol in the last slot */
	CHECK_EQ(fh_twcc_parse(p, sizeof(p), &fb, pk, MAXP), -1);
	FRESH();
	p[20] = 0x3f; /* a run of 8191 small deltas: they run past the end */
	p[21] = 0xff;
	p[14] = 0x1f;
	p[15] = 0xff;
	CHECK_EQ(fh_twcc_parse(p, sizeof(p), &fb, pk, 65535), -1);
	FRESH();
	p[43] = 0; /* padding count 0 */
	CHECK_EQ(fh_twcc_parse(p, sizeof(p), &fb, pk, MAXP), -1);
	p[43] = 44; /* padding eating the header */
	CHECK_EQ(fh_twcc_parse(p, sizeof(p), &fb, pk, MAXP), -1);
	p[43] = 4; /* padding eating the last delta byte */
	CHECK_EQ(fh_twcc_parse(p, sizeof(p), &fb, pk, MAXP), -1);
	FRESH();
	p[0] = 0x81; /* NACK, not TWCC */
	CHECK_EQ(fh_twcc_parse(p, sizeof(p), &fb, pk, MAXP), -1);
	FRESH();
	p[1] = 206;
	CHECK_EQ(fh_twcc_parse(p, sizeof(p), &fb, pk, MAXP), -1);
	FRESH();
	p[0] = 0x4f; /* version 1 */
	CHECK_EQ(fh_twcc_parse(p, sizeof(p), &fb, pk, MAXP), -1);
#undef FRESH
}

/* Feedback Chromium 156 sent Funkhaus in a browser test (decrypted RTCP as the worker got it;
 * SSRCs as they were), decoded by hand from the draft's layout. */
static void chrome_captured(void)
{
	/* run of 13 small deltas, run of 1 large (-43 ticks), 1 byte of padding */
	static const uint8_t runs[] = {0xaf, 0xcd, 0x00, 0x09, 0x59, 0x48, 0x34, 0xd4, 0xca, 0xbd,
				       0x7f, 0xaf, 0x00, 0xd6, 0x00, 0x0e, 0x03, 0xaf, 0xb0, 0x26,
				       0x20, 0x0d, 0x40, 0x01, 0xac, 0x00, 0x00, 0x01, 0x00, 0x44,
				       0x1d, 0x04, 0x00, 0x19, 0x12, 0x1e, 0x14, 0xff, 0xd5, 0x01};
	/* two-bit vector (small, small, large -39, small x4), then a run of 7 small */
	static const uint8_t twobit[] = {
		0xaf, 0xcd, 0x00, 0x09, 0x56, 0xea, 0xc5, 0x2f, 0x22, 0x3e, 0x39, 0x7e, 0x00, 0xc8,
		0x00, 0x0e, 0x03, 0xaf, 0xb0, 0x24, 0xd6, 0x55, 0x20, 0x07, 0xd3, 0x01, 0xff, 0xd9,
		0x44, 0x16, 0x01, 0x00, 0x00, 0x00, 0x00, 0x35, 0x69, 0x00, 0x00, 0x01};
	/* one-bit vector (12 received, 2 lost), two-bit vector (lost, small, small), 2 of
	 * padding: the first arrival 190 ticks after the reference time, the rest in that tick */
	static const uint8_t lossy[] = {0xaf, 0xcd, 0x00, 0x09, 0x56, 0xea, 0xc5, 0x2f, 0x6b, 0x51,
					0xff, 0xad, 0x01, 0xec, 0x00, 0x11, 0x03, 0xaf, 0xd3, 0x46,
					0xbf, 0xfc, 0xc5, 0x00, 0xbe, 0x00, 0x00, 0x00, 0x00, 0x00,
					0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02};
	struct fh_twcc_fb fb;
	int64_t ref;

	CHECK_EQ(fh_rtcp_validate(runs, sizeof(runs)), 1);
	CHECK_EQ(fh_twcc_parse(runs, sizeof(runs), &fb, pk, MAXP), 14);
	CHECK_EQ(fb.sender_ssrc, 0x594834d4u);
	CHECK_EQ(fb.media_ssrc, 0xcabd7fafu);
	CHECK_EQ(fb.base_seq, 0x00d6);
	CHECK_EQ(fb.fb_count, 0x26);
	ref = (int64_t)0x03afb0 * FH_TWCC_REF_US;
	CHECK_EQ(fb.ref_time_us, ref);
	for (int i = 0; i < 14; i++)
		CHECK(pk[i].received && pk[i].seq == 0x00d6 + i);
	CHECK_EQ(pk[0].arrival_us, ref + 0xac * FH_TWCC_DELTA_US);
	CHECK_EQ(pk[12].arrival_us, ref + 367 * FH_TWCC_DELTA_US);
	CHECK_EQ(pk[13].arrival_us, pk[12].arrival_us - 43 * FH_TWCC_DELTA_US);

	CHECK_EQ(fh_twcc_parse(twobit, sizeof(twobit), &fb, pk, MAXP), 14);
	CHECK_EQ(fb.base_seq, 0x00c8);
	ref = (int64_t)0x03afb0 * FH_TWCC_REF_US;
	CHECK_EQ(pk[0].arrival_us, ref + 0xd3 * FH_TWCC_DELTA_US);
	CHECK_EQ(pk[1].arrival_us, pk[0].arrival_us + FH_TWCC_DELTA_US);
	CHECK_EQ(pk[2].arrival_us, pk[1].arrival_us - 39 * FH_TWCC_DELTA_US);
	CHECK_EQ(pk[3].arrival_us, pk[2].arrival_us + 0x44 * FH_TWCC_DELTA_US);
	CHECK_EQ(pk[13].arrival_us,
		 pk[2].arrival_us + (0x44 + 0x16 + 1 + 0x35 + 0x69) * FH_TWCC_DELTA_US);

	CHECK_EQ(fh_twcc_parse(lossy, sizeof(lossy), &fb, pk, MAXP), 17);
	CHECK_EQ(fb.base_seq, 0x01ec);
	CHECK_EQ(fb.fb_count, 0x46);
	ref = (int64_t)0x03afd3 * FH_TWCC_REF_US;
	unsigned got = 0;

	for (int i = 0; i < 17; i++)
		got += pk[i].received;
	CHECK_EQ(got, 14);
	CHECK(!pk[12].received && !pk[13].received && !pk[14].received);
	CHECK(pk[15].received && pk[16].received);
	CHECK_EQ(pk[0].arrival_us, ref + 190 * FH_TWCC_DELTA_US);
	CHECK_EQ(pk[16].arrival_us, pk[0].arrival_us);
	/* one byte short: the last delta is missing */
	CHECK_EQ(fh_twcc_parse(lossy, 24 + 13, &fb, pk, MAXP), -1);
}

TEST_MAIN(roundtrip, huge_delta_splits, window_edges, hand_made, malformed, chrome_captured)
