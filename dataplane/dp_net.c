/*
 * dp_net: L2/L3 of the DPDK backend (see dp_net.h). Runs on the worker lcores for every frame
 * the port delivers. Every length is checked against the frame before it is read.
 *
 * Cost note: IP header and ICMP checksums are checked, UDP checksums only written (one pass
 * over the payload per sent datagram); ports with checksum offload can skip that later.
 */
#include "dp_net.h"
#include "fh_rtp.h" /* fh_rd16, fh_wr16 */

#include <arpa/inet.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ET_IP4 0x0800
#define ET_ARP 0x0806
#define ET_IP6 0x86DD
#define IPPROTO_UDP_ 17
#define IPPROTO_ICMP_ 1
#define IPPROTO_ICMP6_ 58
#define IPPROTO_FRAG6_ 44

/* Folds a sum of 16-bit host-order words to the big-endian one's complement sum, plus sum. */
static uint32_t fold_be(uint64_t s, uint32_t sum)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	s = (uint16_t)(s << 8 | s >> 8);
#endif
	s += sum;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

/* The tail (and all of it where no vector unit helps): eight bytes per step in host order
 * (the sum does not depend on byte order up to a final swap). */
static uint64_t sum_words(const uint8_t *p, size_t len, uint64_t s)
{
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		s += (v & 0xffffffffu) + (v >> 32);
	}
	for (; len >= 2; p += 2, len -= 2) {
		uint16_t v;

		memcpy(&v, p, 2);
		s += v;
	}
	if (len) {
		uint8_t last[2] = {p[0], 0};
		uint16_t v;

		memcpy(&v, last, 2);
		s += v;
	}
	return s;
}

#if defined(__x86_64__)
/* 32-bit words into 64-bit lanes (no carries to mind below 2^32 words), 64 bytes a step. */
__attribute__((target("avx2"))) static uint32_t sum16_avx2(const uint8_t *p, size_t len,
							   uint32_t sum)
{
	__m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256(),
		z = _mm256_setzero_si256();

	for (; len >= 64; p += 64, len -= 64) {
		__m256i v0 = _mm256_loadu_si256((const __m256i *)(const void *)p);
		__m256i v1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));

		a0 = _mm256_add_epi64(a0, _mm256_unpacklo_epi32(v0, z));
		a1 = _mm256_add_epi64(a1, _mm256_unpackhi_epi32(v0, z));
		a0 = _mm256_add_epi64(a0, _mm256_unpacklo_epi32(v1, z));
		a1 = _mm256_add_epi64(a1, _mm256_unpackhi_epi32(v1, z));
	}
	uint64_t l[4], s = 0;

	_mm256_storeu_si256((__m256i *)(void *)l, _mm256_add_epi64(a0, a1));
	for (int i = 0; i < 4; i++)
		s += (l[i] & 0xffffffffu) + (l[i] >> 32);
	return fold_be(sum_words(p, len, s), sum);
}
#endif

/* RFC 1071 one's complement sum of big-endian 16-bit words, added to sum. */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
#if defined(__x86_64__)
	static int avx2 = -1;

	if (avx2 < 0)
		avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
	if (avx2 && len >= 64)
		return sum16_avx2(p, len, sum);
#endif
	return fold_be(sum_words(p, len, 0), sum);
}

uint16_t dp_net_csum(const void *data, size_t len, uint32_t sum)
{
	return (uint16_t)~sum16(data, len, sum);
}

/* The big-endian 16-bit words of an address, added up (unfolded; the checksum folds). */
static inline uint32_t addr_words(const uint8_t *a, unsigned n)
{
	uint32_t s = 0;

	for (unsigned i = 0; i < n; i += 2)
		s += fh_rd16(a + i);
	return s;
}

static uint32_t pseudo4(const uint8_t *src, const uint8_t *dst, uint8_t proto, size_t len)
{
	return addr_words(src, 4) + addr_words(dst, 4) + proto + (uint32_t)len;
}

static uint32_t pseudo6(const uint8_t *src, const uint8_t *dst, uint8_t proto, size_t len)
{
	return addr_words(src, 16) + addr_words(dst, 16) + proto + (uint32_t)(len >> 16) +
	       (uint32_t)(len & 0xffff);
}

/* Whether the first `bits` bits of a and b agree. Runs for every sent datagram: a byte loop,
 * not memcmp (a call for its variable length, which cost more than the comparison). */
static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	for (unsigned i = 0; i < 16 && bits; i++) {
		unsigned take = bits < 8 ? bits : 8;

		if ((a[i] ^ b[i]) & (uint8_t)(0xff00u >> take))
			return false;
		bits -= take;
	}
	return true;
}

static bool on_link(const struct dp_net_conf *c, const struct fh_addr *a)
{
	if (a->family == FH_AF_INET)
		return c->has_ip4 && prefix_match(a->ip, c->ip4, c->ip4_prefix);
	if (a->ip[0] == 0xfe && (a->ip[1] & 0xc0) == 0x80)
		return true; /* link-local */
	return c->has_ip6 && prefix_match(a->ip, c->ip6, c->ip6_prefix);
}

int dp_net_next_hop(const struct dp_net_conf *c, const struct fh_addr *dst, struct fh_addr *hop)
{
	memset(hop, 0, sizeof(*hop));
	hop->family = dst->family;
	if (on_link(c, dst)) {
		memcpy(hop->ip, dst->ip, 16);
		return 0;
	}
	if (dst->family == FH_AF_INET && c->has_gw4) {
		memcpy(hop->ip, c->gw4, 4);
		return 0;
	}
	if (dst->family == FH_AF_INET6 && c->has_gw6) {
		memcpy(hop->ip, c->gw6, 16);
		return 0;
	}
	return -1;
}

static void drop(struct dp_net_rx *o, enum fh_drop why)
{
	o->verdict = DP_NET_DROP;
	o->drop = why;
}

/* A MAC address a station can have: not group (multicast, broadcast), not all zero. */
static inline bool mac_unicast(const uint8_t *m)
{
	uint32_t a;
	uint16_t b;

	memcpy(&a, m, 4), memcpy(&b, m + 4, 2);
	return !(m[0] & 1) && (a | b) != 0;
}

/*
 * Whether an IPv4 address can be a sender we answer: not 0.0.0.0/8, loopback, multicast,
 * reserved or the limited broadcast, not the broadcast address of our own subnet, not us.
 * Anything else would make us send to many hosts at once or to ourselves.
 */
static inline bool ip4_source_ok(const struct dp_net_conf *c, const uint8_t *a)
{
	uint32_t v = fh_rd32(a), me = fh_rd32(c->ip4);
	uint32_t host = c->ip4_prefix && c->ip4_prefix <= 30 ? 0xffffffffu >> c->ip4_prefix : 0;

	if ((v >> 24) == 0 || (v >> 24) == 127 || (v >> 24) >= 224 || v == me)
		return false;
	return !host || (v & ~host) != (me & ~host) || (v & host) != host;
}

/* The same for IPv6: not multicast, unspecified, loopback, not us. */
static bool ip6_source_ok(const struct dp_net_conf *c, const uint8_t *a)
{
	static const uint8_t zero[15];

	if (a[0] == 0xff)
		return false;
	if (!memcmp(a, zero, 15) && a[15] <= 1)
		return false;
	return memcmp(a, c->ip6, 16) != 0;
}

static void eth_reply(uint8_t *f, const struct dp_net_conf *c)
{
	memcpy(f, f + 6, 6);
	memcpy(f + 6, c->mac, 6);
}

static size_t pad60(uint8_t *f, size_t len, size_t cap)
{
	if (len < 60 && cap >= 60) {
		memset(f + len, 0, 60 - len);
		return 60;
	}
	return len;
}

static void arp(const struct dp_net_conf *c, uint8_t *f, size_t len, size_t cap,
		struct dp_net_rx *o)
{
	uint8_t *a = f + DP_ETH_HLEN;

	if (len < DP_ETH_HLEN + 28)
		return drop(o, FH_DROP_l2_runt);
	if (fh_rd16(a) != 1 || fh_rd16(a + 2) != ET_IP4 || a[4] != 6 || a[5] != 4)
		return drop(o, FH_DROP_l2_ethertype);
	if (!c->has_ip4 || memcmp(a + 24, c->ip4, 4) != 0)
		return drop(o, FH_DROP_l2_not_for_us);
	/* an ARP probe (RFC 5227) has sender 0.0.0.0: answered, not learned */
	bool probe = !(a[14] | a[15] | a[16] | a[17]);

	if (!mac_unicast(a + 8) || (!probe && !ip4_source_ok(c, a + 14)))
		return drop(o, FH_DROP_bad_source);
	o->peer.family = FH_AF_INET;
	memcpy(o->peer.ip, a + 14, 4);
	memcpy(o->mac, a + 8, 6);
	o->learn = !probe;
	o->reply_kind = DP_NET_ARP;
	if (fh_rd16(a + 6) == 2) {
		if (probe)
			return drop(o, FH_DROP_bad_source);
		o->verdict = DP_NET_LEARN;
		return;
	}
	if (fh_rd16(a + 6) != 1)
		return drop(o, FH_DROP_ip_other);
	memcpy(f, a + 8, 6);
	memcpy(f + 6, c->mac, 6);
	fh_wr16(a + 6, 2);
	memcpy(a + 18, a + 8, 10); /* target = the asker (MAC and IP) */
	memcpy(a + 8, c->mac, 6);
	memcpy(a + 14, c->ip4, 4);
	o->verdict = DP_NET_REPLY;
	o->len = (uint16_t)pad60(f, DP_ETH_HLEN + 28, cap);
}

static void udp_in(const struct dp_net_conf *c, const uint8_t *u, size_t avail, size_t off,
		   uint32_t pseudo, bool csum_required, struct dp_net_rx *o)
{
	if (avail < 8)
		return drop(o, FH_DROP_udp_malformed);
	uint16_t ulen = fh_rd16(u + 4), dport = fh_rd16(u + 2);

	if (ulen < 8 || ulen > avail)
		return drop(o, FH_DROP_udp_malformed);
	if (dport < c->port_lo || dport > c->port_hi)
		return drop(o, FH_DROP_udp_port);
	if (fh_rd16(u) == 0) /* no port to answer to */
		return drop(o, FH_DROP_bad_source);
	/* The UDP checksum is not verified: every payload we accept carries its own integrity
	 * check (STUN MESSAGE-INTEGRITY, DTLS record MACs, SRTP tags), and senders behind
	 * checksum offload (a veth, a VM's virtio) may hand over one that is not filled in yet. */
	(void)pseudo;
	(void)csum_required;
	o->peer.port = fh_rd16(u);
	o->dport = dport;
	o->off = (uint16_t)(off + 8);
	o->len = (uint16_t)(ulen - 8);
	o->verdict = DP_NET_UDP;
}

static void ipv4(const struct dp_net_conf *c, uint8_t *f, size_t len, struct dp_net_rx *o)
{
	uint8_t *ip = f + DP_ETH_HLEN;
	size_t avail = len - DP_ETH_HLEN;

	if (avail < 20)
		return drop(o, FH_DROP_l2_runt);
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4, tot = fh_rd16(ip + 2);

	if ((ip[0] >> 4) != 4 || ihl < 20 || ihl > avail || tot < ihl || tot > avail ||
	    dp_net_csum(ip, ihl, 0) != 0)
		return drop(o, FH_DROP_ip_malformed);
	if (!c->has_ip4 || memcmp(ip + 16, c->ip4, 4) != 0)
		return drop(o, FH_DROP_l2_not_for_us);
	if (fh_rd16(ip + 6) & 0x3fff)
		return drop(o, FH_DROP_ip_fragment);
	if (!ip4_source_ok(c, ip + 12))
		return drop(o, FH_DROP_bad_source);
	o->peer.family = FH_AF_INET;
	memcpy(o->peer.ip, ip + 12, 4);
	if (ip[9] == IPPROTO_UDP_) {
		return udp_in(c, ip + ihl, tot - ihl, DP_ETH_HLEN + ihl,
			      pseudo4(ip + 12, ip + 16, IPPROTO_UDP_, 0), false, o);
	}
	if (ip[9] != IPPROTO_ICMP_ || tot - ihl < 8 || ip[ihl] != 8)
		return drop(o, FH_DROP_ip_other);
	uint8_t *icmp = ip + ihl;

	if (dp_net_csum(icmp, tot - ihl, 0) != 0)
		return drop(o, FH_DROP_ip_malformed);
	/* echo request -> echo reply, in place */
	eth_reply(f, c);
	memcpy(ip + 16, ip + 12, 4);
	memcpy(ip + 12, c->ip4, 4);
	ip[8] = 64;
	fh_wr16(ip + 10, 0);
	fh_wr16(ip + 10, dp_net_csum(ip, ihl, 0));
	icmp[0] = 0;
	fh_wr16(icmp + 2, 0);
	fh_wr16(icmp + 2, dp_net_csum(icmp, tot - ihl, 0));
	o->verdict = DP_NET_REPLY;
	o->reply_kind = DP_NET_ICMP4;
	o->len = (uint16_t)(DP_ETH_HLEN + tot);
}

static bool is_solicited_node(const struct dp_net_conf *c, const uint8_t *d)
{
	static const uint8_t pre[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};

	return !memcmp(d, pre, 13) && !memcmp(d + 13, c->ip6 + 13, 3);
}

/*
 * Neighbour discovery frame (RFC 4861): Ethernet + IPv6 (hop limit 255) + 32 bytes of ICMPv6
 * (type, target, one link-layer address option with our MAC).
 */
static void write_nd(const struct dp_net_conf *c, uint8_t *f, const uint8_t *dst_mac,
		     const uint8_t *dst_ip, uint8_t type, uint8_t flags, const uint8_t *target,
		     uint8_t lla_option)
{
	uint8_t *ip = f + DP_ETH_HLEN, *icmp = ip + 40;

	memcpy(f, dst_mac, 6);
	memcpy(f + 6, c->mac, 6);
	fh_wr16(f + 12, ET_IP6);
	memset(ip, 0, 40);
	ip[0] = 0x60;
	fh_wr16(ip + 4, 32);
	ip[6] = IPPROTO_ICMP6_;
	ip[7] = 255;
	memcpy(ip + 8, c->ip6, 16);
	memcpy(ip + 24, dst_ip, 16);
	memset(icmp, 0, 32);
	icmp[0] = type;
	icmp[4] = flags;
	memcpy(icmp + 8, target, 16);
	icmp[24] = lla_option;
	icmp[25] = 1;
	memcpy(icmp + 26, c->mac, 6);
	fh_wr16(icmp + 2, dp_net_csum(icmp, 32, pseudo6(ip + 8, ip + 24, IPPROTO_ICMP6_, 32)));
}

static void write_na(const struct dp_net_conf *c, uint8_t *f, const uint8_t *dst_mac,
		     const uint8_t *dst_ip, bool solicited)
{
	/* S when answering a solicitation, O always; target link-layer address option */
	write_nd(c, f, dst_mac, dst_ip, 136, (uint8_t)((solicited ? 0x40 : 0) | 0x20), c->ip6, 2);
}

/* dad: a neighbour solicitation from :: (duplicate address detection), as ipv6() found */
static void icmp6(const struct dp_net_conf *c, uint8_t *f, size_t cap, uint8_t *ip, size_t plen,
		  bool to_unicast, bool dad, struct dp_net_rx *o)
{
	uint8_t *icmp = ip + 40;

	if (plen < 8)
		return drop(o, FH_DROP_l2_runt);
	if (dp_net_csum(icmp, plen, pseudo6(ip + 8, ip + 24, IPPROTO_ICMP6_, plen)) != 0)
		return drop(o, FH_DROP_ip_malformed);
	uint8_t type = icmp[0];

	if ((type == 135 || type == 136) && (ip[7] != 255 || plen < 24))
		return drop(o, FH_DROP_ip_malformed); /* RFC 4861 7.1.1 */
	if (type == 135) {
		if (memcmp(icmp + 8, c->ip6, 16) != 0)
			return drop(o, FH_DROP_l2_not_for_us);
		uint8_t dst_mac[6], dst_ip[16];

		memcpy(dst_mac, f + 6, 6);
		for (size_t off = 24; off + 8 <= plen && icmp[off + 1]; off += icmp[off + 1] * 8u) {
			if (icmp[off] == 1 && icmp[off + 1] == 1 && !dad) {
				if (!mac_unicast(icmp + off + 2))
					return drop(o, FH_DROP_bad_source);
				memcpy(o->mac, icmp + off + 2, 6);
				o->learn = true;
			}
		}
		if (dad) {
			static const uint8_t all_nodes[16] = {0xff, 2, 0, 0, 0, 0, 0, 0,
							      0,    0, 0, 0, 0, 0, 0, 1};
			static const uint8_t all_mac[6] = {0x33, 0x33, 0, 0, 0, 1};

			memcpy(dst_ip, all_nodes, 16);
			memcpy(dst_mac, all_mac, 6);
		} else {
			memcpy(dst_ip, ip + 8, 16);
			if (o->learn)
				memcpy(dst_mac, o->mac, 6);
		}
		if (cap < DP_ETH_HLEN + 40 + 32)
			return drop(o, FH_DROP_l2_runt);
		write_na(c, f, dst_mac, dst_ip, !dad);
		o->verdict = DP_NET_REPLY;
		o->reply_kind = DP_NET_ND;
		o->len = DP_ETH_HLEN + 40 + 32;
		return;
	}
	if (type == 136) {
		o->peer.family = FH_AF_INET6;
		memcpy(o->peer.ip, icmp + 8, 16);
		memcpy(o->mac, f + 6, 6);
		for (size_t off = 24; off + 8 <= plen && icmp[off + 1]; off += icmp[off + 1] * 8u)
			if (icmp[off] == 2 && icmp[off + 1] == 1)
				memcpy(o->mac, icmp + off + 2, 6);
		if (!mac_unicast(o->mac) || !ip6_source_ok(c, o->peer.ip))
			return drop(o, FH_DROP_bad_source);
		o->learn = true;
		o->verdict = DP_NET_LEARN;
		return;
	}
	if (type == 128 && to_unicast) {
		eth_reply(f, c);
		memcpy(ip + 24, ip + 8, 16);
		memcpy(ip + 8, c->ip6, 16);
		ip[7] = 64;
		icmp[0] = 129;
		fh_wr16(icmp + 2, 0);
		fh_wr16(icmp + 2,
			dp_net_csum(icmp, plen, pseudo6(ip + 8, ip + 24, IPPROTO_ICMP6_, plen)));
		o->verdict = DP_NET_REPLY;
		o->reply_kind = DP_NET_ICMP6;
		o->len = (uint16_t)(DP_ETH_HLEN + 40 + plen);
		return;
	}
	drop(o, FH_DROP_ip_other);
}

static void ipv6(const struct dp_net_conf *c, uint8_t *f, size_t len, size_t cap,
		 struct dp_net_rx *o)
{
	uint8_t *ip = f + DP_ETH_HLEN;
	size_t avail = len - DP_ETH_HLEN;

	if (avail < 40)
		return drop(o, FH_DROP_l2_runt);
	size_t plen = fh_rd16(ip + 4);

	if ((ip[0] >> 4) != 6 || plen + 40 > avail)
		return drop(o, FH_DROP_ip_malformed);
	if (!c->has_ip6)
		return drop(o, FH_DROP_l2_not_for_us);
	bool unicast = !memcmp(ip + 24, c->ip6, 16);

	if (!unicast && !is_solicited_node(c, ip + 24))
		return drop(o, FH_DROP_l2_not_for_us);
	/* the unspecified source is only for duplicate address detection (RFC 4861 7.1.1) */
	static const uint8_t any[16];
	bool dad =
		ip[6] == IPPROTO_ICMP6_ && plen >= 1 && ip[40] == 135 && !memcmp(ip + 8, any, 16);

	if (!dad && !ip6_source_ok(c, ip + 8))
		return drop(o, FH_DROP_bad_source);
	o->peer.family = FH_AF_INET6;
	memcpy(o->peer.ip, ip + 8, 16);
	if (ip[6] == IPPROTO_FRAG6_)
		return drop(o, FH_DROP_ip_fragment);
	if (ip[6] == IPPROTO_ICMP6_)
		return icmp6(c, f, cap, ip, plen, unicast, dad, o);
	if (ip[6] != IPPROTO_UDP_ || !unicast)
		return drop(o, FH_DROP_ip_other);
	udp_in(c, ip + 40, plen, DP_ETH_HLEN + 40, pseudo6(ip + 8, ip + 24, IPPROTO_UDP_, 0), true,
	       o);
}

/* Whether two MAC addresses are equal, in two fixed loads (memcmp of 6 bytes is a call). */
static inline bool mac_eq(const uint8_t *a, const uint8_t *b)
{
	uint32_t a4, b4;
	uint16_t a2, b2;

	memcpy(&a4, a, 4), memcpy(&b4, b, 4);
	memcpy(&a2, a + 4, 2), memcpy(&b2, b + 4, 2);
	return a4 == b4 && a2 == b2;
}

void dp_net_classify(const struct dp_net_conf *c, uint8_t *f, size_t len, size_t cap,
		     struct dp_net_rx *o)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	memset(o, 0, sizeof(*o));
	o->reply_kind = DP_NET_NONE;
	if (len < DP_ETH_HLEN || len > cap)
		return drop(o, FH_DROP_l2_runt);
	if (!mac_eq(f, c->mac) && !mac_eq(f, bcast) && !(f[0] == 0x33 && f[1] == 0x33))
		return drop(o, FH_DROP_l2_not_for_us);
	if (!mac_unicast(f + 6)) /* answers would go to every station of the segment */
		return drop(o, FH_DROP_bad_source);
	memcpy(o->mac, f + 6, 6);
	switch (fh_rd16(f + 12)) {
	case ET_ARP:
		return arp(c, f, len, cap, o);
	case ET_IP4:
		return ipv4(c, f, len, o);
	case ET_IP6:
		return ipv6(c, f, len, cap, o);
	default:
		return drop(o, FH_DROP_l2_ethertype);
	}
}

/* The UDP header after an IP header; ph is the pseudo-header sum without the length. The sum
 * over the header is taken from the values, not read back from the bytes just stored (a wide
 * load over fresh narrow stores stalls the core), and only the payload is read. */
static void udp_header(uint8_t *u, uint16_t sport, const struct fh_addr *dst, size_t ulen,
		       uint32_t ph, bool csum_offload)
{
	fh_wr16(u, sport);
	fh_wr16(u + 2, dst->port);
	fh_wr16(u + 4, (uint16_t)ulen);
	ph += (uint32_t)ulen;
	if (csum_offload) {
		/* the NIC finishes it, starting from the pseudo-header sum */
		fh_wr16(u + 6, (uint16_t)sum16(NULL, 0, ph));
		return;
	}
	ph += (uint32_t)sport + dst->port + (uint32_t)ulen;
	uint16_t s = dp_net_csum(u + 8, ulen - 8, ph);

	fh_wr16(u + 6, s ? s : 0xffff); /* 0 would mean "no checksum" */
}

size_t dp_net_udp_headers(const struct dp_net_conf *c, uint8_t *payload, size_t payload_len,
			  const uint8_t dst_mac[6], uint16_t sport, const struct fh_addr *dst,
			  bool csum_offload)
{
	size_t ulen = payload_len + 8;

	if (dst->family == FH_AF_INET) {
		if (!c->has_ip4)
			return 0;
		uint8_t *f = payload - 42, *ip = f + DP_ETH_HLEN, *u = ip + 20;
		uint32_t addrs = pseudo4(c->ip4, dst->ip, 0, 0);

		memcpy(f, dst_mac, 6);
		memcpy(f + 6, c->mac, 6);
		fh_wr16(f + 12, ET_IP4);
		ip[0] = 0x45;
		ip[1] = 0;
		fh_wr16(ip + 2, (uint16_t)(20 + ulen));
		fh_wr16(ip + 4, 0);
		fh_wr16(ip + 6, 0x4000); /* DF */
		ip[8] = 64;
		ip[9] = IPPROTO_UDP_;
		memcpy(ip + 12, c->ip4, 4);
		memcpy(ip + 16, dst->ip, 4);
		/* the NIC fills it with offload; else the words above, summed from their values */
		fh_wr16(ip + 10, csum_offload ? 0
					      : (uint16_t)~sum16(NULL, 0,
								 addrs + 0x4500u + 0x4000u +
									 (64u << 8 | IPPROTO_UDP_) +
									 (uint32_t)(20 + ulen)));
		udp_header(u, sport, dst, ulen, addrs + IPPROTO_UDP_, csum_offload);
		return 42;
	}
	if (!c->has_ip6)
		return 0;
	uint8_t *f = payload - 62, *ip = f + DP_ETH_HLEN, *u = ip + 40;

	memcpy(f, dst_mac, 6);
	memcpy(f + 6, c->mac, 6);
	fh_wr16(f + 12, ET_IP6);
	memset(ip, 0, 8);
	ip[0] = 0x60;
	fh_wr16(ip + 4, (uint16_t)ulen);
	ip[6] = IPPROTO_UDP_;
	ip[7] = 64;
	memcpy(ip + 8, c->ip6, 16);
	memcpy(ip + 24, dst->ip, 16);
	/* UDP over IPv6 always carries a checksum */
	udp_header(u, sport, dst, ulen, pseudo6(c->ip6, dst->ip, IPPROTO_UDP_, 0), csum_offload);
	return 62;
}

size_t dp_net_solicit(const struct dp_net_conf *c, const struct fh_addr *hop, uint8_t *f,
		      size_t cap)
{
	if (hop->family == FH_AF_INET) {
		if (!c->has_ip4 || cap < 60)
			return 0;
		uint8_t *a = f + DP_ETH_HLEN;

		memset(f, 0xff, 6);
		memcpy(f + 6, c->mac, 6);
		fh_wr16(f + 12, ET_ARP);
		fh_wr16(a, 1);
		fh_wr16(a + 2, ET_IP4);
		a[4] = 6;
		a[5] = 4;
		fh_wr16(a + 6, 1);
		memcpy(a + 8, c->mac, 6);
		memcpy(a + 14, c->ip4, 4);
		memset(a + 18, 0, 6);
		memcpy(a + 24, hop->ip, 4);
		return pad60(f, DP_ETH_HLEN + 28, cap);
	}
	if (!c->has_ip6 || cap < DP_ETH_HLEN + 40 + 32)
		return 0;
	uint8_t snm[16] = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
	uint8_t mac[6] = {0x33, 0x33};

	/* to the target's solicited-node multicast group, with our source link-layer address */
	memcpy(snm + 13, hop->ip + 13, 3);
	memcpy(mac + 2, snm + 12, 4);
	write_nd(c, f, mac, snm, 135, 0, hop->ip, 1);
	return DP_ETH_HLEN + 40 + 32;
}

int dp_net_parse_prefix(const char *s, struct fh_addr *a, uint8_t *prefix)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	char *end;

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (fh_addr_parse(a, buf, 0) < 0)
		return -1;
	unsigned max = a->family == FH_AF_INET ? 32 : 128;
	unsigned long p = max;

	if (slash) {
		p = strtoul(slash + 1, &end, 10);
		if (*end || slash[1] == '\0' || p == 0 || p > max)
			return -1;
	}
	*prefix = (uint8_t)p;
	return 0;
}
