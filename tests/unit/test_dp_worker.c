/*
 * Unit tests of the worker's commands on a worker made here (participants, counters, the
 * event ring, the speaker rooms; no port, no SRTP): a participant's received streams come
 * and go with SUB_ADD and SUB_DEL, and n_out, where the loops over them end (the share-out,
 * the rates, the admin view, probes, RTCP feedback), always lies past the last one in use and
 * comes down as the last ones go; a refused command is an error event and changes nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "dp_test_worker.h"

static struct dp_worker w;
static struct fh_counters ctr;

/* Command errors waiting in the event ring, taken out. */
static unsigned errors(void)
{
	struct fh_evt e;
	unsigned n = 0;

	while (rte_ring_sc_dequeue_elem(w.evt, &e, sizeof(e)) == 0)
		n += e.type == FH_EVT_CMD_ERR;
	return n;
}

static void part_add(uint16_t slot)
{
	struct fh_cmd c = {.type = FH_CMD_PART_ADD, .slot = slot, .room = 7};

	strcpy(c.u.part.local_ufrag, "lufr");
	strcpy(c.u.part.remote_ufrag, "rufr");
	strcpy(c.u.part.local_pwd, "a-local-password-of-22");
	dp_worker_apply(&w, &c, 1000);
}

/* Slot 1 publishes one video stream, key 11. */
static void publisher(void)
{
	struct fh_cmd c = {.type = FH_CMD_STREAM_ADD, .slot = 1};

	part_add(1);
	c.u.stream.key = 11;
	c.u.stream.ssrc = 0x1111;
	c.u.stream.kind = FH_KIND_VIDEO;
	c.u.stream.pt = 96;
	c.u.stream.clock_rate = 90000;
	strcpy(c.u.stream.mid, "1");
	dp_worker_apply(&w, &c, 1000);
}

/* SUB_ADD and SUB_DEL: out_ssrc receives slot 1's video. SUB_SET: a receive slot with no
 * stream in it yet (as for an m-line assigned before its publisher is known). */
static void sub(uint16_t type, uint16_t slot, uint32_t out_ssrc)
{
	struct fh_cmd c = {.type = type, .slot = slot};

	c.u.sub.out_ssrc = out_ssrc;
	c.u.sub.kind = FH_KIND_VIDEO;
	c.u.sub.out_pt = 96;
	if (type != FH_CMD_SUB_SET) {
		c.u.sub.pub_slot = 1;
		c.u.sub.pub_key = 11;
	}
	dp_worker_apply(&w, &c, 1000);
}

/* Streams in use, and that none lies at or past n_out. */
static unsigned in_use(const struct dp_part *p)
{
	unsigned n = 0;

	for (int i = 0; i < DP_MAX_OUT; i++) {
		if (!p->out[i].used)
			continue;
		n++;
		CHECK(i < p->n_out);
	}
	return n;
}

static void streams_come_and_go(void)
{
	dp_test_worker_init(&w, &ctr, 1000000);
	struct dp_part *p = &w.parts[3];

	publisher();
	part_add(3);
	CHECK(p->used);
	CHECK_EQ(errors(), 0);
	CHECK_EQ(p->n_out, 0);
	for (uint32_t s = 1; s <= 4; s++)
		sub(FH_CMD_SUB_ADD, 3, 100 + s); /* outs 0..3 */
	CHECK_EQ(errors(), 0);
	CHECK_EQ(in_use(p), 4);
	CHECK_EQ(p->n_out, 4);

	sub(FH_CMD_SUB_DEL, 3, 102); /* out 1: a gap, n_out stays */
	CHECK_EQ(in_use(p), 3);
	CHECK_EQ(p->n_out, 4);
	sub(FH_CMD_SUB_DEL, 3, 104); /* out 3, the last: down past the gap to out 2 */
	CHECK_EQ(in_use(p), 2);
	CHECK_EQ(p->n_out, 3);
	sub(FH_CMD_SUB_DEL, 3, 103); /* out 2: down to out 0, over the gap at 1 */
	CHECK_EQ(in_use(p), 1);
	CHECK_EQ(p->n_out, 1);
	sub(FH_CMD_SUB_ADD, 3, 105); /* the first free one: out 1 */
	CHECK_EQ(in_use(p), 2);
	CHECK_EQ(p->n_out, 2);
	CHECK_EQ(p->out[1].out_ssrc, 105);
	CHECK_EQ(errors(), 0);

	/* refused, and nothing changes: no such stream, one SSRC added twice, a 65th */
	sub(FH_CMD_SUB_DEL, 3, 999);
	CHECK_EQ(errors(), 1);
	CHECK_EQ(p->n_out, 2);
	sub(FH_CMD_SUB_ADD, 3, 105);
	CHECK_EQ(errors(), 1);
	CHECK_EQ(in_use(p), 2);
	CHECK_EQ(p->n_out, 2);
	for (uint32_t s = 0; s < DP_MAX_OUT; s++)
		sub(FH_CMD_SUB_SET, 3, 1000 + s);
	CHECK_EQ(in_use(p), DP_MAX_OUT);
	CHECK_EQ(p->n_out, DP_MAX_OUT);
	CHECK_EQ(errors(), 2); /* the last two of the 64 found no room */
	sub(FH_CMD_SUB_SET, 3, 5000);
	CHECK_EQ(errors(), 1);
	CHECK_EQ(in_use(p), DP_MAX_OUT);

	/* every one of them goes with the participant, and a new one starts from none */
	struct fh_cmd del = {.type = FH_CMD_PART_DEL, .slot = 3};

	dp_worker_apply(&w, &del, 1000);
	CHECK(!p->used);
	CHECK_EQ(p->n_out, 0);
	part_add(3);
	CHECK_EQ(p->n_out, 0);
	sub(FH_CMD_SUB_ADD, 3, 7);
	CHECK_EQ(p->n_out, 1);
	dp_worker_apply(&w, &del, 1000);
	del.slot = 1;
	dp_worker_apply(&w, &del, 1000);
	CHECK_EQ(errors(), 0);
	free(w.parts);
	free(w.evt);
}

TEST_MAIN(streams_come_and_go)
