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
};

#define DP_META_TRUNCATED 1u /* the datagram did not fit the buffer */

static inline struct dp_pkt_meta *dp_meta(struct rte_mbuf *m)
{
	return (struct dp_pkt_meta *)rte_mbuf_to_priv(m);
}

struct dp_io_conf {
	char bind_addr[64]; /* "::" for every address, v4 and v6 */
	uint16_t port;	    /* the worker's UDP port */
};

struct dp_io_ops {
	const char *name;
	/* Opens the worker's port; NULL with errno set on failure. */
	void *(*open)(const struct dp_io_conf *conf, struct rte_mempool *pool);
	/* Receives up to n datagrams; never blocks. */
	uint16_t (*rx_burst)(void *port, struct rte_mbuf **pkts, uint16_t n);
	/* Sends up to n datagrams; the backend frees what it sent, the caller what it did not. */
	uint16_t (*tx_burst)(void *port, struct rte_mbuf **pkts, uint16_t n);
	/* Sleeps until there may be something to receive, at most timeout_ms. */
	void (*idle)(void *port, unsigned timeout_ms);
	void (*close)(void *port);
};

extern const struct dp_io_ops dp_io_socket_ops;

#endif
