/*
 * dp_io: the I/O backend interface of funkhaus-dp. A backend moves bursts of rte_mbufs whose
 * data is the UDP payload and whose private area (struct dp_pkt_meta) holds the peer address.
 * The worker never knows whether a kernel socket or a NIC queue is underneath.
 * Each worker opens its own port and calls it from its own lcore only.
 */
#ifndef DP_IO_H
#define DP_IO_H

#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "fh_addr.h"

struct dp_pkt_meta {
	struct fh_addr peer; /* source on receive, destination on send */
	uint32_t flags;
	uint8_t mac[6]; /* DP_META_NEIGH: the neighbour's MAC */
	uint8_t via;	/* dpdk: index of the NIC port it came in on / goes out of */
};

#define DP_META_TRUNCATED 1u  /* the datagram did not fit the buffer */
#define DP_META_NEIGH 2u      /* not a datagram: a neighbour another worker learned */
#define DP_META_BAD_SOURCE 4u /* socket: the source address is neither IPv4 nor IPv6 */

static inline struct dp_pkt_meta *dp_meta(struct rte_mbuf *m)
{
	return (struct dp_pkt_meta *)rte_mbuf_to_priv(m);
}

struct rte_ring;
struct fh_counters;

#define DP_MAX_ETH 4		  /* media NIC ports per funkhaus-dp (FH_MAX_PORTS) */
#define DP_TX_DRAIN_US_DEFAULT 50 /* [dpdk] tx_drain_us */

struct dp_io_conf {
	char bind_addr[64]; /* socket: "::" for every address, v4 and v6 */
	uint16_t port;	    /* the worker's UDP port */
	struct fh_counters *ctr;
	/* dpdk: the worker has queue `queue` on each of the n_eth media ports */
	unsigned n_eth;
	uint16_t eth_port[DP_MAX_ETH];
	const void *net[DP_MAX_ETH];	  /* struct dp_net_conf of each port */
	bool tx_csum_offload[DP_MAX_ETH]; /* the port completes IPv4 and UDP checksums */
	uint16_t queue;
	unsigned worker;
	unsigned n_workers;
	uint16_t base_port;
	struct rte_ring **handoff; /* one per worker, multi-producer */
	unsigned tx_drain_us;	   /* how long a short TX burst may wait for more; 0: never */
};

struct dp_io_ops {
	const char *name;
	/* Opens the worker's port; NULL with errno set on failure. */
	void *(*open)(const struct dp_io_conf *conf, struct rte_mempool *pool);
	/* Receives up to n datagrams; never blocks. */
	uint16_t (*rx_burst)(void *port, struct rte_mbuf **pkts, uint16_t n);
	/* Takes n datagrams (their meta holds the destination) and consumes all of them: it sends
	 * them, or stages them for drain, or frees and counts them under their reason. Returns
	 * how many went out during the call. */
	uint16_t (*tx_burst)(void *port, struct rte_mbuf **pkts, uint16_t n);
	/* Called every loop turn with the TSC: sends staged datagrams whose time is up. May be
	 * NULL (the backend sends everything in tx_burst). */
	void (*drain)(void *port, uint64_t now);
	/* Sends anything staged, then sleeps until there may be something to receive, at most
	 * timeout_ms. */
	void (*idle)(void *port, unsigned timeout_ms);
	void (*close)(void *port);
};

extern const struct dp_io_ops dp_io_socket_ops;
extern const struct dp_io_ops dp_io_dpdk_ops;

/* dpdk: configures and starts an ethdev port with one RX and one TX queue per worker; tells
 * in *tx_csum (may be NULL) whether it offloads IPv4 and UDP checksums. */
int dp_io_dpdk_port_init(uint16_t port, unsigned n_queues, struct rte_mempool **pools,
			 uint8_t mac[6], bool *tx_csum, char *err, size_t err_len);
/* dpdk: rte_flow rules sending each worker's UDP port to its queue; -1 with the reason when the
 * port cannot (the workers then hand datagrams to each other, counted as "handoff"). */
int dp_io_dpdk_steer(uint16_t port, unsigned n_queues, uint16_t base_port, char *why,
		     size_t why_len);

#endif
