/*
 * fh-ringbench: forwarded packets per second and CPU cycles per forwarded packet of
 * funkhaus-dp workers on a DPDK port with no kernel in the path. The port is a net_ring
 * ethdev with one queue per worker: for each worker a generator lcore of its own puts
 * Ethernet frames carrying SRTP (1200-byte video, AEAD_AES_128_GCM or
 * AES_CM_128_HMAC_SHA1_80) for the worker's UDP port into that queue's RX ring and takes what
 * the worker sends out of its TX ring; with -w N the workers run side by side (2N lcores; the
 * main lcore is generator 0), which shows how forwarding scales over cores. The worker is the real one (dp_worker, dp_io_dpdk, dp_net,
 * dp_media): participants are added with ring-region commands, learn the SFU by ARP, pass ICE
 * checks and get SRTP keys, exactly as funkhaus-cp would set them up.
 *
 * The worker's SRTP engine is libsrtp2 or cryptodev (-e); the generator encrypts its packets
 * with a cryptodev engine of its own in batches of 32, so that it outruns the worker.
 * The last lines give the worker's cycles per forwarded packet split by stage.
 *
 * The generator stands in for a NIC on the TX side too (-f): a NIC reads a sent frame by DMA
 * from the descriptor's address and length and hands the buffer back, and the PMD frees it on
 * the worker's own lcore the next time the worker transmits. So by default (-f worker) the
 * generator takes the frames out of the TX ring without touching them and queues them on a
 * completion ring, and a TX callback of the queue (rte_eth_add_tx_callback, run by the worker
 * in rte_eth_tx_burst) frees them, as a PMD's TX clean-up does. -f read does the same after
 * the generator has read every cache line of each frame (a pessimistic stand-in for the DMA
 * reads: a core's read takes lines into its own cache, a NIC's does not); -f sink frees them
 * on the generator's lcore, which no NIC does (the buffers then come back to the worker through
 * the pool's shared ring, from the other core's cache).
 * On the RX side, a received frame is in the generator's cache when the worker reads it (-m
 * cache, the default), or in memory (-m memory: the generator flushes each frame and its
 * buffer's header out of its cache before handing it over, as a NIC's DMA write leaves it).
 * The IPv4 and UDP checksums of sent frames are computed by the worker, as on a port without
 * checksum offload (net_ring has none); with -o the worker leaves them to the port, as it does
 * on a NIC that offers the offload (most server NICs do): it writes the pseudo-header sum and
 * asks for the offload in the buffer's flags, and the generator stands in for the NIC.
 * The EAL's memory (packet buffers, rings, crypto ops) is on hugepages when enough are
 * reserved and hugetlbfs is mounted, as funkhaus-dp's is (-H auto, the default; -H yes insists
 * on them), else on 4 KiB pages (-H no: --no-huge, as on a box without hugepages).
 * The first line gives the round trip of a cache line between generator 0's and worker 0's
 * CPUs before and after the run: on a shared host the vCPUs move, and a received frame costs
 * the worker more the farther the generator is (62 against 440 ns here, at different times).
 * Only the measured seconds count: the frames still queued at their end are not.
 * Cycles are TSC time while the worker was busy: with its lcore floating (no -C) or on a CPU
 * not isolated from other threads, time the OS or the host took the CPU away is in them; the
 * output says so above the figures.
 *
 * With -a the room is set up as browsers now are, so that the adaptive path is measured: every
 * participant has Chrome's header extension ids (FH_CMD_MEDIA), the publisher takes
 * transport-wide feedback (the worker records its arrivals and sends it feedback), the
 * receivers have the transport-wide id but no feedback of their own (the worker numbers their
 * copies and keeps its send history, but the generator cannot answer for SRTP it does not
 * decrypt, so no estimator update is in the figure), and the video is simulcast with three
 * layers whose SSRCs the offer named. The generator sends the lowest layer with a VP8 payload
 * descriptor (15-bit picture id, TL0PICIDX, L1T3 temporal ids 0,2,1,2, a key frame first) and
 * the transport-wide sequence number and send time in a one-byte extension block. It reads the
 * SRTCP the worker sends each publisher and answers a PLI or FIR as a browser does, with a key
 * frame (on the next frame of TID 0): a receiver whose estimate did not cover a stream at the
 * first key frame gets it on the one it asks for once it does.
 *
 * With -F (with -a, on the ring backend) the receivers answer as browsers do: the generator
 * reads the transport-wide number of every copy the worker sends (the RTP header is not
 * encrypted), notes when it took the frame off the TX ring, and sends each receiver's
 * transport-wide feedback in SRTCP under that receiver's key every 100 ms. The worker then runs
 * everything a receiver with feedback costs it: its pacer, the send history, SRTCP in, the
 * feedback's parse, the estimator and the share-out on the estimate. A receiver's estimate
 * starts at 1 Mbit/s, so with -F the publisher is paced (-r) at a browser's rate.
 *
 * -r KBPS paces the publisher at KBPS kbit/s of RTP instead of as fast as the generator can:
 * about 30 frames a second, of as many 1200-byte packets as that gives at the rate (at least
 * one, at most eight; the frames come as often as the rate then allows), each frame's packets
 * back to back, as a browser's pacer sends them (libwebrtc's PacingController may run up a
 * debt of its send burst interval, 40 ms by default, so a frame smaller than 40 ms of its
 * pacing rate leaves at once). With -u they come one at a time, evenly spaced, in frames of
 * eight (the figures before the bursts).
 *
 * -P N makes participants 0..N-1 publishers (default 1), each with its own video (and SSRCs),
 * and every participant receives every publisher but itself: -P with the room size is a
 * meeting where everyone's camera is on, each receiver getting N-1 streams (N with -r is each
 * publisher's rate). With -F each receiver's feedback then reports the packets of all of them.
 *
 * Usage: fh-ringbench [-n ROOM_SIZE] [-s SECONDS] [-p gcm|cm] [-b ring|socket]
 *                     [-e libsrtp|cryptodev] [-c CRYPTO_PMDS] [-w WORKERS] [-C CPUS]
 *                     [-f worker|read|sink] [-m cache|memory] [-o] [-H auto|yes|no] [-a]
 *                     [-F] [-r KBPS [-u]] [-P PUBLISHERS]
 * -C: float (the default), or 2N-1 CPUs for the lcores besides the main one (e.g. 1-15 as
 * "1,2,...,15" for eight workers on a 16-core machine).
 */
#include <arpa/inet.h>
#ifdef FH_HAVE_CALLGRIND
#include <valgrind/callgrind.h>
#endif
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
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "dp_net.h"
#include "dp_place.h"
#include "dp_worker.h"
#include "fh_ext.h"
#include "fh_rtpext.h"
#include "fh_srtp.h"
#include "fh_stun.h"
#include "fh_twcc.h"

#define MAX_ROOM 33
#define MAX_PAIRS 16
#define SFU_PORT 40000

struct client {
	struct dp_net_conf net; /* the client's own L2/L3, to build its frames */
	char ufrag[20], pwd[40];
	uint16_t port;
};

/* A worker's counters at one moment, and the TSC then. */
struct snap {
	uint64_t fwd, in, busy, total, stage[FH_STAGE_MAX], tsc;
};

/* A worker and the generator that loads it: their queue's rings, their room. */
struct pair {
	unsigned id;
	uint16_t sfu_port;
	struct rte_ring *rx_ring, *tx_ring;
	struct rte_ring *done; /* TX completions: sent frames the worker frees (-f worker|read) */
	struct rte_mempool *gen_pool;
	struct client cl[MAX_ROOM];
	unsigned char keys[MAX_ROOM][FH_KEY_MAX];
	struct dp_srtp_engine *geng;
	struct dp_srtp_sess *gen[MAX_ROOM]; /* each publisher's SRTP */
	/* -a: each publisher's SRTCP from the worker, read for its key-frame requests, which
	 * the publisher answers with a key frame as a browser does */
	struct dp_srtp_sess *rtcp_in[MAX_ROOM];
	bool want_key[MAX_ROOM];
	uint64_t key_asked, key_made;
	/* -F: each receiver's arrivals and its SRTCP session for the feedback */
	struct fh_twcc_rx twrx[MAX_ROOM];
	struct dp_srtp_sess *fb_sess[MAX_ROOM];
	uint64_t fb_sent, fb_seen; /* feedback packets sent; copies whose number was recorded */
	struct dp_worker w;
	struct fh_counters *ctr;
	uint64_t sent, sunk;
	/* sent UDP frames that ask the port for checksums, of all seen (-f worker|read) outside
	 * the measured seconds, so that the look costs the measured worker nothing */
	uint64_t csum_asked, csum_checked;
	volatile bool measuring;
	struct snap at[2]; /* the worker's counters as the measured seconds begin and end */
};

static bool use_socket; /* the socket backend on loopback instead of net_ring */
static int sock[MAX_ROOM];
static unsigned n_sock;
static struct dp_net_conf sfu;
static enum fh_srtp_profile profile = FH_SRTP_AEAD_AES_128_GCM;
static unsigned room_size = 5, seconds = 5;

/* Who frees the frames the worker sent: see the top of the file. */
enum free_mode { FREE_WORKER, FREE_READ, FREE_SINK };
static enum free_mode free_mode = FREE_WORKER;
static bool rx_from_memory;	/* -m memory */
static bool csum_offload;	/* -o */
static bool adaptive;		/* -a: extensions, feedback, simulcast and VP8 as browsers send */
static bool rx_feedback;	/* -F: the receivers send transport-wide feedback */
static unsigned pace_kbps;	/* -r: each publisher's rate; 0: as fast as the generator can */
static unsigned n_pub = 1;	/* -P: participants 0..n_pub-1 publish, everyone gets all others */
static bool pace_uniform;	/* -u: with -r, packets evenly spaced instead of frames in bursts */
static unsigned frame_pkts = 8; /* packets to a frame (with -r and no -u, from the rate) */

/* Chrome's header extension ids, as funkhaus-bench --simulcast offers them (-a) */
static const uint8_t chrome_ext[FH_EXT_MAX] = {
	[FH_EXT_AUDIO_LEVEL] = 1, [FH_EXT_ABS_SEND_TIME] = 2, [FH_EXT_TWCC] = 3,
	[FH_EXT_MID] = 4,	  [FH_EXT_RID] = 10,	      [FH_EXT_RRID] = 11,
};
#define PUB_SSRC 0x1111u  /* the video's SSRC, with -a its lowest layer's */
#define CLIENT_PORT0 5000 /* participant i sends from UDP port CLIENT_PORT0 + i */
#define PUB_STEP 16u	  /* publisher j's SSRCs are PUB_SSRC + j * PUB_STEP (+ layer) */

/* Whether participant i gets any video: every one does but a lone publisher. */
static bool receives(unsigned i)
{
	return i < room_size && (n_pub > 1 || i > 0);
}

/* Writes a frame and its buffer's header back to memory and out of every cache (-m memory). */
static void flush_frame(const struct rte_mbuf *m)
{
#if defined(__x86_64__)
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t end = (uint32_t)m->data_len + RTE_CACHE_LINE_SIZE; /* a frame may straddle one */

	for (uint32_t off = 0; off < end; off += RTE_CACHE_LINE_SIZE)
		_mm_clflush(d + off);
	_mm_clflush(m);
	_mm_clflush((const uint8_t *)m + RTE_CACHE_LINE_SIZE);
	_mm_mfence();
#else
	(void)m;
#endif
}

/* The TX clean-up of a PMD, on the worker's lcore: frees what the "NIC" has finished with. */
static uint16_t tx_done(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n,
			void *arg)
{
	struct pair *pr = arg;
	struct rte_mbuf *m[64];
	unsigned k;

	(void)port, (void)queue;
	/* as a NIC would, see what each UDP frame asks of the checksum engine (ARP and the
	 * answers made in place carry their checksums) */
	for (uint16_t i = 0; i < n && !pr->measuring; i++) {
		const uint8_t *f = rte_pktmbuf_mtod(pkts[i], const uint8_t *);

		if (pkts[i]->data_len < 42 || fh_rd16(f + 12) != 0x0800 || f[23] != 17)
			continue;
		pr->csum_asked += (pkts[i]->ol_flags & RTE_MBUF_F_TX_UDP_CKSUM) != 0;
		pr->csum_checked++;
	}
	for (int round = 0;
	     round < 4 && (k = rte_ring_sc_dequeue_burst(pr->done, (void **)m, 64, NULL)) > 0;
	     round++)
		rte_pktmbuf_free_bulk(m, k);
	return n;
}

/* Reads every cache line of a frame, as a NIC's DMA would (-f read). */
static void dma_read(const struct rte_mbuf *m)
{
	const volatile uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t end = (uint32_t)m->data_len + RTE_CACHE_LINE_SIZE;

	for (uint32_t off = 0; off < end; off += RTE_CACHE_LINE_SIZE)
		(void)d[off];
}

/* -F: a frame the worker sent; when it is RTP with a transport-wide number to a receiver, that
 * receiver records its arrival (now). */
static void note_arrival(struct pair *pr, const struct rte_mbuf *m)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	size_t len = rte_pktmbuf_data_len(m);
	struct fh_rtp_hdr h;
	struct fh_rtpext_view v;
	uint16_t tw;

	if (len < 42 + 12 || fh_rd16(f + 12) != 0x0800 || (f[14] & 0x0f) != 5 || f[23] != 17)
		return;
	unsigned i = (unsigned)(fh_rd16(f + 36) - CLIENT_PORT0);

	if (!receives(i) || fh_demux(f + 42, len - 42) != FH_DEMUX_RTP ||
	    fh_rtp_parse(f + 42, len - 42, &h) < 0 ||
	    fh_rtpext_parse(f + 42, len - 42, &h, chrome_ext, &v) < 0 ||
	    fh_rtpext_twcc_seq(f + 42, &v, &tw) < 0)
		return;
	fh_twcc_rx_record(&pr->twrx[i], tw, rte_rdtsc() / (rte_get_tsc_hz() / 1000000));
	pr->fb_seen++;
}

/* -a: SRTCP the worker sent publisher j: a PLI or FIR in it asks j for a key frame. Read
 * from a copy (the worker still frees the frame). */
static void note_rtcp(struct pair *pr, const struct rte_mbuf *m)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	size_t len = rte_pktmbuf_data_len(m);

	if (len < 42 + 8 || fh_rd16(f + 12) != 0x0800 || (f[14] & 0x0f) != 5 || f[23] != 17)
		return;
	unsigned j = (unsigned)(fh_rd16(f + 36) - CLIENT_PORT0);

	if (j >= n_pub || !pr->rtcp_in[j] || fh_demux(f + 42, len - 42) != FH_DEMUX_RTCP)
		return;
	struct rte_mbuf *c = rte_pktmbuf_alloc(pr->gen_pool);

	if (!c)
		return;
	if (len - 42 > rte_pktmbuf_tailroom(c)) {
		rte_pktmbuf_free(c);
		return;
	}
	memcpy(rte_pktmbuf_mtod(c, uint8_t *), f + 42, len - 42);
	c->data_len = (uint16_t)(len - 42);
	c->pkt_len = c->data_len;
	struct dp_srtp_op op = {.s = pr->rtcp_in[j], .m = c, .rtcp = 1, .tw = -1};

	dp_srtp_unprotect(pr->geng, &op, 1);
	if (op.status == DP_SRTP_OK) {
		const uint8_t *r = rte_pktmbuf_mtod(op.m, const uint8_t *);
		struct fh_rtcp_pkt pk;
		size_t off = 0;

		while (fh_rtcp_next(r, op.m->data_len, &off, &pk) == 1)
			if (pk.pt == 206 && (pk.count == 1 || pk.count == 4)) { /* PLI, FIR */
				pr->want_key[j] = true;
				pr->key_asked++;
			}
	}
	rte_pktmbuf_free(op.m);
}

static void drain(struct pair *pr)
{
	struct rte_mbuf *m[64];
	unsigned n;

	if (use_socket) {
		static uint8_t buf[2048];

		for (unsigned i = 0; i < n_sock; i++) {
			ssize_t r;

			if (!receives(i))
				continue;
			for (int k = 0;
			     k < 64 && (r = recv(sock[i], buf, sizeof(buf), MSG_DONTWAIT)) > 0; k++)
				pr->sunk++;
		}
		return;
	}
	while ((n = rte_ring_sc_dequeue_burst(pr->tx_ring, (void **)m, 64, NULL)) > 0) {
		unsigned done = 0;

		pr->sunk += n;
		if (rx_feedback)
			for (unsigned i = 0; i < n; i++)
				note_arrival(pr, m[i]);
		if (adaptive)
			for (unsigned i = 0; i < n; i++)
				note_rtcp(pr, m[i]);
		if (free_mode == FREE_READ)
			for (unsigned i = 0; i < n; i++)
				dma_read(m[i]);
		if (free_mode != FREE_SINK)
			done = rte_ring_sp_enqueue_burst(pr->done, (void **)m, n, NULL);
		if (done < n) /* the completion ring is full (never with the pools' sizes) */
			rte_pktmbuf_free_bulk(m + done, n - done);
	}
}

/* Puts one frame into the queue's RX ring, waiting while the worker catches up. */
static void inject(struct pair *pr, struct rte_mbuf *m)
{
	while (rte_ring_sp_enqueue(pr->rx_ring, m) != 0)
		drain(pr);
}

static void sfu_dst(const struct pair *pr, struct fh_addr *dst)
{
	*dst = (struct fh_addr){.family = FH_AF_INET, .port = pr->sfu_port};
	memcpy(dst->ip, sfu.ip4, 4);
}

static struct rte_mbuf *udp_frame(struct pair *pr, const struct client *c, const uint8_t *payload,
				  size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pr->gen_pool);
	struct fh_addr dst;

	if (!m)
		return NULL;
	sfu_dst(pr, &dst);
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
static void send_udp(struct pair *pr, const struct client *c, unsigned idx, const uint8_t *payload,
		     size_t len)
{
	if (use_socket) {
		while (send(sock[idx], payload, len, 0) < 0)
			drain(pr);
		return;
	}
	struct rte_mbuf *m;

	while (!(m = udp_frame(pr, c, payload, len)))
		drain(pr);
	inject(pr, m);
}

/* Sends the datagram in m (its data is the UDP payload, with room for the headers before it). */
static void send_frame(struct pair *pr, const struct client *c, unsigned idx, struct rte_mbuf *m)
{
	if (use_socket) {
		send_udp(pr, c, idx, rte_pktmbuf_mtod(m, uint8_t *), m->data_len);
		rte_pktmbuf_free(m);
		return;
	}
	struct fh_addr dst;
	struct dp_net_conf from = c->net;
	size_t len = m->data_len;

	sfu_dst(pr, &dst);
	m->data_off = (uint16_t)(m->data_off - 42);
	from.port_lo = c->port;
	dp_net_udp_headers(&from, rte_pktmbuf_mtod(m, uint8_t *) + 42, len, sfu.mac, c->port, &dst,
			   false);
	m->data_len = (uint16_t)(42 + len);
	m->pkt_len = m->data_len;
	if (rx_from_memory)
		flush_frame(m);
	inject(pr, m);
}

static void arp_and_check(struct pair *pr, const struct client *c, unsigned idx)
{
	if (!use_socket) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pr->gen_pool);
		struct fh_addr hop = {.family = FH_AF_INET};

		memcpy(hop.ip, sfu.ip4, 4);
		m->data_len = (uint16_t)dp_net_solicit(&c->net, &hop,
						       rte_pktmbuf_mtod(m, uint8_t *), 128);
		m->pkt_len = m->data_len;
		inject(pr, m);
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
	send_udp(pr, c, idx, buf, fh_stun_build_end(&b));
}

static void cmd(struct fh_region *reg, unsigned w, struct fh_cmd *c)
{
	while (rte_ring_sp_enqueue_elem(fh_region_cmd(reg, w), c, sizeof(*c)) != 0)
		rte_pause();
}

/* The room of a pair: client 0 publishes video, the others receive it. 0, or -1. */
static int room_setup(struct fh_region *reg, struct pair *pr)
{
	size_t klen = fh_srtp_key_len(profile);
	unsigned n = room_size, w = pr->id;

	for (unsigned i = 0; i < n; i++) {
		struct client *c = &pr->cl[i];
		struct fh_cmd pc = {.type = FH_CMD_PART_ADD, .slot = (uint16_t)i, .room = 1 + w};

		c->net = sfu;
		c->net.mac[4] = (uint8_t)(1 + w);
		c->net.mac[5] = (uint8_t)(100 + i);
		c->net.ip4[2] = (uint8_t)(1 + w);
		c->net.ip4[3] = (uint8_t)(100 + i);
		c->port = (uint16_t)(CLIENT_PORT0 + i);
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
				return -1;
			}
			n_sock = i + 1;
		}
		snprintf(pc.u.part.local_ufrag, sizeof(pc.u.part.local_ufrag), "%s", c->ufrag);
		snprintf(pc.u.part.local_pwd, sizeof(pc.u.part.local_pwd), "%s", c->pwd);
		snprintf(pc.u.part.remote_ufrag, sizeof(pc.u.part.remote_ufrag), "cl%04u", c->port);
		cmd(reg, w, &pc);
		struct fh_cmd kc = {.type = FH_CMD_KEYS, .slot = (uint16_t)i, .room = 1 + w};

		for (size_t k = 0; k < klen; k++)
			pr->keys[i][k] = (unsigned char)(rand() & 0xff);
		kc.u.keys.profile = (uint8_t)profile;
		kc.u.keys.key_len = (uint8_t)klen;
		memcpy(kc.u.keys.rx_key, pr->keys[i], klen);
		memcpy(kc.u.keys.tx_key, pr->keys[i], klen);
		cmd(reg, w, &kc);
		if (adaptive) {
			/* the publisher takes transport-wide feedback; the receivers get
			 * transport-wide numbers, and send feedback with -F (see the top of
			 * the file) */
			struct fh_cmd mc = {
				.type = FH_CMD_MEDIA, .slot = (uint16_t)i, .room = 1 + w};

			memcpy(mc.u.media.ext, chrome_ext, sizeof(chrome_ext));
			mc.u.media.twcc = i < n_pub || rx_feedback;
			cmd(reg, w, &mc);
		}
	}
	for (unsigned j = 0; j < n_pub; j++) {
		struct fh_cmd sc = {.type = FH_CMD_STREAM_ADD, .slot = (uint16_t)j, .room = 1 + w};

		sc.u.stream = (struct fh_cmd_stream){.key = 0x1111 + j,
						     .ssrc = PUB_SSRC + j * PUB_STEP,
						     .kind = FH_KIND_VIDEO,
						     .pt = 96,
						     .clock_rate = 90000};
		if (adaptive) {
			/* simulcast, lowest first, with the SSRCs named: nothing to learn */
			sc.u.stream.ssrc = 0;
			sc.u.stream.n_layers = 3;
			snprintf(sc.u.stream.mid, sizeof(sc.u.stream.mid), "1");
			for (int l = 0; l < 3; l++) {
				snprintf(sc.u.stream.rid[l], sizeof(sc.u.stream.rid[l]), "%c",
					 "lmh"[l]);
				sc.u.stream.layer_ssrc[l] = PUB_SSRC + j * PUB_STEP + (uint32_t)l;
			}
		}
		cmd(reg, w, &sc);
	}
	unsigned n_subs = 0;

	for (unsigned i = 0; i < n; i++) {
		for (unsigned j = 0; j < n_pub; j++) {
			if (j == i)
				continue;
			struct fh_cmd su = {
				.type = FH_CMD_SUB_ADD, .slot = (uint16_t)i, .room = 1 + w};

			su.u.sub = (struct fh_cmd_sub){.pub_slot = (uint16_t)j,
						       .pub_key = 0x1111 + j,
						       .out_ssrc = (0x2000 + i) | j << 16,
						       .out_pt = 96,
						       .kind = FH_KIND_VIDEO};
			cmd(reg, w, &su);
			n_subs++;
		}
	}
	/* the worker applies commands between bursts: let it catch up before the first frame */
	unsigned want = 2 * n + n_pub + n_subs + (adaptive ? n : 0);

	for (int t = 0; t < 2000 && pr->ctr->ctr[FH_CTR_commands] < want; t++)
		rte_delay_us_sleep(1000);
	for (unsigned i = 0; i < n; i++)
		arp_and_check(pr, &pr->cl[i], i);
	for (int t = 0; t < 200; t++) {
		drain(pr);
		rte_delay_us_sleep(1000);
	}
	if (pr->ctr->bound != n) {
		fprintf(stderr, "fh-ringbench: worker %u: only %u of %u participants passed ICE\n",
			w, pr->ctr->bound, n);
		return -1;
	}
	for (unsigned j = 0; j < n_pub; j++) {
		pr->gen[j] = dp_srtp_sess_new(pr->geng, profile, pr->keys[j], pr->keys[j], klen);
		pr->rtcp_in[j] = adaptive ? dp_srtp_sess_new(pr->geng, profile, pr->keys[j],
							     pr->keys[j], klen)
					  : pr->gen[j];
		if (!pr->gen[j] || !pr->rtcp_in[j]) {
			fprintf(stderr, "fh-ringbench: no generator session\n");
			return -1;
		}
	}
	for (unsigned i = 0; rx_feedback && i < n; i++) {
		if (!receives(i))
			continue;
		fh_twcc_rx_init(&pr->twrx[i]);
		pr->fb_sess[i] =
			dp_srtp_sess_new(pr->geng, profile, pr->keys[i], pr->keys[i], klen);
		if (!pr->fb_sess[i]) {
			fprintf(stderr, "fh-ringbench: no feedback session\n");
			return -1;
		}
	}
	return 0;
}

static volatile bool go;

/* -F: every receiver's transport-wide feedback that is due, in SRTCP under its key. */
static void send_feedback(struct pair *pr, uint64_t now_us)
{
	for (unsigned i = 0; i < room_size; i++) {
		struct fh_twcc_rx *r = &pr->twrx[i];

		if (!receives(i))
			continue;
		if (!fh_twcc_rx_due(r, now_us))
			continue;
		for (int k = 0; k < 8; k++) {
			struct rte_mbuf *m;

			while (!(m = rte_pktmbuf_alloc(pr->gen_pool)))
				drain(pr);
			m->data_off = (uint16_t)(m->data_off + 42);
			size_t len = fh_twcc_rx_build(r, rte_pktmbuf_mtod(m, uint8_t *), 1200,
						      0x3000 + i, 0x2000 + i);

			if (len == 0) {
				rte_pktmbuf_free(m);
				break;
			}
			m->data_len = (uint16_t)len;
			m->pkt_len = m->data_len;
			struct dp_srtp_op op = {.s = pr->fb_sess[i], .m = m, .rtcp = 1, .tw = -1};

			dp_srtp_protect(pr->geng, &op, 1);
			if (op.status != DP_SRTP_OK) {
				rte_pktmbuf_free(m);
				continue;
			}
			send_frame(pr, &pr->cl[i], i, m);
			pr->fb_sent++;
		}
	}
}

/* What the generator does while it waits: takes what the worker sent, answers it (-F). */
static void tend(struct pair *pr, uint64_t hz)
{
	drain(pr);
	if (rx_feedback)
		send_feedback(pr, rte_rdtsc() / (hz / 1000000));
}

/* Under callgrind (bench/adaptive-cost.sh), generator 0 dumps the profile as the measured
 * seconds begin and as they end, so that they are a part of their own: the start-up (ICE,
 * keys, the estimates climbing, the first key frames) and the tail are the other parts. Outside
 * valgrind this is a few instructions, twice a run. */
static void profile_mark(const struct pair *pr, const char *what)
{
#ifdef FH_HAVE_CALLGRIND
	if (pr->id == 0)
		CALLGRIND_DUMP_STATS_AT(what);
#else
	(void)pr, (void)what;
#endif
}

/* The worker's counters (written by the worker's lcore; 8-byte loads see whole values).
 * Forwarded are the copies made less those the TX ring refused (tx_fail: counted when a copy
 * is made, dropped when the port does not take it). */
static void take_snap(struct pair *pr, struct snap *s)
{
	s->fwd = pr->ctr->ctr[FH_CTR_rtp_forwarded] - pr->ctr->drop[FH_DROP_tx_fail];
	s->in = pr->ctr->ctr[FH_CTR_rtp_in];
	s->busy = pr->ctr->busy_cycles;
	s->total = pr->ctr->total_cycles;
	memcpy(s->stage, pr->ctr->stage_cycles, sizeof(s->stage));
	s->tsc = rte_rdtsc();
}

/* What a browser's simulcast sender writes into its n-th video packet, whose fixed header is
 * in pkt (-a): the transport-wide sequence number and the send time in a one-byte extension
 * block, and a VP8 payload descriptor (frames of frame_pkts packets, 15-bit picture id,
 * TL0PICIDX, the L1T3 temporal ids 0,2,1,2, the first frame and those asked for key frames) at
 * the start of the 1200-byte payload. Returns the header's length. */
static size_t browser_packet(uint8_t *pkt, uint32_t n, bool key, uint64_t hz)
{
	static const uint8_t tid_of[4] = {0, 2, 1, 2}, sync_of[4] = {0, 1, 1, 0};
	uint32_t frame = n / frame_pkts, in_frame = n % frame_pkts;
	unsigned tid = tid_of[frame & 3];
	uint64_t us = rte_rdtsc() / (hz / 1000000);
	uint8_t *x = pkt + 12, *vp8 = pkt + 24;

	pkt[0] |= 0x10; /* X */
	if (in_frame == frame_pkts - 1)
		pkt[1] |= 0x80; /* the marker on a frame's last packet */
	fh_wr16(x, 0xbede);
	fh_wr16(x + 2, 2); /* two words: 3 + 4 bytes of elements and one of padding */
	x[4] = (uint8_t)(chrome_ext[FH_EXT_TWCC] << 4 | 1);
	fh_wr16(x + 5, (uint16_t)n); /* one sender: transport-wide numbers as its RTP ones */
	x[7] = (uint8_t)(chrome_ext[FH_EXT_ABS_SEND_TIME] << 4 | 2);
	uint32_t ast = fh_rtpext_abs_time(us);

	x[8] = (uint8_t)(ast >> 16), x[9] = (uint8_t)(ast >> 8), x[10] = (uint8_t)ast;
	x[11] = 0;
	vp8[0] = (uint8_t)(0x80 | (in_frame == 0 ? 0x10 : 0)); /* X, S on a frame's first */
	vp8[1] = 0xe0;					       /* I, L, T */
	vp8[2] = (uint8_t)(0x80 | (frame >> 8 & 0x7f));	       /* 15-bit picture id */
	vp8[3] = (uint8_t)frame;
	vp8[4] = (uint8_t)(frame >> 2); /* TL0PICIDX: the last frame of TID 0 */
	vp8[5] = (uint8_t)(tid << 6 | sync_of[frame & 3] << 5);
	vp8[6] = key ? 0x00 : 0x01; /* the VP8 payload header's P bit: 0 on a key frame */
	return 24;
}

/* The load: SRTP video from the publishers (client 0, or clients 0..n_pub-1 in turn), as fast
 * as the generator can make it or at -r each, for `seconds`. */
static int generate(void *arg)
{
	struct pair *pr = arg;
	uint64_t hz = rte_get_tsc_hz();
	uint8_t pkt[1400];
	uint16_t seq[MAX_ROOM] = {0};
	uint32_t ts[MAX_ROOM] = {0}, sent_n[MAX_ROOM] = {0};
	bool key[MAX_ROOM] = {false};
	unsigned pub_of[32], cur = 0;

	while (!go)
		rte_pause();
	/* with -a the receivers start on the lowest temporal layer and get all three once the
	 * worker has measured the layers' rates (a 500 ms window, allocations every 250 ms):
	 * that first second and a half is not measured */
	uint64_t start = rte_rdtsc(), warm = adaptive ? hz * 3 / 2 : 0, end = UINT64_MAX;
	/* -r: one packet every gap cycles on average (its SRTP size: header, 1200 bytes, a
	 * 16-byte tag), each publisher's turn coming every n_pub packets (-u) or frames */
	uint64_t gap = pace_kbps ? hz * 8 * ((adaptive ? 24 : 12) + 1216) /
					   (pace_kbps * 1000ull * n_pub)
				 : 0,
		 next = start;
	/* a burst: one frame of one publisher (-r), one packet (-r -u), or 32 packets of the
	 * publishers in turn */
	bool by_frame = gap && !pace_uniform;
	unsigned burst = by_frame ? frame_pkts : gap ? 1 : 32;

	/* with -F the estimates, the pacers and the share-out settle first (with several
	 * publishers each receiver's estimate climbs from its start to their sum, and a stream
	 * that did not fit at first waits for the key frame it asked for) */
	if (rx_feedback)
		warm = hz * (n_pub > 1 ? 8 : 3);

	memset(pkt, 0x5a, sizeof(pkt));
	for (uint64_t now; (now = rte_rdtsc()) < end;) {
		if (!pr->measuring && now - start >= warm) {
			profile_mark(pr, "before the measured seconds");
			take_snap(pr, &pr->at[0]);
			pr->measuring = true;
			end = pr->at[0].tsc + hz * seconds;
		}
		struct dp_srtp_op ops[32];
		unsigned k = 0;

		if (gap) {
			while ((now = rte_rdtsc()) < next) {
				tend(pr, hz);
				if (next - now > hz / 10000)
					rte_delay_us_sleep(50);
			}
			next += gap * burst;
		}
		for (; k < burst; k++) {
			size_t hl = 12;
			unsigned j = cur;

			if (!by_frame || k + 1 == burst)
				cur = cur + 1 < n_pub ? cur + 1 : 0;
			pkt[0] = 0x80;
			pkt[1] = 96;
			fh_wr16(pkt + 2, seq[j]);
			fh_wr32(pkt + 4, ts[j]);
			fh_wr32(pkt + 8, PUB_SSRC + j * PUB_STEP);
			if (adaptive && sent_n[j] % frame_pkts == 0) {
				/* a frame begins: a key frame when asked, on the next frame of
				 * TID 0 (where an encoder starts its temporal pattern again) */
				uint32_t frame = sent_n[j] / frame_pkts;

				key[j] = frame == 0 || (pr->want_key[j] && (frame & 3) == 0);
				if (key[j] && frame) {
					pr->want_key[j] = false;
					pr->key_made++;
				}
			}
			if (adaptive)
				hl = browser_packet(pkt, sent_n[j], key[j], hz);
			sent_n[j]++;
			seq[j]++;
			if (sent_n[j] % frame_pkts == 0)
				ts[j] += 3000;
			struct rte_mbuf *m;

			while (!(m = rte_pktmbuf_alloc(pr->gen_pool)))
				drain(pr);
			/* the payload sits where udp_frame / send() will want it */
			m->data_off = (uint16_t)(m->data_off + 42);
			memcpy(rte_pktmbuf_mtod(m, void *), pkt, hl + 1200);
			m->data_len = (uint16_t)(hl + 1200);
			m->pkt_len = m->data_len;
			ops[k] = (struct dp_srtp_op){.s = pr->gen[j], .m = m};
			pub_of[k] = j;
		}
		dp_srtp_protect(pr->geng, ops, k);
		for (unsigned i = 0; i < k; i++) {
			struct rte_mbuf *m = ops[i].m;

			if (ops[i].status == DP_SRTP_OK) {
				send_frame(pr, &pr->cl[pub_of[i]], pub_of[i], m);
				pr->sent++;
			} else {
				rte_pktmbuf_free(m);
			}
		}
		tend(pr, hz);
	}
	/* what the worker does with the frames still queued is not in the seconds measured */
	take_snap(pr, &pr->at[1]);
	profile_mark(pr, "the measured seconds");
	pr->measuring = false;
	for (int t = 0; t < 100; t++) {
		drain(pr);
		rte_delay_us_sleep(1000);
	}
	return 0;
}

/* The round trip of one cache line between the main lcore (generator 0) and lcore lc (worker
 * 0), in ns, or -1 when it did not come back within half a second: what a line written on one
 * costs the other to take, which on a shared host changes when the host moves its vCPUs
 * (between about 60 and 400 ns here), and with it the cost of every received frame. At most
 * C2C_TRIPS trips, and at most half a second. */
#define C2C_TRIPS 20000u
static uint32_t c2c_line[RTE_CACHE_LINE_SIZE / 4] __rte_cache_aligned; /* [0]; a line alone */
static volatile bool c2c_quit;

static int c2c_pong(void *arg)
{
	(void)arg;
	for (uint32_t i = 0; i < C2C_TRIPS; i++) {
		while (__atomic_load_n(&c2c_line[0], __ATOMIC_ACQUIRE) != 2 * i + 1)
			if (c2c_quit)
				return 0;
		__atomic_store_n(&c2c_line[0], 2 * i + 2, __ATOMIC_RELEASE);
	}
	return 0;
}

static double c2c_ns(unsigned lc)
{
	uint64_t hz = rte_get_tsc_hz(), t0, t1;
	bool late = false;

	__atomic_store_n(&c2c_line[0], 0, __ATOMIC_RELEASE);
	c2c_quit = false;
	if (rte_eal_remote_launch(c2c_pong, NULL, lc) != 0)
		return -1;
	t0 = rte_rdtsc();
	for (uint32_t i = 0; i < C2C_TRIPS && !late; i++) {
		__atomic_store_n(&c2c_line[0], 2 * i + 1, __ATOMIC_RELEASE);
		while (!late && __atomic_load_n(&c2c_line[0], __ATOMIC_ACQUIRE) != 2 * i + 2)
			late = rte_rdtsc() - t0 > hz / 2;
	}
	t1 = rte_rdtsc();
	c2c_quit = true;
	rte_eal_wait_lcore(lc);
	return late ? -1 : (double)(t1 - t0) * 1e9 / (double)hz / C2C_TRIPS;
}

static void usage(void)
{
	fprintf(stderr, "usage: fh-ringbench [-n ROOM_SIZE] [-s SECONDS] [-p gcm|cm] "
			"[-b ring|socket] [-e libsrtp|cryptodev] [-c CRYPTO_PMDS] [-w WORKERS] "
			"[-C float|CPU,...] [-f worker|read|sink] [-m cache|memory] [-o] "
			"[-H auto|yes|no] [-a] [-F] [-r KBPS [-u]] [-P PUBLISHERS]\n");
}

int main(int argc, char **argv)
{
	static struct pair pairs[MAX_PAIRS];
	unsigned nw = 1;
	int o;
	char prefix[64], lcores[1024], lc_arg[1100], report[256], err[256];
	const char *cpus = "float";
	enum dp_srtp_kind engine = DP_SRTP_LIBSRTP;
	const char *pmds = NULL, *huge = "auto";

	/* options first: the EAL's lcores depend on the number of workers */
	while ((o = getopt(argc, argv, "n:s:p:b:e:c:w:C:f:m:oH:aFr:uP:")) != -1) {
		if (o == 'e' && dp_srtp_kind_parse(optarg, &engine) == 0 && engine != DP_SRTP_AUTO)
			continue;
		if (o == 'c')
			pmds = optarg;
		else if (o == 'b')
			use_socket = !strcmp(optarg, "socket");
		else if (o == 'n')
			room_size = (unsigned)atoi(optarg);
		else if (o == 's')
			seconds = (unsigned)atoi(optarg);
		else if (o == 'w')
			nw = (unsigned)atoi(optarg);
		else if (o == 'C')
			cpus = optarg;
		else if (o == 'f' && !strcmp(optarg, "worker"))
			free_mode = FREE_WORKER;
		else if (o == 'f' && !strcmp(optarg, "read"))
			free_mode = FREE_READ;
		else if (o == 'f' && !strcmp(optarg, "sink"))
			free_mode = FREE_SINK;
		else if (o == 'o')
			csum_offload = true;
		else if (o == 'a')
			adaptive = true;
		else if (o == 'F')
			rx_feedback = true;
		else if (o == 'r')
			pace_kbps = (unsigned)atoi(optarg);
		else if (o == 'P')
			n_pub = (unsigned)atoi(optarg);
		else if (o == 'u')
			pace_uniform = true;
		else if (o == 'H' && (!strcmp(optarg, "auto") || !strcmp(optarg, "yes") ||
				      !strcmp(optarg, "no")))
			huge = optarg;
		else if (o == 'm' && (!strcmp(optarg, "cache") || !strcmp(optarg, "memory")))
			rx_from_memory = !strcmp(optarg, "memory");
		else if (o == 'p' && !strcmp(optarg, "cm"))
			profile = FH_SRTP_AES128_CM_SHA1_80;
		else if (o != 'p' || strcmp(optarg, "gcm")) {
			usage();
			return 2;
		}
	}
#if !defined(__x86_64__)
	if (rx_from_memory) {
		fprintf(stderr, "fh-ringbench: -m memory needs x86-64 (clflush)\n");
		return 2;
	}
#endif
	if (rx_feedback && (!adaptive || use_socket || !pace_kbps)) {
		fprintf(stderr, "fh-ringbench: -F needs -a, -r and the ring backend\n");
		return 2;
	}
	if (n_pub < 1 || n_pub > room_size) {
		fprintf(stderr, "fh-ringbench: -P is 1 to the room size publishers\n");
		return 2;
	}
	if (pace_kbps > 10000000) {
		fprintf(stderr, "fh-ringbench: -r is in kbit/s, at most 10000000\n");
		return 2;
	}
	if (pace_uniform && !pace_kbps) {
		fprintf(stderr, "fh-ringbench: -u needs -r\n");
		return 2;
	}
	if (pace_kbps && !pace_uniform) {
		/* 30 frames a second of packets of the size the pacing counts */
		unsigned size = (adaptive ? 24 : 12) + 1216,
			 per_frame = (unsigned)((pace_kbps * 1000ull / 8 / 30 + size / 2) / size);

		frame_pkts = per_frame < 1 ? 1 : per_frame > 8 ? 8 : per_frame;
	}
	if (room_size < 2 || room_size > MAX_ROOM || seconds < 1 || seconds > 120 || nw < 1 ||
	    nw > MAX_PAIRS / 2 || (use_socket && (nw != 1 || csum_offload))) {
		fprintf(stderr,
			"fh-ringbench: room size 2-%d, 1-120 seconds, 1-%d workers (one "
			"and no -o with -b socket)\n",
			MAX_ROOM, MAX_PAIRS / 2);
		return 2;
	}
	/* lcore 0: main and generator 0; 1..nw: workers; nw+1..2nw-1: the other generators */
	snprintf(prefix, sizeof(prefix), "--file-prefix=fh-ringbench-%d", (int)getpid());
	if (dp_place(cpus, NULL, 2 * nw - 1, lcores, sizeof(lcores), report, sizeof(report), err,
		     sizeof(err)) < 0) {
		fprintf(stderr, "fh-ringbench: %s\n", err);
		return 1;
	}
	snprintf(lc_arg, sizeof(lc_arg), "--lcores=%s", lcores);
	char mem[16];

	unsigned mem_mb = 512 + 512 * nw;

	snprintf(mem, sizeof(mem), "%u", mem_mb);
	bool hugepages =
		!strcmp(huge, "yes") || (!strcmp(huge, "auto") && dp_hugepages_free_mb() >= mem_mb);
	/* with hugepages the EAL maps only what -m asks for, and unlinks its files at once */
	char *eal[] = {argv[0],	   hugepages ? "--huge-unlink" : "--no-huge",
		       "--no-pci", "-m",
		       mem,	   "--no-telemetry",
		       lc_arg,	   "--log-level=warning",
		       prefix,	   NULL};

	if (rte_eal_init(9, eal) < 0) {
		fprintf(stderr, "EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	srtp_init();
	struct rte_ring *rx[MAX_PAIRS], *tx[MAX_PAIRS], *handoff[MAX_PAIRS];
	struct rte_mempool *wpool[MAX_PAIRS];
	uint16_t ports[MAX_PAIRS];

	for (unsigned w = 0; w < nw; w++) {
		struct pair *pr = &pairs[w];
		char name[32];

		pr->id = w;
		pr->sfu_port = (uint16_t)(SFU_PORT + w);
		ports[w] = pr->sfu_port;
		snprintf(name, sizeof(name), "bench_rx%u", w);
		rx[w] = pr->rx_ring = rte_ring_create(name, 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "bench_tx%u", w);
		tx[w] = pr->tx_ring = rte_ring_create(name, 8192, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "bench_gen%u", w);
		pr->gen_pool = rte_pktmbuf_pool_create(name, 16383, 256,
						       RTE_ALIGN(sizeof(struct dp_pkt_meta), 8),
						       RTE_MBUF_DEFAULT_BUF_SIZE, 0);
		snprintf(name, sizeof(name), "bench_worker%u", w);
		wpool[w] = rte_pktmbuf_pool_create(name, 32767, 256,
						   RTE_ALIGN(sizeof(struct dp_pkt_meta), 8),
						   RTE_MBUF_DEFAULT_BUF_SIZE, 0);
		snprintf(name, sizeof(name), "bench_handoff%u", w);
		handoff[w] = rte_ring_create(name, 1024, 0, RING_F_SC_DEQ);
		/* room for every buffer of both pools: completions are never dropped */
		snprintf(name, sizeof(name), "bench_done%u", w);
		pr->done = rte_ring_create(name, 65536, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (!pr->rx_ring || !pr->tx_ring || !pr->gen_pool || !wpool[w] || !handoff[w] ||
		    !pr->done) {
			fprintf(stderr, "fh-ringbench: no memory for rings or pools\n");
			return 1;
		}
	}
	int port = rte_eth_from_rings("bench", rx, nw, tx, nw, 0);

	if (port < 0) {
		fprintf(stderr, "fh-ringbench: no net_ring port\n");
		return 1;
	}
	if (dp_io_dpdk_port_init((uint16_t)port, nw, wpool, sfu.mac, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "fh-ringbench: %s\n", err);
		return 1;
	}
	for (unsigned w = 0; w < nw && free_mode != FREE_SINK; w++)
		if (!rte_eth_add_tx_callback((uint16_t)port, (uint16_t)w, tx_done, &pairs[w])) {
			fprintf(stderr, "fh-ringbench: no TX callback (%s)\n",
				rte_strerror(rte_errno));
			return 1;
		}
	/* net_ring has an all-zero MAC: give the SFU one of its own */
	uint8_t mac[6] = {0x02, 0xfe, 0, 0, 0, 2};

	memcpy(sfu.mac, mac, 6);
	sfu.has_ip4 = true;
	sfu.ip4[0] = 10, sfu.ip4[3] = 2;
	sfu.ip4_prefix = 16; /* each worker's room in a /24 of its own */
	sfu.port_lo = SFU_PORT;
	sfu.port_hi = (uint16_t)(SFU_PORT + nw - 1);

	struct fh_region reg;
	char rname[64];
	static volatile bool stop;

	snprintf(rname, sizeof(rname), "/fh-ringbench-%d", (int)getpid());
	if (fh_region_create(&reg, rname, nw, ports) < 0)
		return 1;
	for (unsigned w = 0; w < nw; w++) {
		struct pair *pr = &pairs[w];
		struct dp_srtp_engine *weng =
			dp_srtp_engine_new(engine, w, 0, 64, pmds, err, sizeof(err));

		/* the generator's own, so that making the load costs as little as possible */
		pr->geng = dp_srtp_engine_new(DP_SRTP_CRYPTODEV, nw + w, 0, 2 * MAX_ROOM, pmds, err,
					      sizeof(err));
		if (!weng || !pr->geng) {
			fprintf(stderr, "fh-ringbench: %s\n", err);
			return 1;
		}
		struct dp_worker_conf wc = {.id = w,
					    .io = use_socket ? &dp_io_socket_ops : &dp_io_dpdk_ops,
					    .consent_timeout_s = 300,
					    .remb_bitrate = 1500000,
					    .srtp = weng};

		snprintf(wc.io_conf.bind_addr, sizeof(wc.io_conf.bind_addr), "127.0.0.1");
		wc.io_conf.port = pr->sfu_port;
		wc.io_conf.n_eth = 1;
		wc.io_conf.eth_port[0] = (uint16_t)port;
		wc.io_conf.net[0] = &sfu;
		wc.io_conf.queue = (uint16_t)w;
		wc.io_conf.worker = w;
		wc.io_conf.n_workers = nw;
		wc.io_conf.base_port = SFU_PORT;
		wc.io_conf.handoff = handoff;
		wc.io_conf.tx_drain_us = DP_TX_DRAIN_US_DEFAULT;
		wc.io_conf.tx_csum_offload[0] = csum_offload;
		if (dp_worker_init(&pr->w, &wc, &reg, wpool[w], &stop) < 0)
			return 1;
		pr->ctr = fh_region_counters(&reg, w);
	}
	unsigned lc = rte_get_next_lcore(-1, 1, 0), worker0 = lc;
	double c2c[2];

	c2c[0] = c2c_ns(worker0);
	for (unsigned w = 0; w < nw; w++, lc = rte_get_next_lcore(lc, 1, 0))
		rte_eal_remote_launch(dp_worker_main, &pairs[w].w, lc);
	for (unsigned w = 0; w < nw; w++)
		if (room_setup(&reg, &pairs[w]) < 0)
			return 1;
	unsigned gen_lc[MAX_PAIRS];

	for (unsigned w = 1; w < nw; w++, lc = rte_get_next_lcore(lc, 1, 0)) {
		gen_lc[w] = lc;
		rte_eal_remote_launch(generate, &pairs[w], lc);
	}
	go = true;
	generate(&pairs[0]);
	for (unsigned w = 1; w < nw; w++)
		rte_eal_wait_lcore(gen_lc[w]);

	stop = true;
	rte_eal_mp_wait_lcore();
	c2c[1] = c2c_ns(worker0);

	uint64_t hz = rte_get_tsc_hz();
	double total_pps = 0;

	printf("cache-line round trip between generator 0 and worker 0:");
	for (int i = 0; i < 2; i++) {
		if (c2c[i] < 0)
			printf(" none in 0.5 s");
		else
			printf(" %.0f ns", c2c[i]);
		printf(i ? " after the run\n" : " before the run,");
	}
	/* The TSC counts wall time: a worker preempted in a busy iteration is charged for it. */
	printf("cycles: TSC cycles while the worker was busy, %s; they include any time other "
	       "threads ran on its CPU%s and, in a VM, time the host took the vCPU away\n",
	       strcmp(cpus, "float") == 0 ? "its lcore floating (no -C)" : "on the CPUs of -C",
	       strcmp(cpus, "float") == 0 ? "" : " (unless those CPUs are isolated)");

	for (unsigned w = 0; w < nw; w++) {
		struct pair *pr = &pairs[w];
		struct fh_counters *ctr = pr->ctr;
		const struct snap *a = &pr->at[0], *b = &pr->at[1];
		uint64_t fwd = b->fwd - a->fwd, busy = b->busy - a->busy,
			 total = b->total - a->total;
		double secs = (double)(b->tsc - a->tsc) / (double)hz;
		uint64_t drops = 0;

		for (int d = 0; d < FH_DROP_MAX; d++)
			drops += ctr->drop[d];
		if (nw > 1)
			printf("worker %u:\n", w);
		printf("%s, %s, room of %u: %llu SRTP packets in, %llu forwarded in %.1f s\n",
		       use_socket ? "socket backend (loopback)" : "dpdk backend (net_ring)",
		       profile == FH_SRTP_AEAD_AES_128_GCM ? "AEAD_AES_128_GCM"
							   : "AES_CM_128_HMAC_SHA1_80",
		       room_size, (unsigned long long)pr->sent, (unsigned long long)fwd, secs);
		printf("  SRTP engine of the worker: %s\n", ctr->srtp_engine);
		printf("  memory: %s\n", hugepages ? "hugepages" : "4 KiB pages (--no-huge)");
		if (!use_socket) {
			printf("  received frames read from: %s\n",
			       rx_from_memory ? "memory (-m memory)"
					      : "the generator's cache (-m cache)");
			printf("  sent frames freed by: %s\n",
			       free_mode == FREE_SINK ? "the generator (-f sink)"
			       : free_mode == FREE_READ
				       ? "the worker, after the generator read "
					 "them (-f read)"
				       : "the worker, as TX completions (-f worker)");
			printf("  IPv4 and UDP checksums of sent frames: %s\n",
			       csum_offload ? "left to the port (-o)" : "computed by the worker");
			if (free_mode != FREE_SINK)
				printf("  sent UDP frames asking the port for checksums: %llu of "
				       "%llu\n",
				       (unsigned long long)pr->csum_asked,
				       (unsigned long long)pr->csum_checked);
		}
		if (adaptive)
			printf("  adaptive path (-a), measured seconds: rtp_in %llu, rtp_forwarded "
			       "%llu (%.4f of every packet to each of %u receivers); whole run: "
			       "layer "
			       "switches %llu, transport-wide feedback sent %llu, from receivers "
			       "%llu\n",
			       (unsigned long long)(b->in - a->in), (unsigned long long)fwd,
			       b->in > a->in
				       ? (double)fwd / (double)((b->in - a->in) * (room_size - 1))
				       : 0,
			       room_size - 1, (unsigned long long)ctr->ctr[FH_CTR_layer_switches],
			       (unsigned long long)ctr->ctr[FH_CTR_twcc_fb_sent],
			       (unsigned long long)ctr->ctr[FH_CTR_twcc_fb_in]);
		if (rx_feedback)
			printf("  receivers' feedback (-F): %llu SRTCP packets sent about %llu "
			       "copies\n",
			       (unsigned long long)pr->fb_sent, (unsigned long long)pr->fb_seen);
		if (adaptive)
			printf("  key frames: %llu asked for by the worker (PLI/FIR), %llu made on "
			       "request\n",
			       (unsigned long long)pr->key_asked, (unsigned long long)pr->key_made);
		for (unsigned i = 0; adaptive && i < room_size; i++) {
			const struct fh_slot_stat *st = fh_region_slot_stat(&reg, w, i);

			if (!receives(i))
				continue;
			if (rx_feedback)
				printf("  receiver %u: estimate %u bit/s, target %u, sent %u\n", i,
				       st->estimate_bps, st->target_bps, st->sent_bps);
			if (n_pub > 1) {
				/* a stream per publisher: the spread, not a line each */
				unsigned lo = 3, hi = 0, tlo = 3, thi = 0, bps = 0;

				for (uint32_t k = 0; k < st->n_out && k < FH_MAX_RECV_STREAMS;
				     k++) {
					lo = st->out[k].spatial < lo ? st->out[k].spatial : lo;
					hi = st->out[k].spatial > hi ? st->out[k].spatial : hi;
					tlo = st->out[k].temporal < tlo ? st->out[k].temporal : tlo;
					thi = st->out[k].temporal > thi ? st->out[k].temporal : thi;
					bps += st->out[k].bitrate;
				}
				printf("  receiver %u: %u streams, layers %u-%u, temporal %u-%u, "
				       "%u bit/s in all\n",
				       i, st->n_out, lo, hi, tlo, thi, bps);
				continue;
			}
			for (uint32_t k = 0; k < st->n_out && k < FH_MAX_RECV_STREAMS; k++)
				printf("  receiver %u: layer %u, temporal %u, target %u of %u, "
				       "%u bit/s\n",
				       i, st->out[k].spatial, st->out[k].temporal,
				       st->out[k].target, st->out[k].n_layers, st->out[k].bitrate);
		}
		for (int d = 0; d < FH_DROP_MAX; d++)
			if (ctr->drop[d])
				printf("  dropped: %s %llu\n", fh_drop_names[d],
				       (unsigned long long)ctr->drop[d]);
		printf("  cycles per forwarded packet by stage:");
		for (int st = 0; st < FH_STAGE_MAX; st++)
			printf(" %s %.0f", fh_stage_names[st],
			       fwd ? (double)(b->stage[st] - a->stage[st]) / (double)fwd : 0);
		printf("\n");
		printf("  %.0f forwarded packets/s per worker, worker busy %.0f %%, %.0f cycles "
		       "per "
		       "forwarded packet (TSC %.0f MHz), drops %llu\n",
		       fwd / secs, total ? 100.0 * (double)busy / (double)total : 0,
		       fwd ? (double)busy / (double)fwd : 0, hz / 1e6, (unsigned long long)drops);
		total_pps += fwd / secs;
	}
	if (nw > 1)
		printf("%u workers: %.0f forwarded packets/s in all (%s)\n", nw, total_pps, report);
	for (unsigned w = 0; w < nw; w++) {
		for (unsigned j = 0; j < n_pub; j++) {
			if (pairs[w].rtcp_in[j] && pairs[w].rtcp_in[j] != pairs[w].gen[j])
				dp_srtp_sess_free(pairs[w].geng, pairs[w].rtcp_in[j]);
			if (pairs[w].gen[j])
				dp_srtp_sess_free(pairs[w].geng, pairs[w].gen[j]);
		}
		for (unsigned i = 0; i < room_size; i++)
			if (pairs[w].fb_sess[i])
				dp_srtp_sess_free(pairs[w].geng, pairs[w].fb_sess[i]);
		dp_srtp_engine_free(pairs[w].geng);
	}
	fh_region_close(&reg);
	return 0;
}
