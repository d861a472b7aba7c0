/* Unit tests of cp_dp against a region made here, with this test as the worker: commands a full
 * ring refuses wait their turn and reach the worker in order, none lost (a SUB_ADD lost used to
 * leave an m-line assigned with nothing behind it). */
#include <stdio.h>
#include <unistd.h>

#include "cp_dp.h"
#include "fh_region.h"
#include "fh_test.h"

static void on_event(unsigned w, const struct fh_evt *e)
{
	(void)w;
	(void)e;
}

static void on_packet(unsigned w, const struct fh_pkt_msg *m)
{
	(void)w;
	(void)m;
}

static int lost;

static void on_lost(void)
{
	lost++;
}

static void full_ring(void)
{
	char name[64];
	struct fh_region dp;
	uint16_t ports[1] = {40000};
	const struct cp_dp_handlers h = {.event = on_event, .packet = on_packet, .lost = on_lost};
	uint64_t now = 1000;

	snprintf(name, sizeof(name), "/fh-test-dp-%d", (int)getpid());
	CHECK_EQ(fh_region_create(&dp, name, 1, ports), 0);
	cp_dp_init(name, &h);
	for (int i = 0; i < 100 && !cp_dp_attached(); i++, now += 100) {
		dp.hdr->heartbeat++; /* the dataplane's main loop beats */
		cp_dp_poll(now);
	}
	CHECK(cp_dp_attached());

	/* three rings' worth of commands with nobody reading: all taken */
	const unsigned n = 3 * FH_CMD_RING_SIZE;
	int refused = 0;

	for (unsigned i = 0; i < n; i++) {
		struct fh_cmd c = {.type = FH_CMD_SUB_ADD, .slot = (uint16_t)(i % FH_MAX_SLOTS)};

		c.u.sub.out_ssrc = i; /* which one it is */
		refused += cp_dp_cmd(0, &c) != 0;
	}
	CHECK_EQ(refused, 0);
	CHECK(cp_dp_backlog(0) >= n - FH_CMD_RING_SIZE);

	/* the worker reads a burst at a time; the control plane's loop tops the ring up */
	struct rte_ring *ring = fh_region_cmd(&dp, 0);
	unsigned got = 0, in_order = 1;

	for (int round = 0; round < 1000 && got < n; round++) {
		struct fh_cmd c;

		for (int k = 0; k < 64 && rte_ring_sc_dequeue_elem(ring, &c, sizeof(c)) == 0; k++) {
			in_order &= c.u.sub.out_ssrc == got;
			got++;
		}
		dp.hdr->heartbeat++;
		cp_dp_poll(now += 10);
	}
	CHECK_EQ(got, n);
	CHECK(in_order);
	CHECK_EQ(cp_dp_backlog(0), 0);
	CHECK_EQ(cp_dp_cmds_lost(), 0);
	/* a command after the backlog drained goes straight to the ring */
	struct fh_cmd c = {.type = FH_CMD_KEYFRAME};

	CHECK_EQ(cp_dp_cmd(0, &c), 0);
	CHECK_EQ(cp_dp_backlog(0), 0);
	CHECK_EQ(lost, 0);
	cp_dp_fini();
	fh_region_close(&dp);
}

TEST_MAIN(full_ring)
