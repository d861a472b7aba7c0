/*
 * dp_io_socket: the embedded default backend. One kernel UDP socket per worker, bursts with
 * recvmmsg/sendmmsg, epoll when idle so an idle machine does not spin. Unprivileged, no
 * hugepages. Runs on the worker's lcore.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dp_io.h"
#include "fh_region.h"

#define SOCK_BURST 64

struct sock_port {
	int fd;
	int ep;
	struct rte_mempool *pool;
	struct fh_counters *ctr;
};

static void count(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

static void *sock_open(const struct dp_io_conf *conf, struct rte_mempool *pool)
{
	struct fh_addr a;
	struct sockaddr_storage ss;
	struct sock_port *p;
	int one = 1, zero = 0, bufsz = 4 << 20;

	if (fh_addr_parse(&a, conf->bind_addr, conf->port) < 0) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pool = pool;
	p->ctr = conf->ctr;
	p->fd = socket(a.family == FH_AF_INET ? AF_INET : AF_INET6,
		       SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		goto err_free;
	if (a.family == FH_AF_INET6)
		setsockopt(p->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	setsockopt(p->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	setsockopt(p->fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	socklen_t sl = fh_addr_to_sockaddr(&a, &ss);

	if (bind(p->fd, (struct sockaddr *)&ss, sl) < 0)
		goto err_close;
	p->ep = epoll_create1(EPOLL_CLOEXEC);
	if (p->ep < 0)
		goto err_close;
	struct epoll_event ev = {.events = EPOLLIN};

	if (epoll_ctl(p->ep, EPOLL_CTL_ADD, p->fd, &ev) < 0)
		goto err_ep;
	return p;

err_ep:
	close(p->ep);
err_close:
	close(p->fd);
err_free : {
	int e = errno;

	free(p);
	errno = e;
}
	return NULL;
}

static uint16_t sock_rx(void *port, struct rte_mbuf **pkts, uint16_t n)
{
	struct sock_port *p = port;
	struct mmsghdr msgs[SOCK_BURST];
	struct iovec iov[SOCK_BURST];
	struct sockaddr_storage from[SOCK_BURST];
	int got;

	if (n > SOCK_BURST)
		n = SOCK_BURST;
	if (rte_pktmbuf_alloc_bulk(p->pool, pkts, n) != 0) {
		count(&p->ctr->drop[FH_DROP_no_mbuf], 1);
		return 0;
	}
	for (uint16_t i = 0; i < n; i++) {
		iov[i].iov_base = rte_pktmbuf_mtod(pkts[i], void *);
		iov[i].iov_len = rte_pktmbuf_tailroom(pkts[i]);
		memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &from[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
	}
	got = recvmmsg(p->fd, msgs, n, MSG_DONTWAIT, NULL);
	if (got < 0)
		got = 0;
	for (int i = 0; i < got; i++) {
		struct dp_pkt_meta *meta = dp_meta(pkts[i]);

		pkts[i]->data_len = (uint16_t)msgs[i].msg_len;
		pkts[i]->pkt_len = msgs[i].msg_len;
		meta->flags = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? DP_META_TRUNCATED : 0;
		meta->via = 0; /* one socket */
		if (fh_addr_from_sockaddr(&meta->peer, (struct sockaddr *)&from[i],
					  msgs[i].msg_hdr.msg_namelen) < 0)
			meta->flags |= DP_META_BAD_SOURCE;
	}
	for (int i = got; i < n; i++)
		rte_pktmbuf_free(pkts[i]);
	return (uint16_t)got;
}

static uint16_t sock_tx(void *port, struct rte_mbuf **pkts, uint16_t n)
{
	struct sock_port *p = port;
	struct mmsghdr msgs[SOCK_BURST];
	struct iovec iov[SOCK_BURST];
	struct sockaddr_storage to[SOCK_BURST];
	uint16_t done = 0, sent_total = 0;
	uint64_t bytes = 0;

	while (done < n) {
		uint16_t k = n - done > SOCK_BURST ? SOCK_BURST : n - done;

		for (uint16_t i = 0; i < k; i++) {
			struct rte_mbuf *m = pkts[done + i];

			iov[i].iov_base = rte_pktmbuf_mtod(m, void *);
			iov[i].iov_len = m->data_len;
			memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &to[i];
			msgs[i].msg_hdr.msg_namelen =
				fh_addr_to_sockaddr(&dp_meta(m)->peer, &to[i]);
		}
		int sent = sendmmsg(p->fd, msgs, k, MSG_DONTWAIT);

		if (sent <= 0) {
			/* The first datagram was refused (unreachable, full buffer): count it and
			 * go on with the rest of the burst. */
			count(&p->ctr->drop[FH_DROP_tx_fail], 1);
			rte_pktmbuf_free(pkts[done++]);
			continue;
		}
		for (int i = 0; i < sent; i++) {
			bytes += pkts[done + i]->data_len;
			rte_pktmbuf_free(pkts[done + i]);
		}
		done += (uint16_t)sent;
		sent_total += (uint16_t)sent;
	}
	count(&p->ctr->ctr[FH_CTR_tx_packets], sent_total);
	count(&p->ctr->ctr[FH_CTR_tx_bytes], bytes);
	return sent_total;
}

static void sock_idle(void *port, unsigned timeout_ms)
{
	struct sock_port *p = port;
	struct epoll_event ev;

	epoll_wait(p->ep, &ev, 1, (int)timeout_ms);
}

static void sock_close(void *port)
{
	struct sock_port *p = port;

	close(p->ep);
	close(p->fd);
	free(p);
}

const struct dp_io_ops dp_io_socket_ops = {
	.name = "socket",
	.open = sock_open,
	.rx_burst = sock_rx,
	.tx_burst = sock_tx,
	.idle = sock_idle,
	.close = sock_close,
};
