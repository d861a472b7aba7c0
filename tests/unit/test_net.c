/* Unit tests of dp_net: the DPDK backend's ARP, neighbour discovery, ICMP echo and UDP; each
 * drop under the counter (fh_counters.h) the worker counts it with. */
#include "dp_net.h"
#include "fh_rtp.h"
#include "fh_test.h"

static struct dp_net_conf conf(int host)
{
	struct dp_net_conf c = {.mac = {0x02, 0, 0, 0, 0, (uint8_t)host},
				.has_ip4 = true,
				.has_ip6 = true,
				.ip4 = {10, 99, 0, (uint8_t)host},
				.ip4_prefix = 24,
				.ip6_prefix = 64,
				.port_lo = 40000,
				.port_hi = 40001};
	struct fh_addr a;
	uint8_t p;

	dp_net_parse_prefix(host == 1 ? "fd99::1/64" : "fd99::2/64", &a, &p);
	memcpy(c.ip6, a.ip, 16);
	return c;
}

static void arp_answered(void)
{
	struct dp_net_conf sfu = conf(2), peer = conf(1);
	uint8_t f[128];
	struct fh_addr hop = {.family = FH_AF_INET, .ip = {10, 99, 0, 2}};
	struct dp_net_rx rx;
	size_t n = dp_net_solicit(&peer, &hop, f, sizeof(f)); /* the peer asks for us */

	CHECK_EQ(n, 60);
	dp_net_classify(&sfu, f, n, sizeof(f), &rx);
	CHECK_EQ(rx.verdict, DP_NET_REPLY);
	CHECK(rx.learn && rx.peer.ip[3] == 1 && rx.mac[5] == 1);
	CHECK(!memcmp(f, peer.mac, 6) && !memcmp(f + 6, sfu.mac, 6));
	CHECK(f[21] == 2 && !memcmp(f + 22, sfu.mac, 6)); /* op reply, our MAC */
	/* the asker learns us from the reply */
	dp_net_classify(&peer, f, rx.len, sizeof(f), &rx);
	CHECK_EQ(rx.verdict, DP_NET_LEARN);
	CHECK(rx.peer.ip[3] == 2 && !memcmp(rx.mac, sfu.mac, 6));
	/* a request for someone else */
	hop.ip[3] = 7;
	n = dp_net_solicit(&peer, &hop, f, sizeof(f));
	dp_net_classify(&sfu, f, n, sizeof(f), &rx);
	CHECK(rx.verdict == DP_NET_DROP && rx.drop == FH_DROP_l2_not_for_us);
}

static void nd_answered(void)
{
	struct dp_net_conf sfu = conf(2), peer = conf(1);
	uint8_t f[128];
	struct fh_addr hop = {.family = FH_AF_INET6};
	struct dp_net_rx rx;

	memcpy(hop.ip, sfu.ip6, 16);
	size_t n = dp_net_solicit(&peer, &hop, f, sizeof(f));

	dp_net_classify(&sfu, f, n, sizeof(f), &rx);
	CHECK_EQ(rx.verdict, DP_NET_REPLY);
	CHECK_EQ(rx.reply_kind, DP_NET_ND);
	CHECK(rx.learn && !memcmp(rx.mac, peer.mac, 6));
	dp_net_classify(&peer, f, rx.len, sizeof(f), &rx); /* NA to the asker */
	CHECK_EQ(rx.verdict, DP_NET_LEARN);
	CHECK(!memcmp(rx.mac, sfu.mac, 6) && !memcmp(rx.peer.ip, sfu.ip6, 16));
	/* hop limit other than 255 is refused (RFC 4861) */
	n = dp_net_solicit(&peer, &hop, f, sizeof(f));
	f[DP_ETH_HLEN + 7] = 64;
	dp_net_classify(&sfu, f, n, sizeof(f), &rx);
	CHECK(rx.verdict == DP_NET_DROP);
}

static size_t udp_frame(const struct dp_net_conf *from, const struct dp_net_conf *to, bool v6,
			uint8_t *buf, const char *text)
{
	uint8_t *payload = buf + DP_NET_HDR_MAX;
	struct fh_addr dst = {.family = v6 ? FH_AF_INET6 : FH_AF_INET, .port = 40001};

	memcpy(dst.ip, v6 ? to->ip6 : to->ip4, v6 ? 16 : 4);
	memcpy(payload, text, strlen(text));
	size_t h = dp_net_udp_headers(from, payload, strlen(text), to->mac, 5555, &dst, false);

	memmove(buf, payload - h, h + strlen(text));
	return h + strlen(text);
}

/* RFC 1071 done byte pair by byte pair, folded, plus s */
static uint32_t ref_sum(const uint8_t *p, size_t len, uint32_t s0)
{
	uint64_t s = s0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

/* The UDP checksum in frame f (n bytes) is right: the sum over pseudo-header and datagram,
 * byte pair by byte pair, is 0; and so is the IPv4 header's over its 20 bytes. */
static bool udp_sum_ok(const uint8_t *f, size_t n, bool v6)
{
	size_t ip = DP_ETH_HLEN, ulen = n - ip - (v6 ? 40 : 20);
	uint8_t ph[40] = {0};
	size_t pl;

	if (v6) {
		memcpy(ph, f + ip + 8, 32);
		ph[34] = (uint8_t)(ulen >> 8);
		ph[35] = (uint8_t)ulen;
		ph[39] = 17;
		pl = 40;
	} else {
		memcpy(ph, f + ip + 12, 8);
		ph[9] = 17;
		ph[10] = (uint8_t)(ulen >> 8);
		ph[11] = (uint8_t)ulen;
		pl = 12;
		if (ref_sum(f + ip, 20, 0) != 0xffff)
			return false;
	}
	return ref_sum(f + n - ulen, ulen, ref_sum(ph, pl, 0)) == 0xffff;
}

static void udp_both_families(void)
{
	struct dp_net_conf sfu = conf(2), peer = conf(1);
	uint8_t f[256];
	struct dp_net_rx rx;

	for (int v6 = 0; v6 < 2; v6++) {
		size_t n = udp_frame(&peer, &sfu, v6, f, "hello SFU");

		dp_net_classify(&sfu, f, n, sizeof(f), &rx);
		CHECK_EQ(rx.verdict, DP_NET_UDP);
		CHECK(rx.len == 9 && !memcmp(f + rx.off, "hello SFU", 9));
		CHECK(rx.peer.port == 5555 && rx.dport == 40001 && !rx.learn);
		CHECK_EQ(rx.peer.family, v6 ? FH_AF_INET6 : FH_AF_INET);
		CHECK(udp_sum_ok(f, n, v6));
		n = udp_frame(&peer, &sfu, v6, f, "x"); /* headers end at n - 1 */
		f[n - 1 - 3] = 0xff;			/* UDP length beyond the IP payload */
		dp_net_classify(&sfu, f, n, sizeof(f), &rx);
		CHECK(rx.verdict == DP_NET_DROP && rx.drop == FH_DROP_udp_malformed);
	}
}

/* With checksum offload the headers carry what a NIC needs to finish the job; finishing it as
 * a NIC does gives the same checksum as software. */
static void offload_headers(void)
{
	struct dp_net_conf sfu = conf(2), peer = conf(1);
	uint8_t soft[256], off[256];
	struct fh_addr dst = {.family = FH_AF_INET, .port = 40001};

	memcpy(dst.ip, sfu.ip4, 4);
	for (int v6 = 0; v6 < 2; v6++) {
		if (v6) {
			dst.family = FH_AF_INET6;
			memcpy(dst.ip, sfu.ip6, 16);
		}
		memcpy(soft + DP_NET_HDR_MAX, "payload", 7);
		memcpy(off + DP_NET_HDR_MAX, "payload", 7);
		size_t h = dp_net_udp_headers(&peer, soft + DP_NET_HDR_MAX, 7, sfu.mac, 5555, &dst,
					      false);

		CHECK_EQ(dp_net_udp_headers(&peer, off + DP_NET_HDR_MAX, 7, sfu.mac, 5555, &dst,
					    true),
			 h);
		uint8_t *us = soft + DP_NET_HDR_MAX - 8, *uo = off + DP_NET_HDR_MAX - 8;
		uint16_t done = dp_net_csum(uo, 15, 0); /* what the NIC writes */

		if (done == 0)
			done = 0xffff;
		CHECK_EQ(done, fh_rd16(us + 6));
		if (!v6)
			CHECK_EQ(fh_rd16(off + DP_NET_HDR_MAX - h + DP_ETH_HLEN + 10), 0);
	}
}

static void drops(void)
{
	struct dp_net_conf sfu = conf(2), peer = conf(1);
	uint8_t f[256];
	struct dp_net_rx rx;
	size_t n;

	/* every truncation of an IPv4/UDP frame, each under the reason the worker counts: too
	 * short for Ethernet and IPv4 headers, then shorter than the IP total length */
	for (size_t k = 0; k < 42; k++) {
		n = udp_frame(&peer, &sfu, false, f, "abc");
		dp_net_classify(&sfu, f, k, sizeof(f), &rx);
		CHECK(rx.verdict == DP_NET_DROP);
		CHECK_EQ(rx.drop, k < DP_ETH_HLEN + 20 ? FH_DROP_l2_runt : FH_DROP_ip_malformed);
	}
	n = udp_frame(&peer, &sfu, false, f, "abc");
	dp_net_classify(&sfu, f, n, n - 1, &rx); /* longer than its buffer says */
	CHECK(rx.verdict == DP_NET_DROP && rx.drop == FH_DROP_l2_runt);
	n = udp_frame(&peer, &sfu, false, f, "abc");
	f[0] = 0x04; /* another MAC */
	dp_net_classify(&sfu, f, n, sizeof(f), &rx);
	CHECK(rx.verdict == DP_NET_DROP && rx.drop == FH_DROP_l2_not_for_us);
	n = udp_frame(&peer, &sfu, false, f, "abc");
	f[12] = 0x88; /* unknown ethertype */
	dp_net_classify(&sfu, f, n, sizeof(f), &rx);
	CHECK(rx.verdict == DP_NET_DROP && rx.drop == FH_DROP_l2_ethertype);
	n = udp_frame(&peer, &sfu, false, f, "abc");
	f[DP_ETH_HLEN + 10] ^= 0xff; /* IP header checksum */
	dp_net_classify(&sfu, f, n, sizeof(f), &rx);
	CHECK(rx.verdict == DP_NET_DROP && rx.drop == FH_DROP_ip_malformed);
	n = udp_frame(&peer, &sfu, false, f, "abc");
	f[DP_ETH_HLEN + 6] = 0x20; /* more fragments, then fix the checksum */
	f[DP_ETH_HLEN + 10] = f[DP_ETH_HLEN + 11] = 0;
	uint16_t s = dp_net_csum(f + DP_ETH_HLEN, 20, 0);

	f[DP_ETH_HLEN + 10] = (uint8_t)(s >> 8);
	f[DP_ETH_HLEN + 11] = (uint8_t)s;
	dp_net_classify(&sfu, f, n, sizeof(f), &rx);
	CHECK(rx.verdict == DP_NET_DROP && rx.drop == FH_DROP_ip_fragment);
	sfu.port_lo = sfu.port_hi = 40000; /* 40001 is not ours any more */
	n = udp_frame(&peer, &sfu, true, f, "abc");
	dp_net_classify(&sfu, f, n, sizeof(f), &rx);
	CHECK(rx.verdict == DP_NET_DROP && rx.drop == FH_DROP_udp_port);
}

static void next_hop(void)
{
	struct dp_net_conf c = conf(2);
	struct fh_addr dst, hop;

	fh_addr_parse(&dst, "10.99.0.77", 1);
	CHECK_EQ(dp_net_next_hop(&c, &dst, &hop), 0);
	CHECK_EQ(hop.ip[3], 77);
	fh_addr_parse(&dst, "192.0.2.1", 1);
	CHECK_EQ(dp_net_next_hop(&c, &dst, &hop), -1); /* no gateway configured */
	c.has_gw4 = true;
	c.gw4[0] = 10, c.gw4[1] = 99, c.gw4[3] = 254;
	CHECK_EQ(dp_net_next_hop(&c, &dst, &hop), 0);
	CHECK_EQ(hop.ip[3], 254);
	fh_addr_parse(&dst, "fe80::1", 1);
	CHECK_EQ(dp_net_next_hop(&c, &dst, &hop), 0); /* link-local is on-link */
	/* prefixes that end inside a byte, and the ends of the range */
	c.ip4_prefix = 22; /* 10.99.0.0 - 10.99.3.255 */
	fh_addr_parse(&dst, "10.99.3.9", 1);
	CHECK_EQ(dp_net_next_hop(&c, &dst, &hop), 0);
	CHECK_EQ(hop.ip[2], 3);
	fh_addr_parse(&dst, "10.99.4.9", 1);
	CHECK_EQ(dp_net_next_hop(&c, &dst, &hop), 0);
	CHECK_EQ(hop.ip[3], 254); /* through the gateway */
	c.ip4_prefix = 32;
	fh_addr_parse(&dst, "10.99.0.3", 1);
	CHECK_EQ(dp_net_next_hop(&c, &dst, &hop), 0);
	CHECK_EQ(hop.ip[3], 254);
	c.ip4_prefix = 0; /* everything on-link */
	fh_addr_parse(&dst, "192.0.2.1", 1);
	CHECK_EQ(dp_net_next_hop(&c, &dst, &hop), 0);
	CHECK_EQ(hop.ip[0], 192);
	c.ip6_prefix = 63;
	fh_addr_parse(&dst, "fd99:0:0:1::5", 1); /* differs in bit 64 only */
	CHECK_EQ(dp_net_next_hop(&c, &dst, &hop), 0);
	CHECK_EQ(hop.ip[15], 5);
	c.ip6_prefix = 64;
	CHECK_EQ(dp_net_next_hop(&c, &dst, &hop), -1); /* off-link, no IPv6 gateway */
	c.ip6_prefix = 127;
	fh_addr_parse(&dst, "fd99::3", 1); /* fd99::2/127 holds ::2 and ::3 */
	CHECK_EQ(dp_net_next_hop(&c, &dst, &hop), 0);
	fh_addr_parse(&dst, "fd99::4", 1);
	CHECK_EQ(dp_net_next_hop(&c, &dst, &hop), -1);
	struct fh_addr a;
	uint8_t p;

	CHECK_EQ(dp_net_parse_prefix("10.0.0.2/8", &a, &p), 0);
	CHECK_EQ(p, 8);
	CHECK_EQ(dp_net_parse_prefix("10.0.0.2/33", &a, &p), -1);
	CHECK_EQ(dp_net_parse_prefix("fd00::2/", &a, &p), -1);
}

/* Datagrams of media size, odd and even, in both families: the checksums the sender writes
 * (summed from the header values and over the payload only) are right. */
static void udp_checksums_long(void)
{
	struct dp_net_conf sfu = conf(2), peer = conf(1);
	static uint8_t buf[DP_NET_HDR_MAX + 1500];
	static const size_t lens[] = {0, 1, 2, 63, 64, 65, 127, 1200, 1213, 1228, 1400};

	for (int v6 = 0; v6 < 2; v6++) {
		struct fh_addr dst = {.family = v6 ? FH_AF_INET6 : FH_AF_INET, .port = 40001};

		memcpy(dst.ip, v6 ? sfu.ip6 : sfu.ip4, v6 ? 16 : 4);
		for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
			uint8_t *payload = buf + DP_NET_HDR_MAX;

			for (size_t i = 0; i < lens[k]; i++)
				payload[i] = (uint8_t)(i * 37 + k * 11 + 0xa5);
			size_t h = dp_net_udp_headers(&peer, payload, lens[k], sfu.mac, 0xfffe,
						      &dst, false);

			CHECK_EQ(h, v6 ? 62u : 42u);
			CHECK(udp_sum_ok(payload - h, h + lens[k], v6));
		}
	}
}

/* The word-at-a-time checksum against RFC 1071 done byte pair by byte pair, every length and
 * alignment a datagram can have, with a running sum carried in. */
static void csum_matches_reference(void)
{
	static uint8_t buf[1600];
	unsigned bad = 0;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + (i >> 3) * 7 + 0xf0);
	for (size_t len = 0; len <= 1540; len++) {
		for (size_t off = 0; off < 4; off++) {
			const uint8_t *p = buf + off;

			if (dp_net_csum(p, len, 0x1234abcd) !=
			    (uint16_t)~ref_sum(p, len, 0x1234abcd))
				bad++;
		}
	}
	CHECK_EQ(bad, 0);
}

/* Recomputes the ICMPv6 checksum of an IPv6 frame after a test changed it. */
static void icmp6_fix_sum(uint8_t *f)
{
	uint8_t *ip = f + DP_ETH_HLEN, *icmp = ip + 40, ph[40] = {0};
	size_t plen = fh_rd16(ip + 4);

	memcpy(ph, ip + 8, 32);
	ph[34] = (uint8_t)(plen >> 8);
	ph[35] = (uint8_t)plen;
	ph[39] = 58;
	fh_wr16(icmp + 2, 0);
	fh_wr16(icmp + 2, (uint16_t)~ref_sum(icmp, plen, ref_sum(ph, 40, 0)));
}

/* Frames whose answer would go to many stations, to ourselves or to no port are dropped as
 * bad_source; an ARP probe and duplicate address detection are still answered. */
static void bad_sources(void)
{
	struct dp_net_conf sfu = conf(2), peer = conf(1);
	static const uint8_t bad4[][4] = {{224, 0, 0, 1}, {255, 255, 255, 255}, {0, 0, 0, 0},
					  {127, 0, 0, 1}, {10, 99, 0, 255},	{10, 99, 0, 2},
					  {240, 1, 2, 3}};
	static const char *bad6[] = {"ff02::1", "::1", "fd99::2"};
	uint8_t f[256];
	struct dp_net_rx rx;
	struct fh_addr a;
	uint8_t pfx;
	size_t n;

	for (size_t i = 0; i < sizeof(bad4) / sizeof(bad4[0]); i++) {
		struct dp_net_conf from = peer;

		memcpy(from.ip4, bad4[i], 4);
		n = udp_frame(&from, &sfu, false, f, "abc");
		dp_net_classify(&sfu, f, n, sizeof(f), &rx);
		CHECK(rx.verdict == DP_NET_DROP && rx.drop == FH_DROP_bad_source);
	}
	for (size_t i = 0; i < sizeof(bad6) / sizeof(bad6[0]); i++) {
		struct dp_net_conf from = peer;

		dp_net_parse_prefix(bad6[i], &a, &pfx);
		memcpy(from.ip6, a.ip, 16);
		n = udp_frame(&from, &sfu, true, f, "abc");
		dp_net_classify(&sfu, f, n, sizeof(f), &rx);
		CHECK(rx.verdict == DP_NET_DROP && rx.drop == FH_DROP_bad_source);
	}
	/* a good address behind a group or all-zero MAC */
	for (int k = 0; k < 2; k++) {
		n = udp_frame(&peer, &sfu, false, f, "abc");
		memset(f + 6, k ? 0 : 0xff, 6);
		dp_net_classify(&sfu, f, n, sizeof(f), &rx);
		CHECK(rx.verdict == DP_NET_DROP && rx.drop == FH_DROP_bad_source);
	}
	/* UDP from port 0 */
	struct fh_addr dst = {.family = FH_AF_INET, .port = 40001};

	memcpy(dst.ip, sfu.ip4, 4);
	memcpy(f + DP_NET_HDR_MAX, "abc", 3);
	n = dp_net_udp_headers(&peer, f + DP_NET_HDR_MAX, 3, sfu.mac, 0, &dst, false);
	dp_net_classify(&sfu, f + DP_NET_HDR_MAX - n, n + 3, sizeof(f) - DP_NET_HDR_MAX + n, &rx);
	CHECK(rx.verdict == DP_NET_DROP && rx.drop == FH_DROP_bad_source);

	/* ARP: a multicast sender hardware address is refused, a probe answered, not learned */
	struct fh_addr hop = {.family = FH_AF_INET, .ip = {10, 99, 0, 2}};

	n = dp_net_solicit(&peer, &hop, f, sizeof(f));
	f[DP_ETH_HLEN + 8] |= 1;
	dp_net_classify(&sfu, f, n, sizeof(f), &rx);
	CHECK(rx.verdict == DP_NET_DROP && rx.drop == FH_DROP_bad_source);
	n = dp_net_solicit(&peer, &hop, f, sizeof(f));
	memset(f + DP_ETH_HLEN + 14, 0, 4); /* RFC 5227 probe */
	dp_net_classify(&sfu, f, n, sizeof(f), &rx);
	CHECK_EQ(rx.verdict, DP_NET_REPLY);
	CHECK(!rx.learn && !memcmp(f, peer.mac, 6));
	n = dp_net_solicit(&peer, &hop, f, sizeof(f));
	memcpy(f + DP_ETH_HLEN + 14, (const uint8_t[4]){10, 99, 0, 255}, 4);
	dp_net_classify(&sfu, f, n, sizeof(f), &rx);
	CHECK(rx.verdict == DP_NET_DROP && rx.drop == FH_DROP_bad_source);

	/* ND: duplicate address detection (source ::, no option) is answered to all nodes */
	struct fh_addr hop6 = {.family = FH_AF_INET6};

	memcpy(hop6.ip, sfu.ip6, 16);
	n = dp_net_solicit(&peer, &hop6, f, sizeof(f));
	memset(f + DP_ETH_HLEN + 8, 0, 16);
	memset(f + DP_ETH_HLEN + 40 + 24, 0, 8);
	icmp6_fix_sum(f);
	dp_net_classify(&sfu, f, n, sizeof(f), &rx);
	CHECK_EQ(rx.verdict, DP_NET_REPLY);
	CHECK(!rx.learn && f[0] == 0x33 && f[5] == 1);
	/* a solicitation whose link-layer address option is a group address */
	n = dp_net_solicit(&peer, &hop6, f, sizeof(f));
	f[DP_ETH_HLEN + 40 + 26] |= 1;
	icmp6_fix_sum(f);
	dp_net_classify(&sfu, f, n, sizeof(f), &rx);
	CHECK(rx.verdict == DP_NET_DROP && rx.drop == FH_DROP_bad_source);
	/* an advertisement whose target link-layer address is a group address */
	n = dp_net_solicit(&peer, &hop6, f, sizeof(f));
	dp_net_classify(&sfu, f, n, sizeof(f), &rx);
	CHECK_EQ(rx.verdict, DP_NET_REPLY);
	n = rx.len;
	f[DP_ETH_HLEN + 40 + 26] = 0x01;
	icmp6_fix_sum(f);
	dp_net_classify(&peer, f, n, sizeof(f), &rx);
	CHECK(rx.verdict == DP_NET_DROP && rx.drop == FH_DROP_bad_source);
}

TEST_MAIN(csum_matches_reference, udp_checksums_long, arp_answered, nd_answered, udp_both_families,
	  offload_headers, drops, next_hop, bad_sources)
