/*
 * dp_srtp: the engine interface, the libsrtp2 engine, and the RFC 3711 pieces (key
 * derivation, replay window) the cryptodev engine builds on.
 */
#include "dp_srtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <srtp2/srtp.h>

#include "dp_srtp_impl.h"
#include "fh_rtp.h"
#include "fh_srtp.h"

int dp_srtp_kind_parse(const char *s, enum dp_srtp_kind *kind)
{
	if (!strcmp(s, "auto"))
		*kind = DP_SRTP_AUTO;
	else if (!strcmp(s, "libsrtp"))
		*kind = DP_SRTP_LIBSRTP;
	else if (!strcmp(s, "cryptodev"))
		*kind = DP_SRTP_CRYPTODEV;
	else
		return -1;
	return 0;
}

/* ---- RFC 3711 pieces ---- */

/* RFC 3711 4.3.3: AES-CM keystream of n bytes for one label, key derivation rate 0. */
static int prf(const uint8_t *mkey, const uint8_t salt[14], uint8_t label, uint8_t *out, size_t n)
{
	uint8_t iv[16] = {0};
	static const uint8_t zero[32];
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len, ok;

	memcpy(iv, salt, 14);
	iv[7] ^= label; /* key_id = label || r (r = 0) sits at the salt's low 56 bits */
	ok = c && EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, mkey, iv) == 1 &&
	     EVP_EncryptUpdate(c, out, &len, zero, (int)n) == 1 && len == (int)n;
	EVP_CIPHER_CTX_free(c);
	memset(iv, 0, sizeof(iv));
	return ok ? 0 : -1;
}

int dp_srtp_derive(enum fh_srtp_profile profile, const uint8_t *master, size_t len,
		   struct dp_srtp_keys *out)
{
	uint8_t salt[14] = {0};
	size_t salt_len = profile == FH_SRTP_AEAD_AES_128_GCM ? 12 : 14;
	int rc = 0;

	if (!fh_srtp_key_len(profile) || len != fh_srtp_key_len(profile))
		return -1;
	memset(out, 0, sizeof(*out));
	/* a 96-bit GCM salt is the high 96 bits of the 112-bit PRF salt */
	memcpy(salt, master + 16, salt_len);
	rc |= prf(master, salt, 0x00, out->rtp_key, 16);
	rc |= prf(master, salt, 0x01, out->rtp_auth, 20);
	rc |= prf(master, salt, 0x02, out->rtp_salt, salt_len);
	rc |= prf(master, salt, 0x03, out->rtcp_key, 16);
	rc |= prf(master, salt, 0x04, out->rtcp_auth, 20);
	rc |= prf(master, salt, 0x05, out->rtcp_salt, salt_len);
	memset(salt, 0, sizeof(salt));
	return rc ? -1 : 0;
}

int dp_srtp_replay_check(const struct dp_srtp_replay *r, uint64_t idx)
{
	if (!r->init || idx > r->hi)
		return 0;
	uint64_t d = r->hi - idx;

	if (d >= 128)
		return -1;
	return (r->win[d / 64] >> (d % 64)) & 1 ? -1 : 0;
}

void dp_srtp_replay_add(struct dp_srtp_replay *r, uint64_t idx)
{
	if (!r->init) {
		r->init = true;
		r->hi = idx;
		r->win[0] = 1;
		r->win[1] = 0;
		return;
	}
	if (idx > r->hi) {
		uint64_t s = idx - r->hi;

		if (s >= 128) {
			r->win[0] = r->win[1] = 0;
		} else if (s >= 64) {
			r->win[1] = r->win[0] << (s - 64);
			r->win[0] = 0;
		} else {
			r->win[1] = r->win[1] << s | r->win[0] >> (64 - s);
			r->win[0] <<= s;
		}
		r->win[0] |= 1;
		r->hi = idx;
		return;
	}
	uint64_t d = r->hi - idx;

	if (d < 128)
		r->win[d / 64] |= 1ull << (d % 64);
}

void dp_srtp_copy_payload(struct rte_mbuf *m, const struct rte_mbuf *src)
{
	const uint8_t *p = rte_pktmbuf_mtod(src, const uint8_t *);
	unsigned len = src->data_len, hl;

	if (len < 12 || len != m->data_len)
		return; /* the protect fails on what is in m */
	hl = 12u + 4u * (p[0] & 0x0f);
	if ((p[0] & 0x10) && len >= hl + 4)
		hl += 4u + 4u * fh_rd16(p + hl + 2);
	if (hl < len)
		memcpy(rte_pktmbuf_mtod(m, uint8_t *) + hl, p + hl, len - hl);
}

/* ---- the engine interface ---- */

struct dp_srtp_sess *dp_srtp_sess_new(struct dp_srtp_engine *e, enum fh_srtp_profile profile,
				      const uint8_t *rx_key, const uint8_t *tx_key, size_t key_len)
{
	struct dp_srtp_keys rx, tx;
	struct dp_srtp_sess *s = NULL;

	if (!fh_srtp_key_len(profile) || key_len != fh_srtp_key_len(profile))
		return NULL;
	if (!e->wants_keys)
		return e->impl->sess_new(e, profile, NULL, NULL, rx_key, tx_key, key_len);
	if (dp_srtp_derive(profile, rx_key, key_len, &rx) == 0 &&
	    dp_srtp_derive(profile, tx_key, key_len, &tx) == 0)
		s = e->impl->sess_new(e, profile, &rx, &tx, NULL, NULL, 0);
	memset(&rx, 0, sizeof(rx));
	memset(&tx, 0, sizeof(tx));
	return s;
}

struct dp_srtp_sess *dp_srtp_sess_new_keys(struct dp_srtp_engine *e, enum fh_srtp_profile profile,
					   const struct dp_srtp_keys *rx,
					   const struct dp_srtp_keys *tx)
{
	if (!e->wants_keys || !fh_srtp_key_len(profile))
		return NULL;
	return e->impl->sess_new(e, profile, rx, tx, NULL, NULL, 0);
}

void dp_srtp_sess_free(struct dp_srtp_engine *e, struct dp_srtp_sess *s)
{
	if (s)
		e->impl->sess_free(e, s);
}

void dp_srtp_protect(struct dp_srtp_engine *e, struct dp_srtp_op *ops, unsigned n)
{
	if (n)
		e->impl->protect(e, ops, n);
}

void dp_srtp_unprotect(struct dp_srtp_engine *e, struct dp_srtp_op *ops, unsigned n)
{
	if (n)
		e->impl->unprotect(e, ops, n);
}

const char *dp_srtp_engine_name(const struct dp_srtp_engine *e)
{
	return e->name;
}

void dp_srtp_engine_free(struct dp_srtp_engine *e)
{
	if (!e)
		return;
	if (e->impl->fini)
		e->impl->fini(e);
	free(e);
}

/* ---- libsrtp2 ---- */

struct lib_sess {
	srtp_t rx, tx;
};

static struct dp_srtp_sess *lib_sess_new(struct dp_srtp_engine *e, enum fh_srtp_profile profile,
					 const struct dp_srtp_keys *rxk,
					 const struct dp_srtp_keys *txk, const uint8_t *rx_master,
					 const uint8_t *tx_master, size_t len)
{
	struct lib_sess *s = calloc(1, sizeof(*s));
	unsigned char rx[FH_KEY_MAX], tx[FH_KEY_MAX];
	srtp_policy_t pol;

	(void)e, (void)rxk, (void)txk;
	if (!s)
		return NULL;
	memcpy(rx, rx_master, len);
	memcpy(tx, tx_master, len);
	if (fh_srtp_policy(&pol, profile, rx, ssrc_any_inbound) < 0 ||
	    srtp_create(&s->rx, &pol) != srtp_err_status_ok) {
		free(s);
		s = NULL;
		goto out;
	}
	fh_srtp_policy(&pol, profile, tx, ssrc_any_outbound);
	if (srtp_create(&s->tx, &pol) != srtp_err_status_ok) {
		srtp_dealloc(s->rx);
		free(s);
		s = NULL;
	}
out:
	memset(rx, 0, sizeof(rx));
	memset(tx, 0, sizeof(tx));
	return (struct dp_srtp_sess *)s;
}

static void lib_sess_free(struct dp_srtp_engine *e, struct dp_srtp_sess *ss)
{
	struct lib_sess *s = (struct lib_sess *)ss;

	(void)e;
	srtp_dealloc(s->rx);
	srtp_dealloc(s->tx);
	free(s);
}

static void lib_protect(struct dp_srtp_engine *e, struct dp_srtp_op *ops, unsigned n)
{
	(void)e;
	for (unsigned i = 0; i < n; i++) {
		struct lib_sess *s = (struct lib_sess *)ops[i].s;
		struct rte_mbuf *m = ops[i].m;
		int len = m->data_len;
		srtp_err_status_t st;

		if (rte_pktmbuf_tailroom(m) < SRTP_MAX_TRAILER_LEN) {
			ops[i].status = DP_SRTP_FAIL;
			continue;
		}
		if (ops[i].src)
			dp_srtp_copy_payload(ops[i].m, ops[i].src);
		if (ops[i].rtcp)
			st = srtp_protect_rtcp(s->tx, rte_pktmbuf_mtod(m, void *), &len);
		else
			st = srtp_protect(s->tx, rte_pktmbuf_mtod(m, void *), &len);
		if (st != srtp_err_status_ok) {
			ops[i].status = DP_SRTP_FAIL;
			continue;
		}
		m->data_len = (uint16_t)len;
		m->pkt_len = (uint32_t)len;
		ops[i].status = DP_SRTP_OK;
	}
}

static void lib_unprotect(struct dp_srtp_engine *e, struct dp_srtp_op *ops, unsigned n)
{
	(void)e;
	for (unsigned i = 0; i < n; i++) {
		struct lib_sess *s = (struct lib_sess *)ops[i].s;
		struct rte_mbuf *m = ops[i].m;
		int len = m->data_len;
		srtp_err_status_t st;

		if (len < (ops[i].rtcp ? 8 : 12)) {
			ops[i].status = DP_SRTP_MALFORMED;
			continue;
		}
		if (ops[i].rtcp)
			st = srtp_unprotect_rtcp(s->rx, rte_pktmbuf_mtod(m, void *), &len);
		else
			st = srtp_unprotect(s->rx, rte_pktmbuf_mtod(m, void *), &len);
		if (st == srtp_err_status_replay_fail || st == srtp_err_status_replay_old) {
			ops[i].status = DP_SRTP_REPLAY;
			continue;
		}
		if (st != srtp_err_status_ok) {
			ops[i].status = DP_SRTP_AUTH;
			continue;
		}
		m->data_len = (uint16_t)len;
		m->pkt_len = (uint32_t)len;
		ops[i].status = DP_SRTP_OK;
	}
}

static const struct dp_srtp_impl lib_impl = {
	.sess_new = lib_sess_new,
	.sess_free = lib_sess_free,
	.protect = lib_protect,
	.unprotect = lib_unprotect,
};

struct dp_srtp_engine *dp_srtp_engine_new(enum dp_srtp_kind kind, unsigned worker, int socket,
					  unsigned max_sessions, const char *pmds, char *err,
					  size_t elen)
{
	struct dp_srtp_engine *e = calloc(1, sizeof(*e));

	if (!e) {
		snprintf(err, elen, "out of memory");
		return NULL;
	}
	if (kind == DP_SRTP_LIBSRTP) {
		e->impl = &lib_impl;
		snprintf(e->name, sizeof(e->name), "libsrtp2");
		return e;
	}
	if (kind == DP_SRTP_CRYPTODEV &&
	    dp_srtp_cdev_init(e, worker, socket, max_sessions, pmds, err, elen) == 0)
		return e;
	if (kind != DP_SRTP_CRYPTODEV)
		snprintf(err, elen, "SRTP engine 'auto' must be resolved before a worker starts");
	free(e);
	return NULL;
}
