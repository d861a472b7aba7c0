/*
 * fh_srtp: the libsrtp2 policy for a DTLS-SRTP protection profile, shared by the dataplane
 * and the C client so both sides set up SRTP the same way. Header-only: only code that links
 * libsrtp2 includes it.
 */
#ifndef FH_SRTP_H
#define FH_SRTP_H

#include <string.h>

#include <srtp2/srtp.h>

#include "fh_region.h"

/* Master key + salt length of a profile, 0 when unknown. */
static inline size_t fh_srtp_key_len(enum fh_srtp_profile profile)
{
	return profile == FH_SRTP_AEAD_AES_128_GCM    ? 16 + 12
	       : profile == FH_SRTP_AES128_CM_SHA1_80 ? 16 + 14
						      : 0;
}

/* Fills pol for one direction (ssrc_any_inbound or ssrc_any_outbound); key stays the
 * caller's until srtp_create has copied it. 0, or -1 for an unknown profile. */
static inline int fh_srtp_policy(srtp_policy_t *pol, enum fh_srtp_profile profile,
				 unsigned char *key, srtp_ssrc_type_t dir)
{
	memset(pol, 0, sizeof(*pol));
	if (profile == FH_SRTP_AEAD_AES_128_GCM) {
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol->rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol->rtcp);
	} else if (profile == FH_SRTP_AES128_CM_SHA1_80) {
		srtp_crypto_policy_set_rtp_default(&pol->rtp);
		srtp_crypto_policy_set_rtcp_default(&pol->rtcp);
	} else {
		return -1;
	}
	pol->window_size = 1024;
	pol->allow_repeat_tx = 1;
	pol->ssrc.type = dir;
	pol->key = key;
	return 0;
}

#endif
