/*
 * libFuzzer target: the SRTP engines on untrusted bytes. The first byte picks the engine
 * (libsrtp2 or cryptodev), the profile and RTP or RTCP; the rest is a datagram.
 *  - unprotect of it must never crash or read or write outside the packet, and on success
 *    only shrink it;
 *  - protect of it as plaintext (when it is one) through the cryptodev engine, then unprotect
 *    through a session with the same key, must give it back unless it is a replay.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <srtp2/srtp.h>

#include "dp_srtp.h"
#include "fh_srtp.h"

static struct rte_mempool *pool;
static struct dp_srtp_engine *eng[2];	     /* libsrtp2, cryptodev */
static struct dp_srtp_sess *rx[2][2];	     /* [engine][profile]: what a peer sends us */
static struct dp_srtp_sess *tx[2], *back[2]; /* cryptodev round trip: sender, receiver */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char prefix[64], err[256];
	uint8_t k[FH_KEY_MAX];

	(void)argc, (void)argv;
	snprintf(prefix, sizeof(prefix), "--file-prefix=fh-fuzz-srtp-%d", (int)getpid());
	char *eal[] = {"fuzz_srtp",	 "--no-huge",	      "--no-pci", "-m",		  "256",
		       "--no-telemetry", "--log-level=error", prefix,	  "--lcores=0@0", NULL};

	if (rte_eal_init(9, eal) < 0 || srtp_init() != srtp_err_status_ok)
		__builtin_trap();
	pool = rte_pktmbuf_pool_create("fz", 63, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	eng[0] = dp_srtp_engine_new(DP_SRTP_LIBSRTP, 0, 0, 8, NULL, err, sizeof(err));
	eng[1] = dp_srtp_engine_new(DP_SRTP_CRYPTODEV, 0, 0, 8, NULL, err, sizeof(err));
	if (!pool || !eng[0] || !eng[1])
		__builtin_trap();
	for (int p = 0; p < 2; p++) {
		enum fh_srtp_profile prof =
			p ? FH_SRTP_AES128_CM_SHA1_80 : FH_SRTP_AEAD_AES_128_GCM;
		size_t kl = fh_srtp_key_len(prof);

		memset(k, 0x3c + p, sizeof(k));
		for (int e = 0; e < 2; e++)
			rx[e][p] = dp_srtp_sess_new(eng[e], prof, k, k, kl);
		tx[p] = dp_srtp_sess_new(eng[1], prof, k, k, kl);
		back[p] = dp_srtp_sess_new(eng[1], prof, k, k, kl);
		if (!rx[0][p] || !rx[1][p] || !tx[p] || !back[p])
			__builtin_trap();
	}
	return 0;
}

static struct rte_mbuf *mbuf_of(const uint8_t *d, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);

	if (!m)
		__builtin_trap();
	memcpy(rte_pktmbuf_mtod(m, void *), d, len);
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1501)
		return 0;
	int e = data[0] & 1, p = (data[0] >> 1) & 1, rtcp = (data[0] >> 2) & 1;
	const uint8_t *d = data + 1;
	size_t len = size - 1;
	struct rte_mbuf *m = mbuf_of(d, len);
	struct dp_srtp_op op = {.s = rx[e][p], .m = m, .rtcp = (uint8_t)rtcp};

	dp_srtp_unprotect(eng[e], &op, 1);
	if (op.status == DP_SRTP_OK && m->data_len > len)
		__builtin_trap();
	rte_pktmbuf_free(m);

	/* the round trip, for what a receiver of ours could be sent; eight SSRCs at most, so the
	 * receiver always has room for a stream the sender has */
	static uint8_t pl[1500];

	if (len < (rtcp ? 8u : 12u) || (d[0] >> 6) != 2)
		return 0;
	memcpy(pl, d, len);
	memset(pl + (rtcp ? 4 : 8), 0, 3);
	pl[rtcp ? 7 : 11] &= 7;
	d = pl;
	m = mbuf_of(d, len);
	op = (struct dp_srtp_op){.s = tx[p], .m = m, .rtcp = (uint8_t)rtcp};
	dp_srtp_protect(eng[1], &op, 1);
	if (op.status == DP_SRTP_OK) {
		op = (struct dp_srtp_op){.s = back[p], .m = m, .rtcp = (uint8_t)rtcp};
		dp_srtp_unprotect(eng[1], &op, 1);
		if (op.status == DP_SRTP_AUTH || op.status == DP_SRTP_MALFORMED)
			__builtin_trap();
		if (op.status == DP_SRTP_OK &&
		    (m->data_len != len || memcmp(rte_pktmbuf_mtod(m, void *), d, len) != 0))
			__builtin_trap();
	}
	rte_pktmbuf_free(m);
	return 0;
}
