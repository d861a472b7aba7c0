/*
 * libFuzzer target: dp_net_classify, the DPDK backend's L2/L3 for every frame a port delivers
 * (Ethernet, ARP, IPv4, IPv6, ICMP, ICMPv6 neighbour discovery, UDP).
 *
 * Besides not crashing (ASan watches every read and the in-place replies), each verdict must
 * keep its promises, or the target aborts:
 * - a UDP payload lies inside the frame, goes to one of our ports, from a port and address
 *   that can be answered (no group MAC, no broadcast, multicast or own address, port not 0);
 * - a reply fits the buffer and goes to one station (or to all nodes for duplicate address
 *   detection), never from a group MAC;
 * - what is learned is a unicast MAC;
 * - a drop is counted under one of the L2/L3 reasons, never another layer's.
 * And a datagram we accept, sent back to its sender with dp_net_udp_headers, is accepted by
 * the sender (classified with the sender's own view) with the same payload, from our port.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_net.h"

static bool l2l3_reason(enum fh_drop d)
{
	switch (d) {
	case FH_DROP_l2_runt:
	case FH_DROP_l2_not_for_us:
	case FH_DROP_l2_ethertype:
	case FH_DROP_ip_malformed:
	case FH_DROP_ip_fragment:
	case FH_DROP_udp_malformed:
	case FH_DROP_udp_port:
	case FH_DROP_ip_other:
	case FH_DROP_bad_source:
		return true;
	default:
		return false;
	}
}

#define CAP 2048

static const struct dp_net_conf *sfu(void)
{
	static struct dp_net_conf c;
	static int ready;

	if (!ready) {
		struct fh_addr a;
		uint8_t p;

		c = (struct dp_net_conf){.mac = {0x02, 0, 0, 0, 0, 2},
					 .has_ip4 = true,
					 .has_ip6 = true,
					 .has_gw4 = true,
					 .has_gw6 = true,
					 .ip4 = {10, 99, 0, 2},
					 .ip4_prefix = 24,
					 .gw4 = {10, 99, 0, 1},
					 .ip6_prefix = 64,
					 .port_lo = 40000,
					 .port_hi = 40003};
		dp_net_parse_prefix("fd99::2/64", &a, &p);
		memcpy(c.ip6, a.ip, 16);
		dp_net_parse_prefix("fd99::1/64", &a, &p);
		memcpy(c.gw6, a.ip, 16);
		ready = 1;
	}
	return &c;
}

static int unicast(const uint8_t *m)
{
	return !(m[0] & 1) && (m[0] | m[1] | m[2] | m[3] | m[4] | m[5]);
}

/* Our answer to an accepted datagram, classified as its sender would. */
static void round_trip(const struct dp_net_conf *c, const struct dp_net_rx *rx,
		       const uint8_t *payload)
{
	static uint8_t buf[DP_NET_HDR_MAX + CAP];
	struct dp_net_conf peer = {.port_lo = rx->peer.port, .port_hi = rx->peer.port};
	struct dp_net_rx back;
	uint16_t sport = c->port_lo;

	memcpy(peer.mac, rx->mac, 6);
	if (rx->peer.family == FH_AF_INET) {
		peer.has_ip4 = true;
		peer.ip4_prefix = 24;
		memcpy(peer.ip4, rx->peer.ip, 4);
	} else {
		peer.has_ip6 = true;
		peer.ip6_prefix = 64;
		memcpy(peer.ip6, rx->peer.ip, 16);
	}
	memcpy(buf + DP_NET_HDR_MAX, payload, rx->len);
	size_t h = dp_net_udp_headers(c, buf + DP_NET_HDR_MAX, rx->len, rx->mac, sport, &rx->peer,
				      false);

	if (h == 0)
		abort(); /* the family we received on has an address */
	uint8_t *f = buf + DP_NET_HDR_MAX - h;

	dp_net_classify(&peer, f, h + rx->len, sizeof(buf) - (DP_NET_HDR_MAX - h), &back);
	if (back.verdict != DP_NET_UDP || back.len != rx->len ||
	    memcmp(f + back.off, payload, rx->len) != 0 || back.peer.port != sport ||
	    memcmp(back.mac, c->mac, 6) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct dp_net_conf *c = sfu();
	struct dp_net_rx rx;

	if (size > CAP)
		return 0;
	/* the frame exactly as long as its buffer, then with room for a longer reply */
	for (int room = 0; room < 2; room++) {
		size_t cap = room ? CAP : size;
		uint8_t *f = malloc(cap ? cap : 1);

		if (!f)
			return 0;
		memcpy(f, data, size);
		dp_net_classify(c, f, size, cap, &rx);
		switch (rx.verdict) {
		case DP_NET_UDP:
			if ((size_t)rx.off + rx.len > size || rx.dport < c->port_lo ||
			    rx.dport > c->port_hi || rx.peer.port == 0 || !unicast(rx.mac))
				abort();
			round_trip(c, &rx, f + rx.off);
			break;
		case DP_NET_REPLY:
			if (rx.len < 14 || rx.len > cap || !unicast(f + 6) ||
			    memcmp(f + 6, c->mac, 6) != 0)
				abort();
			if (!unicast(f) && !(rx.reply_kind == DP_NET_ND && f[0] == 0x33))
				abort();
			break;
		case DP_NET_LEARN:
			break;
		case DP_NET_DROP:
			if (!l2l3_reason(rx.drop))
				abort();
			break;
		}
		if (rx.learn && !unicast(rx.mac))
			abort();
		free(f);
	}
	return 0;
}
