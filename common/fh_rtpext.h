/*
 * fh_rtpext: RTP header extensions in the one-byte (0xBEDE) and two-byte (0x100x) forms of
 * RFC 8285. The dataplane workers locate the extensions Funkhaus knows in every inbound packet
 * with the sender's id table, read the values they need, and write a fresh block for each
 * receiver with that receiver's ids. Pure functions over byte buffers; no allocation.
 */
#ifndef FH_RTPEXT_H
#define FH_RTPEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fh_ext.h"
#include "fh_rtp.h"

#define FH_RTPEXT_ONE_BYTE 0xbede
#define FH_RTPEXT_TWO_BYTE 0x1000 /* the low four "appbits" are ours to set; we send 0 */
#define FH_RTPEXT_ONE_BYTE_MAX_ID 14
#define FH_RTPEXT_ONE_BYTE_MAX_LEN 16
#define FH_RTPEXT_STR_MAX 255 /* longest mid / rid element (two-byte form) */

/* Where each known extension's data sits in the packet: off is from the start of the packet,
 * 0 when the extension is absent (data never starts before byte 16). */
struct fh_rtpext_view {
	uint16_t off[FH_EXT_MAX];
	uint8_t len[FH_EXT_MAX];
};

static inline bool fh_rtpext_has(const struct fh_rtpext_view *v, enum fh_ext e)
{
	return v->off[e] != 0;
}

/*
 * Fills v for a packet that fh_rtp_parse accepted into h, looking ids[] (0: not negotiated) up
 * in one pass over the block. Returns 0, also when the packet has no block or one in another
 * profile (then v is empty); -1 when the block is malformed (an element runs past it, or it
 * disagrees with h). An id seen twice keeps its first element.
 */
int fh_rtpext_parse(const uint8_t *pkt, size_t len, const struct fh_rtp_hdr *h,
		    const uint8_t ids[FH_EXT_MAX], struct fh_rtpext_view *v);

/* Readers return 0 with the value, or -1 when the extension is absent or too short. */
int fh_rtpext_twcc_seq(const uint8_t *pkt, const struct fh_rtpext_view *v, uint16_t *seq);
int fh_rtpext_abs_send_time(const uint8_t *pkt, const struct fh_rtpext_view *v, uint32_t *t);
/* RFC 6464: voice activity flag and level in -dBov (0 loudest, 127 silence). */
int fh_rtpext_audio_level(const uint8_t *pkt, const struct fh_rtpext_view *v, bool *voice,
			  uint8_t *level);
/*
 * Copies the mid, rid or rrid (e is FH_EXT_MID, _RID or _RRID) into out as a C string of at
 * most cap - 1 characters. Returns its length, or -1 when absent, empty, too long for out, or
 * holding a character outside the SDP token set (RFC 4566 token-char).
 */
int fh_rtpext_str(const uint8_t *pkt, const struct fh_rtpext_view *v, enum fh_ext e, char *out,
		  size_t cap);

/* Which values an outbound block carries: FH_RTPEXT_BIT(e) in set for each one written. */
#define FH_RTPEXT_BIT(e) (1u << (e))

struct fh_rtpext_values {
	uint32_t set;
	uint16_t twcc_seq;
	uint32_t abs_send_time; /* 24 bits, see fh_rtpext_abs_time */
	bool voice;
	uint8_t level; /* 0-127 */
	const char *mid;
	size_t mid_len; /* 1..FH_RTPEXT_STR_MAX, else no mid is written */
};

/*
 * Writes an extension block (the 4-byte profile/length word included, padded to 32 bits) with
 * each value in vals->set whose id in ids[] is not 0. One-byte form when every id is at most 14
 * and every element at most 16 bytes, else two-byte form. Returns the block length; 0 when
 * there is nothing to write or the block does not fit cap.
 */
size_t fh_rtpext_write(uint8_t *out, size_t cap, const uint8_t ids[FH_EXT_MAX],
		       const struct fh_rtpext_values *vals);

/*
 * Builds the outbound RTP header for packet in (parsed into h): the fixed header and CSRCs
 * copied, the X bit set when a block follows, and the block from fh_rtpext_write. The P bit is
 * copied as it is; the caller appends the payload (and padding) at the returned length. Returns
 * the header length, 0 when it does not fit cap. out and in must not overlap.
 */
size_t fh_rtpext_rebuild_header(uint8_t *out, size_t cap, const uint8_t *in,
				const struct fh_rtp_hdr *h, const uint8_t ids[FH_EXT_MAX],
				const struct fh_rtpext_values *vals);

/*
 * Where the transport-wide sequence number's two bytes sit in a header that
 * fh_rtpext_rebuild_header wrote with one under id (it writes that element first, so that a
 * header built for one receiver serves others with the same ids once their number is written
 * in); 0 when the header has none there.
 */
size_t fh_rtpext_twcc_offset(const uint8_t *hdr, size_t len, uint8_t id);

/* abs-send-time: seconds in 6.18 fixed point (64 s wrap) from a microsecond clock. */
static inline uint32_t fh_rtpext_abs_time(uint64_t us)
{
	uint64_t sec = us / 1000000, frac = us % 1000000;

	return (uint32_t)((sec & 0x3f) << 18 | (frac << 18) / 1000000);
}

#endif
