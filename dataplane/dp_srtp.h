/*
 * dp_srtp: the SRTP engine of a worker. Two implementations behind one interface:
 *
 *  - libsrtp2: the reference, one packet at a time (the socket backend's engine);
 *  - cryptodev: RFC 3711 / RFC 7714 done here (key derivation, rollover counter, replay
 *    window, IVs, SRTCP trailer) with the ciphers of a DPDK crypto PMD, a whole burst of
 *    packets submitted as one batch of crypto operations.
 *
 * A worker collects the packets of a burst as dp_srtp_op, calls dp_srtp_unprotect or
 * dp_srtp_protect once for all of them, and reads each op's status. Sessions (one per
 * participant, both directions, RTP and RTCP) are made when keys are installed, never on the
 * packet path. An engine belongs to one worker and is called from its lcore only.
 */
#ifndef DP_SRTP_H
#define DP_SRTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "fh_region.h"

enum dp_srtp_kind { DP_SRTP_AUTO, DP_SRTP_LIBSRTP, DP_SRTP_CRYPTODEV };

enum dp_srtp_status {
	DP_SRTP_OK,
	DP_SRTP_AUTH,	     /* authentication failed */
	DP_SRTP_REPLAY,	     /* replayed or older than the window */
	DP_SRTP_MALFORMED,   /* too short, or not RTP/RTCP */
	DP_SRTP_UNSUPPORTED, /* valid but beyond what the engine takes (long header, E=0) */
	DP_SRTP_FAIL,	     /* the engine could not process it (no stream slot, device) */
};

struct dp_srtp_sess;
struct dp_srtp_engine;

/* One packet of a batch. The mbuf holds exactly the RTP/RTCP datagram; protect grows it by
 * the tag (and SRTCP trailer), unprotect shrinks it to the plain packet.
 * Protect may read the payload from src instead (an RTP packet with a header of the same
 * length, left as it is): m then holds only the header, its length already the whole
 * packet's, and the payload is encrypted from src into m without copying it first where the
 * PMD can (checked at start-up), else copied. */
struct dp_srtp_op {
	struct dp_srtp_sess *s;
	struct rte_mbuf *m;
	struct rte_mbuf *src;
	uint16_t slot; /* the caller's: the participant */
	uint8_t rtcp;  /* SRTCP instead of SRTP */
	uint8_t status;
	int32_t tw; /* the caller's: transport-wide seq of a copy its pacer sends, else -1 */
};

/* The longest RTP header (with CSRCs and extensions) the cryptodev engine takes with
 * AEAD_AES_128_GCM: a crypto PMD's AEAD session has one AAD length, so a session is held per
 * header length from 12 to this. Browsers' headers are 12 to about 40 bytes. */
#define DP_SRTP_AAD_MAX 48
#define DP_SRTP_AAD_N ((DP_SRTP_AAD_MAX - 12) / 4 + 1)
#define DP_SRTP_TRAILER_MAX 20 /* tag plus SRTCP trailer a protect may append */

/* "auto", "libsrtp" or "cryptodev"; -1 for anything else. */
int dp_srtp_kind_parse(const char *s, enum dp_srtp_kind *kind);

/* Makes worker's engine. DP_SRTP_CRYPTODEV tries the PMDs in pmds (comma-separated driver
 * names, NULL: crypto_aesni_mb,crypto_openssl) and fails with the reason in err when none
 * initialises; DP_SRTP_AUTO must be resolved by the caller. max_sessions bounds the
 * participants with keys at once. */
struct dp_srtp_engine *dp_srtp_engine_new(enum dp_srtp_kind kind, unsigned worker, int socket,
					  unsigned max_sessions, const char *pmds, char *err,
					  size_t elen);
void dp_srtp_engine_free(struct dp_srtp_engine *e);
/* "libsrtp2" or "cryptodev <driver>" */
const char *dp_srtp_engine_name(const struct dp_srtp_engine *e);

/* Sessions from DTLS-SRTP master keys (key then salt, fh_srtp_key_len bytes each); NULL on a
 * bad profile or length or when the engine is out of sessions. */
struct dp_srtp_sess *dp_srtp_sess_new(struct dp_srtp_engine *e, enum fh_srtp_profile profile,
				      const uint8_t *rx_key, const uint8_t *tx_key, size_t key_len);
void dp_srtp_sess_free(struct dp_srtp_engine *e, struct dp_srtp_sess *s);

/* Process n ops (any mix of sessions, RTP and RTCP); every op gets its status. */
void dp_srtp_protect(struct dp_srtp_engine *e, struct dp_srtp_op *ops, unsigned n);
void dp_srtp_unprotect(struct dp_srtp_engine *e, struct dp_srtp_op *ops, unsigned n);

/* The reason an unprotect that did not succeed is counted under: an engine that could not do
 * its work is no attacker's forgery, so it is never counted as an authentication failure. */
static inline enum fh_drop dp_srtp_unprotect_drop(enum dp_srtp_status st, bool rtcp)
{
	switch (st) {
	case DP_SRTP_AUTH:
		return rtcp ? FH_DROP_srtcp_auth_fail : FH_DROP_srtp_auth_fail;
	case DP_SRTP_REPLAY:
		return rtcp ? FH_DROP_srtcp_auth_fail : FH_DROP_srtp_replay;
	case DP_SRTP_MALFORMED:
		return rtcp ? FH_DROP_rtcp_malformed : FH_DROP_rtp_malformed;
	case DP_SRTP_UNSUPPORTED:
		return FH_DROP_srtp_unsupported;
	case DP_SRTP_OK:
	case DP_SRTP_FAIL:
		break;
	}
	return FH_DROP_srtp_engine_fail;
}

/*
 * The protocol parts of RFC 3711 the cryptodev engine does itself, here so that unit tests
 * can check them against the RFCs' vectors.
 */

/* Session keys of one direction. */
struct dp_srtp_keys {
	uint8_t rtp_key[16], rtp_auth[20], rtp_salt[14];
	uint8_t rtcp_key[16], rtcp_auth[20], rtcp_salt[14];
};

/* RFC 3711 4.3 key derivation with the AES-CM PRF (key derivation rate 0). GCM's 96-bit master
 * salt is taken times 2^16, as RFC 7714's errata 4938 and libsrtp do. 0 or -1. */
int dp_srtp_derive(enum fh_srtp_profile profile, const uint8_t *master, size_t len,
		   struct dp_srtp_keys *out);

/* Cryptodev sessions straight from session keys (the RFC 7714 vectors give those). */
struct dp_srtp_sess *dp_srtp_sess_new_keys(struct dp_srtp_engine *e, enum fh_srtp_profile profile,
					   const struct dp_srtp_keys *rx,
					   const struct dp_srtp_keys *tx);

/* RTP packet index estimate (RFC 3711 3.3.1 / appendix A) from the highest index seen, the way
 * libsrtp does it: rollover counter 0 while that index is at most 2^15. */
static inline uint64_t dp_srtp_estimate(uint64_t hi, bool init, uint16_t seq)
{
	if (!init || hi <= 32768)
		return seq;
	uint32_t roc = (uint32_t)(hi >> 16);
	uint16_t sl = (uint16_t)hi;

	if (sl < 32768) {
		if ((int)seq - (int)sl > 32768)
			roc--;
	} else if ((int)sl - 32768 > (int)seq) {
		roc++;
	}
	return (uint64_t)roc << 16 | seq;
}

/* Replay window of 128 indices behind the highest one accepted. */
struct dp_srtp_replay {
	bool init;
	uint64_t hi;
	uint64_t win[2]; /* bit k: hi - k was accepted */
};

/* 0 when idx may be accepted, -1 when replayed or too old */
int dp_srtp_replay_check(const struct dp_srtp_replay *r, uint64_t idx);
void dp_srtp_replay_add(struct dp_srtp_replay *r, uint64_t idx);

#endif
