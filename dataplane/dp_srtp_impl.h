/*
 * dp_srtp_impl: what an SRTP engine implementation provides to dp_srtp.c. Private to the
 * engines.
 */
#ifndef DP_SRTP_IMPL_H
#define DP_SRTP_IMPL_H

#include "dp_srtp.h"

struct dp_srtp_impl {
	struct dp_srtp_sess *(*sess_new)(struct dp_srtp_engine *e, enum fh_srtp_profile profile,
					 const struct dp_srtp_keys *rx,
					 const struct dp_srtp_keys *tx, const uint8_t *rx_master,
					 const uint8_t *tx_master, size_t master_len);
	void (*sess_free)(struct dp_srtp_engine *e, struct dp_srtp_sess *s);
	void (*protect)(struct dp_srtp_engine *e, struct dp_srtp_op *ops, unsigned n);
	void (*unprotect)(struct dp_srtp_engine *e, struct dp_srtp_op *ops, unsigned n);
	void (*fini)(struct dp_srtp_engine *e);
};

struct dp_srtp_engine {
	const struct dp_srtp_impl *impl;
	bool wants_keys; /* sess_new takes session keys (derived here), not master keys */
	char name[96];
	void *priv;
};

/* Copies src's payload (after its RTP header) into m, which has the same length. */
void dp_srtp_copy_payload(struct rte_mbuf *m, const struct rte_mbuf *src);

/* dp_srtp_cdev.c: sets up e for a cryptodev PMD; 0, or -1 with the reason in err. */
int dp_srtp_cdev_init(struct dp_srtp_engine *e, unsigned worker, int socket, unsigned max_sessions,
		      const char *pmds, char *err, size_t elen);

#endif
