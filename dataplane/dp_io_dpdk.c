/*
 * dp_io_dpdk: the DPDK ethdev backend. Each worker owns one RX and one TX queue on every media
 * port (one or more NICs, each with its own addresses) and does its own L2/L3 with dp_net: it
 * answers ARP, neighbour solicitations and echo requests for the media addresses, resolves
 * next hops into a neighbour table per port, sends each datagram out of the port its peer's
 * checks came in on (meta->via), and hands a
 * datagram that arrived on its queue for another worker's UDP port to that worker's hand-off
 * ring (counted, so the cost of missing hardware steering is visible). Runs on the worker's
 * lcore; the port set-up runs once on the main lcore.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_ring.h>

#include "dp_io.h"
#include "dp_net.h"
#include "fh_region.h"

#define NEIGH_SIZE 256 /* power of two */
#define NEIGH_PROBE 16
#define NEIGH_REACHABLE_S 300
#define NEIGH_SOLICIT_MS 1000
#define IDLE_SLEEP_US 200
#define RX_BURST_MAX 64
#define TX_BURST 32 /* a port's staged datagrams go out when this many wait */

struct neigh {
	struct fh_addr ip; /* port 0 */
	uint8_t mac[6];
	bool valid; /* mac is known */
	bool used;
	uint64_t fresh_until;
	uint64_t solicited;
};

/* One media NIC port as a worker sees it: its queue there, its addresses, its neighbours. */
struct dpdk_eth {
	uint16_t port_id;
	bool tx_csum;
	uint16_t n_tx;
	uint64_t staged_at; /* TSC when the oldest staged datagram was staged */
	struct dp_net_conf net;
	struct rte_mbuf *tx[TX_BURST];
	struct neigh neigh[NEIGH_SIZE];
};

struct dpdk_io {
	uint16_t queue;
	unsigned worker;
	unsigned n_workers;
	uint16_t base_port;
	unsigned n_eth;
	unsigned next_rx; /* the port polled first, rotating so none starves the others */
	struct rte_mempool *pool;
	struct fh_counters *ctr;
	struct rte_ring **handoff;
	uint64_t hz;
	uint64_t drain_tsc; /* how long a short burst may wait for more; 0: never */
	struct dpdk_eth eth[DP_MAX_ETH];
};

static inline void ctr(struct dpdk_io *p, enum fh_ctr c, uint64_t n)
{
	__atomic_store_n(&p->ctr->ctr[c], p->ctr->ctr[c] + n, __ATOMIC_RELAXED);
}

static inline void drop(struct dpdk_io *p, enum fh_drop d)
{
	__atomic_store_n(&p->ctr->drop[d], p->ctr->drop[d] + 1, __ATOMIC_RELAXED);
}

static struct neigh *neigh_slot(struct dpdk_eth *e, const struct fh_addr *ip, bool create)
{
	uint32_t h = fh_addr_hash(ip) & (NEIGH_SIZE - 1);

	for (unsigned i = 0; i < NEIGH_PROBE; i++) {
		struct neigh *n = &e->neigh[(h + i) & (NEIGH_SIZE - 1)];

		if (n->used && fh_addr_eq(&n->ip, ip))
			return n;
		if (!n->used && create) {
			memset(n, 0, sizeof(*n));
			n->used = true;
			n->ip = *ip;
			return n;
		}
	}
	if (!create)
		return NULL;
	/* full neighbourhood: the home slot is recycled */
	struct neigh *n = &e->neigh[h];

	memset(n, 0, sizeof(*n));
	n->used = true;
	n->ip = *ip;
	return n;
}

static void neigh_learn(struct dpdk_io *p, struct dpdk_eth *e, const struct fh_addr *peer,
			const uint8_t mac[6])
{
	struct fh_addr ip = *peer;

	ip.port = 0;
	struct neigh *n = neigh_slot(e, &ip, true);

	memcpy(n->mac, mac, 6);
	n->valid = true;
	n->fresh_until = rte_rdtsc() + p->hz * NEIGH_REACHABLE_S;
}

/* Other workers learn what this one learned from ARP/ND, through their hand-off rings. */
static void neigh_share(struct dpdk_io *p, unsigned via, struct rte_mbuf *m,
			const struct dp_net_rx *rx)
{
	struct dp_pkt_meta *meta = dp_meta(m);

	meta->flags = DP_META_NEIGH;
	meta->peer = rx->peer;
	meta->via = (uint8_t)via;
	memcpy(meta->mac, rx->mac, 6);
	m->data_len = 0;
	m->pkt_len = 0;
	if (p->n_workers == 1) {
		rte_pktmbuf_free(m);
		return;
	}
	rte_mbuf_refcnt_update(m, (int16_t)(p->n_workers - 2));
	for (unsigned w = 0; w < p->n_workers; w++)
		if (w != p->worker && rte_ring_mp_enqueue(p->handoff[w], m) != 0)
			rte_pktmbuf_free(m);
}

static void *dpdk_open(const struct dp_io_conf *conf, struct rte_mempool *pool)
{
	struct dpdk_io *p;

	if (conf->n_eth == 0 || conf->n_eth > DP_MAX_ETH) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	p->queue = conf->queue;
	p->worker = conf->worker;
	p->n_workers = conf->n_workers;
	p->base_port = conf->base_port;
	p->n_eth = conf->n_eth;
	p->pool = pool;
	p->ctr = conf->ctr;
	p->handoff = conf->handoff;
	p->hz = rte_get_tsc_hz();
	p->drain_tsc = p->hz * conf->tx_drain_us / 1000000;
	for (unsigned i = 0; i < conf->n_eth; i++) {
		p->eth[i].port_id = conf->eth_port[i];
		p->eth[i].net = *(const struct dp_net_conf *)conf->net[i];
		p->eth[i].tx_csum = conf->tx_csum_offload[i];
	}
	return p;
}

static void send_ctl(struct dpdk_io *p, struct dpdk_eth *e, struct rte_mbuf *m)
{
	if (rte_eth_tx_burst(e->port_id, p->queue, &m, 1) != 1) {
		drop(p, FH_DROP_tx_fail);
		rte_pktmbuf_free(m);
	}
}

/* Takes what arrived in the worker's queue of one port; returns how many datagrams it put in
 * pkts (at most n). ARP, ND and echo are answered here, everything else is counted. */
static uint16_t rx_eth(struct dpdk_io *p, unsigned via, struct rte_mbuf **pkts, uint16_t n)
{
	struct dpdk_eth *e = &p->eth[via];
	struct rte_mbuf *raw[RX_BURST_MAX];
	uint16_t out = 0;
	uint16_t got = rte_eth_rx_burst(e->port_id, p->queue, raw, n);

	for (uint16_t i = 0; i < got; i++) {
		struct rte_mbuf *m = raw[i];
		struct dp_net_rx rx;
		uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);

		if (m->nb_segs > 1) { /* jumbo chains never carry WebRTC media */
			drop(p, FH_DROP_l2_multi_segment);
			rte_pktmbuf_free(m);
			continue;
		}
		dp_net_classify(&e->net, f, m->data_len, m->data_len + rte_pktmbuf_tailroom(m),
				&rx);
		if (rx.learn)
			neigh_learn(p, e, &rx.peer, rx.mac);
		switch (rx.verdict) {
		case DP_NET_UDP: {
			unsigned w = (unsigned)(rx.dport - p->base_port);
			struct dp_pkt_meta *meta = dp_meta(m);

			rte_pktmbuf_adj(m, rx.off);
			m->data_len = rx.len;
			m->pkt_len = rx.len;
			meta->peer = rx.peer;
			meta->flags = 0;
			meta->via = (uint8_t)via;
			if (w == p->worker) {
				pkts[out++] = m;
			} else if (w < p->n_workers && rte_ring_mp_enqueue(p->handoff[w], m) == 0) {
				ctr(p, FH_CTR_handoff, 1);
			} else {
				drop(p, FH_DROP_handoff_full);
				rte_pktmbuf_free(m);
			}
			break;
		}
		case DP_NET_REPLY:
			m->data_len = rx.len;
			m->pkt_len = rx.len;
			ctr(p,
			    rx.reply_kind == DP_NET_ARP	 ? FH_CTR_arp_answered
			    : rx.reply_kind == DP_NET_ND ? FH_CTR_nd_answered
							 : FH_CTR_echo_answered,
			    1);
			if (rx.learn &&
			    (rx.reply_kind == DP_NET_ARP || rx.reply_kind == DP_NET_ND)) {
				struct rte_mbuf *c = rte_pktmbuf_alloc(p->pool);

				if (c)
					neigh_share(p, via, c, &rx);
			}
			send_ctl(p, e, m);
			break;
		case DP_NET_LEARN:
			neigh_share(p, via, m, &rx);
			break;
		case DP_NET_DROP: /* dp_net names the counter: no reason can go uncounted */
			drop(p, rx.drop);
			rte_pktmbuf_free(m);
			break;
		}
	}
	return out;
}

static uint16_t dpdk_rx(void *port, struct rte_mbuf **pkts, uint16_t n)
{
	struct dpdk_io *p = port;
	struct rte_mbuf *raw[RX_BURST_MAX];
	uint16_t out = 0;

	if (n > RX_BURST_MAX)
		n = RX_BURST_MAX;
	/* what other workers handed over first: datagrams for us, or neighbours to learn */
	unsigned k = rte_ring_sc_dequeue_burst(p->handoff[p->worker], (void **)raw, n, NULL);

	for (unsigned i = 0; i < k; i++) {
		struct dp_pkt_meta *meta = dp_meta(raw[i]);

		if (meta->flags & DP_META_NEIGH) {
			if (meta->via < p->n_eth)
				neigh_learn(p, &p->eth[meta->via], &meta->peer, meta->mac);
			rte_pktmbuf_free(raw[i]);
		} else {
			pkts[out++] = raw[i];
		}
	}
	for (unsigned i = 0; i < p->n_eth && out < n; i++) {
		unsigned via = (p->next_rx + i) % p->n_eth;

		out = (uint16_t)(out + rx_eth(p, via, pkts + out, (uint16_t)(n - out)));
	}
	p->next_rx = (p->next_rx + 1) % p->n_eth;
	return out;
}

static void solicit(struct dpdk_io *p, struct dpdk_eth *e, struct neigh *n, uint64_t now)
{
	if (n->solicited && now - n->solicited < p->hz * NEIGH_SOLICIT_MS / 1000)
		return;
	struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);

	if (!m)
		return;
	size_t len = dp_net_solicit(&e->net, &n->ip, rte_pktmbuf_mtod(m, uint8_t *),
				    rte_pktmbuf_tailroom(m));

	if (!len) {
		rte_pktmbuf_free(m);
		return;
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	n->solicited = now;
	ctr(p, FH_CTR_neigh_solicited, 1);
	send_ctl(p, e, m);
}

/* Sends what a port has staged; frees and counts what its queue did not take. */
static uint16_t tx_flush(struct dpdk_io *p, struct dpdk_eth *e)
{
	uint16_t k = e->n_tx;
	uint16_t s = rte_eth_tx_burst(e->port_id, p->queue, e->tx, k);
	uint64_t bytes = 0;

	for (uint16_t j = 0; j < s; j++)
		bytes += e->tx[j]->pkt_len;
	for (uint16_t j = s; j < k; j++) {
		drop(p, FH_DROP_tx_fail);
		rte_pktmbuf_free(e->tx[j]);
	}
	e->n_tx = 0;
	e->staged_at = 0;
	ctr(p, FH_CTR_tx_packets, s);
	ctr(p, FH_CTR_tx_bytes, bytes);
	return s;
}

/* Sends every port's staged datagrams that waited drain_tsc or longer (all with force). */
static uint16_t tx_drain(struct dpdk_io *p, uint64_t now, bool force)
{
	uint16_t sent = 0;

	for (unsigned i = 0; i < p->n_eth; i++) {
		struct dpdk_eth *e = &p->eth[i];

		if (e->n_tx && (force || (int64_t)(now - e->staged_at) >= (int64_t)p->drain_tsc))
			sent = (uint16_t)(sent + tx_flush(p, e));
	}
	return sent;
}

/* Puts the headers in front of a datagram for its port's next hop; false when it cannot go. */
static bool frame(struct dpdk_io *p, struct dpdk_eth *e, struct rte_mbuf *m, uint64_t now)
{
	const struct fh_addr *dst = &dp_meta(m)->peer;
	struct fh_addr hop;

	if (dp_net_next_hop(&e->net, dst, &hop) < 0) {
		drop(p, FH_DROP_no_route);
		return false;
	}
	struct neigh *nb = neigh_slot(e, &hop, true);

	if (!nb->valid) {
		solicit(p, e, nb, now);
		drop(p, FH_DROP_no_neighbour);
		return false;
	}
	if (now > nb->fresh_until)
		solicit(p, e, nb, now); /* stale: still used while it is confirmed again */
	size_t plen = m->data_len;
	size_t hl = dst->family == FH_AF_INET ? 42 : 62;
	uint8_t *payload = rte_pktmbuf_mtod(m, uint8_t *);

	if (!rte_pktmbuf_prepend(m, (uint16_t)hl) ||
	    dp_net_udp_headers(&e->net, payload, plen, nb->mac,
			       (uint16_t)(p->base_port + p->worker), dst, e->tx_csum) != hl) {
		drop(p, FH_DROP_no_route); /* no address of that family configured */
		return false;
	}
	if (e->tx_csum) {
		m->l2_len = DP_ETH_HLEN;
		m->l3_len = (uint16_t)(hl - DP_ETH_HLEN - 8);
		m->ol_flags |= dst->family == FH_AF_INET
				       ? RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
						 RTE_MBUF_F_TX_UDP_CKSUM
				       : RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM;
	}
	return true;
}

/* Stages datagrams per port and sends a port's stage when TX_BURST wait; what is left waits
 * for more until the drain timer (dpdk_drain, dpdk_idle) sends it. */
static uint16_t dpdk_tx(void *port, struct rte_mbuf **pkts, uint16_t n)
{
	struct dpdk_io *p = port;
	uint16_t sent_total = 0;
	uint64_t now = rte_rdtsc();

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		unsigned via = dp_meta(m)->via;

		if (via >= p->n_eth) {
			drop(p, FH_DROP_no_route);
			rte_pktmbuf_free(m);
			continue;
		}
		struct dpdk_eth *e = &p->eth[via];

		if (!frame(p, e, m, now)) {
			rte_pktmbuf_free(m);
			continue;
		}
		if (e->n_tx == 0)
			e->staged_at = now;
		e->tx[e->n_tx++] = m;
		if (e->n_tx == TX_BURST)
			sent_total = (uint16_t)(sent_total + tx_flush(p, e));
	}
	if (p->drain_tsc == 0)
		sent_total = (uint16_t)(sent_total + tx_drain(p, now, true));
	return sent_total;
}

static void dpdk_drain(void *port, uint64_t now)
{
	tx_drain(port, now, false);
}

static void dpdk_idle(void *port, unsigned timeout_ms)
{
	/* nothing waits in a stage while the worker naps */
	tx_drain(port, 0, true);
	/* A short nap instead of epoll: no 100 % spin on an idle box, little added latency. */
	rte_delay_us_sleep(timeout_ms * 1000 < IDLE_SLEEP_US ? timeout_ms * 1000 : IDLE_SLEEP_US);
}

static void dpdk_close(void *port)
{
	struct dpdk_io *p = port;

	for (unsigned i = 0; i < p->n_eth; i++)
		rte_pktmbuf_free_bulk(p->eth[i].tx, p->eth[i].n_tx);
	free(port);
}

const struct dp_io_ops dp_io_dpdk_ops = {
	.name = "dpdk",
	.open = dpdk_open,
	.rx_burst = dpdk_rx,
	.tx_burst = dpdk_tx,
	.drain = dpdk_drain,
	.idle = dpdk_idle,
	.close = dpdk_close,
};

int dp_io_dpdk_port_init(uint16_t port, unsigned n_queues, struct rte_mempool **pools,
			 uint8_t mac[6], bool *tx_csum, char *err, size_t elen)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf pc;
	uint16_t nb_rxd = 1024, nb_txd = 1024;
	int rc;

	memset(&pc, 0, sizeof(pc));
	if ((rc = rte_eth_dev_info_get(port, &info)) != 0) {
		snprintf(err, elen, "port %u: no device info (%s)", port, rte_strerror(-rc));
		return -1;
	}
	if (n_queues > info.max_rx_queues || n_queues > info.max_tx_queues) {
		snprintf(err, elen,
			 "port %u (%s) has %u RX / %u TX queues, %u workers need one each "
			 "(for net_af_packet add qpairs=%u to the vdev)",
			 port, info.driver_name, info.max_rx_queues, info.max_tx_queues, n_queues,
			 n_queues);
		return -1;
	}
	if (n_queues > 1 && info.flow_type_rss_offloads) {
		pc.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		pc.rx_adv_conf.rss_conf.rss_hf =
			info.flow_type_rss_offloads & (RTE_ETH_RSS_UDP | RTE_ETH_RSS_IP);
	}
	const uint64_t csum = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;

	if ((info.tx_offload_capa & csum) == csum)
		pc.txmode.offloads |= csum;
	if (tx_csum)
		*tx_csum = (pc.txmode.offloads & csum) == csum;
	if ((rc = rte_eth_dev_configure(port, (uint16_t)n_queues, (uint16_t)n_queues, &pc)) != 0) {
		snprintf(err, elen, "port %u: configure failed (%s)", port, rte_strerror(-rc));
		return -1;
	}
	rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
	int socket = rte_eth_dev_socket_id(port);

	for (unsigned q = 0; q < n_queues; q++) {
		if ((rc = rte_eth_rx_queue_setup(port, (uint16_t)q, nb_rxd, (unsigned)socket, NULL,
						 pools[q])) != 0 ||
		    (rc = rte_eth_tx_queue_setup(port, (uint16_t)q, nb_txd, (unsigned)socket,
						 NULL)) != 0) {
			snprintf(err, elen, "port %u queue %u: set-up failed (%s)", port, q,
				 rte_strerror(-rc));
			return -1;
		}
	}
	if ((rc = rte_eth_dev_start(port)) != 0) {
		snprintf(err, elen, "port %u: start failed (%s)", port, rte_strerror(-rc));
		return -1;
	}
	struct rte_ether_addr a;

	rte_eth_macaddr_get(port, &a);
	memcpy(mac, a.addr_bytes, 6);
	return 0;
}

/* One rule per worker and IP version: UDP to the worker's port lands in the worker's queue. */
static int flow_rule(uint16_t port, bool v6, uint16_t udp_port, uint16_t queue, bool create,
		     struct rte_flow_error *fe)
{
	struct rte_flow_attr attr = {.ingress = 1};
	struct rte_flow_item_udp spec = {.hdr.dst_port = rte_cpu_to_be_16(udp_port)};
	struct rte_flow_item_udp mask = {.hdr.dst_port = RTE_BE16(0xffff)};
	struct rte_flow_item pattern[] = {
		{.type = RTE_FLOW_ITEM_TYPE_ETH},
		{.type = v6 ? RTE_FLOW_ITEM_TYPE_IPV6 : RTE_FLOW_ITEM_TYPE_IPV4},
		{.type = RTE_FLOW_ITEM_TYPE_UDP, .spec = &spec, .mask = &mask},
		{.type = RTE_FLOW_ITEM_TYPE_END},
	};
	struct rte_flow_action_queue q = {.index = queue};
	struct rte_flow_action actions[] = {
		{.type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &q},
		{.type = RTE_FLOW_ACTION_TYPE_END},
	};

	if (!create)
		return rte_flow_validate(port, &attr, pattern, actions, fe);
	return rte_flow_create(port, &attr, pattern, actions, fe) ? 0 : -1;
}

int dp_io_dpdk_steer(uint16_t port, unsigned n_queues, uint16_t base_port, char *why,
		     size_t why_len)
{
	struct rte_flow_error fe;

	if (n_queues < 2) {
		snprintf(why, why_len, "one queue: nothing to steer");
		return -1;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned w = 0; w < n_queues; w++) {
			for (int v6 = 0; v6 < 2; v6++) {
				memset(&fe, 0, sizeof(fe));
				if (flow_rule(port, v6, (uint16_t)(base_port + w), (uint16_t)w,
					      pass == 1, &fe) != 0) {
					snprintf(why, why_len, "%s",
						 fe.message ? fe.message
							    : "rte_flow refused the rule");
					rte_flow_flush(port, &fe);
					return -1;
				}
			}
		}
	}
	return 0;
}
