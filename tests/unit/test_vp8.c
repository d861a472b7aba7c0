/* Unit tests of fh_vp8: descriptor parsing, rewriting across simulcast switches and temporal
 * drops, the temporal-layer filter. */
#include "fh_test.h"
#include "fh_vp8.h"

static void parse_minimal(void)
{
	const uint8_t key[] = {0x10, 0x00, 0x9d}, delta[] = {0x10, 0x01}, cont[] = {0x00, 0x00};
	const uint8_t part1[] = {0x11, 0x00}, nonref[] = {0x30, 0x01};
	struct fh_vp8_desc d;

	CHECK_EQ(fh_vp8_parse(key, sizeof(key), &d), 0);
	CHECK(d.s && d.pid == 0 && !d.x && !d.i && !d.l && !d.t && !d.k);
	CHECK_EQ(d.len, 1);
	CHECK(d.keyframe);
	CHECK_EQ(fh_vp8_parse(delta, sizeof(delta), &d), 0);
	CHECK(d.s && !d.keyframe);
	CHECK_EQ(fh_vp8_parse(cont, sizeof(cont), &d), 0);
	CHECK(!d.s && !d.keyframe); /* not a partition start: byte 1 is no payload header */
	CHECK_EQ(fh_vp8_parse(part1, sizeof(part1), &d), 0);
	CHECK(d.s && d.pid == 1 && !d.keyframe);
	CHECK_EQ(fh_vp8_parse(nonref, sizeof(nonref), &d), 0);
	CHECK(d.n && d.s);
	CHECK_EQ(fh_vp8_parse(key, 1, &d), -1); /* no payload header */
	CHECK_EQ(fh_vp8_parse(key, 0, &d), -1);
}

static void parse_optional(void)
{
	/* X; I with a 15-bit picture id 0x1234; L 200; T tid 2, Y; K 17; key frame */
	const uint8_t all[] = {0x90, 0xf0, 0x92, 0x34, 200, 0xb1, 0x00, 0x9d};
	const uint8_t pic7[] = {0x90, 0x80, 0x05, 0x01};
	const uint8_t konly[] = {0x80, 0x10, 0xff, 0x01}; /* TID bits set but T is 0: ignored */
	const uint8_t tl0only[] = {0x80, 0x40, 9, 0x01};
	const uint8_t xnone[] = {0x80, 0x00, 0x01};
	struct fh_vp8_desc d;

	CHECK_EQ(fh_vp8_parse(all, sizeof(all), &d), 0);
	CHECK(d.x && d.i && d.l && d.t && d.k && d.s && d.keyframe);
	CHECK_EQ(d.picid_bits, 15);
	CHECK_EQ(d.picid, 0x1234);
	CHECK_EQ(d.tl0picidx, 200);
	CHECK_EQ(d.tid, 2);
	CHECK(d.y);
	CHECK_EQ(d.keyidx, 17);
	CHECK_EQ(d.len, 6);
	CHECK(d.picid_off == 2 && d.tl0_off == 4 && d.tk_off == 5);
	for (size_t n = 0; n <= 6; n++)
		CHECK_EQ(fh_vp8_parse(all, n, &d), -1); /* every truncation */

	CHECK_EQ(fh_vp8_parse(pic7, sizeof(pic7), &d), 0);
	CHECK(d.i && !d.l && !d.t && !d.k);
	CHECK_EQ(d.picid_bits, 7);
	CHECK_EQ(d.picid, 5);
	CHECK_EQ(d.len, 3);
	CHECK_EQ(fh_vp8_parse(konly, sizeof(konly), &d), 0);
	CHECK(d.k && !d.t && d.tid == 0 && !d.y && d.keyidx == 31 && d.len == 3);
	CHECK(!d.keyframe); /* S is 0 */
	CHECK_EQ(fh_vp8_parse(tl0only, sizeof(tl0only), &d), 0);
	CHECK(d.l && d.tl0picidx == 9 && d.len == 3);
	CHECK_EQ(fh_vp8_parse(xnone, sizeof(xnone), &d), 0);
	CHECK(d.x && !d.i && d.len == 2);
}

/* A test packet: descriptor with a 7- or 15-bit picture id, TL0PICIDX, TID/Y and KEYIDX, then
 * a payload header byte. */
struct pkt {
	uint8_t b[8];
	size_t len;
	struct fh_vp8_desc d;
};

static void mk(struct pkt *p, int bits, uint16_t picid, uint8_t tl0, uint8_t tid, bool y,
	       uint8_t keyidx, bool start, bool key)
{
	size_t o = 2;

	p->b[0] = (uint8_t)(0x80 | (start ? 0x10 : 0));
	p->b[1] = 0xf0;
	if (bits == 15) {
		p->b[o++] = (uint8_t)(0x80 | picid >> 8);
		p->b[o++] = (uint8_t)picid;
	} else {
		p->b[o++] = picid & 0x7f;
	}
	p->b[o++] = tl0;
	p->b[o++] = (uint8_t)(tid << 6 | (y ? 0x20 : 0) | (keyidx & 0x1f));
	p->b[o++] = key ? 0x00 : 0x01;
	p->len = o;
	CHECK_EQ(fh_vp8_parse(p->b, p->len, &p->d), 0);
}

/* Forwards one packet; returns the rewritten picture id, -1 when refused. */
static int fwd(struct fh_vp8_rewrite *r, struct pkt *p)
{
	if (fh_vp8_rewrite_apply(r, p->b, p->len, &p->d) < 0)
		return -1;
	struct fh_vp8_desc o;

	CHECK_EQ(fh_vp8_parse(p->b, p->len, &o), 0);
	CHECK_EQ(o.picid_bits, p->d.picid_bits);
	CHECK_EQ(o.tid, p->d.tid); /* TID and Y are left alone */
	CHECK_EQ(o.y, p->d.y);
	p->d = o;
	return o.picid;
}

static void switch_encodings(void)
{
	struct fh_vp8_rewrite r;
	struct pkt p;
	uint16_t a = 32760, b = 100;
	uint8_t a_tl0 = 254, b_tl0 = 7, a_key = 30, b_key = 3;
	int out = 0;

	fh_vp8_rewrite_init(&r);
	/* Encoding A: twelve two-packet frames, across the 15-bit wrap; the first maps as is. */
	for (int f = 0; f < 12; f++, a = (a + 1) & 0x7fff, a_tl0++) {
		mk(&p, 15, a, a_tl0, 0, false, a_key, true, f == 0);
		out = fwd(&r, &p);
		CHECK_EQ(out, (32760 + f) & 0x7fff);
		CHECK_EQ(p.d.tl0picidx, (uint8_t)(254 + f));
		mk(&p, 15, a, a_tl0, 0, false, a_key, false, false);
		CHECK_EQ(fwd(&r, &p), out); /* same picture, same id */
	}
	CHECK_EQ(out, 3);
	/* Switch to B at its key frame: everything continues right after A's last values. */
	fh_vp8_rewrite_switch(&r);
	for (int f = 0; f < 5; f++, b++, b_tl0++) {
		mk(&p, 15, b, b_tl0, 0, false, b_key, true, f == 0);
		CHECK_EQ(fwd(&r, &p), 4 + f);
		CHECK_EQ(p.d.tl0picidx, (uint8_t)(254 + 12 + f));
		CHECK_EQ(p.d.keyidx, 31);
	}
	/* A went on meanwhile (pid 10, tl0 8); switching back continues after B. */
	a = 10;
	a_tl0 = 8;
	a_key = 31;
	fh_vp8_rewrite_switch(&r);
	for (int f = 0; f < 3; f++, a++, a_tl0++) {
		mk(&p, 15, a, a_tl0, 0, false, a_key, true, f == 0);
		CHECK_EQ(fwd(&r, &p), 9 + f);
		CHECK_EQ(p.d.tl0picidx, (uint8_t)(254 + 17 + f));
		CHECK_EQ(p.d.keyidx, 0); /* 31 + 1 wraps at 32 */
	}
	/* A retransmission of A's first frame after the switch back keeps its id. */
	mk(&p, 15, 10, 8, 0, false, a_key, false, false);
	CHECK_EQ(fwd(&r, &p), 9);
	CHECK_EQ(p.d.tl0picidx, (uint8_t)(254 + 17));
}

static void picid_7bit(void)
{
	struct fh_vp8_rewrite r;
	struct pkt p;

	fh_vp8_rewrite_init(&r);
	for (int f = 0; f < 14; f++) {
		mk(&p, 7, (uint16_t)((120 + f) & 0x7f), (uint8_t)f, 0, false, 0, true, f == 0);
		CHECK_EQ(fwd(&r, &p), (120 + f) & 0x7f);
		CHECK_EQ(p.d.picid_bits, 7);
	}
	/* Another 7-bit encoding at 50: continues at 6, wraps again at 128. */
	fh_vp8_rewrite_switch(&r);
	mk(&p, 7, 50, 0, 0, false, 0, true, true);
	CHECK_EQ(fwd(&r, &p), 6);
	mk(&p, 7, 51, 1, 0, false, 0, true, false);
	CHECK_EQ(fwd(&r, &p), 7);
	/* A late packet of frame 50 keeps its id; one from before the switch has none. */
	mk(&p, 7, 50, 0, 0, false, 0, false, false);
	CHECK_EQ(fwd(&r, &p), 6);
	mk(&p, 7, 49, 0, 0, false, 0, false, false);
	CHECK_EQ(fwd(&r, &p), -1); /* before this encoding's first frame */
}

static void temporal_drops(void)
{
	static const uint8_t pattern[4] = {0, 2, 1, 2}; /* L1T3 */
	struct fh_vp8_rewrite r;
	struct fh_vp8_temporal t;
	struct pkt p;
	uint8_t tl0 = 250;
	int expect = 500, ids[40] = {0};

	fh_vp8_rewrite_init(&r);
	fh_vp8_temporal_init(&t, 1);
	/* Forty frames of two packets, TID 2 dropped: forwarded ids rise by one, TL0PICIDX by one
	 * per TID 0 frame, as sent. */
	for (int f = 0; f < 40; f++) {
		uint8_t tid = pattern[f % 4];

		if (tid == 0 && f > 0)
			tl0++;
		for (int k = 0; k < 2; k++) {
			mk(&p, 15, (uint16_t)(500 + f), tl0, tid, tid > 0, 0, k == 0,
			   f == 0 && k == 0);
			if (!fh_vp8_temporal_ok(&t, &p.d)) {
				CHECK_EQ(tid, 2);
				fh_vp8_rewrite_drop(&r, &p.d);
				continue;
			}
			CHECK(tid < 2);
			ids[f] = fwd(&r, &p);
			CHECK_EQ(ids[f], expect);
			CHECK_EQ(p.d.tl0picidx, tl0);
		}
		if (pattern[f % 4] < 2)
			expect++;
	}
	CHECK_EQ(expect, 520);
	/* Retransmissions of earlier forwarded frames map where they mapped first, also across
	 * the drops that followed them; a dropped frame's late packet is refused by the filter. */
	for (int f = 24; f < 40; f++) {
		if (pattern[f % 4] == 2)
			continue;
		mk(&p, 15, (uint16_t)(500 + f), 0, pattern[f % 4], false, 0, false, false);
		CHECK_EQ(fwd(&r, &p), ids[f]);
	}
	/* Too far back for the history: refused rather than given a colliding id. */
	mk(&p, 15, 500, 0, 0, false, 0, false, false);
	CHECK_EQ(fwd(&r, &p), -1);
	/* A dropped frame counted once, however many of its packets are dropped. */
	mk(&p, 15, 540, 0, 2, false, 0, true, false);
	fh_vp8_rewrite_drop(&r, &p.d);
	fh_vp8_rewrite_drop(&r, &p.d);
	mk(&p, 15, 541, 0, 0, false, 0, true, false);
	CHECK_EQ(fwd(&r, &p), 520);
	/* A switch after trailing drops continues without a gap. */
	mk(&p, 15, 542, 0, 2, false, 0, true, false);
	fh_vp8_rewrite_drop(&r, &p.d);
	fh_vp8_rewrite_switch(&r);
	mk(&p, 15, 9000, 0, 0, false, 0, true, true);
	CHECK_EQ(fwd(&r, &p), 521);
}

static void temporal_filter(void)
{
	struct fh_vp8_temporal t;
	struct pkt p;

	fh_vp8_temporal_init(&t, 2);
	mk(&p, 15, 1, 0, 2, false, 0, true, false);
	CHECK(fh_vp8_temporal_ok(&t, &p.d));
	/* Going down waits for a frame start: the rest of a started frame still goes. */
	fh_vp8_temporal_set_target(&t, 0);
	mk(&p, 15, 1, 0, 2, false, 0, false, false);
	CHECK(fh_vp8_temporal_ok(&t, &p.d));
	mk(&p, 15, 2, 0, 1, false, 0, true, false);
	CHECK(!fh_vp8_temporal_ok(&t, &p.d));
	mk(&p, 15, 3, 0, 0, false, 0, true, false);
	CHECK(fh_vp8_temporal_ok(&t, &p.d));
	/* Going up: not at a non-sync frame, nor two layers at once, but one at a time at Y=1. */
	fh_vp8_temporal_set_target(&t, 2);
	mk(&p, 15, 4, 0, 1, false, 0, true, false);
	CHECK(!fh_vp8_temporal_ok(&t, &p.d));
	mk(&p, 15, 5, 0, 2, true, 0, true, false);
	CHECK(!fh_vp8_temporal_ok(&t, &p.d));
	mk(&p, 15, 6, 0, 1, true, 0, true, false);
	CHECK(fh_vp8_temporal_ok(&t, &p.d));
	mk(&p, 15, 7, 0, 2, false, 0, true, false);
	CHECK(!fh_vp8_temporal_ok(&t, &p.d));
	mk(&p, 15, 8, 0, 2, true, 0, true, false);
	CHECK(fh_vp8_temporal_ok(&t, &p.d));
	CHECK_EQ(t.cur, 2);
	/* A key frame lets every wanted layer in at once. */
	fh_vp8_temporal_init(&t, 0);
	fh_vp8_temporal_set_target(&t, 2);
	mk(&p, 15, 9, 0, 0, false, 0, true, true);
	CHECK(fh_vp8_temporal_ok(&t, &p.d));
	mk(&p, 15, 10, 0, 2, false, 0, true, false);
	CHECK(fh_vp8_temporal_ok(&t, &p.d));
	/* No TID: always forwarded. */
	const uint8_t plain[] = {0x10, 0x01};

	CHECK_EQ(fh_vp8_parse(plain, sizeof(plain), &p.d), 0);
	fh_vp8_temporal_init(&t, 0);
	CHECK(fh_vp8_temporal_ok(&t, &p.d));
}

static void apply_refused(void)
{
	struct fh_vp8_rewrite r;
	struct pkt p;

	fh_vp8_rewrite_init(&r);
	mk(&p, 15, 1, 0, 0, false, 0, true, true);
	CHECK_EQ(fh_vp8_rewrite_apply(&r, p.b, p.d.len - 1, &p.d), -1); /* d does not fit len */
	struct fh_vp8_desc bad = p.d;

	bad.tk_off = 9;
	CHECK_EQ(fh_vp8_rewrite_apply(&r, p.b, p.len, &bad), -1);
}

TEST_MAIN(parse_minimal, parse_optional, switch_encodings, picid_7bit, temporal_drops,
	  temporal_filter, apply_refused)
