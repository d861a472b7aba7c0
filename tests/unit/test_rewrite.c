/* Unit tests of fh_rewrite: a receiver sees one continuous stream across source switches. */
#include "fh_rtp.h"
#include "fh_test.h"

static void continuous_across_switch_and_wrap(void)
{
	struct fh_rewrite r;
	uint16_t seq, prev_seq;
	uint32_t ts, prev_ts;

	fh_rewrite_init(&r, 65530, 1000);
	/* source A starts somewhere else entirely */
	fh_rewrite_map(&r, 0xA, 300, 90000, 3000, &seq, &ts);
	CHECK_EQ(seq, 65530);
	CHECK_EQ(ts, 1000);
	prev_seq = seq;
	prev_ts = ts;
	for (int i = 1; i <= 10; i++) { /* crosses 65535 -> 0 on the way out */
		fh_rewrite_map(&r, 0xA, (uint16_t)(300 + i), 90000 + 3000u * i, 3000, &seq, &ts);
		CHECK_EQ((uint16_t)(seq - prev_seq), 1);
		CHECK_EQ(ts - prev_ts, 3000);
		prev_seq = seq;
		prev_ts = ts;
	}
	CHECK_EQ(seq, 4); /* 65530 + 10 wrapped */
	/* switch to source B, whose numbers wrap themselves */
	fh_rewrite_map(&r, 0xB, 65535, 0xfffffff0u, 3000, &seq, &ts);
	CHECK_EQ((uint16_t)(seq - prev_seq), 1);
	CHECK_EQ(ts - prev_ts, 3000);
	prev_seq = seq;
	prev_ts = ts;
	fh_rewrite_map(&r, 0xB, 0, 0xfffffff0u + 3000, 3000, &seq, &ts);
	CHECK_EQ((uint16_t)(seq - prev_seq), 1);
	CHECK_EQ(ts - prev_ts, 3000);
	CHECK_EQ(fh_rewrite_unmap_seq(&r, seq), 0);
	/* back to A: continues after B, not where A left off */
	prev_seq = seq;
	fh_rewrite_map(&r, 0xA, 311, 90000 + 3000u * 11, 3000, &seq, &ts);
	CHECK_EQ((uint16_t)(seq - prev_seq), 1);
}

static void reordering_keeps_the_high_water_mark(void)
{
	struct fh_rewrite r;
	uint16_t seq;
	uint32_t ts;

	fh_rewrite_init(&r, 100, 0);
	fh_rewrite_map(&r, 1, 10, 1000, 960, &seq, &ts);
	fh_rewrite_map(&r, 1, 12, 2920, 960, &seq, &ts);
	CHECK_EQ(seq, 102);
	fh_rewrite_map(&r, 1, 11, 1960, 960, &seq, &ts); /* late packet keeps its place */
	CHECK_EQ(seq, 101);
	CHECK_EQ(r.last_seq, 102);
	fh_rewrite_map(&r, 2, 5000, 7, 960, &seq, &ts); /* switch continues after 102 */
	CHECK_EQ(seq, 103);
	CHECK_EQ(ts, 1920 + 960); /* the last timestamp sent, one frame later */
}

TEST_MAIN(continuous_across_switch_and_wrap, reordering_keeps_the_high_water_mark)
