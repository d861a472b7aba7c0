/*
 * fh_rtp: RTP (RFC 3550) and RTCP (RFC 3550, 4585, 5104, REMB) wire formats, plus the
 * per-subscriber SSRC / sequence / timestamp rewriting. Pure functions over byte buffers, used
 * by the dataplane workers on every packet, by the test client and by the fuzzers.
 */
#ifndef FH_RTP_H
#define FH_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FH_RTP_HDR_MIN 12
#define FH_RTP_MAX_PKT 1500

#define FH_RTCP_SR 200
#define FH_RTCP_RR 201
#define FH_RTCP_SDES 202
#define FH_RTCP_BYE 203
#define FH_RTCP_APP 204
#define FH_RTCP_RTPFB 205
#define FH_RTCP_PSFB 206
#define FH_RTCP_XR 207

#define FH_RTPFB_NACK 1
#define FH_RTPFB_TWCC 15
#define FH_PSFB_PLI 1
#define FH_PSFB_FIR 4
#define FH_PSFB_AFB 15

static inline uint16_t fh_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t fh_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void fh_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void fh_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* RFC 7983 demultiplexing by first byte. */
enum fh_demux { FH_DEMUX_STUN, FH_DEMUX_DTLS, FH_DEMUX_RTP, FH_DEMUX_RTCP, FH_DEMUX_OTHER };

static inline enum fh_demux fh_demux(const uint8_t *buf, size_t len)
{
	if (len == 0)
		return FH_DEMUX_OTHER;
	uint8_t b = buf[0];

	if (b <= 3)
		return FH_DEMUX_STUN;
	if (b >= 20 && b <= 63)
		return FH_DEMUX_DTLS;
	if (b >= 128 && b <= 191) {
		/* RFC 5761: RTCP packet types 192..223 sit where RTP's marker+PT would be. */
		if (len >= 2 && buf[1] >= 192 && buf[1] <= 223)
			return FH_DEMUX_RTCP;
		return FH_DEMUX_RTP;
	}
	return FH_DEMUX_OTHER;
}

struct fh_rtp_hdr {
	uint8_t pt;
	bool marker;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	uint16_t hdr_len;     /* fixed header + CSRCs + extension */
	uint16_t payload_len; /* without padding */
	uint16_t pad_len;
};

/* Returns 0 when the header is a well-formed RTP version 2 header inside len, else -1. */
int fh_rtp_parse(const uint8_t *buf, size_t len, struct fh_rtp_hdr *h);

static inline void fh_rtp_set_seq(uint8_t *buf, uint16_t seq)
{
	fh_wr16(buf + 2, seq);
}

static inline void fh_rtp_set_ts(uint8_t *buf, uint32_t ts)
{
	fh_wr32(buf + 4, ts);
}

static inline void fh_rtp_set_ssrc(uint8_t *buf, uint32_t ssrc)
{
	fh_wr32(buf + 8, ssrc);
}

/* One RTCP packet inside a compound packet. */
struct fh_rtcp_pkt {
	uint8_t pt;
	uint8_t count; /* RC / SC / FMT */
	uint16_t len;  /* bytes, header included */
	const uint8_t *data;
};

/* Walks a compound packet: returns 1 with *p filled, 0 at the end, -1 when malformed. */
int fh_rtcp_next(const uint8_t *buf, size_t len, size_t *off, struct fh_rtcp_pkt *p);
/* Checks a whole compound packet structurally; returns the number of packets or -1. */
int fh_rtcp_validate(const uint8_t *buf, size_t len);

struct fh_rtcp_report_block {
	uint32_t ssrc;
	uint8_t fraction_lost;
	int32_t cumulative_lost; /* 24-bit signed on the wire */
	uint32_t ext_highest_seq;
	uint32_t jitter;
	uint32_t lsr;
	uint32_t dlsr;
};

struct fh_rtcp_sr_info {
	uint32_t ssrc;
	uint64_t ntp;
	uint32_t rtp_ts;
	uint32_t packets;
	uint32_t octets;
};

/* Builders write one RTCP packet, return its length or 0 when cap is too small. */
size_t fh_rtcp_build_rr(uint8_t *buf, size_t cap, uint32_t sender_ssrc,
			const struct fh_rtcp_report_block *blocks, unsigned n);
size_t fh_rtcp_build_sr(uint8_t *buf, size_t cap, const struct fh_rtcp_sr_info *sr);
size_t fh_rtcp_build_pli(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc);
size_t fh_rtcp_build_fir(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
			 uint8_t seq_nr);
size_t fh_rtcp_build_remb(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint64_t bitrate,
			  const uint32_t *ssrcs, unsigned n);
size_t fh_rtcp_build_nack(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
			  const uint16_t *seqs, unsigned n);
size_t fh_rtcp_build_sdes_cname(uint8_t *buf, size_t cap, uint32_t ssrc, const char *cname);

void fh_rtcp_parse_report_block(const uint8_t *p, struct fh_rtcp_report_block *rb);
/* The media SSRC of a feedback packet (RTPFB/PSFB), 0 when too short. */
uint32_t fh_rtcp_fb_media_ssrc(const struct fh_rtcp_pkt *p);
/* Expands the NACK FCIs into sequence numbers; returns how many were written to out. */
unsigned fh_rtcp_nack_seqs(const struct fh_rtcp_pkt *p, uint16_t *out, unsigned max);
/* REMB bitrate in bit/s, 0 when the packet is not REMB. */
uint64_t fh_rtcp_remb_bitrate(const struct fh_rtcp_pkt *p);

/*
 * Per-subscriber rewriting: a receiver sees one continuous stream (its own SSRC, no gap in
 * sequence numbers, monotonic timestamps) even when the source SSRC behind it changes.
 */
struct fh_rewrite {
	uint32_t src_ssrc;
	uint16_t seq_off;
	uint32_t ts_off;
	uint16_t last_seq; /* highest outbound sequence number so far */
	uint32_t last_ts;  /* outbound timestamp of that packet */
	bool started;
};

/* Starts the outbound numbering at the given values (random, chosen by the caller). */
void fh_rewrite_init(struct fh_rewrite *r, uint16_t first_seq, uint32_t first_ts);
/*
 * Maps an inbound (ssrc, seq, ts) to outbound (seq, ts). On a source change the new source
 * continues right after the last packet sent, its timestamps ts_gap after the last one.
 */
void fh_rewrite_map(struct fh_rewrite *r, uint32_t ssrc, uint16_t seq, uint32_t ts, uint32_t ts_gap,
		    uint16_t *out_seq, uint32_t *out_ts);
/* Inverse for the current source, used to answer NACKs: outbound seq -> inbound seq. */
static inline uint16_t fh_rewrite_unmap_seq(const struct fh_rewrite *r, uint16_t out_seq)
{
	return (uint16_t)(out_seq - r->seq_off);
}

#endif
