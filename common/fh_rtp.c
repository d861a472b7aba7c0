/*
 * fh_rtp: RTP header parsing, RTCP compound walking and building, and the rewrite state
 * machine. Called per packet by dataplane workers; no allocation, no I/O.
 */
#include "fh_rtp.h"

#include <string.h>

int fh_rtp_parse(const uint8_t *buf, size_t len, struct fh_rtp_hdr *h)
{
	if (len < FH_RTP_HDR_MIN || len > 65535 || (buf[0] >> 6) != 2)
		return -1;
	size_t hl = FH_RTP_HDR_MIN + (size_t)(buf[0] & 0x0f) * 4;

	if (hl > len)
		return -1;
	if (buf[0] & 0x10) {
		if (hl + 4 > len)
			return -1;
		hl += 4 + (size_t)fh_rd16(buf + hl + 2) * 4;
		if (hl > len)
			return -1;
	}
	size_t pad = 0;

	if (buf[0] & 0x20) {
		pad = buf[len - 1];
		if (pad == 0 || pad > len - hl)
			return -1;
	}
	h->pt = buf[1] & 0x7f;
	h->marker = buf[1] >> 7;
	h->seq = fh_rd16(buf + 2);
	h->ts = fh_rd32(buf + 4);
	h->ssrc = fh_rd32(buf + 8);
	h->hdr_len = (uint16_t)hl;
	h->pad_len = (uint16_t)pad;
	h->payload_len = (uint16_t)(len - hl - pad);
	return 0;
}

int fh_rtcp_next(const uint8_t *buf, size_t len, size_t *off, struct fh_rtcp_pkt *p)
{
	if (*off >= len)
		return 0;
	if (len - *off < 4)
		return -1;
	const uint8_t *h = buf + *off;

	if ((h[0] >> 6) != 2)
		return -1;
	size_t plen = ((size_t)fh_rd16(h + 2) + 1) * 4;

	if (plen > len - *off)
		return -1;
	p->pt = h[1];
	p->count = h[0] & 0x1f;
	p->len = (uint16_t)plen;
	p->data = h;
	*off += plen;
	return 1;
}

int fh_rtcp_validate(const uint8_t *buf, size_t len)
{
	size_t off = 0;
	struct fh_rtcp_pkt p;
	int n = 0, r;

	if (len < 8 || len > 65535)
		return -1;
	while ((r = fh_rtcp_next(buf, len, &off, &p)) == 1) {
		if (p.pt < 192 || p.pt > 223)
			return -1;
		n++;
	}
	return r < 0 ? -1 : n;
}

static void put_header(uint8_t *b, uint8_t count, uint8_t pt, size_t len)
{
	b[0] = (uint8_t)(0x80 | (count & 0x1f));
	b[1] = pt;
	fh_wr16(b + 2, (uint16_t)(len / 4 - 1));
}

static void put_block(uint8_t *p, const struct fh_rtcp_report_block *rb)
{
	int32_t lost = rb->cumulative_lost;

	if (lost > 0x7fffff)
		lost = 0x7fffff;
	if (lost < -0x800000)
		lost = -0x800000;
	fh_wr32(p, rb->ssrc);
	fh_wr32(p + 4, (uint32_t)rb->fraction_lost << 24 | ((uint32_t)lost & 0xffffff));
	fh_wr32(p + 8, rb->ext_highest_seq);
	fh_wr32(p + 12, rb->jitter);
	fh_wr32(p + 16, rb->lsr);
	fh_wr32(p + 20, rb->dlsr);
}

void fh_rtcp_parse_report_block(const uint8_t *p, struct fh_rtcp_report_block *rb)
{
	uint32_t w = fh_rd32(p + 4);

	rb->ssrc = fh_rd32(p);
	rb->fraction_lost = (uint8_t)(w >> 24);
	rb->cumulative_lost = (int32_t)(w << 8) >> 8;
	rb->ext_highest_seq = fh_rd32(p + 8);
	rb->jitter = fh_rd32(p + 12);
	rb->lsr = fh_rd32(p + 16);
	rb->dlsr = fh_rd32(p + 20);
}

size_t fh_rtcp_build_rr(uint8_t *buf, size_t cap, uint32_t sender_ssrc,
			const struct fh_rtcp_report_block *blocks, unsigned n)
{
	if (n > 31)
		n = 31;
	size_t len = 8 + 24 * (size_t)n;

	if (cap < len)
		return 0;
	put_header(buf, (uint8_t)n, FH_RTCP_RR, len);
	fh_wr32(buf + 4, sender_ssrc);
	for (unsigned i = 0; i < n; i++)
		put_block(buf + 8 + 24 * i, &blocks[i]);
	return len;
}

size_t fh_rtcp_build_sr(uint8_t *buf, size_t cap, const struct fh_rtcp_sr_info *sr)
{
	if (cap < 28)
		return 0;
	put_header(buf, 0, FH_RTCP_SR, 28);
	fh_wr32(buf + 4, sr->ssrc);
	fh_wr32(buf + 8, (uint32_t)(sr->ntp >> 32));
	fh_wr32(buf + 12, (uint32_t)sr->ntp);
	fh_wr32(buf + 16, sr->rtp_ts);
	fh_wr32(buf + 20, sr->packets);
	fh_wr32(buf + 24, sr->octets);
	return 28;
}

size_t fh_rtcp_build_pli(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc)
{
	if (cap < 12)
		return 0;
	put_header(buf, FH_PSFB_PLI, FH_RTCP_PSFB, 12);
	fh_wr32(buf + 4, sender_ssrc);
	fh_wr32(buf + 8, media_ssrc);
	return 12;
}

size_t fh_rtcp_build_fir(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
			 uint8_t seq_nr)
{
	if (cap < 20)
		return 0;
	put_header(buf, FH_PSFB_FIR, FH_RTCP_PSFB, 20);
	fh_wr32(buf + 4, sender_ssrc);
	fh_wr32(buf + 8, 0);
	fh_wr32(buf + 12, media_ssrc);
	fh_wr32(buf + 16, (uint32_t)seq_nr << 24);
	return 20;
}

size_t fh_rtcp_build_remb(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint64_t bitrate,
			  const uint32_t *ssrcs, unsigned n)
{
	if (n > 255)
		n = 255;
	size_t len = 20 + 4 * (size_t)n;

	if (cap < len)
		return 0;
	uint8_t exp = 0;

	while (bitrate > 0x3ffff) {
		bitrate >>= 1;
		exp++;
	}
	put_header(buf, FH_PSFB_AFB, FH_RTCP_PSFB, len);
	fh_wr32(buf + 4, sender_ssrc);
	fh_wr32(buf + 8, 0);
	memcpy(buf + 12, "REMB", 4);
	buf[16] = (uint8_t)n;
	buf[17] = (uint8_t)(exp << 2 | ((bitrate >> 16) & 0x3));
	fh_wr16(buf + 18, (uint16_t)bitrate);
	for (unsigned i = 0; i < n; i++)
		fh_wr32(buf + 20 + 4 * i, ssrcs[i]);
	return len;
}

size_t fh_rtcp_build_nack(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
			  const uint16_t *seqs, unsigned n)
{
	size_t len = 12;
	unsigned i = 0;

	if (cap < 12)
		return 0;
	while (i < n) {
		uint16_t pid = seqs[i++];
		uint16_t blp = 0;

		while (i < n && (uint16_t)(seqs[i] - pid) >= 1 && (uint16_t)(seqs[i] - pid) <= 16) {
			blp |= (uint16_t)(1u << ((uint16_t)(seqs[i] - pid) - 1));
			i++;
		}
		if (cap < len + 4)
			return 0;
		fh_wr16(buf + len, pid);
		fh_wr16(buf + len + 2, blp);
		len += 4;
	}
	put_header(buf, FH_RTPFB_NACK, FH_RTCP_RTPFB, len);
	fh_wr32(buf + 4, sender_ssrc);
	fh_wr32(buf + 8, media_ssrc);
	return len;
}

size_t fh_rtcp_build_sdes_cname(uint8_t *buf, size_t cap, uint32_t ssrc, const char *cname)
{
	size_t cl = strlen(cname);

	if (cl > 255)
		cl = 255;
	/* chunk: ssrc, CNAME item, end marker, padded to 32 bits */
	size_t len = (8 + 2 + cl + 1 + 3) & ~(size_t)3;

	if (cap < len)
		return 0;
	memset(buf, 0, len);
	put_header(buf, 1, FH_RTCP_SDES, len);
	fh_wr32(buf + 4, ssrc);
	buf[8] = 1;
	buf[9] = (uint8_t)cl;
	memcpy(buf + 10, cname, cl);
	return len;
}

uint32_t fh_rtcp_fb_media_ssrc(const struct fh_rtcp_pkt *p)
{
	return p->len >= 12 ? fh_rd32(p->data + 8) : 0;
}

unsigned fh_rtcp_nack_seqs(const struct fh_rtcp_pkt *p, uint16_t *out, unsigned max)
{
	unsigned n = 0;

	for (size_t off = 12; off + 4 <= p->len; off += 4) {
		uint16_t pid = fh_rd16(p->data + off);
		uint16_t blp = fh_rd16(p->data + off + 2);

		if (n < max)
			out[n++] = pid;
		for (int b = 0; b < 16; b++)
			if ((blp >> b & 1) && n < max)
				out[n++] = (uint16_t)(pid + b + 1);
	}
	return n;
}

uint64_t fh_rtcp_remb_bitrate(const struct fh_rtcp_pkt *p)
{
	if (p->pt != FH_RTCP_PSFB || p->count != FH_PSFB_AFB || p->len < 20 ||
	    memcmp(p->data + 12, "REMB", 4) != 0)
		return 0;
	uint8_t exp = p->data[17] >> 2;
	uint64_t mant = (uint64_t)(p->data[17] & 3) << 16 | fh_rd16(p->data + 18);

	return exp > 46 ? UINT64_MAX : mant << exp;
}

void fh_rewrite_init(struct fh_rewrite *r, uint16_t first_seq, uint32_t first_ts)
{
	memset(r, 0, sizeof(*r));
	/* last_* stand one step before the first packet so a first "switch" lands there. */
	r->last_seq = (uint16_t)(first_seq - 1);
	r->last_ts = first_ts;
}

void fh_rewrite_map(struct fh_rewrite *r, uint32_t ssrc, uint16_t seq, uint32_t ts, uint32_t ts_gap,
		    uint16_t *out_seq, uint32_t *out_ts)
{
	if (!r->started || ssrc != r->src_ssrc) {
		r->seq_off = (uint16_t)(r->last_seq + 1 - seq);
		r->ts_off = r->last_ts + (r->started ? ts_gap : 0) - ts;
		r->src_ssrc = ssrc;
		r->started = true;
		r->last_seq = (uint16_t)(seq + r->seq_off);
		r->last_ts = ts + r->ts_off;
		*out_seq = r->last_seq;
		*out_ts = r->last_ts;
		return;
	}
	*out_seq = (uint16_t)(seq + r->seq_off);
	*out_ts = ts + r->ts_off;
	/* Reordered packets keep their place; only newer ones move the high-water mark. */
	if ((int16_t)(*out_seq - r->last_seq) > 0) {
		r->last_seq = *out_seq;
		r->last_ts = *out_ts;
	}
}
