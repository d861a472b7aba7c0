/*
 * fh-ringbench: forwarded packets per second and CPU cycles per forwarded packet of one
 * funkhaus-dp worker on a DPDK port with no kernel in the path. The port is a net_ring
 * ethdev: a generator on the main lcore puts Ethernet frames carrying SRTP (1200-byte video,
 * AEAD_AES_128_GCM or AES_CM_128_HMAC_SHA1_80) into its RX ring and takes what the worker
 * sends out of its TX ring. The worker is the real one (dp_worker, dp_io_dpdk, dp_net,
 * dp_media): participants are added with ring-region commands, learn the SFU by ARP, pass ICE
 * checks and get SRTP keys, exactly as funkhaus-cp would set them up.
 *
 * The worker's SRTP engine is libsrtp2 or cryptodev (-e); the generator encrypts its packets
 * with a cryptodev engine of its own in batches of 32, so that it outruns the worker.
 * The last lines give the worker's cycles per forwarded packet split by stage.
 *
 * Usage: fh-ringbench [-n ROOM_SIZE] [-s SECONDS] [-p gcm|cm] [-b ring|socket]
 *                     [-e libsrtp|cryptodev] [-c CRYPTO_PMDS]
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_net.h"
#include "dp_place.h"
#include "dp_worker.h"
#include "fh_srtp.h"
#include "fh_stun.h"

#define MAX_ROOM 33
#define SFU_PORT 40000

struct client {
	struct dp_net_conf net; /* the client's own L2/L3, to build its frames */
	char ufrag[20], pwd[40];
	uint16_t port;
};

static bool use_socket; /* the socket backend on loopback instead of net_ring */
static int sock[MAX_ROOM];
static unsigned n_sock;
static struct rte_ring *rx_ring, *tx_ring;
static struct rte_mempool *gen_pool;
static struct dp_net_conf sfu;
static uint64_t sunk, sunk_bytes;

static void drain(void)
{
	struct rte_mbuf *m[64];
	unsigned n;

	if (use_socket) {
		static uint8_t buf[2048];

		for (unsigned i = 1; i < n_sock; i++) {
			ssize_t r;

			for (int k = 0;
			     k < 64 && (r = recv(sock[i], buf, sizeof(buf), MSG_DONTWAIT)) > 0;
			     k++) {
				sunk++;
				sunk_bytes += (uint64_t)r;
			}
		}
		return;
	}
	while ((n = rte_ring_sc_dequeue_burst(tx_ring, (void **)m, 64, NULL)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			sunk_bytes += m[i]->pkt_len;
			rte_pktmbuf_free(m[i]);
		}
		sunk += n;
	}
}

/* Puts one frame into the port's RX ring, waiting while the worker catches up. */
static void inject(struct rte_mbuf *m)
{
	while (rte_ring_sp_enqueue(rx_ring, m) != 0)
		drain();
}

static struct rte_mbuf *udp_frame(const struct client *c, const uint8_t *payload, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(gen_pool);
	struct fh_addr dst = {.family = FH_AF_INET, .port = SFU_PORT};

	if (!m)
		return NULL;
	memcpy(dst.ip, sfu.ip4, 4);
	uint8_t *p = rte_pktmbuf_mtod_offset(m, uint8_t *, 42);

	memcpy(p, payload, len);
	struct dp_net_conf from = c->net;

	from.port_lo = c->port; /* dp_net_udp_headers takes sport as an argument */
	dp_net_udp_headers(&from, p, len, sfu.mac, c->port, &dst, false);
	m->data_len = (uint16_t)(42 + len);
	m->pkt_len = m->data_len;
	return m;
}

/* One datagram from client c to the SFU, through whichever backend is measured. */
static void send_udp(const struct client *c, unsigned idx, const uint8_t *payload, size_t len)
{
	if (use_socket) {
		while (send(sock[idx], payload, len, 0) < 0)
			drain();
		return;
	}
	struct rte_mbuf *m;

	while (!(m = udp_frame(c, payload, len)))
		drain();
	inject(m);
}

/* Sends the datagram in m (its data is the UDP payload, with room for the headers before it). */
static void send_frame(const struct client *c, unsigned idx, struct rte_mbuf *m)
{
	if (use_socket) {
		send_udp(c, idx, rte_pktmbuf_mtod(m, uint8_t *), m->data_len);
		rte_pktmbuf_free(m);
		return;
	}
	struct fh_addr dst = {.family = FH_AF_INET, .port = SFU_PORT};
	struct dp_net_conf from = c->net;
	size_t len = m->data_len;

	memcpy(dst.ip, sfu.ip4, 4);
	m->data_off = (uint16_t)(m->data_off - 42);
	from.port_lo = c->port;
	dp_net_udp_headers(&from, rte_pktmbuf_mtod(m, uint8_t *) + 42, len, sfu.mac, c->port, &dst,
			   false);
	m->data_len = (uint16_t)(42 + len);
	m->pkt_len = m->data_len;
	inject(m);
}

static void arp_and_check(const struct client *c, unsigned idx)
{
	if (!use_socket) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(gen_pool);
		struct fh_addr hop = {.family = FH_AF_INET};

		memcpy(hop.ip, sfu.ip4, 4);
		m->data_len = (uint16_t)dp_net_solicit(&c->net, &hop,
						       rte_pktmbuf_mtod(m, uint8_t *), 128);
		m->pkt_len = m->data_len;
		inject(m);
	}

	uint8_t buf[256], tid[12] = {1};
	char user[64];
	struct fh_stun_builder b;

	snprintf(user, sizeof(user), "%s:cl%04u", c->ufrag, c->port);
	fh_stun_build_start(&b, buf, sizeof(buf), FH_STUN_BINDING_REQUEST, tid);
	fh_stun_build_attr(&b, FH_STUN_ATTR_USERNAME, user, (uint16_t)strlen(user));
	fh_stun_build_u64(&b, FH_STUN_ATTR_ICE_CONTROLLING, 1);
	fh_stun_build_attr(&b, FH_STUN_ATTR_USE_CANDIDATE, NULL, 0);
	fh_stun_build_integrity(&b, c->pwd, strlen(c->pwd));
	fh_stun_build_fingerprint(&b);
	send_udp(c, idx, buf, fh_stun_build_end(&b));
}

static void cmd(struct fh_region *reg, struct fh_cmd *c)
{
	while (rte_ring_sp_enqueue_elem(fh_region_cmd(reg, 0), c, sizeof(*c)) != 0)
		rte_pause();
}

int main(int argc, char **argv)
{
	unsigned n = 5, seconds = 5;
	enum fh_srtp_profile profile = FH_SRTP_AEAD_AES_128_GCM;
	int o;
	char prefix[64], lcores[128], lc_arg[160], report[256], err[256];

	snprintf(prefix, sizeof(prefix), "--file-prefix=fh-ringbench-%d", (int)getpid());
	if (dp_place("float", NULL, 1, lcores, sizeof(lcores), report, sizeof(report), err,
		     sizeof(err)) < 0) {
		fprintf(stderr, "fh-ringbench: %s\n", err);
		return 1;
	}
	snprintf(lc_arg, sizeof(lc_arg), "--lcores=%s", lcores);
	char *eal[] = {argv[0], "--no-huge",	       "--no-pci", "-m", "1024", "--no-telemetry",
		       lc_arg,	"--log-level=warning", prefix,	   NULL};

	if (rte_eal_init(9, eal) < 0) {
		fprintf(stderr, "EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	enum dp_srtp_kind engine = DP_SRTP_LIBSRTP;
	const char *pmds = NULL;

	while ((o = getopt(argc, argv, "n:s:p:b:e:c:")) != -1) {
		if (o == 'e' && dp_srtp_kind_parse(optarg, &engine) == 0 && engine != DP_SRTP_AUTO)
			continue;
		if (o == 'c') {
			pmds = optarg;
			continue;
		}
		if (o == 'b')
			use_socket = !strcmp(optarg, "socket");
		else if (o == 'n')
			n = (unsigned)atoi(optarg);
		else if (o == 's')
			seconds = (unsigned)atoi(optarg);
		else if (o == 'p' && !strcmp(optarg, "cm"))
			profile = FH_SRTP_AES128_CM_SHA1_80;
		else if (o != 'p') {
			fprintf(stderr,
				"usage: fh-ringbench [-n ROOM_SIZE] [-s SECONDS] [-p gcm|cm] "
				"[-b ring|socket] [-e libsrtp|cryptodev] [-c CRYPTO_PMDS]\n");
			return 2;
		}
	}
	if (n < 2 || n > MAX_ROOM || seconds < 1 || seconds > 120) {
		fprintf(stderr, "fh-ringbench: room size 2-%d, 1-120 seconds\n", MAX_ROOM);
		return 2;
	}
	srtp_init();
	rx_ring = rte_ring_create("bench_rx", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	tx_ring = rte_ring_create("bench_tx", 8192, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	gen_pool = rte_pktmbuf_pool_create("bench_gen", 16383, 256,
					   RTE_ALIGN(sizeof(struct dp_pkt_meta), 8),
					   RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	struct rte_mempool *wpool = rte_pktmbuf_pool_create(
		"bench_worker", 32767, 256, RTE_ALIGN(sizeof(struct dp_pkt_meta), 8),
		RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	int port = rte_eth_from_rings("bench", &rx_ring, 1, &tx_ring, 1, 0);

	if (!rx_ring || !tx_ring || !gen_pool || !wpool || port < 0) {
		fprintf(stderr, "fh-ringbench: no memory for rings or pools\n");
		return 1;
	}
	if (dp_io_dpdk_port_init((uint16_t)port, 1, &wpool, sfu.mac, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "fh-ringbench: %s\n", err);
		return 1;
	}
	/* net_ring has an all-zero MAC: give the SFU one of its own */
	uint8_t mac[6] = {0x02, 0xfe, 0, 0, 0, 2};

	memcpy(sfu.mac, mac, 6);
	sfu.has_ip4 = true;
	sfu.ip4[0] = 10, sfu.ip4[3] = 2;
	sfu.ip4_prefix = 24;
	sfu.port_lo = sfu.port_hi = SFU_PORT;

	struct fh_region reg;
	char rname[64];
	uint16_t ports[1] = {SFU_PORT};
	struct rte_ring *handoff[1] = {rte_ring_create("bench_handoff", 1024, 0, RING_F_SC_DEQ)};

	snprintf(rname, sizeof(rname), "/fh-ringbench-%d", (int)getpid());
	if (fh_region_create(&reg, rname, 1, ports) < 0)
		return 1;
	static struct dp_worker w;
	static volatile bool stop;
	struct dp_srtp_engine *weng = dp_srtp_engine_new(engine, 0, 0, 64, pmds, err, sizeof(err));
	/* the generator's own, so that making the load costs as little as possible */
	struct dp_srtp_engine *geng =
		dp_srtp_engine_new(DP_SRTP_CRYPTODEV, 1, 0, 4, pmds, err, sizeof(err));

	if (!weng || !geng) {
		fprintf(stderr, "fh-ringbench: %s\n", err);
		return 1;
	}
	struct dp_worker_conf wc = {.id = 0,
				    .io = use_socket ? &dp_io_socket_ops : &dp_io_dpdk_ops,
				    .consent_timeout_s = 300,
				    .remb_bitrate = 1500000,
				    .srtp = weng};

	snprintf(wc.io_conf.bind_addr, sizeof(wc.io_conf.bind_addr), "127.0.0.1");
	wc.io_conf.port = SFU_PORT;

	wc.io_conf.n_eth = 1;
	wc.io_conf.eth_port[0] = (uint16_t)port;
	wc.io_conf.net[0] = &sfu;
	wc.io_conf.n_workers = 1;
	wc.io_conf.base_port = SFU_PORT;
	wc.io_conf.handoff = handoff;
	wc.io_conf.tx_drain_us = DP_TX_DRAIN_US_DEFAULT;
	if (dp_worker_init(&w, &wc, &reg, wpool, &stop) < 0)
		return 1;
	rte_eal_remote_launch(dp_worker_main, &w, rte_get_next_lcore(-1, 1, 0));

	/* the room: client 0 publishes video, the others receive it */
	static struct client cl[MAX_ROOM];
	unsigned char keys[MAX_ROOM][FH_KEY_MAX];
	size_t klen = fh_srtp_key_len(profile);

	for (unsigned i = 0; i < n; i++) {
		struct client *c = &cl[i];
		struct fh_cmd pc = {.type = FH_CMD_PART_ADD, .slot = (uint16_t)i, .room = 1};

		c->net = sfu;
		c->net.mac[5] = (uint8_t)(100 + i);
		c->net.ip4[3] = (uint8_t)(100 + i);
		c->port = (uint16_t)(5000 + i);
		snprintf(c->ufrag, sizeof(c->ufrag), "%04xbenchufrag", i);
		snprintf(c->pwd, sizeof(c->pwd), "benchpassword0123456789%u", i);
		if (use_socket) {
			struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(c->port)};
			struct sockaddr_in to = {.sin_family = AF_INET,
						 .sin_port = htons(SFU_PORT)};
			int big = 8 << 20;

			inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
			to.sin_addr = sa.sin_addr;
			sock[i] = socket(AF_INET, SOCK_DGRAM, 0);
			setsockopt(sock[i], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
			if (bind(sock[i], (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
			    connect(sock[i], (struct sockaddr *)&to, sizeof(to)) < 0) {
				fprintf(stderr, "fh-ringbench: UDP port %u is busy\n", c->port);
				return 1;
			}
			n_sock = i + 1;
		}
		snprintf(pc.u.part.local_ufrag, sizeof(pc.u.part.local_ufrag), "%s", c->ufrag);
		snprintf(pc.u.part.local_pwd, sizeof(pc.u.part.local_pwd), "%s", c->pwd);
		snprintf(pc.u.part.remote_ufrag, sizeof(pc.u.part.remote_ufrag), "cl%04u", c->port);
		cmd(&reg, &pc);
		struct fh_cmd kc = {.type = FH_CMD_KEYS, .slot = (uint16_t)i, .room = 1};

		for (size_t k = 0; k < klen; k++)
			keys[i][k] = (unsigned char)(rand() & 0xff);
		kc.u.keys.profile = (uint8_t)profile;
		kc.u.keys.key_len = (uint8_t)klen;
		memcpy(kc.u.keys.rx_key, keys[i], klen);
		memcpy(kc.u.keys.tx_key, keys[i], klen);
		cmd(&reg, &kc);
	}
	struct fh_cmd sc = {.type = FH_CMD_STREAM_ADD, .slot = 0, .room = 1};

	sc.u.stream = (struct fh_cmd_stream){
		.ssrc = 0x1111, .kind = FH_KIND_VIDEO, .pt = 96, .clock_rate = 90000};
	cmd(&reg, &sc);
	for (unsigned i = 1; i < n; i++) {
		struct fh_cmd su = {.type = FH_CMD_SUB_ADD, .slot = (uint16_t)i, .room = 1};

		su.u.sub = (struct fh_cmd_sub){.pub_slot = 0,
					       .pub_ssrc = 0x1111,
					       .out_ssrc = 0x2000 + i,
					       .out_pt = 96,
					       .kind = FH_KIND_VIDEO};
		cmd(&reg, &su);
	}
	/* the worker applies commands between bursts: let it catch up before the first frame */
	struct fh_counters *ctr = fh_region_counters(&reg, 0);
	unsigned want = 2 * n + 1 + (n - 1);

	for (int t = 0; t < 2000 && ctr->ctr[FH_CTR_commands] < want; t++)
		rte_delay_us_sleep(1000);
	for (unsigned i = 0; i < n; i++)
		arp_and_check(&cl[i], i);
	for (int t = 0; t < 200; t++) {
		drain();
		rte_delay_us_sleep(1000);
	}
	if (ctr->bound != n) {
		fprintf(stderr, "fh-ringbench: only %u of %u participants passed ICE\n", ctr->bound,
			n);
		return 1;
	}

	/* the load: SRTP video from client 0, as fast as the generator can make it */
	struct dp_srtp_sess *gen = dp_srtp_sess_new(geng, profile, keys[0], keys[0], klen);

	if (!gen) {
		fprintf(stderr, "fh-ringbench: no generator session\n");
		return 1;
	}
	uint64_t fwd0 = ctr->ctr[FH_CTR_rtp_forwarded], busy0 = ctr->busy_cycles,
		 total0 = ctr->total_cycles, sent = 0, stage0[FH_STAGE_MAX];
	uint64_t hz = rte_get_tsc_hz(), t0 = rte_rdtsc(), end = t0 + hz * seconds;
	uint8_t pkt[1400];
	uint16_t seq = 0;
	uint32_t ts = 0;

	memcpy(stage0, ctr->stage_cycles, sizeof(stage0));
	memset(pkt, 0x5a, sizeof(pkt));
	while (rte_rdtsc() < end) {
		struct dp_srtp_op ops[32];
		unsigned k = 0;

		for (; k < 32; k++) {
			pkt[0] = 0x80;
			pkt[1] = 96;
			fh_wr16(pkt + 2, seq++);
			fh_wr32(pkt + 4, ts);
			fh_wr32(pkt + 8, 0x1111);
			if ((seq & 7) == 0)
				ts += 3000;
			struct rte_mbuf *m;

			while (!(m = rte_pktmbuf_alloc(gen_pool)))
				drain();
			/* the payload sits where udp_frame / send() will want it */
			m->data_off = (uint16_t)(m->data_off + 42);
			memcpy(rte_pktmbuf_mtod(m, void *), pkt, 12 + 1200);
			m->data_len = 12 + 1200;
			m->pkt_len = m->data_len;
			ops[k] = (struct dp_srtp_op){.s = gen, .m = m};
		}
		dp_srtp_protect(geng, ops, k);
		for (unsigned i = 0; i < k; i++) {
			struct rte_mbuf *m = ops[i].m;

			if (ops[i].status == DP_SRTP_OK) {
				send_frame(&cl[0], 0, m);
				sent++;
			} else {
				rte_pktmbuf_free(m);
			}
		}
		drain();
	}
	uint64_t t1 = rte_rdtsc();

	for (int t = 0; t < 100; t++) {
		drain();
		rte_delay_us_sleep(1000);
	}
	uint64_t fwd = ctr->ctr[FH_CTR_rtp_forwarded] - fwd0;
	uint64_t busy = ctr->busy_cycles - busy0, total = ctr->total_cycles - total0;
	double secs = (double)(t1 - t0) / (double)hz;
	uint64_t drops = 0;

	for (int d = 0; d < FH_DROP_MAX; d++)
		drops += ctr->drop[d];
	printf("%s, %s, room of %u: %llu SRTP packets in, %llu forwarded in %.1f s\n",
	       use_socket ? "socket backend (loopback)" : "dpdk backend (net_ring)",
	       profile == FH_SRTP_AEAD_AES_128_GCM ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80",
	       n, (unsigned long long)sent, (unsigned long long)fwd, secs);
	printf("  SRTP engine of the worker: %s\n", ctr->srtp_engine);
	for (int d = 0; d < FH_DROP_MAX; d++)
		if (ctr->drop[d])
			printf("  dropped: %s %llu\n", fh_drop_names[d],
			       (unsigned long long)ctr->drop[d]);
	printf("  cycles per forwarded packet by stage:");
	for (int st = 0; st < FH_STAGE_MAX; st++)
		printf(" %s %.0f", fh_stage_names[st],
		       fwd ? (double)(ctr->stage_cycles[st] - stage0[st]) / (double)fwd : 0);
	printf("\n");
	printf("  %.0f forwarded packets/s per worker, worker busy %.0f %%, %.0f cycles per "
	       "forwarded packet (TSC %.0f MHz), drops %llu\n",
	       fwd / secs, total ? 100.0 * (double)busy / (double)total : 0,
	       fwd ? (double)busy / (double)fwd : 0, hz / 1e6, (unsigned long long)drops);
	stop = true;
	rte_eal_mp_wait_lcore();
	dp_srtp_sess_free(geng, gen);
	dp_srtp_engine_free(geng);
	fh_region_close(&reg);
	return 0;
}
