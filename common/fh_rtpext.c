/*
 * fh_rtpext: locating, reading and writing RFC 8285 header extensions. Called by dataplane
 * workers on every RTP packet, so parsing is one pass over the block with a six-entry compare
 * per element and no table to clear; writing builds at most four elements.
 */
#include "fh_rtpext.h"

#include <string.h>

static void record(struct fh_rtpext_view *v, const uint8_t ids[FH_EXT_MAX], unsigned id, size_t off,
		   size_t len)
{
	for (int e = 0; e < FH_EXT_MAX; e++)
		if (ids[e] != 0 && ids[e] == id && v->off[e] == 0) {
			v->off[e] = (uint16_t)off;
			v->len[e] = (uint8_t)len;
		}
}

static int walk_one_byte(const uint8_t *pkt, size_t p, size_t end, const uint8_t ids[FH_EXT_MAX],
			 struct fh_rtpext_view *v)
{
	while (p < end) {
		unsigned id = pkt[p] >> 4;
		size_t l = (size_t)(pkt[p] & 0x0f) + 1;

		if (pkt[p] == 0) { /* padding; a non-zero byte with id 0 is skipped as an element */
			p++;
			continue;
		}
		if (id == 15) /* RFC 8285: stop here, the rest of the block is not ours to read */
			return 0;
		if (l > end - p - 1)
			return -1;
		record(v, ids, id, p + 1, l);
		p += 1 + l;
	}
	return 0;
}

static int walk_two_byte(const uint8_t *pkt, size_t p, size_t end, const uint8_t ids[FH_EXT_MAX],
			 struct fh_rtpext_view *v)
{
	while (p < end) {
		unsigned id = pkt[p];

		if (id == 0) {
			p++;
			continue;
		}
		if (end - p < 2)
			return -1;
		size_t l = pkt[p + 1];

		if (l > end - p - 2)
			return -1;
		record(v, ids, id, p + 2, l);
		p += 2 + l;
	}
	return 0;
}

int fh_rtpext_parse(const uint8_t *pkt, size_t len, const struct fh_rtp_hdr *h,
		    const uint8_t ids[FH_EXT_MAX], struct fh_rtpext_view *v)
{
	memset(v, 0, sizeof(*v));
	if (len < FH_RTP_HDR_MIN || len > 65535)
		return -1;
	if (!(pkt[0] & 0x10))
		return 0;
	/* Recomputed rather than trusted from h, so a stale h cannot send us past the buffer. */
	size_t start = FH_RTP_HDR_MIN + (size_t)(pkt[0] & 0x0f) * 4;

	if (start + 4 > len)
		return -1;
	size_t end = start + 4 + (size_t)fh_rd16(pkt + start + 2) * 4;

	if (end > len || end != h->hdr_len)
		return -1;
	uint16_t profile = fh_rd16(pkt + start);

	if (profile == FH_RTPEXT_ONE_BYTE)
		return walk_one_byte(pkt, start + 4, end, ids, v);
	if ((profile & 0xfff0) == FH_RTPEXT_TWO_BYTE)
		return walk_two_byte(pkt, start + 4, end, ids, v);
	return 0;
}

int fh_rtpext_twcc_seq(const uint8_t *pkt, const struct fh_rtpext_view *v, uint16_t *seq)
{
	if (!v->off[FH_EXT_TWCC] || v->len[FH_EXT_TWCC] < 2)
		return -1;
	*seq = fh_rd16(pkt + v->off[FH_EXT_TWCC]);
	return 0;
}

int fh_rtpext_abs_send_time(const uint8_t *pkt, const struct fh_rtpext_view *v, uint32_t *t)
{
	const uint8_t *p = pkt + v->off[FH_EXT_ABS_SEND_TIME];

	if (!v->off[FH_EXT_ABS_SEND_TIME] || v->len[FH_EXT_ABS_SEND_TIME] < 3)
		return -1;
	*t = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	return 0;
}

int fh_rtpext_audio_level(const uint8_t *pkt, const struct fh_rtpext_view *v, bool *voice,
			  uint8_t *level)
{
	if (!v->off[FH_EXT_AUDIO_LEVEL] || v->len[FH_EXT_AUDIO_LEVEL] < 1)
		return -1;
	uint8_t b = pkt[v->off[FH_EXT_AUDIO_LEVEL]];

	*voice = b >> 7;
	*level = b & 0x7f;
	return 0;
}

/* RFC 4566 token-char: visible ASCII but space, '"', '(', ')', ',', '/', ':' to '@', '[', ']'. */
static bool token_char(uint8_t c)
{
	if (c < 0x21 || c > 0x7e)
		return false;
	return !strchr("\"(),/:;<=>?@[]", c);
}

int fh_rtpext_str(const uint8_t *pkt, const struct fh_rtpext_view *v, enum fh_ext e, char *out,
		  size_t cap)
{
	if ((e != FH_EXT_MID && e != FH_EXT_RID && e != FH_EXT_RRID) || !v->off[e])
		return -1;
	size_t n = v->len[e];
	const uint8_t *p = pkt + v->off[e];

	if (n == 0 || n >= cap)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!token_char(p[i]))
			return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return (int)n;
}

struct elem {
	uint8_t id;
	uint8_t len;
	const uint8_t *data;
};

/* Lists the elements to write into el (at most four; the transport-wide number first, see
 * fh_rtpext_twcc_offset) and returns the block length, 0 if none. */
static size_t plan(const uint8_t ids[FH_EXT_MAX], const struct fh_rtpext_values *vals,
		   uint8_t scratch[6], struct elem el[4], unsigned *n, bool *two_byte)
{
	uint32_t set = vals->set;
	size_t body = 0;

	*n = 0;
	*two_byte = false;
	if ((set & FH_RTPEXT_BIT(FH_EXT_TWCC)) && ids[FH_EXT_TWCC]) {
		fh_wr16(scratch, vals->twcc_seq);
		el[(*n)++] = (struct elem){ids[FH_EXT_TWCC], 2, scratch};
	}
	if ((set & FH_RTPEXT_BIT(FH_EXT_ABS_SEND_TIME)) && ids[FH_EXT_ABS_SEND_TIME]) {
		scratch[2] = (uint8_t)(vals->abs_send_time >> 16);
		scratch[3] = (uint8_t)(vals->abs_send_time >> 8);
		scratch[4] = (uint8_t)vals->abs_send_time;
		el[(*n)++] = (struct elem){ids[FH_EXT_ABS_SEND_TIME], 3, scratch + 2};
	}
	if ((set & FH_RTPEXT_BIT(FH_EXT_AUDIO_LEVEL)) && ids[FH_EXT_AUDIO_LEVEL]) {
		scratch[5] = (uint8_t)((vals->voice ? 0x80 : 0) | (vals->level & 0x7f));
		el[(*n)++] = (struct elem){ids[FH_EXT_AUDIO_LEVEL], 1, scratch + 5};
	}
	if ((set & FH_RTPEXT_BIT(FH_EXT_MID)) && ids[FH_EXT_MID] && vals->mid &&
	    vals->mid_len >= 1 && vals->mid_len <= FH_RTPEXT_STR_MAX)
		el[(*n)++] = (struct elem){ids[FH_EXT_MID], (uint8_t)vals->mid_len,
					   (const uint8_t *)vals->mid};
	if (*n == 0)
		return 0;
	for (unsigned i = 0; i < *n; i++)
		if (el[i].id > FH_RTPEXT_ONE_BYTE_MAX_ID || el[i].len > FH_RTPEXT_ONE_BYTE_MAX_LEN)
			*two_byte = true;
	for (unsigned i = 0; i < *n; i++)
		body += (*two_byte ? 2 : 1) + (size_t)el[i].len;
	return 4 + ((body + 3) & ~(size_t)3);
}

size_t fh_rtpext_write(uint8_t *out, size_t cap, const uint8_t ids[FH_EXT_MAX],
		       const struct fh_rtpext_values *vals)
{
	uint8_t scratch[6];
	struct elem el[4];
	unsigned n;
	bool two;
	size_t blen = plan(ids, vals, scratch, el, &n, &two), p = 4;

	if (blen == 0 || blen > cap)
		return 0;
	fh_wr16(out, two ? FH_RTPEXT_TWO_BYTE : FH_RTPEXT_ONE_BYTE);
	fh_wr16(out + 2, (uint16_t)((blen - 4) / 4));
	for (unsigned i = 0; i < n; i++) {
		if (two) {
			out[p++] = el[i].id;
			out[p++] = el[i].len;
		} else {
			out[p++] = (uint8_t)(el[i].id << 4 | (el[i].len - 1));
		}
		memcpy(out + p, el[i].data, el[i].len);
		p += el[i].len;
	}
	memset(out + p, 0, blen - p);
	return blen;
}

size_t fh_rtpext_rebuild_header(uint8_t *out, size_t cap, const uint8_t *in,
				const struct fh_rtp_hdr *h, const uint8_t ids[FH_EXT_MAX],
				const struct fh_rtpext_values *vals)
{
	size_t fixed = FH_RTP_HDR_MIN + (size_t)(in[0] & 0x0f) * 4;
	uint8_t scratch[6];
	struct elem el[4];
	unsigned n;
	bool two;

	if (fixed > h->hdr_len || fixed > cap)
		return 0;
	size_t blen = plan(ids, vals, scratch, el, &n, &two);

	if (blen > cap - fixed)
		return 0;
	memcpy(out, in, fixed);
	if (blen == 0) {
		out[0] &= (uint8_t)~0x10;
		return fixed;
	}
	out[0] |= 0x10;
	return fixed + fh_rtpext_write(out + fixed, cap - fixed, ids, vals);
}

size_t fh_rtpext_twcc_offset(const uint8_t *hdr, size_t len, uint8_t id)
{
	size_t fixed;

	if (len < FH_RTP_HDR_MIN || !(hdr[0] & 0x10) || id == 0)
		return 0;
	fixed = FH_RTP_HDR_MIN + (size_t)(hdr[0] & 0x0f) * 4;
	if (len < fixed + 8)
		return 0;
	uint16_t profile = fh_rd16(hdr + fixed);

	if (profile == FH_RTPEXT_ONE_BYTE)
		return id <= FH_RTPEXT_ONE_BYTE_MAX_ID && hdr[fixed + 4] == (uint8_t)(id << 4 | 1)
			       ? fixed + 5
			       : 0;
	if ((profile & 0xfff0) == FH_RTPEXT_TWO_BYTE)
		return hdr[fixed + 4] == id && hdr[fixed + 5] == 2 ? fixed + 6 : 0;
	return 0;
}
