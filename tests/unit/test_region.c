/* Unit tests of fh_region: messages cross the shared rings in order and by value; an
 * attaching process checks magic, ABI and the counter table's hash; a second control plane is
 * refused. The counter table itself: every name unique and fit for a Prometheus name, every
 * line with help text that goes into a HELP line as it is. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fh_region.h"
#include "fh_test.h"

static void name_for(char *buf, size_t n, const char *what)
{
	snprintf(buf, n, "/funkhaus-test-%s-%d", what, (int)getpid());
}

static void messages_in_order(void)
{
	struct fh_region dp, cp;
	uint16_t ports[2] = {40000, 40001};
	char name[64];

	name_for(name, sizeof(name), "order");
	CHECK_EQ(fh_region_create(&dp, name, 2, ports), 0);
	CHECK_EQ(fh_region_attach(&cp, name), 0);
	CHECK_EQ(cp.hdr->n_workers, 2);
	CHECK_EQ(cp.hdr->w[1].port, 40001);
	CHECK_EQ(cp.hdr->generation, dp.hdr->generation);

	/* cp -> worker 1 commands, in order, carried by value */
	for (uint32_t i = 0; i < 100; i++) {
		struct fh_cmd c = {.type = FH_CMD_KEYFRAME, .slot = (uint16_t)i, .seq = i};

		c.u.stream.ssrc = 1000 + i;
		CHECK_EQ(rte_ring_sp_enqueue_elem(fh_region_cmd(&cp, 1), &c, sizeof(c)), 0);
	}
	CHECK_EQ(rte_ring_count(fh_region_cmd(&dp, 0)), 0);
	for (uint32_t i = 0; i < 100; i++) {
		struct fh_cmd c;

		CHECK_EQ(rte_ring_sc_dequeue_elem(fh_region_cmd(&dp, 1), &c, sizeof(c)), 0);
		CHECK(c.seq == i && c.slot == i && c.u.stream.ssrc == 1000 + i);
	}
	/* a full ring refuses instead of overwriting */
	struct fh_evt e = {.type = FH_EVT_BOUND};
	unsigned n = 0;

	while (rte_ring_sp_enqueue_elem(fh_region_evt(&dp, 0), &e, sizeof(e)) == 0)
		n++;
	CHECK_EQ(n, FH_EVT_RING_SIZE - 1);
	/* a whole DTLS record up */
	struct fh_pkt_msg m = {.slot = 3, .len = FH_PKT_MAX}, got;

	memset(m.data, 0x5a, sizeof(m.data));
	CHECK_EQ(rte_ring_sp_enqueue_elem(fh_region_up(&dp, 1), &m, sizeof(m)), 0);
	CHECK_EQ(rte_ring_sc_dequeue_elem(fh_region_up(&cp, 1), &got, sizeof(got)), 0);
	CHECK(got.len == FH_PKT_MAX && got.data[FH_PKT_MAX - 1] == 0x5a);
	/* counters are the worker's, visible to cp */
	fh_region_counters(&dp, 1)->drop[FH_DROP_stun_bad_integrity] = 7;
	CHECK_EQ(fh_region_counters(&cp, 1)->drop[FH_DROP_stun_bad_integrity], 7);

	/* one control plane at a time */
	struct fh_region cp2;

	CHECK_EQ(fh_region_attach(&cp2, name), -EBUSY);
	fh_region_close(&cp);
	CHECK_EQ(fh_region_attach(&cp2, name), 0);
	fh_region_close(&cp2);
	fh_region_close(&dp);
	CHECK(fh_region_attach(&cp2, name) < 0); /* the owner removed it */
}

static void abi_checked(void)
{
	struct fh_region dp, cp;
	uint16_t ports[1] = {40000};
	char name[64];

	name_for(name, sizeof(name), "abi");
	CHECK_EQ(fh_region_create(&dp, name, 1, ports), 0);
	dp.hdr->abi = FH_REGION_ABI + 1;
	CHECK_EQ(fh_region_attach(&cp, name), -EPROTO);
	dp.hdr->abi = FH_REGION_ABI;
	/* a dataplane built with another counter table: same size, other names */
	dp.hdr->table_hash ^= 1;
	CHECK_EQ(fh_region_attach(&cp, name), -EPROTO);
	CHECK_EQ(fh_region_peek(&cp, name), -EPROTO);
	dp.hdr->table_hash ^= 1;
	CHECK_EQ(fh_region_peek(&cp, name), 0);
	fh_region_close(&cp);
	dp.hdr->magic = 0;
	CHECK_EQ(fh_region_attach(&cp, name), -EPROTO);
	fh_region_close(&dp);
	CHECK_EQ(fh_region_create(&dp, name, 0, ports), -EINVAL);
	CHECK_EQ(fh_region_create(&dp, name, FH_MAX_WORKERS + 1, ports), -EINVAL);

	/* a truncated object is not trusted */
	int fd = shm_open(name, O_RDWR | O_CREAT, 0600);

	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, 100), 0);
	close(fd);
	CHECK_EQ(fh_region_attach(&cp, name), -EPROTO);
	shm_unlink(name);
}

/* A name /metrics can carry: funkhaus_worker_<name>_total, or a label value. */
static bool name_ok(const char *n)
{
	if (!n || !(*n >= 'a' && *n <= 'z'))
		return false;
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9') || *n == '_'))
			return false;
	return n[-1] != '_';
}

/* Help that goes into a HELP line and a label value unescaped: one line, no '\' or '"'. */
static bool help_ok(const char *h)
{
	return h && strlen(h) >= 8 && !strpbrk(h, "\\\"\n\r");
}

static void check_list(const char *what, const char *const *names, const char *const *help,
		       unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (!name_ok(names[i]))
			fprintf(stderr, "%s %u: name \"%s\" is no Prometheus name\n", what, i,
				names[i] ? names[i] : "(null)");
		CHECK(name_ok(names[i]));
		if (help && !help_ok(help[i]))
			fprintf(stderr, "%s %s: help \"%s\" is empty or unfit for a HELP line\n",
				what, names[i], help[i] ? help[i] : "(null)");
		CHECK(!help || help_ok(help[i]));
		for (unsigned j = 0; j < i; j++) {
			if (names[i] && names[j] && !strcmp(names[i], names[j]))
				fprintf(stderr, "%s %s: named twice\n", what, names[i]);
			CHECK(!names[i] || !names[j] || strcmp(names[i], names[j]) != 0);
		}
	}
}

static void counter_table(void)
{
	check_list("counter", fh_ctr_names, fh_ctr_help, FH_CTR_MAX);
	check_list("drop reason", fh_drop_names, fh_drop_help, FH_DROP_MAX);
	check_list("stage", fh_stage_names, NULL, FH_STAGE_MAX);
	check_list("port counter", fh_port_ctr_names, fh_port_ctr_help, FH_PORT_CTR_MAX);
	/* the names are what the enums say, in the enums' order */
	CHECK(!strcmp(fh_ctr_names[FH_CTR_rx_packets], "rx_packets"));
	CHECK(!strcmp(fh_ctr_names[FH_CTR_MAX - 1], "ssrc_learned"));
	CHECK(!strcmp(fh_drop_names[FH_DROP_not_webrtc], "not_webrtc"));
	CHECK(!strcmp(fh_drop_names[FH_DROP_MAX - 1], "twcc_unknown"));
	CHECK(!strcmp(fh_stage_names[FH_STAGE_tx], "tx"));
	/* the layout in the region follows the table */
	CHECK_EQ(sizeof(((struct fh_counters *)0)->ctr), FH_CTR_MAX * sizeof(uint64_t));
	CHECK_EQ(sizeof(((struct fh_counters *)0)->drop), FH_DROP_MAX * sizeof(uint64_t));
	struct fh_port_counters pc = {.rx_missed = 5, .rx_no_mbuf = 7};

	CHECK_EQ(pc.ctr[FH_PORT_CTR_rx_missed], 5); /* the named fields are the array */
	CHECK_EQ(pc.ctr[FH_PORT_CTR_rx_no_mbuf], 7);
	CHECK(!strcmp(fh_port_ctr_names[FH_PORT_CTR_rx_no_mbuf], "rx_no_mbuf"));
}

TEST_MAIN(messages_in_order, abi_checked, counter_table)
