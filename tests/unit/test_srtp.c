/*
 * SRTP engines: RFC 3711 key derivation and AES-CM vectors, RFC 7714 AEAD_AES_128_GCM vectors
 * (RTP and RTCP), and libsrtp2 and the cryptodev engine agreeing bit for bit in both directions
 * for both profiles, across sequence wraps and rollover counters, with varying header
 * lengths; replayed and tampered packets rejected by both, each counted under its own reason,
 * and a packet the engine cannot take counted as the engine's failure.
 *
 * The cryptodev engine runs on the crypto PMDs the machine has (crypto_aesni_mb, else
 * crypto_openssl); each is tested when it can be made.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <srtp2/srtp.h>

#include "dp_srtp.h"
#include "fh_rtp.h"
#include "fh_srtp.h"
#include "fh_test.h"

static struct rte_mempool *pool;

static size_t unhex(const char *s, uint8_t *out)
{
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int v = (*s >= '0' && *s <= '9')   ? *s - '0'
			: (*s >= 'a' && *s <= 'f') ? *s - 'a' + 10
			: (*s >= 'A' && *s <= 'F') ? *s - 'A' + 10
						   : -1;
		if (v < 0)
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	return n;
}

static struct rte_mbuf *mbuf_of(const uint8_t *d, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);

	memcpy(rte_pktmbuf_mtod(m, void *), d, len);
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	return m;
}

/* d in an mbuf with only tail bytes of room after it. */
static struct rte_mbuf *mbuf_at_end(const uint8_t *d, size_t len, unsigned tail)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);

	m->data_off = (uint16_t)(m->buf_len - len - tail);
	memcpy(rte_pktmbuf_mtod(m, void *), d, len);
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	return m;
}

/* One packet through one engine; the status, with m holding the result. */
static int run1(struct dp_srtp_engine *e, struct dp_srtp_sess *s, struct rte_mbuf *m, bool rtcp,
		bool protect)
{
	struct dp_srtp_op op = {.s = s, .m = m, .rtcp = rtcp};

	if (protect)
		dp_srtp_protect(e, &op, 1);
	else
		dp_srtp_unprotect(e, &op, 1);
	return op.status;
}

static bool same(struct rte_mbuf *m, const uint8_t *d, size_t len)
{
	return m->data_len == len && memcmp(rte_pktmbuf_mtod(m, void *), d, len) == 0;
}

static void test_kdf_rfc3711(void)
{
	/* RFC 3711 B.3 */
	uint8_t master[30], want[20];
	struct dp_srtp_keys k;

	unhex("E1F97A0D3E018BE0D64FA32C06DE4139 0EC675AD498AFEEBB6960B3AABE6", master);
	CHECK_EQ(dp_srtp_derive(FH_SRTP_AES128_CM_SHA1_80, master, 30, &k), 0);
	unhex("C61E7A93744F39EE10734AFE3FF7A087", want);
	CHECK(memcmp(k.rtp_key, want, 16) == 0);
	unhex("30CBBC08863D8C85D49DB34A9AE1", want);
	CHECK(memcmp(k.rtp_salt, want, 14) == 0);
	unhex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4", want);
	CHECK(memcmp(k.rtp_auth, want, 20) == 0);
	CHECK_EQ(dp_srtp_derive(FH_SRTP_AES128_CM_SHA1_80, master, 28, &k), -1);
}

static void test_estimate_and_replay(void)
{
	struct dp_srtp_replay r = {0};

	CHECK_EQ(dp_srtp_estimate(0, false, 65000), 65000);
	CHECK_EQ(dp_srtp_estimate(65000, true, 10), 65536 + 10);    /* wrap forward */
	CHECK_EQ(dp_srtp_estimate(65536 + 10, true, 65000), 65000); /* late, old ROC */
	CHECK_EQ(dp_srtp_estimate(3 * 65536 + 40000, true, 100), 4 * 65536 + 100);
	CHECK_EQ(dp_srtp_estimate(100, true, 65000), 65000); /* ROC 0 never goes below 0 */

	CHECK_EQ(dp_srtp_replay_check(&r, 5), 0);
	dp_srtp_replay_add(&r, 5);
	CHECK_EQ(dp_srtp_replay_check(&r, 5), -1);
	CHECK_EQ(dp_srtp_replay_check(&r, 4), 0);
	dp_srtp_replay_add(&r, 200);
	CHECK_EQ(dp_srtp_replay_check(&r, 5), -1); /* older than the window */
	CHECK_EQ(dp_srtp_replay_check(&r, 73), 0);
	dp_srtp_replay_add(&r, 73);
	CHECK_EQ(dp_srtp_replay_check(&r, 73), -1);
	dp_srtp_replay_add(&r, 230); /* shifts 73 across the word boundary */
	CHECK_EQ(dp_srtp_replay_check(&r, 200), -1);
	CHECK_EQ(dp_srtp_replay_check(&r, 199), 0);
	CHECK_EQ(dp_srtp_replay_check(&r, 102), -1); /* 128 behind: too old */
}

static void test_vectors(struct dp_srtp_engine *e)
{
	uint8_t plain[128], prot[128], buf[128];
	size_t pl, pr;
	struct dp_srtp_keys k = {0};
	struct dp_srtp_sess *s;
	struct rte_mbuf *m;

	/* RFC 3711 B.2: the AES-CM keystream for SSRC 0, index 0 */
	unhex("2B7E151628AED2A6ABF7158809CF4F3C", k.rtp_key);
	unhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD", k.rtp_salt);
	s = dp_srtp_sess_new_keys(e, FH_SRTP_AES128_CM_SHA1_80, &k, &k);
	CHECK(s != NULL);
	memset(buf, 0, sizeof(buf));
	buf[0] = 0x80;
	m = mbuf_of(buf, 12 + 48);
	CHECK_EQ(run1(e, s, m, false, true), DP_SRTP_OK);
	pl = unhex("E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB"
		   "41E95B3BB0A2E8DD477901E4FCA894C0",
		   plain);
	CHECK_EQ(m->data_len, 12 + 48 + 10);
	CHECK(memcmp(rte_pktmbuf_mtod_offset(m, uint8_t *, 12), plain, pl) == 0);
	rte_pktmbuf_free(m);
	dp_srtp_sess_free(e, s);

	/* RFC 7714 16.1 and 16.2 (17.1 vectors for SRTCP): session key and salt given */
	memset(&k, 0, sizeof(k));
	unhex("000102030405060708090a0b0c0d0e0f", k.rtp_key);
	unhex("517569642070726f2071756f", k.rtp_salt);
	memcpy(k.rtcp_key, k.rtp_key, 16);
	memcpy(k.rtcp_salt, k.rtp_salt, 12);
	s = dp_srtp_sess_new_keys(e, FH_SRTP_AEAD_AES_128_GCM, &k, &k);
	CHECK(s != NULL);
	pl = unhex("8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973"
		   "20646976 69736120 696e2070 61727465 73207472 6573",
		   plain);
	pr = unhex("8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca"
		   "be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf 8833 899d7f27 beb16a91"
		   "52cf765e e4390cce",
		   prot);
	m = mbuf_of(plain, pl);
	CHECK_EQ(run1(e, s, m, false, true), DP_SRTP_OK);
	CHECK(same(m, prot, pr));
	CHECK_EQ(run1(e, s, m, false, false), DP_SRTP_OK);
	CHECK(same(m, plain, pl));
	rte_pktmbuf_free(m);
	m = mbuf_of(prot, pr);
	CHECK_EQ(run1(e, s, m, false, false), DP_SRTP_REPLAY); /* seen just now */
	rte_pktmbuf_free(m);

	pl = unhex("81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61"
		   "deadbeef deadbeef deadbeef deadbeef deadbeef",
		   plain);
	pr = unhex("81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d"
		   "c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872"
		   "45d9eade 800005d4",
		   prot);
	prot[20] ^= 1;
	m = mbuf_of(prot, pr);
	CHECK_EQ(run1(e, s, m, true, false), DP_SRTP_AUTH);
	rte_pktmbuf_free(m);
	prot[20] ^= 1;
	m = mbuf_of(prot, pr);
	CHECK_EQ(run1(e, s, m, true, false), DP_SRTP_OK);
	CHECK(same(m, plain, pl));
	rte_pktmbuf_free(m);
	m = mbuf_of(prot, pr);
	CHECK_EQ(run1(e, s, m, true, false), DP_SRTP_REPLAY);
	rte_pktmbuf_free(m);
	dp_srtp_sess_free(e, s);
}

/* An RTP packet: CSRCs and a one-byte-header extension by i, payload length by i. */
static size_t make_rtp(uint8_t *p, unsigned i, uint16_t seq, uint32_t ssrc)
{
	unsigned cc = i % 3, ext = (i / 3) % 3, pay = 1 + (i * 37) % 1200;
	size_t n = 12;

	p[0] = (uint8_t)(0x80 | (ext ? 0x10 : 0) | cc);
	p[1] = 96;
	fh_wr16(p + 2, seq);
	fh_wr32(p + 4, i * 3000u);
	fh_wr32(p + 8, ssrc);
	for (unsigned c = 0; c < cc; c++, n += 4)
		fh_wr32(p + n, 0x1000 + c);
	if (ext) {
		fh_wr16(p + n, 0xbede);
		fh_wr16(p + n + 2, (uint16_t)ext);
		memset(p + n + 4, 0x22, 4 * ext);
		n += 4 + 4 * ext;
	}
	for (unsigned b = 0; b < pay; b++)
		p[n + b] = (uint8_t)(i + b);
	return n + pay;
}

static size_t make_rtcp(uint8_t *p, unsigned i, uint32_t ssrc)
{
	/* a receiver report with one block, then a PLI */
	size_t n = fh_rtcp_build_rr(
		p, 64, ssrc, &(struct fh_rtcp_report_block){.ssrc = 0x1234, .ext_highest_seq = i},
		1);

	return n + fh_rtcp_build_pli(p + n, 64, ssrc, 0x1234 + i);
}

/* a's output must equal b's for every packet, and each must decrypt the other's. */
static void cross(struct dp_srtp_engine *lib, struct dp_srtp_engine *cd, enum fh_srtp_profile prof)
{
	uint8_t k1[FH_KEY_MAX], k2[FH_KEY_MAX], pkt[1400];
	size_t kl = fh_srtp_key_len(prof);

	for (size_t i = 0; i < kl; i++)
		k1[i] = (uint8_t)(i * 7 + 1), k2[i] = (uint8_t)(i * 13 + 5);
	/* both engines send with k1 and receive with k1, so outputs must match byte for byte */
	struct dp_srtp_sess *ls = dp_srtp_sess_new(lib, prof, k1, k1, kl);
	struct dp_srtp_sess *cs = dp_srtp_sess_new(cd, prof, k1, k1, kl);
	/* a second pair where each receives what the other sends */
	struct dp_srtp_sess *ls2 = dp_srtp_sess_new(lib, prof, k2, k1, kl);
	struct dp_srtp_sess *cs2 = dp_srtp_sess_new(cd, prof, k1, k2, kl);
	unsigned mismatch = 0, bad = 0, n = 0;
	uint16_t seq = 65000;

	CHECK(ls && cs && ls2 && cs2);
	if (!ls || !cs || !ls2 || !cs2)
		return;
	CHECK(dp_srtp_sess_new(cd, prof, k1, k1, kl - 1) == NULL);
	/* 280 in a row across a wrap, then strides of 9000 through five more rollovers */
	for (unsigned i = 0; i < 640; i++, n++) {
		size_t len = make_rtp(pkt, i, seq, 0xabc00000u + (i % 2));
		struct rte_mbuf *a = mbuf_of(pkt, len), *b = mbuf_of(pkt, len);

		if (i % 2)
			seq = (uint16_t)(seq + (i < 560 ? 1 : 9000));
		CHECK_EQ(run1(lib, ls, a, false, true), DP_SRTP_OK);
		CHECK_EQ(run1(cd, cs, b, false, true), DP_SRTP_OK);
		if (a->data_len != b->data_len ||
		    memcmp(rte_pktmbuf_mtod(a, void *), rte_pktmbuf_mtod(b, void *), a->data_len))
			mismatch++;
		/* libsrtp's packet through cryptodev and back */
		if (run1(cd, cs, a, false, false) != DP_SRTP_OK || !same(a, pkt, len))
			bad++;
		if (run1(lib, ls, b, false, false) != DP_SRTP_OK || !same(b, pkt, len))
			bad++;
		rte_pktmbuf_free(a);
		rte_pktmbuf_free(b);
	}
	CHECK_EQ(mismatch, 0);
	CHECK_EQ(bad, 0);
	/* SRTCP: the same index sequence from 1 on both sides */
	mismatch = bad = 0;
	for (unsigned i = 0; i < 50; i++) {
		size_t len = make_rtcp(pkt, i, 0x5150u + (i % 3));
		struct rte_mbuf *a = mbuf_of(pkt, len), *b = mbuf_of(pkt, len);

		CHECK_EQ(run1(lib, ls, a, true, true), DP_SRTP_OK);
		CHECK_EQ(run1(cd, cs, b, true, true), DP_SRTP_OK);
		if (a->data_len != b->data_len ||
		    memcmp(rte_pktmbuf_mtod(a, void *), rte_pktmbuf_mtod(b, void *), a->data_len))
			mismatch++;
		if (run1(cd, cs, a, true, false) != DP_SRTP_OK || !same(a, pkt, len))
			bad++;
		if (run1(lib, ls, b, true, false) != DP_SRTP_OK || !same(b, pkt, len))
			bad++;
		rte_pktmbuf_free(a);
		rte_pktmbuf_free(b);
	}
	CHECK_EQ(mismatch, 0);
	CHECK_EQ(bad, 0);

	/* replayed and tampered, each engine receiving from the other, RTP and RTCP */
	struct {
		struct dp_srtp_engine *tx_e, *rx_e;
		struct dp_srtp_sess *tx, *rx;
	} dir[2] = {{lib, cd, ls2, cs2}, {cd, lib, cs2, ls2}};

	for (int d = 0; d < 2; d++) {
		for (int rtcp = 0; rtcp < 2; rtcp++) {
			size_t len = rtcp ? make_rtcp(pkt, 7, 0x77) : make_rtp(pkt, 7, 100, 0x77);
			struct rte_mbuf *a = mbuf_of(pkt, len);

			CHECK_EQ(run1(dir[d].tx_e, dir[d].tx, a, rtcp, true), DP_SRTP_OK);
			uint8_t wire[1400];
			size_t wl = a->data_len;

			memcpy(wire, rte_pktmbuf_mtod(a, void *), wl);
			struct rte_mbuf *t = mbuf_of(wire, wl);

			rte_pktmbuf_mtod(t, uint8_t *)[wl / 2] ^= 0x40; /* tampered */
			int st = run1(dir[d].rx_e, dir[d].rx, t, rtcp, false);

			CHECK_EQ(st, DP_SRTP_AUTH);
			CHECK_EQ(dp_srtp_unprotect_drop(st, rtcp),
				 rtcp ? FH_DROP_srtcp_auth_fail : FH_DROP_srtp_auth_fail);
			rte_pktmbuf_free(t);
			if (dir[d].rx_e == cd) {
				/* no room for the trailer work: the engine cannot take it, which is
				 * counted as the engine's failure and never as a forgery */
				t = mbuf_at_end(wire, wl, DP_SRTP_TRAILER_MAX - 1);
				st = run1(cd, dir[d].rx, t, rtcp, false);
				CHECK_EQ(st, DP_SRTP_FAIL);
				CHECK_EQ(dp_srtp_unprotect_drop(st, rtcp),
					 FH_DROP_srtp_engine_fail);
				rte_pktmbuf_free(t);
			}
			t = mbuf_of(wire, wl - 1); /* tag cut short */
			CHECK(run1(dir[d].rx_e, dir[d].rx, t, rtcp, false) != DP_SRTP_OK);
			rte_pktmbuf_free(t);
			CHECK_EQ(run1(dir[d].rx_e, dir[d].rx, a, rtcp, false), DP_SRTP_OK);
			CHECK(same(a, pkt, len));
			rte_pktmbuf_free(a);
			a = mbuf_of(wire, wl); /* the same again */
			CHECK_EQ(run1(dir[d].rx_e, dir[d].rx, a, rtcp, false), DP_SRTP_REPLAY);
			rte_pktmbuf_free(a);
		}
	}

	/* a batch: 48 packets and a copy of one of them; the copy fails the replay check */
	struct dp_srtp_op ops[49];
	uint8_t wire[49][1400];
	size_t wl[49];

	for (unsigned i = 0; i < 48; i++) {
		size_t len = make_rtp(pkt, i, (uint16_t)(500 + i), 0x99);

		ops[i] = (struct dp_srtp_op){.s = ls2, .m = mbuf_of(pkt, len)};
	}
	dp_srtp_protect(lib, ops, 48);
	for (unsigned i = 0; i < 48; i++) {
		wl[i] = ops[i].m->data_len;
		memcpy(wire[i], rte_pktmbuf_mtod(ops[i].m, void *), wl[i]);
		rte_pktmbuf_free(ops[i].m);
		ops[i] = (struct dp_srtp_op){.s = cs2, .m = mbuf_of(wire[i], wl[i])};
	}
	ops[48] = (struct dp_srtp_op){.s = cs2, .m = mbuf_of(wire[10], wl[10])};
	dp_srtp_unprotect(cd, ops, 49);
	unsigned ok = 0;

	for (unsigned i = 0; i < 49; i++) {
		ok += ops[i].status == DP_SRTP_OK;
		rte_pktmbuf_free(ops[i].m);
	}
	CHECK_EQ(ok, 48);
	CHECK_EQ(ops[48].status, DP_SRTP_REPLAY);

	dp_srtp_sess_free(lib, ls);
	dp_srtp_sess_free(cd, cs);
	dp_srtp_sess_free(lib, ls2);
	dp_srtp_sess_free(cd, cs2);
}

/* Protect from a source packet (the forwarding path): m has a rewritten header only, src the
 * payload. Each engine's output must equal libsrtp's protect of the whole rewritten packet. */
static void from_source(struct dp_srtp_engine *lib, struct dp_srtp_engine *cd,
			enum fh_srtp_profile prof)
{
	uint8_t k[FH_KEY_MAX], pkt[1400];
	size_t kl = fh_srtp_key_len(prof);

	for (size_t i = 0; i < kl; i++)
		k[i] = (uint8_t)(i * 5 + 3);
	struct dp_srtp_sess *ref = dp_srtp_sess_new(lib, prof, k, k, kl);
	struct dp_srtp_sess *ls = dp_srtp_sess_new(lib, prof, k, k, kl);
	struct dp_srtp_sess *cs = dp_srtp_sess_new(cd, prof, k, k, kl);
	unsigned bad = 0;

	CHECK(ref && ls && cs);
	if (!ref || !ls || !cs)
		return;
	for (unsigned i = 0; i < 60; i++) {
		size_t len = make_rtp(pkt, i, (uint16_t)(65500 + i), 0x4242);
		struct rte_mbuf *src = mbuf_of(pkt, len);
		unsigned hl = 12u + 4u * (pkt[0] & 0x0f);

		if (pkt[0] & 0x10)
			hl += 4u + 4u * fh_rd16(pkt + hl + 2);
		/* the copy a receiver gets: own SSRC, sequence and payload type */
		fh_rtp_set_ssrc(pkt, 0x7777);
		fh_rtp_set_seq(pkt, (uint16_t)(100 + i));
		pkt[1] = 111;
		struct rte_mbuf *want = mbuf_of(pkt, len), *a = mbuf_of(pkt, hl),
				*b = mbuf_of(pkt, hl);

		a->data_len = b->data_len = (uint16_t)len;
		a->pkt_len = b->pkt_len = (uint32_t)len;
		struct dp_srtp_op oa = {.s = ls, .m = a, .src = src};
		struct dp_srtp_op ob = {.s = cs, .m = b, .src = src};

		CHECK_EQ(run1(lib, ref, want, false, true), DP_SRTP_OK);
		dp_srtp_protect(lib, &oa, 1);
		dp_srtp_protect(cd, &ob, 1);
		if (oa.status != DP_SRTP_OK || ob.status != DP_SRTP_OK ||
		    !same(a, rte_pktmbuf_mtod(want, uint8_t *), want->data_len) ||
		    !same(b, rte_pktmbuf_mtod(want, uint8_t *), want->data_len))
			bad++;
		rte_pktmbuf_free(src);
		rte_pktmbuf_free(want);
		rte_pktmbuf_free(a);
		rte_pktmbuf_free(b);
	}
	CHECK_EQ(bad, 0);
	dp_srtp_sess_free(lib, ref);
	dp_srtp_sess_free(lib, ls);
	dp_srtp_sess_free(cd, cs);
}

static void test_engines(void)
{
	char err[256];
	struct dp_srtp_engine *lib =
		dp_srtp_engine_new(DP_SRTP_LIBSRTP, 0, 0, 64, NULL, err, sizeof(err));
	/* the default choice (crypto_aesni_gcm for GCM, crypto_aesni_mb for AES-CM), then each
	 * PMD alone for both profiles */
	const char *pmds[] = {NULL, "crypto_aesni_mb", "crypto_openssl"};
	unsigned tested = 0;

	CHECK(lib != NULL);
	CHECK(dp_srtp_engine_new(DP_SRTP_CRYPTODEV, 9, 0, 4, "crypto_nothing", err, sizeof(err)) ==
	      NULL);
	CHECK_STR_CONTAINS(err, "crypto_nothing");
	for (unsigned i = 0; i < 3; i++) {
		struct dp_srtp_engine *cd =
			dp_srtp_engine_new(DP_SRTP_CRYPTODEV, i, 0, 64, pmds[i], err, sizeof(err));

		if (!cd) {
			printf("SKIP %s: %s\n", pmds[i] ? pmds[i] : "default PMDs", err);
			continue;
		}
		printf("%s\n", dp_srtp_engine_name(cd));
		test_vectors(cd);
		cross(lib, cd, FH_SRTP_AEAD_AES_128_GCM);
		cross(lib, cd, FH_SRTP_AES128_CM_SHA1_80);
		from_source(lib, cd, FH_SRTP_AEAD_AES_128_GCM);
		from_source(lib, cd, FH_SRTP_AES128_CM_SHA1_80);
		dp_srtp_engine_free(cd);
		tested++;
	}
	/* the Debian DPDK package has both; no cryptodev at all would be a broken install */
	CHECK(tested > 0);
	dp_srtp_engine_free(lib);
}

static void setup(void)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "--file-prefix=fh-test-srtp-%d", (int)getpid());
	char *eal[] = {"test_srtp",	 "--no-huge",	      "--no-pci", "-m",		  "512",
		       "--no-telemetry", "--log-level=error", prefix,	  "--lcores=0@0", NULL};

	CHECK(rte_eal_init(9, eal) >= 0);
	CHECK(srtp_init() == srtp_err_status_ok);
	pool = rte_pktmbuf_pool_create("t", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	CHECK(pool != NULL);
}

static void teardown(void)
{
	rte_mempool_free(pool);
	rte_eal_cleanup();
}

TEST_MAIN(setup, test_kdf_rfc3711, test_estimate_and_replay, test_engines, teardown)
