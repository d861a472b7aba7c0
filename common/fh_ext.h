/*
 * fh_ext: the RTP header extensions (RFC 8285) Funkhaus knows by name. Kept apart from the
 * region so that the pure wire-format code can name them without pulling in DPDK; the region
 * carries a participant's id table indexed by this enum, the dataplane workers read it.
 */
#ifndef FH_EXT_H
#define FH_EXT_H

/* A participant negotiates an id (1-255) for each in SDP; 0 means not negotiated. Browsers
 * choose different ids (Chrome: TWCC 3, Firefox: TWCC 7), so ids are read with the sender's
 * table and written with the receiver's. */
enum fh_ext {
	FH_EXT_MID,	      /* urn:ietf:params:rtp-hdrext:sdes:mid */
	FH_EXT_RID,	      /* urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id */
	FH_EXT_RRID,	      /* urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id */
	FH_EXT_TWCC,	      /* draft-holmer-rmcat-transport-wide-cc-extensions-01 */
	FH_EXT_ABS_SEND_TIME, /* http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time */
	FH_EXT_AUDIO_LEVEL,   /* urn:ietf:params:rtp-hdrext:ssrc-audio-level (RFC 6464) */
	FH_EXT_MAX
};

#endif
