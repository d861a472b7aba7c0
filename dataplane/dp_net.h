/*
 * dp_net: Ethernet, ARP, IPv4, IPv6, ICMP, ICMPv6 neighbour discovery and UDP for the DPDK
 * backend, which has no kernel to do its L2/L3. Pure functions over frame buffers: classify a
 * received frame (UDP for us, a request to answer in place, a neighbour to learn, or a drop
 * with the reason of common/fh_counters.h it is counted under) and write the headers of frames
 * we send. Unit tests and the fuzzer call them without DPDK.
 */
#ifndef DP_NET_H
#define DP_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fh_addr.h"
#include "fh_counters.h"

#define DP_ETH_HLEN 14
#define DP_NET_HDR_MAX (DP_ETH_HLEN + 40 + 8) /* Ethernet + IPv6 + UDP */

struct dp_net_conf {
	uint8_t mac[6];
	bool has_ip4;
	bool has_ip6;
	bool has_gw4;
	bool has_gw6;
	uint8_t ip4[4];
	uint8_t ip4_prefix;
	uint8_t ip6[16];
	uint8_t ip6_prefix;
	uint8_t gw4[4];
	uint8_t gw6[16];
	uint16_t port_lo; /* our UDP ports: port_lo .. port_hi */
	uint16_t port_hi;
};

enum dp_net_verdict {
	DP_NET_UDP,   /* a datagram for one of our ports: payload at off, len bytes */
	DP_NET_REPLY, /* the frame was turned into its answer in place: send len bytes */
	DP_NET_LEARN, /* nothing to send, but the neighbour in out->peer is at out->mac */
	DP_NET_DROP,  /* out->drop is the counter (fh_counters.h) it is dropped under */
};

struct dp_net_rx {
	enum dp_net_verdict verdict;
	enum fh_drop drop;   /* DP_NET_DROP: the reason it is counted under */
	uint16_t off;	     /* UDP payload offset in the frame */
	uint16_t len;	     /* UDP payload length, or the reply's frame length */
	uint16_t dport;	     /* our UDP port it was sent to */
	struct fh_addr peer; /* sender: IP and UDP port (port 0 for ARP/ND) */
	uint8_t mac[6];	     /* sender's MAC, for the neighbour table */
	bool learn;	     /* mac/peer.ip is worth learning (also with REPLY and UDP) */
	enum { DP_NET_ARP, DP_NET_ND, DP_NET_ICMP4, DP_NET_ICMP6, DP_NET_NONE } reply_kind;
};

/*
 * Classifies one received frame of len bytes in a buffer of cap bytes; a request we answer
 * (ARP, neighbour solicitation, echo) is rewritten into its reply in place, possibly longer.
 */
void dp_net_classify(const struct dp_net_conf *c, uint8_t *frame, size_t len, size_t cap,
		     struct dp_net_rx *out);

/* Where a datagram to dst goes next: dst itself when on-link, else the gateway. -1: no route */
int dp_net_next_hop(const struct dp_net_conf *c, const struct fh_addr *dst, struct fh_addr *hop);

/*
 * Writes Ethernet, IP and UDP headers in front of a payload (DP_NET_HDR_MAX bytes before it
 * must be writable); returns the header length used (the frame starts at payload minus it), 0
 * when the family has no address configured. With csum_offload the IPv4 header checksum is
 * left 0 and the UDP checksum holds the pseudo-header sum, for a NIC that completes both.
 */
size_t dp_net_udp_headers(const struct dp_net_conf *c, uint8_t *payload, size_t payload_len,
			  const uint8_t dst_mac[6], uint16_t sport, const struct fh_addr *dst,
			  bool csum_offload);

/* ARP request or neighbour solicitation for a next hop; returns the frame length. */
size_t dp_net_solicit(const struct dp_net_conf *c, const struct fh_addr *hop, uint8_t *buf,
		      size_t cap);

uint16_t dp_net_csum(const void *data, size_t len, uint32_t sum);
/* "10.0.0.2/24" or "fd00::2/64" */
int dp_net_parse_prefix(const char *s, struct fh_addr *a, uint8_t *prefix);

#endif
