/*
 * dp_srtp_cdev: SRTP and SRTCP through a DPDK crypto PMD, a burst at a time.
 *
 * The protocol is done here: per-SSRC state (rollover counter and highest index, 128-entry
 * replay windows, SRTCP index), IVs (RFC 3711 4.1.1, RFC 7714 8.1 / 9.1), the AAD of AEAD
 * (RTP header; SRTCP header plus E-flag and index), the rollover counter appended to what
 * HMAC-SHA1 authenticates but not sent (RFC 3711 4.2), and the SRTCP trailer (before the tag
 * with AES-CM, after it with GCM, as RFC 7714 9 and libsrtp lay it out). The PMD does AES-GCM,
 * or AES-CTR then HMAC-SHA1-80 as one chained operation, in place in the mbuf.
 *
 * A PMD's AEAD session has a fixed AAD length while an RTP header's length varies with CSRCs
 * and extensions, so a GCM participant holds one session per header length from 12 to
 * DP_SRTP_AAD_MAX bytes in each direction, all made when its keys are installed. Replay state
 * is updated only after a packet authenticated, and checked again then, so that two copies of
 * one packet in the same burst cannot both pass.
 *
 * Cost note: per packet a stream lookup (open addressing on the SSRC), the IV and AAD written
 * into the op's private area and one rte_crypto_op; the ops of a burst go to the device in one
 * enqueue and come back in one or a few dequeues.
 *
 * SRTCP received with AES-GCM does not go to the device: it is opened here by the Multi-Buffer
 * library (the one the AES-NI PMDs wrap) in one call. For a packet that small a PMD's work per
 * operation (op and mbuf handling, init/update/finalize, the ring) is most of the cost, and a
 * receiver's transport-wide feedback comes 10 to 20 times a second, about as many packets as
 * the video it receives: 560 instructions a feedback packet here against about 850 through
 * crypto_aesni_gcm (bench/README.md, the adaptive path with the receivers' feedback). The
 * protocol work (trailer, replay window, IV, AAD, lengths, statuses) is the same as on the
 * device. The key is in this process either way (the device sessions are made from it).
 */
#define ALLOW_EXPERIMENTAL_API /* rte_cryptodev_sym_session_pool_create (DPDK 22.11) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bus_vdev.h>
#include <rte_byteorder.h>
#include <rte_crypto.h>
#include <rte_cryptodev.h>
#include <rte_errno.h>
#include <rte_mempool.h>

#include <intel-ipsec-mb.h>
#include <openssl/crypto.h>

#include "dp_srtp_impl.h"
#include "fh_rtp.h"

#define IN_STREAMS 32	/* SSRCs a participant sends from (hash cells) */
#define OUT_STREAMS 256 /* SSRCs we send a participant from (hash cells) */
#define CHUNK 64	/* ops per enqueue */
#define QP_DESC 2048
#define OP_POOL 127 /* CHUNK are taken at start and kept */

/* the op's private area: IV, AAD and the op's place in the caller's array */
#define IV_OFF (sizeof(struct rte_crypto_op) + sizeof(struct rte_crypto_sym_op))
#define AAD_OFF (IV_OFF + 16)
#define IDX_OFF (AAD_OFF + 64)
#define OP_PRIV (16 + 64 + 8)

struct stream {
	uint32_t ssrc;
	bool used;
	struct dp_srtp_replay rtp;  /* rx: window and highest index; tx: highest index */
	struct dp_srtp_replay rtcp; /* rx: window; tx: hi is the last SRTCP index sent */
};

struct dp_srtp_sess {
	enum fh_srtp_profile profile;
	uint8_t rx_rtp_salt[14], rx_rtcp_salt[14];
	uint8_t tx_rtp_salt[14], tx_rtcp_salt[14];
	void *rx_rtp[DP_SRTP_AAD_N], *tx_rtp[DP_SRTP_AAD_N]; /* AES-CM: [0] only */
	void *rx_rtcp, *tx_rtcp;
	struct gcm_key_data *rx_rtcp_mb; /* GCM: the SRTCP receive key, expanded for mb */
	unsigned n_in, n_out;
	struct stream in[IN_STREAMS];
	struct stream out[OUT_STREAMS];
};

/* One crypto device; GCM and AES-CM may be served by different PMDs (crypto_aesni_gcm is the
 * faster GCM, crypto_aesni_mb does the AES-CTR + HMAC-SHA1 chain) or share one. */
struct cdev_dev {
	uint8_t id;
	bool open;
	char driver[32];
	char vdev[64];
	struct rte_mempool *sess_pool;
};

enum { DEV_GCM, DEV_CM }; /* which device: AES-GCM, AES-CM (the library also names a GCM) */

struct cdev {
	struct cdev_dev dev[2]; /* by DEV_*; the same id in both when shared */
	bool shared;
	bool oop[2]; /* the PMD encrypts from one mbuf into another the way SRTP needs it */
	struct rte_mempool *op_pool;
	struct rte_crypto_op *ops[CHUNK]; /* taken once, reused by every batch */
	IMB_MGR *mb; /* SRTCP received with GCM; NULL: on the device like the rest */
};

/* what an op needs when it comes back */
struct pend {
	uint64_t idx;
	uint32_t ssrc;
	uint16_t len;  /* the packet's length once done */
	uint16_t len0; /* and before */
	uint16_t trailer_at;
	uint32_t trailer; /* GCM SRTCP protect: written after the tag */
	bool move_tag;	  /* AES-CM RTP protect: the tag was written 4 bytes on */
};

static struct stream *stream_find(struct stream *tab, unsigned cells, uint32_t ssrc, bool add,
				  unsigned *n)
{
	unsigned h = (ssrc * 0x9e3779b1u) >> 16;

	for (unsigned i = 0; i < cells; i++) {
		struct stream *s = &tab[(h + i) & (cells - 1)];

		if (s->used && s->ssrc == ssrc)
			return s;
		if (!s->used) {
			/* keep a quarter free so probes stay short */
			if (!add || *n >= cells - cells / 4)
				return NULL;
			memset(s, 0, sizeof(*s));
			s->used = true;
			s->ssrc = ssrc;
			(*n)++;
			return s;
		}
	}
	return NULL;
}

/* RFC 3711 4.1.1 (16 bytes, AES-CM) and RFC 7714 8.1 / 9.1 (12 bytes, GCM; an SRTCP index
 * has its high bits clear, so one layout serves both). */
static inline void make_iv(uint8_t *iv, const uint8_t *salt, bool gcm, uint32_t ssrc, uint64_t idx)
{
	if (gcm) {
		/* 00 00 | SSRC | index, built in registers (not read back from narrow stores) and
		 * XORed with the salt as one 8-byte and one 4-byte word */
		uint64_t a = rte_cpu_to_be_64((uint64_t)ssrc << 16 | (uint16_t)(idx >> 32)), b;
		uint32_t c = rte_cpu_to_be_32((uint32_t)idx), d;

		memcpy(&b, salt, 8), memcpy(&d, salt + 8, 4);
		a ^= b, c ^= d;
		memcpy(iv, &a, 8), memcpy(iv + 8, &c, 4);
		return;
	}
	memcpy(iv, salt, 14);
	iv[14] = iv[15] = 0;
	iv[4] ^= (uint8_t)(ssrc >> 24), iv[5] ^= (uint8_t)(ssrc >> 16);
	iv[6] ^= (uint8_t)(ssrc >> 8), iv[7] ^= (uint8_t)ssrc;
	for (int i = 0; i < 6; i++)
		iv[8 + i] ^= (uint8_t)(idx >> (40 - 8 * i));
}

/* Length of a whole RTP header, or -1 when it overruns len. */
static inline int rtp_hdr_len(const uint8_t *p, unsigned len)
{
	unsigned hl;

	if (len < 12 || (p[0] >> 6) != 2)
		return -1;
	hl = 12u + 4u * (p[0] & 0x0f);
	if (p[0] & 0x10) {
		if (len < hl + 4)
			return -1;
		hl += 4u + 4u * fh_rd16(p + hl + 2);
	}
	return hl <= len ? (int)hl : -1;
}

static void *session(struct cdev_dev *d, struct rte_crypto_sym_xform *x)
{
	return rte_cryptodev_sym_session_create(d->id, x, d->sess_pool);
}

static void sess_free(struct dp_srtp_engine *e, struct dp_srtp_sess *s)
{
	struct cdev *c = e->priv;
	uint8_t dev = c->dev[s->profile == FH_SRTP_AEAD_AES_128_GCM ? DEV_GCM : DEV_CM].id;
	void **all[] = {&s->rx_rtcp, &s->tx_rtcp};

	for (int i = 0; i < DP_SRTP_AAD_N; i++) {
		if (s->rx_rtp[i])
			rte_cryptodev_sym_session_free(dev, s->rx_rtp[i]);
		if (s->tx_rtp[i])
			rte_cryptodev_sym_session_free(dev, s->tx_rtp[i]);
	}
	for (int i = 0; i < 2; i++)
		if (*all[i])
			rte_cryptodev_sym_session_free(dev, *all[i]);
	if (s->rx_rtcp_mb) {
		OPENSSL_cleanse(s->rx_rtcp_mb, sizeof(*s->rx_rtcp_mb));
		free(s->rx_rtcp_mb);
	}
	memset(s, 0, sizeof(*s));
	free(s);
}

static void *gcm_session(struct cdev_dev *c, const uint8_t *key, bool enc, uint16_t aad)
{
	struct rte_crypto_sym_xform x = {.type = RTE_CRYPTO_SYM_XFORM_AEAD};

	x.aead.op = enc ? RTE_CRYPTO_AEAD_OP_ENCRYPT : RTE_CRYPTO_AEAD_OP_DECRYPT;
	x.aead.algo = RTE_CRYPTO_AEAD_AES_GCM;
	x.aead.key.data = key;
	x.aead.key.length = 16;
	x.aead.iv.offset = IV_OFF;
	x.aead.iv.length = 12;
	x.aead.digest_length = 16;
	x.aead.aad_length = aad;
	return session(c, &x);
}

static void *cm_session(struct cdev_dev *c, const uint8_t *key, const uint8_t *auth, bool enc)
{
	struct rte_crypto_sym_xform ci = {.type = RTE_CRYPTO_SYM_XFORM_CIPHER};
	struct rte_crypto_sym_xform au = {.type = RTE_CRYPTO_SYM_XFORM_AUTH};

	ci.cipher.op = enc ? RTE_CRYPTO_CIPHER_OP_ENCRYPT : RTE_CRYPTO_CIPHER_OP_DECRYPT;
	ci.cipher.algo = RTE_CRYPTO_CIPHER_AES_CTR;
	ci.cipher.key.data = key;
	ci.cipher.key.length = 16;
	ci.cipher.iv.offset = IV_OFF;
	ci.cipher.iv.length = 16;
	au.auth.op = enc ? RTE_CRYPTO_AUTH_OP_GENERATE : RTE_CRYPTO_AUTH_OP_VERIFY;
	au.auth.algo = RTE_CRYPTO_AUTH_SHA1_HMAC;
	au.auth.key.data = auth;
	au.auth.key.length = 20;
	au.auth.digest_length = 10;
	/* encrypt then authenticate; verify then decrypt */
	if (enc) {
		ci.next = &au;
		return session(c, &ci);
	}
	au.next = &ci;
	return session(c, &au);
}

static struct dp_srtp_sess *sess_new(struct dp_srtp_engine *e, enum fh_srtp_profile profile,
				     const struct dp_srtp_keys *rx, const struct dp_srtp_keys *tx,
				     const uint8_t *rxm, const uint8_t *txm, size_t mlen)
{
	struct cdev *ce = e->priv;
	struct cdev_dev *c = &ce->dev[profile == FH_SRTP_AEAD_AES_128_GCM ? DEV_GCM : DEV_CM];
	struct dp_srtp_sess *s = calloc(1, sizeof(*s));
	bool ok = true;

	(void)rxm, (void)txm, (void)mlen;
	if (!s)
		return NULL;
	s->profile = profile;
	memcpy(s->rx_rtp_salt, rx->rtp_salt, 14);
	memcpy(s->rx_rtcp_salt, rx->rtcp_salt, 14);
	memcpy(s->tx_rtp_salt, tx->rtp_salt, 14);
	memcpy(s->tx_rtcp_salt, tx->rtcp_salt, 14);
	if (profile == FH_SRTP_AEAD_AES_128_GCM) {
		for (int i = 0; i < DP_SRTP_AAD_N && ok; i++) {
			s->rx_rtp[i] = gcm_session(c, rx->rtp_key, false, (uint16_t)(12 + 4 * i));
			s->tx_rtp[i] = gcm_session(c, tx->rtp_key, true, (uint16_t)(12 + 4 * i));
			ok = s->rx_rtp[i] && s->tx_rtp[i];
		}
		s->rx_rtcp = ok ? gcm_session(c, rx->rtcp_key, false, 12) : NULL;
		s->tx_rtcp = ok ? gcm_session(c, tx->rtcp_key, true, 12) : NULL;
		if (ce->mb) {
			/* 64-byte aligned, as the library declares it (its size rounded up) */
			s->rx_rtcp_mb =
				aligned_alloc(64, (sizeof(*s->rx_rtcp_mb) + 63) & ~(size_t)63);
			if (s->rx_rtcp_mb)
				IMB_AES128_GCM_PRE(ce->mb, rx->rtcp_key, s->rx_rtcp_mb);
			ok = ok && s->rx_rtcp_mb;
		}
	} else {
		s->rx_rtp[0] = cm_session(c, rx->rtp_key, rx->rtp_auth, false);
		s->tx_rtp[0] = cm_session(c, tx->rtp_key, tx->rtp_auth, true);
		s->rx_rtcp = cm_session(c, rx->rtcp_key, rx->rtcp_auth, false);
		s->tx_rtcp = cm_session(c, tx->rtcp_key, tx->rtcp_auth, true);
		ok = s->rx_rtp[0] && s->tx_rtp[0];
	}
	if (!ok || !s->rx_rtcp || !s->tx_rtcp) {
		sess_free(e, s);
		return NULL;
	}
	return s;
}

/* Received SRTCP: the length, the trailer (E flag and index; with GCM the packet must be
 * encrypted) and the replay window, before any decryption; pd gets the SSRC and index. Shared
 * by the device's path (prepare) and the library's (open_rtcp_gcm). */
static inline int rtcp_rx_index(struct dp_srtp_sess *s, const uint8_t *p, unsigned len, bool gcm,
				struct pend *pd, uint32_t *trailer)
{
	unsigned tag = gcm ? 16 : 10;

	if (len < 8 + 4 + tag || (p[0] >> 6) != 2)
		return DP_SRTP_MALFORMED;
	*trailer = fh_rd32(p + (gcm ? len - 4 : len - 4 - tag));
	if (gcm && !(*trailer & 0x80000000u))
		return DP_SRTP_UNSUPPORTED;
	pd->idx = *trailer & 0x7fffffff;
	pd->ssrc = fh_rd32(p + 4);
	struct stream *st = stream_find(s->in, IN_STREAMS, pd->ssrc, false, &s->n_in);

	if (st && dp_srtp_replay_check(&st->rtcp, pd->idx) < 0)
		return DP_SRTP_REPLAY;
	return DP_SRTP_OK;
}

/* Fills op for ops[i]; DP_SRTP_OK when it is to be submitted, else the status to give it. */
static inline __attribute__((always_inline)) int prepare(struct dp_srtp_sess *s,
							 struct dp_srtp_op *o,
							 struct rte_crypto_op *op, struct pend *pd,
							 bool enc, bool oop)
{
	struct rte_mbuf *m = o->m;
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	unsigned len = m->data_len, tail = rte_pktmbuf_tailroom(m);
	bool gcm = s->profile == FH_SRTP_AEAD_AES_128_GCM;
	unsigned tag = gcm ? 16 : 10;
	struct rte_crypto_sym_op *sym = op->sym;
	uint8_t *iv = rte_crypto_op_ctod_offset(op, uint8_t *, IV_OFF);
	uint8_t *aad = rte_crypto_op_ctod_offset(op, uint8_t *, AAD_OFF);
	unsigned data_off, data_len, auth_len = 0, digest_at, touched = len;
	void *sess;

	memset(pd, 0, sizeof(*pd));
	sym->m_src = m;
	sym->m_dst = NULL;
	if (tail < DP_SRTP_TRAILER_MAX || (o->src && (!enc || o->rtcp || o->src->data_len != len)))
		return DP_SRTP_FAIL; /* a source only for RTP protect, and only of this length */
	if (!o->rtcp) {
		int hl = rtp_hdr_len(p, len);

		if (hl < 0 || (!enc && len < (unsigned)hl + tag))
			return DP_SRTP_MALFORMED;
		if (gcm && hl > DP_SRTP_AAD_MAX)
			return DP_SRTP_UNSUPPORTED;
		uint32_t ssrc = fh_rd32(p + 8);
		uint16_t seq = fh_rd16(p + 2);
		struct stream *st;

		if (enc) {
			st = stream_find(s->out, OUT_STREAMS, ssrc, true, &s->n_out);
			if (!st)
				return DP_SRTP_FAIL;
			pd->idx = dp_srtp_estimate(st->rtp.hi, st->rtp.init, seq);
			if (!st->rtp.init || pd->idx > st->rtp.hi) {
				st->rtp.hi = pd->idx;
				st->rtp.init = true;
			}
		} else {
			st = stream_find(s->in, IN_STREAMS, ssrc, false, &s->n_in);
			pd->idx = st ? dp_srtp_estimate(st->rtp.hi, st->rtp.init, seq) : seq;
			if (st && dp_srtp_replay_check(&st->rtp, pd->idx) < 0)
				return DP_SRTP_REPLAY;
		}
		pd->ssrc = ssrc;
		make_iv(iv, enc ? s->tx_rtp_salt : s->rx_rtp_salt, gcm, ssrc, pd->idx);
		data_off = (unsigned)hl;
		if (gcm) {
			/* hl is a multiple of 4: word copies the compiler inlines */
			for (int i = 0; i < hl; i += 4)
				memcpy(aad + i, p + i, 4);
			sess = enc ? s->tx_rtp[(hl - 12) / 4] : s->rx_rtp[(hl - 12) / 4];
			data_len = enc ? len - hl : len - hl - tag;
			digest_at = enc ? len : len - tag;
			pd->len = (uint16_t)(enc ? len + tag : len - tag);
			touched = enc ? len + tag : len;
		} else if (enc) {
			/* HMAC over header, payload and the rollover counter; the tag goes 4 on */
			sess = s->tx_rtp[0];
			data_len = len - hl;
			fh_wr32(p + len, (uint32_t)(pd->idx >> 16));
			auth_len = len + 4;
			digest_at = len + 4;
			pd->move_tag = true;
			pd->len = (uint16_t)(len + tag);
			touched = len + 4 + tag;
		} else {
			/* the received tag moves 4 on to make room for the rollover counter */
			sess = s->rx_rtp[0];
			data_len = len - hl - tag;
			memmove(p + len - tag + 4, p + len - tag, tag);
			fh_wr32(p + len - tag, (uint32_t)(pd->idx >> 16));
			auth_len = len - tag + 4;
			digest_at = len - tag + 4;
			pd->len = (uint16_t)(len - tag);
			touched = len + 4;
		}
	} else {
		uint32_t trailer;

		if (enc) {
			if (len < 8 || (p[0] >> 6) != 2)
				return DP_SRTP_MALFORMED;
			pd->ssrc = fh_rd32(p + 4);
			struct stream *st =
				stream_find(s->out, OUT_STREAMS, pd->ssrc, true, &s->n_out);

			if (!st || st->rtcp.hi >= 0x7fffffff)
				return DP_SRTP_FAIL;
			pd->idx = ++st->rtcp.hi;
			trailer = 0x80000000u | (uint32_t)pd->idx;
		} else {
			int st = rtcp_rx_index(s, p, len, gcm, pd, &trailer);

			if (st != DP_SRTP_OK)
				return st;
		}
		make_iv(iv, enc ? s->tx_rtcp_salt : s->rx_rtcp_salt, gcm, pd->ssrc, pd->idx);
		sess = enc ? s->tx_rtcp : s->rx_rtcp;
		data_off = 8;
		if (gcm) {
			memcpy(aad, p, 8);
			fh_wr32(aad + 8, trailer);
			data_len = enc ? len - 8 : len - 8 - tag - 4;
			digest_at = enc ? len : len - 4 - tag;
			if (enc) {
				pd->trailer = trailer;
				pd->trailer_at = (uint16_t)(len + tag);
			}
			pd->len = (uint16_t)(enc ? len + tag + 4 : len - tag - 4);
			touched = enc ? len + tag + 4 : len;
		} else if (enc) {
			fh_wr32(p + len, trailer);
			data_len = len - 8;
			auth_len = len + 4;
			digest_at = len + 4;
			pd->len = (uint16_t)(len + 4 + tag);
			touched = len + 4 + tag;
		} else {
			data_len = (trailer & 0x80000000u) ? len - 8 - 4 - tag : 0;
			auth_len = len - tag;
			digest_at = len - tag;
			pd->len = (uint16_t)(len - 4 - tag);
		}
	}
	if (enc && o->src) {
		if (oop && !o->rtcp) {
			sym->m_src = o->src;
			sym->m_dst = m;
		} else {
			dp_srtp_copy_payload(m, o->src);
		}
	}
	/* the PMD sees everything it reads or writes as packet data until the op is done */
	m->data_len = (uint16_t)touched;
	m->pkt_len = touched;
	if (gcm) {
		sym->aead.data.offset = data_off;
		sym->aead.data.length = data_len;
		sym->aead.digest.data = p + digest_at;
		sym->aead.digest.phys_addr = rte_pktmbuf_iova_offset(m, digest_at);
		sym->aead.aad.data = aad;
		sym->aead.aad.phys_addr = rte_crypto_op_ctophys_offset(op, AAD_OFF);
	} else {
		sym->cipher.data.offset = data_off;
		sym->cipher.data.length = data_len;
		sym->auth.data.offset = 0;
		sym->auth.data.length = auth_len;
		sym->auth.digest.data = p + digest_at;
		sym->auth.digest.phys_addr = rte_pktmbuf_iova_offset(m, digest_at);
	}
	rte_crypto_op_attach_sym_session(op, sess);
	return DP_SRTP_OK;
}

/* After a good unprotect: the stream is made (first packet of an SSRC) or its window moved,
 * checking the window again for copies that were in the same burst. */
static int accept_rx(struct dp_srtp_sess *s, const struct pend *pd, bool rtcp)
{
	struct stream *st = stream_find(s->in, IN_STREAMS, pd->ssrc, true, &s->n_in);

	if (!st)
		return DP_SRTP_FAIL;
	struct dp_srtp_replay *r = rtcp ? &st->rtcp : &st->rtp;

	if (dp_srtp_replay_check(r, pd->idx) < 0)
		return DP_SRTP_REPLAY;
	dp_srtp_replay_add(r, pd->idx);
	return DP_SRTP_OK;
}

/* SRTCP received with GCM, opened in place without the device (see the top): the same checks,
 * statuses and lengths as prepare and finish give it there. */
static __attribute__((noinline)) int open_rtcp_gcm(IMB_MGR *mb, struct dp_srtp_sess *s,
						   struct rte_mbuf *m)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *), iv[12], aad[12], tag[16];
	unsigned len = m->data_len;
	struct gcm_context_data ctx;
	struct pend pd = {0};
	uint32_t trailer;

	if (rte_pktmbuf_tailroom(m) < DP_SRTP_TRAILER_MAX)
		return DP_SRTP_FAIL; /* as on the device: the engine cannot take it */
	int st = rtcp_rx_index(s, p, len, true, &pd, &trailer);

	if (st != DP_SRTP_OK)
		return st;
	make_iv(iv, s->rx_rtcp_salt, true, pd.ssrc, pd.idx);
	memcpy(aad, p, 8);
	fh_wr32(aad + 8, trailer);
	IMB_AES128_GCM_DEC(mb, s->rx_rtcp_mb, &ctx, p + 8, p + 8, len - 8 - 16 - 4, iv, aad, 12,
			   tag, 16);
	m->data_len = (uint16_t)(len - 16 - 4);
	m->pkt_len = m->data_len;
	if (CRYPTO_memcmp(tag, p + len - 4 - 16, 16) != 0)
		return DP_SRTP_AUTH;
	return accept_rx(s, &pd, true);
}

/* What comes back from the device: status, trailer work, the final length. */
static void finish(struct dp_srtp_op *ops, const uint16_t *which, const struct pend *pd,
		   struct rte_crypto_op *op, bool enc)
{
	unsigned q = *rte_crypto_op_ctod_offset(op, uint16_t *, IDX_OFF);
	struct dp_srtp_op *o = &ops[which[q]];
	uint8_t *p = rte_pktmbuf_mtod(o->m, uint8_t *);
	int st = op->status == RTE_CRYPTO_OP_STATUS_SUCCESS	  ? DP_SRTP_OK
		 : op->status == RTE_CRYPTO_OP_STATUS_AUTH_FAILED ? DP_SRTP_AUTH
								  : DP_SRTP_FAIL;

	if (st == DP_SRTP_OK && enc) {
		if (pd[q].move_tag)
			memmove(p + pd[q].len - 10, p + pd[q].len - 6, 10);
		if (pd[q].trailer_at)
			fh_wr32(p + pd[q].trailer_at, pd[q].trailer);
	} else if (st == DP_SRTP_OK) {
		st = accept_rx(o->s, &pd[q], o->rtcp);
	}
	o->status = (uint8_t)st;
	o->m->data_len = pd[q].len;
	o->m->pkt_len = pd[q].len;
}

/* Runs k prepared ops through one device and finishes each. A device that takes nothing
 * while nothing is in flight fails the rest rather than spin. */
static inline __attribute__((always_inline)) void submit(uint8_t dev, struct rte_crypto_op **cop,
							 unsigned k, struct dp_srtp_op *ops,
							 const uint16_t *which,
							 const struct pend *pd, bool enc)
{
	struct rte_crypto_op *done[CHUNK];
	unsigned sent = 0, got = 0;

	while (sent < k) {
		uint16_t in = rte_cryptodev_enqueue_burst(dev, 0, cop + sent, (uint16_t)(k - sent));

		if (in == 0 && got == sent) {
			for (unsigned i = sent; i < k; i++) {
				unsigned q =
					*rte_crypto_op_ctod_offset(cop[i], uint16_t *, IDX_OFF);

				ops[which[q]].status = DP_SRTP_FAIL;
				ops[which[q]].m->data_len = pd[q].len0;
				ops[which[q]].m->pkt_len = pd[q].len0;
			}
			return;
		}
		sent += in;
		while (got < sent) {
			uint16_t d =
				rte_cryptodev_dequeue_burst(dev, 0, done, (uint16_t)(sent - got));

			for (uint16_t j = 0; j < d; j++)
				finish(ops, which, pd, done[j], enc);
			got += d;
		}
	}
}

static void run(struct dp_srtp_engine *e, struct dp_srtp_op *ops, unsigned n, bool enc)
{
	struct cdev *c = e->priv;
	struct rte_crypto_op *by_dev[2][CHUNK];
	struct pend pd[CHUNK];
	uint16_t which[CHUNK];

	for (unsigned base = 0; base < n; base += CHUNK) {
		unsigned cnt = n - base < CHUNK ? n - base : CHUNK, k = 0, nd[2] = {0, 0};
		struct rte_crypto_op **cop = c->ops;

		for (unsigned i = 0; i < cnt; i++) {
			struct dp_srtp_op *o = &ops[base + i];
			uint16_t len0 = o->m->data_len;
			bool gcm = o->s->profile == FH_SRTP_AEAD_AES_128_GCM;

			if (unlikely(!enc && o->rtcp && o->s->rx_rtcp_mb)) {
				o->status = (uint8_t)open_rtcp_gcm(c->mb, o->s, o->m);
				continue;
			}
			int st = prepare(o->s, o, cop[k], &pd[k], enc,
					 c->oop[gcm ? DEV_GCM : DEV_CM]);

			if (st != DP_SRTP_OK) {
				o->m->data_len = len0;
				o->m->pkt_len = len0;
				o->status = (uint8_t)st;
				continue;
			}
			cop[k]->status = RTE_CRYPTO_OP_STATUS_NOT_PROCESSED;
			pd[k].len0 = len0;
			which[k] = (uint16_t)(base + i);
			*rte_crypto_op_ctod_offset(cop[k], uint16_t *, IDX_OFF) = (uint16_t)k;
			int d = c->shared || gcm ? DEV_GCM : DEV_CM;

			by_dev[d][nd[d]++] = cop[k];
			k++;
		}
		for (int d = 0; d < 2; d++)
			if (nd[d])
				submit(c->dev[d].id, by_dev[d], nd[d], ops, which, pd, enc);
	}
}

static void protect(struct dp_srtp_engine *e, struct dp_srtp_op *ops, unsigned n)
{
	run(e, ops, n, true);
}

static void unprotect(struct dp_srtp_engine *e, struct dp_srtp_op *ops, unsigned n)
{
	run(e, ops, n, false);
}

static void dev_close(struct cdev_dev *d)
{
	if (!d->open)
		return;
	rte_cryptodev_stop(d->id);
	rte_cryptodev_close(d->id);
	rte_vdev_uninit(d->vdev);
	rte_mempool_free(d->sess_pool);
	d->open = false;
}

static void fini(struct dp_srtp_engine *e)
{
	struct cdev *c = e->priv;

	if (!c)
		return;
	dev_close(&c->dev[DEV_GCM]);
	if (!c->shared)
		dev_close(&c->dev[DEV_CM]);
	rte_mempool_put_bulk(c->op_pool, (void **)c->ops, CHUNK);
	rte_mempool_free(c->op_pool);
	if (c->mb)
		free_mb_mgr(c->mb);
	free(c);
}

static const struct dp_srtp_impl cdev_impl = {
	.sess_new = sess_new,
	.sess_free = sess_free,
	.protect = protect,
	.unprotect = unprotect,
	.fini = fini,
};

/* Whether the device does profile p (GCM or CM) as this engine uses it. */
static bool capable(uint8_t dev, int p)
{
	struct rte_cryptodev_sym_capability_idx ci = {.type = RTE_CRYPTO_SYM_XFORM_AEAD};
	const struct rte_cryptodev_symmetric_capability *cap;

	if (p == DEV_GCM) {
		ci.algo.aead = RTE_CRYPTO_AEAD_AES_GCM;
		cap = rte_cryptodev_sym_capability_get(dev, &ci);
		if (!cap)
			return false;
		for (uint16_t aad = 12; aad <= DP_SRTP_AAD_MAX; aad += 4)
			if (rte_cryptodev_sym_capability_check_aead(cap, 16, 16, aad, 12) != 0)
				return false;
		return true;
	}
	ci.type = RTE_CRYPTO_SYM_XFORM_CIPHER;
	ci.algo.cipher = RTE_CRYPTO_CIPHER_AES_CTR;
	cap = rte_cryptodev_sym_capability_get(dev, &ci);
	if (!cap || rte_cryptodev_sym_capability_check_cipher(cap, 16, 16) != 0)
		return false;
	ci.type = RTE_CRYPTO_SYM_XFORM_AUTH;
	ci.algo.auth = RTE_CRYPTO_AUTH_SHA1_HMAC;
	cap = rte_cryptodev_sym_capability_get(dev, &ci);
	return cap && rte_cryptodev_sym_capability_check_auth(cap, 20, 10, 0) == 0;
}

/* Makes driver's device for this worker with room for n_sess sessions; -1 with the reason. */
static int dev_open(struct cdev_dev *d, const char *driver, int p, unsigned worker, int socket,
		    unsigned n_sess, char *err, size_t elen)
{
	char args[64], name[64];
	int id;

	snprintf(d->driver, sizeof(d->driver), "%s", driver);
	snprintf(d->vdev, sizeof(d->vdev), "%s_fhw%u", driver, worker);
	snprintf(args, sizeof(args), "max_nb_queue_pairs=1,socket_id=%d", socket < 0 ? 0 : socket);
	if (rte_vdev_init(d->vdev, args) != 0 || (id = rte_cryptodev_get_dev_id(d->vdev)) < 0) {
		snprintf(err, elen, "%s: no such crypto PMD here", driver);
		return -1;
	}
	d->id = (uint8_t)id;
	if (!capable(d->id, p)) {
		snprintf(err, elen, "%s lacks %s", driver,
			 p == DEV_GCM ? "AES-GCM with a 12-48 byte AAD" : "AES-CTR + HMAC-SHA1-80");
		rte_vdev_uninit(d->vdev);
		return -1;
	}
	struct rte_cryptodev_config conf = {
		.socket_id = socket,
		.nb_queue_pairs = 1,
		.ff_disable = RTE_CRYPTODEV_FF_ASYMMETRIC_CRYPTO | RTE_CRYPTODEV_FF_SECURITY,
	};

	snprintf(name, sizeof(name), "fh_srtp_%u_%d", worker, p);
	d->sess_pool = rte_cryptodev_sym_session_pool_create(
		name, n_sess, rte_cryptodev_sym_get_private_session_size(d->id), 0, 0, socket);
	struct rte_cryptodev_qp_conf qp = {.nb_descriptors = QP_DESC, .mp_session = d->sess_pool};

	if (!d->sess_pool) {
		snprintf(err, elen, "%s: no memory for %u crypto sessions (%s)", driver, n_sess,
			 rte_strerror(rte_errno));
		rte_vdev_uninit(d->vdev);
		return -1;
	}
	if (rte_cryptodev_configure(d->id, &conf) < 0 ||
	    rte_cryptodev_queue_pair_setup(d->id, 0, &qp, socket) < 0 ||
	    rte_cryptodev_start(d->id) < 0) {
		snprintf(err, elen, "%s: device set-up failed", driver);
		rte_mempool_free(d->sess_pool);
		rte_vdev_uninit(d->vdev);
		return -1;
	}
	d->open = true;
	return 0;
}

/* The first PMD of the list that does profile p; the GCM one is shared when it does AES-CM too
 * and comes first in the AES-CM list. */
static int pick(struct cdev *c, int p, const char *pmds, unsigned worker, int socket,
		unsigned max_sessions, char *err, size_t elen)
{
	char list[256], *save = NULL;
	unsigned per = p == DEV_GCM ? 2 * DP_SRTP_AAD_N + 2 : 4;

	snprintf(list, sizeof(list), "%s", pmds);
	for (char *d = strtok_r(list, ", ", &save); d; d = strtok_r(NULL, ", ", &save)) {
		if (p == DEV_CM && c->dev[DEV_GCM].open && !strcmp(d, c->dev[DEV_GCM].driver)) {
			if (!capable(c->dev[DEV_GCM].id, DEV_CM))
				continue;
			c->dev[DEV_CM] = c->dev[DEV_GCM];
			c->shared = true;
			return 0;
		}
		/* a device that may later serve AES-CM as well gets room for its sessions too */
		if (dev_open(&c->dev[p], d, p, worker + 100 * (unsigned)p, socket,
			     max_sessions * (per + (p == DEV_GCM ? 4 : 0)), err, elen) == 0)
			return 0;
	}
	return -1;
}

/* Whether out-of-place protect gives what in-place protect of the same packet gives: a PMD
 * may authenticate the source buffer or copy its header over ours, and then it must not be
 * used that way. Runs the engine's own path on two fresh sessions with one key. */
static bool oop_works(struct dp_srtp_engine *e, struct rte_mempool *pool, int p)
{
	struct cdev *c = e->priv;
	enum fh_srtp_profile prof =
		p == DEV_GCM ? FH_SRTP_AEAD_AES_128_GCM : FH_SRTP_AES128_CM_SHA1_80;
	struct dp_srtp_keys k;
	struct dp_srtp_sess *a, *b;
	struct rte_mbuf *in = rte_pktmbuf_alloc(pool), *src = rte_pktmbuf_alloc(pool),
			*dst = rte_pktmbuf_alloc(pool);
	bool same = false;

	memset(&k, 0x5c, sizeof(k));
	a = sess_new(e, prof, &k, &k, NULL, NULL, 0);
	b = sess_new(e, prof, &k, &k, NULL, NULL, 0);
	if (a && b && in && src && dst) {
		uint8_t *pi = rte_pktmbuf_mtod(in, uint8_t *),
			*ps = rte_pktmbuf_mtod(src, uint8_t *);
		uint8_t *pd = rte_pktmbuf_mtod(dst, uint8_t *);

		for (int i = 0; i < 300; i++)
			pi[i] = ps[i] = (uint8_t)(i * 7);
		pi[0] = ps[0] = 0x80;
		pi[1] = 96, ps[1] = 111; /* the forwarded copy's header differs from the source's */
		fh_wr32(pi + 8, 0x1234), fh_wr32(ps + 8, 0x9999);
		memcpy(pd, pi, 12);
		in->data_len = src->data_len = dst->data_len = 300;
		in->pkt_len = src->pkt_len = dst->pkt_len = 300;
		struct dp_srtp_op o[2] = {{.s = a, .m = in}, {.s = b, .m = dst, .src = src}};

		c->oop[p] = true;
		run(e, o, 2, true);
		same = o[0].status == DP_SRTP_OK && o[1].status == DP_SRTP_OK &&
		       in->data_len == dst->data_len &&
		       memcmp(rte_pktmbuf_mtod(in, void *), rte_pktmbuf_mtod(dst, void *),
			      in->data_len) == 0;
	}
	if (a)
		sess_free(e, a);
	if (b)
		sess_free(e, b);
	rte_pktmbuf_free(in);
	rte_pktmbuf_free(src);
	rte_pktmbuf_free(dst);
	memset(&k, 0, sizeof(k));
	return same;
}

int dp_srtp_cdev_init(struct dp_srtp_engine *e, unsigned worker, int socket, unsigned max_sessions,
		      const char *pmds, char *err, size_t elen)
{
	struct cdev *c = calloc(1, sizeof(*c));
	char name[64];

	if (!c) {
		snprintf(err, elen, "out of memory");
		return -1;
	}
	snprintf(err, elen, "no crypto PMD named");
	if (pick(c, DEV_GCM,
		 pmds && *pmds ? pmds : "crypto_aesni_gcm,crypto_aesni_mb,crypto_openssl", worker,
		 socket, max_sessions, err, elen) < 0 ||
	    pick(c, DEV_CM, pmds && *pmds ? pmds : "crypto_aesni_mb,crypto_openssl", worker, socket,
		 max_sessions, err, elen) < 0)
		goto fail;
	snprintf(name, sizeof(name), "fh_srtp_ops_%u", worker);
	c->op_pool = rte_crypto_op_pool_create(name, RTE_CRYPTO_OP_TYPE_SYMMETRIC, OP_POOL, 0,
					       OP_PRIV, socket);
	if (!c->op_pool || rte_crypto_op_bulk_alloc(c->op_pool, RTE_CRYPTO_OP_TYPE_SYMMETRIC,
						    c->ops, CHUNK) == 0) {
		snprintf(err, elen, "no memory for crypto operations (%s)",
			 rte_strerror(rte_errno));
		rte_mempool_free(c->op_pool);
		goto fail;
	}
	/* the library picks the code for this CPU (AVX-512 / VAES, AVX2, SSE with AES-NI, or
	 * none); without it SRTCP goes to the device too */
	c->mb = alloc_mb_mgr(0);
	if (c->mb) {
		init_mb_mgr_auto(c->mb, NULL);
		if (imb_get_errno(c->mb) != 0) {
			free_mb_mgr(c->mb);
			c->mb = NULL;
		}
	}
	e->impl = &cdev_impl;
	e->wants_keys = true;
	e->priv = c;
	snprintf(name, sizeof(name), "fh_srtp_oop_%u", worker);
	struct rte_mempool *tp =
		rte_pktmbuf_pool_create(name, 7, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);

	for (int p = 0; p < 2; p++)
		c->oop[p] = tp && oop_works(e, tp, p);
	rte_mempool_free(tp);
	/* e.g. "cryptodev crypto_aesni_gcm (oop) + crypto_aesni_mb": oop where copies are
	 * encrypted from the received packet without copying its payload first */
	if (c->shared)
		snprintf(e->name, sizeof(e->name), "cryptodev %s%s", c->dev[DEV_GCM].driver,
			 c->oop[DEV_GCM] && c->oop[DEV_CM] ? " (oop)" : "");
	else
		snprintf(e->name, sizeof(e->name), "cryptodev %s%s + %s%s", c->dev[DEV_GCM].driver,
			 c->oop[DEV_GCM] ? " (oop)" : "", c->dev[DEV_CM].driver,
			 c->oop[DEV_CM] ? " (oop)" : "");
	if (c->mb) {
		size_t l = strlen(e->name);

		snprintf(e->name + l, sizeof(e->name) - l, ", GCM SRTCP in by ipsec-mb");
	}
	return 0;
fail:
	dev_close(&c->dev[DEV_GCM]);
	if (!c->shared)
		dev_close(&c->dev[DEV_CM]);
	free(c);
	return -1;
}
